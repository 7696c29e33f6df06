"""Nhập danh sách đối tượng (issue 3), end to end through the routes, with real .xlsx and .csv files.

Hà Nội's province account uploads, checks, fixes and sends its list; the ministry reads, returns and extends.
The 2021 campaign is current: the list is due on 15/01/2022, so every test runs at 09:00 on 05/01/2022 in
Hà Nội unless it travels elsewhere.
"""

from __future__ import annotations

import gc
import io
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import openpyxl
import pytest
import time_machine
from sqlmodel import Session, select

from portal.domain import list_import, lists, outbox
from portal.domain.campaigns import current_campaign
from portal.models import (
    AuditEntry,
    ListStatus,
    MinistryNotice,
    OutboxMessage,
    Province,
    Respondent,
    RespondentGroup,
    RespondentList,
    Role,
    User,
)
from tests.support.accounts import HA_NOI, HAI_PHONG, PASSWORD, log_in, make_user
from tests.support.html import text_of
from tests.support.respondent_files import (
    GROUP_1,
    GROUP_2,
    GROUP_3,
    GROUP_4,
    HEADER,
    csv_text,
    password_protected_workbook,
    windows_1258,
    xlsx_bytes,
    zip_bomb_workbook,
)
from tests.support.smtp import mail_config

BASE = "/khao-sat/danh-sach"
TZ = "Asia/Ho_Chi_Minh"
DA_NANG = 48

AN = ["1", "Nguyễn Văn An", "Giám đốc", GROUP_2, "Sở Tài chính", "an.nv@hanoi.gov.vn", "0912345678", ""]
BINH = ["2", "Trần Thị Bình", "Trưởng phòng Ngân sách", GROUP_3, "Sở Tài chính", "binh.tt@hanoi.gov.vn", "", ""]
CUONG = ["3", "Lê Văn Cường", "Chủ tịch UBND", GROUP_4, "Quận Ba Đình", "cuong.lv@hanoi.gov.vn", "", ""]
DUNG = ["4", "Phạm Thị Dung", "Phó Chủ tịch HĐND thành phố", GROUP_1, "Hội đồng nhân dân thành phố Hà Nội",
        "dung.pt@hanoi.gov.vn", "", ""]
HUNG = ["5", "Đỗ Văn Hùng", "Chánh Thanh tra thành phố", GROUP_2, "Thanh tra thành phố", "hung.dv@hanoi.gov.vn",
        "", ""]
VALID = [AN, BINH, CUONG, DUNG, HUNG]
# (row in the sheet, name, group number, unit, email) of VALID once imported: the header is row 1.
VALID_PEOPLE = [
    (2, "Nguyễn Văn An", 2, "Sở Tài chính", "an.nv@hanoi.gov.vn"),
    (3, "Trần Thị Bình", 3, "Sở Tài chính", "binh.tt@hanoi.gov.vn"),
    (4, "Lê Văn Cường", 4, "Quận Ba Đình", "cuong.lv@hanoi.gov.vn"),
    (5, "Phạm Thị Dung", 1, "Hội đồng nhân dân thành phố Hà Nội", "dung.pt@hanoi.gov.vn"),
    (6, "Đỗ Văn Hùng", 2, "Thanh tra thành phố", "hung.dv@hanoi.gov.vn"),
]
DUNG_ALONE = (2, "Phạm Thị Dung", 1, "Hội đồng nhân dân thành phố Hà Nội", "dung.pt@hanoi.gov.vn")
NEW_PERSON = {"full_name": "Vũ Thị Lan", "position": "Phó Giám đốc", "group": GROUP_2, "unit": "Sở Y tế",
              "email": "lan.vt@hanoi.gov.vn", "phone": "0987654321", "note": ""}

LOCKED = ("Danh sách đã được gửi Bộ Nội vụ nên không thể sửa. Nếu cần chỉnh sửa, hãy gửi đề nghị trả lại "
          "danh sách (mục “Đề nghị”).")
PAST_DEADLINE = ("Đã hết hạn gửi danh sách (15/01/2022). Danh sách không thể sửa hay gửi nữa; nếu cần, hãy gửi đề "
                 "nghị gia hạn (mục “Đề nghị”).")


@pytest.fixture(autouse=True)
def before_the_deadline():
    with time_machine.travel("2022-01-05 09:00 +0700", tick=False) as traveller:
        yield traveller


# ---------------------------------------------------------------- helpers


