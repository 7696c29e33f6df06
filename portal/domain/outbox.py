"""The email outbox: queue, claim, send, retry, sweep.

Every email is one `OutboxMessage` row moving queued -> sending -> sent / failed
(and later bounced, from bounce intake). The worker (portal/jobs.py) runs
`run_once` every few seconds:

1. `claim_batch` marks a batch of due rows "sending" with one conditional
   UPDATE (`... WHERE status = 'queued'`, RETURNING the rows it changed) over
   the first due rows read from ix_outbox_claim (`FOR UPDATE SKIP LOCKED` on
   PostgreSQL), and commits before any SMTP talk, so two workers, on one server
   or two, never hold the same row. The claim is a lease: `lease_until` is
   `PORTAL_OUTBOX_LEASE_SECONDS` ahead. Invitations and reminders are stored
   with the personal link masked; the worker derives the real link from the key
   for the batch (`invitations.personal_links`) and puts it in as it sends.
2. `outbox_smtp.send_batch` sends them over one SMTP connection, one message per recipient
   (so each refusal is seen), at `PORTAL_MAIL_RATE` messages per second, with a
   VERP envelope sender `bounces+<token>@domain` so a later bounce names its row.
3. Each outcome is written right after its message, in its own transaction
   (`outbox_records.Recorder`: fixed SQL on the batch's own connection; a
   commit per batch would let a killed worker's whole batch be sent again):
   sent; failed on a 5xx with the server's reply; queued again with backoff on
   a 4xx or a broken connection (failed after `PORTAL_MAIL_MAX_ATTEMPTS`). On
   PostgreSQL the outcome is sent without waiting for its answer, which is read
   just before the next message's DATA, so the database works while MAIL FROM
   and RCPT TO are on the wire. When the connection breaks, the rest of the
   batch goes back to the queue without counting an attempt. The worker renews
   the lease of the rows it still holds (`renew_lease`) once a quarter of the
   lease has passed, however slow the relay; a row it no longer holds is not
   sent.
4. `sweep_stuck` returns rows whose lease has expired: their worker died.

Delivery guarantee: killing the worker at any moment loses no message, and no
message's DATA starts before the outcome of every earlier message of its batch
is committed. So at most one message may have been accepted by the server
without the worker recording it: the one on the wire, or (on PostgreSQL) the
one accepted just before the kill whose outcome was still on its way to the
database. The sweep queues it again once its lease has expired, so that
message, and only that one, may arrive twice. A live worker's rows are never
swept, since it renews their lease; and config.py refuses a
batch size, SMTP timeout and pace whose worst case (batch x (timeout + 1/rate))
outlasts the lease, so that even a worker that cannot renew (its database
briefly gone) finishes its batch before the lease ends.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from flask import Flask
from sqlalchemy import Table, Update, and_, case, func, or_
from sqlmodel import Session, select, update

from portal.models import DeliveryStatus, Invitation, OutboxMessage, utcnow

log = logging.getLogger(__name__)

# Outbox kinds whose outcome is also shown on the respondent's invitation (progress pages read one row).
INVITATION_KINDS = frozenset({"invitation", "reminder"})
MAX_BACKOFF = timedelta(minutes=60)
DEFAULT_LEASE = timedelta(minutes=30)
# The UPDATEs run once or twice per message, so they go to the tables themselves: an ORM-enabled UPDATE
# costs about three times as much, to keep in step objects these short sessions do not hold.
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
_INVITATION: Table = Invitation.__table__  # type: ignore[attr-defined]

QUEUED = DeliveryStatus.QUEUED.value
SENDING = DeliveryStatus.SENDING.value
SENT = DeliveryStatus.SENT.value
FAILED = DeliveryStatus.FAILED.value
# Outbox-only outcomes of messages that were never sent: on purpose, not by a failure.
EXPIRED = "expired"  # not sent by its expires_at (a reminder whose response deadline has passed)
WITHDRAWN = "withdrawn"  # its invitation was withdrawn before it went out


# ---------------------------------------------------------------- queue


def enqueue(
    session: Session,
    *,
    kind: str,
    to_addr: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    invitation_id: int | None = None,
    province_id: int | None = None,
    mail_domain: str,
    now: datetime | None = None,
    expires_at: datetime | None = None,
) -> OutboxMessage:
    """Add one message to the outbox. Does not commit: the caller commits it with its own changes,
    so that, say, a launch and its invitation emails are stored together or not at all.

    A message still unsent at `expires_at` is never sent (see `claim_batch`)."""
    now = now or utcnow()
    from portal.domain.addresses import deliverable

    message = OutboxMessage(
        kind=kind, to_addr=deliverable(to_addr), subject=subject, body_text=body_text, body_html=body_html,
        invitation_id=invitation_id, province_id=province_id, expires_at=expires_at,
        bounce_token=secrets.token_hex(16), message_id=make_msgid(domain=mail_domain),
        status=QUEUED, attempts=0, next_attempt_at=now, queued_at=now, updated_at=now,
    )
    session.add(message)
    return message


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A message a worker holds for sending: what the wire and its outcome need, copied from the claim's
    RETURNING (no ORM instance: a batch is read, sent and recorded without a session tracking it)."""

    id: int
    kind: str
    invitation_id: int | None
    to_addr: str
    subject: str
    body_text: str
    body_html: str
    bounce_token: str
    message_id: str
    attempts: int  # counting the claim's own attempt


