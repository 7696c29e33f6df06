"""Reading the respondent-list spreadsheets that provinces upload (writing: spreadsheet_exports.py).

Each province officer uploads the list of people to survey, usually as the .xlsx
template spreadsheet_template.py builds, sometimes as a CSV saved by Excel on Vietnamese
Windows. The reader is forgiving about what people do to a list (title rows,
columns in another order, headers typed without diacritics, numbers turned into
floats) and strict about what can hurt the server (zip bombs, huge sparse
sheets, files that are not spreadsheets at all: workbook_guards.py checks a file
before any reader sees it). Every file-level problem is a `SpreadsheetError` whose
message an officer can act on; row-level checks belong to the validator, not here.

Pure module: no Flask, no database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING

from portal.domain.text import clean, fold
from portal.domain.workbook_guards import (
    BOMS,
    CFB_MAGIC,
    DEFAULT_MAX_UNPACKED_BYTES,
    SpreadsheetError,
    check_package,
    container_error,
    corrupt,
    encrypted,
    megabytes,
    not_spreadsheet,
    refuse_known_binary,
    thousands,
)

if TYPE_CHECKING:
    import python_calamine

# openpyxl (6 MB resident) and python-calamine are imported by the functions that read a workbook, not with this
# module: every web process imports it, few of its requests touch a spreadsheet.

COLUMNS: tuple[tuple[str, str], ...] = (
    ("stt", "STT"),
    ("full_name", "Họ và tên"),
    ("position", "Chức vụ"),
    ("group", "Nhóm đối tượng"),
    ("unit", "Cơ quan/đơn vị"),
    ("email", "Email công vụ"),
    ("phone", "Số điện thoại"),
    ("note", "Ghi chú"),
)
HEADERS: dict[str, str] = dict(COLUMNS)

DEFAULT_MAX_ROWS = 20_000
DEFAULT_MAX_BYTES = 5 * 1024 * 1024

# The header may sit below a title ("DANH SÁCH ĐỐI TƯỢNG KHẢO SÁT ...").
HEADER_SCAN_ROWS = 20
REQUIRED_KEYS = ("full_name", "email")
# Rows of the template's list sheet that carry the drop-downs and text formats.
TEMPLATE_ROWS = 3000

LIST_SHEET = "Danh sách"
GUIDE_SHEET = "Hướng dẫn"
CHOICES_SHEET = "Danh mục"

# Header texts people write, per canonical column. Matching folds case and
# diacritics and drops punctuation and parenthesised notes ("Email (*)"); a
# header that starts with one of these, word for word, also matches
# ("Họ và tên người được khảo sát"), but an exact match wins over a prefix one.
_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "stt": ("STT", "TT", "Số TT", "Số thứ tự", "Thứ tự"),
    "full_name": ("Họ và tên", "Họ tên", "Họ và tên người được khảo sát", "Full name"),
    "position": ("Chức vụ", "Chức danh", "Chức vụ, chức danh", "Chức danh, chức vụ"),
    "group": ("Nhóm đối tượng", "Nhóm", "Đối tượng", "Nhóm đối tượng khảo sát", "Nhóm khảo sát"),
    "unit": (
        "Cơ quan/đơn vị", "Cơ quan", "Đơn vị", "Cơ quan, đơn vị", "Đơn vị công tác", "Cơ quan công tác",
        "Nơi công tác", "Tên cơ quan", "Tên đơn vị", "Tên cơ quan, đơn vị", "Cơ quan, đơn vị công tác",
    ),
    "email": (
        "Email công vụ", "Email", "E-mail", "Mail", "Thư điện tử", "Địa chỉ email", "Địa chỉ e-mail",
        "Địa chỉ thư điện tử", "Hộp thư công vụ", "Hộp thư điện tử", "Thư công vụ",
    ),
    "phone": (
        "Số điện thoại", "Điện thoại", "SĐT", "Số ĐT", "ĐT", "Di động", "Số di động", "Điện thoại di động",
        "ĐTDĐ", "Số ĐTDĐ", "Phone",
    ),
    "note": ("Ghi chú",),
}

_PARENTHESISED = re.compile(r"\([^)]*\)")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_COLUMN_NUMBER = re.compile(r"^[(\[]?\d{1,2}[)\]]?$")


def _header_words(value: object) -> str:
    """Fold a header cell to plain words: "Email công vụ (*)" → "email cong vu"."""
    text = _PARENTHESISED.sub(" ", fold(value))
    return _NOT_WORD.sub(" ", text).strip()


_ALIASES: dict[str, str] = {
    _header_words(alias): key for key, aliases in _HEADER_ALIASES.items() for alias in aliases
}
# Longest first, so "Tên cơ quan ..." is tried before anything shorter.
_ALIASES_LONGEST_FIRST = sorted(_ALIASES.items(), key=lambda item: -len(item[0]))


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One respondent row: `number` is the row number the officer sees in Excel
    (for a CSV, the record's position in the file, which is its line number
    unless a quoted cell spans lines); `values` has every canonical key, "" for
    columns the file does not have."""

    number: int
    values: dict[str, str]
    # value key -> formula text, for workbook cells that held a formula (shown, never evaluated)
    formulas: dict[str, str] = field(default_factory=dict)


