"""Storing a batch's outcomes (portal/domain/outbox_records.py): what each outcome writes, when it is stored
(before the next message's DATA), and what a worker killed between a message and its outcome leaves behind."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from portal.domain import outbox, outbox_records
from portal.domain.outbox import ClaimedMessage, SendResult
from portal.domain.outbox_records import Recorder, batch_connection
from portal.extensions import PREPARED
from portal.models import OutboxMessage, utcnow
from tests.support.crash import run_and_die
from tests.support.outbox import make_invitation, queue
from tests.support.smtp import mail_config


@pytest.fixture
def app_config(app_config, sink):
    return {**app_config, **mail_config(sink)}


@pytest.fixture
def engine(app):
    return app.extensions["portal_db"].engine


def rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def claim(session: Session, count: int = 10, *, now=None) -> list[ClaimedMessage]:
    return outbox.claim_batch(session, "test:1", count, now or utcnow())


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def record_outcomes(engine, *outcomes: Callable[[int], SendResult], now=None) -> None:
    """Claim the one queued message on a batch connection and record `outcomes` (each given its id) in turn."""
    with batch_connection(engine) as connection:
        [message] = claim(Session(bind=connection), now=now)
        with Recorder.open(connection, [message], worker_id="test:1", lease=timedelta(minutes=30)) as recorder:
            for outcome in outcomes:
                recorder.record(outcome(message.id))


# ---------------------------------------------------------------- the claim


def test_the_claim_returns_plain_messages_in_queue_order_counting_the_claims_attempt(session):
    now = utcnow()
    queue(session, 1, to="sau@hanoi.gov.vn", now=now)
    queue(session, 1, to="truoc@hanoi.gov.vn", now=now - timedelta(minutes=1))

    claimed = claim(session, now=now)

    assert [type(message) for message in claimed] == [ClaimedMessage, ClaimedMessage]
    assert [(m.to_addr, m.attempts, m.kind) for m in claimed] == [("truoc@hanoi.gov.vn", 1, "notice"),
                                                                   ("sau@hanoi.gov.vn", 1, "notice")]
    stored = {row.id: row for row in rows(session)}
    for message in claimed:
        row = stored[message.id]
        assert (message.subject, message.body_text, message.body_html, message.bounce_token, message.message_id) == (
            row.subject, row.body_text, row.body_html, row.bounce_token, row.message_id)


def test_the_claim_leaves_out_messages_past_their_expiry(session):
    now = utcnow()
    queue(session, 2, now=now - timedelta(hours=1))
    expiring = rows(session)[0]
    expiring.expires_at = now - timedelta(minutes=1)
    session.add(expiring)
    session.commit()

    claimed = claim(session, now=now)

    assert [m.id for m in claimed] == [rows(session)[1].id]
    assert rows(session)[0].status == "expired"


# ---------------------------------------------------------------- what each outcome writes


def test_a_sent_outcome_marks_the_message_and_its_invitation_sent_with_the_servers_reply(engine, session):
    invitation = make_invitation(session)
    queue(session, 1, kind="invitation", invitation_id=invitation.id)
    at = utcnow()

    record_outcomes(engine, lambda id: SendResult(id, "sent", "250 2.0.0 Ok: queued as X1", at))

    [row] = rows(session)
    assert (row.status, row.last_reply, row.sent_at, row.updated_at) == ("sent", "250 2.0.0 Ok: queued as X1", at, at)
    session.refresh(invitation)
    assert (invitation.delivery_status, invitation.delivery_reply, invitation.delivery_at) == (
        "sent", "250 2.0.0 Ok: queued as X1", at)


def test_a_failed_outcome_keeps_the_refusal_on_the_message_and_its_reminders_invitation(engine, session):
    invitation = make_invitation(session)
    queue(session, 1, kind="reminder", invitation_id=invitation.id)
    at = utcnow()

    record_outcomes(engine, lambda id: SendResult(id, "failed", "550 5.1.1 Không có hộp thư này", at))

    [row] = rows(session)
    assert (row.status, row.last_reply, row.sent_at) == ("failed", "550 5.1.1 Không có hộp thư này", None)
    session.refresh(invitation)
    assert (invitation.delivery_status, invitation.delivery_reply) == ("failed", "550 5.1.1 Không có hộp thư này")


def test_a_retry_queues_the_message_again_at_its_backoff_and_the_claim_finds_it_then_and_not_before(engine, session):
    invitation = make_invitation(session)
    queue(session, 1, kind="invitation", invitation_id=invitation.id)
    at = utcnow()

    record_outcomes(engine, lambda id: SendResult(id, "queued", "451 4.7.1 Greylisted", at,
                                                  retry_at=at + timedelta(minutes=2)), now=at)

    [row] = rows(session)
    assert (row.status, row.attempts, row.claimed_by, row.claimed_at, row.lease_until, row.next_attempt_at) == (
        "queued", 1, "", None, None, at + timedelta(minutes=2))
    session.refresh(invitation)
    assert (invitation.delivery_status, invitation.delivery_reply) == ("queued", "451 4.7.1 Greylisted")
    # The stamp is stored as the portal's own statements store it: the claim compares it rightly.
    assert claim(session, now=at + timedelta(minutes=2) - timedelta(seconds=1)) == []
    assert [m.id for m in claim(session, now=at + timedelta(minutes=2))] == [row.id]


def test_a_retry_of_a_message_no_longer_sending_changes_neither_it_nor_its_invitation(engine, session):
    invitation = make_invitation(session)
    queue(session, 1, kind="invitation", invitation_id=invitation.id)
    at = utcnow()

    record_outcomes(engine, lambda id: SendResult(id, "sent", "250 ok", at),
                    lambda id: SendResult(id, "queued", "451 late", at, retry_at=at))

    [row] = rows(session)
    assert (row.status, row.last_reply) == ("sent", "250 ok")
    session.refresh(invitation)
    assert (invitation.delivery_status, invitation.delivery_reply) == ("sent", "250 ok")


def test_a_release_gives_back_the_claims_attempt_and_leaves_the_invitation_alone(engine, session):
    invitation = make_invitation(session)
    queue(session, 1, kind="invitation", invitation_id=invitation.id)
    at = utcnow()

    record_outcomes(engine, lambda id: SendResult(id, "queued", "", at, released=True))

    [row] = rows(session)
    assert (row.status, row.attempts, row.claimed_by, row.lease_until, row.last_reply) == ("queued", 0, "", None, "")
    session.refresh(invitation)
    assert (invitation.delivery_status, invitation.delivery_at) == ("queued", None)


def test_a_notice_about_an_invitation_records_the_message_only(engine, session):
    invitation = make_invitation(session)
    queue(session, 1, kind="notice", invitation_id=invitation.id)

    record_outcomes(engine, lambda id: SendResult(id, "sent", "250 ok", utcnow()))

    assert rows(session)[0].status == "sent"
    session.refresh(invitation)
    assert (invitation.delivery_status, invitation.delivery_at) == ("queued", None)


def test_an_outcome_without_a_statement_is_refused():
    with pytest.raises(ValueError, match="bounced"):
        outbox_records.outcome_of(SendResult(1, "bounced", "550", utcnow()))


# ---------------------------------------------------------------- when outcomes are stored


def test_each_outcome_is_stored_once_settled_and_a_second_record_settles_the_first(engine, session):
    queue(session, 2)

    with batch_connection(engine) as connection:
        first, second = claim(Session(bind=connection))
        with Recorder.open(connection, [first, second], worker_id="test:1", lease=timedelta(minutes=30)) as recorder:
            recorder.record(SendResult(first.id, "sent", "250 ok", utcnow()))
            recorder.record(SendResult(second.id, "sent", "250 ok", utcnow()))
            recorder.settle()
            seen_before_the_end = [row.status for row in rows(session)]

    assert seen_before_the_end == ["sent", "sent"]


def test_on_postgresql_an_outcome_is_sent_without_waiting_and_read_back_when_settled(engine, session):
    if not is_postgresql(session):
        pytest.skip("SQLite stores each outcome as it is recorded")
    queue(session, 1)

    with batch_connection(engine) as connection:
        [message] = claim(Session(bind=connection))
        with Recorder.open(connection, [message], worker_id="test:1", lease=timedelta(minutes=30)) as recorder:
            recorder.record(SendResult(message.id, "sent", "250 ok", utcnow()))
            assert recorder.writer.pending  # on its way: the worker goes on talking to the relay
            recorder.settle()
            assert not recorder.writer.pending
            assert rows(session)[0].status == "sent"


def test_on_postgresql_outcomes_are_written_after_psycopg_dropped_the_connections_prepared_statements(
        engine, session):
    # The portal prepares some statements of its own (extensions.PREPARED); psycopg then deallocates every
    # prepared statement of the connection at a ROLLBACK. Outcome statements kept by name were lost that way.
    if not is_postgresql(session):
        pytest.skip("PostgreSQL's prepared statements")
    queue(session, 2)

    for _ in range(2):  # each batch gets the same pooled connection as the request before it
        with engine.connect() as request:  # a request: a prepared statement, then its rollback
            request.execute(text("SELECT 1").execution_options(**PREPARED))
            request.rollback()
        with batch_connection(engine) as connection:
            [message] = claim(Session(bind=connection), 1)
            with Recorder.open(connection, [message], worker_id="test:1", lease=timedelta(minutes=30)) as recorder:
                recorder.record(SendResult(message.id, "sent", "250 ok", utcnow()))
            kept = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'cchc%%'").scalar_one()

    assert kept == 0  # nothing left on the connection for a later ROLLBACK to take away
    assert [row.status for row in rows(session)] == ["sent", "sent"]


def test_on_postgresql_an_outcome_lost_with_the_connection_raises_and_the_connection_is_not_reused(
        app, engine, session):
    if not is_postgresql(session):
        pytest.skip("a PostgreSQL backend terminated under the recorder")
    import psycopg

    queue(session, 1)
    with pytest.raises(psycopg.Error):  # noqa: PT012 - the error comes at record or at settle
        with batch_connection(engine) as connection:
            [message] = claim(Session(bind=connection))
            backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            session.commit()
            with Recorder.open(connection, [message], worker_id="test:1", lease=timedelta(minutes=30)) as recorder:
                recorder.record(SendResult(message.id, "sent", "250 ok", utcnow()))
                recorder.settle()

    assert rows(session)[0].status == "sending"  # the sweep returns it once its lease is over
    assert outbox.run_once(app, "test:1", limit=10) == 0  # the pool serves the next batch a live connection


def test_a_batch_that_fails_half_way_still_stores_its_last_outcome(engine, session):
    queue(session, 2)

    with pytest.raises(RuntimeError, match="the relay's library broke"):  # noqa: PT012
        with batch_connection(engine) as connection:
            first, second = claim(Session(bind=connection))
            with Recorder.open(connection, [first, second], worker_id="test:1",
                               lease=timedelta(minutes=30)) as recorder:
                recorder.record(SendResult(first.id, "sent", "250 ok", utcnow()))
                raise RuntimeError("the relay's library broke")

    assert [row.status for row in rows(session)] == ["sent", "sending"]


def test_the_lease_is_renewed_once_a_quarter_has_passed_and_a_row_swept_meanwhile_is_no_longer_held(engine, session):
    queue(session, 3)
    lease = timedelta(minutes=20)
    now = utcnow()

    with batch_connection(engine) as connection:
        first, second, third = claim(Session(bind=connection), now=now)
        with Recorder.open(connection, [first, second, third], worker_id="test:1", lease=lease) as recorder:
            recorder.record(SendResult(first.id, "sent", "250 ok", utcnow()))
            assert recorder.holds(second.id)  # no renewal yet: nothing read
            # Another worker took the third meanwhile (its lease had run out while this one could not renew).
            session.execute(text("UPDATE outboxmessage SET claimed_by = 'other:2' WHERE id = :id"), {"id": third.id})
            session.commit()
            recorder.renewed_at -= lease.total_seconds() / 4

            assert recorder.holds(second.id)
            assert not recorder.holds(third.id)

    stored = {row.id: row for row in rows(session)}
    assert stored[second.id].lease_until > now + lease
    assert stored[first.id].status == "sent"


# ---------------------------------------------------------------- the worker: outcomes before the next DATA


def test_the_worker_stores_each_outcome_before_the_next_message_goes_out(app, engine, session, sink):
    invitation = make_invitation(session)
    queue(session, 6, kind="invitation", invitation_id=invitation.id)
    seen: list[tuple[int, Counter[str]]] = []
    original = sink.handler.handle_DATA

    async def look_at_the_database(server, smtp_session, envelope):
        # At each DATA's end, before it is accepted: what the database holds of the messages before it.
        outbox_id = int(next(line for line in envelope.content.split(b"\r\n")
                             if line.startswith(b"X-CCHC-Outbox-Id:")).split(b":")[1])
        with Session(engine) as own:
            statuses = own.exec(select(OutboxMessage.status).where(OutboxMessage.id < outbox_id)).all()
        seen.append((outbox_id, Counter(statuses)))
        return await original(server, smtp_session, envelope)

    sink.handler.handle_DATA = look_at_the_database

    assert outbox.run_once(app, "test:1", limit=10) == 6

    assert [(outbox_id, dict(statuses)) for outbox_id, statuses in seen] == [
        (row.id, {"sent": index} if index else {}) for index, row in enumerate(rows(session))]
    session.refresh(invitation)
    assert invitation.delivery_status == "sent"


def test_a_stop_request_during_the_batch_leaves_every_outcome_stored(app, session, sink):
    queue(session, 4)
    stop = threading.Event()
    original = sink.handler.handle_DATA

    async def stop_after_the_first(server, smtp_session, envelope):
        stop.set()
        return await original(server, smtp_session, envelope)

    sink.handler.handle_DATA = stop_after_the_first

    assert outbox.run_once(app, "test:1", limit=10, stop=stop) == 1

    assert [(row.status, row.attempts) for row in rows(session)] == [("sent", 1)] + [("queued", 0)] * 3


# ---------------------------------------------------------------- killed between a message and its outcome


def test_a_worker_killed_after_a_message_was_accepted_but_before_its_outcome_sends_only_that_one_twice(
        app, app_config, session, sink):
    queue(session, 5)

    died = run_and_die(app_config, """
        from portal.domain import outbox, outbox_records

        record = outbox_records.Recorder.record
        calls = []

        def record_then_die_at_the_third(self, result):
            calls.append(result)
            if len(calls) == 3:
                die()  # the relay accepted the third message; its outcome is never written
            record(self, result)

        outbox_records.Recorder.record = record_then_die_at_the_third
        outbox.run_once(app, "doomed:1", limit=10)
    """)

    assert died
    assert sink.count() == 3
    assert [row.status for row in rows(session)] == ["sent", "sent", "sending", "sending", "sending"]
    later = utcnow() + timedelta(seconds=app.config["PORTAL_OUTBOX_LEASE_SECONDS"] + 1)
    assert outbox.sweep_stuck(session, now=later) == 3
    assert outbox.run_once(app, "test:1", limit=10, now=later) == 3

    assert [row.status for row in rows(session)] == ["sent"] * 5
    third = rows(session)[2].id
    assert sink.outbox_ids() == Counter({row.id: 2 if row.id == third else 1 for row in rows(session)})


def test_on_postgresql_a_worker_killed_while_an_outcome_is_in_flight_never_sent_the_next_data(
        app, app_config, session, sink):
    if not is_postgresql(session):
        pytest.skip("SQLite has no outcome in flight")
    queue(session, 5)

    died = run_and_die(app_config, """
        from portal.domain import outbox, outbox_records

        settle = outbox_records._PostgresWriter.settle
        calls = []

        def settle_or_die(self):
            if self.pending:
                calls.append(1)
                if len(calls) == 3:
                    die()  # the third outcome is on its way to the server, unanswered; the fourth DATA waits
            settle(self)

        outbox_records._PostgresWriter.settle = settle_or_die
        outbox.run_once(app, "doomed:1", limit=10)
    """)

    assert died
    assert sink.count() == 3  # no DATA went out past an outcome not yet settled
    later = utcnow() + timedelta(seconds=app.config["PORTAL_OUTBOX_LEASE_SECONDS"] + 1)
    outbox.sweep_stuck(session, now=later)
    outbox.run_once(app, "test:1", limit=10, now=later)

    assert [row.status for row in rows(session)] == ["sent"] * 5
    arrived = sink.outbox_ids()
    assert set(arrived) == {row.id for row in rows(session)}
    assert sum(arrived.values()) - len(arrived) <= 1  # the third, if its outcome did not reach the server

