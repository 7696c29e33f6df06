"""A list the survey was launched to, returned by the ministry and sent again by the province.

The rule: after the launch a return allows additions and corrections (row by row, no replacing upload);
deleting a person withdraws their invitation (the link answers 410 "đã được thu hồi"); sending the list
again invites each person added and follows a corrected address only with a link nobody has opened (the
same link when the first email never arrived, a new one when it did); all of it audited. The survey is
launched for a short Hà Nội list on 01/02/2022; the ministry returns the list with a new list deadline of
10/02/2022 (the campaign's was 15/01/2022).
"""

from __future__ import annotations

import io

import pytest
from sqlmodel import Session, select

from portal.domain import lists
from portal.domain.campaigns import current_campaign
from portal.domain.invitations import masked_path
from portal.models import AuditEntry, FormProgress, Invitation, OutboxMessage, Respondent
from tests.support.accounts import HA_NOI, log_in
from tests.support.html import text_of
from tests.support.respondent_files import GROUP_2
from tests.support.survey import AFTER_DEADLINE, DURING_SURVEY, LaunchedSurvey, launch_survey

BASE = "/khao-sat/danh-sach"
NEWCOMER = {"full_name": "Vũ Thị Lan", "position": "Phó Giám đốc", "group": GROUP_2, "unit": "Sở Y tế",
            "email": "lan.vt@hanoi.gov.vn", "phone": "0987654321", "note": ""}


@pytest.fixture
def survey(app, client, session, ministry_user, time_machine) -> LaunchedSurvey:
    time_machine.move_to(DURING_SURVEY, tick=False)
    launched = launch_survey(app, session, ministry_user)
    log_in(client, ministry_user)
    returned = client.post(f"/bo/danh-sach/{HA_NOI}/tra-lai",
                           data={"reason": "Bổ sung lãnh đạo Sở Y tế", "extension_until": "10/02/2022"})
    assert returned.status_code == 303
    return launched


def fields_of(person: Respondent, **changes: str) -> dict[str, str]:
    return {"full_name": person.full_name, "position": person.position, "group": person.group_text,
            "unit": person.unit, "email": person.email, "phone": person.phone, "note": person.note, **changes}


def send_again(client, session: Session):
    rlist = lists.list_for(session, current_campaign(session), HA_NOI)
    session.refresh(rlist)
    return client.post(f"{BASE}/gui", data={"version": str(rlist.version), "xac_nhan": "1"}, follow_redirects=True)


def audit_actions(session: Session) -> list[str]:
    session.expire_all()
    return [e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]


def test_removing_an_invited_person_withdraws_the_link_instead_of_crashing(client, session, province_user, survey):
    gone = survey.of_group("LD_HUYEN")
    person_id, invitation_id = gone.respondent.id, gone.invitation.id
    log_in(client, province_user)

    response = client.post(f"{BASE}/nguoi/{person_id}/xoa")

    assert response.status_code == 303
    session.expire_all()
    assert session.get(Respondent, person_id) is None
    invitation = session.get(Invitation, invitation_id)
    assert invitation.withdrawn_at is not None and invitation.respondent_id is None
    assert session.exec(select(FormProgress).where(FormProgress.invitation_id == invitation.id)).all() == []
    assert {m.status for m in session.exec(select(OutboxMessage)
                                           .where(OutboxMessage.invitation_id == invitation.id))} == {"withdrawn"}
    link = client.get(gone.url)
    assert link.status_code == 410
    assert "Đường liên kết này đã được thu hồi" in text_of(link.get_data(as_text=True))
    assert client.get(gone.form_url(gone.form_codes[0])).status_code == 410
    assert "Thu hồi thư mời" in audit_actions(session)
    # The others' links still work.
    assert client.get(survey.of_group("HDND").url).status_code == 200


def test_a_withdrawn_link_that_had_failed_leaves_the_it_focal_error_list_and_cannot_be_resent(
        client, session, province_user, it_focal_user, survey):
    gone = survey.of_group("LD_HUYEN")
    invitation = session.get(Invitation, gone.invitation.id)
    invitation.delivery_status = "failed"
    session.add(invitation)
    session.commit()
    log_in(client, province_user)
    assert client.post(f"{BASE}/nguoi/{gone.respondent.id}/xoa").status_code == 303

    log_in(client, it_focal_user)
    assert client.post(f"/loi-gui/{gone.invitation.id}/gui-lai").status_code == 404  # was a 500
    assert client.post(f"/loi-gui/{gone.invitation.id}/sua", data={"email": "moi@hanoi.gov.vn"}).status_code == 404


def test_a_person_added_after_the_launch_is_invited_when_the_list_is_sent_again(client, session, province_user,
                                                                                survey):
    log_in(client, province_user)
    client.post(f"{BASE}/them", data=NEWCOMER)

    response = send_again(client, session)

    assert "Đã gửi danh sách đến Bộ Nội vụ." in text_of(response.get_data(as_text=True))
    session.expire_all()
    person = session.exec(select(Respondent).where(Respondent.email == NEWCOMER["email"])).one()
    invitation = session.exec(select(Invitation).where(Invitation.respondent_id == person.id)).one()
    [email] = session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == invitation.id)).all()
    assert (email.kind, email.to_addr) == ("invitation", NEWCOMER["email"])
    assert len(session.exec(select(FormProgress).where(FormProgress.invitation_id == invitation.id)).all()) == 2
    assert "Gửi thư mời người được thêm sau khi phát hành" in audit_actions(session)
    # Nobody else is invited twice.
    assert len(session.exec(select(OutboxMessage).where(OutboxMessage.kind == "invitation")).all()) == \
        len(survey.invitations) + 1


