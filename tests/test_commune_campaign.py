"""A 2025 campaign whose fourth group is commune leaders (Lãnh đạo UBND cấp xã), on the 34-province map, end to
end without a code change: copied from the shipped sample, the province's template with its wards and communes,
units checked against that province's communes, the council-priority rule, the forms each group answers, a
submitted answer and progress per group. And the ministry's pages that edit a campaign's groups and positions
while it is being prepared (portal/domain/respondent_groups.py)."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
from sqlmodel import Session, select

from portal.domain import demo, progress, questionnaires, respondent_groups
from portal.domain.invitations import response_key
from portal.models import (
    Answer,
    AuditEntry,
    Campaign,
    Department,
    Invitation,
    PositionTitle,
    Respondent,
    RespondentGroup,
    RespondentList,
)
from tests.support.accounts import HA_NOI, log_in
from tests.support.html import text_of
from tests.support.survey import complete_answers, launch, sent_invitations

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DATES_2026 = {"it_focal_deadline": "10/01/2027", "list_deadline": "15/01/2027",
              "self_assessment_deadline": "15/02/2027", "response_deadline": "25/02/2027"}
LISTING = datetime(2027, 1, 5, 9, 0, tzinfo=TZ)
ANSWERING = datetime(2027, 2, 1, 9, 0, tzinfo=TZ)


def copy_of_the_sample(client, session: Session, *, year: int = 2026) -> Campaign:
    """The ministry copies the shipped 2025 sample into a new campaign (HTTP), not yet current."""
    sample = demo.ensure_sample_2025(session)
    response = client.post(f"/bo/dot-danh-gia/moi?tu={sample.id}",
                           data={"year": str(year), "name": f"Xác định Chỉ số CCHC năm {year}", "plan_ref": "",
                                 "tu": str(sample.id), **DATES_2026})
    assert response.status_code == 303, text_of(response.get_data(as_text=True))
    return session.exec(select(Campaign).where(Campaign.year == year, Campaign.is_template == False)).one()  # noqa: E712


def groups_of(session: Session, campaign: Campaign) -> list[tuple]:
    return [(g.number, g.code, g.name, g.unit_kind, g.council_priority, g.answers_locality_form,
             g.answers_ministry_form) for g in respondent_groups.groups_of(session, campaign)]


def titles_of(session: Session, campaign: Campaign, code: str) -> list[tuple[str, str]]:
    group = session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id,
                                                       RespondentGroup.code == code)).one()
    return [(p.title, p.common_forms) for p in session.exec(select(PositionTitle).where(
        PositionTitle.group_id == group.id).order_by(PositionTitle.id))]


def workbook_rows(book: openpyxl.Workbook, rows: list[dict[str, str]]) -> bytes:
    """The downloaded template with the province's people typed under its header (example rows removed)."""
    sheet = book["Danh sách"]
    headers = [c.value for c in sheet[1]]
    sheet.delete_rows(2, sheet.max_row)
    keys = {"STT": "stt", "Họ và tên": "full_name", "Chức vụ": "position", "Nhóm đối tượng": "group",
            "Cơ quan/đơn vị": "unit", "Email công vụ": "email", "Số điện thoại": "phone", "Ghi chú": "note"}
    for number, row in enumerate(rows, start=1):
        values = {**row, "stt": str(number)}
        sheet.append([values.get(keys.get(h, ""), "") for h in headers])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_the_sample_2025_campaign_has_commune_leaders_as_its_fourth_group(session):
    sample = demo.ensure_sample_2025(session)

    assert groups_of(session, sample) == [
        (1, "HDND", "Đại biểu Hội đồng nhân dân cấp tỉnh", "council", True, True, False),
        (2, "LD_SO", "Lãnh đạo cấp sở", "department", False, True, True),
        (3, "LD_PHONG", "Lãnh đạo cấp phòng thuộc sở", "division", False, True, True),
        (4, "LD_XA", "Lãnh đạo UBND cấp xã", "commune", False, True, False),
    ]
    assert [t for t, _ in titles_of(session, sample, "LD_XA")] == ["Chủ tịch UBND xã/phường",
                                                                    "Phó Chủ tịch UBND xã/phường"]
    assert "mẫu" in sample.name and sample.is_template


