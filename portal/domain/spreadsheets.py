"""Reading the respondent-list spreadsheets that provinces upload (writing: spreadsheet_exports.py).

Each province officer uploads the list of people to survey, usually as the .xlsx
template spreadsheet_template.py builds, sometimes as a CSV saved by Excel on Vietnamese
Windows. The reader is forgiving about what people do to a list (title rows,
columns in another order, headers typed without diacritics, numbers turned into
floats) and strict about what can hurt the server (zip bombs, huge sparse
sheets, files that are not spreadsheets at all). Every file-level problem is a
`SpreadsheetError` whose message an officer can act on; row-level checks belong
to the validator, not here.

Pure module: no Flask, no database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING

from portal.domain.text import clean, fold

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
DEFAULT_MAX_UNPACKED_BYTES = 100 * 1024 * 1024

# The header may sit below a title ("DANH SÁCH ĐỐI TƯỢNG KHẢO SÁT ...").
HEADER_SCAN_ROWS = 20
REQUIRED_KEYS = ("full_name", "email")
# Rows of the template's list sheet that carry the drop-downs and text formats.
TEMPLATE_ROWS = 3000

LIST_SHEET = "Danh sách"
GUIDE_SHEET = "Hướng dẫn"
CHOICES_SHEET = "Danh mục"

_MIB = 1024 * 1024

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


class SpreadsheetError(Exception):
    """A file-level problem with an uploaded list, explained for the officer.

    `message` is Vietnamese, for a non-technical reader; `code` is a short
    stable name for code and tests ("empty", "too_large", "not_spreadsheet",
    "xls", "encrypted", "corrupt", "zip_bomb", "sheet_too_large", "encoding",
    "csv_format", "no_header", "no_data", "too_many_rows").
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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
            f"Tệp quá lớn ({_megabytes(len(data), round_up=True)} MB). Dung lượng tối đa cho phép là "
            f"{_megabytes(max_bytes)} MB. Hãy xóa các trang tính, hình ảnh không cần thiết hoặc chia danh "
            "sách thành nhiều tệp.",
        )
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _open_workbook(data, max_rows=max_rows, max_unpacked_bytes=max_unpacked_bytes)
    if data.startswith(_CFB_MAGIC):
        raise _container_error(data)
    _refuse_known_binary(data, filename)
    return _open_csv(data, max_rows=max_rows)


def check_workbook_package(data: bytes, *, max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES) -> bool:
    """The guards a list upload's workbook passes, for other readers of uploaded workbooks (the questionnaire
    and framework templates): old .xls and password-protected files, files that are not workbooks, damage,
    zip bombs and huge sparse sheets raise `SpreadsheetError`. Returns whether any worksheet holds a formula.
    """
    if data.startswith(_CFB_MAGIC):
        raise _container_error(data)
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        _refuse_known_binary(data, "")
        raise _not_spreadsheet()
    return _check_package(data, max_unpacked_bytes)


def _megabytes(size: int, *, round_up: bool = False) -> str:
    """Size in MB the Vietnamese way: 5 → "5", 0.5 → "0,5"; an upload's own
    size is rounded up to a tenth so it never reads as equal to the limit."""
    value = size / _MIB
    if round_up:
        value = math.ceil(value * 10) / 10
    return f"{value:g}".replace(".", ",")


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", ".")


# ----------------------------------------------------------------- content sniffing

_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SAVE_AS_XLSX = (
    "Hãy mở tệp bằng Excel, chọn Lưu thành (Save As) kiểu “Excel Workbook (*.xlsx)” rồi tải lên lại."
)
_NOT_SPREADSHEET = "Tệp không phải bảng tính Excel (.xlsx) hoặc CSV"
_BINARY_KINDS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "tệp PDF"),
    (b"\x89PNG", "tệp hình ảnh"),
    (b"\xff\xd8\xff", "tệp hình ảnh"),
    (b"GIF87a", "tệp hình ảnh"),
    (b"GIF89a", "tệp hình ảnh"),
    (b"II*\x00", "tệp hình ảnh"),
    (b"MM\x00*", "tệp hình ảnh"),
    (b"RIFF", "tệp hình ảnh hoặc âm thanh"),
    (b"{\\rtf", "văn bản Word (RTF)"),
    (b"Rar!", "tệp nén RAR"),
    (b"7z\xbc\xaf", "tệp nén 7z"),
    (b"\x1f\x8b", "tệp nén"),
)
_MARKUP_STARTS = ("<!doctype", "<html", "<head", "<body", "<table", "<meta", "<?xml", "<xml")