# The claim returns these columns of each row it changed, then its status and queue position.
_CLAIMED_COLUMNS = [_OUTBOX.c[field.name] for field in fields(ClaimedMessage)]


def claim_batch(
    session: Session, worker_id: str, limit: int, now: datetime, lease: timedelta = DEFAULT_LEASE,
) -> list[ClaimedMessage]:
    """Claim up to `limit` due messages for `worker_id`, oldest first, for `lease`, and commit the claim.

    One UPDATE claims the batch: its subquery reads the first due rows in queue
    order from ix_outbox_claim (no scan of the queue, no sort), and the UPDATE
    itself only changes rows still queued, returning those it changed, so a row
    another worker took in the meantime is left out. On PostgreSQL the subquery
    locks its rows `FOR UPDATE SKIP LOCKED`: two workers claiming at once take
    different rows instead of waiting for each other (SQLite has one writer at a
    time anyway). The claim counts one attempt. Due messages past their
    `expires_at` are marked expired by the same statement instead of claimed, so a
    reminder queued before the response deadline never arrives after it.
    The UPDATE returns what sending needs, so the claim is that one statement and its commit.
    """
    changed = session.exec(claim_statement(session.get_bind().dialect.name, worker_id, limit, now, lease)).all()
    session.commit()
    claimed = sorted((row for row in changed if row[-2] == SENDING), key=lambda row: (row[-1], row[0]))
    return [ClaimedMessage(*row[:-2]) for row in claimed]


def claim_statement(dialect: str, worker_id: str, limit: int, now: datetime, lease: timedelta) -> Update:
    """The UPDATE of `claim_batch` for the database `dialect` ("sqlite", "postgresql"), returning of each row
    it changed the fields of a `ClaimedMessage`, then its status ("sending" when claimed, "expired" when
    dropped) and queued_at (RETURNING keeps no order)."""
    due = (select(_OUTBOX.c.id)
           .where(_OUTBOX.c.status == QUEUED, _OUTBOX.c.next_attempt_at <= now)
           .order_by(_OUTBOX.c.queued_at, _OUTBOX.c.id)
           .limit(limit))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # A CTE, joined: PostgreSQL runs it exactly once (an IN (subquery ... LIMIT) may be run again and
    # claim more than `limit` rows).
    due = due.cte("due")
    expired = and_(_OUTBOX.c.expires_at.is_not(None), _OUTBOX.c.expires_at <= now)
    return (
        update(_OUTBOX)
        .where(_OUTBOX.c.id == due.c.id, _OUTBOX.c.status == QUEUED,
               _OUTBOX.c.next_attempt_at <= now)
        .values(status=case((expired, EXPIRED), else_=SENDING),
                last_reply=case((expired, "Không gửi: đã quá hạn trả lời phiếu."), else_=_OUTBOX.c.last_reply),
                claimed_by=case((expired, _OUTBOX.c.claimed_by), else_=worker_id),
                claimed_at=case((expired, _OUTBOX.c.claimed_at), else_=now),
                lease_until=case((expired, _OUTBOX.c.lease_until), else_=now + lease),
                attempts=case((expired, _OUTBOX.c.attempts), else_=_OUTBOX.c.attempts + 1),
                updated_at=now)
        .returning(*_CLAIMED_COLUMNS, _OUTBOX.c.status, _OUTBOX.c.queued_at)
    )


