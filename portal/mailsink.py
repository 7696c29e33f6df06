"""A local mail sink for a demo or a newcomer's machine: `flask --app wsgi portal mail-sink`.

An SMTP server (aiosmtpd) on 127.0.0.1 that accepts every message and files it
in a Maildir; it never relays anything anywhere. In demo mode the portal shows
that Maildir as "Hộp thư thử nghiệm" (portal/demo_mail), so a person can open a
survey link from a caught invitation.
"""

from __future__ import annotations

import email
import email.policy
import logging
import mailbox
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)


class MaildirHandler:
    """aiosmtpd handler: every message into the Maildir, with the envelope as a receiving server records it."""

    def __init__(self, maildir: str | Path) -> None:
        self.path = Path(maildir)
        self.maildir = mailbox.Maildir(self.path, create=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        # What a delivering server adds: Return-Path is the envelope sender (the VERP bounce address).
        trace = (f"Return-Path: <{envelope.mail_from}>\r\n"
                 f"Delivered-To: {', '.join(envelope.rcpt_tos)}\r\n").encode("utf-8", "replace")
        key = self.maildir.add(trace + content)
        log.info("caught a message for %s (%s)", ", ".join(envelope.rcpt_tos), key)
        return "250 2.0.0 Ok: caught by the local mail sink, not delivered"


def start_sink(maildir: str | Path, *, port: int = 8025, hostname: str = "127.0.0.1") -> Controller:
    """Start the sink in a background thread; call `.stop()` on the result to end it."""
    from aiosmtpd.controller import Controller  # asyncio's SMTP server: only the demo's sink starts it

    controller = Controller(MaildirHandler(maildir), hostname=hostname, port=port, ready_timeout=5)
    controller.start()
    return controller


# ---------------------------------------------------------------- reading what was caught


@dataclass
class CaughtMessage:
    """A caught message as the demo mailbox lists it."""

    key: str
    to: str
    subject: str
    date: datetime | None
    envelope_from: str = ""
    text: str = ""
    html: str = ""


def _open(maildir: str | Path) -> mailbox.Maildir | None:
    try:
        return mailbox.Maildir(Path(maildir), create=False)
    except mailbox.NoSuchMailboxError:
        return None


def _summary(key: str, message: EmailMessage) -> CaughtMessage:
    try:
        date = message["Date"].datetime if message["Date"] else None
    except (AttributeError, TypeError, ValueError):
        date = None
    if date is None and key.split(".", 1)[0].isdigit():
        date = datetime.fromtimestamp(int(key.split(".", 1)[0]), UTC)  # when the sink filed it
    elif date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return CaughtMessage(key=key, to=str(message["To"] or ""), subject=str(message["Subject"] or ""), date=date,
                         envelope_from=str(message["Return-Path"] or "").strip("<>"))


def caught_messages(maildir: str | Path, limit: int = 200) -> list[CaughtMessage]:
    """The caught messages, newest first (headers only), at most `limit`."""
    box = _open(maildir)
    if box is None:
        return []
    parser = BytesParser(policy=email.policy.default)
    found = []
    for key in box.iterkeys():
        try:
            with box.get_file(key) as handle:
                found.append(_summary(key, parser.parse(handle, headersonly=True)))  # type: ignore[arg-type]
        except (KeyError, FileNotFoundError):
            continue  # removed meanwhile
    oldest = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda m: (m.date or oldest, m.key), reverse=True)
    return found[:limit]


def caught_message(maildir: str | Path, key: str) -> CaughtMessage | None:
    """One caught message with its text and HTML bodies, or None for an unknown key."""
    box = _open(maildir)
    if box is None:
        return None
    try:
        with box.get_file(key) as handle:
            message = email.message_from_binary_file(handle, policy=email.policy.default)
    except (KeyError, FileNotFoundError):
        return None
    caught = _summary(key, message)  # type: ignore[arg-type]
    for kind in ("plain", "html"):
        part = message.get_body((kind,))  # type: ignore[attr-defined]
        if part is not None:
            content = part.get_content().replace("\r\n", "\n")
            if kind == "plain":
                caught.text = content
            else:
                caught.html = content
    return caught
