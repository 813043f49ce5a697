"""PDF reports with Vietnamese diacritics: reportlab with DejaVu Sans (Debian's fonts-dejavu-core),
embedded in the file.

Every report says the period it covers (Vietnamese dates), carries the same charts as the page
(drawn with reportlab's drawing API from the same figures), ends with a signature block (người
lập biểu; the commune chairman, with room for the seal), and names every stored code through
``camnet.labels`` (never "active" in a Vietnamese report).
"""
from __future__ import annotations

import io
import os
from datetime import date

from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..labels import pair
from ..money import dong, number

FONT_DIRS = [os.environ.get("CAMNET_FONT_DIR", ""), "/usr/share/fonts/truetype/dejavu"]
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
WIDTH = A4[0] - 32 * mm  # the frame between the margins
PALETTE = ["#0b5ea8", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#2c3e50", "#b7950b"]
SHARE_COLOURS = {"paid": "#1c7c3c", "pending": "#b7950b", "arrears": "#b3261e"}  # as on the page
STATUS_COLOURS = {"active": "#1c7c3c", "offline": "#b3261e", "faulty": "#d35400", "planned": "#5f6b76"}


class FontMissing(RuntimeError):
    """The TrueType font with Vietnamese glyphs is not installed (apt-get install fonts-dejavu-core)."""


def _register() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    for folder in FONT_DIRS:
        regular, bold = os.path.join(folder, "DejaVuSans.ttf"), os.path.join(folder, "DejaVuSans-Bold.ttf")
        if folder and os.path.isfile(regular):
            pdfmetrics.registerFont(TTFont(FONT, regular))
            pdfmetrics.registerFont(TTFont(FONT_BOLD, bold if os.path.isfile(bold) else regular))
            return
    raise FontMissing("DejaVuSans.ttf not found: apt-get install -y fonts-dejavu-core")


def _styles():
    return {
        "title": ParagraphStyle("title", fontName=FONT_BOLD, fontSize=15, leading=19, spaceAfter=4),
        "h2": ParagraphStyle("h2", fontName=FONT_BOLD, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=4),
        "body": ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5),
        "small": ParagraphStyle("small", fontName=FONT, fontSize=7.5, leading=10, textColor=colors.grey),
        "sign": ParagraphStyle("sign", fontName=FONT, fontSize=9.5, leading=13, alignment=1),
        "sign_b": ParagraphStyle("sign_b", fontName=FONT_BOLD, fontSize=9.5, leading=13, alignment=1),
    }


def _table(rows: list[list], widths=None) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5), ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
    ]))
    return table


def _build(story_fn, title: str) -> bytes:
    _register()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=title, author="camnet")
    doc.build(story_fn(_styles()))
    return buf.getvalue()


def _lang(lang: str):
    return lambda vi, en: en if lang == "en" else vi


def _label(value, kind: str, lang: str) -> str:
    vi, en = pair(value, kind)
    return en if lang == "en" else vi


def _vn_date(iso: str) -> str:
    return date.fromisoformat(str(iso)[:10]).strftime("%d/%m/%Y")


def period(s: dict, L, st) -> Paragraph:
    """"Kỳ báo cáo: từ ngày 01/03/2026 đến ngày 03/12/2026" (Vietnamese calendar days)."""
    return Paragraph(L(f"Kỳ báo cáo: từ ngày {_vn_date(s['period_from'])} đến ngày {_vn_date(s['period_to'])} "
                       f"(giờ Việt Nam) · Ngày lập: {_vn_date(s['generated_on'])}",
                       f"Period: {_vn_date(s['period_from'])} to {_vn_date(s['period_to'])} (Vietnam time) · "
                       f"Made on {_vn_date(s['generated_on'])}"), st["body"])