def cancel_queued(session: Session, invitation_id: int, *, now: datetime) -> int:
    """Keep the invitation's messages not yet sent from going out (it was withdrawn); not committed."""
    result = session.exec(update(_OUTBOX).where(_OUTBOX.c.invitation_id == invitation_id, _OUTBOX.c.status == QUEUED)
                          .values(status=WITHDRAWN, last_reply="Không gửi: thư mời đã được thu hồi.",
                                  updated_at=now))
    return result.rowcount


def renew_lease(session: Session, worker_id: str, ids: Sequence[int], until: datetime) -> set[int]:
    """Extend to `until` the lease of those of `ids` that `worker_id` still holds; does not commit.

    Returns the ids it still holds. A row missing from the answer was swept
    (the lease ran out while the worker could not renew it) and may be in
    another worker's hands already: its sender must leave it alone.
    """
    if not ids:
        return set()
    held = session.exec(
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(list(ids)), _OUTBOX.c.status == SENDING, _OUTBOX.c.claimed_by == worker_id)
        .values(lease_until=until)
        .returning(_OUTBOX.c.id)
    ).all()
    return {ident for (ident,) in held}


def sweep_stuck(session: Session, *, now: datetime) -> int:
    """Queue again the messages still "sending" whose lease has expired; commits.

    Such a row belongs to a worker that died (or was killed) mid-batch: a live
    worker renews its lease while it sends. Its attempt stays counted. At most
    one of a dead worker's rows may already have been delivered (the module's
    delivery guarantee), and is then delivered twice. A row claimed before leases
    existed (no lease) counts as expired. Returns how many rows were queued again.
    """
    result = session.exec(
        update(_OUTBOX)
        .where(_OUTBOX.c.status == SENDING,
               or_(_OUTBOX.c.lease_until.is_(None), _OUTBOX.c.lease_until <= now))
        .values(status=QUEUED, claimed_by="", claimed_at=None, lease_until=None, updated_at=now)
    )
    session.commit()
    if result.rowcount:
        log.warning("returned %d message(s) whose lease expired in 'sending' to the queue", result.rowcount)
    return result.rowcount


# Outcomes after which a message's body is never needed again (a re-send renders a new message).
DONE = (SENT, FAILED, DeliveryStatus.BOUNCED.value, EXPIRED, WITHDRAWN)


def purge_bodies(session: Session, *, now: datetime, keep: timedelta, chunk: int = 1000) -> int:
    """Empty the bodies of messages done with whose last change is older than `keep`; commits each chunk.

    The bodies name the respondent (and held the personal link before links were masked); recipient,
    subject, status, reply and times stay, for the delivery pages and the IT focal point's errors.
    Returns how many messages were purged.
    """
    done = 0
    while True:
        ids = session.exec(select(_OUTBOX.c.id).where(
            _OUTBOX.c.status.in_(DONE), _OUTBOX.c.purged_at.is_(None), _OUTBOX.c.updated_at <= now - keep)
            .limit(chunk)).all()
        if not ids:
            return done
        session.exec(update(_OUTBOX).where(_OUTBOX.c.id.in_(list(ids)))
                     .values(body_text="", body_html="", purged_at=now))
        session.commit()
        done += len(ids)


def retry_delay(attempts: int) -> timedelta:
    """How long a message waits after its `attempts`-th try failed for a temporary reason."""
    return min(timedelta(minutes=2 ** min(attempts, 10)), MAX_BACKOFF)


