"""Issue 8, "Data the portal loses or refuses wrongly": namesakes, the province's own departments, the merge
record, and the warnings before sending, through the routes with real files.

Hà Nội's province account works on its list on 05/01/2022 (due 15/01/2022), as in test_lists.py.
"""

from __future__ import annotations

import pytest
import time_machine
from sqlmodel import select

from portal.domain import departments, list_warnings, lists
from portal.domain.campaigns import current_campaign
from portal.models import AuditEntry, Department, Ministry, MinistryNotice, Notice, NoticeRecipient, Province
from tests.support.accounts import HA_NOI, log_in
from tests.support.html import text_of
from tests.support.respondent_files import GROUP_1, csv_text, xlsx_bytes
from tests.test_lists import (
    AN,
    BASE,
    VALID,
    client_for,
    errors_of,
    hanoi_list,
    page,
    people,
    people_rows,
    person_named,
    row_fields,
    upload,
)

HO_CHI_MINH = 79

MAI_1 = ["6", "Vũ Thanh Mai", "Đại biểu HĐND thành phố", GROUP_1, "HĐND thành phố Hà Nội", "mai.vt@hanoi.gov.vn",
         "0911111111", ""]
MAI_2 = ["7", "Vũ Thanh Mai", "Đại biểu HĐND thành phố", GROUP_1, "HĐND thành phố Hà Nội", "vtmai@hanoi.gov.vn",
         "0922222222", ""]
# Hồ Chí Minh City has a food safety board; Hà Nội's reference data does not.
FOOD_SAFETY = ["6", "Lý Thu Hà", "Trưởng ban", "2. Lãnh đạo cấp sở", "Ban Quản lý An toàn thực phẩm",
               "ha.lt@hanoi.gov.vn", "", ""]


@pytest.fixture(autouse=True)
def before_the_deadline():
    with time_machine.travel("2022-01-05 09:00 +0700", tick=False) as traveller:
        yield traveller


@pytest.fixture
def officer(client, province_user):
    log_in(client, province_user)
    return client


def warnings_of(person) -> list[dict]:
    return [p for p in lists.row_problems(person) if p["level"] == "warning"]


# ---------------------------------------------------------------- namesakes


def test_two_deputies_with_one_name_in_one_council_are_both_kept_and_the_warning_can_be_dismissed(officer, session):
    upload(officer, xlsx_bytes([*VALID, MAI_1, MAI_2]))

    # Before: one "Vũ Thanh Mai" merged the other away (same name, same unit).
    mai_1, mai_2 = [p for p in people_rows(session) if p.full_name == "Vũ Thanh Mai"]
    assert (mai_1.email, mai_2.email) == ("mai.vt@hanoi.gov.vn", "vtmai@hanoi.gov.vn")
    assert (mai_1.error_count, mai_2.error_count) == (0, 0)
    (warning,) = warnings_of(mai_1)
    assert "cùng họ tên và cơ quan/đơn vị với dòng 8" in warning["message"]
    review = page(officer, f"{BASE}/ra-soat")
    assert review.count("Đây là những người khác nhau") == 2

    response = officer.post(f"{BASE}/trung-ten", data={"key": warning["namesake_key"], "row": mai_1.id})

    assert response.status_code == 303
    session.expire_all()
    assert [warnings_of(p) for p in people_rows(session) if p.full_name == "Vũ Thanh Mai"] == [[], []]
    assert "Đây là những người khác nhau" not in page(officer, f"{BASE}/ra-soat")
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "Xác nhận hai người khác nhau trùng họ tên")
                         ).one()
    assert entry.detail == "Vũ Thanh Mai: dòng 7, 8"

    # The dismissal lasts: an edit of another row checks the whole list again and the warning stays away.
    an = person_named(session, "Nguyễn Văn An")
    officer.post(f"{BASE}/nguoi/{an.id}", data=row_fields(AN, phone="0912345670"))
    session.expire_all()
    assert [warnings_of(p) for p in people_rows(session) if p.full_name == "Vũ Thanh Mai"] == [[], []]


