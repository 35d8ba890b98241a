"""Cells of the CSV files the services write, safe to open in a spreadsheet (no CSV formula injection).

Excel, LibreOffice and Google Sheets run a cell that starts with = + - @ (or a tab or line break before one) as a
formula, so a name typed by the public (`=HYPERLINK("http://x")`) could run on an organiser's machine. Such a cell
gets a leading apostrophe, which spreadsheets show as text (OWASP's advice). Numbers stay numbers: a negative
amount is not text someone typed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

# Full-width forms too: some spreadsheets fold them to the ASCII ones before deciding what a cell is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    if text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text
    return text


def cells(values: Iterable[object]) -> list[str]:
    return [cell(v) for v in values]


def csv_text(header: Sequence[str], rows: Iterable[Iterable[object]], *, lineterminator: str = "\r\n") -> str:
    """A whole CSV document (RFC 4180 line ends by default), every cell through `cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow(cells(header))
    writer.writerows(cells(row) for row in rows)
    return out.getvalue()
