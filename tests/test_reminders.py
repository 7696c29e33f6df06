"""Reminders: the province's "Đôn đốc" (once a day per respondent) and the ministry's automatic schedule.

The survey is launched for a short Hà Nội list (two people of each group) on 01/02/2022 at 09:00 +07;
one respondent of group 1 has finished, one of group 2 has sent one of their two forms.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from portal.domain import reminders
from portal.domain.invitations import masked_path
from portal.models import DeliveryStatus, Invitation, OutboxMessage, ReminderSchedule
from tests.support.accounts import HAI_PHONG, log_in
from tests.support.html import text_of
from tests.support.operations import finish_operations
from tests.support.survey import (
    AFTER_DEADLINE,
    JUST_BEFORE_DEADLINE,
    TZ,
    LaunchedSurvey,
    answer,
    finish,
    launch,
    launch_survey,
    send_list,
    sent_invitations,
)
from tests.support.threads import race

REMIND = "/khao-sat/tien-do/don-doc"
SCHEDULE = "/bo/phat-hanh/lich-nhac"



@pytest.fixture
def survey(app, session, ministry_user, clock) -> LaunchedSurvey:
    launched = launch_survey(app, session, ministry_user)
    finish(app, session, launched.of_group("HDND"))
    answer(app, session, launched.of_group("LD_SO"), "DP-LDSO")  # one of two forms sent: not finished
    return launched


def reminder_emails(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                             .order_by(OutboxMessage.id)))


def reminded_addresses(session: Session) -> list[str]:
    return sorted(m.to_addr for m in reminder_emails(session))


def unfinished_addresses(survey: LaunchedSurvey) -> list[str]:
    finished = survey.of_group("HDND").respondent.email
    return sorted(p.respondent.email for p in survey.invitations if p.respondent.email != finished)


def remind(client, **form):
    """Post "Đôn đốc"; reminding everyone is run by the worker: run it, and return the page that followed it."""
    response = client.post(REMIND, data=form, follow_redirects=True)
    if "/don-doc/" not in response.request.path:
        return response
    finish_operations(client.application)
    return client.get(response.request.path)


def row_of(page: str, person) -> str:
    """The visible text of the respondent's row on the progress page."""
    return text_of(page.split(f'id="p-{person.respondent.id}"', 1)[1].split("</tr>", 1)[0])


# ---------------------------------------------------------------- the province's "Đôn đốc"


def test_reminding_one_respondent_queues_one_reminder_with_their_link(client, session, province_user, survey):
    person = survey.of_group("LD_HUYEN")
    log_in(client, province_user)

    response = remind(client, invitation_id=str(person.invitation.id))

    assert response.status_code == 200
    assert "Đã gửi thư đôn đốc đến 1 người." in text_of(response.get_data(as_text=True))
    [message] = reminder_emails(session)
    assert message.to_addr == person.respondent.email
    assert message.invitation_id == person.invitation.id and message.status == DeliveryStatus.QUEUED
    # Masked in the outbox: the worker puts the link in as it sends (tests/test_worker.py follows it).
    assert f"http://localhost{masked_path(person.invitation.id)}" in message.body_text
    assert person.url not in message.body_text + message.body_html


def test_reminding_a_finished_respondent_queues_nothing_and_says_why(client, session, province_user, survey):
    log_in(client, province_user)

    response = remind(client, invitation_id=str(survey.of_group("HDND").invitation.id))

    assert "Đã gửi thư đôn đốc đến 0 người. 1 người đã hoàn thành phiếu." in text_of(response.get_data(as_text=True))
    assert reminder_emails(session) == []


def test_reminding_all_reaches_exactly_those_not_finished(client, session, province_user, survey):
    log_in(client, province_user)

    response = remind(client, all="1")

    assert "Đã gửi thư đôn đốc đến 7 người." in text_of(response.get_data(as_text=True))
    assert reminded_addresses(session) == unfinished_addresses(survey)
    assert survey.of_group("LD_SO").respondent.email in reminded_addresses(session)  # half done is not done


