"""App-wide template filters: money, counts, shares and Vietnam time (registered by the core)."""
from __future__ import annotations

from . import clock, money


def pct(value) -> str:
    """0.875 -> "88%"."""
    return "–" if value is None else f"{100 * value:.0f}%"


def vntime(value, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A stored time as Vietnam time."""
    return clock.to_vn(value).strftime(fmt) if value else "–"


def init_app(app) -> None:
    app.add_template_filter(money.dong, "dong")
    app.add_template_filter(money.number, "number")
    app.add_template_filter(pct, "pct")
    app.add_template_filter(vntime, "vntime")
