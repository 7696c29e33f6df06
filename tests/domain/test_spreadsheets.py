"""Reading and writing respondent-list spreadsheets, with real files made in each test."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import struct
import unicodedata
import zipfile

import openpyxl
import pytest
import python_calamine

from portal.domain.spreadsheet_exports import export_rows, neutralise_formula
from portal.domain.spreadsheet_template import build_template
from portal.domain.spreadsheets import (
    COLUMNS,
    SheetReadResult,
    SpreadsheetError,
    read_respondent_file,
)

HEADER = ["STT", "Họ và tên", "Chức vụ", "Nhóm đối tượng", "Cơ quan/đơn vị", "Email công vụ", "Số điện thoại",
          "Ghi chú"]
AN = ["1", "Nguyễn Văn An", "Giám đốc", "Lãnh đạo cấp sở", "Sở Nội vụ", "nvan@bacninh.gov.vn", "0912345678",
      ""]
BINH = ["2", "Trần Thị Bình", "Phó Trưởng phòng", "Lãnh đạo cấp phòng thuộc sở", "Sở Tư pháp",
        "ttbinh@bacninh.gov.vn", "0987654321", "Mới bổ nhiệm"]
GROUPS = [
    "Đại biểu Hội đồng nhân dân cấp tỉnh",
    "Lãnh đạo cấp sở",
    "Lãnh đạo cấp phòng thuộc sở",
    "Lãnh đạo UBND cấp huyện",
]
DEPARTMENTS = ["Sở Nội vụ", "Sở Tư pháp", "Sở Kế hoạch và Đầu tư"]
DISTRICTS = ["Thành phố Bắc Ninh", "Thị xã Từ Sơn", "Huyện Yên Phong"]
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def xlsx(*sheets: tuple[str, list[list[object]]]) -> bytes:
    """A workbook with the given (title, rows) sheets, saved by openpyxl."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def list_xlsx(rows: list[list[object]]) -> bytes:
    return xlsx(("Danh sách", rows))


def csv_text(rows: list[list[str]], separator: str = ",") -> str:
    return "\r\n".join(separator.join(row) for row in rows) + "\r\n"


def read(data: bytes, filename: str = "danh-sach.xlsx", **limits: int) -> SheetReadResult:
    return read_respondent_file(data, filename, **limits)


def refusal(data: bytes, filename: str = "danh-sach.xlsx", **limits: int) -> SpreadsheetError:
    with pytest.raises(SpreadsheetError) as caught:
        read_respondent_file(data, filename, **limits)
    return caught.value


