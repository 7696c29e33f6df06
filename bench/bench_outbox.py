"""Outbox throughput against plain smtplib, in one run, to the same local SMTP sink.

    python bench/bench_outbox.py            # N=500
    python bench/bench_outbox.py -n 2000

(a) smtplib: the same N messages, each composed by the outbox's own
    `build_message` and sent with `sendmail` over one connection, each with its
    VERP envelope sender. (a′) the same with every message composed before the
    clock starts: the ceiling of the transport alone.
(b) the outbox: enqueue N rows in one transaction, then `run_once` batches
    until the queue is empty: claim (one UPDATE per row, committed), build the
    MIME message, MAIL/RCPT/DATA, record each outcome in its own transaction.
    SQLite in a temporary folder, migrated and seeded as the tests prepare it.

Both talk to an aiosmtpd sink on loopback, in a process of its own, that only counts. The goal: the
outbox sends at least half as fast as smtplib alone. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_SCRATCH = tempfile.mkdtemp(prefix="cchc-bench-outbox-")
os.environ["PORTAL_INSTANCE_DIR"] = _SCRATCH  # before config is read: keep the developer's instance/ untouched

from aiosmtpd.controller import Controller  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.database import upgrade_schema  # noqa: E402
from portal.domain import outbox  # noqa: E402
from portal.domain.reference import load_reference_data  # noqa: E402
from portal.extensions import db, make_engine  # noqa: E402
from portal.models import OutboxMessage  # noqa: E402

DOMAIN = "chisocchc.gov.vn"
SENDER = "Bộ Nội vụ <khaosat@chisocchc.gov.vn>"
SUBJECT = "Phiếu khảo sát Chỉ số CCHC năm 2021: mời Nguyễn Thị Hương trả lời"


class CountingHandler:
    def __init__(self, counter) -> None:
        self.counter = counter

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 2.0.0 Ok"


def run_sink(port: int, counter, ready, stop) -> None:
    """The sink, in a process of its own as a real server would be (in-process it would share our GIL)."""
    sink = Controller(CountingHandler(counter), hostname="127.0.0.1", port=port, ready_timeout=5)
    sink.start()
    ready.set()
    stop.wait()
    sink.stop()


def bodies(n: int) -> tuple[str, str]:
    text = (f"Kính gửi Ông/Bà Nguyễn Thị Hương (số {n}),\n\nBộ Nội vụ trân trọng mời Ông/Bà trả lời phiếu khảo "
            "sát phục vụ xác định Chỉ số cải cách hành chính năm 2021.\n"
            f"Đường liên kết riêng: https://chisocchc.gov.vn/phieu/{n}.k3JxQ0aB9fZ2mN7pR4sT1uV8wX5yC6dE\n\n"
            "Hạn trả lời: hết ngày 20/02/2022.\nTrân trọng,\nBộ Nội vụ\n")
    html = "<p>" + text.replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"
    return text, html


def prepare_database(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade_schema(engine)
    with Session(engine) as session:
        load_reference_data(session)
    engine.dispose()
    return url


def smtplib_messages(count: int) -> list[OutboxMessage]:
    """The same messages as the outbox sends (unsaved rows), for smtplib to send."""
    rows = []
    for n in range(count):
        text, html = bodies(n)
        rows.append(OutboxMessage(id=n + 1, kind="invitation", to_addr=f"nguoi{n}@hanoi.gov.vn", subject=SUBJECT,
                                  body_text=text, body_html=html, bounce_token=f"{n:032x}",
                                  message_id=make_msgid(domain=DOMAIN)))
    return rows


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds on the clock
    cpu: float  # seconds of this process's CPU (the sink runs in another process)


@contextmanager
def timed(into: list[Timing]):
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into.append(Timing(time.perf_counter() - wall, time.process_time() - cpu))


def bench_smtplib(port: int, count: int, *, prerender: bool, into: list[Timing]) -> None:
    """smtplib sends `count` messages over one connection, composing each (or not: prerender)."""
    rows = smtplib_messages(count)
    rendered = {row.id: outbox.build_message(row, sender=SENDER) for row in rows} if prerender else {}
    with timed(into), smtplib.SMTP("127.0.0.1", port) as host:
        for row in rows:
            payload = rendered.get(row.id) or outbox.build_message(row, sender=SENDER)
            host.sendmail(f"bounces+{row.bounce_token}@{DOMAIN}", [row.to_addr], payload)


def bench_outbox(app, count: int, *, enqueue_into: list[Timing], send_into: list[Timing]) -> None:
    """Enqueue `count` messages in one transaction, then run_once batches until the queue is empty."""
    with app.app_context(), timed(enqueue_into), db.new_session() as session:
        for n in range(count):
            text, html = bodies(n)
            outbox.enqueue(session, kind="invitation", to_addr=f"nguoi{n}@hanoi.gov.vn", subject=SUBJECT,
                           body_text=text, body_html=html, mail_domain=DOMAIN)
        session.commit()
    with timed(send_into):
        while outbox.run_once(app, "bench:1", limit=app.config["PORTAL_OUTBOX_BATCH"]):
            pass
    with app.app_context(), db.new_session() as session:
        left = session.exec(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.status != "sent")).one()
    assert left == 0, f"{left} messages not sent"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="messages per measurement (default 500)")
    parser.add_argument("--batch", type=int, default=100, help="outbox batch size (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the best of each path is kept (default 3)")
    args = parser.parse_args()

    port = _free_port()
    counter, ready, stop = multiprocessing.Value("i", 0), multiprocessing.Event(), multiprocessing.Event()
    sink = multiprocessing.Process(target=run_sink, args=(port, counter, ready, stop), daemon=True)
    sink.start()
    plain: list[Timing] = []
    ceiling: list[Timing] = []
    enqueued: list[Timing] = []
    sent: list[Timing] = []
    try:
        if not ready.wait(10):
            raise SystemExit("the SMTP sink did not start")
        url = prepare_database(Path(_SCRATCH) / "bench.sqlite3")
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret-key-long-enough-0123456789abcdef",
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_SUPPRESS_SEND": False,
            "MAIL_DEFAULT_SENDER": SENDER, "PORTAL_MAIL_DOMAIN": DOMAIN, "PORTAL_BOUNCE_ADDRESS": f"bounces@{DOMAIN}",
            "PORTAL_MAIL_RATE": 0.0, "PORTAL_OUTBOX_BATCH": args.batch,
        })
        bench_smtplib(port, 20, prerender=False, into=[])  # warm every path up
        bench_outbox(app, 20, enqueue_into=[], send_into=[])
        with counter.get_lock():
            counter.value = 0
        for _ in range(args.rounds):  # interleaved, so a busy moment of the machine hits every path alike
            bench_smtplib(port, args.n, prerender=False, into=plain)
            bench_smtplib(port, args.n, prerender=True, into=ceiling)
            bench_outbox(app, args.n, enqueue_into=enqueued, send_into=sent)
        expected = 3 * args.n * args.rounds
        assert counter.value == expected, f"the sink counted {counter.value}, expected {expected}"
    finally:
        stop.set()
        sink.join(10)
        if sink.is_alive():
            sink.kill()

    def best(timings: list[Timing]) -> Timing:
        return min(timings, key=lambda t: t.wall)

    base = args.n / best(plain).wall
    rows = [
        ("(a) smtplib, one connection, composing each message", best(plain)),
        ("(a′) smtplib, one connection, messages composed beforehand", best(ceiling)),
        ("(b) outbox: run_once batches until empty", best(sent)),
        (f"(b′) outbox including enqueue ({best(enqueued).wall:.3f} s)",
         Timing(best(enqueued).wall + best(sent).wall, best(enqueued).cpu + best(sent).cpu)),
    ]
    print(f"Outbox against plain smtplib: {args.n} messages to an aiosmtpd sink on loopback in its own process; "
          f"SQLite, batch {args.batch}, no rate limit; best of {args.rounds} rounds; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}.\n")
    print("| path | seconds | messages/s | rate vs (a) | CPU ms per message |")
    print("|---|---:|---:|---:|---:|")
    for label, timing in rows:
        rate = args.n / timing.wall
        print(f"| {label} | {timing.wall:.3f} | {rate:,.0f} | {rate / base:.2f} | {timing.cpu / args.n * 1000:.2f} |")
    ratio = (args.n / best(sent).wall) / base
    print(f"\nGoal, the outbox at least half as fast as smtplib sending the same messages: {ratio:.2f}, "
          f"{'met' if ratio >= 0.5 else 'NOT met'}.")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
