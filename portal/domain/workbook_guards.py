"""What an uploaded workbook must pass before any reader sees it, and the error every reader of an upload raises.

A list, a questionnaire or framework template, or evidence arrives as bytes from someone's computer: PDFs,
images and web pages dressed up as .xlsx are refused by what they are; old .xls and password-protected files
(OLE containers) are told apart and explained; a zip is checked to be whole and bounded (entry count,
declared and real inflated sizes with a running budget, compression ratios), and its worksheets are scanned
for the furthest cell with content, since calamine builds a dense grid spanning it. Each refusal is a
`SpreadsheetError` whose Vietnamese message an officer can act on.

Pure module: no Flask, no database.
"""

from __future__ import annotations

import io
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Callable

MIB = 1024 * 1024
DEFAULT_MAX_UNPACKED_BYTES = 100 * MIB
# Byte-order marks a text file may start with, longest first (UTF-32's starts with UTF-16's).
BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


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

def check_workbook_package(data: bytes, *, max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES) -> bool:
    """The guards a list upload's workbook passes, for other readers of uploaded workbooks (the questionnaire
    and framework templates): old .xls and password-protected files, files that are not workbooks, damage,
    zip bombs and huge sparse sheets raise `SpreadsheetError`. Returns whether any worksheet holds a formula.
    """
    if data.startswith(CFB_MAGIC):
        raise container_error(data)
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        refuse_known_binary(data, "")
        raise not_spreadsheet()
    return check_package(data, max_unpacked_bytes)


def megabytes(size: int, *, round_up: bool = False) -> str:
    """Size in MB the Vietnamese way: 5 → "5", 0.5 → "0,5"; an upload's own
    size is rounded up to a tenth so it never reads as equal to the limit."""
    value = size / MIB
    if round_up:
        value = math.ceil(value * 10) / 10
    return f"{value:g}".replace(".", ",")


def thousands(number: int) -> str:
    return f"{number:,}".replace(",", ".")

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SAVE_AS_XLSX = (
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


def not_spreadsheet(what: str | None = None) -> SpreadsheetError:
    detail = f" (đây là {what})" if what else ""
    return SpreadsheetError(
        "not_spreadsheet",
        f"{_NOT_SPREADSHEET}{detail}. Hãy tải lên tệp danh sách theo mẫu của Cổng (.xlsx) hoặc tệp .csv.",
    )


def refuse_known_binary(data: bytes, filename: str) -> None:
    """Refuse PDFs, images, web pages and other files dressed up as lists."""
    for magic, what in _BINARY_KINDS:
        if data.startswith(magic):
            raise not_spreadsheet(what)
    head = data[:2048]
    for bom, codec in BOMS:
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
            f"{_NOT_SPREADSHEET}: đây là trang web (HTML/XML){named} dù mở được bằng Excel. {SAVE_AS_XLSX}",
        )


def container_error(data: bytes) -> SpreadsheetError:
    """Explain an OLE/CFB container: a password-protected workbook or an old .xls."""
    if "EncryptedPackage".encode("utf-16-le") in data:
        return encrypted()
    if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data:
        return SpreadsheetError(
            "xls",
            f"Tệp Excel 97–2003 (.xls) chưa được hỗ trợ. {SAVE_AS_XLSX}",
        )
    return not_spreadsheet("tệp Office cũ không phải bảng tính, ví dụ văn bản Word .doc")


def encrypted() -> SpreadsheetError:
    return SpreadsheetError(
        "encrypted",
        "Tệp đang được đặt mật khẩu nên hệ thống không đọc được. Hãy mở tệp bằng Excel, gỡ mật khẩu "
        "(Tệp › Thông tin › Bảo vệ sổ làm việc › Mã hóa bằng mật khẩu, xóa mật khẩu rồi lưu) và tải "
        "lên lại.",
    )

_MAX_ZIP_ENTRIES = 2000
# Spreadsheet XML compresses well, but not a hundredfold over megabytes.
_MAX_COMPRESSION_RATIO = 100
_RATIO_CHECK_FROM = MIB
# calamine builds a dense grid spanning every cell that has content: cap it.
_MAX_SHEET_CELLS = 2_000_000
_INFLATE_CHUNK = 1 << 20


def corrupt() -> SpreadsheetError:
    return SpreadsheetError(
        "corrupt",
        "Tệp bảng tính bị hỏng hoặc chưa được tải lên hết nên không đọc được. Hãy mở tệp bằng Excel để "
        "kiểm tra, lưu lại rồi tải lên lần nữa.",
    )


def _zip_bomb(max_unpacked_bytes: int) -> SpreadsheetError:
    return SpreadsheetError(
        "zip_bomb",
        "Tệp có cấu trúc nén bất thường (khi giải nén vượt quá "
        f"{megabytes(max_unpacked_bytes)} MB hoặc có tỷ lệ nén bất thường) nên không thể đọc an toàn. "
        "Hãy sao chép danh sách sang một tệp Excel mới rồi tải lên lại.",
    )

def check_package(data: bytes, max_unpacked_bytes: int) -> bool:
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
        raise corrupt() from None
    names = {entry.filename.lower().lstrip("/") for entry in entries}
    if "xl/workbook.xml" not in names:
        if "xl/workbook.bin" in names:
            raise SpreadsheetError(
                "not_spreadsheet", f"Tệp Excel dạng nhị phân (.xlsb) chưa được hỗ trợ. {SAVE_AS_XLSX}"
            )
        if "mimetype" in names and "content.xml" in names:
            raise SpreadsheetError(
                "not_spreadsheet",
                "Tệp OpenDocument (.ods) chưa được hỗ trợ. Hãy mở tệp và lưu lại dưới dạng Excel (.xlsx) "
                "rồi tải lên lại.",
            )
        if "word/document.xml" in names:
            raise not_spreadsheet("văn bản Word")
        if "[content_types].xml" in names:
            raise not_spreadsheet("tệp Office không phải bảng tính")
        raise not_spreadsheet("tệp nén ZIP")
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
        raise corrupt()
    start = entry.header_offset
    local = data[start:start + 30]
    if len(local) < 30 or not local.startswith(b"PK\x03\x04"):
        raise corrupt()
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    begin = start + 30 + name_length + extra_length
    raw = data[begin:begin + entry.compress_size]
    if len(raw) != entry.compress_size:
        raise corrupt()
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
            raise corrupt() from None
        if not inflater.eof:
            raise corrupt()
    else:
        raise corrupt()
    if produced != entry.file_size or crc != entry.CRC:
        raise corrupt()
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
            f"Bảng tính có dữ liệu trải tới dòng {thousands(rows)} và cột {last_column}, "
            "vượt xa vùng của một danh sách. Hãy xóa các ô thừa nằm ngoài danh sách (hoặc sao chép danh sách "
            "sang một tệp mới) rồi tải lên lại.",
        )


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number