def upload(client, data: bytes, filename: str = "danh-sach.xlsx"):
    return client.post(f"{BASE}/tai-len", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def client_for(app, user: User):
    client = app.test_client()
    log_in(client, user)
    return client


@contextmanager
def signed_in_at(moment: str, *logins: tuple) -> Iterator[None]:
    """Travel to `moment`, each (client, user) logged in again: a session cookie is valid for 8 hours only."""
    with time_machine.travel(moment, tick=False):
        for client, user in logins:
            log_in(client, user)
        yield


def row_fields(row: list[str], **changes: str) -> dict[str, str]:
    """A sheet row as the edit form posts it."""
    _, full_name, position, group, unit, email, phone, note = row
    return {"full_name": full_name, "position": position, "group": group, "unit": unit, "email": email,
            "phone": phone, "note": note, **changes}


def hanoi_list(session: Session, province_id: int = HA_NOI) -> RespondentList | None:
    session.expire_all()
    return lists.list_for(session, current_campaign(session), province_id)


def people_rows(session: Session, province_id: int = HA_NOI) -> list[Respondent]:
    rlist = hanoi_list(session, province_id)
    if rlist is None:
        return []
    return list(session.exec(select(Respondent).where(Respondent.list_id == rlist.id)
                             .order_by(Respondent.row_number, Respondent.id)))


def people(session: Session, province_id: int = HA_NOI) -> list[tuple[int, str, int | None, str, str]]:
    """(row, name, group number, unit, email) of the province's draft, in row order."""
    numbers = {g.id: g.number for g in session.exec(select(RespondentGroup))}
    return [(p.row_number, p.full_name, numbers.get(p.group_id), p.unit, p.email)
            for p in people_rows(session, province_id)]


def person_named(session: Session, name: str) -> Respondent:
    return next(p for p in people_rows(session) if p.full_name == name)


def errors_of(person: Respondent) -> list[str]:
    return [p["message"] for p in lists.row_problems(person) if p["level"] == "error"]


def saved_draft(session: Session, province_id: int = HA_NOI) -> tuple:
    """Everything stored about the province's list, to prove a refused request changed nothing."""
    rlist = hanoi_list(session, province_id)
    if rlist is None:
        return ()
    return (rlist.model_dump(), [p.model_dump() for p in people_rows(session, province_id)])


def audit_actions(session: Session) -> list[tuple[str, str, int | None]]:
    session.expire_all()
    return [(e.actor_name, e.action, e.province_id)
            for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]


def ministry_notices(session: Session) -> list[tuple[str, str]]:
    session.expire_all()
    return [(n.title, n.body) for n in session.exec(select(MinistryNotice).order_by(MinistryNotice.id))]


def page(client, url: str) -> str:
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def table_rows(html: str) -> list[list[str]]:
    """The visible text of each cell, row by row, of every table body on the page."""
    bodies = "".join(re.findall(r"<tbody>(.*?)</tbody>", html, re.S))
    return [[text_of(cell) for cell in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", bodies, re.S)]


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="r-(\d+)"', html)]


def send_version(client) -> str:
    match = re.search(r'name="version" value="(\d+)"', page(client, f"{BASE}/gui"))
    assert match, "the send page shows no confirmation form"
    return match.group(1)


@pytest.fixture
def officer(client, province_user):
    """Hà Nội's province account, logged in."""
    log_in(client, province_user)
    return client


@pytest.fixture
def draft(officer):
    """Hà Nội with the five VALID people uploaded as an .xlsx."""
    response = upload(officer, xlsx_bytes(VALID))
    assert response.status_code == 303
    return officer


@pytest.fixture
def sent(draft, session):
    """Hà Nội's list, sent."""
    response = draft.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": send_version(draft)})
    assert response.status_code == 303
    assert hanoi_list(session).status == ListStatus.SENT
    return draft


# ---------------------------------------------------------------- 1. the template


def test_template_is_an_xlsx_made_for_ha_noi_with_drop_downs_and_a_frozen_header(officer):
    response = officer.get(f"{BASE}/mau.xlsx")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == \
        "attachment; filename=mau-danh-sach-khao-sat-ha-noi.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames == ["Hướng dẫn", "Danh sách", "Danh mục"]
    sheet, choices = workbook["Danh sách"], workbook["Danh mục"]
    assert [c.value for c in sheet[1]] == HEADER
    assert sheet.freeze_panes == "A2"
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Ví dụ", "Ví dụ", "Ví dụ"]
    assert sorted(dv.formula1 for dv in sheet.data_validations.dataValidation) == ["DanhMucDonVi", "DanhMucNhom"]
    assert [c.value for c in choices["A"][1:] if c.value] == [GROUP_1, GROUP_2, GROUP_3, GROUP_4]
    units = [c.value for c in choices["B"][1:]]
    assert len(units) == 51  # 21 departments (Hà Nội's own Sở Du lịch and Sở Văn hóa và Thể thao), 30 districts
    assert {"Sở Tài chính", "Thanh tra thành phố", "Văn phòng Ủy ban nhân dân thành phố", "Quận Ba Đình",
            "Huyện Đông Anh", "Thị xã Sơn Tây", "Sở Du lịch", "Sở Văn hóa và Thể thao",
            "Sở Quy hoạch - Kiến trúc"} <= set(units)
    assert "Sở Văn hóa, Thể thao và Du lịch" not in units
    assert "Quận Lê Chân" not in units  # Hải Phòng's
    assert choices.sheet_state == "hidden"


def test_the_template_filled_in_and_uploaded_back_imports_its_rows_and_ignores_the_examples(officer, session):
    template = officer.get(f"{BASE}/mau.xlsx").data
    workbook = openpyxl.load_workbook(io.BytesIO(template))
    sheet = workbook["Danh sách"]
    first_free = sheet.max_row + 1
    for offset, row in enumerate(VALID):
        for column, value in enumerate(row, start=1):
            sheet.cell(row=first_free + offset, column=column, value=value)
    filled = io.BytesIO()
    workbook.save(filled)

    response = upload(officer, filled.getvalue(), "mau-danh-sach-khao-sat-ha-noi.xlsx")

    assert response.status_code == 303
    assert response.headers["Location"] == f"{BASE}/ra-soat"
    assert first_free == 5  # below the header and the three example rows
    assert people(session) == [(row + 3, *rest) for row, *rest in VALID_PEOPLE]
    assert "Đã nhập 5 người từ tệp “mau-danh-sach-khao-sat-ha-noi.xlsx”; không có lỗi." in page(
        officer, f"{BASE}/ra-soat")


def test_the_template_uploaded_back_unchanged_is_refused_as_having_no_data(officer, session):
    response = upload(officer, officer.get(f"{BASE}/mau.xlsx").data, "mau.xlsx")

    assert response.status_code == 422
    assert "Tệp không có dòng dữ liệu nào: dưới dòng tiêu đề (dòng 1) chỉ có dòng trống hoặc dòng ví dụ." in \
        text_of(response.get_data(as_text=True))
    assert people(session) == []


# ---------------------------------------------------------------- 2. upload: formats


def _utf16_tab(rows: list[list[str]]) -> bytes:
    return b"\xff\xfe" + csv_text(rows, delimiter="\t").encode("utf-16-le")


CSV_KINDS = {
    "utf-8 without BOM": lambda rows: csv_text(rows).encode("utf-8"),
    "utf-8 with BOM (Excel's CSV UTF-8)": lambda rows: csv_text(rows).encode("utf-8-sig"),
    "utf-16 tab-separated (Excel's Unicode text)": _utf16_tab,
    "windows-1258 (Excel's CSV on Vietnamese Windows)": lambda rows: windows_1258(csv_text(rows)),
    "semicolon separated": lambda rows: csv_text(rows, delimiter=";").encode("utf-8"),
}


@pytest.mark.parametrize("kind", CSV_KINDS)
def test_a_csv_in_any_of_excels_encodings_and_separators_imports_the_same_list(officer, session, kind):
    data = CSV_KINDS[kind](VALID)

    response = upload(officer, data, "danh-sach.csv")

    assert response.status_code == 303
    assert people(session) == VALID_PEOPLE
    assert all(unicodedata.is_normalized("NFC", p.full_name + p.unit + p.position) for p in people_rows(session))


def test_headers_without_diacritics_in_another_order_extra_columns_and_blank_rows_are_understood(officer, session):
    header = ["EMAIL CONG VU", "Ho va ten", "Chuc vu", "Co quan, don vi", "Nhom doi tuong", "So dien thoai", "STT",
              "Xếp loại"]
    rows = [[r[5], r[1], r[2], r[4], r[3], r[6], r[0], "Xuất sắc"] for r in VALID]
    rows.insert(2, [""] * 8)
    rows.insert(4, ["", "", "", "", "", "", "7", "Tốt"])  # a pre-numbered empty row
    data = xlsx_bytes(rows, header)

    response = upload(officer, data)

    assert response.status_code == 303
    assert [(name, group, unit, email) for _, name, group, unit, email in people(session)] == \
        [(name, group, unit, email) for _, name, group, unit, email in VALID_PEOPLE]
    assert [p.row_number for p in people_rows(session)] == [2, 3, 5, 7, 8]


def test_text_is_normalised_emails_lower_cased_and_phone_numbers_repaired(officer, session):
    decomposed_capitals = unicodedata.normalize("NFD", "  NGUYỄN   THỊ   XUÂN ")
    rows = [["1", decomposed_capitals, "Phó  Trưởng phòng", GROUP_3, "Sở  Y tế", "XUAN.NT@HANOI.GOV.VN", 912345678,
             ""],
            ["2", "Ngô Văn Yên", "Phó Chủ tịch UBND", GROUP_4, "Huyện Đông Anh", "yen.nv@hanoi.gov.vn",
             "+84 912 345 679", ""]]

    response = upload(officer, xlsx_bytes(rows))

    assert response.status_code == 303
    xuan, yen = people_rows(session)
    assert (xuan.full_name, xuan.position, xuan.unit, xuan.email, xuan.phone) == \
        ("Nguyễn Thị Xuân", "Phó Trưởng phòng", "Sở Y tế", "xuan.nt@hanoi.gov.vn", "0912345678")
    # "+84 …" reads in the national form every other row has.
    assert (yen.phone, yen.error_count, xuan.error_count) == ("0912345679", 0, 0)
    assert "Dòng 2, cột Số điện thoại: số “912345678” bị mất số 0 ở đầu (ô kiểu số trong bảng tính), đã sửa thành " \
           "“0912345678”." in text_of(page(officer, f"{BASE}/ra-soat"))


def test_a_successful_upload_replaces_the_whole_draft(draft, session):
    response = upload(draft, csv_text([DUNG]).encode(), "chi-hdnd.csv")

    assert response.status_code == 303
    assert people(session) == [DUNG_ALONE]
    assert hanoi_list(session).source_filename == "chi-hdnd.csv"


# ---------------------------------------------------------------- 2. upload: bad files leave the draft untouched


def _docx() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def _too_many_rows() -> bytes:
    row = ["1", "Nguyễn Văn An", "Giám đốc", GROUP_2, "Sở Tài chính", "an.nv@hanoi.gov.vn", "", ""]
    return csv_text([row] * 20_001).encode()


BAD_FILES = {
    "a PDF": (lambda: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "danh-sach.pdf",
              "Tệp không phải bảng tính Excel (.xlsx) hoặc CSV (đây là tệp PDF). Hãy tải lên tệp danh sách theo mẫu "
              "của Cổng (.xlsx) hoặc tệp .csv."),
    "an image named .xlsx": (lambda: b"\x89PNG\r\n\x1a\n" + bytes(200), "danh-sach.xlsx",
                             "Tệp không phải bảng tính Excel (.xlsx) hoặc CSV (đây là tệp hình ảnh)."),
    "a Word document": (_docx, "danh-sach.docx", "(đây là văn bản Word)"),
    "a binary file": (lambda: bytes(range(256)) * 40, "danh-sach.csv",
                      "Tệp không phải bảng tính Excel (.xlsx) hoặc CSV."),
    "an empty file": (lambda: b"", "danh-sach.csv",
                      "Tệp tải lên trống (0 byte). Hãy kiểm tra lại tệp danh sách rồi tải lên lần nữa."),
    "a header-only xlsx": (lambda: xlsx_bytes([]), "danh-sach.xlsx",
                           "Tệp không có dòng dữ liệu nào: dưới dòng tiêu đề (dòng 1) chỉ có dòng trống hoặc dòng "
                           "ví dụ."),
    "a header-only csv": (lambda: csv_text([]).encode(), "danh-sach.csv", "Tệp không có dòng dữ liệu nào"),
    "a sheet without the list's header": (lambda: xlsx_bytes([["a", "b"]], ["Cột 1", "Cột 2"]), "bang.xlsx",
                                          "Không tìm thấy dòng tiêu đề của danh sách trong 20 dòng đầu của tệp."),
    "a password-protected workbook": (password_protected_workbook, "danh-sach.xlsx",
                                      "Tệp đang được đặt mật khẩu nên hệ thống không đọc được. Hãy mở tệp bằng "
                                      "Excel, gỡ mật khẩu"),
    "a truncated xlsx": (lambda: xlsx_bytes(VALID)[:3000], "danh-sach.xlsx",
                         "Tệp bảng tính bị hỏng hoặc chưa được tải lên hết nên không đọc được."),
    "an xlsx with a damaged sheet": (lambda: xlsx_bytes(VALID).replace(b"xl/worksheets/sheet1.xml",
                                                                       b"xl/worksheets/sheetX.xml"),
                                     "danh-sach.xlsx", "Tệp bảng tính bị hỏng"),
    "a zip bomb": (zip_bomb_workbook, "danh-sach.xlsx",
                   "Tệp có cấu trúc nén bất thường (khi giải nén vượt quá 100 MB hoặc có tỷ lệ nén bất thường) nên "
                   "không thể đọc an toàn."),
    "more than 20,000 rows": (_too_many_rows, "danh-sach.csv",
                              "Tệp có quá nhiều dòng dữ liệu: mỗi lần tải lên chỉ nhận tối đa 20.000 dòng, và mỗi "
                              "lần tải lên thay cả danh sách."),
}


def test_the_row_limit_is_the_configured_one_and_a_longer_file_is_refused_keeping_the_draft(
        app, client, province_user, session):
    app.config["PORTAL_LIST_MAX_ROWS"] = 4
    log_in(client, province_user)
    assert upload(client, xlsx_bytes(VALID[:4])).status_code == 303
    before = saved_draft(session)

    response = upload(client, xlsx_bytes(VALID))

    assert response.status_code == 422
    html = text_of(response.get_data(as_text=True))
    assert ("Tệp có quá nhiều dòng dữ liệu: mỗi lần tải lên chỉ nhận tối đa 4 dòng, và mỗi lần tải lên thay cả "
            "danh sách. Hãy xóa các dòng thừa (dòng trống còn định dạng, dữ liệu dán nhầm) rồi tải lên lại; nếu "
            "danh sách của tỉnh thật sự dài hơn, hãy liên hệ Bộ Nội vụ.") in html
    assert "tối đa 5 MB và 4 dòng." in html
    assert saved_draft(session) == before


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_bad_file_is_refused_with_a_clear_message_and_the_saved_draft_untouched(draft, session, kind):
    make, filename, message = BAD_FILES[kind]
    before = saved_draft(session)

    response = upload(draft, make(), filename)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    alert = re.search(r'<p class="msg msg-error" role="alert" id="upload-error">(.*?)</p>', html, re.S)
    assert alert and message in text_of(alert.group(1))
    assert saved_draft(session) == before
    assert people(session) == VALID_PEOPLE
    assert audit_actions(session) == [("ha-noi", "Tải lên danh sách", HA_NOI)]


def test_submitting_the_form_without_a_file_asks_for_one(draft, session):
    before = saved_draft(session)

    response = draft.post(f"{BASE}/tai-len", data={}, content_type="multipart/form-data")

    assert response.status_code == 422
    assert "Vui lòng chọn tệp danh sách (.xlsx hoặc .csv) trước khi bấm “Tải lên”." in \
        text_of(response.get_data(as_text=True))
    assert saved_draft(session) == before


def test_the_page_states_the_size_limit_and_a_larger_file_is_refused_saying_it(draft, session):
    before = saved_draft(session)

    response = upload(draft, b"STT,Ho va ten,Email\n" + b"x" * (5 * 1024 * 1024), "to-qua.csv")

    assert "tối đa 5 MB và 20.000 dòng" in text_of(page(draft, f"{BASE}/"))
    assert response.status_code == 413
    assert "Tệp tải lên vượt quá dung lượng cho phép (5 MB). Vui lòng chọn tệp nhỏ hơn." in \
        text_of(response.get_data(as_text=True))
    assert saved_draft(session) == before


def test_script_tags_and_formulas_are_stored_as_typed_and_shown_as_text_never_as_markup(officer, session):
    rows = [["1", "<script>alert('xss')</script>", "=1+2", GROUP_2, "Sở Tài chính", "an.nv@hanoi.gov.vn", "",
             '=HYPERLINK("http://evil.example","Bấm")'],
            ["2", "Trần Thị Bình", "Trưởng phòng", GROUP_3, '<img src=x onerror="alert(1)">',
             "binh.tt@hanoi.gov.vn", "", ""]]

    response = upload(officer, csv_text(rows).encode(), "<b onmouseover=alert(2)>ds</b>.csv")

    assert response.status_code == 303
    script, image = people_rows(session)
    assert (script.full_name, script.position, script.note) == \
        ("<script>alert('xss')</script>", "=1+2", '=HYPERLINK("http://evil.example","Bấm")')
    assert image.unit == '<img src=x onerror="alert(1)">'
    html = page(officer, f"{BASE}/ra-soat")
    fragment = officer.get(f"{BASE}/nguoi/{script.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    edit_form = page(officer, f"{BASE}/nguoi/{image.id}/sua")
    for markup in (html, fragment, edit_form):
        assert "<script>alert" not in markup
        assert "<img src=x" not in markup
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html + fragment
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html + edit_form
    assert "<b onmouseover" not in html
    assert "Tệp đã nhập: &lt;b onmouseover=alert(2)&gt;ds&lt;/b&gt;.csv" in html
    assert "Dòng 2, cột Họ và tên: họ và tên “<script>alert('xss')</script>” có ký tự không hợp lệ" in text_of(html)
    assert "Dòng 2, cột Chức vụ: chức vụ “=1+2” không phải chức vụ của nhóm 2" in text_of(html)


def test_a_formula_in_an_xlsx_is_never_evaluated(officer, session):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["1", "Nguyễn Văn An", "=CONCATENATE(\"Giám \",\"đốc\")", GROUP_2, "Sở Tài chính",
                  "an.nv@hanoi.gov.vn", "=1+2", ""])
    assert sheet["C2"].data_type == "f"
    data = io.BytesIO()
    workbook.save(data)

    response = upload(officer, data.getvalue())

    assert response.status_code == 303
    (an,) = people_rows(session)
    # No stored result in the file: the officer sees the formula itself, never a computed "3".
    assert (an.position, an.phone) == ("=CONCATENATE(\"Giám \",\"đốc\")", "=1+2")
    assert "Dòng 2, cột Số điện thoại: số “=1+2” có ký tự không phải chữ số." in errors_of(an)
    assert [p["message"] for p in lists.row_problems(an) if p["level"] == "warning"] == [
        "Dòng 2, cột Chức vụ: ô là công thức “=CONCATENATE(\"Giám \",\"đốc\")” trong tệp, không có giá trị lưu "
        "kèm; cổng không tính công thức. Hãy nhập giá trị thật.",
        "Dòng 2, cột Số điện thoại: ô là công thức “=1+2” trong tệp, không có giá trị lưu kèm; cổng không tính "
        "công thức. Hãy nhập giá trị thật."]


def test_a_name_written_as_a_formula_is_shown_as_the_file_has_it_and_flagged_until_the_row_is_saved(
        officer, session):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["1", '=PROPER("trần thị bình")', "Trưởng phòng Ngân sách", GROUP_3, "Sở Tài chính",
                  "binh.tt@hanoi.gov.vn", "", ""])
    data = io.BytesIO()
    workbook.save(data)

    upload(officer, data.getvalue())

    (binh,) = people_rows(session)
    assert binh.full_name == '=PROPER("trần thị bình")'  # was "": the row read as a person without a name
    review = text_of(page(officer, f"{BASE}/ra-soat"))
    assert "Dòng 2, cột Họ và tên: chưa có họ tên (ô chỉ có công thức)." in review
    assert "ô là công thức “=PROPER(\"trần thị bình\")” trong tệp" in review

    officer.post(f"{BASE}/nguoi/{binh.id}", data=row_fields(BINH, full_name="Trần Thị Bình"))

    session.expire_all()
    (binh,) = people_rows(session)
    assert (binh.full_name, binh.error_count, lists.row_problems(binh)) == ("Trần Thị Bình", 0, [])


# ---------------------------------------------------------------- 3. check


COUNCIL_AN = ["6", "Nguyễn Văn An", "Giám đốc Sở Tài chính", GROUP_1, "Sở Tài chính", "an.nv@hanoi.gov.vn", "", ""]


def test_a_council_deputy_also_listed_as_director_is_kept_once_in_the_council_group_with_a_notice(officer, session):
    response = upload(officer, xlsx_bytes([*VALID, COUNCIL_AN]))

    assert response.status_code == 303
    assert people(session) == [*VALID_PEOPLE[1:], (7, "Nguyễn Văn An", 1, "Sở Tài chính", "an.nv@hanoi.gov.vn")]
    an = person_named(session, "Nguyễn Văn An")
    assert (an.phone, an.answers_ministry_form, an.error_count) == ("0912345678", False, 0)
    notice = ("Dòng 2: Nguyễn Văn An (nhóm 2 (Lãnh đạo cấp sở)) cũng là đại biểu ở dòng 7; mỗi người chỉ khảo sát "
              "một lần, giữ ở nhóm 1 (Đại biểu HĐND) theo quy định, đã bỏ dòng 2. Đã chuyển số điện thoại "
              "“0912345678” từ dòng 2 sang dòng 7.")
    assert lists.list_notices(hanoi_list(session)) == [notice]
    review = text_of(page(officer, f"{BASE}/ra-soat"))
    assert "Đã nhập 5 người từ tệp “danh-sach.xlsx”, gộp 1 dòng trùng; không có lỗi." in review
    assert "1 dòng đã gộp" in review
    assert notice in review


def test_the_same_person_twice_is_merged_with_a_notice(officer, session):
    again = ["6", "Trần Thị Bình", "Trưởng phòng Ngân sách", GROUP_3, "Sở Tài chính", "binh.tt@hanoi.gov.vn",
             "0987000111", ""]

    upload(officer, xlsx_bytes([*VALID, again]))

    assert people(session) == VALID_PEOPLE
    assert person_named(session, "Trần Thị Bình").phone == "0987000111"
    assert lists.list_notices(hanoi_list(session)) == [
        "Dòng 7: Trần Thị Bình trùng với dòng 3 (cùng email) trong nhóm 3 (Lãnh đạo cấp phòng thuộc sở); đã bỏ dòng "
        "7, giữ dòng 3. Đã chuyển số điện thoại “0987000111” từ dòng 7 sang dòng 3."]


def test_one_email_for_two_people_is_an_error_on_both_rows(officer, session):
    em = ["6", "Hoàng Văn Em", "Phó Giám đốc", GROUP_2, "Sở Y tế", "an.nv@hanoi.gov.vn", "", ""]

    upload(officer, xlsx_bytes([*VALID, em]))

    assert errors_of(person_named(session, "Nguyễn Văn An")) == [
        "Dòng 2, cột Email công vụ: địa chỉ “an.nv@hanoi.gov.vn” cũng được ghi cho người khác: dòng 7 (Hoàng Văn Em); "
        "mỗi người cần một hộp thư công vụ riêng."]
    assert errors_of(person_named(session, "Hoàng Văn Em")) == [
        "Dòng 7, cột Email công vụ: địa chỉ “an.nv@hanoi.gov.vn” cũng được ghi cho người khác: dòng 2 (Nguyễn Văn "
        "An); mỗi người cần một hộp thư công vụ riêng."]
    assert "Còn 2 dòng có lỗi cần sửa trước khi gửi." in text_of(page(officer, f"{BASE}/ra-soat"))


ROW_ERRORS = {
    "a position of another group": (
        ["6", "Bùi Văn Phúc", "Trưởng phòng", GROUP_2, "Sở Y tế", "phuc.bv@hanoi.gov.vn", "", ""],
        "Dòng 7, cột Chức vụ: chức vụ “Trưởng phòng” thuộc nhóm 3 (Lãnh đạo cấp phòng thuộc sở), không thuộc nhóm 2 "
        "(Lãnh đạo cấp sở)."),
    "a group that does not exist": (
        ["6", "Mai Văn Sơn", "Phó Giám đốc", "9", "Sở Y tế", "son.mv@hanoi.gov.vn", "", ""],
        "Dòng 7, cột Nhóm đối tượng: không có nhóm số 9 (“9”); ghi một trong các nhóm: 1 – Đại biểu Hội đồng nhân "
        "dân cấp tỉnh; 2 – Lãnh đạo cấp sở; 3 – Lãnh đạo cấp phòng thuộc sở; 4 – Lãnh đạo UBND cấp huyện."),
    "a department Hà Nội does not have": (
        ["6", "Hoàng Văn Em", "Giám đốc", GROUP_2, "Sở Không Có", "em.hv@hanoi.gov.vn", "", ""],
        "Dòng 7, cột Cơ quan/đơn vị: “Sở Không Có” chưa có trong danh mục sở, ngành của thành phố Hà Nội; nếu "
        "tỉnh có cơ quan này, hãy thêm vào danh mục."),
    "a district of another province": (
        ["6", "Đinh Văn Quang", "Chủ tịch UBND", GROUP_4, "Quận Lê Chân", "quang.dv@hanoi.gov.vn", "", ""],
        "Dòng 7, cột Cơ quan/đơn vị: “Quận Lê Chân” không phải quận, huyện, thị xã hoặc thành phố thuộc thành phố "
        "Hà Nội."),
    "a malformed email": (
        ["6", "Lý Văn Tài", "Phó Giám đốc", GROUP_2, "Sở Y tế", "tai@hanoi", "", ""],
        "Dòng 7, cột Email công vụ: địa chỉ “tai@hanoi” không hợp lệ (tên miền sau dấu @ không đầy đủ)."),
    "a missing name": (
        ["6", "", "Phó Giám đốc", GROUP_2, "Sở Y tế", "pho.gd@hanoi.gov.vn", "", ""],
        "Dòng 7, cột Họ và tên: chưa ghi họ và tên."),
}


@pytest.mark.parametrize("kind", ROW_ERRORS)
def test_a_row_error_names_the_row_the_column_and_the_problem(officer, session, kind):
    row, message = ROW_ERRORS[kind]

    upload(officer, xlsx_bytes([*VALID, row]))

    bad = [p for p in people_rows(session) if p.error_count]
    assert [(p.row_number, errors_of(p)) for p in bad] == [(7, [message])]
    review = text_of(page(officer, f"{BASE}/ra-soat"))
    assert message in review
    assert "Còn 1 dòng có lỗi cần sửa trước khi gửi." in review
    assert "Đã nhập 6 người từ tệp “danh-sach.xlsx”; còn 1 dòng có lỗi cần sửa." in review


# ---------------------------------------------------------------- 4. review and fix


BAD_POSITION = ["6", "Bùi Văn Phúc", "Trưởng phòng", GROUP_2, "Sở Y tế", "phuc.bv@hanoi.gov.vn", "", ""]


@pytest.fixture
def draft_with_an_error(officer):
    assert upload(officer, xlsx_bytes([*VALID, BAD_POSITION])).status_code == 303
    return officer


def test_review_shows_rows_with_errors_first_counts_per_group_and_filters(draft_with_an_error, session):
    phuc = person_named(session, "Bùi Văn Phúc")

    html = page(draft_with_an_error, f"{BASE}/ra-soat")
    only_errors = page(draft_with_an_error, f"{BASE}/ra-soat?loc=loi")
    searched = page(draft_with_an_error, f"{BASE}/ra-soat?q=nguyen+van+an")
    group_four = draft_with_an_error.get(f"{BASE}/ra-soat?loc=4",
                                        headers={"HX-Request": "true", "HX-Target": "list-table"})

    assert row_ids(html)[0] == phuc.id
    assert len(row_ids(html)) == 6
    summary = table_rows(html[html.index('id="list-summary"'):])[:4]
    assert summary == [["1. Đại biểu Hội đồng nhân dân cấp tỉnh", "1"], ["2. Lãnh đạo cấp sở", "3"],
                       ["3. Lãnh đạo cấp phòng thuộc sở", "1"], ["4. Lãnh đạo UBND cấp huyện", "1"]]
    assert row_ids(only_errors) == [phuc.id]
    assert row_ids(searched) == [person_named(session, "Nguyễn Văn An").id]
    fragment = group_four.get_data(as_text=True).lstrip()
    assert fragment.startswith('<div id="list-table">')
    assert "<html" not in fragment
    assert row_ids(fragment) == [person_named(session, "Lê Văn Cường").id]


def test_a_plain_post_of_an_edited_row_saves_it_rechecked_and_returns_to_the_row(draft_with_an_error, session):
    phuc = person_named(session, "Bùi Văn Phúc")
    version = hanoi_list(session).version

    response = draft_with_an_error.post(f"{BASE}/nguoi/{phuc.id}",
                                        data=row_fields(BAD_POSITION, position="Phó Giám đốc Sở Y tế"))

    assert response.status_code == 303
    assert response.headers["Location"] == f"{BASE}/ra-soat#r-{phuc.id}"
    phuc = person_named(session, "Bùi Văn Phúc")
    assert (phuc.position, phuc.error_count, phuc.row_number, phuc.answers_ministry_form) == \
        ("Phó Giám đốc Sở Y tế", 0, 7, True)
    assert hanoi_list(session).version == version + 1
    review = text_of(page(draft_with_an_error, f"{BASE}/ra-soat"))
    assert "Đã lưu." in review
    assert "Không còn lỗi." in review


def test_the_edit_form_is_a_page_and_for_htmx_a_table_row(draft_with_an_error, session):
    phuc = person_named(session, "Bùi Văn Phúc")

    full = page(draft_with_an_error, f"{BASE}/nguoi/{phuc.id}/sua")
    fragment = draft_with_an_error.get(f"{BASE}/nguoi/{phuc.id}/sua", headers={"HX-Request": "true"})

    assert "<h1>Sửa dòng 7: Bùi Văn Phúc</h1>" in full
    body = fragment.get_data(as_text=True).lstrip()
    assert body.startswith(f'<tr id="r-{phuc.id}" class="editing">')
    assert "<html" not in body
    assert f'hx-post="{BASE}/nguoi/{phuc.id}"' in body
    assert 'name="position" value="Trưởng phòng"' in body
    assert f'<option value="{GROUP_2}" selected>' in body


def test_an_htmx_save_returns_the_row_and_the_out_of_band_summary(draft_with_an_error, session):
    phuc = person_named(session, "Bùi Văn Phúc")

    response = draft_with_an_error.post(f"{BASE}/nguoi/{phuc.id}", headers={"HX-Request": "true"},
                                        data=row_fields(BAD_POSITION, position="Phó Giám đốc"))

    assert response.status_code == 200
    body = response.get_data(as_text=True).lstrip()
    assert body.startswith(f'<tr id="r-{phuc.id}" class="">')
    assert "<html" not in body
    assert '<div id="row-message" hx-swap-oob="true"></div>' in body
    summary = body[body.index('<section class="card" id="list-summary" hx-swap-oob="true">'):]
    assert "Không còn lỗi." in text_of(summary)
    assert ["2. Lãnh đạo cấp sở", "3"] in table_rows(summary)
    assert person_named(session, "Bùi Văn Phúc").error_count == 0


def test_an_htmx_answer_sends_its_out_of_band_parts_in_templates_so_a_browser_keeps_them_whole(
        draft_with_an_error, session):
    """After a <tr>, an HTML parser treats a bare <div> or <section> as misplaced table content and tears it
    apart (the summary arrived as a heading alone); inside a <template> each part is parsed on its own."""
    phuc = person_named(session, "Bùi Văn Phúc")

    response = draft_with_an_error.post(f"{BASE}/nguoi/{phuc.id}", headers={"HX-Request": "true"},
                                        data=row_fields(BAD_POSITION, position="Phó Giám đốc"))

    body = response.get_data(as_text=True)
    after_the_row = body[body.index("</tr>") + len("</tr>"):].lstrip()
    assert after_the_row.startswith('<template>\n<div id="row-message" hx-swap-oob="true">')
    template = after_the_row[:after_the_row.index("</template>")]
    assert '<section class="card" id="list-summary" hx-swap-oob="true">' in template
    assert template.count("<table") == template.count("</table>") == 1


def test_fixing_one_of_two_rows_sharing_an_email_also_refreshes_the_other_row(officer, session):
    em = ["6", "Hoàng Văn Em", "Phó Giám đốc", GROUP_2, "Sở Y tế", "an.nv@hanoi.gov.vn", "", ""]
    upload(officer, xlsx_bytes([*VALID, em]))
    an, em_row = person_named(session, "Nguyễn Văn An"), person_named(session, "Hoàng Văn Em")

    response = officer.post(f"{BASE}/nguoi/{em_row.id}", headers={"HX-Request": "true"},
                            data=row_fields(em, email="em.hv@hanoi.gov.vn"))

    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(f'<tr id="r-{em_row.id}" class="">')
    others = body[body.rindex("<template>"):]
    assert row_ids(others) == [an.id]
    assert f'<tr id="r-{an.id}" class="" hx-swap-oob="true">' in others
    assert "cũng được ghi cho người khác" not in others
    assert person_named(session, "Nguyễn Văn An").error_count == 0


def test_an_htmx_delete_refreshes_the_row_whose_error_it_cleared(officer, session):
    em = ["6", "Hoàng Văn Em", "Phó Giám đốc", GROUP_2, "Sở Y tế", "an.nv@hanoi.gov.vn", "", ""]
    upload(officer, xlsx_bytes([*VALID, em]))
    an, em_row = person_named(session, "Nguyễn Văn An"), person_named(session, "Hoàng Văn Em")

    response = officer.post(f"{BASE}/nguoi/{em_row.id}/xoa", headers={"HX-Request": "true"})

    body = response.get_data(as_text=True)
    assert row_ids(body) == [an.id]
    assert f'<tr id="r-{an.id}" class="" hx-swap-oob="true">' in body


def test_an_htmx_edit_that_merges_another_row_away_removes_that_row_from_the_page(draft, session):
    draft.post(f"{BASE}/them", data=row_fields(COUNCIL_AN, unit="Hội đồng nhân dân thành phố Hà Nội",
                                               email="an.hdnd@hanoi.gov.vn"))
    director, deputy = person_named(session, "Nguyễn Văn An"), people_rows(session)[-1]

    response = draft.post(f"{BASE}/nguoi/{deputy.id}", headers={"HX-Request": "true"},
                          data=row_fields(COUNCIL_AN, unit="Hội đồng nhân dân thành phố Hà Nội"))

    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(f'<tr id="r-{deputy.id}" class="">')
    assert f'<tr id="r-{director.id}" hx-swap-oob="delete"></tr>' in body
    assert [p.id for p in people_rows(session) if p.full_name == "Nguyễn Văn An"] == [deputy.id]
    assert "giữ ở nhóm 1 (Đại biểu HĐND) theo quy định, đã bỏ dòng 2." in text_of(body)


def test_an_htmx_save_that_keeps_an_error_shows_it_in_the_row(draft_with_an_error, session):
    phuc = person_named(session, "Bùi Văn Phúc")

    response = draft_with_an_error.post(f"{BASE}/nguoi/{phuc.id}", headers={"HX-Request": "true"},
                                        data=row_fields(BAD_POSITION, email="phuc@hanoi"))

    body = response.get_data(as_text=True).lstrip()
    assert body.startswith(f'<tr id="r-{phuc.id}" class="has-error">')
    assert errors_of(person_named(session, "Bùi Văn Phúc")) == [
        "Dòng 7, cột Chức vụ: chức vụ “Trưởng phòng” thuộc nhóm 3 (Lãnh đạo cấp phòng thuộc sở), không thuộc nhóm 2 "
        "(Lãnh đạo cấp sở).",
        "Dòng 7, cột Email công vụ: địa chỉ “phuc@hanoi” không hợp lệ (tên miền sau dấu @ không đầy đủ)."]
    assert "Còn 1 dòng có lỗi cần sửa trước khi gửi." in text_of(body)


def test_an_edit_that_makes_a_row_repeat_a_council_deputy_merges_it_into_the_council_row(draft, session):
    an = person_named(session, "Nguyễn Văn An")
    upload_count = len(people(session))
    add = draft.post(f"{BASE}/them", data=row_fields(COUNCIL_AN, unit="Hội đồng nhân dân thành phố Hà Nội",
                                                     email="an.hdnd@hanoi.gov.vn"))
    council_an = next(p for p in people_rows(session) if p.email == "an.hdnd@hanoi.gov.vn")

    response = draft.post(f"{BASE}/nguoi/{an.id}", headers={"HX-Request": "true"},
                          data=row_fields(AN, email="an.hdnd@hanoi.gov.vn"))

    assert add.status_code == 303
    assert council_an.row_number == 7
    body = response.get_data(as_text=True)
    assert "<tr" not in body.split('<section class="card" id="list-summary"')[0]
    assert "cũng là đại biểu ở dòng 7; mỗi người chỉ khảo sát một lần, giữ ở nhóm 1 (Đại biểu HĐND) theo quy định, " \
           "đã bỏ dòng 2." in text_of(body)
    assert len(people(session)) == upload_count
    assert [p.id for p in people_rows(session) if p.full_name == "Nguyễn Văn An"] == [council_an.id]


def test_adding_a_person_appends_a_checked_row(draft, session):
    response = draft.post(f"{BASE}/them", data=NEW_PERSON)

    assert response.status_code == 303
    lan = person_named(session, "Vũ Thị Lan")
    assert response.headers["Location"] == f"{BASE}/ra-soat#r-{lan.id}"
    assert (lan.row_number, lan.unit, lan.error_count, lan.answers_ministry_form) == (7, "Sở Y tế", 0, True)
    assert "Đã thêm một người vào danh sách." in text_of(page(draft, f"{BASE}/ra-soat"))


def test_adding_a_person_with_a_problem_keeps_the_row_with_its_error(draft, session):
    draft.post(f"{BASE}/them", data={**NEW_PERSON, "unit": "Sở Không Có"})

    assert errors_of(person_named(session, "Vũ Thị Lan")) == [
        "Dòng 7, cột Cơ quan/đơn vị: “Sở Không Có” chưa có trong danh mục sở, ngành của thành phố Hà Nội; nếu "
        "tỉnh có cơ quan này, hãy thêm vào danh mục."]


def test_adding_an_empty_row_is_refused(draft, session):
    before = saved_draft(session)

    response = draft.post(f"{BASE}/them", data={"full_name": " ", "email": ""}, follow_redirects=True)

    assert "Dòng mới chưa có nội dung: hãy nhập ít nhất họ tên và email." in text_of(response.get_data(as_text=True))
    assert saved_draft(session) == before


def test_deleting_one_of_two_people_sharing_an_email_clears_the_others_error(officer, session):
    em = ["6", "Hoàng Văn Em", "Phó Giám đốc", GROUP_2, "Sở Y tế", "an.nv@hanoi.gov.vn", "", ""]
    upload(officer, xlsx_bytes([*VALID, em]))
    em_id = person_named(session, "Hoàng Văn Em").id

    response = officer.post(f"{BASE}/nguoi/{em_id}/xoa")

    assert response.status_code == 303
    assert people(session) == VALID_PEOPLE
    assert person_named(session, "Nguyễn Văn An").error_count == 0
    assert "Đã xóa “Hoàng Văn Em” khỏi danh sách." in text_of(page(officer, f"{BASE}/ra-soat"))


def test_an_htmx_delete_empties_the_row_and_updates_the_summary(draft, session):
    hung_id = person_named(session, "Đỗ Văn Hùng").id

    response = draft.post(f"{BASE}/nguoi/{hung_id}/xoa", headers={"HX-Request": "true"})

    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<tr" not in body.split('<section class="card" id="list-summary"')[0]
    assert '<p class="msg msg-info" role="status">Đã xóa “Đỗ Văn Hùng” khỏi danh sách.</p>' in body
    assert ["2. Lãnh đạo cấp sở", "1"] in table_rows(body)
    assert people(session) == VALID_PEOPLE[:4]


def test_the_draft_survives_logging_out_and_in_again(client, province_user, session):
    login = {"username": "ha-noi", "password": PASSWORD}
    assert client.post("/dang-nhap", data=login).status_code == 302
    upload(client, xlsx_bytes(VALID))

    client.post("/dang-xuat")
    logged_out = client.get(f"{BASE}/ra-soat")
    client.post("/dang-nhap", data=login)
    html = page(client, f"{BASE}/ra-soat")

    assert logged_out.status_code == 302
    assert logged_out.headers["Location"].startswith("/dang-nhap")
    assert len(row_ids(html)) == 5
    assert "Tệp đã nhập: danh-sach.xlsx (09:00 05/01/2022)." in text_of(html)
    assert people(session) == VALID_PEOPLE


# ---------------------------------------------------------------- 5. send


def test_sending_is_refused_while_errors_are_left(draft_with_an_error, session):
    confirm = text_of(page(draft_with_an_error, f"{BASE}/gui"))
    version = hanoi_list(session).version

    response = draft_with_an_error.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": version})

    assert "Chưa thể gửi: còn dòng có lỗi." in confirm
    assert response.status_code == 422
    assert "Danh sách còn 1 dòng có lỗi. Hãy sửa hết lỗi trước khi gửi." in text_of(response.get_data(as_text=True))
    assert hanoi_list(session).status == ListStatus.DRAFT
    assert ministry_notices(session) == []


def test_an_empty_list_cannot_be_sent(officer, session):
    confirm = text_of(page(officer, f"{BASE}/gui"))

    response = officer.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": hanoi_list(session).version})

    assert "Chưa thể gửi: danh sách chưa có người nào." in confirm
    assert response.status_code == 422
    assert "Danh sách chưa có người nào. Hãy tải lên hoặc nhập danh sách trước khi gửi." in \
        text_of(response.get_data(as_text=True))


def test_the_confirmation_shows_counts_per_group_two_form_people_and_parent_ministries(draft):
    html = page(draft, f"{BASE}/gui")

    assert table_rows(html)[:5] == [["1. Đại biểu Hội đồng nhân dân cấp tỉnh", "1"], ["2. Lãnh đạo cấp sở", "2"],
                                    ["3. Lãnh đạo cấp phòng thuộc sở", "1"], ["4. Lãnh đạo UBND cấp huyện", "1"]]
    text = text_of(html)
    assert "Tổng 5" in text
    assert "Trả lời hai phiếu (địa phương và bộ chủ quản): 3 người." in text
    assert "Bộ chủ quản được đánh giá (phiếu thứ hai) Bộ Tài chính: 2 người Thanh tra Chính phủ: 1 người" in text
    assert "Bộ Nội vụ sẽ gửi thư mời trả lời phiếu khảo sát đến 5 địa chỉ thư điện tử trong danh sách." in text


def test_sending_locks_the_list_records_who_and_when_and_tells_the_ministry(app, draft, session, province_user,
                                                                           ministry_user):
    response = draft.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": send_version(draft)})

    assert response.status_code == 303
    assert response.headers["Location"] == f"{BASE}/"
    rlist = hanoi_list(session)
    assert (rlist.status, rlist.sent_by_id) == (ListStatus.SENT, province_user.id)
    assert rlist.sent_at.astimezone(UTC) == datetime(2022, 1, 5, 2, 0, tzinfo=UTC)
    assert ministry_notices(session) == [("Thành phố Hà Nội đã gửi danh sách đối tượng khảo sát",
                                          "5 người (nhóm 1: 1, nhóm 2: 2, nhóm 3: 1, nhóm 4: 1).")]
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "Gửi danh sách")).one()
    assert (entry.actor_name, entry.province_id, entry.detail) == \
        ("ha-noi", HA_NOI, "5 người (nhóm 1: 1, nhóm 2: 2, nhóm 3: 1, nhóm 4: 1); 3 người trả lời hai phiếu; "
         "đã xác nhận 2 cảnh báo")
    home = text_of(page(draft, f"{BASE}/"))
    assert "Đã gửi danh sách đến Bộ Nội vụ." in home
    assert "Đã gửi danh sách lúc 09:00 05/01/2022. Danh sách đã khóa" in home
    inbox = text_of(page(client_for(app, ministry_user), "/bo/danh-sach"))
    assert "Mới nhận (1) Thành phố Hà Nội đã gửi danh sách đối tượng khảo sát 09:00 05/01/2022" in inbox