def test_a_second_reminder_the_same_day_queues_nothing_and_says_so_and_the_next_day_works(
        client, session, province_user, survey, clock):
    log_in(client, province_user)
    person = survey.of_group("LD_PHONG")
    remind(client, all="1")

    again_all = remind(client, all="1")
    again_one = remind(client, invitation_id=str(person.invitation.id))
    clock.move_to(datetime(2022, 2, 1, 23, 30, tzinfo=TZ), tick=False)
    log_in(client, province_user)  # a session lasts 8 hours
    late_evening = remind(client, all="1")

    for response in (again_all, again_one, late_evening):
        text = text_of(response.get_data(as_text=True))
        assert "Đã gửi thư đôn đốc đến 0 người." in text
        assert "đã được đôn đốc hôm nay (mỗi người tối đa một lần một ngày)" in text
    assert "7 người đã được đôn đốc hôm nay" in text_of(again_all.get_data(as_text=True))
    assert len(reminder_emails(session)) == 7

    # 06:30 on 02/02 in Hà Nội is still 01/02 in UTC: the day is the portal's.
    clock.move_to(datetime(2022, 2, 2, 6, 30, tzinfo=TZ), tick=False)
    log_in(client, province_user)
    next_day = remind(client, invitation_id=str(person.invitation.id))

    assert "Đã gửi thư đôn đốc đến 1 người." in text_of(next_day.get_data(as_text=True))
    assert len(reminder_emails(session)) == 8
    session.expire_all()
    invitation = session.get(Invitation, person.invitation.id)
    assert invitation.reminder_count == 2
    assert invitation.last_reminded_at == datetime(2022, 2, 2, 6, 30, tzinfo=TZ)


def test_a_double_click_on_remind_queues_one_reminder(app, session, province_user, survey):
    person = survey.of_group("LD_PHONG")

    def click(target: dict) -> int:
        client = app.test_client()
        log_in(client, province_user)
        return client.post(REMIND, data=target).status_code

    targets = [{"invitation_id": str(person.invitation.id)}] * 2 + [{"all": "1"}] * 2
    statuses = race(*(lambda target=target: click(target) for target in targets))

    assert statuses == [303] * 4
    finish_operations(app)
    assert reminded_addresses(session) == unfinished_addresses(survey)  # each once
    session.expire_all()
    assert session.get(Invitation, person.invitation.id).reminder_count == 1


def test_the_progress_page_shows_when_each_respondent_was_reminded(client, session, province_user, survey, clock):
    log_in(client, province_user)
    reminded, other, finished = survey.of_group("LD_PHONG"), survey.of_group("LD_HUYEN"), survey.of_group("HDND")
    remind(client, invitation_id=str(reminded.invitation.id))
    clock.move_to(datetime(2022, 2, 3, 14, 5, tzinfo=TZ), tick=False)
    log_in(client, province_user)  # a session lasts 8 hours
    remind(client, all="1")

    page = client.get("/khao-sat/tien-do/").get_data(as_text=True)

    assert "14:05 03/02/2022 (2 lần)" in row_of(page, reminded)
    assert "14:05 03/02/2022" in row_of(page, other) and "lần" not in row_of(page, other)
    assert re.search(r"\d\d:\d\d \d\d/\d\d/\d{4}", row_of(page, finished)) is None  # never reminded, never sent
    assert f'id="c-{finished.invitation.id}"' not in page  # nothing to choose for someone finished
    assert f'id="c-{other.invitation.id}"' in page


def test_another_province_invitation_ids_are_ignored(app, client, session, ministry_user, province_user, survey):
    send_list(session, HAI_PHONG)
    launch(app, session, ministry_user, [HAI_PHONG])
    theirs = sent_invitations(app, session, HAI_PHONG)
    own = survey.of_group("LD_HUYEN")
    log_in(client, province_user)

    only_theirs = remind(client, invitation_id=[str(p.invitation.id) for p in theirs])
    mixed = remind(client, invitation_id=[str(theirs[0].invitation.id), str(own.invitation.id)])

    assert "Đã gửi thư đôn đốc đến 0 người." in text_of(only_theirs.get_data(as_text=True))
    assert "Đã gửi thư đôn đốc đến 1 người." in text_of(mixed.get_data(as_text=True))
    assert reminded_addresses(session) == [own.respondent.email]
    session.expire_all()
    assert all(session.get(Invitation, p.invitation.id).last_reminded_at is None for p in theirs)


