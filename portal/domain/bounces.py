"""Bounce intake: read the bounce mailbox, understand each delivery failure, and mark the message it is about.

Every outbox message leaves with the envelope sender `bounces+<token>@domain`
(VERP, see portal/domain/outbox.py), so a bounce comes back to an address that
names its message. The worker (portal/jobs.py) or `flask portal bounces` runs
`intake_configured` every PORTAL_BOUNCE_INTERVAL seconds:

1. A source yields raw messages: a Maildir fed by the local mail server
   (`read_maildir`) or an IMAP folder over TLS (`read_imap`).
2. `parse_bounce` reads one message: the failed addresses and the split into
   permanent and temporary failures come from flufl.bounce (GNU Mailman's
   detectors, which know RFC 3464 DSNs and the free-form formats of many
   servers); the Status and Diagnostic-Code fields, the VERP token and the
   original Message-ID are read with the standard email package.
3. `intake` stores one `BounceMessage` per distinct message (by SHA-256 digest,
   so one bounce is never processed twice, whatever the source or the run),
   finds its outbox message (VERP token, then Message-ID, then, as a last
   resort, the failed address among recently sent messages), and marks it:
   permanent -> bounced, temporary -> delayed, through `outbox.record_outcome`
   so the invitation shows it too. Each message is committed on its own: a run
   killed half way loses nothing and the next run skips what was done.

Messages that are not bounces, or that name no message of ours, are kept
(with their raw text) and counted, never dropped.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import os
import ssl
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from portal.domain import bounce_explanations as explanations
from portal.domain import outbox
from portal.domain.bounce_parsing import ParsedBounce, parse_bounce
from portal.models import BounceMessage, DeliveryStatus, Invitation, OutboxMessage

log = logging.getLogger(__name__)

BOUNCED = DeliveryStatus.BOUNCED.value
DELAYED = DeliveryStatus.DELAYED.value
SENT = DeliveryStatus.SENT.value
FAILED = DeliveryStatus.FAILED.value

RAW_LIMIT = 200 * 1024  # characters of an unmatched or unparsed message kept for a person to read
# How far back the last-resort match by address looks: servers give up on a message after about five days.
ADDRESS_MATCH_WINDOW = timedelta(days=14)


# ---------------------------------------------------------------- explanations

# The explanations live in their own module; these names stay here for the callers that know them as bounces.*.
FALLBACK, NOT_A_BOUNCE, UNAVAILABLE = explanations.FALLBACK, explanations.NOT_A_BOUNCE, explanations.UNAVAILABLE
MAILBOX_UNKNOWN, DOMAIN_UNKNOWN = explanations.MAILBOX_UNKNOWN, explanations.DOMAIN_UNKNOWN
MAILBOX_FULL, MAILBOX_DISABLED = explanations.MAILBOX_FULL, explanations.MAILBOX_DISABLED
POLICY, TOO_LARGE, LOOP, GAVE_UP = explanations.POLICY, explanations.TOO_LARGE, explanations.LOOP, explanations.GAVE_UP
explain = explanations.explain
explain_smtp_reply = explanations.explain_smtp_reply


# ---------------------------------------------------------------- intake


@dataclass
class IntakeResult:
    """Counts of one intake run. `processed` counts new messages; duplicates were stored before."""

    processed: int = 0
    permanent: int = 0
    temporary: int = 0
    unmatched: int = 0
    unparsed: int = 0
    duplicates: int = 0
    # New news per province for its IT focal point: {province_id: Counter(permanent=…, temporary=…, kept=…)}.
    # Only invitations and reminders count (a bounced notice to the IT focal point itself must not notify again).
    by_province: dict[int, Counter[str]] = field(default_factory=dict, compare=False)

    def __add__(self, other: IntakeResult) -> IntakeResult:
        total = IntakeResult(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                                for f in fields(self) if f.name != "by_province"})
        for part in (self, other):
            for province_id, counts in part.by_province.items():
                total.by_province.setdefault(province_id, Counter()).update(counts)
        return total

    def record(self, kind: str, province_id: int | None = None) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.processed += 1
        if province_id is not None:
            self.by_province.setdefault(province_id, Counter())[kind if kind != "unparsed" else "kept"] += 1


def intake(
    session: Session,
    messages: Iterable[tuple[str, bytes]],
    *,
    now: datetime,
    bounce_local: str = "bounces",
) -> IntakeResult:
    """Store and apply each (source id, raw bytes) message once; commits after each message.

    The iterable is consumed one message at a time, and asks for the next one
    only after the current one is committed: the sources mark a message as
    done at that moment.
    """
    result = IntakeResult()
    for source, raw in messages:
        digest = message_digest(raw)
        if session.exec(select(BounceMessage.id).where(BounceMessage.digest == digest)).first() is not None:
            result.duplicates += 1
            continue
        try:
            kind, province_id = _store(session, source, raw, digest, now, bounce_local)
            session.commit()
        except IntegrityError:  # another worker stored the same message a moment ago
            session.rollback()
            result.duplicates += 1
            continue
        except Exception:
            session.rollback()
            raise
        result.record(kind, province_id)
    if result.processed or result.duplicates:
        log.info("bounces: %s", result)
    return result


def message_digest(raw: bytes) -> str:
    """SHA-256 of the message with LF line ends: one bounce read from a Maildir (LF) or IMAP (CRLF) is one."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def _store(session: Session, source: str, raw: bytes, digest: str, now: datetime, bounce_local: str
           ) -> tuple[str, int | None]:
    """Parse, match and apply one new message; does not commit.

    Returns the kind it was stored as, and the province whose IT focal point has news: that of the
    invitation (or reminder) it is about.
    """
    parsed = parse_bounce(raw, bounce_local=bounce_local)
    matches = _find_messages(session, parsed, now)
    if parsed.kind == "unparsed":
        kind = "unparsed"
    elif matches:
        kind = _kind_for(parsed, matches[0])
    else:
        kind = "unmatched"
    reason = _reason(parsed)
    if kind in ("permanent", "temporary"):
        for message in matches:
            _apply(session, message, _kind_for(parsed, message), reason, now)
    first = matches[0] if matches else None
    session.add(BounceMessage(
        digest=digest,
        source=_clean(source)[:500],
        received_at=now,
        outbox_id=first.id if first else None,
        province_id=first.province_id if first else None,
        kind=kind,
        addresses=_clean(", ".join(parsed.addresses)),
        reason=_clean(reason),
        explanation=parsed.explanation,
        raw=_clean(raw[:RAW_LIMIT].decode("utf-8", "replace")) if kind in ("unmatched", "unparsed") else "",
    ))
    concerned = first is not None and first.kind in outbox.INVITATION_KINDS and first.province_id is not None
    return kind, first.province_id if concerned else None


