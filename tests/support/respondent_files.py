"""Respondent-list files as provinces make them: .xlsx written with openpyxl, .csv in Excel's encodings.

Shared by the list tests, the browser journey and the import benchmark. Every person here is made up;
the units are Hà Nội's real departments and districts (the reference data loaded from
`vietnam-provinces` and portal/seed).
"""

from __future__ import annotations

import csv
import io
import itertools
import struct
import unicodedata
from collections.abc import Iterable, Sequence

from openpyxl import Workbook

HEADER = ["STT", "Họ và tên", "Chức vụ", "Nhóm đối tượng", "Cơ quan/đơn vị", "Email công vụ", "Số điện thoại",
          "Ghi chú"]

GROUP_1 = "1. Đại biểu Hội đồng nhân dân cấp tỉnh"
GROUP_2 = "2. Lãnh đạo cấp sở"
GROUP_3 = "3. Lãnh đạo cấp phòng thuộc sở"
GROUP_4 = "4. Lãnh đạo UBND cấp huyện"

# Hà Nội's departments (with their parent ministries) and districts, as the reference data names them.
HA_NOI_DEPARTMENTS = {
    "Sở Nội vụ": "Bộ Nội vụ", "Sở Tư pháp": "Bộ Tư pháp", "Sở Kế hoạch và Đầu tư": "Bộ Kế hoạch và Đầu tư",
    "Sở Tài chính": "Bộ Tài chính", "Sở Công Thương": "Bộ Công Thương",
    "Sở Nông nghiệp và Phát triển nông thôn": "Bộ Nông nghiệp và Phát triển nông thôn",
    "Sở Giao thông vận tải": "Bộ Giao thông vận tải", "Sở Xây dựng": "Bộ Xây dựng",
    "Sở Tài nguyên và Môi trường": "Bộ Tài nguyên và Môi trường",
    "Sở Thông tin và Truyền thông": "Bộ Thông tin và Truyền thông",
    "Sở Lao động - Thương binh và Xã hội": "Bộ Lao động - Thương binh và Xã hội",
    "Sở Văn hóa và Thể thao": "Bộ Văn hóa, Thể thao và Du lịch", "Sở Du lịch": "Bộ Văn hóa, Thể thao và Du lịch",
    "Sở Khoa học và Công nghệ": "Bộ Khoa học và Công nghệ", "Sở Giáo dục và Đào tạo": "Bộ Giáo dục và Đào tạo",
    "Sở Y tế": "Bộ Y tế", "Thanh tra thành phố": "Thanh tra Chính phủ",
    "Văn phòng Ủy ban nhân dân thành phố": "Văn phòng Chính phủ",
}
HA_NOI_DISTRICTS = [
    "Quận Ba Đình", "Quận Hoàn Kiếm", "Quận Tây Hồ", "Quận Long Biên", "Quận Cầu Giấy", "Quận Đống Đa",
    "Quận Hai Bà Trưng", "Quận Hoàng Mai", "Quận Thanh Xuân", "Huyện Sóc Sơn", "Huyện Đông Anh", "Huyện Gia Lâm",
    "Quận Nam Từ Liêm", "Huyện Thanh Trì", "Quận Bắc Từ Liêm", "Huyện Mê Linh", "Quận Hà Đông", "Thị xã Sơn Tây",
    "Huyện Ba Vì", "Huyện Phúc Thọ", "Huyện Đan Phượng", "Huyện Hoài Đức", "Huyện Quốc Oai", "Huyện Thạch Thất",
    "Huyện Chương Mỹ", "Huyện Thanh Oai", "Huyện Thường Tín", "Huyện Phú Xuyên", "Huyện Ứng Hòa", "Huyện Mỹ Đức",
]
# Who leads each kind of department at the department level (group 2).
_DIRECTORS = {"Thanh tra thành phố": ("Chánh Thanh tra thành phố", "Phó Chánh Thanh tra thành phố"),
              "Văn phòng Ủy ban nhân dân thành phố": ("Chánh Văn phòng UBND thành phố",
                                                      "Phó Chánh Văn phòng UBND thành phố")}