@dataclass
class SheetReadResult:
    """What `read_respondent_file` found in an upload."""

    rows: list[SheetRow]
    example_rows_skipped: int
    blank_rows_skipped: int
    ignored_columns: list[str]
    sheet_name: str | None
    columns: list[str] = field(default_factory=list)  # recognised keys, in the file's order
    header_row: int = 0  # number of the (last) header row, as the officer sees it


# --------------------------------------------------------------------------- reading


def read_respondent_file(
    data: bytes,
    filename: str,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
) -> SheetReadResult:
    """Read a whole respondent list from an .xlsx or .csv upload (see `stream_respondent_file`, which
    reads it row by row: the import uses that one, so a long list is never held whole)."""
    stream = stream_respondent_file(data, filename, max_rows=max_rows, max_bytes=max_bytes,
                                    max_unpacked_bytes=max_unpacked_bytes)
    rows = list(stream.rows())
    return SheetReadResult(
        rows=rows,
        example_rows_skipped=stream.example_rows_skipped,
        blank_rows_skipped=stream.blank_rows_skipped,
        ignored_columns=stream.ignored_columns,
        sheet_name=stream.sheet_name,
        columns=stream.columns,
        header_row=stream.header_row,
    )


def stream_respondent_file(
    data: bytes,
    filename: str,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
) -> SheetStream:
    """Open a respondent list from an .xlsx or .csv upload, to be read row by row with `SheetStream.rows()`.

    The file-level checks below (size, kind, zip, header) are made here; the row limit and the "no data
    rows" refusal are raised while the rows are read, as `SpreadsheetError` too.

    The format is recognised from the content; `filename` only sharpens the
    messages. Old .xls (Excel 97–2003) files are refused with a request to save
    them as .xlsx: the reader for that format allocates the whole sheet grid
    up front, so a 5 KB .xls can take a gigabyte, and the container cannot be
    checked cheaply first as a zip can.

    The header row is the row, among the first 20 of a sheet, with the most
    recognised column names; it must have "Họ và tên" and "Email công vụ" (in
    any spelling `_HEADER_ALIASES` knows). A header split over two rows (merged
    cells) is understood, and a row of column numbers ("(1)", "(2)", …) right
    under it is treated as part of it. In a workbook, the sheet with the best
    header is read (the template puts its instructions first).

    Rows below the header are skipped when they are:
    - blank: every recognised column other than STT is empty (pre-numbered
      empty rows and text in unrecognised columns do not make a row);
    - examples: the STT cell, folded (no case, diacritics, spaces or
      punctuation), starts with "vidu" or "vd", so "Ví dụ", "VD", "vd 2" and
      "Ví dụ:" all mark an example.

    Every value is text passed through `clean()`: whole numbers lose the ".0"
    calamine gives them, dates read dd/mm/yyyy, formulas are never evaluated
    (a workbook's stored result is used, the formula text when there is none, and
    `SheetRow.formulas` names each formula cell so the officer is told) and CSV text
    such as "=HYPERLINK(...)" or "<script>" stays as typed.

    Raises `SpreadsheetError` for any file-level problem, including a file
    without data rows and one with more than `max_rows` of them.
    """
    if not data:
        raise SpreadsheetError(
            "empty", "Tệp tải lên trống (0 byte). Hãy kiểm tra lại tệp danh sách rồi tải lên lần nữa."
        )
    if len(data) > max_bytes:
        raise SpreadsheetError(
            "too_large",
            f"Tệp quá lớn ({megabytes(len(data), round_up=True)} MB). Dung lượng tối đa cho phép là "
            f"{megabytes(max_bytes)} MB. Hãy xóa các trang tính, hình ảnh không cần thiết hoặc chia danh "
            "sách thành nhiều tệp.",
        )
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _open_workbook(data, max_rows=max_rows, max_unpacked_bytes=max_unpacked_bytes)
    if data.startswith(CFB_MAGIC):
        raise container_error(data)
    refuse_known_binary(data, filename)
    return _open_csv(data, max_rows=max_rows)


