"""Messages of the bounce mailbox kept aside: stored because they could not be read or tied to a message.

The intake (portal/domain/bounces.py) keeps every message it cannot apply,
with its raw text: "unparsed" (no failed address found: an autoreply, a
bounce in a format nobody knows) and "unmatched" (a failure about no message
of ours). An unparsed message that still names one of our messages (by its
VERP address) belongs to that message's province; the others to nobody but
the ministry.

A person reads them as text only: the message's HTML is never rendered, only
its text extracted; the personal survey links of the attached original are
hidden (whoever holds one can answer in the respondent's name); the text is
cut at DISPLAY_LIMIT characters.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email.message import Message

from sqlmodel import Session, col, select

from portal.domain.bounce_parsing import header_text, hide_links, html_text, text_of
from portal.models import BounceMessage, Province

KEPT_KINDS = ("unparsed", "unmatched")
KIND_LABELS = {"unparsed": "Không đọc được", "unmatched": "Không rõ thư gốc"}
DISPLAY_LIMIT = 20_000  # characters of a message's text shown on the page
LIST_LIMIT = 200
SHOWN_HEADERS = ("From", "To", "Date", "Subject")


def kept_messages(session: Session, province_id: int | None, limit: int = LIST_LIMIT
                  ) -> list[tuple[BounceMessage, Province | None]]:
    """The messages kept aside, newest first: of one province, or all of them (province_id None)."""
    query = (select(BounceMessage, Province).join(Province, col(Province.id) == BounceMessage.province_id, isouter=True)
             .where(col(BounceMessage.kind).in_(KEPT_KINDS)))
    if province_id is not None:
        query = query.where(BounceMessage.province_id == province_id)
    query = query.order_by(col(BounceMessage.received_at).desc(), col(BounceMessage.id).desc()).limit(limit)
    return [(message, province) for message, province in session.exec(query)]


def get_kept_message(session: Session, message_id: int) -> BounceMessage | None:
    """One message kept aside; None for any other stored message (those are on the error list)."""
    return session.exec(select(BounceMessage).where(BounceMessage.id == message_id,
                                                    col(BounceMessage.kind).in_(KEPT_KINDS))).first()


@dataclass
class Readable:
    """What the page shows of a kept message: plain strings, rendered escaped."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    attachments: list[str] = field(default_factory=list)  # "name (type)" of parts that are not text
    truncated: bool = False


def readable(message: BounceMessage, limit: int = DISPLAY_LIMIT) -> Readable:
    """The headers and the text of a kept message, as text only, survey links hidden, cut at `limit`."""
    parsed = email.message_from_string(message.raw or "")
    result = Readable(headers=[(name, hide_links(header_text(parsed.get(name, ""))))
                               for name in SHOWN_HEADERS if parsed.get(name)])
    pieces: list[str] = []
    for part in parsed.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        content_type = part.get_content_type()
        if content_type in ("text/plain", "text/html", "text/rfc822-headers") or part is parsed:
            text = _part_text(part)
            pieces.append(html_text(text) if content_type == "text/html" else text)
        else:
            name = part.get_filename() or "không tên"
            result.attachments.append(f"{name} ({content_type})")
    text = hide_links("\n\n".join(piece.strip() for piece in pieces if piece.strip()))
    text = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", text)  # HTML's nested blocks leave runs of blank lines
    if len(text) > limit:
        text, result.truncated = text[:limit], True
    result.text = text
    return result


def _part_text(part: Message) -> str:
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding in ("base64", "quoted-printable"):
        payload = part.get_payload(decode=True)
        return text_of(payload, part.get_content_charset()) if isinstance(payload, bytes) else ""
    # Stored as text already (decoded from UTF-8 when it was kept): re-encoding it would garble it.
    payload = part.get_payload()
    return payload if isinstance(payload, str) else ""
