"""Small SVG charts drawn on the server: they render without JavaScript or internet.

Each function returns a :class:`Chart`: written in a template (``{{ chart }}``) it becomes the
partial ``dashboards/_chart.html``: the SVG, a legend, and the numbers behind it in a <details>
table for whoever cannot see the picture (screen readers, a printout, a curious chairman).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from flask import render_template
from markupsafe import Markup

from ..i18n import t
from ..labels import label
from ..money import dong, number

PALETTE = ["#0b5ea8", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#2c3e50", "#b7950b",
           "#7f8c8d", "#e84393"]
MUTED = "#5d6b7a"


@dataclass
class Chart:
    """A drawn chart and what it shows: ``legend`` (name, colour) pairs, ``columns``/``rows`` the
    numbers as text (the table fallback)."""

    label: str
    svg: Markup
    legend: list[tuple[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def __html__(self) -> str:
        return render_template("dashboards/_chart.html", chart=self)


def _svg(width: float, height: float, body: str, label: str) -> Markup:
    # every text placed in the SVG went through escape() above
    return Markup(f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(label)}" '
                  f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">{body}</svg>')  # nosec B704


def _grid(left: float, right: float, top: float, plot_h: float, texts: list[str]) -> list[str]:
    parts = []
    for tick, text in enumerate(texts):
        y = top + plot_h - plot_h * tick / (len(texts) - 1)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e8ee"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="{MUTED}">'
                     f'{escape(text)}</text>')
    return parts


def stacked_bars(labels: list[str], series: list[tuple[str, str, list[int]]], label: str,
                 width: int = 720, height: int = 240, axis: str | None = None) -> Chart:
    """Bars per label (e.g. a month), stacked by series (name, colour, values)."""
    left, bottom, top = 34, 22, 10
    n = max(len(labels), 1)
    totals = [sum(s[2][i] for s in series) for i in range(len(labels))]
    peak = -(-max(totals + [1]) // 4) * 4 if max(totals + [1]) > 4 else 4  # whole numbers on the grid
    plot_h = height - bottom - top
    bw = (width - left - 10) / n
    parts = _grid(left, width - 10, top, plot_h, [number(peak * k // 4) for k in range(5)])
    for i, lab in enumerate(labels):
        x = left + i * bw + bw * 0.15
        y = top + plot_h
        for name, colour, values in series:
            h = plot_h * values[i] / peak
            if h > 0:
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw * 0.7:.1f}" height="{h:.1f}" fill="{colour}">'
                             f'<title>{escape(name)} {escape(lab)}: {number(values[i])}</title></rect>')
        if totals[i]:
            parts.append(f'<text x="{x + bw * 0.35:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">'
                         f'{number(totals[i])}</text>')
        parts.append(f'<text x="{x + bw * 0.35:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle" '
                     f'fill="{MUTED}">{escape(lab)}</text>')
    rows = [[lab, *(number(s[2][i]) for s in series), number(totals[i])] for i, lab in enumerate(labels)]
    return Chart(label, _svg(width, height, "".join(parts), label), [(s[0], s[1]) for s in series],
                 [axis or t("Tháng", "Month"), *(s[0] for s in series), t("Tổng", "Total")], rows)


def line(labels: list[str], values: list[float | None], label: str, width: int = 720, height: int = 200,
         percent: bool = True, colour: str = "#1c7c3c", axis: str | None = None) -> Chart:
    """A line over labels; None values leave a gap. ``percent`` scales 0..1 to 0..100 %."""
    left, bottom, top = 40, 24, 10
    plot_h = height - bottom - top
    n = max(len(labels) - 1, 1)
    peak = 1.0 if percent else max([v for v in values if v is not None] + [1])
    parts = _grid(left, width - 10, top, plot_h,
                  [f"{k * 25}%" if percent else number(round(peak * k / 4)) for k in range(5)])
    runs, run = [], []
    for i, v in enumerate(values):
        x = left + (width - left - 10) * i / n
        if i % max(1, len(labels) // 10) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" fill="{MUTED}">'
                         f'{escape(labels[i])}</text>')
        if v is None:
            if run:
                runs.append(run)
            run = []
            continue
        y = top + plot_h - plot_h * v / peak
        run.append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>{escape(labels[i])}: '
                     f'{escape(_shown(v, percent))}</title></circle>')
    if run:
        runs.append(run)
    for r in runs:
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(r)}"/>')
    if not runs:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">'
                     f'{escape(t("Chưa có dữ liệu", "No data yet"))}</text>')
    return Chart(label, _svg(width, height, "".join(parts), label), [(label, colour)],
                 [axis or t("Ngày", "Day"), label], [[lab, _shown(v, percent)] for lab, v in zip(labels, values, strict=True)])


def _shown(v, percent: bool) -> str:
    if v is None:
        return "–"
    return f"{v * 100:.1f}%".replace(".", ",") if percent else number(v)


def bars(items: list[tuple[str, int, str]], label: str, money: bool = False, width: int = 460,
         axis: str | None = None) -> Chart:
    """One horizontal bar per item (name, value, colour), e.g. spending by kind."""
    fmt = dong if money else number
    left, row = min(180, 14 + 6.6 * max([len(i[0]) for i in items] + [4])), 26
    right = 120 if money else 50
    peak = max([v for _, v, _ in items] + [1])
    height = max(row * len(items) + 8, 40)
    parts = []
    for k, (name, value, colour) in enumerate(items):
        y = 4 + k * row
        w = (width - left - right) * value / peak
        parts.append(f'<text x="{left - 6}" y="{y + 15}" font-size="12" text-anchor="end">{escape(name)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{max(w, 0):.1f}" height="16" fill="{colour}">'
                     f'<title>{escape(name)}: {escape(fmt(value))}</title></rect>'
                     f'<text x="{left + w + 6:.1f}" y="{y + 15}" font-size="12" fill="{MUTED}">{escape(fmt(value))}</text>')
    return Chart(label, _svg(width, height, "".join(parts), label), [(n, c) for n, _, c in items],
                 [axis or t("Mục", "Item"), label], [[n, fmt(v)] for n, v, _ in items])


def stacked_hbars(labels: list[str], series: list[tuple[str, str, list[int]]], label: str, width: int = 460,
                  axis: str | None = None) -> Chart:
    """One horizontal bar per label split by series, e.g. each village's households paid / not yet
    due / overdue; the bar's length is the label's total."""
    left, row, right = min(180, 14 + 6.6 * max([len(x) for x in labels] + [4])), 26, 40
    totals = [sum(s[2][i] for s in series) for i in range(len(labels))]
    peak = max(totals + [1])
    height = max(row * len(labels) + 8, 40)
    parts = []
    for i, lab in enumerate(labels):
        y, x = 4 + i * row, float(left)
        parts.append(f'<text x="{left - 6}" y="{y + 15}" font-size="12" text-anchor="end">{escape(lab)}</text>')
        for name, colour, values in series:
            w = (width - left - right) * values[i] / peak
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="16" fill="{colour}">'
                             f'<title>{escape(lab)} · {escape(name)}: {number(values[i])}</title></rect>')
                x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="12" fill="{MUTED}">{number(totals[i])}</text>')
    rows = [[lab, *(number(s[2][i]) for s in series), number(totals[i])] for i, lab in enumerate(labels)]
    return Chart(label, _svg(width, height, "".join(parts), label), [(s[0], s[1]) for s in series],
                 [axis or t("Mục", "Item"), *(s[0] for s in series), t("Tổng", "Total")], rows)


def progress(value: int, target: int, label: str, parts: list[tuple[str, int, str]] | None = None,
             width: int = 720, height: int = 54) -> Chart:
    """A bar of ``value`` against ``target`` (e.g. money raised vs the goal), split into parts."""
    target = max(target, 1)
    body = [f'<rect x="0" y="8" width="{width}" height="22" rx="4" fill="#e3e8ee"/>']
    x = 0.0
    shown = parts or [(label, value, "#1c7c3c")]
    for name, amount, colour in shown:
        w = min(width - x, width * amount / target)
        if w > 0:
            body.append(f'<rect x="{x:.1f}" y="8" width="{w:.1f}" height="22" fill="{colour}">'
                        f'<title>{escape(name)}: {number(amount)}</title></rect>')
            x += w
    share = 100 * value / target
    body.append(f'<text x="{width / 2}" y="48" font-size="13" text-anchor="middle">{share:.0f}%</text>')
    rows = [[name, dong(amount)] for name, amount, _ in shown]
    rows += [[t("Mục tiêu", "Target"), dong(target)], [t("Đạt", "Reached"), f"{share:.0f}%"]]
    return Chart(label, _svg(width, height, "".join(body), label), [(n, c) for n, _, c in shown],
                 [t("Mục", "Item"), t("Số tiền", "Amount")], rows)


# ---- the charts of the funding reports (the PDFs draw the same from the same figures) -----------

SHARE_COLOURS = {"paid": "#1c7c3c", "pending": "#b7950b", "arrears": "#b3261e"}


def spending_by_kind(funding: dict) -> Chart:
    """The chairman's spending by kind (equipment, installation, repair...), in đồng."""
    items = [(label(kind, "expense_kind"), int(amount or 0), PALETTE[k % len(PALETTE)])
             for k, (kind, amount) in enumerate((funding.get("spending_by_kind") or {}).items())]
    return bars(items, t("Chi theo loại", "Spending by kind"), money=True, axis=t("Loại chi", "Kind"))


def shares_by_village(funding: dict) -> Chart:
    """Household shares per village: how many households paid, are not yet due, are overdue."""
    villages = funding.get("by_village") or []
    series = [(label(state, "share_state"), colour, [int(v.get(state) or 0) for v in villages])
              for state, colour in SHARE_COLOURS.items()]
    return stacked_hbars([v["village"] for v in villages], series,
                         t("Hộ đã nộp phần đóng góp, theo thôn", "Households' shares by village"),
                         axis=t("Thôn", "Village"))


def cases_by_category(helped: list[dict]) -> Chart:
    """Cases a sponsor's cameras helped with, per category (counts only)."""
    items = [(t(h["label_vi"], h["label_en"]), int(h["count"]), PALETTE[k % len(PALETTE)])
             for k, h in enumerate(helped)]
    return bars(items, t("Vụ việc camera đã hỗ trợ, theo loại", "Cases the cameras helped with, by category"),
                axis=t("Loại", "Category"))
