"""Reading one bounce: what failed, for which address, why, and which of our messages it is about.

`parse_bounce` is the whole of it; `bounces.intake` stores and applies what it finds. The failed
addresses and the split into permanent and temporary failures come from flufl.bounce (GNU Mailman's
detectors); the Status and Diagnostic-Code fields, the VERP token and the original Message-ID are read
with the standard email package. The text helpers (`header_text`, `text_of`, `html_text`,
`hide_links`) also serve the page of messages kept aside (portal/domain/kept_aside.py).
"""

from __future__ import annotations

import email
import logging
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message
from html.parser import HTMLParser
from typing import Literal

from portal.domain import bounce_explanations as explanations

log = logging.getLogger(__name__)

PARSE_LIMIT = 5 * 1024 * 1024  # bytes read of one message: the reasons come first, a returned attachment last
DIAGNOSTIC_LIMIT = 500
TEXT_SCAN_LIMIT = 100_000  # characters of each text part searched for the telling line
# Headers of the bounce itself that carry the address it was delivered to (the VERP address).
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To",
                     "X-Original-Recipient", "X-Rcpt-To")
Kind = Literal["permanent", "temporary", "unparsed"]

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
        return ParsedBounce(kind="unparsed", explanation=explanations.explain("", "", "unparsed"))


def _parse(raw: bytes, bounce_local: str) -> ParsedBounce:
    if not raw or not raw.strip():
        return ParsedBounce(kind="unparsed", explanation=explanations.explain("", "", "unparsed"))
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
    elif explanations.explain(status_code, diagnostic, kind) not in _STATED:
        # The DSN's fields say nothing a reader can act on ("Reason 1 (Unable-To-Transfer)"), but its text
        # often does ("5.7.1 Unable to relay"): add the passage that states the reason.
        passage = _telling_line(message, permanent + temporary)
        if passage and explanations.explain("", passage, kind) in _STATED and passage not in diagnostic:
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
        explanation=explanations.explain(status_code, diagnostic, kind),
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