def test_a_commune_leaders_campaign_from_the_template_download_to_a_submitted_answer(
        app, client, session, ministry_user, province_user, time_machine):
    time_machine.move_to(LISTING, tick=False)
    log_in(client, ministry_user)
    campaign = copy_of_the_sample(client, session)
    assert client.post(f"/bo/dot-danh-gia/{campaign.id}/hien-hanh", data={"xac_nhan": "1"}).status_code in (200, 303)
    session.refresh(campaign)
    assert campaign.is_current and groups_of(session, campaign)[3][1:4] == ("LD_XA", "Lãnh đạo UBND cấp xã",
                                                                            "commune")

    # The province downloads its template: the groups of the campaign, Hà Nội's wards and communes.
    log_in(client, province_user)
    download = client.get("/khao-sat/danh-sach/mau.xlsx")
    assert download.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(download.data))
    choices = {c.value for row in book["Danh mục"].iter_rows() for c in row}
    assert {"4. Lãnh đạo UBND cấp xã", "Phường Hoàn Kiếm", "Xã Sóc Sơn"} <= choices
    assert "Quận Ba Đình" not in choices and "4. Lãnh đạo UBND cấp huyện" not in choices
    guide = " ".join(str(c.value) for row in book["Hướng dẫn"].iter_rows() for c in row if c.value)
    assert "4. Lãnh đạo UBND cấp xã (chức vụ: Chủ tịch UBND xã/phường, Phó Chủ tịch UBND xã/phường)" in guide
    examples = [r for r in book["Danh sách"].iter_rows(min_row=2, values_only=True) if r[0] == "Ví dụ"]
    assert any(r[3] == "4. Lãnh đạo UBND cấp xã" and r[4] == "Phường Ba Đình" for r in examples) or any(
        r[3] == "4. Lãnh đạo UBND cấp xã" for r in examples)

    department = session.exec(select(Department).where(Department.province_id == HA_NOI)
                              .order_by(Department.id)).first()
    rows = [
        {"full_name": "Nguyễn Thị Hà", "position": "Đại biểu", "group": "1. Đại biểu Hội đồng nhân dân cấp tỉnh",
         "unit": "HĐND thành phố", "email": "ha.nt@hanoi.gov.vn"},
        {"full_name": "Trần Văn Bình", "position": "Giám đốc", "group": "2", "unit": department.name,
         "email": "binh.tv@hanoi.gov.vn"},
        {"full_name": "Lê Minh Châu", "position": "Chủ tịch UBND", "group": "4. Lãnh đạo UBND cấp xã",
         "unit": "UBND phường Hoàn Kiếm", "email": "chau.lm@hanoi.gov.vn"},
        {"full_name": "Phạm Thu Dung", "position": "Phó Chủ tịch UBND xã", "group": "4", "unit": "Xã Sóc Sơn",
         "email": "dung.pt@hanoi.gov.vn"},
        # A commune chair who is also a council deputy: kept once, in the council group.
        {"full_name": "Vũ Quốc Hùng", "position": "Chủ tịch UBND", "group": "4", "unit": "Phường Ba Đình",
         "email": "hung.vq@hanoi.gov.vn"},
        {"full_name": "Vũ Quốc Hùng", "position": "Đại biểu", "group": "1", "unit": "HĐND thành phố",
         "email": "hung.vq@hanoi.gov.vn"},
        # A district (none since 1 July 2025) and a commune of another province.
        {"full_name": "Đỗ Văn Khánh", "position": "Chủ tịch UBND", "group": "4", "unit": "Quận Ba Đình",
         "email": "khanh.dv@hanoi.gov.vn"},
        {"full_name": "Hồ Thị Lan", "position": "Phó Chủ tịch UBND", "group": "4", "unit": "Xã Minh Tân",
         "email": "lan.ht@hanoi.gov.vn"},
        # A title the commune leaders' group does not list.
        {"full_name": "Ngô Văn Minh", "position": "Bí thư Đảng ủy xã", "group": "4", "unit": "Xã Sóc Sơn",
         "email": "minh.nv@hanoi.gov.vn"},
    ]
    uploaded = client.post("/khao-sat/danh-sach/tai-len",
                           data={"file": (io.BytesIO(workbook_rows(book, rows)), "danh-sach.xlsx")},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 303, text_of(uploaded.get_data(as_text=True))

    rlist = session.exec(select(RespondentList).where(RespondentList.campaign_id == campaign.id,
                                                      RespondentList.province_id == HA_NOI)).one()
    people = {p.full_name: p for p in session.exec(select(Respondent).where(Respondent.list_id == rlist.id))}
    groups = {g.id: g.code for g in respondent_groups.groups_of(session, campaign)}
    assert groups[people["Vũ Quốc Hùng"].group_id] == "HDND"  # the council wins the overlap
    assert [p.full_name for p in people.values()].count("Vũ Quốc Hùng") == 1
    assert (people["Lê Minh Châu"].unit, people["Lê Minh Châu"].error_count) == ("Phường Hoàn Kiếm", 0)
    assert people["Phạm Thu Dung"].error_count == 0 and people["Phạm Thu Dung"].district_id is not None
    assert "“Quận Ba Đình” không phải xã, phường hoặc đặc khu thuộc thành phố Hà Nội" in people["Đỗ Văn Khánh"].problems
    assert "“Xã Minh Tân” không phải xã, phường hoặc đặc khu thuộc thành phố Hà Nội" in people["Hồ Thị Lan"].problems
    assert ("chức vụ “Bí thư Đảng ủy xã” không phải chức vụ của nhóm 4 (Lãnh đạo UBND cấp xã); nhóm này gồm: "
            "Chủ tịch UBND xã/phường, Phó Chủ tịch UBND xã/phường và tương đương") in people["Ngô Văn Minh"].problems

    # Fixed (the upload replaces the whole list) and sent; the coverage warning speaks of wards and communes.
    fixed = [r for r in rows if r["full_name"] not in ("Đỗ Văn Khánh", "Hồ Thị Lan", "Ngô Văn Minh")]
    book = openpyxl.load_workbook(io.BytesIO(client.get("/khao-sat/danh-sach/mau.xlsx").data))
    assert client.post("/khao-sat/danh-sach/tai-len",
                       data={"file": (io.BytesIO(workbook_rows(book, fixed)), "danh-sach.xlsx")},
                       content_type="multipart/form-data").status_code == 303
    confirm = text_of(client.get("/khao-sat/danh-sach/gui").get_data(as_text=True))
    assert "xã, phường, đặc khu chưa có chủ tịch hoặc phó chủ tịch UBND (nhóm 4)" in confirm
    session.refresh(rlist)
    sent = client.post("/khao-sat/danh-sach/gui", data={"version": str(rlist.version), "xac_nhan": "1"})
    assert sent.status_code == 303
    session.refresh(rlist)
    assert rlist.status == "sent"

    # The ministry's sample questionnaire for these groups, and the launch: each group gets its forms.
    time_machine.move_to(ANSWERING, tick=False)
    version = questionnaires.load_sample(session, campaign, ministry_user)
    assert "2025" in version.title and questionnaires.problems_with_groups(session, campaign) == []
    launch(app, session, ministry_user, [HA_NOI])
    invited = {i.respondent.full_name: i for i in sent_invitations(app, session, HA_NOI)}
    assert invited["Lê Minh Châu"].form_codes == ["DP-LDXA"]
    assert invited["Trần Văn Bình"].group_code == "LD_SO" and len(invited["Trần Văn Bình"].form_codes) == 2
    assert invited["Vũ Quốc Hùng"].form_codes == ["DP-HDND"]

    # The commune chair answers and submits through the link.
    chair = invited["Lê Minh Châu"]
    form = questionnaires.load(version).form("DP-LDXA")
    asked = client.post(chair.form_url("DP-LDXA"), data={**complete_answers(form), "action": "submit"})
    assert asked.status_code == 200
    assert client.post(chair.submit_url("DP-LDXA")).status_code == 303
    session.expire_all()
    key = response_key(chair.invitation.id, "DP-LDXA", app.config["SECRET_KEY"])
    answer = session.exec(select(Answer).where(Answer.response_key == key)).one()
    assert (answer.submitted, answer.group_code, answer.form_code) == (True, "LD_XA", "DP-LDXA")

    # Progress per group: the commune leaders' line counts the submitted form.
    lines = {line.group.code: line for line in progress.province_summary(session, campaign.id, HA_NOI)
             if line.group is not None}
    assert (lines["LD_XA"].people, lines["LD_XA"].forms_expected, lines["LD_XA"].forms_submitted) == (2, 2, 1)
    assert (lines["HDND"].people, lines["HDND"].forms_submitted) == (2, 0)

    # The groups cannot be edited any more: the survey was launched.
    log_in(client, ministry_user)
    group = session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id,
                                                       RespondentGroup.code == "LD_XA")).one()
    refused = client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong/{group.id}",
                          data={"number": "4", "name": "Đổi tên", "unit_kind": "commune",
                                "answers_locality_form": "1"}, follow_redirects=True)
    assert respondent_groups.LAUNCHED_REFUSAL in text_of(refused.get_data(as_text=True))
    session.refresh(group)
    assert group.name == "Lãnh đạo UBND cấp xã"
    assert session.exec(select(Invitation).where(Invitation.campaign_id == campaign.id)).first() is not None


