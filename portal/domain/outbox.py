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
2. `send_batch` sends them over one SMTP connection, one message per recipient
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

import base64
import functools
import logging
import secrets
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any

from flask import Flask, current_app
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


# ---------------------------------------------------------------- send


@dataclass(frozen=True)
class MailSettings:
    """What sending needs from the configuration (the SMTP server itself is flask-mail's MAIL_*)."""

    sender: str
    bounce_address: str  # bounces@domain -> envelope sender bounces+<token>@domain
    rate: float = 0.0  # messages per second; 0 = as fast as the server takes them
    max_attempts: int = 8
    timeout: float = 30.0  # seconds for each SMTP step

    @classmethod
    def from_config(cls, config: Any) -> MailSettings:
        return cls(sender=config["MAIL_DEFAULT_SENDER"], bounce_address=config["PORTAL_BOUNCE_ADDRESS"],
                   rate=config["PORTAL_MAIL_RATE"], max_attempts=config["PORTAL_MAIL_MAX_ATTEMPTS"],
                   timeout=config["PORTAL_MAIL_TIMEOUT"])

    def envelope_from(self, bounce_token: str) -> str:
        local, _, domain = self.bounce_address.partition("@")
        return f"{local}+{bounce_token}@{domain}"


@dataclass(frozen=True)
class SendResult:
    """The outcome of one claimed message, as the worker's `outbox_records.Recorder` stores it."""

    outbox_id: int
    status: str  # sent | failed | queued (retry at retry_at, or released untried)
    reply: str
    at: datetime
    retry_at: datetime | None = None
    released: bool = False  # put back without trying: the connection broke before its turn


class SmtpReplyError(Exception):
    """A reply other than 250 to DATA's end (smtplib does not raise for it)."""


def build_message(
    message: OutboxMessage | ClaimedMessage, *, sender: str, link: tuple[str, str] | None = None,
) -> bytes:
    """The MIME message of an outbox row, ready for DATA: text and HTML, its own Message-ID, marked automatic.

    `link` is (masked, real): the respondent's personal link, put in here, at send time, in place of
    the masked one the stored bodies hold (portal/domain/invitations.py, personal_links).

    Written out directly rather than through the email package's generator: the same structure
    (multipart/alternative, UTF-8 parts in base64 lines of 76, RFC 2047 encoded words in the headers;
    tests parse it back with the email package) in a small fraction of the time, which was most of a
    send. Only the parts that vary per message are computed per message.
    """
    text, html = message.body_text, message.body_html
    if link is not None:
        text, html = text.replace(*link), html.replace(*link)
    for header, value in (("Subject", message.subject), ("To", message.to_addr)):
        if "\r" in value or "\n" in value:
            raise ValueError(f"{header} chứa ký tự xuống dòng")
    head = (f"Subject: {_encoded_words(message.subject)}\r\nFrom: {_from_header(sender)}\r\n"
            f"To: {message.to_addr}\r\nDate: {formatdate(localtime=True)}\r\n"
            f"Message-ID: {message.message_id}\r\n"
            # RFC 3834 and Exchange's own header: no vacation replies to the bounce address.
            "Auto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: All\r\n"
            f"X-CCHC-Outbox-Id: {message.id}\r\nMIME-Version: 1.0\r\n").encode("ascii")
    if not html:
        return head + _TEXT_PART + b"\r\n" + _base64_lines(text)
    # "=_" never occurs in base64 and 96 random bits never in the bodies' lines: no clash to search for.
    boundary = f"=_cchc_{secrets.token_hex(12)}".encode("ascii")
    return b"".join((
        head, b'Content-Type: multipart/alternative;\r\n boundary="', boundary, b'"\r\n\r\n',
        b"--", boundary, b"\r\n", _TEXT_PART, b"\r\n", _base64_lines(text),
        b"--", boundary, b"\r\n", _HTML_PART, b"\r\n", _base64_lines(html),
        b"--", boundary, b"--\r\n",
    ))


_TEXT_PART = b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n'
_HTML_PART = b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n'
# An encoded word: 12 characters of framing and 56 of base64 from 42 bytes, so that even the first line,
# "Subject: " and one word, stays within 78 characters (RFC 5322; RFC 2047 allows 75 per word).
_WORD_BYTES = 42


