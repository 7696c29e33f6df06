"""Writing spreadsheets: the exports every page offers (.xlsx), and the cell styles the list template shares.

Text goes out as typed text cells, never as something a spreadsheet would evaluate (CSV and formula
injection); numbers and dates stay numbers and dates, shown dd/mm/yyyy. Reading the lists provinces upload
is portal/domain/spreadsheets.py.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from portal.domain.text import clean

# openpyxl (6 MB resident) is imported by the functions that write a workbook, not with this module.
# The control characters a worksheet cell cannot hold (the same as openpyxl's ILLEGAL_CHARACTERS_RE).
_ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


# ------------------------------------------------------- the look the template and the exports share

@dataclass(frozen=True)
class Styles:
    """The cell styles the list template and the exports share."""

    header_font: Any
    header_fill: Any
    border: Any


@cache
def styles() -> Styles:
    """The shared cell styles, made once, when the first workbook is written."""
    from openpyxl.styles import Border, Font, PatternFill, Side

    thin = Side(style="thin", color="999999")
    return Styles(header_font=Font(bold=True), header_fill=PatternFill("solid", fgColor="DDEBF7"),
                  border=Border(left=thin, right=thin, top=thin, bottom=thin))


# ------------------------------------------------------------------------- exports

_FORMULA_STARTS = ("=", "+", "-", "@")
_MAX_CELL_TEXT = 32767


def looks_like_formula(value: str) -> bool:
    """Whether a spreadsheet could take this text for a formula if it were typed into a cell."""
    return value.startswith(("\t", "\r")) or value.lstrip().startswith(_FORMULA_STARTS)


def neutralise_formula(value: str) -> str:
    """Prefix a single quote to text a spreadsheet could run as a formula (for CSV, which has no cell types).

    Following OWASP's CSV-injection advice: text starting with =, +, -, @, a
    tab or a carriage return, also after leading whitespace, gets a leading
    "'" so Excel and LibreOffice show it instead of evaluating it. A phone
    number "+84912345678" becomes "'+84912345678", still readable.
    """
    if looks_like_formula(value):
        return "'" + value
    return value


def export_rows(
    headers: list[str],
    rows: list[list[object]],
    *,
    sheet_title: str,
    title: str | None = None,
) -> bytes:
    """Write rows to a formatted .xlsx: optional bold title, bold frozen header,
    column widths fitted to the content.

    Text is stored as a typed text cell, so Excel and LibreOffice never
    evaluate it and phone numbers stay text; text that looks like a formula
    ("+84…", "=…") also gets the quotePrefix style, which keeps it text when
    someone edits the cell, without the stray "'" a prefixed value would
    show. Numbers and dates stay numbers and dates.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    shared = styles()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_safe_sheet_title(sheet_title))
    width = max([len(headers), *(len(row) for row in rows)])
    widths = [len(str(name)) for name in headers] + [0] * (width - len(headers))
    prepared: list[list[object]] = []
    for row in rows:
        values = [export_value(value) for value in row]
        for index, value in enumerate(values):
            widths[index] = max(widths[index], len(_display(value)))
        prepared.append(values)
    for index, chars in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(max(chars + 2, 8), 60)

    header_row = 3 if title else 1
    # A write-only sheet writes its view with the first row: freeze first.
    sheet.freeze_panes = f"A{header_row + 1}"
    if title:
        cell = WriteOnlyCell(sheet, value=_text_value(title))
        cell.font = Font(bold=True, size=13)
        cell.data_type = "s"
        sheet.append([cell])
        sheet.append([])
    header_cells = []
    for name in headers:
        cell = WriteOnlyCell(sheet, value=_text_value(str(name)))
        cell.data_type = "s"
        cell.font = shared.header_font
        cell.fill = shared.header_fill
        cell.border = shared.border
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        header_cells.append(cell)
    sheet.append(header_cells)
    for values in prepared:
        sheet.append([export_cell(sheet, value) for value in values])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _safe_sheet_title(title: str) -> str:
    text = re.sub(r"[\[\]:*?/\\]", "-", clean(title)).strip("'")
    return text[:31] or "Sheet1"


def _text_value(value: str) -> str:
    text = _ILLEGAL_CHARACTERS_RE.sub("", value)
    return text[:_MAX_CELL_TEXT]


def export_value(value: object) -> object:
    """A value as a cell stores it: text cleaned of what a cell cannot hold, no NaN, Decimal as float."""
    if value is None or isinstance(value, (bool, int, float, dt.date, dt.time)):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return ""
        return value
    if isinstance(value, Decimal):
        return float(value)
    return _text_value(str(value))


def _display(value: object) -> str:
    """The text a cell shows, to size its column."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return "dd/mm/yyyy hh:mm"
    if isinstance(value, dt.date):
        return "dd/mm/yyyy"
    return str(value)


def export_cell(sheet: Any, value: object) -> object:
    """A write-only cell for `value`: text typed as text, dates shown dd/mm/yyyy (hh:mm)."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        cell.number_format = "@"
        if looks_like_formula(value):
            cell.quotePrefix = True
        return cell
    if isinstance(value, dt.datetime):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "dd/mm/yyyy hh:mm"
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "dd/mm/yyyy"
        return cell
    return value