_DIVISIONS = ["Văn phòng", "Thanh tra", "Kế hoạch - Tài chính", "Tổ chức cán bộ", "Pháp chế", "Quản lý ngành",
              "Tổng hợp", "Hành chính - Quản trị", "Chính sách", "Kiểm tra", "Hợp tác quốc tế", "Nghiệp vụ"]

_SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
             "Ngô", "Dương", "Lý"]
_MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Quốc", "Ngọc", "Xuân", "Thu"]
_GIVEN = ["An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Hương", "Khánh",
          "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Nga", "Nghĩa", "Ngọc", "Phong", "Phúc", "Phương", "Quang",
          "Quân", "Sơn", "Tâm", "Thảo", "Thắng", "Thủy", "Toàn", "Trang", "Trung", "Tuấn", "Vân", "Việt", "Yến",
          "Tùng"]


def people_names() -> Iterable[str]:
    """Distinct, plausible Vietnamese names, as many as asked: the first 6,400 with one given name, then
    the same with a second one ("Nguyễn Văn An Bình"), so a 20,000-row list never runs out."""
    for second in ("", *_GIVEN):
        for given, surname, middle in itertools.product(_GIVEN, _SURNAMES, _MIDDLE):
            yield f"{surname} {middle} {given} {second}".rstrip()


def realistic_rows(count: int) -> list[list[str]]:
    """`count` valid rows for Hà Nội, of all four groups, in the template's columns (STT first).

    Council deputies come first (95, as in Hà Nội's council), then each department's director and
    deputies, the chairs and vice-chairs of the districts, and division heads and deputies filling the rest.
    """
    names = people_names()
    rows: list[list[str]] = []

    def add(position: str, group: str, unit: str) -> None:
        number = len(rows) + 1
        rows.append([str(number), next(names), position, group, unit, f"canbo{number:05d}@hanoi.gov.vn",
                     f"09{number:08d}", ""])

    councils = [f"Đại biểu HĐND thành phố, {job}" for job in ("Bí thư Quận ủy", "Giám đốc doanh nghiệp",
                                                                "Hiệu trưởng", "Chủ tịch Hội Nông dân")]
    for i in range(min(95, count)):
        add(councils[i % len(councils)], GROUP_1, "Hội đồng nhân dân thành phố Hà Nội")
    for department in HA_NOI_DEPARTMENTS:
        director, deputy = _DIRECTORS.get(department, ("Giám đốc", "Phó Giám đốc"))
        for position in (director, deputy, deputy, deputy):
            if len(rows) < count:
                add(position, GROUP_2, department)
    for district in HA_NOI_DISTRICTS:
        for position in ("Chủ tịch UBND", "Phó Chủ tịch UBND", "Phó Chủ tịch UBND"):
            if len(rows) < count:
                add(position, GROUP_4, district)
    departments = [d for d in HA_NOI_DEPARTMENTS if d not in _DIRECTORS]
    for index in itertools.count():
        if len(rows) >= count:
            break
        division = f"{_DIVISIONS[index % len(_DIVISIONS)]} {index // len(_DIVISIONS) + 1}"
        position = ("Trưởng phòng " if index % 3 == 0 else "Phó Trưởng phòng ") + division
        add(position, GROUP_3, departments[index % len(departments)])
    return rows


# ---------------------------------------------------------------------------- files