def test_a_sent_list_refuses_uploads_edits_additions_and_deletions(sent, session):
    an = person_named(session, "Nguyễn Văn An")
    before = saved_draft(session)

    uploaded = upload(sent, xlsx_bytes([DUNG]))
    edited = sent.post(f"{BASE}/nguoi/{an.id}", data=row_fields(AN, position="Phó Giám đốc"), follow_redirects=True)
    htmx_edit = sent.post(f"{BASE}/nguoi/{an.id}", data=row_fields(AN, position="Phó Giám đốc"),
                          headers={"HX-Request": "true"})
    added = sent.post(f"{BASE}/them", data=NEW_PERSON, follow_redirects=True)
    deleted = sent.post(f"{BASE}/nguoi/{an.id}/xoa", follow_redirects=True)

    assert uploaded.status_code == 422
    assert LOCKED in text_of(uploaded.get_data(as_text=True))
    for response in (edited, added, deleted):
        assert LOCKED in text_of(response.get_data(as_text=True))
    assert htmx_edit.status_code == 409
    assert htmx_edit.headers["HX-Retarget"] == "#flash"
    assert LOCKED in text_of(htmx_edit.get_data(as_text=True))
    assert saved_draft(session) == before
    review = page(sent, f"{BASE}/ra-soat")
    assert "/sua" not in review and "/xoa" not in review and f"{BASE}/them" not in review