def _kind_for(parsed: ParsedBounce, message: OutboxMessage) -> str:
    """Permanent or temporary for this message: its own address decides when the bounce names several."""
    address = message.to_addr.strip().lower()
    if address in parsed.permanent:
        return "permanent"
    if address in parsed.temporary:
        return "temporary"
    return parsed.kind


def _reason(parsed: ParsedBounce) -> str:
    """The raw reason stored for the expert: the diagnostic, led by the status code when it does not say it."""
    if parsed.status_code and parsed.status_code not in parsed.diagnostic:
        return f"{parsed.status_code} {parsed.diagnostic}".strip()
    if parsed.diagnostic or parsed.kind == "unparsed":
        return parsed.diagnostic
    return "Thư bị trả lại (thư báo lỗi không nêu lý do)."


def _clean(text: str) -> str:
    """Text a database column takes: PostgreSQL refuses NUL characters."""
    return text.replace("\x00", "\ufffd")


def _find_messages(session: Session, parsed: ParsedBounce, now: datetime) -> list[OutboxMessage]:
    """The outbox message(s) a bounce is about: by VERP token, then Message-ID, then failed address.

    The address is the last resort, for servers that write to the From address
    instead of the envelope sender: among messages sent in the last
    ADDRESS_MATCH_WINDOW to that address, the most recent one.
    """
    if parsed.verp_tokens:
        found = session.exec(select(OutboxMessage).where(col(OutboxMessage.bounce_token).in_(parsed.verp_tokens))
                             .order_by(col(OutboxMessage.id))).first()
        if found is not None:
            return [found]
    if parsed.message_ids:
        found = session.exec(select(OutboxMessage).where(col(OutboxMessage.message_id).in_(parsed.message_ids))
                             .order_by(col(OutboxMessage.id))).first()
        if found is not None:
            return [found]
    matches: list[OutboxMessage] = []
    for address in parsed.addresses:
        found = session.exec(
            select(OutboxMessage)
            .where(func.lower(OutboxMessage.to_addr) == address,
                   col(OutboxMessage.status).in_([SENT, DELAYED, BOUNCED]),
                   col(OutboxMessage.sent_at) >= now - ADDRESS_MATCH_WINDOW)
            .order_by(col(OutboxMessage.sent_at).desc(), col(OutboxMessage.id).desc())
        ).first()
        if found is not None and found not in matches:
            matches.append(found)
    return matches


