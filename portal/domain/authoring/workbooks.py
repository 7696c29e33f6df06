"""What the questionnaire and the framework workbooks share: writing tables with drop-downs, and reading an
uploaded workbook safely into plain values while remembering where each value came from.

A workbook is only another way to write the same document as the YAML file: the readers turn the sheets
into the very dict `yaml.safe_load` would give and hand it to the document's own checks, with a `Locator`
that names the sheet, row and column of each place instead of a line of the file.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from portal.domain import spreadsheet_exports, spreadsheets
from portal.domain.document_versions import DocumentError
from portal.domain.text import clean, fold

Path = tuple[str | int, ...]

XLSX_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0")
MAX_UNPACKED_BYTES = 20 * 1024 * 1024  # a whole official set unpacks to well under 1 MB
MAX_ROWS = 20_000  # per sheet: far above any real set (options of 150 questions a form), far below trouble
VALIDATED_ROWS = 1000  # rows below the data that still offer the drop-downs
YES, NO = "Có", "Không"
_YES_WORDS = {"co", "x", "true", "dung", "1", "yes"}
_NO_WORDS = {"khong", "false", "sai", "0", "no"}

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAP = Alignment(wrap_text=True, vertical="top")
_TOP = Alignment(vertical="top")


def is_workbook(data: bytes) -> bool:
    """Whether an upload is a spreadsheet (an .xlsx, or an old .xls or a password-protected file to refuse)
    rather than a YAML text: decided from the bytes, never from the name."""
    return data.startswith(XLSX_MAGIC)


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its key in the document, its header, and how its cells read and write.

    `kind`: text (one line), long (several lines), code, number, whole, yesno, or choice (`choices` maps
    each code to the label the drop-down offers; the code itself is accepted too).
    """

    key: str
    header: str
    kind: str = "text"
    width: int = 16
    choices: Mapping[str, str] | None = None
    note: str = ""
    required: bool = True  # a sheet without this column is refused


# ---------------------------------------------------------------- writing


def new_workbook() -> Workbook:
    workbook = Workbook()
    workbook.remove(workbook.active)
    return workbook


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _set_value(cell: Any, value: object) -> None:
    """A value as a typed cell: text stays text (never a formula, even "=…"), numbers stay numbers."""
    if value is None or value == "":
        return
    if isinstance(value, bool):
        value = YES if value else NO
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)[:32767]
        cell.data_type = "s"
        if spreadsheet_exports.looks_like_formula(value):
            cell.quotePrefix = True
        return
    cell.value = value


def add_guide(workbook: Workbook, title: str, lines: Iterable[str]) -> None:
    """The guide sheet: one paragraph a row; a line starting with "# " is a heading."""
    sheet = workbook.create_sheet(title)
    sheet.column_dimensions["A"].width = 120
    for number, line in enumerate(lines, start=1):
        cell = sheet.cell(row=number, column=1)
        heading = line.startswith("# ")
        _set_value(cell, line[2:] if heading else line)
        cell.alignment = _WRAP
        if heading:
            cell.font = Font(bold=True, size=13 if number == 1 else 11)


def add_fields(workbook: Workbook, title: str, fields: Sequence[tuple[Column, object]]) -> None:
    """A sheet of single values: the label in column A, the value in column B, a hint in column C."""
    sheet = workbook.create_sheet(title)
    for letter, width in (("A", 28), ("B", 70), ("C", 60)):
        sheet.column_dimensions[letter].width = width
    for number, (column, value) in enumerate(fields, start=1):
        label = sheet.cell(row=number, column=1, value=column.header)
        label.font = _HEADER_FONT
        label.fill = _HEADER_FILL
        cell = sheet.cell(row=number, column=2)
        _set_value(cell, _written(column, value))
        cell.alignment = _WRAP
        if column.note:
            sheet.cell(row=number, column=3, value=column.note).alignment = _WRAP
        _validate(sheet, column, f"B{number}")


def add_table(workbook: Workbook, title: str, columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> None:
    """A table: bold frozen headers in row 1 (a column's note as the header's comment), one row per item,
    and drop-downs on the choice and yes/no columns, also on the empty rows below for what is added."""
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.header)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        if column.note:
            cell.comment = Comment(column.note, "Cổng Chỉ số CCHC", width=300, height=120)
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    last = 1
    for last, values in enumerate(rows, start=2):
        for index, (column, value) in enumerate(zip(columns, values, strict=True), start=1):
            cell = sheet.cell(row=last, column=index)
            _set_value(cell, _written(column, value))
            cell.alignment = _WRAP if column.kind in ("long", "text") else _TOP
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        _validate(sheet, column, f"{letter}2:{letter}{last + VALIDATED_ROWS}")


def _written(column: Column, value: object) -> object:
    if column.kind == "choice" and column.choices and isinstance(value, str):
        return column.choices.get(value, value)
    return value


