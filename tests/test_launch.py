"""Launching the survey from /bo/phat-hanh: invitations, emails, notices, the questionnaire frozen.

Hà Nội and Hải Phòng have sent short lists (two people of each group: 8 people, 12 forms each); the
clock is frozen on 01/02/2022, inside the 2021 response period.
"""

from __future__ import annotations

import io
import re
import threading

import pytest
from sqlmodel import Session, select

from portal.domain import questionnaires
from portal.models import (
    FormProgress,
    Invitation,
    Notice,
    NoticeRecipient,
    OutboxMessage,
    Province,
    QuestionnaireVersion,
    Respondent,
    RespondentList,
)
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in
from tests.support.database import count_rows
from tests.support.html import text_of
from tests.support.operations import finish_operations
from tests.support.survey import AFTER_DEADLINE, load_questionnaire, send_list

LAUNCH = "/bo/phat-hanh"
CONFIRM = "/bo/phat-hanh/xac-nhan"
OPERATION = "/bo/phat-hanh/tien-trinh/"
NOTICE_TITLE = "Bộ Nội vụ đã phát hành khảo sát"



@pytest.fixture
def lists_sent(session, clock) -> None:
    send_list(session, HA_NOI)
    send_list(session, HAI_PHONG)


@pytest.fixture
def ready(session, ministry_user, lists_sent) -> None:
    load_questionnaire(session, ministry_user)



def confirmation(client, province_ids) -> str:
    """The confirmation page for the ticked provinces (follows a refusal back to the launch page)."""
    return client.get(CONFIRM, query_string={"province_ids": [str(p) for p in province_ids]},
                      follow_redirects=True).get_data(as_text=True)


def launch(client, province_ids, *, accept_sample: bool = True, **extra):
    """Tick the provinces, open the confirmation and confirm it, as the ministry does; then let the worker
    run the launch and return the page that follows it (or whatever the confirmation answered)."""
    page = confirmation(client, province_ids)
    shown = re.search(r'name="emails" value="(\d+)"', page)
    form = {"province_ids": [str(p) for p in province_ids], "emails": shown.group(1) if shown else "0", **extra}
    if accept_sample:
        form["accept_sample"] = "1"
    response = client.post(CONFIRM, data=form, follow_redirects=True)
    if not response.request.path.startswith(OPERATION):
        return response
    finish_operations(client.application)
    return client.get(response.request.path)


def said(response) -> str:
    return text_of(response.get_data(as_text=True))


def respondents_of(session: Session, province_id: int) -> list[Respondent]:
    return list(session.exec(select(Respondent).where(Respondent.province_id == province_id)))


def notices_to(session: Session, province_id: int) -> list[str]:
    session.expire_all()
    return list(session.exec(select(Notice.title).join(NoticeRecipient, NoticeRecipient.notice_id == Notice.id)
                             .where(NoticeRecipient.province_id == province_id)))


def nothing_launched(session: Session) -> bool:
    return (count_rows(session, Invitation), count_rows(session, OutboxMessage), count_rows(session, FormProgress),
            count_rows(session, RespondentList, RespondentList.launched_at.is_not(None))) == (0, 0, 0, 0)