def test_namesakes_not_yet_confirmed_are_a_warning_before_sending_until_the_officer_decides(officer, session):
    upload(officer, xlsx_bytes([*VALID, MAI_1, MAI_2]))

    def namesake_warnings() -> list[str]:
        session.expire_all()
        return [w for w in list_warnings.send_warnings(session, hanoi_list(session), current_campaign(session),
                                               session.get(Province, HA_NOI)) if "trùng họ tên" in w]

    assert namesake_warnings() == [
        "2 dòng trùng họ tên và cơ quan/đơn vị chưa được xác nhận là những người khác nhau: dòng 7, 8. Nếu là một "
        "người, hãy xóa dòng thừa; nếu là hai người, bấm “Đây là những người khác nhau”."]
    mai_1 = next(p for p in people_rows(session) if p.full_name == "Vũ Thanh Mai")
    (warning,) = warnings_of(mai_1)
    officer.post(f"{BASE}/trung-ten", data={"key": warning["namesake_key"], "row": mai_1.id})

    assert namesake_warnings() == []


def test_adding_a_namesake_with_them_mot_nguoi_keeps_both(officer, session):
    upload(officer, xlsx_bytes([*VALID, MAI_1]))

    response = officer.post(f"{BASE}/them", data=row_fields(MAI_2))

    assert response.status_code == 303
    assert [p.email for p in people_rows(session) if p.full_name == "Vũ Thanh Mai"] == [
        "mai.vt@hanoi.gov.vn", "vtmai@hanoi.gov.vn"]
    assert lists.merge_record(hanoi_list(session)) == []


def test_the_same_name_and_phone_is_still_one_person(officer, session):
    same_phone = [*MAI_2[:5], "mai.vu@hanoi.gov.vn", "+84 911 111 111", ""]

    upload(officer, xlsx_bytes([*VALID, MAI_1, same_phone]))

    assert [p.email for p in people_rows(session) if p.full_name == "Vũ Thanh Mai"] == ["mai.vt@hanoi.gov.vn"]


# ---------------------------------------------------------------- the merge record


COUNCIL_AN = ["6", "Nguyễn Văn An", "Giám đốc Sở Tài chính", GROUP_1, "Sở Tài chính", "an.nv@hanoi.gov.vn", "", ""]


def test_the_merge_record_stays_after_edits_and_the_ministry_sees_it_once_the_list_is_sent(app, officer, session,
                                                                                            ministry_user):
    upload(officer, xlsx_bytes([*VALID, COUNCIL_AN]))
    message = ("Dòng 2: Nguyễn Văn An (nhóm 2 (Lãnh đạo cấp sở)) cũng là đại biểu ở dòng 7; mỗi người chỉ khảo sát "
               "một lần, giữ ở nhóm 1 (Đại biểu HĐND) theo quy định, đã bỏ dòng 2. Đã chuyển số điện thoại "
               "“0912345678” từ dòng 2 sang dòng 7.")
    hung = person_named(session, "Đỗ Văn Hùng")

    # Before: the next edit of any row replaced the notices, and the merge was forgotten.
    officer.post(f"{BASE}/nguoi/{hung.id}", data=row_fields(VALID[4], phone="0987654321"))

    (entry,) = lists.merge_record(hanoi_list(session))
    assert (entry["message"], entry["rows"], entry["cause"]) == (message, [2, 7], "Tải lên tệp “danh-sach.xlsx”")
    review = text_of(page(officer, f"{BASE}/ra-soat"))
    assert "1 dòng đã gộp" in review and message in review
    ministry = client_for(app, ministry_user)
    assert message not in text_of(page(ministry, f"/bo/danh-sach/{HA_NOI}"))  # a draft is the province's own

    version = hanoi_list(session).version
    response = officer.post(f"{BASE}/gui", data={"version": version, "xac_nhan": "1"})
    assert response.status_code == 303

    assert message in text_of(page(ministry, f"/bo/danh-sach/{HA_NOI}"))


def test_a_merge_made_by_an_edit_joins_the_record(officer, session):
    upload(officer, xlsx_bytes([*VALID, MAI_1, MAI_2]))
    mai_2 = [p for p in people_rows(session) if p.full_name == "Vũ Thanh Mai"][1]

    officer.post(f"{BASE}/nguoi/{mai_2.id}", data=row_fields(MAI_2, email="mai.vt@hanoi.gov.vn"))

    (entry,) = lists.merge_record(hanoi_list(session))
    assert entry["cause"] == "Sửa dòng 8" and entry["rows"] == [8, 7]


# ---------------------------------------------------------------- the province's own departments


