"""A real SMTP server on loopback for the tests: aiosmtpd in a thread, with faults on request.

    with SmtpSink() as sink:
        sink.refuse["gone@example.vn"] = "550 5.1.1 <gone@example.vn>: Recipient address rejected"
        sink.tempfail["busy@example.vn"] = 2      # answer 451 to the first two tries
        sink.drop_after = 3                        # close the connection at the 4th MAIL FROM
        sink.delay = 0.05                          # each message takes 50 ms to accept
        sink.sender_refusal = "553 5.7.1 Sender rejected"        # answered to every MAIL FROM
        sink.data_refusal["spam@example.vn"] = "554 5.7.1 Rejected as spam"  # answered at the end of DATA
        ...
        sink.messages                              # what was accepted, in order

    # The ministry's relay: STARTTLS (or implicit TLS) with a certificate, and a login.
    with SmtpSink(tls=server_tls(certificates), starttls=True, logins={"cchc": "mat-khau"}) as sink:
        mail_config(sink, MAIL_USE_TLS=True, MAIL_USERNAME="cchc", MAIL_PASSWORD="mat-khau",
                    PORTAL_MAIL_CA_FILE=str(certificates.ca_file))
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

MAIL_DOMAIN = "chisocchc.gov.vn"


def free_port() -> int:
    """A TCP port nobody listens on right now, for servers that must be told their port before they start
    (another process may take it in between: prefer binding port 0 where the server allows it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    """One accepted message, as the server saw it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def outbox_id(self) -> int:
        return int(self.message["X-CCHC-Outbox-Id"])


@dataclass
class SinkHandler:
    """aiosmtpd handler: stores what it accepts; refuses, defers or hangs up when told to."""

    refuse: dict[str, str] = field(default_factory=dict)  # address -> "550 …" answered to RCPT TO
    tempfail: dict[str, int] = field(default_factory=dict)  # address -> how many more times to answer 451
    drop_after: int | None = None  # hang up at the MAIL FROM that follows this many accepted messages
    delay: float = 0.0  # seconds spent on each message before accepting it
    sender_refusal: str | None = None  # answered to MAIL FROM instead of 250
    data_refusal: dict[str, str] = field(default_factory=dict)  # recipient -> reply at the end of DATA
    logins: dict[str, str] = field(default_factory=dict)  # user -> password the server accepts
    logged_in: list[str] = field(default_factory=list)  # users who logged in, in order
    encrypted: list[bool] = field(default_factory=list)  # per accepted message: was the session under TLS
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    drops: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd's hook name
        session.host_name = hostname
        with self.lock:
            self.connections += 1
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        with self.lock:
            drop = self.drop_after is not None and len(self.messages) >= self.drop_after
            if drop:
                self.drop_after = None  # once: the next connection works
                self.drops += 1
        if drop:
            server.transport.close()
            return "421 4.4.2 closing connection"  # never reaches the client: the socket is gone
        if self.sender_refusal:
            return self.sender_refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        lowered = address.lower()
        if lowered in self.refuse:
            return self.refuse[lowered]
        with self.lock:
            left = self.tempfail.get(lowered, 0)
            if left > 0:
                self.tempfail[lowered] = left - 1
        if left > 0:
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        for address in envelope.rcpt_tos:
            if address.lower() in self.data_refusal:
                return self.data_refusal[address.lower()]
        with self.lock:
            # session.ssl covers STARTTLS; under implicit TLS the transport itself is the TLS one.
            self.encrypted.append(session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None)
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                          or envelope.content))
            number = len(self.messages)
        return f"250 2.0.0 Ok: queued as SINK{number}"


    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        """aiosmtpd's authenticator: LOGIN and PLAIN against `logins`."""
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.logins.get(user) == password:
                with self.lock:
                    self.logged_in.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class _LoopbackController(Controller):
    """Listens on a port the system chooses (port 0), so two servers never race for the same one."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """The handler behind an aiosmtpd Controller on 127.0.0.1 and a port of its own.

    `tls`: a server SSL context (see `server_tls`); with `starttls=True` the server offers STARTTLS on a plain
    connection and requires it, otherwise it speaks TLS from the first byte (SMTPS). `logins`: user -> password;
    when given, the server requires AUTH (over TLS) before MAIL FROM.
    """

    def __init__(self, *, tls: ssl.SSLContext | None = None, starttls: bool = False,
                 logins: dict[str, str] | None = None, **handler_options) -> None:
        self.handler = SinkHandler(logins=dict(logins or {}), **handler_options)
        options: dict = {"ready_timeout": 5}
        if tls is not None and starttls:
            options.update(tls_context=tls, require_starttls=True)
        elif tls is not None:
            options.update(ssl_context=tls)
        if logins:
            # Under implicit TLS aiosmtpd does not see the session as TLS for AUTH: the whole connection is.
            options.update(authenticator=self.handler.authenticate, auth_required=True,
                           auth_require_tls=tls is None or starttls)
        self.controller = _LoopbackController(self.handler, hostname="127.0.0.1", port=0, **options)
        self.port = 0
        self.running = False

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        self.port = self.controller.port
        self.running = True
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening (a test of an unreachable server); safe to call twice."""
        if self.running:
            self.running = False
            self.controller.stop()

    def __getattr__(self, name: str):
        # refuse, tempfail, drop_after, delay, messages … live on the handler.
        return getattr(self.handler, name)

    def __setattr__(self, name: str, value) -> None:
        if name in {"refuse", "tempfail", "drop_after", "delay", "sender_refusal", "data_refusal"}:
            setattr(self.handler, name, value)
        else:
            super().__setattr__(name, value)

    def count(self) -> int:
        with self.handler.lock:
            return len(self.handler.messages)

    def outbox_ids(self) -> Counter[int]:
        """How many times each outbox message arrived."""
        with self.handler.lock:
            received = list(self.handler.messages)
        return Counter(item.outbox_id for item in received)

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until at least `count` messages arrived; False when the time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= count:
                return True
            time.sleep(0.01)
        return self.count() >= count


def mail_config(sink: SmtpSink, **overrides) -> dict:
    """The app settings that send the outbox to the sink in plain SMTP (no TLS, no login, no pacing)."""
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sink.port, "MAIL_USE_TLS": False, "MAIL_USE_SSL": False,
            "MAIL_USERNAME": None, "MAIL_PASSWORD": None, "MAIL_SUPPRESS_SEND": False,
            "MAIL_DEFAULT_SENDER": f"Bộ Nội vụ <khaosat@{MAIL_DOMAIN}>",
            "PORTAL_MAIL_DOMAIN": MAIL_DOMAIN, "PORTAL_BOUNCE_ADDRESS": f"bounces@{MAIL_DOMAIN}",
            "PORTAL_MAIL_RATE": 0.0, "PORTAL_MAIL_MAX_ATTEMPTS": 8, "PORTAL_MAIL_TIMEOUT": 5.0,
            "PORTAL_MAIL_CA_FILE": None, **overrides}