@pytest.mark.parametrize("form", [{"all": "1"}, {"invitation_id": "ONE"}])
def test_it_focal_accounts_cannot_remind(client, session, it_focal_user, survey, form):
    log_in(client, it_focal_user)
    if form.get("invitation_id"):
        form = {"invitation_id": str(survey.of_group("LD_HUYEN").invitation.id)}

    response = client.post(REMIND, data=form)

    assert response.status_code == 403
    assert reminder_emails(session) == []
    page = client.get("/khao-sat/tien-do/").get_data(as_text=True)
    assert "Đôn đốc tất cả người chưa hoàn thành" not in page and "Đôn đốc những người đã chọn" not in page


# ---------------------------------------------------------------- the ministry's automatic reminders


@pytest.fixture
def two_reminders_at_most(app_config):
    app_config["PORTAL_MAX_REMINDERS"] = 2


def schedule(client, day: str):
    return client.post(SCHEDULE, data={"send_on": day}, follow_redirects=True)


def scheduled_days(session: Session) -> list[date]:
    session.expire_all()
    return [s.send_on for s in session.exec(select(ReminderSchedule).order_by(ReminderSchedule.send_on))]


def test_the_ministry_schedules_reminder_days_until_the_deadline_and_at_most_the_configured_number(
        two_reminders_at_most, client, session, ministry_user, survey):
    log_in(client, ministry_user)

    after_deadline = schedule(client, "21/02/2022")
    past = schedule(client, "31/01/2022")
    garbled = schedule(client, "ngày mai")
    last_day = schedule(client, "20/02/2022")
    duplicate = schedule(client, "20/02/2022")
    first = schedule(client, "05/02/2022")
    too_many = schedule(client, "10/02/2022")

    assert "Ngày nhắc phải từ hôm nay đến hạn trả lời phiếu (20/02/2022)." in after_deadline.get_data(as_text=True)
    assert "Ngày nhắc phải từ hôm nay đến hạn trả lời phiếu (20/02/2022)." in past.get_data(as_text=True)
    assert "Vui lòng nhập ngày nhắc theo dạng dd/mm/yyyy." in garbled.get_data(as_text=True)
    assert "Đã đặt lịch nhắc ngày 20/02/2022." in last_day.get_data(as_text=True)
    assert "Đã có lần nhắc ngày 20/02/2022." in duplicate.get_data(as_text=True)
    assert "Đã đặt lịch nhắc ngày 05/02/2022." in first.get_data(as_text=True)
    assert "Mỗi đợt chỉ đặt tối đa 2 lần nhắc tự động." in too_many.get_data(as_text=True)
    assert scheduled_days(session) == [date(2022, 2, 5), date(2022, 2, 20)]
    page = text_of(too_many.get_data(as_text=True))
    assert "05/02/2022: chưa đến ngày" in page and "Thêm lịch nhắc" not in page


def test_the_ministry_removes_a_reminder_day_not_sent_yet_but_not_one_already_sent(
        app, client, session, ministry_user, survey, clock):
    log_in(client, ministry_user)
    schedule(client, "01/02/2022")
    schedule(client, "05/02/2022")
    today, later = session.exec(select(ReminderSchedule).order_by(ReminderSchedule.send_on)).all()
    run_due_reminders(app, session)

    kept = client.post(f"{SCHEDULE}/{today.id}/xoa", follow_redirects=True)
    removed = client.post(f"{SCHEDULE}/{later.id}/xoa", follow_redirects=True)

    assert "Lần nhắc này đã được gửi nên không thể xóa." in kept.get_data(as_text=True)
    assert removed.status_code == 200
    assert scheduled_days(session) == [date(2022, 2, 1)]
    assert "đã gửi 7 thư nhắc lúc 09:00 01/02/2022" in text_of(removed.get_data(as_text=True))


def run_due_reminders(app, session: Session) -> int:
    with app.app_context():
        return reminders.enqueue_due_reminders(
            session, now=datetime.now(TZ), tz_name=app.config["PORTAL_TIMEZONE"],
            mail_domain=app.config["PORTAL_MAIL_DOMAIN"], base_url=app.config["PORTAL_BASE_URL"])