def _not_spreadsheet(what: str | None = None) -> SpreadsheetError:
    detail = f" (đây là {what})" if what else ""
    return SpreadsheetError(
        "not_spreadsheet",
        f"{_NOT_SPREADSHEET}{detail}. Hãy tải lên tệp danh sách theo mẫu của Cổng (.xlsx) hoặc tệp .csv.",
    )


def _refuse_known_binary(data: bytes, filename: str) -> None:
    """Refuse PDFs, images, web pages and other files dressed up as lists."""
    for magic, what in _BINARY_KINDS:
        if data.startswith(magic):
            raise _not_spreadsheet(what)
    head = data[:2048]
    for bom, codec in _BOMS:
        if head.startswith(bom):
            head_text = head[len(bom):].decode(codec, errors="ignore")
            break
    else:
        head_text = head.decode("latin-1")
    start = head_text.lstrip().lower()
    if start.startswith(_MARKUP_STARTS):
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        named = f" được đặt đuôi .{extension}" if extension in ("xls", "xlsx", "csv") else ""
        # Many systems export "Excel" files that are really web pages or
        # Excel 2003 XML; Excel opens them, we do not.
        raise SpreadsheetError(
            "not_spreadsheet",
            f"{_NOT_SPREADSHEET}: đây là trang web (HTML/XML){named} dù mở được bằng Excel. {_SAVE_AS_XLSX}",
        )


def _container_error(data: bytes) -> SpreadsheetError:
    """Explain an OLE/CFB container: a password-protected workbook or an old .xls."""
    if "EncryptedPackage".encode("utf-16-le") in data:
        return _encrypted()
    if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data:
        return SpreadsheetError(
            "xls",
            f"Tệp Excel 97–2003 (.xls) chưa được hỗ trợ. {_SAVE_AS_XLSX}",
        )
    return _not_spreadsheet("tệp Office cũ không phải bảng tính, ví dụ văn bản Word .doc")


def _encrypted() -> SpreadsheetError:
    return SpreadsheetError(
        "encrypted",
        "Tệp đang được đặt mật khẩu nên hệ thống không đọc được. Hãy mở tệp bằng Excel, gỡ mật khẩu "
        "(Tệp › Thông tin › Bảo vệ sổ làm việc › Mã hóa bằng mật khẩu, xóa mật khẩu rồi lưu) và tải "
        "lên lại.",
    )


# ----------------------------------------------------------------------- workbooks

_MAX_ZIP_ENTRIES = 2000
# Spreadsheet XML compresses well, but not a hundredfold over megabytes.
_MAX_COMPRESSION_RATIO = 100
_RATIO_CHECK_FROM = _MIB
# calamine builds a dense grid spanning every cell that has content: cap it.
_MAX_SHEET_CELLS = 2_000_000
_INFLATE_CHUNK = 1 << 20


def _corrupt() -> SpreadsheetError:
    return SpreadsheetError(
        "corrupt",
        "Tệp bảng tính bị hỏng hoặc chưa được tải lên hết nên không đọc được. Hãy mở tệp bằng Excel để "
        "kiểm tra, lưu lại rồi tải lên lần nữa.",
    )


def _zip_bomb(max_unpacked_bytes: int) -> SpreadsheetError:
    return SpreadsheetError(
        "zip_bomb",
        "Tệp có cấu trúc nén bất thường (khi giải nén vượt quá "
        f"{_megabytes(max_unpacked_bytes)} MB hoặc có tỷ lệ nén bất thường) nên không thể đọc an toàn. "
        "Hãy sao chép danh sách sang một tệp Excel mới rồi tải lên lại.",
    )


def _open_workbook(data: bytes, *, max_rows: int, max_unpacked_bytes: int) -> SheetStream:
    import python_calamine

    has_formulas = _check_package(data, max_unpacked_bytes)
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError:
        raise _encrypted() from None
    except Exception:  # calamine reports broken files with many exception types
        raise _corrupt() from None

    best: tuple[tuple[int, ...], python_calamine.CalamineSheet, _Header, str] | None = None
    best_incomplete: _Header | None = None
    for index, meta in enumerate(workbook.sheets_metadata):
        if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
            continue
        try:
            sheet = workbook.get_sheet_by_index(index)
            head = sheet.to_python(skip_empty_area=False, nrows=HEADER_SCAN_ROWS)
        except Exception:
            raise _corrupt() from None
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
            raise _corrupt() from None

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
    checked by `_check_package` already.
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