def test_a_second_post_of_the_send_form_does_not_send_twice_and_says_so(draft, session):
    version = send_version(draft)
    draft.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": version})
    after_first = saved_draft(session)

    second = draft.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": version}, follow_redirects=True)

    assert "Danh sách này đã được gửi trước đó; không gửi lại." in text_of(second.get_data(as_text=True))
    assert saved_draft(session) == after_first
    assert len(ministry_notices(session)) == 1
    assert [a for a in audit_actions(session) if a[1] == "Gửi danh sách"] == [("ha-noi", "Gửi danh sách", HA_NOI)]


def test_a_send_form_older_than_the_list_is_refused(draft, session):
    version = send_version(draft)
    dung = person_named(session, "Phạm Thị Dung")
    draft.post(f"{BASE}/nguoi/{dung.id}", data=row_fields(DUNG, phone="0912000004"))  # in another tab

    stale = draft.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": version})
    fresh = draft.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": send_version(draft)})

    assert stale.status_code == 422
    assert "Danh sách đã thay đổi kể từ khi bạn mở trang xác nhận. Vui lòng xem lại tóm tắt rồi gửi lại." in \
        text_of(stale.get_data(as_text=True))
    assert fresh.status_code == 303
    assert hanoi_list(session).status == ListStatus.SENT
    assert len(ministry_notices(session)) == 1


