"""CSV for spreadsheets without formula injection: every CSV the platform writes goes through here.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by
Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a camera's owner name, a sponsor's
description). As OWASP recommends, such text cells are prefixed with a single quote ``'``, which the
spreadsheet shows as text and does not display. Only text is neutralised: ints and floats (money in
integer đồng, a negative balance such as -500000, coordinates) are written as numbers.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Text that is only a number ("-500000", "+84", "-12.5") cannot be a formula: left as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def neutralise(value):
    """One cell as it goes to the writer: text that a spreadsheet would run is quoted, the rest kept."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    """The inverse for reading back a file the platform wrote (an import of an export)."""
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text


class SafeWriter:
    """``csv.writer`` whose rows pass through ``neutralise``."""

    def __init__(self, stream, **kwargs):
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row) -> None:
        self._writer.writerow([neutralise(v) for v in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def writer(stream, **kwargs) -> SafeWriter:
    return SafeWriter(stream, **kwargs)


def dumps(rows, bom: bool = False, **kwargs) -> str:
    """Rows as CSV text (``bom``: start with U+FEFF so Excel reads UTF-8 and shows diacritics)."""
    buf = io.StringIO()
    writer(buf, **kwargs).writerows(rows)
    return ("\ufeff" if bom else "") + buf.getvalue()