def rewrite_zip(data: bytes, change: dict[str, bytes]) -> bytes:
    """Copy a zip, replacing or adding the entries in `change`."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            if entry.filename not in change:
                target.writestr(entry.filename, source.read(entry.filename))
        for name, content in change.items():
            target.writestr(name, content)
    return buffer.getvalue()


def windows_1258(text: str) -> bytes:
    """Encode as Excel's CSV does on Vietnamese Windows: letters with their
    vowel marks precomposed (â, ơ, ư…), tones as combining marks."""
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


# ------------------------------------------------------------------------ columns


def test_columns_are_the_canonical_keys_and_headers_in_order():
    assert COLUMNS == (
        ("stt", "STT"),
        ("full_name", "Họ và tên"),
        ("position", "Chức vụ"),
        ("group", "Nhóm đối tượng"),
        ("unit", "Cơ quan/đơn vị"),
        ("email", "Email công vụ"),
        ("phone", "Số điện thoại"),
        ("note", "Ghi chú"),
    )


# ------------------------------------------------------------------------- xlsx


def test_reads_xlsx_rows_keyed_by_column_with_row_numbers_as_excel_shows_them():
    result = read(list_xlsx([HEADER, AN, BINH]))

    assert [row.number for row in result.rows] == [2, 3]
    assert result.rows[0].values == dict(zip([key for key, _ in COLUMNS], AN, strict=True))
    assert result.rows[1].values["note"] == "Mới bổ nhiệm"
    assert result.sheet_name == "Danh sách"
    assert result.header_row == 1
    assert result.ignored_columns == []
    assert (result.example_rows_skipped, result.blank_rows_skipped) == (0, 0)


def test_reads_the_sheet_with_the_header_when_an_instructions_sheet_comes_first():
    data = xlsx(
        ("Hướng dẫn", [["Họ và tên", "Ghi đầy đủ họ tên"], ["Email công vụ", "Hộp thư công vụ"]]),
        ("Danh sách", [HEADER, AN]),
    )

    result = read(data)

    assert result.sheet_name == "Danh sách"
    assert [row.values["full_name"] for row in result.rows] == ["Nguyễn Văn An"]


def test_finds_the_header_below_title_rows():
    data = list_xlsx([
        ["UBND TỈNH BẮC NINH"],
        ["DANH SÁCH ĐỐI TƯỢNG KHẢO SÁT CHỈ SỐ CCHC NĂM 2021"],
        [],
        HEADER,
        AN,
    ])

    result = read(data)

    assert result.header_row == 4
    assert [row.number for row in result.rows] == [5]


def test_matches_headers_in_another_order_without_diacritics_and_in_capitals():
    header = ["EMAIL", "ho va ten", "DON VI", "so dien thoai", "Chuc vu", "nhom doi tuong", "tt"]
    data = list_xlsx([header, ["an@bn.gov.vn", "Nguyễn Văn An", "Sở Nội vụ", "0912345678", "Giám đốc",
                               "Lãnh đạo cấp sở", "1"]])

    row = read(data).rows[0].values

    assert row == {
        "stt": "1", "full_name": "Nguyễn Văn An", "position": "Giám đốc", "group": "Lãnh đạo cấp sở",
        "unit": "Sở Nội vụ", "email": "an@bn.gov.vn", "phone": "0912345678", "note": "",
    }
    assert read(data).columns == ["email", "full_name", "unit", "phone", "position", "group", "stt"]


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Họ tên", "full_name"),
        ("Ho va ten", "full_name"),
        ("Họ và tên người được khảo sát", "full_name"),
        ("Họ và tên (*)", "full_name"),
        ("Email", "email"),
        ("Thư điện tử", "email"),
        ("Địa chỉ email", "email"),
        ("E-mail", "email"),
        ("Điện thoại", "phone"),
        ("SĐT", "phone"),
        ("Số ĐT", "phone"),
        ("Di động", "phone"),
        ("Đơn vị", "unit"),
        ("Cơ quan", "unit"),
        ("Cơ quan, đơn vị", "unit"),
        ("Đơn vị công tác", "unit"),
        ("Nhóm", "group"),
        ("Nhóm đối tượng khảo sát", "group"),
        ("TT", "stt"),
        ("Số TT", "stt"),
        ("Số thứ tự", "stt"),
        ("Chức danh", "position"),
        ("GHI CHÚ", "note"),
    ],
)
def test_matches_common_header_variants(header, key):
    labels = {"full_name": "Họ và tên", "email": "Email công vụ", key: header}
    values = {"full_name": "Nguyễn Văn An", "email": "an@bn.gov.vn", key: "giá trị"}
    data = list_xlsx([list(labels.values()), [values[column] for column in labels]])

    assert read(data).rows[0].values[key] == "giá trị"


def test_lists_unrecognised_columns_and_ignores_their_values():
    data = list_xlsx([
        ["Họ và tên", "Ngày sinh", "Email công vụ", "Email cá nhân", None, "Cột phụ"],
        ["Nguyễn Văn An", "01/01/1970", "an@bn.gov.vn", "an@gmail.com", None, "x"],
    ])

    result = read(data)

    assert result.rows[0].values["email"] == "an@bn.gov.vn"
    assert result.ignored_columns == ["Ngày sinh", "Email cá nhân", "Cột phụ"]


def test_understands_a_header_split_over_two_merged_rows():
    data = list_xlsx([
        ["STT", "Họ và tên", "Thông tin liên hệ", None, "Ghi chú"],
        [None, None, "Email", "Điện thoại", None],
        ["1", "Nguyễn Văn An", "an@bn.gov.vn", "0912345678", None],
    ])

    result = read(data)

    assert result.header_row == 2
    assert [row.number for row in result.rows] == [3]
    assert result.rows[0].values["email"] == "an@bn.gov.vn"
    assert result.rows[0].values["phone"] == "0912345678"


def test_treats_a_row_of_column_numbers_under_the_header_as_part_of_it():
    data = list_xlsx([HEADER, ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)", "(7)", "(8)"], AN])

    result = read(data)

    assert [row.number for row in result.rows] == [3]


def test_skips_blank_rows_and_rows_that_only_have_a_number():
    data = list_xlsx([HEADER, [], AN, [None, "  ", None], ["3"], BINH, ["4"], ["5"]])

    result = read(data)

    assert [row.number for row in result.rows] == [3, 6]
    assert result.blank_rows_skipped == 5


@pytest.mark.parametrize("marker", ["Ví dụ", "VD", "vd1", "VÍ DỤ:", "Vi du 2", "V.D"])
def test_skips_example_rows_marked_in_the_stt_cell(marker):
    data = list_xlsx([HEADER, [marker, *AN[1:]], BINH])

    result = read(data)

    assert [row.values["full_name"] for row in result.rows] == ["Trần Thị Bình"]
    assert result.example_rows_skipped == 1


def test_a_person_named_like_an_example_is_not_an_example():
    data = list_xlsx([HEADER, ["1", "Vũ Đức Anh", *AN[2:]]])

    assert read(data).rows[0].values["full_name"] == "Vũ Đức Anh"


def test_turns_calamine_floats_into_plain_text_never_scientific_notation():
    data = list_xlsx([
        ["STT", "Họ và tên", "Email", "Số điện thoại", "Ghi chú"],
        [3, "Nguyễn Văn An", "an@bn.gov.vn", 912345678, 3.5],
        [4.0, "Trần Thị Bình", "binh@bn.gov.vn", 84912345678, 1e20],
        [5, "Lê Văn Cường", "cuong@bn.gov.vn", 912345678.0, 0.0000001],
    ])

    rows = [row.values for row in read(data).rows]

    assert [(row["stt"], row["phone"], row["note"]) for row in rows] == [
        ("3", "912345678", "3.5"),
        ("4", "84912345678", "100000000000000000000"),
        ("5", "912345678", "0.0000001"),
    ]


def test_writes_dates_as_day_month_year_text():
    data = list_xlsx([
        ["Họ và tên", "Email", "Ghi chú", "Chức vụ"],
        ["Nguyễn Văn An", "an@bn.gov.vn", dt.date(2022, 1, 5), dt.datetime(2022, 1, 15, 14, 30)],
    ])

    row = read(data).rows[0].values

    assert (row["note"], row["position"]) == ("05/01/2022", "15/01/2022 14:30")


def test_composes_decomposed_vietnamese_text_and_tidies_spaces():
    decomposed = unicodedata.normalize("NFD", "Nguyễn  Thị\u00a0Ánh ")
    data = list_xlsx([["Họ và tên", "Email"], [decomposed, " an@bn.gov.vn "]])

    row = read(data).rows[0].values

    assert row["full_name"] == "Nguyễn Thị Ánh"
    assert unicodedata.is_normalized("NFC", row["full_name"])
    assert row["email"] == "an@bn.gov.vn"


def test_reads_the_cached_result_of_a_formula_or_its_text_never_evaluating_it():
    data = list_xlsx([HEADER, ["=1+2", "Nguyễn Văn An", "Giám đốc", "Lãnh đạo cấp sở", "Sở Nội vụ",
                               '=HYPERLINK("mailto:an@bn.gov.vn","an@bn.gov.vn")', "0912345678", "=1/0"]])
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    # Excel stores the last result next to the formula; openpyxl does not, so add them.
    sheet = re.sub(r'<c r="A2"[^>]*><f>(.*?)</f><v\s*/></c>', r'<c r="A2"><f>\1</f><v>3</v></c>', sheet)
    sheet = re.sub(r'<c r="F2"[^>]*><f>(.*?)</f><v\s*/></c>',
                   r'<c r="F2" t="str"><f>\1</f><v>an@bn.gov.vn</v></c>', sheet)
    data = rewrite_zip(data, {"xl/worksheets/sheet1.xml": sheet.encode()})

    first = read(data).rows[0]
    row = first.values

    assert (row["stt"], row["email"]) == ("3", "an@bn.gov.vn")
    # A formula without a stored result reads as its own text, never as an empty cell or a result.
    assert row["note"] == "=1/0"
    assert first.formulas == {"email": '=HYPERLINK("mailto:an@bn.gov.vn","an@bn.gov.vn")', "note": "=1/0"}


def test_a_workbook_without_formulas_reports_none():
    data = list_xlsx([HEADER, ["1", "Nguyễn Văn An", "Giám đốc", "Lãnh đạo cấp sở", "Sở Nội vụ", "an@bn.gov.vn",
                               "0912345678", ""]])

    assert read(data).rows[0].formulas == {}


def test_reads_script_tags_and_formula_text_in_csv_as_plain_text():
    text = csv_text([["Họ và tên", "Email", "Ghi chú"]]) + (
        '<script>alert(1)</script>,an@bn.gov.vn,"=HYPERLINK(""http://x.vn"",""bấm"")"\r\n'
    )

    row = read(text.encode(), "ds.csv").rows[0].values

    assert row["full_name"] == "<script>alert(1)</script>"
    assert row["note"] == '=HYPERLINK("http://x.vn","bấm")'


def test_reads_every_row_of_a_5000_row_xlsx():
    # Speed is measured in bench/bench_list_import.py, not asserted here.
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Danh sách")
    sheet.append(HEADER)
    for number in range(1, 5001):
        sheet.append([number, f"Nguyễn Văn {number}", "Phó Giám đốc", "Lãnh đạo cấp sở", "Sở Nội vụ",
                      f"nv{number}@bacninh.gov.vn", 912000000 + number, ""])
    buffer = io.BytesIO()
    workbook.save(buffer)

    result = read(buffer.getvalue())

    assert len(result.rows) == 5000
    assert result.rows[-1].values["phone"] == "912005000"


# -------------------------------------------------------------------------- CSV

PEOPLE_ROWS = [HEADER, AN, BINH]
PEOPLE = [("Nguyễn Văn An", "Sở Nội vụ"), ("Trần Thị Bình", "Sở Tư pháp")]


def people(result: SheetReadResult) -> list[tuple[str, str]]:
    return [(row.values["full_name"], row.values["unit"]) for row in result.rows]


def test_reads_utf8_csv_without_bom():
    result = read(csv_text(PEOPLE_ROWS).encode("utf-8"), "ds.csv")

    assert people(result) == PEOPLE
    assert [row.number for row in result.rows] == [2, 3]
    assert result.sheet_name is None


def test_reads_utf8_csv_with_bom_from_excel_csv_utf8():
    result = read(csv_text(PEOPLE_ROWS).encode("utf-8-sig"), "ds.csv")

    assert people(result) == PEOPLE
    assert result.columns[0] == "stt"


def test_reads_semicolon_separated_csv():
    result = read(csv_text(PEOPLE_ROWS, ";").encode(), "ds.csv")

    assert people(result) == PEOPLE


def test_reads_utf16_tab_separated_csv_from_excel_unicode_text():
    data = b"\xff\xfe" + csv_text(PEOPLE_ROWS, "\t").encode("utf-16-le")

    assert people(read(data, "ds.txt")) == PEOPLE


def test_reads_utf16_csv_that_lost_its_bom():
    data = csv_text(PEOPLE_ROWS, "\t").encode("utf-16-le")

    assert people(read(data, "ds.csv")) == PEOPLE


def test_reads_utf16_big_endian_csv_with_bom():
    data = b"\xfe\xff" + csv_text(PEOPLE_ROWS, "\t").encode("utf-16-be")

    assert people(read(data, "ds.csv")) == PEOPLE


def test_reads_windows_1258_csv_and_composes_its_combining_marks():
    huong = ["3", "Lê Thị Thu Hường", "Phó Chủ tịch", "", "Huyện Yên Phong", "lthuong@bacninh.gov.vn", "",
             "Đại biểu HĐND tỉnh"]
    data = windows_1258(csv_text([*PEOPLE_ROWS, huong]))
    assert b"\xde" in data  # the tilde of "Nguyễn" is a separate combining mark

    result = read(data, "ds.csv")

    assert people(result)[:2] == PEOPLE
    assert result.rows[2].values["full_name"] == "Lê Thị Thu Hường"
    assert result.rows[2].values["note"] == "Đại biểu HĐND tỉnh"
    values = [value for row in result.rows for value in row.values.values()]
    assert all(unicodedata.is_normalized("NFC", value) for value in values)


def test_reads_quoted_fields_with_embedded_newlines_and_separators():
    text = (
        'STT,Họ và tên,Chức vụ,"Cơ quan, đơn vị",Email\r\n'
        '1,Nguyễn Văn An,"Phó Giám đốc\r\nkiêm Chánh Văn phòng","Sở Kế hoạch, Đầu tư",an@bn.gov.vn\r\n'
        '2,Trần Thị Bình,"Trưởng phòng; ""Tổ chức""",Sở Nội vụ,binh@bn.gov.vn\r\n'
    )

    result = read(text.encode(), "ds.csv")

    assert [row.values["position"] for row in result.rows] == [
        "Phó Giám đốc kiêm Chánh Văn phòng", 'Trưởng phòng; "Tổ chức"'
    ]
    assert result.rows[0].values["unit"] == "Sở Kế hoạch, Đầu tư"
    assert [row.number for row in result.rows] == [2, 3]  # records, as Excel numbers its rows