def test_two_tabs_sending_at_the_same_moment_send_once(draft, session, province_user):
    """A double click that reaches two workers: both read the draft before either writes."""
    campaign = current_campaign(session)
    province = session.get(Province, HA_NOI)
    first_tab, second_tab = hanoi_list(session), None
    with Session(session.get_bind()) as other:
        second_tab = lists.list_for(other, campaign, HA_NOI)
        version = second_tab.version
        assert second_tab.status == first_tab.status == ListStatus.DRAFT

        first = lists.send_list(session, province_user, first_tab, campaign, province, version=version, tz_name=TZ,
                                confirmed_warnings=True)
        second = lists.send_list(other, other.get(User, province_user.id), second_tab, campaign,
                                 other.get(Province, HA_NOI), version=version, tz_name=TZ, confirmed_warnings=True)

    assert (first, second) == (True, False)
    assert len(ministry_notices(session)) == 1
    assert [a[1] for a in audit_actions(session)] == ["Tải lên danh sách", "Gửi danh sách"]


@pytest.fixture
def ministry_mailbox(app_config, sink):
    """A real SMTP server on loopback (aiosmtpd) and the app configured to mail the ministry through it."""
    app_config.update(mail_config(sink, MAIL_CONFIGURED=True, PORTAL_MINISTRY_EMAIL="vucchc@moha.gov.vn"))
    return sink


