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

import email
import hashlib
import imaplib
import logging
import os
import re
import ssl
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any, Literal

from flask import Flask
from flufl.bounce import all_failures
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from portal.domain import outbox
from portal.models import BounceMessage, DeliveryStatus, Invitation, OutboxMessage

log = logging.getLogger(__name__)

BOUNCED = DeliveryStatus.BOUNCED.value
DELAYED = DeliveryStatus.DELAYED.value
SENT = DeliveryStatus.SENT.value
FAILED = DeliveryStatus.FAILED.value

PARSE_LIMIT = 5 * 1024 * 1024  # bytes read of one message: the reasons come first, a returned attachment last
RAW_LIMIT = 200 * 1024  # characters of an unmatched or unparsed message kept for a person to read
DIAGNOSTIC_LIMIT = 500
TEXT_SCAN_LIMIT = 100_000  # characters of each text part searched for the telling line
# How far back the last-resort match by address looks: servers give up on a message after about five days.
ADDRESS_MATCH_WINDOW = timedelta(days=14)
# Headers of the bounce itself that carry the address it was delivered to (the VERP address).
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To",
                     "X-Original-Recipient", "X-Rcpt-To")

Kind = Literal["permanent", "temporary", "unparsed"]


# ---------------------------------------------------------------- parsing


@dataclass(frozen=True)
class ParsedBounce:
    """What a message in the bounce mailbox says, as far as it can be read."""

    kind: Kind
    addresses: list[str] = field(default_factory=list)  # every failed address, lower-case
    permanent: list[str] = field(default_factory=list)
    temporary: list[str] = field(default_factory=list)
    verp_tokens: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)  # of the original message, "<…>"
    status_code: str = ""  # enhanced status code, e.g. "5.1.1"
    diagnostic: str = ""  # the server's own words, for the expert
    explanation: str = ""  # plain Vietnamese, for the IT focal point


def parse_bounce(raw: bytes, *, bounce_local: str = "bounces") -> ParsedBounce:
    """Read one message from the bounce mailbox; never raises.

    `bounce_local` is the local part of PORTAL_BOUNCE_ADDRESS: the VERP token
    is what follows `<bounce_local>+` in the address the bounce was sent to.
    A message that flufl.bounce finds no failed address in (an autoreply,
    spam, junk) is "unparsed", with whatever else could be read.
    """
    try:
        return _parse(raw, bounce_local)
    except Exception:  # noqa: BLE001 - a mailbox holds anything; one odd message must not stop the intake
        log.exception("bounce message could not be read")
        return ParsedBounce(kind="unparsed", explanation=explain("", "", "unparsed"))


def _parse(raw: bytes, bounce_local: str) -> ParsedBounce:
    if not raw or not raw.strip():
        return ParsedBounce(kind="unparsed", explanation=explain("", "", "unparsed"))
    message = email.message_from_bytes(raw[:PARSE_LIMIT])
    temporary_raw, permanent_raw = _failures(message)
    permanent = sorted({_address(item) for item in permanent_raw} - {""})
    temporary = sorted({_address(item) for item in temporary_raw} - {""} - set(permanent))
    kind: Kind = "permanent" if permanent else "temporary" if temporary else "unparsed"
    status_code, diagnostic = _dsn_reason(message, permanent or temporary)
    if not diagnostic:
        diagnostic = _telling_line(message, permanent + temporary)
    if not status_code:
        status_code = _enhanced_code(diagnostic)
    diagnostic = _trim(diagnostic)
    return ParsedBounce(
        kind=kind,
        addresses=sorted(set(permanent) | set(temporary)),
        permanent=permanent,
        temporary=temporary,
        verp_tokens=_verp_tokens(message, bounce_local),
        message_ids=_original_message_ids(message),
        status_code=status_code,
        diagnostic=diagnostic,
        explanation=explain(status_code, diagnostic, kind),
    )


def _failures(message: Message) -> tuple[frozenset[bytes], frozenset[bytes]]:
    try:
        return all_failures(message)
    except Exception:  # noqa: BLE001 - flufl's heuristic detectors raise on some malformed input
        log.warning("flufl.bounce could not read a message", exc_info=True)
        return frozenset(), frozenset()


