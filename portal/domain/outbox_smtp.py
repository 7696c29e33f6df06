"""Sending claimed outbox messages over SMTP: one connection per batch, one message per recipient.

`outbox.run_once` claims a batch and hands it to `send_batch` here, with the worker's
`outbox_records.Recorder` as the place each outcome goes. This module knows the wire (MIME written
out directly, MAIL FROM / RCPT TO / DATA, refusals and broken connections, the pace); the queue and
its delivery promise are described in `portal/domain/outbox.py`.
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
from dataclasses import dataclass
from datetime import datetime
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

from flask import current_app

from portal.domain.outbox import FAILED, QUEUED, SENT, ClaimedMessage, SendResult, retry_delay
from portal.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)


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