def _check_package(data: bytes, max_unpacked_bytes: int) -> bool:
    """Check a zip before any parser sees it: that it is a workbook, that it is
    whole, and that it cannot blow up in memory.

    Declared sizes and compression ratios are checked first; then every entry
    is inflated here, with a running budget, because a lying header can
    declare a small size for a stream that inflates to gigabytes. Worksheets
    are also scanned for the furthest cell with content (see `_Extent`).
    Returns whether any worksheet holds a formula.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except Exception:  # zipfile raises many kinds (BadZipFile, NotImplementedError, ...) for damage
        raise _corrupt() from None
    names = {entry.filename.lower().lstrip("/") for entry in entries}
    if "xl/workbook.xml" not in names:
        if "xl/workbook.bin" in names:
            raise SpreadsheetError(
                "not_spreadsheet", f"Tệp Excel dạng nhị phân (.xlsb) chưa được hỗ trợ. {_SAVE_AS_XLSX}"
            )
        if "mimetype" in names and "content.xml" in names:
            raise SpreadsheetError(
                "not_spreadsheet",
                "Tệp OpenDocument (.ods) chưa được hỗ trợ. Hãy mở tệp và lưu lại dưới dạng Excel (.xlsx) "
                "rồi tải lên lại.",
            )
        if "word/document.xml" in names:
            raise _not_spreadsheet("văn bản Word")
        if "[content_types].xml" in names:
            raise _not_spreadsheet("tệp Office không phải bảng tính")
        raise _not_spreadsheet("tệp nén ZIP")
    if len(entries) > _MAX_ZIP_ENTRIES:
        raise _zip_bomb(max_unpacked_bytes)
    if sum(entry.file_size for entry in entries) > max_unpacked_bytes:
        raise _zip_bomb(max_unpacked_bytes)
    for entry in entries:
        compressed = max(entry.compress_size, 1)
        if entry.file_size > _RATIO_CHECK_FROM and entry.file_size > compressed * _MAX_COMPRESSION_RATIO:
            raise _zip_bomb(max_unpacked_bytes)

    budget = max_unpacked_bytes
    has_formulas = False
    for entry in entries:
        scan = _SheetScan()
        budget -= _inflate(data, entry, budget, max_unpacked_bytes, scan.feed)
        scan.close()
        if scan.is_sheet:
            _check_extent(*scan.extent)
            has_formulas = has_formulas or scan.has_formulas
    return has_formulas


def _inflate(data: bytes, entry: zipfile.ZipInfo, budget: int, max_unpacked_bytes: int,
             consume: Callable[[bytes], None]) -> int:
    """Inflate one entry from the raw archive a chunk at a time, never past its declared size or the budget,
    handing each chunk to `consume` (the entry is never held whole); returns its size."""
    if entry.flag_bits & 0x1:  # zip-level encryption: not something Excel writes
        raise _corrupt()
    start = entry.header_offset
    local = data[start:start + 30]
    if len(local) < 30 or not local.startswith(b"PK\x03\x04"):
        raise _corrupt()
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    begin = start + 30 + name_length + extra_length
    raw = data[begin:begin + entry.compress_size]
    if len(raw) != entry.compress_size:
        raise _corrupt()
    limit = min(entry.file_size, budget)
    crc = 0
    produced = 0
    if entry.compress_type == zipfile.ZIP_STORED:
        if len(raw) > limit:
            raise _zip_bomb(max_unpacked_bytes)
        for at in range(0, len(raw), _INFLATE_CHUNK):
            chunk = raw[at:at + _INFLATE_CHUNK]
            crc = zlib.crc32(chunk, crc)
            consume(chunk)
        produced = len(raw)
    elif entry.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        pending = raw
        try:
            while not inflater.eof:
                chunk = inflater.decompress(pending, _INFLATE_CHUNK)
                pending = inflater.unconsumed_tail
                produced += len(chunk)
                if produced > limit:
                    raise _zip_bomb(max_unpacked_bytes)
                crc = zlib.crc32(chunk, crc)
                consume(chunk)
                if not chunk and not pending:
                    break  # the stream ended early: truncated
        except zlib.error:
            raise _corrupt() from None
        if not inflater.eof:
            raise _corrupt()
    else:
        raise _corrupt()
    if produced != entry.file_size or crc != entry.CRC:
        raise _corrupt()
    return produced


class _SheetScan:
    """Follows an entry's XML as it is inflated: whether it is a worksheet (has sheetData), whether it holds a
    formula, and the extent of its cells (see `_Extent`). Each chunk is scanned up to its last complete
    tag; the rest waits for the next chunk, so a tag or a word cut between chunks is still found."""

    def __init__(self) -> None:
        self.is_sheet = False
        self.has_formulas = False
        self._carry = b""
        self._state = _Extent()

    @property
    def extent(self) -> tuple[int, int]:
        return self._state.max_row, self._state.max_column

    def feed(self, chunk: bytes) -> None:
        text = self._carry + chunk if self._carry else chunk
        cut = text.rfind(b">") + 1
        self._scan(text, cut)
        # What follows the last ">" cannot end a tag yet; it is scanned again with the next chunk.
        self._carry = text[cut:]

    def close(self) -> None:
        self._scan(self._carry, len(self._carry))
        self._carry = b""

    def _scan(self, text: bytes, end: int) -> None:
        """Scan `text` up to `end` (without copying it)."""
        if not end:
            return
        self.is_sheet = self.is_sheet or text.find(b"sheetData", 0, end) >= 0
        self.has_formulas = self.has_formulas or _FORMULA_TAG.search(text, 0, end) is not None
        self._state.follow(text, end)


# A formula's start tag, <f> or <f ...>: one pass over a chunk rather than a search for each form.
_FORMULA_TAG = re.compile(rb"<f[ >]")
# A <row> or <c> start tag, with its r="B12" attribute when it has one.
_CELL_OR_ROW_TAG = re.compile(
    rb"""<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])"""
    rb"""(?:[^>]*?\sr\s*=\s*["']([A-Za-z]{0,3})(\d{0,9})["'][^>]*>|[^>]*>)"""
)


class _Extent:
    """The rows and columns spanned by the cells of a worksheet's XML, followed across chunks.

    Follows the positions a reader gives cells: the `r` attribute when there
    is one, otherwise the next row or the next column. Empty cells count too,
    which errs on the safe side.
    """

    def __init__(self) -> None:
        self.row = self.column = self.max_row = self.max_column = 0
        self._letters: dict[bytes, int] = {}
        self._row_digits = b""

    def follow(self, xml: bytes, end: int) -> None:
        """Follow the cells of `xml` up to `end`."""
        row, column, max_row, max_column = self.row, self.column, self.max_row, self.max_column
        letters_seen = self._letters
        # The digits `row` was read from: a row's cells repeat its number, read once.
        row_digits = self._row_digits
        for tag, letters, digits in _CELL_OR_ROW_TAG.findall(xml, 0, end):
            if tag == b"row":
                row = int(digits) if digits else row + 1
                row_digits = digits
                column = 0
                continue
            if letters:
                column = letters_seen.get(letters) or letters_seen.setdefault(
                    letters, _column_number(letters.decode("ascii"))
                )
                if digits and digits != row_digits:
                    row = int(digits)
                    row_digits = digits
            else:
                column += 1
            if row > max_row:
                max_row = row
            if column > max_column:
                max_column = column
        self.row, self.column, self.max_row, self.max_column = row, column, max_row, max_column
        self._row_digits = row_digits


def _check_extent(rows: int, columns: int) -> None:
    if rows * columns > _MAX_SHEET_CELLS:
        from openpyxl.utils import get_column_letter

        last_column = get_column_letter(min(columns, 18278))
        raise SpreadsheetError(
            "sheet_too_large",
            f"Bảng tính có dữ liệu trải tới dòng {_thousands(rows)} và cột {last_column}, "
            "vượt xa vùng của một danh sách. Hãy xóa các ô thừa nằm ngoài danh sách (hoặc sao chép danh sách "
            "sang một tệp mới) rồi tải lên lại.",
        )


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


# ---------------------------------------------------------------------------- CSV

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
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
    for bom, codec in _BOMS:
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
            raise _not_spreadsheet()
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
        raise _not_spreadsheet()
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
                    f"{_thousands(self.max_rows)} dòng, và mỗi lần tải lên thay cả danh sách. Hãy xóa các dòng "
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
