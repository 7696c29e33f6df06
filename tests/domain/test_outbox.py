"""The outbox (portal/domain/outbox.py) against a real SMTP server on loopback (tests/support/smtp.py)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, select

from portal.domain import outbox, outbox_smtp
from portal.models import OutboxMessage, utcnow
from tests.support.outbox import SUBJECT, make_invitation, queue
from tests.support.smtp import MAIL_DOMAIN, mail_config
from tests.support.statements import query_plan


@pytest.fixture
def app_config(app_config, sink):
    return {**app_config, **mail_config(sink)}


def rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


# ---------------------------------------------------------------- queue


def test_enqueue_gives_each_message_a_bounce_token_and_a_message_id_and_leaves_the_commit_to_the_caller(session):
    first = outbox.enqueue(session, kind="notice", to_addr="a@hanoi.gov.vn", subject="S", body_text="B",
                           mail_domain=MAIL_DOMAIN)
    second = outbox.enqueue(session, kind="notice", to_addr="b@hanoi.gov.vn", subject="S", body_text="B",
                            mail_domain=MAIL_DOMAIN)
    session.flush()

    assert len(first.bounce_token) == 32 and first.bounce_token != second.bounce_token
    assert first.message_id.startswith("<") and first.message_id.endswith(f"@{MAIL_DOMAIN}>")
    assert first.message_id != second.message_id
    assert (first.status, first.attempts) == ("queued", 0)
    session.rollback()
    assert rows(session) == []


def test_retry_delay_doubles_from_two_minutes_up_to_an_hour():
    assert [outbox.retry_delay(n) for n in (1, 2, 3, 5, 6, 8)] == [
        timedelta(minutes=2), timedelta(minutes=4), timedelta(minutes=8), timedelta(minutes=32),
        timedelta(minutes=60), timedelta(minutes=60)]


# ---------------------------------------------------------------- delivery


def test_each_message_arrives_once_with_its_message_id_verp_sender_vietnamese_subject_and_both_parts(
        app, session, sink):
    invitation = make_invitation(session)
    queued = queue(session, 3, kind="invitation", invitation_id=invitation.id)

    assert outbox.run_once(app, "test:1", limit=10) == 3

    assert sink.count() == 3
    by_id = {item.outbox_id: item for item in sink.messages}
    for row in queued:
        received = by_id[row.id]
        message = received.message
        assert received.mail_from == f"bounces+{row.bounce_token}@{MAIL_DOMAIN}"
        assert received.rcpt_tos == [row.to_addr]
        assert message["Message-ID"] == row.message_id
        assert message["Subject"] == SUBJECT
        assert message["To"] == row.to_addr
        assert message["From"] == "Bộ Nội vụ <khaosat@chisocchc.gov.vn>"
        assert message["Auto-Submitted"] == "auto-generated"
        assert "Return-Path" not in message  # the receiving server adds it from MAIL FROM
        assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == row.body_text
        assert message.get_body(("html",)).get_content().strip() == row.body_html
    stored = rows(session)
    assert [(r.status, r.attempts, r.claimed_by) for r in stored] == [("sent", 1, "test:1")] * 3
    assert all(r.last_reply.startswith("250 2.0.0 Ok: queued as SINK") and r.sent_at for r in stored)
    session.refresh(invitation)
    assert invitation.delivery_status == "sent"
    assert invitation.delivery_reply.startswith("250 ")


@pytest.mark.parametrize("subject, body_html", [
    ("Phiếu khảo sát Chỉ số CCHC năm 2021: mời Nguyễn Thị Hương Giang, Trưởng phòng Tổ chức – Hành chính, "
     "Sở Nông nghiệp và Phát triển nông thôn trả lời (hạn 27/02/2022)", ""),
    ("Plain ASCII subject", "<p>Chỉ có <b>HTML</b> và văn bản</p>"),
])
def test_a_long_vietnamese_subject_and_a_text_only_message_parse_back_exactly_with_short_header_lines(
        subject, body_html):
    row = OutboxMessage(id=9, kind="notice", to_addr="a@hanoi.gov.vn", subject=subject,
                        body_text="Dòng một\nDòng hai " + "ễ" * 200 + "\n", body_html=body_html,
                        bounce_token="t", message_id="<m@chisocchc.gov.vn>")

    payload = outbox_smtp.build_message(row, sender="Bộ Nội vụ <khaosat@chisocchc.gov.vn>")

    message = message_from_bytes(payload, policy=policy.default)
    assert message["Subject"] == subject and message["From"] == "Bộ Nội vụ <khaosat@chisocchc.gov.vn>"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == row.body_text
    if body_html:
        assert message.get_body(("html",)).get_content() == body_html
    else:
        assert not message.is_multipart()
    assert all(len(line) <= 78 for line in payload.split(b"\r\n")), "RFC 5322 line length"
    assert b"\n" not in payload.replace(b"\r\n", b"")  # CRLF only, as SMTP wants


def test_nothing_due_means_no_connection_at_all(app, session, sink):
    assert outbox.run_once(app, "test:1", limit=10) == 0
    assert sink.connections == 0


def test_a_550_refusal_fails_that_message_with_the_server_reply_and_the_others_still_go(app, session, sink):
    invitation = make_invitation(session, email="khongton@hanoi.gov.vn")
    sink.refuse["khongton@hanoi.gov.vn"] = "550 5.1.1 <khongton@hanoi.gov.vn>: Recipient address rejected"
    queue(session, 1, to="truoc@hanoi.gov.vn")
    queue(session, 1, to="khongton@hanoi.gov.vn", kind="invitation", invitation_id=invitation.id)
    queue(session, 1, to="sau@hanoi.gov.vn")

    assert outbox.run_once(app, "test:1", limit=10) == 3

    assert sorted(item.rcpt_tos[0] for item in sink.messages) == ["sau@hanoi.gov.vn", "truoc@hanoi.gov.vn"]
    refused = rows(session)[1]
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert refused.last_reply == "550 5.1.1 <khongton@hanoi.gov.vn>: Recipient address rejected"
    session.refresh(invitation)
    assert (invitation.delivery_status, invitation.delivery_reply) == ("failed", refused.last_reply)
    assert invitation.delivery_at is not None


def test_a_451_is_retried_after_its_backoff_and_then_delivered(app, session, sink):
    invitation = make_invitation(session, email="ban@hanoi.gov.vn")
    sink.tempfail["ban@hanoi.gov.vn"] = 2
    queue(session, 1, to="ban@hanoi.gov.vn", kind="reminder", invitation_id=invitation.id)
    start = utcnow()

    assert outbox.run_once(app, "test:1", limit=10, now=start) == 1
    [row] = rows(session)
    assert (row.status, row.attempts, row.last_reply) == ("queued", 1, "451 4.7.1 Greylisted, please try again later")
    assert row.next_attempt_at == start + timedelta(minutes=2)
    session.refresh(invitation)
    assert (invitation.delivery_status, invitation.delivery_reply) == ("queued", row.last_reply)

    assert outbox.run_once(app, "test:1", limit=10, now=start + timedelta(minutes=1)) == 0  # not due yet
    assert outbox.run_once(app, "test:1", limit=10, now=start + timedelta(minutes=2)) == 1  # 451 again
    [row] = rows(session)
    assert (row.status, row.attempts, row.next_attempt_at) == ("queued", 2, start + timedelta(minutes=6))
    assert outbox.run_once(app, "test:1", limit=10, now=start + timedelta(minutes=6)) == 1

    [row] = rows(session)
    assert (row.status, row.attempts) == ("sent", 3)
    assert sink.count() == 1
    session.refresh(invitation)
    assert invitation.delivery_status == "sent"


def test_temporary_refusals_fail_the_message_once_its_attempts_are_used_up(app, session, sink):
    app.config["PORTAL_MAIL_MAX_ATTEMPTS"] = 2
    sink.tempfail["ban@hanoi.gov.vn"] = 99
    queue(session, 1, to="ban@hanoi.gov.vn")
    start = utcnow()

    outbox.run_once(app, "test:1", limit=10, now=start)
    outbox.run_once(app, "test:1", limit=10, now=start + timedelta(minutes=2))

    [row] = rows(session)
    assert (row.status, row.attempts, row.last_reply) == ("failed", 2, "451 4.7.1 Greylisted, please try again later")
    assert outbox.run_once(app, "test:1", limit=10, now=start + timedelta(hours=5)) == 0


def test_a_connection_dropped_mid_batch_loses_nothing_and_sends_nothing_twice(app, session, sink):
    sink.drop_after = 2  # hang up when the third message starts
    queue(session, 5)
    start = utcnow()

    assert outbox.run_once(app, "test:1", limit=10, now=start) == 3
    assert sink.count() == 2 and sink.drops == 1
    stored = rows(session)
    assert [(r.status, r.attempts) for r in stored] == [("sent", 1), ("sent", 1), ("queued", 1), ("queued", 0),
                                                        ("queued", 0)]
    assert stored[2].last_reply.startswith("Mất kết nối SMTP")
    assert stored[2].next_attempt_at == start + timedelta(minutes=2)  # the one on the wire backs off
    assert stored[3].last_reply == ""  # the untried ones go again at once

    assert outbox.run_once(app, "test:1", limit=10, now=start) == 2  # a new connection
    assert outbox.run_once(app, "test:1", limit=10, now=start + timedelta(minutes=2)) == 1

    assert [r.status for r in rows(session)] == ["sent"] * 5
    assert sorted(sink.outbox_ids().values()) == [1] * 5
    assert set(sink.outbox_ids()) == {r.id for r in stored}


def test_a_421_at_one_recipient_retries_it_and_leaves_the_rest_for_a_new_connection(app, session, sink):
    sink.refuse["nguoi2@hanoi.gov.vn"] = "421 4.3.2 Service shutting down, closing transmission channel"
    queue(session, 3)
    start = utcnow()

    assert outbox.run_once(app, "test:1", limit=10, now=start) == 2

    assert [(r.status, r.attempts, r.last_reply[:3]) for r in rows(session)] == [
        ("sent", 1, "250"), ("queued", 1, "421"), ("queued", 0, "")]
    assert rows(session)[1].next_attempt_at == start + timedelta(minutes=2)


def test_an_unreachable_server_puts_the_whole_batch_back_without_counting_an_attempt(app, session, sink):
    sink.stop()
    queue(session, 3)

    assert outbox.run_once(app, "test:1", limit=10) == 0

    assert [(r.status, r.attempts, r.claimed_by) for r in rows(session)] == [("queued", 0, "")] * 3


def test_messages_are_paced_at_the_configured_rate(app, session, sink):
    app.config["PORTAL_MAIL_RATE"] = 20.0  # one message every 50 ms
    queue(session, 5)

    started = time.monotonic()
    outbox.run_once(app, "test:1", limit=10)
    elapsed = time.monotonic() - started

    assert sink.count() == 5
    assert elapsed >= 0.2  # four gaps of 50 ms


def test_a_stop_request_ends_the_batch_after_the_current_message(app, session, sink):
    queue(session, 4)
    stop = threading.Event()
    with app.app_context():
        with app.extensions["portal_db"].new_session() as claim_session:
            claimed = outbox.claim_batch(claim_session, "test:1", 10, utcnow())

        def store_and_stop(result: outbox.SendResult) -> None:
            stop.set()
            with app.extensions["portal_db"].new_session() as s:
                outbox.record_outcome(s, result.outbox_id, result.status, result.reply, result.at,
                                      retry_at=result.retry_at, released=result.released)
                s.commit()

        results = outbox_smtp.send_batch(claimed, settings=outbox_smtp.MailSettings.from_config(app.config),
                                    record=store_and_stop, stop=stop)

    assert [(r.status, r.released) for r in results] == [("sent", False)] + [("queued", True)] * 3
    assert sink.count() == 1
    assert [(r.status, r.attempts) for r in rows(session)] == [("sent", 1)] + [("queued", 0)] * 3


# ---------------------------------------------------------------- claims and the sweep


def test_two_workers_claiming_at_the_same_moment_never_share_a_message(app, session):
    queue(session, 40)
    now = utcnow()
    barrier = threading.Barrier(2)
    claimed: dict[str, list[int]] = {}
    database = app.extensions["portal_db"]

    def claim(worker: str) -> None:
        with database.new_session() as own:
            barrier.wait()
            claimed[worker] = [m.id for m in outbox.claim_batch(own, worker, 40, now)]

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("a:1", "b:2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not set(claimed["a:1"]) & set(claimed["b:2"])
    assert sorted(claimed["a:1"] + claimed["b:2"]) == [r.id for r in rows(session)]
    assert {(r.status, r.attempts) for r in rows(session)} == {("sending", 1)}


def test_the_claim_reads_the_due_rows_in_queue_order_from_its_index_without_a_scan_or_a_sort(session):
    now = utcnow()
    # A long history of sent rows and a long queue, some of it waiting for a retry, both analysed.
    session.execute(insert(OutboxMessage.__table__), [
        {"kind": "invitation", "to_addr": f"nguoi{n}@hanoi.gov.vn", "subject": SUBJECT, "body_text": "B",
         "body_html": "", "bounce_token": f"{n:032x}", "message_id": f"<{n}@x>", "attempts": 0,
         "status": "sent" if n % 2 else "queued", "claimed_by": "", "last_reply": "",
         "next_attempt_at": now + timedelta(minutes=5 if n % 10 == 0 else -5),
         "queued_at": now - timedelta(seconds=n), "updated_at": now} for n in range(20000)])
    session.commit()
    session.execute(text("ANALYZE"))

    plan = query_plan(session, outbox.claim_statement(session.get_bind().dialect.name, "w:1", 50, now,
                                                      timedelta(minutes=30)))

    assert "ix_outbox_claim" in plan, plan
    if session.get_bind().dialect.name == "sqlite":
        assert "SCAN outboxmessage" not in plan and "TEMP B-TREE" not in plan, plan
    else:
        assert "Seq Scan" not in plan and "Sort" not in plan, plan
        assert "LockRows" in plan, plan


def test_the_claim_locks_its_rows_skipping_those_another_worker_holds_on_postgresql(session):
    statement = outbox.claim_statement("postgresql", "w:1", 50, utcnow(), timedelta(minutes=30))

    assert "FOR UPDATE SKIP LOCKED" in str(statement.compile(dialect=postgresql.dialect()))


def test_the_sweep_returns_only_rows_whose_lease_has_expired(session):
    now = utcnow()
    queue(session, 3, now=now - timedelta(hours=1))
    outbox.claim_batch(session, "dead:1", 2, now - timedelta(minutes=11), lease=timedelta(minutes=10))  # rows 1, 2
    stuck, *_ = rows(session)
    outbox.claim_batch(session, "alive:2", 1, now - timedelta(minutes=1), lease=timedelta(minutes=10))  # row 3

    assert outbox.sweep_stuck(session, now=now) == 2

    assert [(r.status, r.claimed_by, r.attempts, r.lease_until) for r in rows(session)] == [
        ("queued", "", 1, None), ("queued", "", 1, None), ("sending", "alive:2", 1, now + timedelta(minutes=9))]
    assert outbox.sweep_stuck(session, now=now + timedelta(minutes=9)) == 1
    assert stuck.id == rows(session)[0].id


def test_a_renewed_lease_keeps_an_old_claim_from_the_sweep_and_says_which_rows_are_still_held(session):
    now = utcnow()
    queue(session, 3, now=now - timedelta(hours=1))
    # Claimed 20 minutes ago for 10: without its renewal the sweep would take the batch.
    first, second, third = (m.id for m in outbox.claim_batch(session, "slow:1", 3, now - timedelta(minutes=20),
                                                               lease=timedelta(minutes=10)))
    outbox.record_outcome(session, third, "sent", "250 ok", now)
    session.commit()

    held = outbox.renew_lease(session, "slow:1", [first, second, third], now + timedelta(minutes=10))
    session.commit()
    assert held == {first, second}
    assert outbox.renew_lease(session, "other:2", [first], now + timedelta(minutes=10)) == set()

    assert outbox.sweep_stuck(session, now=now) == 0
    assert outbox.sweep_stuck(session, now=now + timedelta(minutes=10)) == 2


def test_a_later_bounce_is_recorded_on_the_message_and_its_invitation(app, session, sink):
    invitation = make_invitation(session)
    [row] = queue(session, 1, kind="invitation", invitation_id=invitation.id)
    outbox.run_once(app, "test:1", limit=10)
    later = utcnow() + timedelta(hours=1)

    assert outbox.record_outcome(session, row.id, "bounced", "550 5.2.2 mailbox full", later)
    session.commit()

    [row] = rows(session)
    assert (row.status, row.last_reply) == ("bounced", "550 5.2.2 mailbox full")
    session.refresh(invitation)
    assert (invitation.delivery_status, invitation.delivery_reply, invitation.delivery_at) == (
        "bounced", "550 5.2.2 mailbox full", later)
    assert not outbox.record_outcome(session, row.id, "queued", "451 late", later)  # never re-queue a finished row


def test_an_address_smtp_cannot_carry_fails_without_breaking_the_batch(app, session, sink):
    queue(session, 1, to="nguyễn@hanoi.gov.vn")
    queue(session, 1, to="dung@hanoi.gov.vn")

    assert outbox.run_once(app, "test:1", limit=10) == 2

    first, second = rows(session)
    assert first.status == "failed" and "ASCII" in first.last_reply
    assert second.status == "sent"
    assert sink.count() == 1
