"""One check for every name or label a person types (units, villages, users, cameras, sponsors,
incidents...): NFC-normalised, trimmed, and free of characters that hide or reorder text.

A right-to-left override (U+202E) makes "CAM-01<RLO>gpj.exe" read differently from what is stored,
and a zero-width space makes two names that look identical differ; both are refused with an error
naming the field. Vietnamese diacritics are kept (NFC composes "a" + U+0303 into "ã").
"""
from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import BeforeValidator

BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]    # LRE, RLE, PDF, LRO, RLO
    + [chr(c) for c in range(0x2066, 0x206A)]  # LRI, RLI, FSI, PDI
    + ["\u200e", "\u200f", "\u061c"]           # LRM, RLM, ALM
)
ZERO_WIDTH = frozenset(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])


def problem(value: str) -> str | None:
    """Why ``value`` is refused as a name, or None."""
    for ch in value:
        if ch in BIDI_CONTROLS:
            return (f"có ký tự đảo chiều văn bản U+{ord(ch):04X} / contains a text-direction control "
                    f"character (U+{ord(ch):04X})")
        if ch in ZERO_WIDTH:
            return (f"có ký tự vô hình U+{ord(ch):04X} / contains an invisible zero-width character "
                    f"(U+{ord(ch):04X})")
        if unicodedata.category(ch) == "Cc":
            return (f"có ký tự điều khiển U+{ord(ch):04X} / contains a control character "
                    f"(U+{ord(ch):04X})")
    return None


def clean(value):
    """NFC, trimmed; raises ValueError (pydantic reports it under the field's name)."""
    if not isinstance(value, str):
        return value  # None, or a wrong type pydantic itself reports
    value = unicodedata.normalize("NFC", value).strip()
    reason = problem(value)
    if reason:
        raise ValueError(reason)
    return value


# Use as the type of any human name or label: ``name: HumanName = Field(..., max_length=200)``.
HumanName = Annotated[str, BeforeValidator(clean)]