def test_where_mail_is_configured_sending_also_emails_the_ministry(ministry_mailbox, app, draft, session):
    draft.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": send_version(draft)})
    [queued] = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "ministry")).all()
    assert queued.province_id == HA_NOI  # through the outbox: the send never waits on the relay

    outbox.run_once(app, "test-worker", limit=10)

    [received] = ministry_mailbox.messages
    assert received.rcpt_tos == ["vucchc@moha.gov.vn"]
    assert received.message["Subject"] == "[Cổng Chỉ số CCHC] Thành phố Hà Nội đã gửi danh sách đối tượng khảo sát"
    assert "Thành phố Hà Nội đã gửi danh sách đối tượng khảo sát lúc 09:00 05/01/2022." in \
        received.message.get_body(("plain",)).get_content()


# ---------------------------------------------------------------- the deadline


def _try_upload(client, session):
    return upload(client, xlsx_bytes([DUNG]), "moi.xlsx")


def _try_edit(client, session):
    return client.post(f"{BASE}/nguoi/{person_named(session, 'Nguyễn Văn An').id}",
                       data=row_fields(AN, position="Phó Giám đốc"))


def _try_add(client, session):
    return client.post(f"{BASE}/them", data=NEW_PERSON)


def _try_delete(client, session):
    return client.post(f"{BASE}/nguoi/{person_named(session, 'Đỗ Văn Hùng').id}/xoa")


def _try_send(client, session):
    return client.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": hanoi_list(session).version})


ACTIONS = {"upload": _try_upload, "edit": _try_edit, "add": _try_add, "delete": _try_delete, "send": _try_send}


@pytest.mark.parametrize("moment", ["2022-01-15 23:59:00 +0700", "2022-01-15 23:59:59 +0700"])
@pytest.mark.parametrize("action", ACTIONS)
def test_on_the_deadline_day_until_2359_the_province_may_still_change_and_send(draft, session, province_user,
                                                                              action, moment):
    before = saved_draft(session)

    with signed_in_at(moment, (draft, province_user)):
        response = ACTIONS[action](draft, session)

    assert response.status_code == 303
    assert saved_draft(session) != before


@pytest.mark.parametrize("action", ACTIONS)
def test_from_0000_after_the_deadline_the_province_can_neither_change_nor_send(draft, session, province_user,
                                                                               action):
    before = saved_draft(session)

    with signed_in_at("2022-01-16 00:00:00 +0700", (draft, province_user)):
        response = ACTIONS[action](draft, session)
        shown = response.get_data(as_text=True) if response.status_code == 422 else page(draft, f"{BASE}/ra-soat")
        home = text_of(page(draft, f"{BASE}/"))

    assert response.status_code in {302, 303, 422}
    assert PAST_DEADLINE in text_of(shown)
    assert saved_draft(session) == before
    assert "Tải lên và kiểm tra" not in home
    assert "Hạn gửi danh sách: 15/01/2022 (23:59 giờ Việt Nam)." in home


def test_the_deadline_ends_at_the_last_instant_of_the_day_in_vietnam(session):
    campaign = current_campaign(session)
    rlist = RespondentList(campaign_id=campaign.id, province_id=HA_NOI)

    last_instant = lists.editability(rlist, campaign, TZ, datetime(2022, 1, 15, 16, 59, 59, 999999, tzinfo=UTC))
    next_day = lists.editability(rlist, campaign, TZ, datetime(2022, 1, 15, 17, 0, tzinfo=UTC))

    assert (last_instant.allowed, last_instant.deadline) == (True, date(2022, 1, 15))
    assert (next_day.allowed, next_day.reason) == (False, PAST_DEADLINE)


