"""Small SVG charts drawn on the server: they render without JavaScript or internet."""
from __future__ import annotations

from html import escape

from markupsafe import Markup

from ..money import number

PALETTE = ["#0b5ea8", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#2c3e50", "#b7950b",
           "#7f8c8d", "#e84393"]


def _svg(width: int, height: int, body: str, label: str) -> Markup:
    # every text placed in the SVG went through escape() above
    return Markup(f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
                  f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">{body}</svg>')  # nosec B704


def stacked_bars(labels: list[str], series: list[tuple[str, str, list[int]]], label: str,
                 width: int = 720, height: int = 260) -> Markup:
    """Bars per label, stacked by series (name, colour, values); a legend below."""
    left, bottom, top = 34, 40, 10
    n = max(len(labels), 1)
    totals = [sum(s[2][i] for s in series) for i in range(len(labels))]
    peak = max(totals + [1])
    plot_h = height - bottom - top
    bw = (width - left - 10) / n
    parts = []
    for tick in range(0, 5):
        v = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e8ee"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#5d6b7a">{v:.0f}</text>')
    for i, lab in enumerate(labels):
        x = left + i * bw + bw * 0.15
        y = top + plot_h
        for name, colour, values in series:
            h = plot_h * values[i] / peak
            if h > 0:
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw * 0.7:.1f}" height="{h:.1f}" fill="{colour}">'
                             f'<title>{escape(name)} {escape(lab)}: {values[i]}</title></rect>')
        if totals[i]:
            parts.append(f'<text x="{x + bw * 0.35:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">{totals[i]}</text>')
        parts.append(f'<text x="{x + bw * 0.35:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle" '
                     f'fill="#5d6b7a">{escape(lab)}</text>')
    lx, ly = left, height - 16
    for name, colour, _ in series:  # the legend wraps onto more rows below the plot
        w = 24 + 6.5 * len(name)
        if lx + w > width and lx > left:
            lx, ly = left, ly + 16
        parts.append(f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{ly + 9}" font-size="11">{escape(name)}</text>')
        lx += w
    height = ly + 16
    return _svg(width, height, "".join(parts), label)


def line(labels: list[str], values: list[float | None], label: str, width: int = 720, height: int = 200,
         percent: bool = True, colour: str = "#1c7c3c") -> Markup:
    """A line over labels; None values leave a gap. ``percent`` scales 0..1 to 0..100 %."""
    left, bottom, top = 40, 24, 10
    plot_h = height - bottom - top
    n = max(len(labels) - 1, 1)
    peak = 1.0 if percent else max([v for v in values if v is not None] + [1])
    parts = []
    for tick in range(0, 5):
        y = top + plot_h - plot_h * tick / 4
        text = f"{tick * 25}%" if percent else f"{peak * tick / 4:.0f}"
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e8ee"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#5d6b7a">{text}</text>')
    points, path = [], []
    for i, v in enumerate(values):
        x = left + (width - left - 10) * i / n
        if i % max(1, len(labels) // 10) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" fill="#5d6b7a">'
                         f'{escape(labels[i])}</text>')
        if v is None:
            if path:
                points.append(path)
            path = []
            continue
        y = top + plot_h - plot_h * v / peak
        path.append(f"{x:.1f},{y:.1f}")
        shown = f"{v * 100:.1f}%" if percent else f"{v:g}"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>{escape(labels[i])}: '
                     f'{shown}</title></circle>')
    if path:
        points.append(path)
    for p in points:
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(p)}"/>')
    if not points:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#5d6b7a">–</text>')
    return _svg(width, height, "".join(parts), label)


def progress(value: int, target: int, label: str, parts: list[tuple[str, int, str]] | None = None,
             width: int = 720, height: int = 54) -> Markup:
    """A bar of ``value`` against ``target`` (e.g. money raised vs the goal), split into parts."""
    target = max(target, 1)
    body = [f'<rect x="0" y="8" width="{width}" height="22" rx="4" fill="#e3e8ee"/>']
    x = 0.0
    for name, amount, colour in (parts or [(label, value, "#1c7c3c")]):
        w = min(width - x, width * amount / target)
        if w > 0:
            body.append(f'<rect x="{x:.1f}" y="8" width="{w:.1f}" height="22" fill="{colour}">'
                        f'<title>{escape(name)}: {number(amount)}</title></rect>')
            x += w
    share = 100 * value / target
    body.append(f'<text x="{width / 2}" y="48" font-size="13" text-anchor="middle">{share:.0f}%</text>')
    return _svg(width, height, "".join(body), label)