def signatures(place: str, made_on: str, L, st) -> KeepTogether:
    """Người lập biểu on the left; the place and date, the chairman for the People's Committee,
    and room for the signature and the seal on the right."""
    day = date.fromisoformat(str(made_on)[:10])
    when = L(f"{place}, ngày {day:%d} tháng {day:%m} năm {day:%Y}", f"{place}, {day:%d/%m/%Y}")
    left = [Paragraph("&nbsp;", st["sign"]), Paragraph(L("NGƯỜI LẬP BIỂU", "PREPARED BY"), st["sign_b"]),
            Paragraph(L("Người lập biểu", "Prepared by"), st["sign"]),
            Paragraph(L("(Ký, ghi rõ họ tên)", "(Signature, full name)"), st["sign"])]
    right = [Paragraph(when, st["sign"]), Paragraph(L("TM. ỦY BAN NHÂN DÂN", "FOR THE PEOPLE'S COMMITTEE"), st["sign_b"]),
             Paragraph(L("Chủ tịch UBND", "Chairman of the People's Committee"), st["sign"]),
             Paragraph(L("(Ký, ghi rõ họ tên, đóng dấu)", "(Signature, full name, seal)"), st["sign"])]
    table = Table([[left, right], ["", ""]], colWidths=[WIDTH / 2, WIDTH / 2], rowHeights=[None, 30 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return KeepTogether([Spacer(1, 12), table])


# ---- charts: the page's, drawn again with reportlab's drawing API ------------------------------

def _legend(drawing: Drawing, entries: list[tuple[str, str]], y: float) -> None:
    x = 0.0
    for name, colour in entries:
        w = 16 + pdfmetrics.stringWidth(name, FONT, 8)
        if x + w > WIDTH and x > 0:
            x, y = 0.0, y - 12
        drawing.add(Rect(x, y, 8, 8, fillColor=colors.HexColor(colour), strokeColor=None))
        drawing.add(String(x + 11, y + 1, name, fontName=FONT, fontSize=8))
        x += w + 10


CHART_ROWS = 36  # 16 pt a row: a chart of this many rows fits a page with its heading


def bar_chart(items: list[tuple[str, float, str]], fmt, legend: bool = False, peak: float | None = None) -> Drawing:
    """One horizontal bar per item (name, value, colour), the value written after it."""
    row, left = 16, min(60 * mm, 6 + max([pdfmetrics.stringWidth(n, FONT, 8) for n, _, _ in items] + [20]))
    room = WIDTH - left - 70
    peak = peak or max([v for _, v, _ in items] + [1])
    extra = 14 * (1 + len(items) // 5) if legend else 0
    drawing = Drawing(WIDTH, row * len(items) + 4 + extra)
    top = drawing.height - 4
    for k, (name, value, colour) in enumerate(items):
        y = top - (k + 1) * row
        w = room * (value or 0) / peak
        drawing.add(String(left - 4, y + 4, name, fontName=FONT, fontSize=8, textAnchor="end"))
        drawing.add(Rect(left, y + 2, max(w, 0.5), 11, fillColor=colors.HexColor(colour), strokeColor=None))
        drawing.add(String(left + w + 4, y + 4, fmt(value), fontName=FONT, fontSize=8, fillColor=colors.grey))
    if legend:
        _legend(drawing, [(n, c) for n, _, c in items], 2)
    return drawing


def stacked_chart(labels: list[str], series: list[tuple[str, str, list[int]]]) -> Drawing:
    """One horizontal bar per label split by series (name, colour, values), a legend below."""
    row, left = 16, min(60 * mm, 6 + max([pdfmetrics.stringWidth(n, FONT, 8) for n in labels] + [20]))
    room = WIDTH - left - 40
    totals = [sum(s[2][i] for s in series) for i in range(len(labels))]
    peak = max(totals + [1])
    drawing = Drawing(WIDTH, row * len(labels) + 22)
    top = drawing.height - 4
    for i, lab in enumerate(labels):
        y, x = top - (i + 1) * row, left
        drawing.add(String(left - 4, y + 4, lab, fontName=FONT, fontSize=8, textAnchor="end"))
        for _name, colour, values in series:
            w = room * values[i] / peak
            if w > 0:
                drawing.add(Rect(x, y + 2, w, 11, fillColor=colors.HexColor(colour), strokeColor=None))
                x += w
        drawing.add(String(x + 4, y + 4, number(totals[i]), fontName=FONT, fontSize=8, fillColor=colors.grey))
    _legend(drawing, [(s[0], s[1]) for s in series], 2)
    return drawing


def _percent(v) -> str:
    return "—" if v is None else f"{v * 100:.1f}%".replace(".", ",")


# ---- the reports -------------------------------------------------------------------------------

def sponsor_pdf(s: dict, lang: str = "vi") -> bytes:
    L = _lang(lang)
    sp = s["sponsor"]

    def story(st):
        out = [Paragraph(L("Báo cáo nhà tài trợ camera an ninh", "Security camera sponsor report"), st["title"]),
               Paragraph(f"{sp['name']} — {sp['commune']}", st["body"]), period(s, L, st), Spacer(1, 6),
               _table([[L("Khoản", "Item"), L("Số tiền", "Amount")],
                       [L("Cam kết tài trợ", "Pledged"), dong(s["pledged"])],
                       [L("Đã nộp", "Paid"), dong(s["paid"])],
                       [L("Còn phải nộp", "Outstanding"), dong(s["outstanding"])],
                       [L("Đã phân bổ", "Allocated"), dong(s["allocated"])],
                       [L("Chưa phân bổ", "Not yet allocated"), dong(s.get("unallocated"))]], [90 * mm, 60 * mm])]
        if s["receipts"]:
            out += [Paragraph(L("Phiếu thu", "Receipts"), st["h2"]), _table(
                [[L("Số", "No."), L("Ngày", "Date"), L("Số tiền", "Amount"), L("Nội dung", "Description")]] +
                [[r["number"], _vn_date(r["received_on"]), dong(r["amount"]),
                  Paragraph((r["description"] or _label(r["method"], "receipt_method", lang)) +
                            (L(" (đã hủy)", " (reversed)") if r["reversed"] else ""), st["body"])]
                 for r in s["receipts"]], [28 * mm, 24 * mm, 36 * mm, 90 * mm])]
        if s["allocations"]:
            out += [Paragraph(L("Phân bổ kinh phí", "Allocations"), st["h2"]), _table(
                [[L("Giai đoạn / camera", "Phase / camera"), L("Số tiền", "Amount")]] +
                [[a["camera_code"] or a["phase"] or L("Chung", "General"), dong(a["amount"])] for a in s["allocations"]],
                [110 * mm, 50 * mm])]
        out += [Paragraph(L("Camera được tài trợ", "Funded cameras"), st["h2"])]
        if s["cameras"]:
            out.append(_table([[L("Mã", "Code"), L("Tên", "Name"), L("Trạng thái", "Status"), L("Hoạt động 30 ngày", "Uptime 30 d")]] +
                              [[c["code"], Paragraph(c["name"], st["body"]), _label(c["status"], "camera_status", lang),
                                _percent(c["uptime_30d"])] for c in s["cameras"]],
                              [28 * mm, 80 * mm, 30 * mm, 35 * mm]))
            bars = [(c["code"], c["uptime_30d"] or 0, STATUS_COLOURS.get(c["status"], "#5f6b76")) for c in s["cameras"]]
            out.append(Paragraph(L("Tỉ lệ hoạt động 30 ngày của từng camera", "Each camera's uptime, 30 days"), st["h2"]))
            # a chart is one flowable and cannot break across pages: at most CHART_ROWS bars each
            out += [bar_chart(bars[i:i + CHART_ROWS], _percent, peak=1.0) for i in range(0, len(bars), CHART_ROWS)]
            out.append(_status_legend(s["cameras"], lang))
        else:
            out.append(Paragraph(L("Chưa có camera được phân bổ.", "No camera allocated yet."), st["body"]))
        cases = s.get("incidents") or []
        total = s.get("incidents_total", sum(int(c["count"]) for c in cases))
        out += [Paragraph(L("Vụ việc camera đã hỗ trợ", "Cases the cameras helped with"), st["h2"]),
                Paragraph(L(f"Tổng số: {number(total)} vụ việc, trong đó {number(s.get('incidents_clarified', 0))} "
                            "vụ làm rõ nhờ camera (chỉ số lượng, không có hình ảnh).",
                            f"In all: {number(total)} cases, {number(s.get('incidents_clarified', 0))} clarified "
                            "through the cameras (counts only, no footage)."), st["body"])]
        if cases:
            out.append(bar_chart([(L(c["label_vi"], c["label_en"]), int(c["count"]), PALETTE[k % len(PALETTE)])
                                  for k, c in enumerate(cases)], number))
        out += _chain(s, L, st)
        out += checkpoint_block(sp["commune_id"], s["head_seq"], lang)
        out.append(signatures(sp["commune"], s["generated_on"], L, st))
        return out

    return _build(story, L("Báo cáo nhà tài trợ", "Sponsor report"))


def _status_legend(cameras: list[dict], lang: str) -> Drawing:
    seen = list(dict.fromkeys(c["status"] for c in cameras))
    drawing = Drawing(WIDTH, 14)
    _legend(drawing, [(_label(s, "camera_status", lang), STATUS_COLOURS.get(s, "#5f6b76")) for s in seen], 2)
    return drawing


def _chain(s: dict, L, st) -> list:
    return [Spacer(1, 10), Paragraph(L(f"Mã băm đầu chuỗi sổ cái (giao dịch số {s['head_seq']}):",
                                       f"Ledger chain head hash (transaction {s['head_seq']}):"), st["small"]),
            Paragraph(s["head_hash"] or "—", st["small"]),
            Paragraph(L("Giữ mã này để sau này kiểm chứng lịch sử không bị sửa đổi.",
                        "Keep this hash to check later that history was not rewritten."), st["small"])]


# The checkpoint a report was made against and a QR code to its proof: drawn by the transparency
# feature, which registers here (billing never imports it): fn(commune_id, size, lang) -> flowables.
CHECKPOINT_BLOCKS: list = []


def checkpoint_block(commune_id: int, size: int, lang: str) -> list:
    return [f for block in CHECKPOINT_BLOCKS for f in block(commune_id, size, lang)]


def chairman_pdf(s: dict, lang: str = "vi") -> bytes:
    L = _lang(lang)

    def story(st):
        out = [Paragraph(L("Báo cáo tài chính hệ thống camera an ninh", "Security camera funding report"), st["title"]),
               Paragraph(s["commune"]["name"], st["body"]), period(s, L, st), Spacer(1, 6),
               _table([[L("Chỉ tiêu", "Figure"), L("Số tiền", "Amount")],
                       [L("Mục tiêu huy động", "Target"), dong(s["target"])],
                       [L("Đã huy động", "Raised"), dong(s["raised"])],
                       [L("— Ngân sách", "— State budget"), dong(s["budget"])],
                       [L("— Xã hội hóa", "— Socialised"), dong(s["socialised"])],
                       [L("Đã chi", "Spent"), dong(s["spent"])],
                       [L("Số dư (tiền mặt + ngân hàng)", "Balance (cash + bank)"), dong(s["balance"])]],
                      [100 * mm, 60 * mm]),
               Paragraph(L("Theo giai đoạn", "By phase"), st["h2"]),
               _table([[L("Giai đoạn", "Phase"), L("Mục tiêu", "Target"), L("Đã huy động", "Raised"),
                        L("Ngân sách", "Budget"), L("Xã hội hóa", "Socialised"), L("Đã chi", "Spent")]] +
                      [[p["name"] or L("Chưa phân giai đoạn", "No phase"), dong(p["target"]), dong(p["raised"]),
                        dong(p["budget"]), dong(p["socialised"]), dong(p["spent"])] for p in s["by_phase"]])]
        if s["by_village"]:
            villages = s["by_village"]
            out += [Paragraph(L("Đóng góp hộ dân theo thôn/khu phố", "Household shares by village"), st["h2"]),
                    stacked_chart([v["village"] for v in villages],
                                  [(_label(state, "share_state", lang), colour, [int(v.get(state) or 0) for v in villages])
                                   for state, colour in SHARE_COLOURS.items()]),
                    Spacer(1, 4),
                    _table([[L("Thôn/khu phố", "Village"), L("Hộ được giao", "Households asked"), L("Đã nộp", "Paid"),
                             L("Quá hạn", "Overdue"), L("Đã thu", "Collected")]] +
                           [[v["village"], number(v["households"]), number(v["paid"]), number(v["arrears"]),
                             dong(v["collected"])] for v in villages])]
        kinds = list(s["spending_by_kind"].items())
        out += [Paragraph(L("Chi theo loại", "Spending by kind"), st["h2"]),
                bar_chart([(_label(k, "expense_kind", lang), int(v or 0), PALETTE[i % len(PALETTE)])
                           for i, (k, v) in enumerate(kinds)], dong),
                Spacer(1, 4),
                _table([[L("Loại", "Kind"), L("Số tiền", "Amount")]] +
                       [[_label(k, "expense_kind", lang), dong(v)] for k, v in kinds], [100 * mm, 60 * mm])]
        out += _chain(s, L, st)
        out += checkpoint_block(s["commune"]["id"], s["head_seq"], lang)
        out.append(signatures(s["commune"]["name"], s["generated_on"], L, st))
        return out

    return _build(story, L("Báo cáo tài chính", "Funding report"))
