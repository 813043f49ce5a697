"""PDF reports with Vietnamese diacritics: reportlab with DejaVu Sans (Debian's fonts-dejavu-core)."""
from __future__ import annotations

import io
import os

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..money import dong
from .labels import KIND_LABELS

FONT_DIRS = [os.environ.get("CAMNET_FONT_DIR", ""), "/usr/share/fonts/truetype/dejavu"]
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"


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


def sponsor_pdf(s: dict, lang: str = "vi") -> bytes:
    L = lambda vi, en: en if lang == "en" else vi  # noqa: E731
    sp = s["sponsor"]

    def story(st):
        out = [Paragraph(L("Báo cáo nhà tài trợ camera an ninh", "Security camera sponsor report"), st["title"]),
               Paragraph(f"{sp['name']} — {sp['commune']}", st["body"]),
               Paragraph(L("Ngày lập: ", "Generated on: ") + s["generated_on"], st["small"]), Spacer(1, 6),
               _table([[L("Khoản", "Item"), L("Số tiền", "Amount")],
                       [L("Cam kết tài trợ", "Pledged"), dong(s["pledged"])],
                       [L("Đã nộp", "Paid"), dong(s["paid"])],
                       [L("Còn phải nộp", "Outstanding"), dong(s["outstanding"])],
                       [L("Đã phân bổ", "Allocated"), dong(s["allocated"])]], [90 * mm, 60 * mm])]
        if s["receipts"]:
            out += [Paragraph(L("Phiếu thu", "Receipts"), st["h2"]), _table(
                [[L("Số", "No."), L("Ngày", "Date"), L("Số tiền", "Amount"), L("Nội dung", "Description")]] +
                [[r["number"], r["received_on"], dong(r["amount"]),
                  Paragraph((r["description"] or r["method"]) + (L(" (đã hủy)", " (reversed)") if r["reversed"] else ""),
                            st["body"])] for r in s["receipts"]], [28 * mm, 24 * mm, 36 * mm, 90 * mm])]
        if s["allocations"]:
            out += [Paragraph(L("Phân bổ kinh phí", "Allocations"), st["h2"]), _table(
                [[L("Giai đoạn / camera", "Phase / camera"), L("Số tiền", "Amount")]] +
                [[a["camera_code"] or a["phase"] or "", dong(a["amount"])] for a in s["allocations"]],
                [110 * mm, 50 * mm])]
        out += [Paragraph(L("Camera được tài trợ", "Funded cameras"), st["h2"])]
        if s["cameras"]:
            out.append(_table([[L("Mã", "Code"), L("Tên", "Name"), L("Trạng thái", "Status"), L("Hoạt động 30 ngày", "Uptime 30 d")]] +
                              [[c["code"], Paragraph(c["name"], st["body"]), c["status"],
                                "—" if c["uptime_30d"] is None else f"{c['uptime_30d']:.1%}"] for c in s["cameras"]],
                              [28 * mm, 80 * mm, 30 * mm, 35 * mm]))
        else:
            out.append(Paragraph(L("Chưa có camera được phân bổ.", "No camera allocated yet."), st["body"]))
        if s.get("incidents"):
            out += [Paragraph(L("Vụ việc camera đã hỗ trợ", "Cases the cameras helped with"), st["h2"]),
                    Paragraph(str(len(s["incidents"])), st["body"])]
        out += [Spacer(1, 10), Paragraph(
            L(f"Mã băm đầu chuỗi sổ cái (giao dịch số {s['head_seq']}):",
              f"Ledger chain head hash (transaction {s['head_seq']}):"), st["small"]),
            Paragraph(s["head_hash"], st["small"]),
            Paragraph(L("Giữ mã này để sau này kiểm chứng lịch sử không bị sửa đổi.",
                        "Keep this hash to check later that history was not rewritten."), st["small"])]
        return out

    return _build(story, L("Báo cáo nhà tài trợ", "Sponsor report"))


def chairman_pdf(s: dict, lang: str = "vi") -> bytes:
    L = lambda vi, en: en if lang == "en" else vi  # noqa: E731

    def story(st):
        out = [Paragraph(L("Báo cáo tài chính hệ thống camera an ninh", "Security camera funding report"), st["title"]),
               Paragraph(s["commune"]["name"], st["body"]), Spacer(1, 6),
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
                      [[p["name"] or L("Chưa phân", "None"), dong(p["target"]), dong(p["raised"]), dong(p["budget"]),
                        dong(p["socialised"]), dong(p["spent"])] for p in s["by_phase"]])]
        if s["by_village"]:
            out += [Paragraph(L("Đóng góp hộ dân theo thôn/khu phố", "Household shares by village"), st["h2"]),
                    _table([[L("Thôn/khu phố", "Village"), L("Số hộ", "Households"), L("Đã nộp", "Paid"),
                             L("Nợ đọng", "Arrears"), L("Đã thu", "Collected")]] +
                           [[v["village"], v["households"], v["paid"], v["arrears"], dong(v["collected"])]
                            for v in s["by_village"]])]
        out += [Paragraph(L("Chi theo loại", "Spending by kind"), st["h2"]),
                _table([[L("Loại", "Kind"), L("Số tiền", "Amount")]] +
                       [[L(*KIND_LABELS[k]), dong(v)] for k, v in s["spending_by_kind"].items()], [100 * mm, 60 * mm]),
                Spacer(1, 10), Paragraph(L(f"Mã băm đầu chuỗi sổ cái (giao dịch số {s['head_seq']}):",
                                           f"Ledger chain head hash (transaction {s['head_seq']}):"), st["small"]),
                Paragraph(s["head_hash"], st["small"])]
        return out

    return _build(story, L("Báo cáo tài chính", "Funding report"))