def test_reads_a_csv_saved_with_an_xlsx_name_by_its_content():
    assert people(read(csv_text(PEOPLE_ROWS).encode(), "danh-sach.xlsx")) == PEOPLE


def test_reads_an_xlsx_uploaded_with_a_csv_name_by_its_content():
    assert people(read(list_xlsx(PEOPLE_ROWS), "danh-sach.csv")) == PEOPLE


def test_csv_header_may_sit_below_a_title_line():
    text = "DANH SÁCH ĐỐI TƯỢNG KHẢO SÁT,,,\r\n,,,\r\n" + csv_text(PEOPLE_ROWS)

    result = read(text.encode(), "ds.csv")

    assert result.header_row == 3
    assert [row.number for row in result.rows] == [4, 5]


# ------------------------------------------------------------------ file problems


def test_refuses_an_empty_file():
    error = refusal(b"")

    assert error.code == "empty"
    assert "trống" in error.message


def test_refuses_a_file_with_only_whitespace():
    assert refusal(b"  \r\n\r\n", "ds.csv").code == "empty"


def test_refuses_an_xlsx_with_only_the_header():
    error = refusal(list_xlsx([HEADER, [], []]))

    assert error.code == "no_data"
    assert error.message.startswith("Tệp không có dòng dữ liệu nào")