def test_an_extension_reopens_the_list_until_its_date_for_that_province_only(app, draft, session, province_user,
                                                                            ministry_user, other_province_user):
    ministry = client_for(app, ministry_user)
    hai_phong = client_for(app, other_province_user)
    reason = "Thành phố đề nghị bổ sung lãnh đạo mới bổ nhiệm"

    with signed_in_at("2022-01-17 10:00 +0700", (ministry, ministry_user)):
        granted = ministry.post(f"/bo/danh-sach/{HA_NOI}/gia-han", data={"until": "20/01/2022", "reason": reason})
        flash = text_of(page(ministry, f"/bo/danh-sach/{HA_NOI}"))
    with signed_in_at("2022-01-20 23:59 +0700", (draft, province_user), (hai_phong, other_province_user)):
        ha_noi_upload = upload(draft, xlsx_bytes([DUNG]))
        hai_phong_upload = upload(hai_phong, csv_text([DUNG]).encode(), "hp.csv")
        home = text_of(page(draft, f"{BASE}/"))
        notices = text_of(page(draft, "/thong-bao/"))
    with signed_in_at("2022-01-21 00:00 +0700", (draft, province_user)):
        too_late = upload(draft, xlsx_bytes(VALID))

    assert granted.status_code == 303
    assert "Đã gia hạn gửi danh sách cho Thành phố Hà Nội đến 20/01/2022." in flash
    assert ha_noi_upload.status_code == 303
    assert people(session) == [DUNG_ALONE]
    assert "Hạn gửi danh sách: 20/01/2022 (23:59 giờ Việt Nam), đã được Bộ Nội vụ gia hạn." in home
    assert hai_phong_upload.status_code == 422
    assert PAST_DEADLINE in text_of(hai_phong_upload.get_data(as_text=True))
    assert people(session, HAI_PHONG) == []
    assert too_late.status_code == 422
    assert "Đã hết hạn gửi danh sách (20/01/2022)." in text_of(too_late.get_data(as_text=True))
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "Gia hạn gửi danh sách")).one()
    assert (entry.actor_name, entry.province_id, entry.detail, entry.reason) == \
        ("bonoivu", HA_NOI, "Đến 20/01/2022", reason)
    assert f"Bộ Nội vụ gia hạn gửi danh sách đến 20/01/2022 Hệ thống · 10:00 17/01/2022 Lý do: {reason}" in notices


@pytest.mark.parametrize(("form", "message"), [
    ({"until": "20/01/2022", "reason": ""}, "Vui lòng nêu lý do gia hạn."),
    ({"until": "04/01/2022", "reason": "Lý do"}, "Ngày gia hạn phải từ hôm nay trở đi."),
    ({"until": "20-01", "reason": "Lý do"}, "Vui lòng nhập ngày gia hạn theo dạng dd/mm/yyyy."),
])
def test_an_extension_needs_a_reason_and_a_date_from_today_on(app, draft, session, ministry_user, form, message):
    ministry = client_for(app, ministry_user)
    before = saved_draft(session)

    response = ministry.post(f"/bo/danh-sach/{HA_NOI}/gia-han", data=form, follow_redirects=True)

    assert message in text_of(response.get_data(as_text=True))
    assert saved_draft(session) == before
    assert [a for a in audit_actions(session) if a[0] == "bonoivu"] == []


# ---------------------------------------------------------------- the ministry: return for correction


RETURN_REASON = "Thiếu lãnh đạo Sở Nội vụ; đề nghị bổ sung"


def test_returning_a_list_needs_a_reason(app, sent, session, ministry_user):
    ministry = client_for(app, ministry_user)
    before = saved_draft(session)

    response = ministry.post(f"/bo/danh-sach/{HA_NOI}/tra-lai", data={"reason": "  "}, follow_redirects=True)

    assert "Vui lòng nêu lý do trả lại để địa phương biết cần chỉnh sửa gì." in text_of(response.get_data(as_text=True))
    assert saved_draft(session) == before


def test_a_return_with_an_unreadable_new_date_is_refused(app, sent, session, ministry_user):
    ministry = client_for(app, ministry_user)
    before = saved_draft(session)

    response = ministry.post(f"/bo/danh-sach/{HA_NOI}/tra-lai", data={"reason": RETURN_REASON,
                                                                      "extension_until": "31/02/2022"},
                             follow_redirects=True)

    assert "Ngày gia hạn không hợp lệ; hãy nhập theo dạng dd/mm/yyyy." in text_of(response.get_data(as_text=True))
    assert saved_draft(session) == before


def test_only_a_sent_list_can_be_returned(app, draft, session, ministry_user):
    ministry = client_for(app, ministry_user)

    response = ministry.post(f"/bo/danh-sach/{HA_NOI}/tra-lai", data={"reason": RETURN_REASON},
                             follow_redirects=True)

    assert "Chỉ trả lại được danh sách đã gửi." in text_of(response.get_data(as_text=True))
    assert hanoi_list(session).status == ListStatus.DRAFT


def test_returning_unlocks_the_list_tells_the_province_and_goes_into_the_audit_log(app, sent, session, province_user,
                                                                                   ministry_user):
    ministry = client_for(app, ministry_user)

    with signed_in_at("2022-01-06 14:30 +0700", (ministry, ministry_user), (sent, province_user)):
        response = ministry.post(f"/bo/danh-sach/{HA_NOI}/tra-lai", data={"reason": RETURN_REASON})
        province_home = text_of(page(sent, f"{BASE}/"))
        notices = text_of(page(sent, "/thong-bao/"))
        log = table_rows(page(ministry, "/bo/nhat-ky"))
        edited = sent.post(f"{BASE}/them", data=NEW_PERSON)
        resent = sent.post(f"{BASE}/gui", data={"xac_nhan": "1", "version": send_version(sent)})

    assert response.status_code == 303
    assert "Bộ Nội vụ đã trả lại danh sách lúc 14:30 06/01/2022 để chỉnh sửa. Lý do: " + RETURN_REASON in province_home
    assert "Bộ Nội vụ trả lại danh sách đối tượng khảo sát để chỉnh sửa Hệ thống · 14:30 06/01/2022 Lý do: " \
           f"{RETURN_REASON}" in notices
    assert ["14:30 06/01/2022", "bonoivu", "Trả lại danh sách để chỉnh sửa", "", RETURN_REASON] in log
    assert edited.status_code == 303
    assert resent.status_code == 303
    assert hanoi_list(session).status == ListStatus.SENT
    assert [a[1] for a in audit_actions(session)] == ["Tải lên danh sách", "Gửi danh sách",
                                                      "Trả lại danh sách để chỉnh sửa", "Thêm một người vào danh sách",
                                                      "Gửi danh sách"]


def test_a_return_after_the_deadline_can_give_a_new_date(app, sent, session, province_user, ministry_user):
    ministry = client_for(app, ministry_user)

    with signed_in_at("2022-01-17 08:00 +0700", (ministry, ministry_user), (sent, province_user)):
        ministry.post(f"/bo/danh-sach/{HA_NOI}/tra-lai",
                      data={"reason": RETURN_REASON, "extension_until": "19/01/2022"})
        edited = sent.post(f"{BASE}/them", data=NEW_PERSON)
        log = table_rows(page(ministry, "/bo/nhat-ky"))

    assert edited.status_code == 303
    assert hanoi_list(session).extension_until == date(2022, 1, 19)
    assert ["08:00 17/01/2022", "bonoivu", "Trả lại danh sách để chỉnh sửa", "Hạn mới: 19/01/2022",
            RETURN_REASON] in log


# ---------------------------------------------------------------- the ministry's table


def _province_list(session: Session, user: User, province_id: int, rows: list[list[str]]) -> RespondentList:
    campaign = current_campaign(session)
    province = session.get(Province, province_id)
    rlist = lists.get_or_create_list(session, campaign, province_id)
    list_import.import_file(session, user, rlist, campaign, province, csv_text(rows).encode(), "ds.csv", tz_name=TZ)
    return rlist


def test_an_import_turns_the_garbage_collector_back_on_whether_the_file_is_refused_or_read(
        session, other_province_user):
    campaign = current_campaign(session)
    province = session.get(Province, HAI_PHONG)
    rlist = lists.get_or_create_list(session, campaign, HAI_PHONG)

    with pytest.raises(lists.ListError):
        list_import.import_file(session, other_province_user, rlist, campaign, province, b"PK\x03\x04 hong", "ds.xlsx",
                          tz_name=TZ)
    assert gc.isenabled()
    outcome = list_import.import_file(session, other_province_user, rlist, campaign, province,
                                csv_text(_council_only("hp", 3)).encode(), "ds.csv", tz_name=TZ)

    assert gc.isenabled()
    assert (outcome.kept, outcome.errors) == (3, 0)


def _council_only(prefix: str, count: int) -> list[list[str]]:
    return [[str(i), f"Đại biểu {name}", "Đại biểu HĐND thành phố", GROUP_1, "", f"{prefix}{i}@gov.vn", "", ""]
            for i, name in enumerate(["Nguyễn Văn Một", "Trần Văn Hai", "Lê Văn Ba"][:count], start=1)]


@pytest.fixture
def four_provinces(app, sent, session, ministry_user, other_province_user):
    """Hà Nội sent; Hải Phòng drafting; Đà Nẵng sent and returned; Cần Thơ opened the page only."""
    hai_phong = [*_council_only("hp", 2),
                 ["3", "Phan Văn Tư", "Chủ tịch UBND", GROUP_4, "Quận Lê Chân", "tu.pv@haiphong.gov.vn", "", ""],
                 ["4", "Võ Văn Năm", "Giám đốc", GROUP_2, "Sở Không Có", "nam.vv@haiphong.gov.vn", "", ""]]
    _province_list(session, other_province_user, HAI_PHONG, hai_phong)
    da_nang_user = make_user(session, "da-nang", Role.PROVINCE, DA_NANG)
    da_nang = _province_list(session, da_nang_user, DA_NANG, _council_only("dn", 3))
    campaign = current_campaign(session)
    province = session.get(Province, DA_NANG)
    lists.send_list(session, da_nang_user, da_nang, campaign, province, version=da_nang.version, tz_name=TZ,
                     confirmed_warnings=True)
    lists.return_list(session, ministry_user, da_nang, province, "Thiếu lãnh đạo sở")
    can_tho = make_user(session, "can-tho", Role.PROVINCE, 92)
    page(client_for(app, can_tho), f"{BASE}/")
    return client_for(app, ministry_user)