def test_the_cities_known_departments_are_in_the_reference_data(session):
    def names(province_id: int) -> set[str]:
        return {d.name for d in session.exec(select(Department).where(Department.province_id == province_id))}

    assert {"Sở Du lịch", "Sở Văn hóa và Thể thao", "Sở Quy hoạch - Kiến trúc"} <= names(HA_NOI)
    assert "Sở Văn hóa, Thể thao và Du lịch" not in names(HA_NOI)
    assert {"Sở Du lịch", "Sở Văn hóa và Thể thao", "Ban Quản lý An toàn thực phẩm",
            "Sở Quy hoạch - Kiến trúc"} <= names(HO_CHI_MINH)
    food = session.exec(select(Department, Ministry).join(Ministry, Ministry.id == Department.ministry_id)
                        .where(Department.name == "Ban Quản lý An toàn thực phẩm")).one()
    assert food[1].code == "BYT" and "Thủ tướng" in food[0].source
    assert "Sở Văn hóa, Thể thao và Du lịch" in names(48)  # Đà Nẵng keeps the generic one


def test_a_department_the_list_needs_is_added_from_the_row_and_the_ministry_corrects_it(app, officer, session,
                                                                                         ministry_user):
    upload(officer, xlsx_bytes([*VALID, FOOD_SAFETY]))
    ha = person_named(session, "Lý Thu Hà")
    assert errors_of(ha) == ["Dòng 7, cột Cơ quan/đơn vị: “Ban Quản lý An toàn thực phẩm” chưa có trong danh mục sở, "
                             "ngành của thành phố Hà Nội; nếu tỉnh có cơ quan này, hãy thêm vào danh mục."]
    review = page(officer, f"{BASE}/ra-soat")
    assert "Thêm sở này vào danh mục của tỉnh" in review
    health = session.exec(select(Ministry).where(Ministry.code == "BYT")).one()
    home = session.exec(select(Ministry).where(Ministry.code == "BNV")).one()

    response = officer.post(f"{BASE}/so-nganh", data={"ten": "Ban Quản lý An toàn thực phẩm", "bo": home.id,
                                                      "tiep": f"#r-{ha.id}"})

    assert response.status_code == 303 and response.headers["Location"].endswith(f"{BASE}/ra-soat#r-{ha.id}")
    session.expire_all()
    ha = person_named(session, "Lý Thu Hà")
    added = session.get(Department, ha.department_id)
    assert (ha.error_count, ha.unit, ha.answers_ministry_form, ha.ministry_id) == (
        0, "Ban Quản lý An toàn thực phẩm", True, home.id)
    assert added.added_by_id is not None
    assert session.exec(select(MinistryNotice).where(
        MinistryNotice.title.contains("Ban Quản lý An toàn thực phẩm"))).one()

    ministry = client_for(app, ministry_user)
    listing = text_of(page(ministry, "/bo/so-nganh-dia-phuong"))
    assert "Thành phố Hà Nội" in listing and "ha-noi" in listing

    response = ministry.post(f"/bo/so-nganh-dia-phuong/{added.id}",
                             data={"ten": "Ban Quản lý An toàn thực phẩm thành phố", "bo": health.id,
                                   "ly_do": "Tên chính thức"})

    assert response.status_code == 303
    session.expire_all()
    ha = person_named(session, "Lý Thu Hà")
    assert (ha.unit, ha.ministry_id, ha.error_count) == ("Ban Quản lý An toàn thực phẩm thành phố", health.id, 0)
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "Sửa sở, ngành do tỉnh bổ sung")).one()
    assert (entry.detail, entry.reason) == (
        "Ban Quản lý An toàn thực phẩm (Bộ Nội vụ) → Ban Quản lý An toàn thực phẩm thành phố (Bộ Y tế)",
        "Tên chính thức")
    told = session.exec(select(Notice).join(NoticeRecipient).where(NoticeRecipient.province_id == HA_NOI,
                                                                    Notice.title.contains("sở, ngành"))).one()
    assert "Lý do: Tên chính thức" in told.body


def test_the_second_form_follows_the_ministry_chosen_for_an_added_department(officer, session):
    upload(officer, xlsx_bytes([*VALID, FOOD_SAFETY]))
    home = session.exec(select(Ministry).where(Ministry.code == "BNV")).one()
    # "Sở Du lịch" is a known kind of department: its ministry is offered already chosen.
    assert departments.guess_ministry(session, "Sở Du lịch") == session.exec(
        select(Ministry.id).where(Ministry.code == "BVHTTDL")).one()

    officer.post(f"{BASE}/so-nganh", data={"ten": "Ban Quản lý An toàn thực phẩm", "bo": home.id})

    assert person_named(session, "Lý Thu Hà").ministry_id == home.id