def test_the_ministry_edits_a_prepared_campaign_s_groups_and_positions_and_each_change_is_audited(
        client, session, ministry_user):
    log_in(client, ministry_user)
    campaign = copy_of_the_sample(client, session)
    group = session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id,
                                                       RespondentGroup.code == "LD_XA")).one()
    html = client.get(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong").get_data(as_text=True)
    assert "4. Lãnh đạo UBND cấp xã" in text_of(html) and 'value="Chủ tịch UBND xã/phường"' in html

    saved = client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong/{group.id}",
                        data={"number": "4", "name": "Lãnh đạo UBND xã, phường, đặc khu",
                              "who": "Chủ tịch, Phó Chủ tịch", "unit_kind": "commune", "answers_locality_form": "1"})
    added = client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong/{group.id}/chuc-danh",
                        data={"title": "Chủ tịch UBND đặc khu", "common_forms": "CT UBND đặc khu; Chủ tịch đặc khu"})
    twice = client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong/{group.id}/chuc-danh",
                        data={"title": "Chủ tịch UBND đặc khu", "common_forms": "CT UBND đặc khu"})

    assert (saved.status_code, added.status_code, twice.status_code) == (303, 303, 422)
    assert "Nhóm đã có chức danh “Chủ tịch UBND đặc khu”" in text_of(twice.get_data(as_text=True))
    session.refresh(group)
    assert (group.name, group.who) == ("Lãnh đạo UBND xã, phường, đặc khu", "Chủ tịch, Phó Chủ tịch")
    assert titles_of(session, campaign, "LD_XA")[-1] == ("Chủ tịch UBND đặc khu", "CT UBND đặc khu; Chủ tịch đặc khu")
    actions = [a.action for a in session.exec(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["Sửa nhóm đối tượng", "Thêm chức danh"]

    # A district kind on a map of communes, a second council group, no form: refused with messages, nothing saved.
    bad = client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong/{group.id}",
                      data={"number": "4", "name": "Lãnh đạo UBND cấp huyện", "unit_kind": "district",
                            "council_priority": "1"})
    page = text_of(bad.get_data(as_text=True))
    assert bad.status_code == 422
    assert "Bản đồ hành chính của đợt có xã, phường, đặc khu, không có quận, huyện" in page
    assert "đã là nhóm được ưu tiên khi trùng người" in page
    assert "Nhóm cần trả lời ít nhất một phiếu" in page
    session.refresh(group)
    assert (group.name, group.unit_kind, group.council_priority) == ("Lãnh đạo UBND xã, phường, đặc khu", "commune",
                                                                     False)

    # With htmx, the group's card comes back alone.
    fragment = client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong/{group.id}",
                           data={"number": "4", "name": "Lãnh đạo UBND cấp xã", "unit_kind": "commune",
                                 "answers_locality_form": "1"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith("<section") and f'id="nhom-{group.id}"' in html and "<html" not in html

    # A fifth group, then removed with its position.
    new = client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong",
                      data={"number": "5", "code": "CB_XA", "name": "Công chức cấp xã", "unit_kind": "commune",
                            "answers_locality_form": "1"})
    assert new.status_code == 303
    fifth = session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id,
                                                       RespondentGroup.code == "CB_XA")).one()
    assert (fifth.unit_kind, fifth.council_priority) == ("commune", False)
    client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong/{fifth.id}/chuc-danh", data={"title": "Công chức"})
    page = text_of(client.get(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong").get_data(as_text=True))
    assert "Nhóm “CB_XA” chưa có phiếu đánh giá địa phương trong bộ phiếu hiện hành." in page
    assert client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong/{fifth.id}/xoa",
                       data={"xac_nhan": "1"}).status_code == 303
    fifth_id = fifth.id
    session.expire_all()
    assert session.get(RespondentGroup, fifth_id) is None
    assert [a.action for a in session.exec(select(AuditEntry).order_by(AuditEntry.id))][-3:] == [
        "Thêm nhóm đối tượng", "Thêm chức danh", "Xóa nhóm đối tượng"]


def test_a_template_s_groups_are_read_only_and_another_campaign_s_group_is_not_found(client, session, ministry_user):
    log_in(client, ministry_user)
    sample = demo.ensure_sample_2025(session)
    campaign = copy_of_the_sample(client, session)
    sample_group = respondent_groups.groups_of(session, sample)[0]

    page = text_of(client.get(f"/bo/dot-danh-gia/{sample.id}/nhom-doi-tuong").get_data(as_text=True))
    refused = client.post(f"/bo/dot-danh-gia/{sample.id}/nhom-doi-tuong/{sample_group.id}",
                          data={"number": "1", "name": "Đổi", "unit_kind": "council", "answers_locality_form": "1"},
                          follow_redirects=True)
    elsewhere = client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong/{sample_group.id}",
                            data={"number": "1", "name": "Đổi", "unit_kind": "council", "answers_locality_form": "1"})

    assert respondent_groups.TEMPLATE_REFUSAL in page and "Lưu nhóm" not in page
    assert respondent_groups.TEMPLATE_REFUSAL in text_of(refused.get_data(as_text=True))
    assert elsewhere.status_code == 404
    session.refresh(sample_group)
    assert sample_group.name == "Đại biểu Hội đồng nhân dân cấp tỉnh"