def _base64_lines(text: str) -> bytes:
    """The UTF-8 of `text` in base64 lines of 76 characters, CRLF-ended (RFC 2045)."""
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


def _encoded_words(value: str) -> str:
    """A header value as it goes on the wire: as is when short ASCII, else RFC 2047 base64 words, folded."""
    if value.isascii() and len(value) <= 900 and "=?" not in value:
        return value
    data = value.encode("utf-8")
    words, start = [], 0
    while start < len(data):  # words of at most 42 bytes, never splitting a character's UTF-8 bytes
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: back to its lead byte
            end -= 1
        words.append(data[start:end])
        start = end
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words)


@functools.lru_cache(maxsize=8)
def _from_header(sender: str) -> str:
    name, address = parseaddr(sender)
    if not name or name.isascii():
        return formataddr((name, address))  # quotes a name that needs it
    return f"{_encoded_words(name)} <{address}>"


def send_batch(
    messages: Sequence[ClaimedMessage],
    *,
    settings: MailSettings,
    record: Callable[[SendResult], None] | None = None,
    stop: threading.Event | None = None,
    now: datetime | None = None,
    hold: Callable[[int], bool] | None = None,
    links: Mapping[int, tuple[str, str]] | None = None,
    ready: Callable[[], None] | None = None,
) -> list[SendResult]:
    """Send claimed messages over one SMTP connection; needs an app context (flask-mail's MAIL_*).

    `links` maps an invitation id to (masked, real) personal link, put into its messages as they go.

    `record` is called with each result as soon as it is known, so the caller
    can store it before the next message goes out. `hold` is asked before each
    message whether the claim still holds (the caller renews the lease there);
    a message no longer held is skipped without a result. `ready` is called once
    the server has accepted a message's recipient, just before its DATA: the
    caller makes sure there that the previous outcome is stored (the worker's
    outcome writes run while MAIL FROM and RCPT TO are on the wire, never past
    the next DATA). `stop` (set by SIGTERM)
    ends the batch after the current message; the rest are released. `now`
    fixes the clock (tests); otherwise each result is stamped when it happens.
    """
    results: list[SendResult] = []

    def finish(result: SendResult) -> None:
        results.append(result)
        if record is not None:
            record(result)

    def release(rest: Sequence[ClaimedMessage]) -> None:
        for item in rest:
            finish(SendResult(item.id, QUEUED, "", now or utcnow(), released=True))

    try:
        host = _connect(settings.timeout)
    except OSError as exc:  # refused, unreachable, TLS or login failure (SMTPException is an OSError)
        log.error("cannot connect to the SMTP server, %d message(s) wait for the next run: %s", len(messages), exc)
        release(messages)
        return results
    pacer = _Pacer(settings.rate, stop)
    try:
        for index, message in enumerate(messages):
            if stop is not None and stop.is_set():
                release(messages[index:])
                break
            pacer.wait()
            if hold is not None and not hold(message.id):
                log.warning("outbox message %s: lease lost (swept while this worker held it), not sent", message.id)
                continue
            at = now or utcnow()
            try:
                reply = _transmit(host, settings, message, (links or {}).get(message.invitation_id), ready)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException, SmtpReplyError) as exc:
                code, reply = _refusal(exc)
                finish(_refused(message, settings, code, reply, at))
                if host is not None and host.sock is None:  # 421, or lost while ending the transaction
                    release(messages[index + 1:])  # the rest wait for the next run and a new connection
                    break
            except OSError as exc:  # SMTPServerDisconnected, ConnectionError, socket.timeout, …
                finish(_retry(message, settings, f"Mất kết nối SMTP: {exc or type(exc).__name__}", at))
                log.warning("SMTP connection lost at outbox message %s: %s", message.id, exc)
                release(messages[index + 1:])
                break
            except ValueError as exc:  # an address or header that cannot go on the wire (before any command)
                finish(SendResult(message.id, FAILED, f"Thư không gửi được: {exc}", at))
            else:
                finish(SendResult(message.id, SENT, reply, at))
    finally:
        _quit(host)
    return results