def xlsx_bytes(rows: Sequence[Sequence[object]], header: Sequence[str] | None = None, *,
               title: str = "Danh sách") -> bytes:
    """A one-sheet workbook: the header (HEADER unless given), then the rows, as openpyxl writes them."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(list(HEADER if header is None else header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_text(rows: Sequence[Sequence[object]], header: Sequence[str] | None = None, *, delimiter: str = ",") -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER if header is None else header)
    writer.writerows(rows)
    return buffer.getvalue()


def windows_1258(text: str) -> bytes:
    """Encode as Excel's CSV does on Vietnamese Windows: â, ơ, ư… precomposed, tones as combining marks."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        try:
            out.append(char.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", char)
        vowel_marks = "".join(mark for mark in marks if mark in "\u0302\u0306\u031b")
        tones = "".join(mark for mark in marks if mark not in vowel_marks)
        out.append((unicodedata.normalize("NFC", base + vowel_marks) + tones).encode("cp1258"))
    return b"".join(out)


def password_protected_workbook() -> bytes:
    """An OLE compound file laid out as Excel saves a workbook with a password to open.

    Excel wraps the encrypted package in a compound file holding the streams "EncryptionInfo" and
    "EncryptedPackage" (MS-OFFCRYPTO). The stream contents here are random-looking bytes: what matters
    to a reader is the container, which no zip-based .xlsx reader can open.
    """
    sector = 512
    streams = {"EncryptionInfo": bytes([4, 0, 4, 0, 0x40, 0, 0, 0]) + bytes(range(256)) * 16,
               "EncryptedPackage": struct.pack("<Q", 6000) + bytes((i * 37) % 251 for i in range(8192))}
    # Layout: header, 1 FAT sector, 1 directory sector, then each stream in whole sectors (no mini stream:
    # every stream holds at least 4096 bytes, the mini-stream cutoff).
    data_sectors = []
    chains = []
    next_sector = 2
    for content in streams.values():
        assert len(content) >= 4096
        padded = content.ljust(-(-len(content) // sector) * sector, b"\0")
        count = len(padded) // sector
        chains.append((next_sector, count, len(content)))
        data_sectors.append(padded)
        next_sector += count
    fat = [0xFFFFFFFD, 0xFFFFFFFE]  # sector 0: the FAT itself; sector 1: the directory (one sector)
    for start, count, _ in chains:
        fat.extend(start + i + 1 for i in range(count - 1))
        fat.append(0xFFFFFFFE)
    fat.extend([0xFFFFFFFF] * (sector // 4 - len(fat)))

    def entry(name: str, kind: int, start: int, size: int, child: int = 0xFFFFFFFF,
              right: int = 0xFFFFFFFF) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
                + struct.pack("<III", 0xFFFFFFFF, right, child) + bytes(16) + bytes(4) + bytes(16)
                + struct.pack("<IQ", start, size))

    directory = (entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1)
                 + entry("EncryptionInfo", 2, chains[0][0], chains[0][2], right=2)
                 + entry("EncryptedPackage", 2, chains[1][0], chains[1][2])
                 + entry("", 0, 0, 0))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHH", 0x3E, 3, 0xFFFE, 9)
              + struct.pack("<H", 6) + bytes(6) + struct.pack("<IIII", 0, 1, 1, 0) + struct.pack("<I", 4096)
              + struct.pack("<IIII", 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
              + struct.pack("<I", 0) + struct.pack("<108I", *([0xFFFFFFFF] * 108)))
    assert len(header) == sector
    return header + struct.pack(f"<{sector // 4}I", *fat) + directory + b"".join(data_sectors)


def zip_bomb_workbook() -> bytes:
    """A valid .xlsx of about 40 KB whose sheet inflates to 40 MB of XML (a thousandfold)."""
    import zipfile

    source = xlsx_bytes([["1", "Nguyễn Văn An", "Giám đốc", GROUP_2, "Sở Tài chính", "an@hanoi.gov.vn", "", ""]])
    padding = b"<!--" + b" " * (40 * 1024 * 1024) + b"-->"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as original, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for item in original.infolist():
            content = original.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                content = content.replace(b"<sheetData>", padding + b"<sheetData>", 1)
            bomb.writestr(item.filename, content)
    return out.getvalue()