def test_a_copy_carries_the_groups_their_unit_kinds_flags_forms_and_positions(client, session, ministry_user):
    log_in(client, ministry_user)
    source = copy_of_the_sample(client, session)
    group = respondent_groups.groups_of(session, source)[3]
    respondent_groups.save_group(session, ministry_user, source,
                                 {"number": "4", "name": "Lãnh đạo UBND xã, phường", "unit_kind": "commune",
                                  "answers_locality_form": "1"}, group)

    response = client.post(f"/bo/dot-danh-gia/moi?tu={source.id}",
                           data={"year": "2027", "name": "Năm 2027", "plan_ref": "", "tu": str(source.id),
                                 **{k: v.replace("2027", "2028") for k, v in DATES_2026.items()}})

    assert response.status_code == 303
    copy = session.exec(select(Campaign).where(Campaign.year == 2027)).one()
    assert groups_of(session, copy) == groups_of(session, source)
    assert groups_of(session, copy)[3][2:4] == ("Lãnh đạo UBND xã, phường", "commune")
    for code in ("HDND", "LD_SO", "LD_PHONG", "LD_XA"):
        assert titles_of(session, copy, code) == titles_of(session, source, code)


def test_a_campaign_from_scratch_on_the_2025_map_gets_commune_leaders_and_on_the_2021_map_district_leaders(
        client, session, ministry_user):
    log_in(client, ministry_user)
    for year, map_key in ((2026, "2025"), (2027, "2021")):
        assert client.post("/bo/dot-danh-gia/moi", data={"year": str(year), "name": f"Năm {year}", "plan_ref": "",
                                                         "ban_do": map_key, **DATES_2026}).status_code == 303

    fourth = {c.year: respondent_groups.groups_of(session, c)[3] for c in session.exec(
        select(Campaign).where(Campaign.year.in_([2026, 2027])))}
    assert (fourth[2026].code, fourth[2026].unit_kind) == ("LD_XA", "commune")
    assert (fourth[2027].code, fourth[2027].unit_kind) == ("LD_HUYEN", "district")


def test_a_province_account_cannot_open_or_change_the_groups(client, session, ministry_user, province_user):
    log_in(client, ministry_user)
    campaign = copy_of_the_sample(client, session)
    group = respondent_groups.groups_of(session, campaign)[0]
    log_in(client, province_user)

    assert client.get(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong").status_code == 403
    assert client.post(f"/bo/dot-danh-gia/{campaign.id}/nhom-doi-tuong/{group.id}/xoa").status_code == 403
    assert session.get(RespondentGroup, group.id) is not None
