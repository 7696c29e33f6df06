"""The outbox worker against plain smtplib sending the same prepared messages, to the same local SMTP sink.

    ./scripts/bench --only outbox                # through the runner (every database, docs/benchmarks.md)
    python bench/bench_outbox.py -n 2000 --db sqlite
    python bench/bench_outbox.py --quick         # 50 messages, one round: a smoke run
    python bench/bench_outbox.py --queue 0       # without the long queue

(a) baseline: smtplib sends N messages over one connection, each composed beforehand (by the outbox's own
    `outbox_smtp.build_message`, with its VERP envelope sender): the transport alone. Composing is the portal's cost.
(b) the outbox: N rows enqueued in one transaction (not timed), then `run_once` batches until the queue is
    empty: claim, build the MIME message, MAIL/RCPT/DATA, record each outcome.
(c) the long queue: the same N messages sent from the front of a queue of --queue messages (50,000; stored
    beforehand in a database of its own, then VACUUM ANALYZE on PostgreSQL, as autovacuum would have done
    by then), against (b) sending N of N. Goal: at least 0.9 of (b): the claim does not grow with the queue.
Paired round by round, the median of each kept; on SQLite and on a throwaway PostgreSQL cluster. The sink
is aiosmtpd on loopback in a process of its own that only counts. Goal: (b) at least half as fast as (a).
"""

from __future__ import annotations

import multiprocessing
import smtplib
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import make_msgid

from harness import Figure, arguments, backends, databases, peak_rss_mb, report, scratch

_SCRATCH = scratch("cchc-bench-outbox-")

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.database import upgrade_schema  # noqa: E402
from portal.domain import outbox, outbox_smtp  # noqa: E402
from portal.domain.reference import load_reference_data  # noqa: E402
from portal.extensions import db, make_engine  # noqa: E402
from portal.models import OutboxMessage, utcnow  # noqa: E402

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


def prepare_database(url: str) -> str:
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
    rendered = {row.id: outbox_smtp.build_message(row, sender=SENDER) for row in rows} if prerender else {}
    with timed(into), smtplib.SMTP("127.0.0.1", port) as host:
        for row in rows:
            payload = rendered.get(row.id) or outbox_smtp.build_message(row, sender=SENDER)
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


def fill_queue(app, count: int) -> None:
    """Store `count` queued messages as `enqueue` would (not timed: one INSERT per chunk), and on PostgreSQL
    VACUUM ANALYZE the table, so that its planner knows the queue's size."""
    now = utcnow()
    with app.app_context():
        engine = db.engine
        with engine.begin() as connection:
            for start in range(0, count, 5000):
                connection.execute(insert(OutboxMessage.__table__), [
                    {"kind": "invitation", "to_addr": f"hangdoi{n}@hanoi.gov.vn", "subject": SUBJECT,
                     "body_text": bodies(n)[0], "body_html": bodies(n)[1], "bounce_token": f"{n:032x}",
                     "message_id": make_msgid(domain=DOMAIN), "status": "queued", "attempts": 0, "claimed_by": "",
                     "last_reply": "", "next_attempt_at": now, "queued_at": now, "updated_at": now}
                    for n in range(start, min(start + 5000, count))])
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE outboxmessage")


def send_from_queue(app, count: int, batch: int, *, into: list[Timing]) -> None:
    """run_once batches until `count` messages of a longer queue are sent."""
    tried = 0
    with timed(into):
        while tried < count:
            done = outbox.run_once(app, "bench:1", limit=min(batch, count - tried))
            assert done, "the queue ran dry"
            tried += done


def portal_app(url: str, port: int, batch: int):
    """The portal on the database at `url`, its engine kept in its config: the portal's one `db` holds the engine
    of the app made last, so `on_database` points it back at this one before each use."""
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret-key-long-enough-0123456789abcdef",
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_SUPPRESS_SEND": False,
        "MAIL_DEFAULT_SENDER": SENDER, "PORTAL_MAIL_DOMAIN": DOMAIN, "PORTAL_BOUNCE_ADDRESS": f"bounces@{DOMAIN}",
        "PORTAL_MAIL_RATE": 0.0, "PORTAL_OUTBOX_BATCH": batch,
    })
    app.config["BENCH_ENGINE"] = db.engine
    return app


