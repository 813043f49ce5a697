"""CSV formula injection: every CSV export quotes text a spreadsheet would run as a formula, and
keeps numbers (money in đồng, negative balances) as numbers."""
from __future__ import annotations

import csv
import io

from camnet import csvsafe
from camnet.billing_socialization import funders, receipts, reports
from camnet.billing_socialization.schemas import ReceiptIn, SponsorIn
from camnet.extensions import db
from camnet.streams.models import Camera
from camnet.tenants.models import Village
from camnet.tenants.scope import system_scope

HYPERLINK = '=HYPERLINK("http://x")'
HOSTILE = [HYPERLINK, "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
           "\t=1+1", "\r=1+1"]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _cells(text: str) -> set[str]:
    return {cell for row in _rows(text) for cell in row}


def _no_formula(text: str) -> None:
    """No cell starts like a formula, unless it is a plain number."""
    for row in _rows(text):
        for cell in row:
            if cell.startswith(csvsafe.FORMULA_START):
                assert csvsafe._PLAIN_NUMBER.fullmatch(cell), (cell, row)


def test_neutralise_quotes_formula_text_and_keeps_numbers():
    for value in HOSTILE:
        assert csvsafe.neutralise(value) == "'" + value
        assert csvsafe.unneutralise(csvsafe.neutralise(value)) == value
    assert csvsafe.neutralise(-500000) == -500000 and csvsafe.neutralise(-12.5) == -12.5
    assert csvsafe.neutralise("-500000") == "-500000"  # only a number: nothing to run
    assert csvsafe.neutralise("Nguyễn Văn A") == "Nguyễn Văn A" and csvsafe.neutralise(None) == ""
    text = csvsafe.dumps([["Số dư", -500000, 1_250_000, "=1+1"]])
    assert _rows(text) == [["Số dư", "-500000", "1250000", "'=1+1"]]


def test_camera_list_csv_quotes_a_hostile_owner_name(any_app, world, client_for):
    client = client_for("operator_a")
    with system_scope():
        cam = db.session.get(Camera, world.streams["a"]["camera"].id)
        cam.owner_name, cam.name, cam.road = HYPERLINK, "@SUM(1+1)", "-1+cmd"
        cam.latitude, cam.longitude = -12.5, 107.25
        db.session.commit()
        code = cam.code
    resp = client.get(f"/api/v1/units/{world.id('a')}/cameras.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    text = resp.get_data(as_text=True)
    rows = {r[0]: r for r in _rows(text)[1:]}
    header = _rows(text)[0]
    row = dict(zip(header, rows[code], strict=True))
    assert row["owner_name"] == "'" + HYPERLINK
    assert row["name"] == "'@SUM(1+1)" and row["road"] == "'-1+cmd"
    assert row["latitude"] == "-12.5"  # a number stays a number
    _no_formula(text)
    # importing the export gives back what was stored, not the quoted text
    resp = client.post(f"/api/v1/cameras/import?unit_id={world.id('a')}", data=text.encode(),
                       content_type="text/csv")
    assert resp.status_code == 200, resp.get_json()
    with system_scope():
        cam = db.session.get(Camera, world.streams["a"]["camera"].id)
        assert (cam.owner_name, cam.name, cam.road) == (HYPERLINK, "@SUM(1+1)", "-1+cmd")


def test_sponsor_report_csv_quotes_hostile_names_and_descriptions(app, world, client_for):
    a = world.id("a")
    with system_scope():
        sponsor = funders.create_sponsor(a, SponsorIn(name=HYPERLINK, kind="company"))
        receipts.record_receipt(a, ReceiptIn(idempotency_key="csv-injection-1", amount=2_500_000, method="bank",
                                             sponsor_id=sponsor.id, description="+cmd|' /C calc'!A0"))
        db.session.commit()
        sponsor_id = sponsor.id
    resp = client_for("chairman_a").get(f"/api/v1/funding/sponsors/{sponsor_id}/report.csv")
    assert resp.status_code == 200 and resp.data.startswith(b"\xef\xbb\xbf")
    text = resp.data.decode("utf-8-sig")
    cells = _cells(text)
    assert "'" + HYPERLINK in cells and "'+cmd|' /C calc'!A0" in cells
    assert HYPERLINK not in cells and "2500000" in cells  # the amount is still a number
    _no_formula(text)


def test_chairman_report_csv_quotes_village_and_phase_names_and_keeps_negative_amounts(app, world, client_for):
    a = world.id("a")
    with system_scope():
        db.session.get(Village, world.villages["a"].id).name = "@SUM(1+1)*cmd|' /C calc'!A0"
        db.session.commit()
    resp = client_for("chairman_a").get(f"/api/v1/funding/communes/{a}/report.csv")
    assert resp.status_code == 200
    text = resp.data.decode("utf-8-sig")
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in _cells(text)
    _no_formula(text)
    with system_scope():
        summary = reports.chairman_summary(a)
    summary["balance"] = -500_000  # a ledger that spent more than it raised
    summary["by_phase"][0]["name"] = "=1+1"
    rows = _rows(reports.chairman_csv(summary).decode("utf-8-sig"))
    assert ["Số dư", "-500000"] in rows
    assert any(r and r[0] == "'=1+1" for r in rows)