def _address(value: bytes | str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip().strip("<>").strip().lower()


_ENHANCED_CODE = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_BASIC_CODE = re.compile(r"(?<![\d.])([245]\d\d)(?![\d.])")
_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_QUOTED_MESSAGE_ID = re.compile(r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]+@[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


def _enhanced_code(text: str) -> str:
    found = _ENHANCED_CODE.search(text or "")
    return found.group(1) if found else ""


def _dsn_reason(message: Message, addresses: Sequence[str]) -> tuple[str, str]:
    """Status and Diagnostic-Code of the DSN's per-recipient block about a failed address (RFC 3464)."""
    blocks: list[Message] = []
    for part in _parts(message):
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks.extend(block for block in payload if isinstance(block, Message))
    recipients = [block for block in blocks if block.get("Status") or block.get("Diagnostic-Code")]
    if not recipients:
        return "", ""

    def about_failed(block: Message) -> bool:
        named = " ".join(str(block.get(name, "")) for name in ("Final-Recipient", "Original-Recipient")).lower()
        return any(address in named for address in addresses)

    def failed_first(block: Message) -> int:
        return {"failed": 0, "delayed": 1}.get(str(block.get("Action", "")).strip().lower(), 2)

    recipients.sort(key=lambda block: (not about_failed(block), failed_first(block)))
    chosen = recipients[0]
    status = _one_line(str(chosen.get("Status", "")))
    diagnostic = _one_line(str(chosen.get("Diagnostic-Code", "")))
    if ";" in diagnostic[:12]:  # "smtp; 550 5.1.1 …": the type says nothing to a reader
        diagnostic = diagnostic.split(";", 1)[1].strip()
    code = _enhanced_code(status)
    if not diagnostic:
        # A Status with a comment says why: "5.0.0 (recipient reached disk quota)".
        comment = status[len(code):].strip(" ()") if status.startswith(code) else status
        diagnostic = comment
    return code, diagnostic


_GENERIC_WORDS = re.compile(
    r"could not|couldn't|unable|cannot|can't|failed|failure|error|undeliverable|rejected|refused|permanent"
    r"|temporar|delayed|given up|returned",
    re.IGNORECASE,
)
# A reply such as "550 5.1.1 …" or "said: 550 unknown user", not a phone number like 480-624-2500.
_SMTP_REPLY = re.compile(r"(?:^|[\s:>\"(])[245][0-5]\d(?:[ -][245]\.\d|\s+[A-Za-z<])")
PARAGRAPH_LIMIT = 400


def _telling_line(message: Message, addresses: Sequence[str]) -> str:
    """The passage of a free-form bounce that best says why it failed.

    Free-form bounces wrap their reason over several lines, so the candidates
    are paragraphs (cut at PARAGRAPH_LIMIT characters), scored by what a mail
    administrator looks for: a status code, an SMTP reply, a known reason, the
    failed address. The first of the best wins.
    """
    best, best_score = "", 0
    for text in _texts(message):
        for paragraph in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
            passage = _one_line(paragraph)[:PARAGRAPH_LIMIT]
            if len(passage) < 6:
                continue
            lowered = passage.lower()
            score = 0
            if _ENHANCED_CODE.search(passage):
                score += 3
            if _SMTP_REPLY.search(passage):
                score += 2
            if any(pattern.search(passage) for pattern, _ in _WORD_EXPLANATIONS):
                score += 3
            score += min(len(_GENERIC_WORDS.findall(passage)), 2)
            if any(address in lowered for address in addresses):
                score += 2
            if score > best_score:
                best, best_score = passage, score
    return best


def _parts(message: Message) -> Iterator[Message]:
    """The bounce's own parts, depth first, without entering an attached original message."""
    yield message
    if message.get_content_maintype() == "message":
        return
    payload = message.get_payload()
    if isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                yield from _parts(part)


def _texts(message: Message) -> Iterator[str]:
    for part in _parts(message):
        if part.get_content_type() == "text/plain" or (part is message and not message.is_multipart()):
            text = _decoded(part)
            if text:
                yield text[:TEXT_SCAN_LIMIT]


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", "replace")


def _verp_tokens(message: Message, bounce_local: str) -> list[str]:
    """Tokens of `bounce_local+TOKEN@…` in the addresses the bounce was delivered to.

    Also the Return-Path of an attached original: it is the envelope sender the
    portal gave the message, where a server returned the whole message.
    """
    pattern = re.compile(rf"(?<![\w.+-]){re.escape(bounce_local)}\+([0-9A-Za-z]+)@", re.IGNORECASE)
    values: list[str] = []
    for name in RECIPIENT_HEADERS:
        values.extend(str(value) for value in message.get_all(name, []))
    for original in _attached_headers(message):
        values.extend(str(value) for value in original.get_all("Return-Path", []))
    tokens: list[str] = []
    for value in values:
        for token in pattern.findall(value):
            if token.lower() not in tokens:
                tokens.append(token.lower())
    return tokens


def _attached_headers(message: Message) -> Iterator[Message]:
    """The headers of the original message a DSN returns (message/rfc822 or text/rfc822-headers)."""
    for part in _parts(message):
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                yield payload[0]
        elif content_type == "text/rfc822-headers":
            text = _decoded(part) or str(part.get_payload())
            yield email.message_from_string(text.lstrip())


def _original_message_ids(message: Message) -> list[str]:
    """Message-IDs of the original: attached message or headers, In-Reply-To/References, quoted headers."""
    found: list[str] = []
    for original in _attached_headers(message):
        found.extend(_MESSAGE_ID.findall(str(original.get("Message-ID", ""))))
    for name in ("In-Reply-To", "References"):
        for value in message.get_all(name, []):
            found.extend(_MESSAGE_ID.findall(str(value)))
    # Free-form bounces quote the original's headers in their text.
    for text in _texts(message):
        found.extend(_QUOTED_MESSAGE_ID.findall(text))
    own = _MESSAGE_ID.findall(str(message.get("Message-ID", "")))
    unique: list[str] = []
    for item in found:
        if item not in unique and item not in own:
            unique.append(item)
    return unique


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _trim(text: str, limit: int = DIAGNOSTIC_LIMIT) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- explanations

MAILBOX_UNKNOWN = ("Hộp thư không tồn tại: máy chủ thư của người nhận báo không có địa chỉ này. "
                   "Kiểm tra lại chính tả địa chỉ hoặc hỏi người nhận địa chỉ đúng.")
DOMAIN_UNKNOWN = ("Tên miền không tồn tại: phần sau dấu @ không có máy chủ thư nhận. "
                  "Kiểm tra lại tên miền của địa chỉ (ví dụ …gov.vn).")
MAILBOX_FULL = "Hộp thư đầy: người nhận cần xóa bớt thư, sau đó có thể gửi lại."
MAILBOX_DISABLED = ("Hộp thư bị khóa hoặc vô hiệu hóa: người nhận cần liên hệ quản trị thư của đơn vị "
                    "để mở lại, hoặc cho một địa chỉ khác.")
POLICY = ("Bị từ chối vì chính sách hoặc bị coi là thư rác: máy chủ thư của người nhận chặn thư này. "
          "Đề nghị quản trị thư của đơn vị nhận cho phép thư từ cổng khảo sát.")
TOO_LARGE = "Thư quá lớn so với giới hạn của máy chủ thư người nhận."
UNAVAILABLE = ("Máy chủ thư của người nhận không phản hồi hoặc tạm thời không nhận thư; thư đang được "
               "thử gửi lại. Nếu kéo dài, báo quản trị thư của đơn vị nhận.")
NOT_A_BOUNCE = "Không đọc được thư báo lỗi này (có thể là thư tự động trả lời hoặc thư rác); đã lưu lại để xem."
FALLBACK = "Thư không đến được hộp thư; xem lý do gốc bên dưới."

# Enhanced status codes (RFC 3463) that say enough by themselves; x.0.0 and the like say nothing.
_CODE_EXPLANATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^[45]\.1\.(1|3|6|10)$"), MAILBOX_UNKNOWN),
    (re.compile(r"^[45]\.1\.2$|^5\.4\.4$"), DOMAIN_UNKNOWN),
    (re.compile(r"^[45]\.2\.2$"), MAILBOX_FULL),
    (re.compile(r"^[45]\.2\.1$"), MAILBOX_DISABLED),
    (re.compile(r"^[45]\.(3\.4|2\.3)$"), TOO_LARGE),
    (re.compile(r"^5\.7\.\d+$"), POLICY),
    (re.compile(r"^4\.(4|7)\.\d+$"), UNAVAILABLE),
)
# Words of the diagnostic, in order: the more specific reasons before the general ones.
_WORD_EXPLANATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"host (not found|unknown)|domain (not found|does not exist|unknown)|no such domain"
                r"|unrout(e)?able|name service error|nxdomain|\bno mx\b|could not be resolved|bad destination host"
                r"|unknown domain|domain name not found|unknown host", re.I), DOMAIN_UNKNOWN),
    (re.compile(r"(mailbox|mailfolder|mail folder|inbox) (is )?full|quota|insufficient (system )?storage"
                r"|disk full|exceeded storage|mailbox size limit|storage (allocation|limit)|mail ?box has exceeded",
                re.I), MAILBOX_FULL),
    (re.compile(r"disabled|inactive|deactivated|suspended|account (is )?locked|mailbox (is )?locked"
                r"|not active|account (has )?expired|closed account|account closed", re.I), MAILBOX_DISABLED),
    (re.compile(r"user unknown|unknown user|no such (user|recipient|mailbox|address|local user)|does not exist"
                r"|doesn'?t exist|not exist|invalid (recipient|mailbox|address|user)|recipient unknown"
                r"|unknown (recipient|local|mailbox|address)|user not found|mailbox not found|address not found"
                r"|not a valid|no mailbox|bad destination mailbox|not listed|no longer (valid|available)"
                r"|(mailbox|user) unavailable|recipient not found|unknown or illegal", re.I), MAILBOX_UNKNOWN),
    (re.compile(r"too large|too big|size limit|message size|exceeds? (the )?(maximum|size)", re.I), TOO_LARGE),
    (re.compile(r"spam|blocked|block ?list|black ?list|policy|\brbl\b|spamhaus|reputation|denied|not authori[sz]ed"
                r"|relay(ing)? (denied|not permitted)|content rejected|\bdmarc\b|\bspf\b", re.I), POLICY),
    (re.compile(r"time(d)? ?out|connection (refused|reset|lost)|deferred|try again later|temporar|unreachable"
                r"|could not connect|greylist|delayed|no route|not responding|service unavailable", re.I),
     UNAVAILABLE),
)