def test_due_reminders_go_once_to_those_not_finished_whose_invitation_was_not_refused(
        app, session, ministry_user, survey, clock):
    refused, bounced = survey.of_group("LD_HUYEN", 0), survey.of_group("LD_HUYEN", 1)
    for person, status in ((refused, DeliveryStatus.FAILED), (bounced, DeliveryStatus.BOUNCED)):
        invitation = session.get(Invitation, person.invitation.id)
        invitation.delivery_status = status.value
        session.add(invitation)
    session.commit()
    with app.app_context():
        reminders.schedule_reminder(session, ministry_user, survey.campaign, date(2022, 2, 3),
                                    tz_name=app.config["PORTAL_TIMEZONE"], max_reminders=3)

    not_yet = run_due_reminders(app, session)
    clock.move_to(datetime(2022, 2, 3, 7, 0, tzinfo=TZ), tick=False)
    first_run = run_due_reminders(app, session)
    second_run = run_due_reminders(app, session)

    expected = sorted(set(unfinished_addresses(survey)) - {refused.respondent.email, bounced.respondent.email})
    assert (not_yet, first_run, second_run) == (0, 5, 0)
    assert reminded_addresses(session) == expected
    session.expire_all()
    [item] = session.exec(select(ReminderSchedule)).all()
    assert item.enqueued_count == 5 and item.enqueued_at == datetime(2022, 2, 3, 7, 0, tzinfo=TZ)


def test_a_reminder_day_of_a_closed_campaign_reminds_nobody(app, session, ministry_user, survey, clock):
    """The ministry opened the next campaign before this one's response deadline: its links say closed, so
    its reminder days remind nobody (and are marked handled)."""
    from portal.domain import campaign_admin

    with app.app_context():
        reminders.schedule_reminder(session, ministry_user, survey.campaign, date(2022, 2, 3),
                                    tz_name=app.config["PORTAL_TIMEZONE"], max_reminders=3)
    created = campaign_admin.create_campaign(session, ministry_user, {
        "year": "2022", "name": "Xác định Chỉ số CCHC năm 2022", "it_focal_deadline": "10/01/2023",
        "list_deadline": "15/01/2023", "self_assessment_deadline": "15/02/2023",
        "response_deadline": "25/02/2023"}, source=survey.campaign)
    campaign_admin.make_current(session, ministry_user, created.campaign, confirmed=True)
    clock.move_to(datetime(2022, 2, 3, 7, 0, tzinfo=TZ), tick=False)

    assert run_due_reminders(app, session) == 0
    assert reminded_addresses(session) == []
    session.expire_all()
    closed_day = session.exec(select(ReminderSchedule).where(
        ReminderSchedule.campaign_id == survey.campaign.id)).one()
    copied_day = session.exec(select(ReminderSchedule).where(
        ReminderSchedule.campaign_id == created.campaign.id)).one()
    assert closed_day.enqueued_at is not None
    assert (copied_day.send_on, copied_day.enqueued_at) == (date(2023, 2, 8), None)


def test_two_workers_running_due_reminders_at_once_remind_each_respondent_once(
        app, session, ministry_user, survey):
    from portal.extensions import db

    with app.app_context():
        reminders.schedule_reminder(session, ministry_user, survey.campaign, date(2022, 2, 1),
                                    tz_name=app.config["PORTAL_TIMEZONE"], max_reminders=3)

    def worker() -> int:
        with app.app_context(), db.new_session() as own:
            return run_due_reminders(app, own)

    counts = race(worker, worker)

    assert sum(counts) == 7
    assert reminded_addresses(session) == unfinished_addresses(survey)


def test_a_reminder_day_that_comes_after_the_deadline_has_passed_sends_nothing(
        app, session, ministry_user, survey, clock):
    with app.app_context():
        reminders.schedule_reminder(session, ministry_user, survey.campaign, date(2022, 2, 20),
                                    tz_name=app.config["PORTAL_TIMEZONE"], max_reminders=3)
    clock.move_to(datetime(2022, 2, 21, 8, 0, tzinfo=TZ), tick=False)  # the worker was down on the 20th

    assert run_due_reminders(app, session) == 0
    assert reminder_emails(session) == []
    session.expire_all()
    assert session.exec(select(ReminderSchedule)).one().enqueued_at is not None


# ---------------------------------------------------------------- no reminder after the deadline; only what is left


