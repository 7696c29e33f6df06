"""Storing a batch's outcomes as it is sent: fixed SQL on the batch's own database connection.

The worker (`outbox.run_once`) writes one outcome per message, so this is the
database's share of every send. It goes through the DBAPI connection the batch
holds, with a handful of fixed statements, rather than an ORM session: a
statement compiled and a session flushed per message cost more than the relay's
own round trips.

    with batch_connection(engine) as connection:
        messages = claim_batch(Session(bind=connection), ...)
        with Recorder.open(connection, messages, worker_id=worker_id, lease=lease) as recorder:
            outbox_smtp.send_batch(messages, record=recorder.record, ready=recorder.settle, hold=recorder.holds, ...)

Each outcome is its own transaction, committed before the next message's DATA:

- On SQLite the outcome and its invitation are written and committed in
  `record`, before the next message starts.
- On PostgreSQL `record` sends the statement (one statement that updates the
  message and its invitation, in autocommit: the server commits it as it runs)
  without waiting for the answer, so the database works while the next
  message's MAIL FROM and RCPT TO are on the wire; `settle`, called just before
  that message's DATA, reads the answer. So a worker killed at any moment has
  at most one message accepted by the relay but not recorded: the one on the
  wire, or the one accepted just before the kill whose outcome was still in
  flight (no DATA goes out before the previous outcome is settled).
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from psycopg import errors as pg_errors
from psycopg import pq
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from portal.domain.outbox import (
    FAILED,
    INVITATION_KINDS,
    QUEUED,
    SENDING,
    SENT,
    ClaimedMessage,
    SendResult,
    renew_lease,
)
from portal.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

RELEASE = "release"  # put back untried: the claim's attempt is given back
RETRY = "retry"
_CLEAR_CLAIM = "claimed_by = '', claimed_at = NULL, lease_until = NULL"
# What each outcome changes on the message (":name" parameters), and the condition it adds to "WHERE id = :id".
_OUTCOMES: dict[str, tuple[str, str]] = {
    SENT: (f"status = '{SENT}', last_reply = :reply, sent_at = :at, updated_at = :at", ""),
    FAILED: (f"status = '{FAILED}', last_reply = :reply, updated_at = :at", ""),
    # A retry or a release only ever follows a claim: never put back a row that was meanwhile sent or failed.
    RETRY: (f"status = '{QUEUED}', next_attempt_at = :retry_at, last_reply = :reply, {_CLEAR_CLAIM}, "
            "updated_at = :at", f" AND status = '{SENDING}'"),
    RELEASE: (f"status = '{QUEUED}', attempts = attempts - 1, {_CLEAR_CLAIM}, updated_at = :at",
              f" AND status = '{SENDING}'"),
}
_INVITATION_SET = "delivery_status = :status, delivery_at = :at, delivery_reply = :reply"


def outcome_statement(outcome: str) -> str:
    """The UPDATE of one message's `outcome` (sent, failed, retry, release)."""
    values, condition = _OUTCOMES[outcome]
    return f"UPDATE outboxmessage SET {values} WHERE id = :id{condition}"


def invitation_statement() -> str:
    """The UPDATE of the invitation a message was about (its delivery as the progress pages show it)."""
    return f"UPDATE invitation SET {_INVITATION_SET} WHERE id = :invitation_id"


def combined_statement(outcome: str) -> str:
    """The message's outcome and its invitation's delivery in one statement (PostgreSQL): one round trip, and
    in autocommit one transaction. The invitation changes only when the message did."""
    values, condition = _OUTCOMES[outcome]
    return (f"WITH outcome AS (UPDATE outboxmessage SET {values} WHERE id = :id{condition} "
            f"RETURNING invitation_id) UPDATE invitation SET {_INVITATION_SET} "
            "FROM outcome WHERE invitation.id = outcome.invitation_id")


def outcome_of(result: SendResult) -> str:
    """Which of the fixed statements stores `result`."""
    if result.released:
        return RELEASE
    if result.status == QUEUED:
        return RETRY
    if result.status in (SENT, FAILED):
        return result.status
    raise ValueError(f"no outcome statement for status {result.status!r}")


