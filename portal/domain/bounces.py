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
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from email.header import decode_header
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from flask import Flask
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from portal.domain import bounce_explanations as explanations
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
    blocks = _dsn_blocks(message)
    temporary_raw, permanent_raw = _failures(message)
    if not temporary_raw and not permanent_raw:
        # flufl.bounce knows RFC 3464 but not its UTF-8 twin (RFC 6533): read the recipients' blocks ourselves.
        temporary_raw, permanent_raw = _dsn_failures(blocks)
    permanent = sorted({_address(item) for item in permanent_raw} - {""})
    temporary = sorted({_address(item) for item in temporary_raw} - {""} - set(permanent))
    kind: Kind = "permanent" if permanent else "temporary" if temporary else "unparsed"
    status_code, diagnostic = _dsn_reason(blocks, permanent or temporary)
    if not diagnostic:
        diagnostic = _telling_line(message, permanent + temporary)
    elif explain(status_code, diagnostic, kind) not in _STATED:
        # The DSN's fields say nothing a reader can act on ("Reason 1 (Unable-To-Transfer)"), but its text
        # often does ("5.7.1 Unable to relay"): add the passage that states the reason.
        passage = _telling_line(message, permanent + temporary)
        if passage and explain("", passage, kind) in _STATED and passage not in diagnostic:
            diagnostic = f"{diagnostic}; {passage}"
    if not status_code:
        codes = explanations.enhanced_codes(diagnostic)
        status_code = codes[0] if codes else ""
    diagnostic = hide_links(_trim(diagnostic))
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


# The explanations that name a reason of the recipient's side (not the transport's "still retrying").
_STATED = explanations.SPECIFIC - {explanations.UNAVAILABLE, explanations.GAVE_UP}


def _failures(message: Message) -> tuple[frozenset[bytes], frozenset[bytes]]:
    from flufl.bounce import all_failures  # loaded by the worker's bounce intake, not by every web process

    try:
        return all_failures(message)
    except Exception:  # noqa: BLE001 - flufl's heuristic detectors raise on some malformed input
        log.warning("flufl.bounce could not read a message", exc_info=True)
        return frozenset(), frozenset()


