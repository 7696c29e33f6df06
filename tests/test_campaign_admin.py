"""The ministry's campaign page ("Đợt đánh giá"): deadlines in order, provinces told of changes; the contact."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, func, select

from portal.domain.campaigns import current_campaign
from portal.models import AuditEntry, Notice, NoticeRecipient, Province, User
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in
from tests.support.html import text_of
from tests.support.survey import DURING_SURVEY, launch_survey, send_list

PAGE = "/bo/chien-dich"
CONTACT = "/bo/chien-dich/lien-he"
DEADLINES = {"it_focal_deadline": "10/01/2022", "list_deadline": "15/01/2022",
             "self_assessment_deadline": "15/02/2022", "response_deadline": "20/02/2022"}
CONTACT_FORM = {"contact_name": "Bà Trần Thị Hạnh", "contact_unit": "Vụ Cải cách hành chính, Bộ Nội vụ",
                "contact_phone": "024 3824 0101", "contact_email": "cchc@moha.gov.vn"}


def notices_to(session: Session, province_id: int) -> list[Notice]:
    session.expire_all()
    return list(session.exec(select(Notice).join(NoticeRecipient, NoticeRecipient.notice_id == Notice.id)
                             .where(NoticeRecipient.province_id == province_id).order_by(Notice.id)))


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"list_deadline": "09/01/2022"}, "list_deadline",
     "Gửi danh sách đối tượng khảo sát: hạn gửi danh sách (09/01/2022) không được trước hạn đăng ký đầu mối CNTT "
     "(10/01/2022)."),
    ({"response_deadline": "14/01/2022"}, "response_deadline",
     "Hạn trả lời phiếu khảo sát: hạn trả lời phiếu (14/01/2022) không được trước hạn gửi danh sách (15/01/2022)."),
])
def test_deadlines_out_of_order_are_refused_with_a_message_and_nothing_saved(client, session, ministry_user,
                                                                           changes, field, message):
    log_in(client, ministry_user)

    response = client.post(PAGE, data={**DEADLINES, **changes})

    assert response.status_code == 422
    assert message in text_of(response.get_data(as_text=True))
    assert f'aria-describedby="{field}-error"' in response.get_data(as_text=True)
    campaign = current_campaign(session)
    session.refresh(campaign)
    assert (campaign.list_deadline, campaign.response_deadline) == (date(2022, 1, 15), date(2022, 2, 20))
    assert session.exec(select(func.count()).select_from(AuditEntry)).one() == 0
    assert session.exec(select(func.count()).select_from(Notice)).one() == 0


def test_the_self_assessment_deadline_runs_on_its_own(client, session, ministry_user):
    log_in(client, ministry_user)

    response = client.post(PAGE, data={**DEADLINES, "self_assessment_deadline": "05/01/2022"})

    assert response.status_code == 302
    assert current_campaign(session).self_assessment_deadline == date(2022, 1, 5)


def test_a_moved_deadline_is_posted_to_the_provinces_it_concerns(app, client, session, ministry_user,
                                                                 time_machine):
    time_machine.move_to(DURING_SURVEY, tick=False)
    send_list(session, HA_NOI)  # Hà Nội has sent its list: the list deadline no longer concerns it
    log_in(client, ministry_user)

    client.post(PAGE, data={**DEADLINES, "list_deadline": "20/01/2022", "response_deadline": "25/02/2022"})

    [to_hai_phong] = notices_to(session, HAI_PHONG)
    assert to_hai_phong.title == "Bộ Nội vụ thay đổi mốc thời hạn của " + current_campaign(session).name
    assert to_hai_phong.body.splitlines() == [
        "Gửi danh sách đối tượng khảo sát: 15/01/2022 → 20/01/2022 (hết 23:59 ngày đó, giờ Việt Nam).",
        "Hạn trả lời phiếu khảo sát: 20/02/2022 → 25/02/2022 (hết 23:59 ngày đó, giờ Việt Nam)."]
    [to_ha_noi] = notices_to(session, HA_NOI)
    assert to_ha_noi.body.splitlines() == [
        "Hạn trả lời phiếu khảo sát: 20/02/2022 → 25/02/2022 (hết 23:59 ngày đó, giờ Việt Nam)."]
    active = session.exec(select(func.count()).select_from(Province).where(Province.is_active)).one()
    reached = session.exec(select(func.count(func.distinct(NoticeRecipient.province_id)))).one()
    assert reached == active


def test_the_it_focal_deadline_is_posted_only_to_provinces_without_a_registered_focal_point(
        client, session, ministry_user, it_focal_user):
    from portal.models import utcnow

    focal = session.get(User, it_focal_user.id)
    focal.registered_at = utcnow()
    session.add(focal)
    session.commit()
    log_in(client, ministry_user)

    client.post(PAGE, data={**DEADLINES, "it_focal_deadline": "12/01/2022"})

    assert notices_to(session, focal.province_id) == []
    assert len(notices_to(session, HAI_PHONG)) == 1


# ---------------------------------------------------------------- the contact


def test_the_ministry_sets_the_contact_and_it_is_audited(client, session, ministry_user):
    log_in(client, ministry_user)

    response = client.post(CONTACT, data=CONTACT_FORM)

    assert response.status_code == 303
    campaign = current_campaign(session)
    session.refresh(campaign)
    assert (campaign.contact_name, campaign.contact_unit, campaign.contact_phone, campaign.contact_email) == (
        "Bà Trần Thị Hạnh", "Vụ Cải cách hành chính, Bộ Nội vụ", "024 3824 0101", "cchc@moha.gov.vn")
    assert "Sửa người liên hệ của đợt đánh giá" in [e.action for e in session.exec(select(AuditEntry))]
    page = client.get(PAGE).get_data(as_text=True)
    assert 'value="Bà Trần Thị Hạnh"' in page
    assert ("Liên hệ: Bà Trần Thị Hạnh, Vụ Cải cách hành chính, Bộ Nội vụ; điện thoại 024 3824 0101; "
            "email cchc@moha.gov.vn") in text_of(page)


@pytest.mark.parametrize(("changes", "message"), [
    ({"contact_email": "cchc@"}, "Địa chỉ email không hợp lệ."),
    ({"contact_phone": "gọi tôi", "contact_email": ""}, "Số điện thoại chỉ gồm chữ số"),
    ({"contact_name": " "}, "Vui lòng nhập họ tên người liên hệ."),
    ({"contact_phone": "", "contact_email": ""}, "Vui lòng nhập ít nhất số điện thoại hoặc email để liên hệ."),
])
def test_a_bad_contact_is_refused_with_a_message_and_keeps_what_was_typed(client, session, ministry_user,
                                                                        changes, message):
    log_in(client, ministry_user)

    response = client.post(CONTACT, data={**CONTACT_FORM, **changes})

    assert response.status_code == 422
    assert message in text_of(response.get_data(as_text=True))
    assert 'value="Vụ Cải cách hành chính, Bộ Nội vụ"' in response.get_data(as_text=True)
    campaign = current_campaign(session)
    session.refresh(campaign)
    assert campaign.contact_name == ""


def test_the_contact_is_on_survey_pages_the_invalid_link_page_emails_and_the_staff_footer(
        app, client, session, ministry_user, province_user, time_machine):
    time_machine.move_to(DURING_SURVEY, tick=False)
    log_in(client, ministry_user)
    client.post(CONTACT, data=CONTACT_FORM)
    survey = launch_survey(app, session, ministry_user)
    wanted = "Bà Trần Thị Hạnh, Vụ Cải cách hành chính, Bộ Nội vụ; điện thoại 024 3824 0101; email cchc@moha.gov.vn"
    person = survey.of_group("LD_SO")

    pages = [client.get(person.url), client.get(person.form_url("DP-LDSO")), client.get("/phieu/1.khong-dung")]

    for page in pages:
        assert wanted in text_of(page.get_data(as_text=True))
    assert pages[2].status_code == 404
    from portal.models import OutboxMessage

    [invitation] = session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id))
    assert f"Mọi thắc mắc xin liên hệ: {wanted}." in invitation.body_text
    assert wanted in invitation.body_html
    log_in(client, province_user)
    assert f"Liên hệ: {wanted}" in text_of(client.get("/").get_data(as_text=True))


def test_until_the_ministry_sets_a_contact_the_configured_unit_is_shown(client, province_user):
    log_in(client, province_user)

    assert "Liên hệ: Vụ Cải cách hành chính, Bộ Nội vụ" in text_of(client.get("/").get_data(as_text=True))


def test_the_contact_form_is_the_ministrys_only(client, province_user):
    log_in(client, province_user)

    assert client.post(CONTACT, data=CONTACT_FORM).status_code == 403