# ----------------------------------------------------------------------- workbooks


def _open_workbook(data: bytes, *, max_rows: int, max_unpacked_bytes: int) -> SheetStream:
    import python_calamine

    has_formulas = check_package(data, max_unpacked_bytes)
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError:
        raise encrypted() from None
    except Exception:  # calamine reports broken files with many exception types
        raise corrupt() from None

    best: tuple[tuple[int, ...], python_calamine.CalamineSheet, _Header, str] | None = None
    best_incomplete: _Header | None = None
    for index, meta in enumerate(workbook.sheets_metadata):
        if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
            continue
        try:
            sheet = workbook.get_sheet_by_index(index)
            head = sheet.to_python(skip_empty_area=False, nrows=HEADER_SCAN_ROWS)
        except Exception:
            raise corrupt() from None
        header = _find_header([[_cell_text(value) for value in row] for row in head])
        if header is None:
            continue
        if not header.complete:
            if best_incomplete is None or header.score > best_incomplete.score:
                best_incomplete = header
            continue
        visible = meta.visible == python_calamine.SheetVisibleEnum.Visible
        rank = (header.score, int(visible), -index)
        if best is None or rank > best[0]:
            best = (rank, sheet, header, meta.name)
    if best is None:
        raise _no_header_error(best_incomplete)
    _, sheet, header, sheet_name = best
    formulas = _formula_texts(data, sheet_name) if has_formulas else {}

    def records() -> Iterator[Sequence[object]]:
        try:
            yield from _sheet_rows(sheet)
        except Exception:
            raise corrupt() from None

    return SheetStream(records, header, max_rows=max_rows, sheet_name=sheet_name, formulas=formulas)


def _sheet_rows(sheet: python_calamine.CalamineSheet) -> Iterator[list[object]]:
    """The sheet's rows one at a time, from row 1 and column A, as `to_python(skip_empty_area=False)` gives
    them all at once: a 20,000-row list is never held as Python objects in whole.

    calamine's row iterator starts at row 1 but at the first column with content, so rows are padded
    on the left. The first rows are compared with `to_python`'s; should a calamine version iterate
    otherwise, the whole-sheet reading is used instead.
    """
    offset = sheet.start[1] if sheet.start else 0
    rows = (([""] * offset + list(row)) if offset else row for row in sheet.iter_rows())
    head = sheet.to_python(skip_empty_area=False, nrows=HEADER_SCAN_ROWS)
    first = list(islice(rows, len(head)))
    if [list(row) for row in first] != [list(row) for row in head]:
        yield from sheet.to_python(skip_empty_area=False)
        return
    yield from first
    yield from rows


def _formula_texts(data: bytes, sheet_name: str) -> dict[tuple[int, int], str]:
    """The formula text of each formula cell of one sheet, by (row number, 0-based column).

    calamine gives only a formula's stored result ("" when the file has none), so the text
    comes from openpyxl, which reads it without evaluating anything. The package has been
    checked by `check_package` already.
    """
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        try:
            sheet = workbook[sheet_name]
            found = {}
            for row in sheet.iter_rows():
                for cell in row:
                    if getattr(cell, "data_type", None) == "f" and isinstance(cell.value, str):
                        found[(cell.row, cell.column - 1)] = clean(cell.value)
            return found
        finally:
            workbook.close()
    except Exception:  # an odd formula must not cost the officer the whole file: fall back to results only
        return {}


