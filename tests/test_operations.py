"""Background operations (portal/domain/operations.py): a launch and "Đôn đốc tất cả" recorded by a request,
run by the worker in chunks, followed on a page whose unchanged poll costs a 304.

Hà Nội and Hải Phòng have sent short lists (8 people each); the clock is frozen inside the 2021 survey.
The crash in the middle of a chunk is in tests/test_faults.py; the worker process in tests/test_worker.py.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import select

from portal.domain import invitations, lists, operations
from portal.domain.campaigns import current_campaign
from portal.extensions import db
from portal.models import Invitation, Operation, OutboxMessage, Respondent, RespondentList, utcnow
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in
from tests.support.database import count_rows
from tests.support.html import text_of
from tests.support.operations import finish_operations
from tests.support.survey import launch_survey, load_questionnaire, send_list
from tests.support.threads import race

CONFIRM = "/bo/phat-hanh/xac-nhan"
LIVE = {"HX-Request": "true", "HX-Target": "operation-live"}


@pytest.fixture
def ready(session, ministry_user, clock) -> None:
    send_list(session, HA_NOI)
    send_list(session, HAI_PHONG)
    load_questionnaire(session, ministry_user)


def decide_launch(app, session, ministry_user) -> Operation:
    with app.app_context():
        return invitations.start_launch(session, ministry_user, current_campaign(session), None,
                                        base_url="http://localhost", mail_domain="localhost",
                                        tz_name="Asia/Ho_Chi_Minh", accept_sample=True)


def confirm(client, province_ids):
    return client.post(CONFIRM, data={"province_ids": [str(p) for p in province_ids], "emails": "16",
                                      "accept_sample": "1"})


def said(response) -> str:
    return text_of(response.get_data(as_text=True))


def one_invitation_and_one_email_each(session) -> bool:
    people = count_rows(session, Respondent)
    invited = Counter(i.respondent_id for i in session.exec(select(Invitation)))
    emails = Counter(m.invitation_id for m in session.exec(select(OutboxMessage)
                                                           .where(OutboxMessage.kind == "invitation")))
    return (len(invited), set(invited.values()), len(emails), set(emails.values())) == (people, {1}, people, {1})


# ---------------------------------------------------------------- the request decides, the worker does


def test_the_launch_request_returns_with_nobody_invited_and_a_page_that_follows_the_worker(
        app, client, session, ministry_user, ready):
    log_in(client, ministry_user)

    response = confirm(client, [HA_NOI, HAI_PHONG])

    assert response.status_code == 303 and "/bo/phat-hanh/tien-trinh/" in response.headers["Location"]
    assert count_rows(session, Invitation) == 0 and count_rows(session, OutboxMessage) == 0
    assert count_rows(session, RespondentList, RespondentList.launched_at.is_not(None)) == 0
    page = client.get(response.headers["Location"])
    assert "Đang phát hành: 0 / 16 người" in said(page)
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page.get_data(as_text=True)
    assert "Đang phát hành khảo sát" in said(client.get("/bo/danh-sach"))
    choice = said(client.get("/bo/phat-hanh"))
    assert "Đang phát hành (2)" in choice and "Các địa phương đã gửi danh sách, chưa phát hành (0)" in choice

    assert finish_operations(app, chunk=5) == 1

    done = client.get(response.headers["Location"])
    assert ("Đã phát hành khảo sát cho 2 tỉnh, thành phố: 16 thư mời đang được gửi "
            "(Thành phố Hà Nội, Thành phố Hải Phòng).") in said(done)
    assert "noscript" not in done.get_data(as_text=True)
    assert one_invitation_and_one_email_each(session)
    assert count_rows(session, RespondentList, RespondentList.launched_at.is_not(None)) == 2
    assert "Đã phát hành khảo sát" in said(client.get("/bo/danh-sach"))


def test_the_progress_fragment_answers_304_while_nothing_changed_and_286_once_done(
        app, client, session, ministry_user, ready):
    log_in(client, ministry_user)
    url = confirm(client, [HA_NOI, HAI_PHONG]).headers["Location"]

    first = client.get(url, headers=LIVE)
    unchanged = client.get(url, headers={**LIVE, "If-None-Match": first.headers["ETag"]})
    with app.app_context(), db.new_session() as own:
        operation_id = own.exec(select(Operation.id)).one()
        assert operations.claim(own, operation_id, "worker-1")
        assert operations.run_step(own, operation_id, "worker-1", chunk=5) == operations.MORE
    moved = client.get(url, headers={**LIVE, "If-None-Match": first.headers["ETag"]})
    with app.app_context(), db.new_session() as own:
        operations.run_until_done(own, operation_id, worker="worker-1")
    over = client.get(url, headers={**LIVE, "If-None-Match": moved.headers["ETag"]})

    assert first.status_code == 200 and 'hx-trigger="every 2s"' in first.get_data(as_text=True)
    assert "Đang phát hành: 0 / 16 người" in said(first)
    assert unchanged.status_code == 304 and unchanged.get_data() == b""
    assert moved.status_code == 200 and "Đang phát hành: 5 / 16 người" in said(moved)
    assert over.status_code == 286 and "hx-trigger" not in over.get_data(as_text=True)
    assert "Đã phát hành khảo sát cho 2 tỉnh, thành phố: 16 thư mời" in said(over)


def test_two_workers_racing_for_one_launch_invite_each_person_once(app, session, ministry_user, ready):
    operation = decide_launch(app, session, ministry_user)

    def worker(name: str) -> int:
        with app.app_context(), db.new_session() as own:
            return operations.run_pending(own, name, chunk=3)

    chunks = race(lambda: worker("worker-1"), lambda: worker("worker-2"))

    assert sum(chunks) >= 7  # 16 people in chunks of 3 (a province's last chunk is short), then the end
    assert one_invitation_and_one_email_each(session)
    session.expire_all()
    assert session.get(Operation, operation.id).state == "done"


def test_a_worker_whose_lease_was_taken_over_does_nothing_more(app, session, ministry_user, ready):
    operation = decide_launch(app, session, ministry_user)
    later = utcnow() + operations.LEASE + timedelta(seconds=1)

    with app.app_context():
        assert operations.claim(session, operation.id, "paused")
        assert operations.run_step(session, operation.id, "paused", chunk=3) == operations.MORE
        assert not operations.claim(session, operation.id, "other")  # the lease holds
        assert operations.claim(session, operation.id, "other", now=later)  # ... until it expires
        assert operations.run_step(session, operation.id, "other", chunk=3, now=later) == operations.MORE

        woke_up = operations.run_step(session, operation.id, "paused", chunk=3)

        assert woke_up == operations.LOST
        assert count_rows(session, Invitation) == 6
        operations.run_until_done(session, operation.id, worker="other", chunk=3, now=later)

    assert one_invitation_and_one_email_each(session)


def test_a_chunk_that_keeps_failing_stops_the_launch_with_its_reason_and_it_can_go_on_later(
        app, client, session, ministry_user, ready, monkeypatch):
    log_in(client, ministry_user)
    url = confirm(client, [HA_NOI, HAI_PHONG]).headers["Location"]
    real_step = invitations.launch_step

    def broken(*args):
        raise RuntimeError("máy chủ thư tạm thời không dùng được")

    monkeypatch.setattr(invitations, "launch_step", broken)
    for _ in range(operations.MAX_ATTEMPTS):
        with app.app_context(), db.new_session() as own:
            operations.run_pending(own, "worker-1")
    stopped = client.get(url)
    choice = client.get("/bo/phat-hanh")
    monkeypatch.setattr(invitations, "launch_step", real_step)
    retried = client.post(url + "/chay-lai")
    finish_operations(app)

    assert "Việc phát hành bị dừng. Lý do: RuntimeError: máy chủ thư tạm thời không dùng được" in said(stopped)
    assert "Chạy tiếp từ chỗ đã dừng" in said(stopped)
    assert "Một lần phát hành bị dừng: RuntimeError" in said(choice)
    assert retried.status_code == 303
    assert "Đã phát hành khảo sát cho 2 tỉnh, thành phố" in said(client.get(url))
    assert one_invitation_and_one_email_each(session)


def test_a_list_being_launched_cannot_be_returned_to_its_province(app, client, session, ministry_user, ready):
    decide_launch(app, session, ministry_user)
    log_in(client, ministry_user)

    response = client.post(f"/bo/danh-sach/{HA_NOI}/tra-lai", data={"reason": "Sai đơn vị"}, follow_redirects=True)

    assert lists.LAUNCHING_NO_RETURN in said(response)
    session.expire_all()
    assert session.exec(select(RespondentList.status).where(RespondentList.province_id == HA_NOI)).one() == "sent"


def test_the_demo_and_tests_launch_through_the_same_operation_to_its_end(app, session, ministry_user, ready):
    with app.app_context():
        outcome = invitations.launch(session, ministry_user, current_campaign(session), [HAI_PHONG],
                                     base_url="http://localhost", mail_domain="localhost",
                                     tz_name="Asia/Ho_Chi_Minh", accept_sample=True)

    assert (outcome.provinces, outcome.invitations) == (["Thành phố Hải Phòng"], 8)
    assert [(o.kind, o.state, o.done, o.total) for o in session.exec(select(Operation))] == [("launch", "done", 8, 8)]


# ---------------------------------------------------------------- "Đôn đốc tất cả"


@pytest.fixture
def survey(app, session, ministry_user, clock):
    return launch_survey(app, session, ministry_user)


def test_reminding_everyone_is_recorded_by_the_request_and_queued_by_the_worker(
        app, client, session, province_user, survey):
    log_in(client, province_user)

    response = client.post("/khao-sat/tien-do/don-doc", data={"all": "1"})
    again = client.post("/khao-sat/tien-do/don-doc", data={"all": "1"})

    assert response.status_code == 303 and re.search(r"/khao-sat/tien-do/don-doc/\d+$", response.headers["Location"])
    assert again.headers["Location"] == response.headers["Location"]  # a second click follows the same one
    assert count_rows(session, OutboxMessage, OutboxMessage.kind == "reminder") == 0
    assert "Đang gửi thư đôn đốc: 0 / 8 người" in said(client.get(response.headers["Location"]))

    finish_operations(app, chunk=3)

    assert "Đã gửi thư đôn đốc đến 8 người." in said(client.get(response.headers["Location"]))
    reminded = Counter(m.invitation_id for m in session.exec(select(OutboxMessage)
                                                             .where(OutboxMessage.kind == "reminder")))
    assert len(reminded) == 8 and set(reminded.values()) == {1}


def test_another_province_cannot_follow_a_province_reminder_operation(
        app, client, session, province_user, other_province_user, survey):
    log_in(client, province_user)
    url = client.post("/khao-sat/tien-do/don-doc", data={"all": "1"}).headers["Location"]
    log_in(client, other_province_user)

    assert client.get(url).status_code == 404