def _apply(session: Session, message: OutboxMessage, kind: str, reason: str, now: datetime) -> None:
    """Mark the outbox message bounced or delayed, and its invitation when the news still concerns it.

    Never downgrades: a delay does not touch a message already bounced or
    failed, nor an invitation that is, or whose address has since been
    corrected, or that is known to have arrived (a later message sent, the link
    opened). A refusal at send time (failed) stays as it is.
    """
    status = session.exec(select(OutboxMessage.status).where(OutboxMessage.id == message.id)).one()
    if status == FAILED:
        return
    if kind == "permanent":
        if status == BOUNCED:
            return
        if _invitation_moved_on(session, message, delayed=False):
            _mark_message_only(session, message.id, BOUNCED, reason, now)
        else:
            outbox.record_outcome(session, message.id, BOUNCED, reason, now)
        return
    if status not in (SENT, DELAYED):  # bounced, or being sent again: a delay notice adds nothing
        return
    if _invitation_moved_on(session, message, delayed=True):
        _mark_message_only(session, message.id, DELAYED, reason, now)
    else:
        outbox.record_outcome(session, message.id, DELAYED, reason, now)


def _invitation_moved_on(session: Session, message: OutboxMessage, *, delayed: bool) -> bool:
    """Whether the bounce of `message` must leave its invitation's delivery state alone.

    Always when a later message of the invitation went to another address (the
    address was corrected: the old one's bounce is history). For a delay also
    when the invitation is already bounced or failed, when a later message of
    it was sent, or when the respondent opened the link.
    """
    if message.invitation_id is None or message.kind not in outbox.INVITATION_KINDS:
        return False
    later = session.exec(
        select(OutboxMessage.to_addr, OutboxMessage.status)
        .where(OutboxMessage.invitation_id == message.invitation_id,
               col(OutboxMessage.kind).in_(outbox.INVITATION_KINDS),
               col(OutboxMessage.id) > message.id)
    ).all()
    address = message.to_addr.strip().lower()
    if any(to_addr.strip().lower() != address for to_addr, _ in later):
        return True
    if not delayed:
        return False
    if any(status == SENT for _, status in later):
        return True
    invitation = session.exec(select(Invitation.delivery_status, Invitation.first_opened_at)
                              .where(Invitation.id == message.invitation_id)).first()
    return invitation is not None and (invitation[0] in (BOUNCED, FAILED) or invitation[1] is not None)


def _mark_message_only(session: Session, outbox_id: int | None, status: str, reply: str, now: datetime) -> None:
    # record_outcome would also rewrite the invitation, which `_invitation_moved_on` said to leave alone.
    session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == outbox_id)
                 .values(status=status, last_reply=reply, updated_at=now))


# ---------------------------------------------------------------- sources


def read_maildir(path: str | os.PathLike[str]) -> Iterator[tuple[str, bytes]]:
    """The messages of a Maildir not yet handled: all of new/, and those of cur/ without the Seen flag.

    After the consumer asks for the next message (the intake has committed the
    current one), the current one moves to cur/ with the 'S' flag, as a mail
    client would file it: new/ does not grow forever, and a message is read
    again only if the intake stopped before storing it.
    """
    root = Path(path)
    if not (root / "new").is_dir():
        # Postfix and Exim create a Maildir with its first message; until then there is nothing to read.
        log.warning("bounce Maildir %s does not exist (yet)", root)
        return
    for sub in ("new", "cur"):
        folder = root / sub
        try:
            names = sorted(name for name in os.listdir(folder) if not name.startswith("."))
        except FileNotFoundError:
            continue
        for name in names:
            base, _, info = name.partition(":")
            flags = info[2:] if info.startswith("2,") else ""
            if sub == "cur" and "S" in flags:
                continue
            current = folder / name
            try:
                raw = current.read_bytes()
            except (FileNotFoundError, IsADirectoryError):  # taken by another reader meanwhile
                continue
            yield base, raw
            seen = root / "cur" / f"{base}:2,{''.join(sorted(set(flags) | {'S'}))}"
            try:
                os.replace(current, seen)
            except FileNotFoundError:
                pass