def test_launching_every_ready_province_invites_each_respondent_once_and_tells_each_province(
        app, client, session, ministry_user, province_user, ready):
    log_in(client, ministry_user)

    response = launch(client, [HA_NOI, HAI_PHONG])

    assert ("Đã phát hành khảo sát cho 2 tỉnh, thành phố: 16 thư mời đang được gửi "
            "(Thành phố Hà Nội, Thành phố Hải Phòng).") in said(response)
    people = respondents_of(session, HA_NOI) + respondents_of(session, HAI_PHONG)
    invited = session.exec(select(Invitation)).all()
    assert sorted(i.respondent_id for i in invited) == sorted(p.id for p in people)
    emails = session.exec(select(OutboxMessage)).all()
    assert sorted((m.kind, m.invitation_id) for m in emails) == sorted(("invitation", i.id) for i in invited)
    by_id = {p.id: p for p in people}
    for message in emails:
        person = by_id[next(i.respondent_id for i in invited if i.id == message.invitation_id)]
        assert message.to_addr == person.email and person.full_name in message.body_text
        assert "20/02/2022" in message.body_text
    assert count_rows(session, FormProgress) == 24  # groups 2 and 3 answer two forms
    assert notices_to(session, HA_NOI) == [NOTICE_TITLE] and notices_to(session, HAI_PHONG) == [NOTICE_TITLE]
    log_in(client, province_user)
    assert NOTICE_TITLE in client.get("/thong-bao/").get_data(as_text=True)


def test_launching_chosen_provinces_leaves_the_others_waiting(client, session, ministry_user, ready):
    log_in(client, ministry_user)

    response = launch(client, [HA_NOI])

    assert "Đã phát hành khảo sát cho 1 tỉnh, thành phố: 8 thư mời đang được gửi (Thành phố Hà Nội)." in said(response)
    assert count_rows(session, Invitation, Invitation.province_id == HA_NOI) == 8
    assert count_rows(session, Invitation, Invitation.province_id == HAI_PHONG) == 0
    assert count_rows(session, OutboxMessage, OutboxMessage.province_id == HAI_PHONG) == 0
    assert notices_to(session, HAI_PHONG) == []
    waiting = client.get(LAUNCH)
    assert "Các địa phương đã gửi danh sách, chưa phát hành (1)" in said(waiting)
    assert f'name="province_ids" value="{HAI_PHONG}"' in waiting.get_data(as_text=True)


def test_a_second_launch_does_nothing_more(client, session, ministry_user, ready):
    log_in(client, ministry_user)
    launch(client, [HA_NOI, HAI_PHONG])
    before = [count_rows(session, model) for model in (Invitation, OutboxMessage, FormProgress, Notice)]

    again = launch(client, [HA_NOI, HAI_PHONG])
    again_posted = client.post(CONFIRM, data={"province_ids": [str(HA_NOI)], "emails": "8", "accept_sample": "1"},
                               follow_redirects=True)

    for response in (again, again_posted):
        assert "Không có tỉnh, thành phố nào đã gửi danh sách mà chưa được phát hành khảo sát." in said(response)
    assert [count_rows(session, model) for model in (Invitation, OutboxMessage, FormProgress, Notice)] == before


def test_a_province_whose_list_is_not_sent_is_not_launched_even_when_chosen(client, session, ministry_user, ready):
    da_nang = session.exec(select(Province).where(Province.slug == "da-nang")).one()
    log_in(client, ministry_user)

    response = launch(client, [da_nang.id])

    assert "Không có tỉnh, thành phố nào đã gửi danh sách mà chưa được phát hành khảo sát." in said(response)
    assert nothing_launched(session)


def test_launching_chosen_provinces_with_none_chosen_is_refused(client, session, ministry_user, ready):
    log_in(client, ministry_user)

    response = launch(client, [])

    assert "Vui lòng chọn ít nhất một tỉnh, thành phố." in said(response)
    assert nothing_launched(session)


def test_the_launch_freezes_the_questionnaire_and_a_later_import_is_refused(client, session, ministry_user,
                                                                           lists_sent):
    log_in(client, ministry_user)
    sample = questionnaires.sample_path().read_bytes()

    def upload():
        return client.post("/bo/phieu-khao-sat/nhap", data={"file": (io.BytesIO(sample), "bo-phieu.yaml")},
                           content_type="multipart/form-data")

    assert upload().status_code == 303  # replaceable until the launch
    launch(client, [HA_NOI, HAI_PHONG])
    refused = upload()

    assert refused.status_code == 422
    assert questionnaires.FROZEN_MESSAGE in refused.get_data(as_text=True)
    session.expire_all()
    versions = session.exec(select(QuestionnaireVersion)).all()
    assert [(v.version, v.is_current, v.frozen_at is not None) for v in versions] == [(1, True, True)]
    assert {i.questionnaire_version_id for i in session.exec(select(Invitation))} == {versions[0].id}
    assert "đã khóa từ 09:00 01/02/2022" in said(client.get(LAUNCH))