def test_refuses_a_csv_with_only_the_header():
    error = refusal(csv_text([HEADER]).encode(), "ds.csv")

    assert error.code == "no_data"
    assert error.message.startswith("Tệp không có dòng dữ liệu nào")


def test_refuses_a_file_without_a_recognisable_header_listing_the_expected_ones():
    error = refusal(list_xlsx([["Cột 1", "Cột 2"], ["a", "b"]]))

    assert error.code == "no_header"
    for _, name in COLUMNS:
        assert f"“{name}”" in error.message


def test_names_the_missing_required_column_when_the_header_lacks_email():
    error = refusal(list_xlsx([["STT", "Họ và tên", "Chức vụ"], ["1", "Nguyễn Văn An", "Giám đốc"]]))

    assert error.code == "no_header"
    assert "thiếu cột “Email công vụ”" in error.message


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "hình ảnh"),
        (b"\xff\xd8\xff\xe0" + bytes(200), "hình ảnh"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"<!DOCTYPE html><html><body><table><tr><td>H\xe1\xbb\x8d</td></tr></table>", "trang web"),
        (b'\xef\xbb\xbf<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">',
         "trang web"),
        (bytes(range(256)) * 8, ""),
    ],
)
def test_refuses_files_that_are_not_spreadsheets_whatever_their_name(content, what):
    error = refusal(content, "danh-sach.xlsx")

    assert error.code == "not_spreadsheet"
    assert error.message.startswith("Tệp không phải bảng tính")
    assert what in error.message