def _connect(timeout: float) -> smtplib.SMTP | None:
    """A connection per flask-mail's MAIL_* settings (None when MAIL_SUPPRESS_SEND), with a timeout."""
    state = current_app.extensions["mail"]
    if state.suppress:
        return None
    if state.use_ssl:
        host: smtplib.SMTP = smtplib.SMTP_SSL(state.server, state.port, timeout=timeout, context=_tls_context())
    else:
        host = smtplib.SMTP(state.server, state.port, timeout=timeout)
    try:
        if state.use_tls:
            host.starttls(context=_tls_context())
        if state.username and state.password:
            host.login(state.username, state.password)
    except BaseException:
        host.close()
        raise
    return host


def _tls_context() -> ssl.SSLContext:
    """Certificate and host name checked (smtplib's own default checks neither): the relay's password and the
    respondents' personal links must not go to whoever answers on the relay's address."""
    return ssl.create_default_context(cafile=current_app.config.get("PORTAL_MAIL_CA_FILE"))


def _quit(host: smtplib.SMTP | None) -> None:
    if host is None:
        return
    try:
        host.quit()
    except OSError:  # SMTPServerDisconnected and the like: nothing left to say goodbye to
        host.close()


def _transmit(host: smtplib.SMTP | None, settings: MailSettings, message: ClaimedMessage,
              link: tuple[str, str] | None = None, ready: Callable[[], None] | None = None) -> str:
    """MAIL FROM, RCPT TO, DATA for one recipient; the server's final reply ("250 2.0.0 Ok: queued as …").

    `ready` is called between the accepted RCPT TO and DATA (see `send_batch`).

    smtplib's sendmail would do the same but drops the final reply, which is
    what a mail administrator asks for when tracing a message.
    """
    if not message.to_addr.isascii():
        raise ValueError(f"địa chỉ {message.to_addr!r} có ký tự ngoài ASCII")
    payload = build_message(message, sender=settings.sender, link=link)
    if host is None:
        return "250 not sent (MAIL_SUPPRESS_SEND)"
    host.ehlo_or_helo_if_needed()
    envelope_from = settings.envelope_from(message.bounce_token)
    code, text = host.mail(envelope_from)
    if code != 250:
        _reset(host, code)
        raise smtplib.SMTPSenderRefused(code, text, envelope_from)
    code, text = host.rcpt(message.to_addr)
    if code not in (250, 251):
        _reset(host, code)
        raise smtplib.SMTPRecipientsRefused({message.to_addr: (code, text)})
    if ready is not None:
        ready()
    try:
        code, text = host.data(payload)
    except smtplib.SMTPDataError as exc:  # DATA itself refused
        _reset(host, exc.smtp_code)
        raise
    if code != 250:
        _reset(host, code)
        raise SmtpReplyError(code, _reply(code, text))
    return _reply(code, text)


def _reset(host: smtplib.SMTP, code: int) -> None:
    """After a refusal: end the transaction so the connection serves the next message (or close it)."""
    if code == 421:  # the server is closing the connection
        host.close()
        return
    try:
        host.rset()
    except OSError:
        host.close()  # the refusal stands; the batch ends after it


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def _refusal(exc: Exception) -> tuple[int, str]:
    """The code and reply text of a refusal, whichever way smtplib reported it."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return code, _reply(code, text)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, _reply(exc.smtp_code, exc.smtp_error)
    code, reply = exc.args
    return code, reply


def _refused(message: ClaimedMessage, settings: MailSettings, code: int, reply: str, at: datetime) -> SendResult:
    if 500 <= code < 600:
        return SendResult(message.id, FAILED, reply, at)
    return _retry(message, settings, reply, at)


def _retry(message: ClaimedMessage, settings: MailSettings, reply: str, at: datetime) -> SendResult:
    """Queue again with backoff, or fail the message once its attempts are used up."""
    if message.attempts >= settings.max_attempts:
        return SendResult(message.id, FAILED, reply, at)
    return SendResult(message.id, QUEUED, reply, at, retry_at=at + retry_delay(message.attempts))


class _Pacer:
    """Keeps to `rate` messages per second (0: no limit); a stop request cuts the wait short."""

    def __init__(self, rate: float, stop: threading.Event | None) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.stop = stop
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        delay = self.next_at - time.monotonic()
        if delay > 0:
            if self.stop is not None:
                self.stop.wait(delay)
            else:
                time.sleep(delay)
        self.next_at = max(self.next_at, time.monotonic() - self.interval) + self.interval


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
    from portal.domain.outbox_records import Recorder, batch_connection
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