def test_launching_without_a_questionnaire_is_refused_with_a_message(client, session, ministry_user, lists_sent):
    log_in(client, ministry_user)

    page = client.get(LAUNCH).get_data(as_text=True)
    response = launch(client, [HA_NOI])

    assert "Chưa có bộ phiếu." in text_of(page)
    assert '<button type="submit" disabled>Xem lại trước khi phát hành</button>' in page
    assert "Chưa có bộ phiếu khảo sát. Hãy nhập bộ phiếu (hoặc nạp bộ phiếu mẫu) trước khi phát hành." in said(
        response)
    assert nothing_launched(session)


def test_launching_after_the_response_deadline_is_refused_with_a_message(client, session, ministry_user, ready,
                                                                         clock):
    clock.move_to(AFTER_DEADLINE, tick=False)
    log_in(client, ministry_user)

    response = launch(client, [HA_NOI, HAI_PHONG])

    assert "Đã quá hạn trả lời phiếu của đợt này; không thể phát hành khảo sát." in said(response)
    assert nothing_launched(session)
    session.expire_all()
    assert session.exec(select(QuestionnaireVersion)).one().frozen_at is None


def test_two_launches_at_once_invite_each_respondent_once_and_neither_fails(app, session, ministry_user, ready):
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def click() -> None:
        client = app.test_client()
        log_in(client, ministry_user)
        try:
            barrier.wait(timeout=10)
            statuses.append(client.post(CONFIRM, data={"province_ids": [str(HA_NOI), str(HAI_PHONG)],
                                                       "emails": "16", "accept_sample": "1"}).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == [] and statuses == [303, 303]
    finish_operations(app)
    assert count_rows(session, Invitation) == 16
    assert count_rows(session, OutboxMessage) == 16
    assert len(notices_to(session, HA_NOI)) == 1 and len(notices_to(session, HAI_PHONG)) == 1


def test_a_questionnaire_replaced_during_the_launch_refuses_it_with_a_message(client, session, ministry_user, ready,
                                                                             monkeypatch):
    def replaced(*args, **kwargs):
        # What freeze() finds when an import committed between reading the current version and freezing it.
        raise questionnaires.QuestionnaireError("Bộ phiếu vừa được thay thế bằng phiên bản mới; vui lòng tải lại "
                                                "trang rồi phát hành lại.")

    monkeypatch.setattr(questionnaires, "freeze", replaced)
    log_in(client, ministry_user)

    response = launch(client, [HA_NOI, HAI_PHONG])

    assert response.status_code == 200
    assert "Bộ phiếu vừa được thay thế bằng phiên bản mới" in said(response)
    assert nothing_launched(session)


# ---------------------------------------------------------------- the launch trap and the confirmation step


def test_the_launch_page_has_one_control_for_the_scope_and_sends_nothing_itself(client, session, ministry_user, ready):
    log_in(client, ministry_user)

    page = client.get(LAUNCH).get_data(as_text=True)
    all_ticked = client.get(LAUNCH, query_string={"chon": "tat-ca"}).get_data(as_text=True)
    posted = client.post(LAUNCH, data={"scope": "all"})

    assert 'name="scope"' not in page and "Tất cả" not in text_of(page).split("Đánh dấu tất cả")[0]
    assert f'action="{CONFIRM}"' in page and 'method="get"' in page
    assert f'value="{HA_NOI}" checked' not in page and f'value="{HA_NOI}" checked' in all_ticked
    assert f'value="{HAI_PHONG}" checked' in all_ticked
    assert posted.status_code == 405
    assert nothing_launched(session)


def test_ticking_one_province_launches_exactly_that_province_whatever_else_the_form_says(
        client, session, ministry_user, ready):
    # The trap: one province ticked while a scope control said "all" launched every waiting province.
    log_in(client, ministry_user)

    response = launch(client, [HAI_PHONG], scope="all")

    assert "Đã phát hành khảo sát cho 1 tỉnh, thành phố: 8 thư mời đang được gửi (Thành phố Hải Phòng)." in said(
        response)
    assert count_rows(session, Invitation, Invitation.province_id == HAI_PHONG) == 8
    assert count_rows(session, Invitation, Invitation.province_id == HA_NOI) == 0
    assert count_rows(session, OutboxMessage) == 8
    assert notices_to(session, HA_NOI) == []


def test_the_confirmation_names_exactly_the_provinces_and_the_emails_and_sends_nothing(
        client, session, ministry_user, ready):
    da_nang = session.exec(select(Province).where(Province.slug == "da-nang")).one()
    log_in(client, ministry_user)

    page = confirmation(client, [HA_NOI, da_nang.id])

    assert "Sẽ gửi 8 thư mời đến 8 người của 1 tỉnh, thành phố" in text_of(page)
    assert "Thành phố Hà Nội" in text_of(page) and "Thành phố Hải Phòng" not in text_of(page)
    assert "Không phát hành (chưa gửi danh sách hoặc đã được phát hành): Thành phố Đà Nẵng." in text_of(page)
    assert f'<input type="hidden" name="province_ids" value="{HA_NOI}">' in page
    assert f'name="province_ids" value="{da_nang.id}"' not in page
    assert "Phát hành khảo sát cho 1 tỉnh, thành phố (8 thư mời)" in text_of(page)
    assert nothing_launched(session)


def test_launching_on_the_sample_questionnaire_needs_its_own_confirmation(client, session, ministry_user, ready):
    log_in(client, ministry_user)

    page = confirmation(client, [HA_NOI])
    refused = launch(client, [HA_NOI], accept_sample=False)

    assert "Bộ phiếu đang dùng là PHIẾU MẪU" in text_of(page)
    assert 'name="accept_sample" value="1" required' in page
    assert refused.status_code == 422
    assert questionnaires_sample_message() in said(refused)
    assert nothing_launched(session)
    assert "Đã phát hành khảo sát cho 1 tỉnh" in said(launch(client, [HA_NOI], accept_sample=True))


def questionnaires_sample_message() -> str:
    from portal.domain.invitations import SAMPLE_NOT_ACCEPTED

    return SAMPLE_NOT_ACCEPTED


def test_an_official_questionnaire_needs_no_sample_confirmation(client, session, ministry_user, lists_sent):
    from portal.domain.campaigns import current_campaign

    official = questionnaires.sample_path().read_bytes().replace(b"sample: true", b"sample: false")
    questionnaires.import_questionnaire(session, ministry_user, current_campaign(session), official, "chinh-thuc.yaml")
    log_in(client, ministry_user)

    page = confirmation(client, [HA_NOI])
    response = launch(client, [HA_NOI], accept_sample=False)

    assert "Bộ phiếu đang dùng là PHIẾU MẪU" not in page and "accept_sample" not in page
    assert "Đã phát hành khảo sát cho 1 tỉnh, thành phố: 8 thư mời" in said(response)


def test_a_confirmation_that_no_longer_matches_is_shown_again_and_sends_nothing(client, session, ministry_user, ready):
    log_in(client, ministry_user)

    response = client.post(CONFIRM, data={"province_ids": [str(HA_NOI)], "emails": "7", "accept_sample": "1"})

    assert response.status_code == 422
    assert "đã thay đổi kể từ khi trang xác nhận được mở" in said(response)
    assert "Sẽ gửi 8 thư mời" in said(response)
    assert nothing_launched(session)
