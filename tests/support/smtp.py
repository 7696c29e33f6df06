"""A real SMTP server on loopback for the tests: aiosmtpd in a thread, with faults on request.

    with SmtpSink() as sink:
        sink.refuse["gone@example.vn"] = "550 5.1.1 <gone@example.vn>: Recipient address rejected"
        sink.tempfail["busy@example.vn"] = 2      # answer 451 to the first two tries
        sink.drop_after = 3                        # close the connection at the 4th MAIL FROM
        sink.delay = 0.05                          # each message takes 50 ms to accept
        ...
        sink.messages                              # what was accepted, in order
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port nobody listens on right now (small race, fine for tests)."""
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
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                          or envelope.content))
            number = len(self.messages)
        return f"250 2.0.0 Ok: queued as SINK{number}"


class SmtpSink:
    """The handler behind an aiosmtpd Controller on 127.0.0.1 and a free port."""

    def __init__(self, **handler_options) -> None:
        self.handler = SinkHandler(**handler_options)
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=5)
        self.running = False

    def __enter__(self) -> SmtpSink:
        self.controller.start()
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
        if name in {"refuse", "tempfail", "drop_after", "delay"}:
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
