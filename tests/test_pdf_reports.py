"""The funding PDFs as a chairman or a sponsor reads them: the period, a signature block with room
for the seal, Vietnamese labels (never "active"), the page's charts, and the same number of cases
as the page (the sponsor's PDF once said 2, the count of categories, where the page said 4)."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

from pypdf import PdfReader
from sqlalchemy import select

from camnet.clock import vn_now
from camnet.extensions import db
from camnet.incidents.models import Incident, IncidentCamera, IncidentCategory
from camnet.tenants.scope import system_scope


def _text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _drawn_rectangles(data: bytes) -> int:
    """How many filled rectangles the pages draw (the charts' bars and legend keys)."""
    reader = PdfReader(io.BytesIO(data))
    return sum(page.get_contents().get_data().count(b" re f") for page in reader.pages)


def _cases_on_sponsor_cameras(world, per_category: list[int]) -> int:
    """Incidents involving the sponsor's funded camera TT-A1: ``per_category[k]`` of category k."""
    camera = world.extra["camera"]["a"][0]
    with system_scope():
        cats = list(db.session.execute(select(IncidentCategory).order_by(IncidentCategory.sort_order)).scalars())
        now = datetime.now(timezone.utc)
        for k, n in enumerate(per_category):
            for i in range(n):
                incident = Incident(commune_id=world.id("a"), category_id=cats[k].id, title=f"Vụ {k}-{i}",
                                    occurred_at=now - timedelta(days=3 + i), status="open",
                                    clarified_by_camera=(i == 0))
                db.session.add(incident)
                db.session.flush()
                db.session.add(IncidentCamera(incident_id=incident.id, camera_id=camera.id, commune_id=world.id("a")))
        db.session.commit()
    return sum(per_category)


def test_chairman_pdf_has_period_signatures_labels_and_charts(app, world, client_for):
    pdf = client_for("chairman_a").get(f"/api/v1/funding/communes/{world.id('a')}/report.pdf?lang=vi")
    assert pdf.status_code == 200
    text = _text(pdf.data)
    today = vn_now().date()
    assert re.search(r"Kỳ báo cáo: từ ngày \d\d/\d\d/\d{4} đến ngày " + today.strftime("%d/%m/%Y"), text)
    assert "Người lập biểu" in text and "Chủ tịch UBND" in text and "đóng dấu" in text
    assert f"ngày {today:%d} tháng {today:%m} năm {today:%Y}" in text
    assert "Thiết bị" in text and "12.000.000 đ" in text and "equipment" not in text
    assert "Đã nộp đủ" in text and "Quá hạn" in text  # the legend of the shares-by-village chart
    assert _drawn_rectangles(pdf.data) >= 8  # bars and legend keys, not only a table
    english = _text(client_for("chairman_a").get(
        f"/api/v1/funding/communes/{world.id('a')}/report.pdf?lang=en").data)
    assert "Period:" in english and "PREPARED BY" in english and "Equipment" in english


def test_sponsor_pdf_counts_the_cases_the_page_counts(app, world, client_for):
    total = _cases_on_sponsor_cameras(world, [3, 1])  # two categories, four cases
    client = client_for("sponsor_a")
    page = client.get("/sponsor").get_data(as_text=True)
    assert re.search(rf"<b>\s*{total}\s*</b>", page), "the page shows the four cases"
    pdf = client.get("/sponsor/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = _text(pdf.data)
    assert f"Tổng số: {total} vụ việc" in text and "Tổng số: 2 vụ việc" not in text
    assert "Hoạt động" in text and not re.search(r"\bactive\b", text)  # the camera state, in Vietnamese
    assert "Kỳ báo cáo: từ ngày" in text and "Người lập biểu" in text and "Chủ tịch UBND" in text
    assert "Chưa phân bổ" in text  # every đồng accounted for
    assert _drawn_rectangles(pdf.data) >= 3  # the uptime and cases charts


def test_another_sponsor_cannot_read_this_sponsors_pdf(app, world, client_for):
    """The API's report of sponsor A's account is refused to sponsor B's user, and nothing leaks."""
    sponsor = world.extra["sponsor"]["a"][0]
    answer = client_for("sponsor_b").get(f"/api/v1/funding/sponsors/{sponsor.id}/report.pdf")
    assert answer.status_code in (403, 404) and not answer.data.startswith(b"%PDF")