# ---------------------------------------------------------------------------- CSV

_DELIMITERS = (",", ";", "\t")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _encoding_error() -> SpreadsheetError:
    return SpreadsheetError(
        "encoding",
        "Không nhận dạng được bảng mã chữ (encoding) của tệp CSV. Hãy mở tệp bằng Excel và lưu lại dưới "
        "dạng “CSV UTF-8 (Comma delimited)” hoặc “Excel Workbook (*.xlsx)” rồi tải lên lại.",
    )


def _decode(data: bytes) -> str:
    """Decode CSV bytes: a BOM decides; then UTF-16 without BOM if the bytes
    look like it; then strict UTF-8; then Windows-1258, the code page of
    Excel's CSV on Vietnamese Windows."""
    for bom, codec in BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec)
            except UnicodeDecodeError:
                raise _encoding_error() from None
    if b"\x00" in data[:4096]:
        sample = data[:4096]
        odd_zeros = sample[1::2].count(0)
        even_zeros = sample[0::2].count(0)
        half = len(sample) // 2 or 1
        codec = None
        if odd_zeros > half * 0.3 and even_zeros < half * 0.05:
            codec = "utf-16-le"
        elif even_zeros > half * 0.3 and odd_zeros < half * 0.05:
            codec = "utf-16-be"
        if codec is None:
            raise not_spreadsheet()
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            raise _encoding_error() from None
    for codec in ("utf-8", "cp1258"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise _encoding_error()


def _open_csv(data: bytes, *, max_rows: int) -> SheetStream:
    text = _decode(data)
    sample = text[:20000]
    if len(_CONTROL_CHARACTERS.findall(sample)) > max(2, len(sample) // 200):
        raise not_spreadsheet()
    if not clean(text):
        raise SpreadsheetError("empty", "Tệp tải lên không có nội dung. Hãy kiểm tra lại tệp danh sách.")

    best: tuple[tuple[int, ...], str, _Header] | None = None
    for delimiter in _DELIMITERS:
        head = _first_records(text, delimiter)
        header = _find_header([[clean(cell) for cell in record] for record in head])
        if header is None:
            continue
        width = len(head[header.last_row])
        rank = (int(header.complete), header.score, width)
        if best is None or rank > best[0]:
            best = (rank, delimiter, header)
    if best is None or not best[2].complete:
        raise _no_header_error(best[2] if best else None)
    _, delimiter, header = best
    return SheetStream(lambda: _csv_records(text, delimiter), header, max_rows=max_rows, sheet_name=None)


def _first_records(text: str, delimiter: str) -> list[list[str]]:
    """The records a header could be in; a format error further on is
    reported when the rows are read, not while guessing the separator."""
    records: list[list[str]] = []
    try:
        records.extend(islice(_csv_records(text, delimiter), HEADER_SCAN_ROWS))
    except SpreadsheetError:
        pass
    return records


def _csv_records(text: str, delimiter: str) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from reader
    except csv.Error:
        raise SpreadsheetError(
            "csv_format",
            f"Tệp CSV bị lỗi định dạng ở khoảng dòng {reader.line_num} (có thể thiếu dấu ngoặc kép đóng). "
            "Hãy mở tệp bằng Excel, kiểm tra rồi lưu lại.",
        ) from None


# ------------------------------------------------------------------ header and rows


@dataclass
class _Header:
    last_row: int  # 0-based index of the (last) header row
    columns: dict[int, str]  # column position → canonical key
    ignored: list[str]

    @property
    def score(self) -> int:
        return len(self.columns)

    @property
    def complete(self) -> bool:
        found = set(self.columns.values())
        return all(key in found for key in REQUIRED_KEYS)


def _match_header(label: str) -> tuple[str, int] | None:
    """Return (canonical key, strength) for a header cell: 2 exact, 1 prefix."""
    words = _header_words(label)
    if not words:
        return None
    if words in _ALIASES:
        return _ALIASES[words], 2
    for alias, key in _ALIASES_LONGEST_FIRST:
        if words.startswith(alias + " "):
            return key, 1
    return None


def _assign_columns(labels: Sequence[str], last_row: int) -> _Header:
    chosen: dict[str, tuple[int, int]] = {}  # key → (column, strength)
    for column, label in enumerate(labels):
        match = _match_header(label)
        if match is None:
            continue
        key, strength = match
        if key not in chosen or strength > chosen[key][1]:
            chosen[key] = (column, strength)
    columns = {column: key for key, (column, _) in chosen.items()}
    ignored = [clean(label) for column, label in enumerate(labels) if column not in columns and clean(label)]
    return _Header(last_row=last_row, columns=dict(sorted(columns.items())), ignored=ignored)


def _find_header(head: list[list[str]]) -> _Header | None:
    """Pick the header among the first rows: most recognised columns, needing
    name and email; a header split over two rows is tried when one row alone
    lacks them. Returns the best candidate, complete or not, or None."""
    best: tuple[tuple[int, ...], _Header] | None = None
    for index, labels in enumerate(head[:HEADER_SCAN_ROWS]):
        candidates = [(_assign_columns(labels, index), 1)]
        if not candidates[0][0].complete and index + 1 < len(head):
            lower = head[index + 1]
            combined = []
            for column in range(max(len(labels), len(lower))):
                upper_label = labels[column] if column < len(labels) else ""
                lower_label = lower[column] if column < len(lower) else ""
                if _match_header(lower_label):
                    combined.append(lower_label)
                elif _match_header(upper_label):
                    combined.append(upper_label)
                else:
                    combined.append(lower_label or upper_label)
            candidates.append((_assign_columns(combined, index + 1), 2))
        for header, height in candidates:
            if header.score == 0:
                continue
            rank = (int(header.complete), header.score, -header.last_row, -height)
            if best is None or rank > best[0]:
                best = (rank, header)
    return best[1] if best else None


def _no_header_error(header: _Header | None) -> SpreadsheetError:
    expected = ", ".join(f"“{name}”" for _, name in COLUMNS)
    required = " và ".join(f"“{HEADERS[key]}”" for key in REQUIRED_KEYS)
    if header is not None and header.score >= 2:
        found = set(header.columns.values())
        missing = " và ".join(f"“{HEADERS[key]}”" for key in REQUIRED_KEYS if key not in found)
        opening = f"Dòng tiêu đề (dòng {header.last_row + 1}) thiếu cột {missing}."
    else:
        opening = f"Không tìm thấy dòng tiêu đề của danh sách trong {HEADER_SCAN_ROWS} dòng đầu của tệp."
    return SpreadsheetError(
        "no_header",
        f"{opening} Dòng tiêu đề phải có ít nhất các cột {required}; các cột được nhận diện là {expected}. "
        "Nên dùng tệp mẫu tải từ Cổng.",
    )


def _is_example(stt: str) -> bool:
    if not stt or stt.isdigit():
        return False
    marker = _NOT_WORD.sub("", fold(stt))
    return marker.startswith(("vidu", "vd"))


def _is_column_numbering(values: Iterable[str]) -> bool:
    filled = [value for value in values if value]
    return len(filled) >= 3 and all(_COLUMN_NUMBER.match(value) for value in filled)


_REPEATING_KEYS = frozenset({"position", "group", "unit", "note"})
# The distinct values kept for sharing: a list's groups and units are a few hundred, its titles a few thousand;
# a file whose titles are all different (numbered divisions) would otherwise keep one of each to the end.
_SHARED_VALUES = 4096


class SheetStream:
    """A respondent list opened by `stream_respondent_file`, read one row at a time.

    `rows()` yields the data rows (header, column numbering, blank and example rows skipped, counted in
    `blank_rows_skipped` and `example_rows_skipped` as it goes) and raises `SpreadsheetError` past
    `max_rows` rows or, at the end, when there was none. `rows_numbered()` reads the file again for a
    few rows only (the import's second look at the rows that share a name or a mailbox).
    """

    def __init__(self, records: Callable[[], Iterator[Sequence[object]]], header: _Header, *, max_rows: int,
                 sheet_name: str | None, formulas: dict[tuple[int, int], str] | None = None) -> None:
        self._records = records
        self._header = header
        self._positions = list(header.columns.items())
        self._formulas = formulas or {}
        self.max_rows = max_rows
        self.sheet_name = sheet_name
        self.example_rows_skipped = 0
        self.blank_rows_skipped = 0

    @property
    def ignored_columns(self) -> list[str]:
        return self._header.ignored

    @property
    def columns(self) -> list[str]:
        """The recognised keys, in the file's order."""
        return [key for _, key in self._positions]

    @property
    def header_row(self) -> int:
        """The number of the (last) header row, as the officer sees it."""
        return self._header.last_row + 1

    def _row(self, number: int, record: Sequence[object], shared: dict[str, str]) -> SheetRow:
        width = len(record)
        values = dict.fromkeys(_KEYS, "")
        row_formulas = {}
        formulas = self._formulas
        for column, key in self._positions:
            if column < width:
                text = _cell_text(record[column])
                if key in _REPEATING_KEYS:
                    text = shared.setdefault(text, text) if len(shared) < _SHARED_VALUES else shared.get(text, text)
                values[key] = text
            formula = formulas.get((number, column)) if formulas else None
            if formula and key != "stt":
                row_formulas[key] = formula
                # What the cell says: its stored result, or the formula itself when it has none.
                values[key] = values[key] or formula
        return SheetRow(number=number, values=values, formulas=row_formulas)

    def rows(self) -> Iterator[SheetRow]:
        """The data rows, in the file's order."""
        first_data_row = self._header.last_row + 1
        # A list repeats its titles, groups and units thousands of times: one string kept for each such value.
        shared: dict[str, str] = {}
        count = 0
        for number, record in enumerate(self._records(), start=1):
            if number <= first_data_row:
                continue
            row = self._row(number, record, shared)
            values = row.values
            if number == first_data_row + 1 and _is_column_numbering(values.values()):
                continue
            if not any(value for key, value in values.items() if key != "stt"):
                self.blank_rows_skipped += 1
                continue
            if _is_example(values["stt"]):
                self.example_rows_skipped += 1
                continue
            if count >= self.max_rows:
                raise SpreadsheetError(
                    "too_many_rows",
                    "Tệp có quá nhiều dòng dữ liệu: mỗi lần tải lên chỉ nhận tối đa "
                    f"{thousands(self.max_rows)} dòng, và mỗi lần tải lên thay cả danh sách. Hãy xóa các dòng "
                    "thừa (dòng trống còn định dạng, dữ liệu dán nhầm) rồi tải lên lại; nếu danh sách của tỉnh "
                    "thật sự dài hơn, hãy liên hệ Bộ Nội vụ.",
                )
            count += 1
            yield row
        if not count:
            raise SpreadsheetError(
                "no_data",
                "Tệp không có dòng dữ liệu nào: dưới dòng tiêu đề "
                f"(dòng {first_data_row}) chỉ có dòng trống hoặc dòng ví dụ. Hãy nhập danh sách đối tượng "
                "khảo sát, mỗi người một dòng, rồi tải lên lại.",
            )

    def rows_numbered(self, numbers: Collection[int]) -> Iterator[SheetRow]:
        """The rows numbered `numbers` (as `rows()` gave them), read again, in the file's order; the other
        rows' cells are not even turned into text."""
        first_data_row = self._header.last_row + 1
        for number, record in enumerate(self._records(), start=1):
            if number > first_data_row and number in numbers:
                yield self._row(number, record, {})


_KEYS = tuple(key for key, _ in COLUMNS)


def _cell_text(value: object) -> str:
    """Turn a cell as calamine or csv gives it into the text the officer typed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.strftime("%d/%m/%Y")
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M" if value.second == 0 else "%H:%M:%S")
    return clean(value)


def _number_text(value: float) -> str:
    """912345678.0 → "912345678", 3.5 → "3.5", never "9.12e+08"."""
    if math.isnan(value) or math.isinf(value):
        return ""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = f"{value:.15g}"  # Excel shows 15 significant digits
    if "e" in text:
        text = format(Decimal(text), "f")
    return text
