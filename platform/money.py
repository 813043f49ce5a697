"""Money and counts as people here read them: "6.000.000 đ", "1.200" (a dot between thousands).

One currency sign, "đ", in pages, PDFs, CSV headers and messages alike; the core registers both
as template filters (``|dong``, ``|number``).
"""
from __future__ import annotations

NONE = "—"  # shown where there is no figure yet
SIGN = "đ"


def number(n) -> str:
    """1200 -> "1.200"; None -> "—"."""
    return NONE if n is None else f"{int(n):,}".replace(",", ".")


def dong(amount) -> str:
    """6000000 -> "6.000.000 đ"; None -> "—"."""
    return NONE if amount is None else f"{number(amount)} {SIGN}"
