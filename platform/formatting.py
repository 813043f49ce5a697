"""App-wide template filters: money, counts, shares and Vietnam time (registered by the core)."""
from __future__ import annotations

from datetime import date

from . import clock, labels, money


def pct(value) -> str:
    """0.875 -> "88%"."""
    return "–" if value is None else f"{100 * value:.0f}%"


def vntime(value, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A stored time as Vietnam time."""
    return clock.to_vn(value).strftime(fmt) if value else "–"


def vndate(value, fmt: str = "%d/%m/%Y") -> str:
    """A date (or an ISO date text, as reports hand them over) as people write it: 03/12/2026."""
    if not value:
        return "–"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value.strftime(fmt)


def init_app(app) -> None:
    app.add_template_filter(money.dong, "dong")
    app.add_template_filter(money.number, "number")
    app.add_template_filter(pct, "pct")
    app.add_template_filter(vntime, "vntime")
    app.add_template_filter(vndate, "vndate")
    labels.init_app(app)  # the ``label`` filter: Vietnamese/English names of stored codes