def _validate(sheet: Worksheet, column: Column, cells: str) -> None:
    if column.kind == "choice" and column.choices:
        offered = list(column.choices.values())
    elif column.kind == "yesno":
        offered = [YES, NO]
    elif column.kind == "mark":
        offered = ["x"]
    else:
        return
    # The list is inline: short labels without commas (checked by the tests), so no helper sheet is needed.
    validation = DataValidation(type="list", formula1='"' + ",".join(offered) + '"', allow_blank=True,
                                showErrorMessage=True, errorTitle="Giá trị không có trong danh sách",
                                error="Hãy chọn một giá trị trong danh sách thả xuống.")
    validation.add(cells)
    sheet.add_data_validation(validation)


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Place:
    """A cell, or a whole row when `column` is empty, as people find it in Excel."""

    sheet: str
    row: int
    column: str = ""
    header: str = ""

    def __str__(self) -> str:
        text = f"trang tính “{self.sheet}”, dòng {self.row}"
        if self.column:
            text += f", cột {self.column}"
            if self.header:
                text += f" “{self.header}”"
        return text


@dataclass
class Locator:
    """Where each part of the document read from a workbook came from, by its path in the document."""

    places: dict[Path, Place] = field(default_factory=dict)

    def __call__(self, path: Sequence[str | int]) -> str | None:
        """The place of the deepest part of `path` that was read (a missing key: its item's row)."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            place = self.places.get(path[:end])
            if place is not None:
                return str(place)
        return None


@dataclass
class Row:
    """One row of a table: its number, the values read by key (empty cells left out), and each value's place."""

    number: int
    values: dict[str, Any]
    places: dict[str, Place]
    place: Place


class WorkbookReader:
    """Reads the sheets of one uploaded workbook, collecting every problem with its cell."""

    def __init__(self, data: bytes, filename: str, *, noun: str, error: type[DocumentError], max_bytes: int):
        self.problems: list[str] = []
        self.error = error
        self.noun = noun
        self.workbook = _open(data, filename, noun=noun, error=error, max_bytes=max_bytes)

    def report(self, place: Place | None, message: str) -> None:
        self.problems.append(f"{str(place)[:1].upper()}{str(place)[1:]}: {message}" if place else message)

    def close(self) -> None:
        self.workbook.close()

    def _sheet(self, title: str) -> Any | None:
        wanted = fold(title)
        return next((self.workbook[name] for name in self.workbook.sheetnames if fold(name) == wanted), None)

    def fields(self, title: str, columns: Sequence[Column]) -> tuple[dict[str, Any], dict[str, Place]]:
        """A sheet of single values (label in column A, value in column B)."""
        sheet = self._sheet(title)
        if sheet is None:
            self.report(None, f"Thiếu trang tính “{title}” của mẫu {self.noun}.")
            return {}, {}
        by_label = {fold(c.header): c for c in columns}
        values: dict[str, Any] = {}
        places: dict[str, Place] = {}
        for number, cells in enumerate(sheet.iter_rows(max_row=50, max_col=2), start=1):
            label = _plain(cells[0].value if cells else None)
            column = by_label.get(fold(label)) if label else None
            if column is None:
                continue
            place = Place(sheet.title, number, "B", column.header)
            places[column.key] = place
            value = self._value(column, cells[1] if len(cells) > 1 else None, place)
            if value is not None:
                values[column.key] = value
        for column in columns:
            if column.required and column.key not in places:
                self.report(Place(sheet.title, 1), f"thiếu dòng “{column.header}” (ở cột A).")
        return values, places

    def table(self, title: str, columns: Sequence[Column], *, extra: str = "") -> tuple[list[Row], list[str]]:
        """A table's rows (blank rows skipped) and the texts of its headers starting with `extra`."""
        sheet = self._sheet(title)
        if sheet is None:
            self.report(None, f"Thiếu trang tính “{title}” của mẫu {self.noun}.")
            return [], []
        rows_iter = sheet.iter_rows()
        header_cells = next(rows_iter, ())
        by_header = {fold(c.header): c for c in columns}
        found: dict[int, Column] = {}
        extras: list[str] = []
        for index, cell in enumerate(header_cells):
            text = _plain(cell.value)
            if not text:
                continue
            letter = get_column_letter(index + 1)
            column = by_header.get(fold(text))
            if column is not None and column not in found.values():
                found[index] = column
            elif extra and fold(text).startswith(fold(extra)):
                found[index] = Column(key=f"{extra}{text.split(':', 1)[-1].strip()}", header=text, kind="mark")
                extras.append(text.split(":", 1)[-1].strip())
            else:
                self.report(Place(sheet.title, 1, letter, text),
                            "cột này không có trong mẫu (có thể tên cột bị sửa); hãy dùng đúng tên cột của mẫu "
                            "hoặc xóa cột.")
        for column in columns:
            if column.required and column not in found.values():
                self.report(Place(sheet.title, 1), f"thiếu cột “{column.header}”.")
        rows: list[Row] = []
        for number, cells in enumerate(rows_iter, start=2):
            if number > MAX_ROWS + 1:
                self.report(Place(sheet.title, number), f"trang tính có quá {MAX_ROWS} dòng; đây không phải "
                                                        f"bảng tính {self.noun}.")
                break
            values: dict[str, Any] = {}
            places: dict[str, Place] = {}
            for index, cell in enumerate(cells):
                column = found.get(index)
                if column is None:
                    if _plain(getattr(cell, "value", None)):
                        self.report(Place(sheet.title, number, get_column_letter(index + 1)),
                                    "ô có nội dung nhưng cột không có tên trong mẫu; hãy xóa hoặc chuyển nội "
                                    "dung vào đúng cột.")
                    continue
                place = Place(sheet.title, number, get_column_letter(index + 1), column.header)
                places[column.key] = place
                value = self._value(column, cell, place)
                if value is not None:
                    values[column.key] = value
            if values:
                rows.append(Row(number, values, places, Place(sheet.title, number)))
        return rows, extras

    def _value(self, column: Column, cell: Any, place: Place) -> Any:
        """A cell's value as the YAML file would hold it; None for an empty cell or one reported here."""
        value = getattr(cell, "value", None)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if getattr(cell, "data_type", None) == "f":
            # Never evaluated: a set of forms is typed, not computed.
            self.report(place, f"ô có công thức “{clean(str(value))[:60]}”; hãy nhập giá trị trực tiếp (có thể "
                               "sao chép rồi Dán đặc biệt › Giá trị).")
            return None
        if isinstance(value, dt.datetime | dt.date | dt.time):
            self.report(place, "ô đang ở dạng ngày giờ; hãy định dạng ô là Văn bản (Text) rồi nhập lại.")
            return None
        kind = column.kind
        if kind in ("text", "long", "code"):
            # As typed (NFC, as a YAML file's text is): the document's own checks clean what they clean.
            return unicodedata.normalize("NFC", value) if isinstance(value, str) else _plain(value)
        if kind in ("number", "whole"):
            number = _number(value)
            if number is None:
                return _plain(value)  # the document's checks say it must be a number
            if kind == "whole" and isinstance(number, float) and number.is_integer():
                return int(number)
            return number
        if kind in ("yesno", "mark"):
            if isinstance(value, bool):
                return value
            word = fold(_plain(value)).replace(" ", "")
            if word in _YES_WORDS:
                return True
            if word in _NO_WORDS:
                return False
            self.report(place, f"phải là “{YES}” hoặc “{NO}”" + (" (hoặc “x”)" if kind == "mark" else "")
                        + f", không phải “{_plain(value)[:40]}”.")
            return None
        if kind == "choice" and column.choices:
            text = _plain(value)
            for code, label in column.choices.items():
                if fold(text) in (fold(code), fold(label)):
                    return code
            return text
        return value