def record_outcome(
    session: Session,
    message_id: int,
    status: str,
    reply: str,
    now: datetime,
    *,
    retry_at: datetime | None = None,
    released: bool = False,
) -> bool:
    """Store what happened to the outbox row `message_id` (its id, not its Message-ID); does not commit.

    For single changes (bounce intake); the worker stores its batch's outcomes through
    `outbox_records.Recorder`, the same changes in fixed SQL.

    `status` is sent, failed or bounced (bounce intake), or queued for a retry
    at `retry_at`. `released` puts a claimed row back untried: the attempt the
    claim counted is given back and nothing else changes. Rows of invitations
    and reminders also update their invitation's delivery_status, delivery_at
    and delivery_reply. Returns False when the row was not changed (unknown, or
    a retry for a row no longer "sending").
    """
    statement = update(_OUTBOX).where(_OUTBOX.c.id == message_id)
    if released:
        statement = statement.where(_OUTBOX.c.status == SENDING).values(
            status=QUEUED, attempts=_OUTBOX.c.attempts - 1, claimed_by="", claimed_at=None, lease_until=None,
            updated_at=now)
    elif status == QUEUED:
        # A retry only ever follows a claim: never put back a row that was meanwhile sent or failed.
        statement = statement.where(_OUTBOX.c.status == SENDING).values(
            status=QUEUED, next_attempt_at=retry_at or now, last_reply=reply, claimed_by="", claimed_at=None,
            lease_until=None, updated_at=now)
    else:
        values: dict[str, Any] = {"status": status, "last_reply": reply, "updated_at": now}
        if status == SENT:
            values["sent_at"] = now
        statement = statement.values(**values)
    statement = statement.returning(_OUTBOX.c.kind, _OUTBOX.c.invitation_id)
    if session.get_bind().dialect.name == "postgresql" and not released:
        # One statement for both rows: one round trip, and in the worker's autocommit session its own
        # transaction (the worker pays a round trip per message besides the relay's, not two or three).
        outcome = statement.cte("outcome")
        invitation = (update(_INVITATION)
                      .where(_INVITATION.c.id == outcome.c.invitation_id, outcome.c.kind.in_(INVITATION_KINDS))
                      .values(delivery_status=status, delivery_at=now, delivery_reply=reply)
                      .returning(_INVITATION.c.id).cte("delivery"))
        return session.exec(select(func.count()).select_from(outcome).add_cte(invitation)).one() > 0
    changed = session.exec(statement).first()
    if changed is None:
        return False
    kind, invitation_id = changed
    if not released and invitation_id is not None and kind in INVITATION_KINDS:
        session.exec(update(_INVITATION).where(_INVITATION.c.id == invitation_id)
                     .values(delivery_status=status, delivery_at=now, delivery_reply=reply))
    return True


# ---------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class SendResult:
    """The outcome of one claimed message, as the worker's `outbox_records.Recorder` stores it."""

    outbox_id: int
    status: str  # sent | failed | queued (retry at retry_at, or released untried)
    reply: str
    at: datetime
    retry_at: datetime | None = None
    released: bool = False  # put back without trying: the connection broke before its turn


# ---------------------------------------------------------------- one run of the worker


def run_once(
    app: Flask,
    worker_id: str,
    *,
    limit: int,
    stop: threading.Event | None = None,
    now: datetime | None = None,
) -> int:
    """Claim a batch, send it, record each outcome as it comes; returns how many messages were tried.

    One database connection serves the batch from its claim to its last
    outcome (`outbox_records.batch_connection`). The claim's lease
    (`PORTAL_OUTBOX_LEASE_SECONDS`) is renewed before a message whenever a
    quarter of it has passed since the last renewal, so a slow relay never lets
    the sweep hand a live batch to another worker. Should the database fail
    mid-batch, the batch stops before the next DATA and the rows not yet
    recorded stay "sending" until their lease expires and `sweep_stuck` returns
    them.
    """
    # Imported here: both modules build on this one's queue and outcome types.
    from portal.domain.outbox_records import Recorder, batch_connection
    from portal.domain.outbox_smtp import MailSettings, send_batch
    from portal.extensions import db

    lease = timedelta(seconds=app.config.get("PORTAL_OUTBOX_LEASE_SECONDS", DEFAULT_LEASE.total_seconds()))
    with app.app_context(), batch_connection(db.engine) as connection:
        with Session(bind=connection, expire_on_commit=False) as session:
            messages = claim_batch(session, worker_id, limit, now or utcnow(), lease)
            if not messages:
                return 0
            links = _personal_links(session, messages, app.config["SECRET_KEY"])
        with Recorder.open(connection, messages, worker_id=worker_id, lease=lease) as recorder:
            results = send_batch(messages, settings=MailSettings.from_config(app.config), record=recorder.record,
                                 stop=stop, now=now, hold=recorder.holds, links=links, ready=recorder.settle)
    tried = sum(1 for result in results if not result.released)
    log.info("outbox: %d tried, %d sent, %d released (%s)", tried,
             sum(1 for result in results if result.status == SENT), len(results) - tried, worker_id)
    return tried


def _personal_links(session: Session, messages: Sequence[ClaimedMessage], secret: str) -> dict[int, tuple[str, str]]:
    """The personal links of the batch's invitations and reminders, derived from the key (one query)."""
    from portal.domain.invitations import personal_links

    return personal_links(session, {m.invitation_id for m in messages
                                    if m.invitation_id is not None and m.kind in INVITATION_KINDS}, secret)