@contextmanager
def batch_connection(engine: Engine) -> Iterator[Connection]:
    """The one connection a batch uses, from its claim to its last outcome: a connection taken from the pool
    per step would cost the pool's liveness ping, a round trip, each time. On PostgreSQL it autocommits: the
    claim and each outcome are single statements, committed by the server as they run, with no BEGIN or
    COMMIT round trips around them."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


class Recorder:
    """Stores a claimed batch's outcomes one by one, and keeps the batch's lease, on one connection.

    `record` stores a result (on PostgreSQL it is sent, not yet answered);
    `settle` makes sure the last one is stored (the worker calls it before each
    DATA); `holds` renews the lease once a quarter of it has passed and says
    whether a message is still this worker's.
    """

    def __init__(self, connection: Connection, messages: Sequence[ClaimedMessage], *, worker_id: str,
                 lease: timedelta) -> None:
        self.connection = connection
        self.messages = {message.id: message for message in messages}
        self.worker_id = worker_id
        self.lease = lease
        self.held = set(self.messages)
        self.renewed_at = time.monotonic()
        driver = connection.connection.driver_connection
        if connection.dialect.name == "postgresql":
            self.writer: _Writer = _PostgresWriter(driver)
        else:
            self.writer = _SqliteWriter(driver, connection.dialect)

    @classmethod
    @contextmanager
    def open(cls, connection: Connection, messages: Sequence[ClaimedMessage], *, worker_id: str,
             lease: timedelta) -> Iterator[Recorder]:
        """A recorder of `messages` on `connection` (from `batch_connection`). The last outcome is settled at the
        end, also when the batch fails; a connection whose outcome could not be settled is not reused."""
        recorder = cls(connection, messages, worker_id=worker_id, lease=lease)
        try:
            yield recorder
        except BaseException:
            try:
                recorder.settle()
            except Exception:  # the batch's own error is the one to report
                log.exception("outbox: the last outcome of a failed batch could not be stored")
                connection.invalidate()
            else:
                if not connection.invalidated and getattr(connection.connection.driver_connection, "closed",
                                                          False):
                    connection.invalidate()  # lost under the recorder's own calls, which the pool did not see
            raise
        recorder.settle()

    def record(self, result: SendResult) -> None:
        """Store `result`: the message's outcome and, for an invitation or reminder, its invitation's delivery."""
        message = self.messages[result.outbox_id]
        outcome = outcome_of(result)
        invitation = (message.invitation_id if outcome != RELEASE and message.kind in INVITATION_KINDS
                      else None)
        self.writer.write(outcome, {
            "id": message.id, "reply": result.reply, "at": result.at, "retry_at": result.retry_at or result.at,
            "status": result.status, "invitation_id": invitation,
        }, with_invitation=invitation is not None)
        self.held.discard(message.id)

    def settle(self) -> None:
        """Wait until the outcome last recorded is stored (and raise if it could not be)."""
        self.writer.settle()

    def holds(self, message_id: int) -> bool:
        """Whether the message is still this worker's to send, renewing the batch's lease when it is due."""
        if time.monotonic() - self.renewed_at >= self.lease.total_seconds() / 4:
            self.settle()
            with Session(bind=self.connection) as session:
                self.held = renew_lease(session, self.worker_id, sorted(self.held), utcnow() + self.lease)
                session.commit()
            self.renewed_at = time.monotonic()
        return message_id in self.held


class _Writer(Protocol):
    def write(self, outcome: str, values: Mapping[str, Any], *, with_invitation: bool) -> None: ...

    def settle(self) -> None: ...


class _SqliteWriter:
    """Writes and commits each outcome at once: SQLite is in-process, there is no round trip to overlap."""

    def __init__(self, driver: Any, dialect: Any) -> None:
        self.driver = driver
        self.cursor = driver.cursor()
        # The stamp as the portal's own statements store it (UTCDateTime's text form), so comparisons hold.
        stamp_type = OutboxMessage.__table__.c.updated_at.type  # type: ignore[attr-defined]
        self.stamp: Callable[[datetime], Any] = stamp_type.dialect_impl(dialect).bind_processor(dialect)
        self.statements = {outcome: outcome_statement(outcome) for outcome in _OUTCOMES}
        self.invitation = invitation_statement()

    def write(self, outcome: str, values: Mapping[str, Any], *, with_invitation: bool) -> None:
        params = {name: self.stamp(value) if isinstance(value, datetime) else value for name, value in values.items()}
        try:
            self.cursor.execute(self.statements[outcome], params)
            if with_invitation and self.cursor.rowcount == 1:
                self.cursor.execute(self.invitation, params)
            self.driver.commit()
        except BaseException:
            self.driver.rollback()
            raise

    def settle(self) -> None:
        """Nothing to wait for: `write` has committed."""


_PARAMETER = re.compile(r":(\w+)")


@functools.cache
def _numbered(outcome: str, with_invitation: bool) -> tuple[bytes, tuple[str, ...]]:
    """An outcome's statement in libpq's numbered form ($1, $2…), and its parameters' names in that order."""
    sql = combined_statement(outcome) if with_invitation else outcome_statement(outcome)
    order: list[str] = []
    for parameter in _PARAMETER.findall(sql):
        if parameter not in order:
            order.append(parameter)
    numbered = _PARAMETER.sub(lambda match: f"${order.index(match.group(1)) + 1}", sql)
    return numbered.encode("utf-8"), tuple(order)


class _PostgresWriter:
    """Sends each outcome without waiting; `settle` reads its answer.

    Through libpq's asynchronous calls on the psycopg connection (`pgconn`): the statement and its Sync go
    out at once, so the server runs and commits it while the worker talks to the relay. Each is sent as an
    unnamed statement with its parameters: nothing is kept on the connection, since psycopg deallocates every
    named statement of a connection at its next ROLLBACK once it has prepared one of its own (a batch then
    found its outcome statements gone).
    """

    def __init__(self, driver: Any) -> None:
        self.pgconn = driver.pgconn
        self.encoding = driver.info.encoding
        self.pending = False

    def write(self, outcome: str, values: Mapping[str, Any], *, with_invitation: bool) -> None:
        self.settle()
        sql, order = _numbered(outcome, with_invitation)
        self.pgconn.send_query_params(sql, [self._text(values[parameter]) for parameter in order])
        self.pending = True

    def settle(self) -> None:
        if not self.pending:
            return
        self.pending = False
        error = None
        while (result := self.pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK and error is None:
                error = pg_errors.error_from_result(result, encoding=self.encoding)
        if error is not None:
            raise error

    def _text(self, value: Any) -> bytes | None:
        """A parameter in PostgreSQL's text form (the server infers each one's type from its column)."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat().encode("ascii")
        return str(value).encode(self.encoding)