def _open(data: bytes, filename: str, *, noun: str, error: type[DocumentError], max_bytes: int) -> Any:
    """The workbook, after every guard list uploads pass; DocumentError in Vietnamese otherwise."""
    name = f"“{filename}”" if filename else "tải lên"
    if len(data) > max_bytes:
        raise error(f"Tệp {name} quá lớn ({math.ceil(len(data) / 1024)} KB); bảng tính {noun} tối đa "
                    f"{max_bytes // (1024 * 1024)} MB.")
    try:
        spreadsheets.check_workbook_package(data, max_unpacked_bytes=MAX_UNPACKED_BYTES)
    except spreadsheets.SpreadsheetError as problem:
        raise error(f"Tệp {name}: {_for_documents(problem, noun)}") from None
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds for damage the package checks cannot see
        raise error(f"Tệp {name}: tệp bảng tính bị hỏng nên không đọc được. Hãy mở tệp bằng Excel, lưu lại rồi "
                    "nhập lần nữa.") from None


def _for_documents(problem: spreadsheets.SpreadsheetError, noun: str) -> str:
    """The list upload's message, with its advice about lists turned to this document."""
    if problem.code == "not_spreadsheet" and "danh sách" in problem.message:
        head = problem.message.split(". Hãy", 1)[0]
        return f"{head}. Hãy nhập bảng tính mẫu {noun} (.xlsx) của Cổng hoặc tệp YAML."
    if problem.code == "zip_bomb":
        return problem.message.replace("sao chép danh sách", f"sao chép nội dung {noun}")
    if problem.code == "sheet_too_large":
        head = problem.message.split(", vượt xa", 1)[0]
        return (f"{head}, vượt xa vùng của một {noun}. Hãy xóa các ô thừa (hoặc sao chép nội dung sang một tệp mới) "
                "rồi nhập lại.")
    return problem.message


def _plain(value: object) -> str:
    """A cell as one line of text: numbers as typed (no ".0"), text cleaned."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return spreadsheets._number_text(value)
    return clean(str(value))


def _number(value: object) -> int | float | None:
    """A number cell, or text holding one ("2,5" with the Vietnamese decimal comma, "2.5", "10")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    text = clean(str(value)).replace(" ", "").replace(",", ".")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