def explain(status_code: str, diagnostic: str, kind: str) -> str:
    """The plain Vietnamese explanation of a delivery failure, for an IT focal point.

    A specific enhanced status code decides first; then the words of the
    diagnostic; then the basic SMTP code; a temporary failure with nothing more
    to say is a server that does not take the message yet.
    """
    if kind == "unparsed":
        return NOT_A_BOUNCE
    code = (status_code or "").strip()
    for pattern, text in _CODE_EXPLANATIONS:
        if pattern.match(code):
            return text
    words = diagnostic or ""
    for pattern, text in _WORD_EXPLANATIONS:
        if pattern.search(words):
            return text
    basic = _BASIC_CODE.search(words)
    if basic and basic.group(1) in {"552"}:
        return MAILBOX_FULL
    if kind == "temporary" or code.startswith("4") or (basic and basic.group(1).startswith("4")):
        return UNAVAILABLE
    return FALLBACK


def explain_smtp_reply(reply: str) -> str:
    """The explanation of a refusal the SMTP server gave at send time, e.g. "550 5.1.1 <x@y>: … User unknown"."""
    text = _one_line(reply or "")
    basic = _BASIC_CODE.match(text)
    kind = "temporary" if basic and basic.group(1).startswith("4") else "permanent"
    return explain(_enhanced_code(text), text, kind)


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

    def __add__(self, other: IntakeResult) -> IntakeResult:
        return IntakeResult(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def record(self, kind: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.processed += 1


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
            kind = _store(session, source, raw, digest, now, bounce_local)
            session.commit()
        except IntegrityError:  # another worker stored the same message a moment ago
            session.rollback()
            result.duplicates += 1
            continue
        except Exception:
            session.rollback()
            raise
        result.record(kind)
    if result.processed or result.duplicates:
        log.info("bounces: %s", result)
    return result


def message_digest(raw: bytes) -> str:
    """SHA-256 of the message with LF line ends: one bounce read from a Maildir (LF) or IMAP (CRLF) is one."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def _store(session: Session, source: str, raw: bytes, digest: str, now: datetime, bounce_local: str) -> str:
    """Parse, match and apply one new message; returns the kind it was stored as. Does not commit."""
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
    return kind


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
    from portal.extensions import db

    config = app.config
    bounce_local = config["PORTAL_BOUNCE_ADDRESS"].partition("@")[0]
    result = IntakeResult()
    with app.app_context(), db.new_session() as session:
        if config.get("PORTAL_BOUNCE_MAILDIR"):
            result += intake(session, read_maildir(config["PORTAL_BOUNCE_MAILDIR"]), now=now,
                             bounce_local=bounce_local)
        if config.get("PORTAL_BOUNCE_IMAP_HOST"):
            source = read_imap(config["PORTAL_BOUNCE_IMAP_HOST"], config["PORTAL_BOUNCE_IMAP_PORT"],
                               config["PORTAL_BOUNCE_IMAP_USER"] or "", config["PORTAL_BOUNCE_IMAP_PASSWORD"] or "",
                               config["PORTAL_BOUNCE_IMAP_FOLDER"], ssl_context=ssl_context)
            result += intake(session, source, now=now, bounce_local=bounce_local)
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