def read_imap(
    host: str,
    port: int,
    user: str,
    password: str,
    folder: str = "INBOX",
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 60.0,
) -> Iterator[tuple[str, bytes]]:
    """The unseen messages of an IMAP folder over TLS; each marked \\Seen once the intake stored it.

    The certificate and the host name are checked (`ssl.create_default_context`);
    a test passes its own context that trusts its own authority. Messages are
    fetched with BODY.PEEK so that one the intake did not get to stays unseen.
    """
    context = ssl_context or ssl.create_default_context()
    connection = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
    try:
        connection.login(user, password)
        status, _ = connection.select(_quoted(folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open IMAP folder {folder!r}")
        status, data = connection.uid("SEARCH", None, "UNSEEN")
        if status != "OK":
            raise imaplib.IMAP4.error(f"IMAP search failed in {folder!r}")
        for uid in (data[0] or b"").split():
            status, fetched = connection.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = _fetched_bytes(fetched) if status == "OK" else None
            if raw is None:
                continue
            yield f"imap:{folder}:{uid.decode()}", raw
            connection.uid("STORE", uid, "+FLAGS.SILENT", "(\\Seen)")
    finally:
        try:
            connection.logout()
        except (OSError, imaplib.IMAP4.error):  # the connection broke: the original error is the one to see
            pass


def _quoted(folder: str) -> str:
    return folder if folder.isalnum() else '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fetched_bytes(fetched: list[Any]) -> bytes | None:
    for item in fetched:
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1]
    return None


# ---------------------------------------------------------------- the configured sources


def source_configured(config: Any) -> bool:
    """Whether a bounce mailbox is configured (PORTAL_BOUNCE_MAILDIR or PORTAL_BOUNCE_IMAP_HOST)."""
    return bool(config.get("PORTAL_BOUNCE_MAILDIR") or config.get("PORTAL_BOUNCE_IMAP_HOST"))


def intake_configured(app: Flask, now: datetime, *, ssl_context: ssl.SSLContext | None = None) -> IntakeResult:
    """Read every configured bounce source once (Maildir, then IMAP) and apply what they hold."""
    from portal.domain import delivery
    from portal.extensions import db

    config = app.config
    bounce_local = config["PORTAL_BOUNCE_ADDRESS"].partition("@")[0]
    result = IntakeResult()
    with app.app_context(), db.new_session() as session:
        try:
            if config.get("PORTAL_BOUNCE_MAILDIR"):
                result += intake(session, read_maildir(config["PORTAL_BOUNCE_MAILDIR"]), now=now,
                                 bounce_local=bounce_local)
            if config.get("PORTAL_BOUNCE_IMAP_HOST"):
                source = read_imap(config["PORTAL_BOUNCE_IMAP_HOST"], config["PORTAL_BOUNCE_IMAP_PORT"],
                                   config["PORTAL_BOUNCE_IMAP_USER"] or "", config["PORTAL_BOUNCE_IMAP_PASSWORD"] or "",
                                   config["PORTAL_BOUNCE_IMAP_FOLDER"], ssl_context=ssl_context)
                result += intake(session, source, now=now, bounce_local=bounce_local)
        finally:
            # One notice and one email per province per run, however many bounces the run read; also when
            # the IMAP source failed after the Maildir was read, so stored news is never left untold.
            session.rollback()
            delivery.notify_focal_points(session, result.by_province, base_url=config["PORTAL_BASE_URL"],
                                         mail_domain=config["PORTAL_MAIL_DOMAIN"], now=now)
    return result


# ---------------------------------------------------------------- for the pages


def unmatched_count(session: Session) -> int:
    """How many stored messages could not be tied to a message of ours (unmatched or unparsed)."""
    return session.exec(select(func.count()).select_from(BounceMessage)
                        .where(col(BounceMessage.kind).in_(["unmatched", "unparsed"]))).one()


def recent_bounces(
    session: Session,
    province_id: int | None = None,
    kinds: Iterable[str] | None = None,
    limit: int = 100,
) -> list[BounceMessage]:
    """The latest stored bounces, newest first; of one province (its IT focal point's page) or all."""
    query = select(BounceMessage)
    if province_id is not None:
        query = query.where(BounceMessage.province_id == province_id)
    if kinds is not None:
        query = query.where(col(BounceMessage.kind).in_(list(kinds)))
    query = query.order_by(col(BounceMessage.received_at).desc(), col(BounceMessage.id).desc()).limit(limit)
    return list(session.exec(query))