@pytest.mark.parametrize(("fields", "message"), [
    ({"ten": "", "bo": "1"}, "Vui lòng nhập tên sở, ngành (ví dụ: Sở Du lịch)."),
    ({"ten": "Sở Mới"}, "Vui lòng chọn bộ, ngành chủ quản trong danh sách"),
    ({"ten": "sở tài chính", "bo": "1"}, "“Sở Tài chính” đã có trong danh mục sở, ngành của tỉnh."),
])
def test_a_department_is_not_added_without_a_name_a_ministry_or_twice(officer, session, fields, message):
    before = session.exec(select(Department).where(Department.province_id == HA_NOI)).all()

    response = officer.post(f"{BASE}/so-nganh", data=fields)

    assert response.status_code == 422
    assert message in text_of(response.get_data(as_text=True))
    assert len(session.exec(select(Department).where(Department.province_id == HA_NOI)).all()) == len(before)


def test_a_province_cannot_open_or_correct_the_ministrys_page_of_additions(app, officer, session):
    upload(officer, xlsx_bytes([*VALID, FOOD_SAFETY]))
    officer.post(f"{BASE}/so-nganh", data={"ten": "Ban Quản lý An toàn thực phẩm", "bo": "1"})
    added = session.exec(select(Department).where(Department.province_id == HA_NOI,
                                                  Department.added_by_id.is_not(None))).one()

    assert officer.get("/bo/so-nganh-dia-phuong").status_code == 403
    assert officer.post(f"/bo/so-nganh-dia-phuong/{added.id}", data={"ten": "X", "bo": "1"}).status_code == 403
    assert session.get(Province, HA_NOI) is not None


# ---------------------------------------------------------------- warnings before sending


def test_sending_warns_about_empty_groups_and_private_mail_and_the_officer_confirms(officer, session):
    only_one = ["1", "Phạm Thị Dung", "Đại biểu HĐND", GROUP_1, "HĐND thành phố Hà Nội", "dungpt@gmail.com", "", ""]
    upload(officer, csv_text([only_one]).encode(), "mot-nguoi.csv")

    confirm = text_of(page(officer, f"{BASE}/gui"))

    assert "Nhóm 2 (Lãnh đạo cấp sở) chưa có ai." in confirm
    assert "Nhóm 4 (Lãnh đạo UBND cấp huyện) chưa có ai." in confirm
    assert ("1 địa chỉ ngoài hộp thư công vụ (gmail.com): dòng 2. Công văn đề nghị dùng hộp thư công vụ."
            in confirm)
    version = hanoi_list(session).version

    # Before: a list of one person with three empty groups was sent as "Không còn lỗi".
    refused = officer.post(f"{BASE}/gui", data={"version": version})

    assert refused.status_code == 422
    assert "Hãy đánh dấu ô xác nhận" in text_of(refused.get_data(as_text=True))
    assert hanoi_list(session).status == "draft"

    sent = officer.post(f"{BASE}/gui", data={"version": version, "xac_nhan": "1"})

    assert sent.status_code == 303 and hanoi_list(session).status == "sent"
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "Gửi danh sách")).one()
    assert entry.detail.endswith("; đã xác nhận 4 cảnh báo")
    assert people(session)[0][1] == "Phạm Thị Dung"


def test_sending_warns_about_departments_without_a_director_and_districts_without_a_chair(officer, session):
    upload(officer, xlsx_bytes(VALID))

    warnings = list_warnings.send_warnings(session, hanoi_list(session), current_campaign(session),
                                   session.get(Province, HA_NOI))

    assert [w.split(":")[0] for w in warnings] == [
        "19 sở, ngành chưa có giám đốc hoặc phó giám đốc (nhóm 2)",
        "29 quận, huyện, thị xã chưa có chủ tịch hoặc phó chủ tịch UBND (nhóm 4)"]
    assert "Sở Tài chính" not in warnings[0] and "Sở Nội vụ" in warnings[0]
    assert warnings[0].endswith("và 7 nơi khác.")
    assert warnings[1].endswith("và 17 nơi khác.")