def test_the_ministry_table_shows_each_province_status_with_counts_per_group(four_provinces):
    rows = {row[0]: row for row in table_rows(page(four_provinces, "/bo/danh-sach"))}

    assert len(rows) == 63
    assert rows["Thành phố Hà Nội"] == ["Thành phố Hà Nội", "Đã gửi danh sách, chờ phát hành", "1", "2", "1", "1",
                                        "5", "09:00 05/01/2022", "15/01/2022", "", ""]
    assert rows["Thành phố Hải Phòng"] == ["Thành phố Hải Phòng", "Đang nhập (1 lỗi)", "2", "1", "0", "1", "4", "",
                                           "15/01/2022", "", ""]
    # A returned list keeps the time it was last sent.
    assert rows["Thành phố Đà Nẵng"] == ["Thành phố Đà Nẵng", "Trả lại", "3", "0", "0", "0", "3", "09:00 05/01/2022",
                                         "15/01/2022", "", ""]
    assert rows["Thành phố Cần Thơ"] == ["Thành phố Cần Thơ", "Chưa nhập", "0", "0", "0", "0", "0", "", "15/01/2022",
                                         "", ""]
    assert rows["Tỉnh Quảng Ninh"][1] == "Chưa nhập"


@pytest.mark.parametrize(("status", "shown"), [
    ("sent", ["Thành phố Hà Nội"]),
    ("draft", ["Thành phố Hải Phòng"]),
    ("returned", ["Thành phố Đà Nẵng"]),
])
def test_the_ministry_table_filters_by_status(four_provinces, status, shown):
    rows = table_rows(page(four_provinces, f"/bo/danh-sach?trang-thai={status}"))

    assert [row[0] for row in rows] == shown


def test_the_ministry_table_without_lists_shows_sixty_unstarted_provinces(four_provinces):
    rows = table_rows(page(four_provinces, "/bo/danh-sach?trang-thai=none"))

    assert len(rows) == 60
    assert {row[1] for row in rows} == {"Chưa nhập"}


def test_the_ministry_opens_a_province_list(app, sent, ministry_user):
    html = page(client_for(app, ministry_user), f"/bo/danh-sach/{HA_NOI}")

    text = text_of(html)
    assert "Danh sách đối tượng khảo sát: Thành phố Hà Nội" in text
    assert "Trạng thái: Đã gửi danh sách lúc 09:00 05/01/2022. Hạn gửi: 15/01/2022." in text
    assert [row[1] for row in table_rows(html) if len(row) == 8] == [name for _, name, *_ in VALID_PEOPLE]
    assert "Trả lại để chỉnh sửa" in text


# ---------------------------------------------------------------- export


DANGEROUS = [
    ["1", "-Nguyễn Văn An", "=SUM(1+2)", GROUP_2, "Sở Tài chính", "an.nv@hanoi.gov.vn", "+84912345678", "@cmd"],
    ["2", "Trần Thị Bình", "Trưởng phòng", GROUP_3, "Sở Tài chính", "binh.tt@hanoi.gov.vn", "",
     '=HYPERLINK("http://evil.example","Bấm")'],
]


def _cells(data: bytes) -> list[openpyxl.cell.cell.Cell]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [cell for row in sheet.iter_rows() for cell in row]


def _assert_formula_safe(data: bytes) -> None:
    cells = _cells(data)
    risky = {"-Nguyễn Văn An", "=SUM(1+2)", "@cmd", '=HYPERLINK("http://evil.example","Bấm")'}
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    # Exactly the text, as a typed text cell with the quotePrefix style: no stray "'" in Excel or LibreOffice.
    shown = {cell.value: (cell.data_type, cell.quotePrefix) for cell in cells if cell.value in risky}
    assert shown == dict.fromkeys(risky, ("s", True))
    assert not [cell.value for cell in cells if isinstance(cell.value, str) and cell.value.startswith("'")]


def test_the_province_export_neutralises_cells_that_could_run_as_formulas(officer):
    upload(officer, csv_text(DANGEROUS).encode(), "ds.csv")

    response = officer.get(f"{BASE}/xuat.xlsx")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=danh-sach-khao-sat-ha-noi.xlsx"
    _assert_formula_safe(response.data)
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "Danh sách đối tượng khảo sát: Thành phố Hà Nội (Đang nhập)"
    assert rows[3][:7] == (1, "-Nguyễn Văn An", "=SUM(1+2)", GROUP_2, "Sở Tài chính", "an.nv@hanoi.gov.vn",
                           "0912345678")


def test_the_ministry_export_neutralises_cells_that_could_run_as_formulas(app, officer, ministry_user):
    upload(officer, csv_text(DANGEROUS).encode(), "ds.csv")

    response = client_for(app, ministry_user).get(f"/bo/danh-sach/{HA_NOI}/xuat.xlsx")

    assert response.status_code == 200
    _assert_formula_safe(response.data)


# ---------------------------------------------------------------- who may touch Hà Nội's list


def _list_requests(person_id: int) -> list[tuple[str, str, dict, dict]]:
    """(method, url, form, headers) for every list page, fragment, download and form post."""
    htmx = {"HX-Request": "true"}
    form = row_fields(AN, position="Phó Giám đốc", email="doi@hanoi.gov.vn")
    return [
        ("GET", f"{BASE}/", {}, {}),
        ("GET", f"{BASE}/mau.xlsx", {}, {}),
        ("GET", f"{BASE}/ra-soat", {}, {}),
        ("GET", f"{BASE}/ra-soat", {}, {**htmx, "HX-Target": "list-table"}),
        ("GET", f"{BASE}/nguoi/{person_id}", {}, {}),
        ("GET", f"{BASE}/nguoi/{person_id}", {}, htmx),
        ("GET", f"{BASE}/nguoi/{person_id}/sua", {}, {}),
        ("GET", f"{BASE}/nguoi/{person_id}/sua", {}, htmx),
        ("POST", f"{BASE}/nguoi/{person_id}", form, {}),
        ("POST", f"{BASE}/nguoi/{person_id}", form, htmx),
        ("POST", f"{BASE}/nguoi/{person_id}/xoa", {}, {}),
        ("POST", f"{BASE}/nguoi/{person_id}/xoa", {}, htmx),
        ("POST", f"{BASE}/them", NEW_PERSON, {}),
        ("POST", f"{BASE}/tai-len", {"file": (io.BytesIO(csv_text([DUNG]).encode()), "ds.csv")}, {}),
        ("GET", f"{BASE}/gui", {}, {}),
        ("POST", f"{BASE}/gui", {"version": "0"}, {}),
        ("POST", f"{BASE}/gui", {"version": "1"}, {}),
        ("GET", f"{BASE}/xuat.xlsx", {}, {}),
    ]


def _ministry_requests() -> list[tuple[str, str, dict, dict]]:
    return [
        ("GET", "/bo/danh-sach", {}, {}),
        ("GET", f"/bo/danh-sach/{HA_NOI}", {}, {}),
        ("GET", f"/bo/danh-sach/{HA_NOI}/xuat.xlsx", {}, {}),
        ("POST", f"/bo/danh-sach/{HA_NOI}/tra-lai", {"reason": "Không được phép"}, {}),
        ("POST", f"/bo/danh-sach/{HA_NOI}/gia-han", {"until": "30/01/2022", "reason": "Không được phép"}, {}),
        ("POST", "/bo/danh-sach/da-doc", {}, {}),
    ]


def _everything(session: Session) -> tuple:
    return (saved_draft(session), audit_actions(session), ministry_notices(session))


def test_an_it_focal_account_gets_403_on_every_list_page_and_post_and_nothing_changes(app, draft, session,
                                                                                      it_focal_user):
    it_focal = client_for(app, it_focal_user)
    before = _everything(session)
    person_id = person_named(session, "Nguyễn Văn An").id

    refused = [(method, url, headers != {}, it_focal.open(url, method=method, data=form, headers=headers))
               for method, url, form, headers in _list_requests(person_id) + _ministry_requests()]

    assert [(m, u, h, r.status_code) for m, u, h, r in refused if r.status_code != 403] == []
    assert not [u for _, u, _, r in refused if "Nguyễn Văn An".encode() in r.data]
    assert _everything(session) == before
    assert "Nhập danh sách đối tượng" not in text_of(page(it_focal, "/"))


def test_another_province_gets_404_for_every_row_of_ha_noi_and_nothing_changes(app, draft, session,
                                                                               other_province_user):
    hai_phong = client_for(app, other_province_user)
    before = _everything(session)
    person_id = person_named(session, "Nguyễn Văn An").id
    row_requests = [r for r in _list_requests(person_id) if "/nguoi/" in r[1]]

    responses = [(method, url, headers != {}, hai_phong.open(url, method=method, data=form, headers=headers))
                 for method, url, form, headers in row_requests]

    assert len(responses) == 8
    assert [(m, u, h, r.status_code) for m, u, h, r in responses if r.status_code != 404] == []
    assert not [u for _, u, _, r in responses if "Nguyễn Văn An" in r.get_data(as_text=True)]
    assert _everything(session) == before


def test_another_province_sees_and_changes_only_its_own_list(app, draft, session, other_province_user):
    hai_phong = client_for(app, other_province_user)
    before = saved_draft(session)

    pages = [hai_phong.open(url, method=method, data=form, headers=headers, follow_redirects=True)
             for method, url, form, headers in _list_requests(0) if "/nguoi/" not in url]
    export = hai_phong.get(f"{BASE}/xuat.xlsx")

    assert not [p.request.path for p in pages if "Nguyễn Văn An".encode() in p.data]
    assert "an.nv@hanoi.gov.vn" not in {c.value for c in _cells(export.data)}
    assert saved_draft(session) == before
    assert people(session, HAI_PHONG) == [DUNG_ALONE]  # its own upload went to its own list


def test_province_accounts_get_403_on_the_ministry_list_pages(app, draft, session, province_user,
                                                              other_province_user):
    before = _everything(session)

    statuses = {(user.username, method, url): client_for(app, user).open(url, method=method, data=form).status_code
                for user in (province_user, other_province_user)
                for method, url, form, _ in _ministry_requests()}

    assert set(statuses.values()) == {403}
    assert _everything(session) == before