def zip_of(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_refuses_a_word_document_an_ods_file_and_a_plain_zip_with_their_own_words():
    docx = zip_of({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"})
    ods = zip_of({"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": "<office/>"})
    plain = zip_of({"danh-sach.xlsx": "..."})

    assert "văn bản Word" in refusal(docx).message
    assert ".ods" in refusal(ods, "ds.ods").message
    assert "ZIP" in refusal(plain, "ds.zip").message


def test_refuses_a_truncated_xlsx_as_damaged():
    data = list_xlsx(PEOPLE_ROWS)

    error = refusal(data[: len(data) // 2])

    assert error.code == "corrupt"
    assert "bị hỏng" in error.message


@pytest.mark.parametrize("cut", [4, 30, 100, 500, 1000, 2000, -200, -22, -1])
def test_any_cut_of_an_xlsx_gives_a_clear_error_never_a_crash(cut):
    data = list_xlsx(PEOPLE_ROWS)

    assert refusal(data[:cut]).code in {"corrupt", "not_spreadsheet", "no_header"}


def test_refuses_an_xlsx_whose_compressed_sheet_is_damaged():
    data = bytearray(list_xlsx(PEOPLE_ROWS * 50))
    entry = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet1.xml")
    middle = entry.header_offset + 30 + len(entry.filename) + entry.compress_size // 2
    data[middle] ^= 0xFF

    assert refusal(bytes(data)).code == "corrupt"


def test_refuses_a_password_protected_workbook_asking_to_remove_the_password():
    data = CFB_MAGIC + bytes(504) + "EncryptedInfo".encode("utf-16-le") + bytes(50) + \
        "EncryptedPackage".encode("utf-16-le") + bytes(1000)

    error = refusal(data)

    assert error.code == "encrypted"
    assert "mật khẩu" in error.message
    assert "gỡ mật khẩu" in error.message


def test_refuses_an_old_xls_asking_to_save_it_as_xlsx():
    data = CFB_MAGIC + bytes(504) + "Root Entry".encode("utf-16-le") + bytes(50) + \
        "Workbook".encode("utf-16-le") + bytes(1000)

    error = refusal(data, "danh-sach.xls")

    assert error.code == "xls"
    assert ".xlsx" in error.message


def test_refuses_a_file_over_the_size_limit_stating_the_limit_in_mb():
    error = refusal(b"a" * (5 * 1024 * 1024 + 1), "ds.csv")

    assert error.code == "too_large"
    assert "(5,1 MB)" in error.message
    assert "tối đa cho phép là 5 MB" in error.message


def test_size_limit_can_be_set_by_the_caller():
    error = refusal(b"x" * 600_000, "ds.csv", max_bytes=512 * 1024)

    assert error.code == "too_large"
    assert "tối đa cho phép là 0,5 MB" in error.message


def test_refuses_more_data_rows_than_the_limit_stating_the_limit():
    rows = [HEADER] + [[str(n), f"Người {n}", "", "", "", f"n{n}@bn.gov.vn", "", ""] for n in range(1, 1502)]

    assert len(read(list_xlsx(rows[:1501]), max_rows=1500).rows) == 1500
    error = refusal(list_xlsx(rows), max_rows=1500)

    assert error.code == "too_many_rows"
    assert "1.500 dòng" in error.message


def test_example_and_blank_rows_do_not_count_against_the_row_limit():
    rows = [HEADER, ["Ví dụ", *AN[1:]], [], AN, BINH]

    assert len(read(list_xlsx(rows), max_rows=2).rows) == 2


def test_refuses_a_csv_in_an_encoding_it_cannot_decode():
    data = "Họ và tên,Email\r\n".encode() + b"Nguy\x81n V\x8dn \x90n,an@bn.gov.vn\r\n"

    error = refusal(data, "ds.csv")

    assert error.code == "encoding"
    assert "UTF-8" in error.message


def test_refuses_a_csv_with_an_unclosed_quote_that_swallows_the_file():
    text = csv_text([["Họ và tên", "Email"], ["An", "an@bn.gov.vn"]]) + '"' + "x" * 200_000

    assert refusal(text.encode(), "ds.csv").code == "csv_format"


# ------------------------------------------------------------------ zip bombs


def test_refuses_a_zip_bomb_by_its_compression_ratio_before_parsing():
    data = rewrite_zip(list_xlsx(PEOPLE_ROWS), {"xl/media/image1.bin": bytes(3 * 1024 * 1024)})
    assert len(data) < 50_000

    error = refusal(data)

    assert error.code == "zip_bomb"
    assert "100 MB" in error.message


def test_refuses_a_workbook_whose_declared_unpacked_size_is_over_the_limit():
    padding = random.Random(7).randbytes(1_200_000)  # does not compress: the ratio is fine
    data = rewrite_zip(list_xlsx(PEOPLE_ROWS), {"xl/media/image1.bin": padding})

    assert len(read(data).rows) == 2
    error = refusal(data, max_unpacked_bytes=1024 * 1024)

    assert error.code == "zip_bomb"
    assert "1 MB" in error.message


def test_refuses_an_entry_that_inflates_past_its_declared_size():
    data = bytearray(rewrite_zip(list_xlsx(PEOPLE_ROWS), {"xl/media/image1.bin": bytes(400_000)}))
    # Lie in the central directory: claim the 400 KB entry holds 1,000 bytes.
    name = b"xl/media/image1.bin"
    central = data.rfind(name) - 46
    assert data[central:central + 4] == b"PK\x01\x02"
    struct.pack_into("<I", data, central + 24, 1000)

    assert refusal(bytes(data)).code == "zip_bomb"


def test_refuses_a_sheet_with_a_far_away_cell_instead_of_exhausting_memory():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(AN)
    sheet["XFD1048576"] = "x"
    buffer = io.BytesIO()
    workbook.save(buffer)

    error = refusal(buffer.getvalue())

    assert error.code == "sheet_too_large"
    assert "1.048.576" in error.message and "XFD" in error.message


def test_reads_a_sheet_with_a_stray_cell_a_little_way_off():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(AN)
    sheet["Z30000"] = "ghi nhầm"

    buffer = io.BytesIO()
    workbook.save(buffer)

    assert len(read(buffer.getvalue()).rows) == 1


# ---------------------------------------------------------------------- template


def template(**overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "province_name": "Tỉnh Bắc Ninh",
        "groups": GROUPS,
        "departments": DEPARTMENTS,
        "districts": DISTRICTS,
    }
    arguments.update(overrides)
    return build_template(**arguments)  # type: ignore[arg-type]


def test_template_has_instructions_first_then_the_list_and_a_hidden_choices_sheet():
    workbook = openpyxl.load_workbook(io.BytesIO(template()))

    assert workbook.sheetnames == ["Hướng dẫn", "Danh sách", "Danh mục"]
    assert workbook["Danh mục"].sheet_state == "hidden"
    assert workbook["Danh sách"].sheet_state == "visible"


def test_template_list_sheet_has_bold_frozen_header_and_column_widths():
    sheet = openpyxl.load_workbook(io.BytesIO(template()))["Danh sách"]

    assert [cell.value for cell in sheet[1]] == [name for _, name in COLUMNS]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width >= 25
    assert sheet.column_dimensions["F"].width >= 25


def test_template_example_rows_say_vi_du_and_are_grey_italic():
    sheet = openpyxl.load_workbook(io.BytesIO(template()))["Danh sách"]

    examples = [row for row in sheet.iter_rows(min_row=2, values_only=False) if row[0].value]
    assert 2 <= len(examples) <= 3
    for row in examples:
        assert row[0].value == "Ví dụ"
        assert row[0].font.italic and row[1].font.italic
        assert row[1].font.color.rgb.endswith("808080")
    assert {row[3].value for row in examples} <= set(GROUPS)
    assert examples[1][4].value in DEPARTMENTS
    assert examples[2][4].value in DISTRICTS
    assert examples[0][6].value == "0912345678"


def test_template_uses_the_given_examples():
    sheet = openpyxl.load_workbook(io.BytesIO(template(examples=[
        {"full_name": "Phạm Văn Dũng", "group": GROUPS[2], "email": "pvdung@bacninh.gov.vn"},
    ])))["Danh sách"]

    assert [cell.value for cell in sheet[2]][:2] == ["Ví dụ", "Phạm Văn Dũng"]
    assert sheet["A3"].value is None


def test_template_drop_downs_use_ranges_on_the_hidden_sheet_and_allow_any_unit():
    many_departments = [f"Sở thứ {n} của tỉnh Bắc Ninh" for n in range(1, 41)]  # far over 255 characters
    workbook = openpyxl.load_workbook(io.BytesIO(template(departments=many_departments)))
    rules = {str(rule.sqref): rule for rule in workbook["Danh sách"].data_validations.dataValidation}

    assert set(rules) == {"D2:D3001", "E2:E3001"}
    group_rule, unit_rule = rules["D2:D3001"], rules["E2:E3001"]
    assert group_rule.type == unit_rule.type == "list"
    assert group_rule.showErrorMessage
    assert not unit_rule.showErrorMessage
    choices = workbook["Danh mục"]
    group_range = workbook.defined_names[group_rule.formula1].attr_text
    unit_range = workbook.defined_names[unit_rule.formula1].attr_text
    assert group_range == "'Danh mục'!$A$2:$A$5"
    assert unit_range == "'Danh mục'!$B$2:$B$44"
    assert [cell.value for cell in choices["A"][1:5]] == GROUPS
    assert [cell.value for cell in choices["B"][1:44]] == many_departments + DISTRICTS


def test_template_phone_column_is_formatted_as_text():
    sheet = openpyxl.load_workbook(io.BytesIO(template()))["Danh sách"]

    assert sheet.column_dimensions["G"].number_format == "@"


def test_template_instructions_explain_columns_groups_overlap_examples_formats_and_limits():
    guide = openpyxl.load_workbook(io.BytesIO(template()))["Hướng dẫn"]
    text = "\n".join(str(cell.value) for row in guide.iter_rows() for cell in row if cell.value)

    assert "Bắc Ninh" in text
    for _, name in COLUMNS:
        assert name in text
    for group in GROUPS:
        assert group in text
    assert "chỉ ghi một lần, ở nhóm “Đại biểu Hội đồng nhân dân cấp tỉnh”" in text
    assert "“Ví dụ”" in text and "bỏ qua" in text
    assert ".xlsx" in text and ".csv" in text and ".xls" in text
    assert "20.000 dòng" in text and "5 MB" in text


def test_template_says_thanh_pho_for_a_centrally_run_city():
    sheet = openpyxl.load_workbook(io.BytesIO(template(province_name="Thành phố Hà Nội")))["Danh sách"]

    assert sheet["C2"].value == "Phó Chủ tịch HĐND thành phố"
    assert sheet["E2"].value == "Hội đồng nhân dân thành phố Hà Nội"


def test_template_read_back_unchanged_has_no_data_rows():
    error = refusal(template(), "mau.xlsx")

    assert error.code == "no_data"
    assert error.message.startswith("Tệp không có dòng dữ liệu nào")


def test_template_filled_in_with_openpyxl_reads_back_its_rows():
    workbook = openpyxl.load_workbook(io.BytesIO(template()))
    sheet = workbook["Danh sách"]
    sheet.append(AN)
    sheet.append(BINH)
    buffer = io.BytesIO()
    workbook.save(buffer)

    result = read(buffer.getvalue())

    assert result.sheet_name == "Danh sách"
    assert [row.number for row in result.rows] == [5, 6]
    assert people(result) == PEOPLE
    assert result.rows[0].values["phone"] == "0912345678"
    assert result.example_rows_skipped == 3


# ------------------------------------------------------------------------ exports


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+84912345678", "'+84912345678"),
        ("@SUM(A1:A3)", "'@SUM(A1:A3)"),
        ("-2", "'-2"),
        ("\t=1+2", "'\t=1+2"),
        ("\r=1+2", "'\r=1+2"),
        ("  =HYPERLINK(\"http://x.vn\")", "'  =HYPERLINK(\"http://x.vn\")"),
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        ("a=b", "a=b"),
        ("0912345678", "0912345678"),
        ("", ""),
    ],
)
def test_neutralise_formula_prefixes_a_quote_to_text_that_could_run(value, expected):
    assert neutralise_formula(value) == expected


def exported_sheet(data: bytes):  # noqa: ANN201 - an openpyxl worksheet
    return openpyxl.load_workbook(io.BytesIO(data)).active


def test_export_writes_dangerous_text_as_plain_text_cells():
    data = export_rows(
        ["Họ và tên", "Ghi chú", "Số điện thoại"],
        [["Nguyễn Văn An", "=1+2", "+84912345678"], ["Trần Thị Bình", "@SUM(A1)", "-2"]],
        sheet_title="Danh sách",
    )
    sheet = exported_sheet(data)

    values = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    # The value is exactly the text (no stray "'" shown in Excel or LibreOffice), typed as text, and
    # the cells that look like formulas carry the quotePrefix style so an edit keeps them text.
    assert values == [["Nguyễn Văn An", "=1+2", "+84912345678"], ["Trần Thị Bình", "@SUM(A1)", "-2"]]
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row)
    assert [cell.quotePrefix for row in sheet.iter_rows(min_row=2) for cell in row] == [
        False, True, True, False, True, True]
    assert b"<f>" not in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")


def test_export_keeps_phone_numbers_as_text_and_numbers_as_numbers():
    data = export_rows(["Số điện thoại", "Số phiếu", "Ngày gửi"], [["0912345678", 12, dt.date(2022, 1, 15)]],
                       sheet_title="Tiến độ")
    sheet = exported_sheet(data)

    assert sheet["A2"].value == "0912345678" and sheet["A2"].data_type == "s"
    assert sheet["B2"].value == 12 and sheet["B2"].data_type == "n"
    assert sheet["C2"].value.date() == dt.date(2022, 1, 15)
    assert sheet["C2"].number_format == "dd/mm/yyyy"


def test_export_has_a_bold_frozen_header_fitted_widths_and_an_optional_title():
    data = export_rows(["STT", "Cơ quan/đơn vị"], [[1, "Văn phòng Đoàn đại biểu Quốc hội và HĐND tỉnh"]],
                       sheet_title="Danh sách: tỉnh/thành?", title="TIẾN ĐỘ KHẢO SÁT — TỈNH BẮC NINH")
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.active

    assert sheet.title == "Danh sách- tỉnh-thành-"
    assert sheet["A1"].value == "TIẾN ĐỘ KHẢO SÁT — TỈNH BẮC NINH" and sheet["A1"].font.bold
    assert [cell.value for cell in sheet[3]] == ["STT", "Cơ quan/đơn vị"]
    assert all(cell.font.bold for cell in sheet[3])
    assert sheet.freeze_panes == "A4"
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["A"].width >= 8


def test_export_drops_control_characters_excel_cannot_store():
    data = export_rows(["Ghi chú"], [["dòng\x00một\x07"], [None]], sheet_title="Xuất")

    sheet = exported_sheet(data)

    assert sheet["A2"].value == "dòngmột"
    assert sheet["A3"].value is None


def test_export_read_back_by_calamine_shows_the_text_not_a_result():
    data = export_rows(["Ghi chú"], [["=1+2"]], sheet_title="Xuất")

    rows = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()

    assert rows == [["Ghi chú"], ["=1+2"]]


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_the_zip_check_reading_a_few_bytes_at_a_time_finds_what_it_finds_in_whole_entries(monkeypatch, chunk):
    # The check inflates each entry a chunk at a time (1 MB); tiny chunks cut every tag and word somewhere.
    from portal.domain import spreadsheets

    far = openpyxl.Workbook()
    far.active.append(HEADER)
    far.active.append(AN)
    far.active["XFD1048576"] = "x"
    far_data = io.BytesIO()
    far.save(far_data)
    with_formula = list_xlsx([HEADER, [*AN[:7], "=1/0"]])
    plain = list_xlsx(PEOPLE_ROWS)
    whole = read(plain)

    monkeypatch.setattr(spreadsheets, "_INFLATE_CHUNK", chunk)

    assert refusal(far_data.getvalue()).code == "sheet_too_large"
    assert read(with_formula).rows[0].formulas == {"note": "=1/0"}
    assert read(plain) == whole