def on_database(app):
    """`app`, with the portal's `db` using its database."""
    db.engine = app.config["BENCH_ENGINE"]
    return app


def measure(backend: str, new_url, port: int, counter, count: int, batch: int, rounds: int,
            queue: int) -> list[Figure]:
    print(f"[{backend}] {count} messages, {rounds} rounds"
          + (f", and {count} of {queue:,} queued …" if queue else " …"), file=sys.stderr)
    app = portal_app(prepare_database(new_url("outbox")), port, batch)
    long_queue = portal_app(prepare_database(new_url("outbox_long")), port, batch) if queue else None
    if long_queue is not None:
        # Each round sends `count` from the front, so the queue is never shorter than `queue` when a round starts.
        fill_queue(on_database(long_queue), queue + (rounds - 1) * count)
    prepared: list[Timing] = []
    enqueued: list[Timing] = []
    sent: list[Timing] = []
    sent_from_long: list[Timing] = []
    bench_smtplib(port, 20, prerender=True, into=[])  # warm every path up
    bench_outbox(on_database(app), 20, enqueue_into=[], send_into=[])
    with counter.get_lock():
        counter.value = 0
    for _ in range(rounds):  # interleaved, so a busy moment of the machine hits every path alike
        bench_smtplib(port, count, prerender=True, into=prepared)
        bench_outbox(on_database(app), count, enqueue_into=enqueued, send_into=sent)
        if long_queue is not None:
            send_from_queue(on_database(long_queue), count, batch, into=sent_from_long)
    expected = (3 if long_queue is not None else 2) * count * rounds
    assert counter.value == expected, f"the sink counted {counter.value}, expected {expected}"
    for each in (app, long_queue):
        if each is not None:
            each.config["BENCH_ENGINE"].dispose()
    base = count / statistics.median(t.wall for t in prepared)
    rate = count / statistics.median(t.wall for t in sent)
    cpu = statistics.median(t.cpu for t in sent) / count * 1000
    figures = [Figure("outbox", backend, f"outbox worker sending {count:,} messages (batch {batch}; "
                                         f"{cpu:.2f} ms CPU each)", rate, "msg/s",
                      "smtplib sending the same prepared messages over one connection", base, rate / base,
                      "≥ 0.5×", rate / base >= 0.5)]
    if long_queue is not None:
        long_rate = count / statistics.median(t.wall for t in sent_from_long)
        figures.append(Figure("outbox", backend, f"outbox worker sending {count:,} of {queue:,} queued", long_rate,
                              "msg/s", f"the same worker sending {count:,} of {count:,} queued", rate,
                              long_rate / rate, "≥ 0.9×", long_rate / rate >= 0.9))
    return figures


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], rounds=3)
    parser.add_argument("-n", type=int, default=2000, help="messages per round (default 2,000)")
    parser.add_argument("--batch", type=int, default=50, help="outbox batch size (default 50, as configured)")
    parser.add_argument("--queue", type=int, default=50_000,
                        help="length of the long queue the same messages are sent from (default 50,000; 0: skip)")
    args = parser.parse_args()
    count, rounds, queue = (50, 1, min(args.queue, 500)) if args.quick else (args.n, args.rounds, args.queue)
    if queue and queue < count:
        parser.error("--queue must be at least -n")

    port = _free_port()
    counter, ready, stop = multiprocessing.Value("i", 0), multiprocessing.Event(), multiprocessing.Event()
    sink = multiprocessing.Process(target=run_sink, args=(port, counter, ready, stop), daemon=True)
    sink.start()
    figures: list[Figure] = []
    try:
        if not ready.wait(10):
            raise SystemExit("the SMTP sink did not start")
        for backend in backends(args.db):
            with databases(backend, _SCRATCH) as new_url:
                if new_url is not None:
                    figures += measure(backend, new_url, port, counter, count, args.batch, rounds, queue)
    finally:
        stop.set()
        sink.join(10)
        if sink.is_alive():
            sink.kill()
    figures.append(Figure("outbox", "-", "peak resident memory of the bench process", peak_rss_mb(), "MB"))
    report("The outbox against smtplib sending prepared messages", figures, args.json)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