def test_after_the_response_deadline_the_buttons_are_gone_and_a_posted_reminder_sends_nothing(
        client, session, province_user, survey, clock):
    clock.move_to(AFTER_DEADLINE, tick=False)
    log_in(client, province_user)

    page = client.get("/khao-sat/tien-do/").get_data(as_text=True)
    response = remind(client, all="1")
    chosen = remind(client, invitation_id=str(survey.of_group("LD_HUYEN").invitation.id))

    assert "Đôn đốc tất cả" not in text_of(page) and "Đôn đốc những người" not in text_of(page)
    assert 'name="invitation_id"' not in page
    for answer_page in (response, chosen):
        assert "Đã hết hạn trả lời phiếu: không gửi thư đôn đốc nữa." in text_of(answer_page.get_data(as_text=True))
    assert reminder_emails(session) == []


def test_after_the_response_deadline_the_ministry_is_not_offered_a_reminder_day(client, session, ministry_user,
                                                                                 survey, clock):
    log_in(client, ministry_user)
    assert "Thêm lịch nhắc" in text_of(client.get("/bo/phat-hanh").get_data(as_text=True))

    clock.move_to(AFTER_DEADLINE, tick=False)
    log_in(client, ministry_user)  # weeks later: the session's absolute lifetime is long over
    page = text_of(client.get("/bo/phat-hanh").get_data(as_text=True))

    assert "Thêm lịch nhắc" not in page
    assert "Hạn trả lời phiếu (20/02/2022) đã qua: không đặt thêm lịch nhắc." in page


def test_a_province_with_an_extended_deadline_is_reminded_until_its_own_deadline(
        app, client, session, province_user, survey, clock):
    from portal.domain.lists import list_for

    rlist = list_for(session, survey.campaign, survey.province.id)
    rlist.response_extension_until = date(2022, 2, 27)
    session.add(rlist)
    session.commit()
    clock.move_to(AFTER_DEADLINE, tick=False)
    log_in(client, province_user)

    remind(client, invitation_id=str(survey.of_group("LD_HUYEN").invitation.id))

    [message] = reminder_emails(session)
    assert "trước hết ngày 27/02/2022" in message.body_text and "(hạn 27/02/2022)" in message.subject
    assert message.expires_at == datetime(2022, 2, 28, 0, 0, tzinfo=TZ) - timedelta(microseconds=1)


def test_the_domain_refuses_reminders_after_the_deadline(app, session, survey):
    people = [session.get(Invitation, p.invitation.id) for p in survey.invitations]
    with app.app_context():
        outcome = reminders.remind(session, None, people, base_url="http://cong.test", mail_domain="cong.test",
                                   tz_name="Asia/Ho_Chi_Minh", now=AFTER_DEADLINE)

    assert (outcome.queued, outcome.closed) == (0, 7)
    assert reminder_emails(session) == []


def test_a_reminder_still_queued_when_the_deadline_passes_is_never_sent(app, client, session, province_user,
                                                                          survey, clock):
    from portal.domain import outbox

    clock.move_to(JUST_BEFORE_DEADLINE, tick=False)
    log_in(client, province_user)
    remind(client, invitation_id=str(survey.of_group("LD_HUYEN").invitation.id))
    invitation_emails = {m.id for m in session.exec(select(OutboxMessage).where(OutboxMessage.kind == "invitation"))}

    with app.app_context():
        claimed = outbox.claim_batch(session, "worker", 100, AFTER_DEADLINE)

    assert {m.id for m in claimed} == invitation_emails  # everything else still goes; the reminder does not
    [message] = reminder_emails(session)
    assert message.status == "expired" and message.sent_at is None


def test_each_reminder_names_only_the_forms_left_and_mentions_saved_answers_only_to_those_with_a_draft(
        app, client, session, province_user, survey):
    half_done = survey.of_group("LD_SO")  # the locality form sent, the ministry form not started
    drafting = survey.of_group("LD_PHONG")
    answer(app, session, drafting, drafting.form_codes[0], submit=False)
    untouched = survey.of_group("LD_HUYEN")
    log_in(client, province_user)

    remind(client, all="1")

    by_address = {m.to_addr: m for m in reminder_emails(session)}
    left = by_address[half_done.respondent.email].body_text
    assert "Phiếu đánh giá bộ chủ quản: Bộ" in left and "Phiếu đánh giá địa phương" not in left
    assert "câu trả lời đã lưu vẫn còn" not in left
    assert "câu trả lời đã lưu vẫn còn" in by_address[drafting.respondent.email].body_text
    assert "câu trả lời đã lưu vẫn còn" not in by_address[untouched.respondent.email].body_text
    assert "Phiếu đánh giá địa phương" in by_address[untouched.respondent.email].body_text