def _address(value: bytes | str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip().strip("<>").strip().lower()


_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_QUOTED_MESSAGE_ID = re.compile(r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]+@[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_XTEXT = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")


def _dsn_blocks(message: Message) -> list[Message]:
    """The per-message and per-recipient blocks of the report, RFC 3464 or RFC 6533 alike.

    Both are read from the part's bytes as UTF-8 text: RFC 6533 puts UTF-8 in
    its fields, and servers write raw UTF-8 into a plain RFC 3464 report too,
    which the email package would otherwise turn into replacement characters.
    """
    blocks: list[Message] = []
    for part in _parts(message):
        if part.get_content_type() not in DSN_TYPES:
            continue
        try:
            whole = part.as_bytes()
        except Exception:  # noqa: BLE001 - a part the generator cannot write back: nothing to read in it
            continue
        body = re.split(rb"\r?\n\r?\n", whole, maxsplit=1)[1] if re.search(rb"\r?\n\r?\n", whole) else b""
        encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        if encoding in ("base64", "quoted-printable"):
            body = email.message_from_bytes(b"Content-Transfer-Encoding: " + encoding.encode() + b"\n\n"
                                            + body).get_payload(decode=True) or b""
        text = text_of(body, "utf-8").replace("\r\n", "\n")
        for chunk in re.split(r"\n[ \t]*\n", text):
            if chunk.strip():
                blocks.append(email.message_from_string(chunk.strip("\n") + "\n"))
    return blocks


def _dsn_failures(blocks: Sequence[Message]) -> tuple[frozenset[str], frozenset[str]]:
    """(temporary, permanent) recipients of the report's blocks, by their Action field."""
    temporary: set[str] = set()
    permanent: set[str] = set()
    for block in blocks:
        action = str(block.get("Action", "")).strip().lower()
        recipient = _recipient(str(block.get("Final-Recipient") or block.get("Original-Recipient") or ""))
        if not recipient:
            continue
        if action == "failed":
            permanent.add(recipient)
        elif action == "delayed":
            temporary.add(recipient)
    return frozenset(temporary), frozenset(permanent)


def _recipient(field_value: str) -> str:
    """The address of "rfc822; a@b.vn" or "utf-8; nguyễn@b.vn" (RFC 6533 writes odd characters as \\x{HH})."""
    address = field_value.partition(";")[2] if ";" in field_value else field_value
    address = _XTEXT.sub(lambda found: chr(int(found.group(1), 16)), address.strip())
    return address if "@" in address else ""


def _dsn_reason(blocks: Sequence[Message], addresses: Sequence[str]) -> tuple[str, str]:
    """Status and Diagnostic-Code of the DSN's per-recipient block about a failed address (RFC 3464)."""
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
    status = _one_line(header_text(chosen.get("Status", "")))
    diagnostic = _one_line(header_text(chosen.get("Diagnostic-Code", "")))
    if ";" in diagnostic[:12]:  # "smtp; 550 5.1.1 …": the type says nothing to a reader
        diagnostic = diagnostic.split(";", 1)[1].strip()
    codes = explanations.enhanced_codes(status)
    code = codes[0] if codes and status.startswith(codes[0]) else ""
    if not diagnostic:
        # A Status with a comment says why: "5.0.0 (recipient reached disk quota)".
        diagnostic = status[len(code):].strip(" ()") if code else status
    return code, diagnostic


def header_text(value: object) -> str:
    """A header's text, with encoded words (RFC 2047) in any charset and raw 8-bit bytes decoded."""
    try:
        pieces = decode_header(value)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a broken encoded word: keep the text as written
        return str(value)
    return "".join(piece if isinstance(piece, str) else text_of(piece, charset) for piece, charset in pieces)


# Charsets that servers declare by default while writing UTF-8: bytes that are valid UTF-8 are read as UTF-8.
_DEFAULT_CHARSETS = {"", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252",
                     "unknown-8bit", "x-unknown", "utf-8", "utf8"}


def text_of(data: bytes, charset: str | None) -> str:
    """Bytes as text: UTF-8 when they are valid UTF-8 and no other charset is really declared, else the charset."""
    return unicodedata.normalize("NFC", _decode(data, charset))  # windows-1258 writes tones as combining marks


def _decode(data: bytes, charset: str | None) -> str:
    declared = (charset or "").strip().lower()
    if declared in _DEFAULT_CHARSETS:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            declared = declared if declared not in ("", "utf-8", "utf8", "unknown-8bit", "x-unknown") else ""
    try:
        return data.decode(declared or "utf-8", "replace")
    except LookupError:  # an unknown charset name
        return data.decode("utf-8", "replace")


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
    are paragraphs (cut at PARAGRAPH_LIMIT characters) and, for a long
    paragraph such as a session transcript, each of its lines; they are scored
    by what a mail administrator looks for: a status code, an SMTP reply, a
    known reason, the failed address. The first of the best wins.
    """
    best, best_score = "", 0
    for text in _texts(message):
        for paragraph in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
            candidates = [paragraph]
            if len(_one_line(paragraph)) > PARAGRAPH_LIMIT:
                candidates += paragraph.split("\n")
            for candidate in candidates:
                passage = _one_line(candidate)[:PARAGRAPH_LIMIT]
                if len(passage) < 6:
                    continue
                lowered = passage.lower()
                score = 0
                if explanations.ENHANCED_CODE.search(passage):
                    score += 3
                if _SMTP_REPLY.search(passage):
                    score += 2
                if explanations.has_stated_reason(passage):
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
    """The text of the bounce's own text parts; an HTML part is read as text (some servers send only HTML)."""
    for part in _parts(message):
        content_type = part.get_content_type()
        if content_type in ("text/plain", "text/html") or (part is message and not message.is_multipart()):
            text = _decoded(part)
            if content_type == "text/html" or (part is message and _looks_like_html(text)):
                text = html_text(text)
            if text:
                yield text[:TEXT_SCAN_LIMIT]


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return text_of(payload, part.get_content_charset())


def _looks_like_html(text: str) -> bool:
    return bool(re.search(r"<(html|body|br|p|div|table)\b", text[:2000], re.IGNORECASE))


class _HTMLText(HTMLParser):
    """The text of an HTML document: block elements end lines, scripts and styles are dropped."""

    BLOCKS = frozenset({"br", "p", "div", "tr", "li", "table", "h1", "h2", "h3", "h4", "pre", "blockquote", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.pieces.append("\n\n" if tag in ("p", "div", "table", "tr") else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.pieces.append(data)


def html_text(html: str) -> str:
    """The readable text of an HTML part, never its markup (stdlib parser: tolerant of broken HTML)."""
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - the parser is tolerant, but a mailbox holds anything
        return re.sub(r"<[^>]*>", " ", html)
    text = "".join(parser.pieces)
    # Lines of only spaces become blank lines, so that paragraphs split where the HTML broke them.
    return re.sub(r"[ \t\r\f\v]+\n", "\n", text)


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
    """The headers of the original message a DSN returns: message/rfc822 or text/rfc822-headers, or their
    UTF-8 forms message/global and message/global-headers (RFC 6533)."""
    for part in _parts(message):
        content_type = part.get_content_type()
        if content_type not in ("message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers"):
            continue
        payload = part.get_payload()
        if isinstance(payload, list):  # the email package parsed a message/* part as a message
            if payload and isinstance(payload[0], Message):
                yield payload[0]
        else:
            yield email.message_from_string((_decoded(part) or str(payload)).lstrip())


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


# A personal survey link (/phieu/<token>…), wherever the portal runs: a bounce may quote the invitation.
_SURVEY_LINK = re.compile(r"\S*/phieu/[^\s\"'<>)\]]+")
HIDDEN_LINK = "[đường dẫn cá nhân đã ẩn]"


def hide_links(text: str) -> str:
    """The text with every personal survey link replaced: whoever holds one answers in the respondent's name,
    so neither a stored reason nor a kept message shown on a page may hand one out."""
    return _SURVEY_LINK.sub(HIDDEN_LINK, text)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _trim(text: str, limit: int = DIAGNOSTIC_LIMIT) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