def test_a_corrected_address_gets_the_invitation_again_on_the_same_link(app, client, session, province_user,
                                                                         survey):
    corrected = survey.of_group("LD_PHONG")
    old_address = corrected.respondent.email
    # The first email went out (a waiting one would simply be redirected to the corrected address).
    for message in session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == corrected.invitation.id)):
        message.status = "sent"
        session.add(message)
    session.commit()
    log_in(client, province_user)
    saved = client.post(f"{BASE}/nguoi/{corrected.respondent.id}",
                        data=fields_of(corrected.respondent, email="dung.dia.chi@hanoi.gov.vn"))
    assert saved.status_code in (200, 303)

    send_again(client, session)

    session.expire_all()
    emails = session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == corrected.invitation.id)
                          .order_by(OutboxMessage.id)).all()
    assert [m.to_addr for m in emails] == [old_address, "dung.dia.chi@hanoi.gov.vn"]
    assert masked_path(corrected.invitation.id) in emails[-1].body_text  # the same link, put in when sent
    assert len(session.exec(select(OutboxMessage)).all()) == len(survey.invitations) + 1  # that one only
    assert "Gửi lại thư mời" in audit_actions(session)


def _correct_address(client, session, province_user, person, new_address: str) -> None:
    log_in(client, province_user)
    saved = client.post(f"{BASE}/nguoi/{person.id}", data=fields_of(person, email=new_address))
    assert saved.status_code in (200, 303)
    send_again(client, session)
    session.expire_all()


def test_an_address_corrected_after_the_email_arrived_gets_a_new_link_and_the_old_one_is_withdrawn(
        app, client, session, province_user, survey):
    corrected = survey.of_group("LD_PHONG")
    invitation = session.get(Invitation, corrected.invitation.id)
    invitation.delivery_status = "sent"  # the relay took the first email: someone may hold that link
    session.add(invitation)
    session.commit()

    _correct_address(client, session, province_user, corrected.respondent, "dung.dia.chi@hanoi.gov.vn")

    [new_email] = session.exec(select(OutboxMessage).where(OutboxMessage.to_addr == "dung.dia.chi@hanoi.gov.vn")).all()
    assert new_email.invitation_id != corrected.invitation.id
    assert corrected.url not in new_email.body_text  # a new link, not the one that went to the old address
    assert session.get(Invitation, corrected.invitation.id).withdrawn_at is not None
    assert client.get(corrected.url).status_code == 410
    assert "Gửi thư mời mới đến địa chỉ được sửa" in audit_actions(session)


def test_the_link_of_someone_who_already_opened_it_never_follows_an_address_written_by_the_province(
        app, client, session, province_user, survey):
    """Otherwise the province could put its own address in the row and read or finish the person's answers."""
    person = survey.of_group("LD_PHONG")
    assert client.get(person.url).status_code == 200  # the respondent opened the link
    before = len(session.exec(select(OutboxMessage)).all())

    _correct_address(client, session, province_user, person.respondent, "can.bo.tinh@hanoi.gov.vn")

    assert len(session.exec(select(OutboxMessage)).all()) == before
    assert session.exec(select(OutboxMessage).where(OutboxMessage.to_addr == "can.bo.tinh@hanoi.gov.vn")).all() == []
    assert session.get(Invitation, person.invitation.id).withdrawn_at is None  # the respondent keeps answering
    assert "Không gửi thư mời sang địa chỉ mới" in audit_actions(session)


def test_a_launched_list_cannot_be_replaced_by_an_upload(client, session, province_user, survey):
    log_in(client, province_user)
    before = len(session.exec(select(Respondent)).all())

    response = client.post(f"{BASE}/tai-len", data={"file": (io.BytesIO(b"a;b\n"), "moi.csv")},
                           content_type="multipart/form-data")

    assert response.status_code == 422
    assert "không thể tải lên tệp thay thế cả danh sách" in text_of(response.get_data(as_text=True))
    session.expire_all()
    assert len(session.exec(select(Respondent)).all()) == before
    assert "chỉ có thể thêm người, sửa hoặc xóa từng dòng" in text_of(client.get(f"{BASE}/").get_data(as_text=True))


def test_sending_a_launched_list_again_after_the_response_deadline_is_refused(client, session, province_user, survey,
                                                                             time_machine):
    log_in(client, province_user)
    client.post(f"{BASE}/them", data=NEWCOMER)
    campaign = current_campaign(session)
    rlist = lists.list_for(session, campaign, HA_NOI)
    rlist.extension_until = AFTER_DEADLINE.date()  # the list may still be sent, the survey is over
    session.add(rlist)
    session.commit()
    time_machine.move_to(AFTER_DEADLINE, tick=False)
    log_in(client, province_user)

    response = send_again(client, session)

    assert "Đã hết hạn trả lời phiếu (20/02/2022)" in text_of(response.get_data(as_text=True))
    session.expire_all()
    assert session.exec(select(Invitation).join(Respondent, Respondent.id == Invitation.respondent_id)
                         .where(Respondent.email == NEWCOMER["email"])).first() is None
