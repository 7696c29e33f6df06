"""The worker: scheduled jobs in their own process, `flask --app wsgi portal worker`.

Never started inside gunicorn: with several web workers every job would run
once per worker. Each job is thin: it opens a session (or lets the domain
function do it), calls one domain function, and closes.

    send outbox batch   every PORTAL_OUTBOX_INTERVAL seconds  (outbox.run_once)
    operations          every PORTAL_OPERATION_INTERVAL seconds: launches, "Đôn đốc tất cả", run chunk by
                        chunk to their end                    (operations.run_pending)
    sweep stuck rows    every 60 seconds: expired leases      (outbox.sweep_stuck)
    purge old bodies    every hour: messages done with for    (outbox.purge_bodies)
                        PORTAL_OUTBOX_KEEP_SENT_DAYS
    reminders           every 10 minutes                      (reminders.enqueue_due_reminders)
    unused files        every 6 hours: rows and files nothing (evidence.collect_garbage)
                        references, older than PORTAL_FILES_MIN_AGE_HOURS
    bounce intake       every PORTAL_BOUNCE_INTERVAL seconds  (bounces.intake_configured), when a bounce
                        mailbox is configured (PORTAL_BOUNCE_MAILDIR or PORTAL_BOUNCE_IMAP_HOST)
    old signals         every 6 hours: integrity signals of campaigns closed PORTAL_SIGNAL_RETENTION_DAYS ago
    answer order        every PORTAL_ANSWER_SHUFFLE_MINUTES, on PostgreSQL
                        (answers.shuffle_answer_order: no physical order of the table follows the writes)

SIGTERM or SIGINT lets the message on the wire finish, puts the rest of its
batch back in the queue, and stops.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from portal.domain import bounces, operations, outbox
from portal.extensions import db
from portal.models import utcnow

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60
REMINDER_MINUTES = 10

# Set by SIGTERM/SIGINT: the send job ends its batch after the current message.
stop_requested = threading.Event()
# Held while a job runs, so that stopping can wait for the current one to end.
_busy = threading.Lock()
# Held while operations run (apart from _busy: a launch and the sending of its mail go on side by side).
_busy_operations = threading.Lock()


def worker_id() -> str:
    """Who claimed a row: host and process, readable in the outbox table."""
    return f"{socket.gethostname()}:{os.getpid()}"


def send_outbox(app: Flask, worker: str, *, drain: bool = True) -> int:
    """Send due messages batch after batch while batches come back full (one batch only unless `drain`).

    Draining keeps a long queue going at PORTAL_MAIL_RATE instead of one batch
    per interval; each batch is claimed afresh with its own lease.
    """
    limit = app.config["PORTAL_OUTBOX_BATCH"]
    total = 0
    with _busy:
        while not stop_requested.is_set():
            tried = outbox.run_once(app, worker, limit=limit, stop=stop_requested)
            total += tried
            if not drain or tried < limit:
                break
    return total


def run_operations(app: Flask, worker: str) -> int:
    """Run the background operations waiting (or left by a dead worker) to their end; returns the chunks run."""
    with _busy_operations, app.app_context(), db.new_session() as session:
        return operations.run_pending(session, worker, chunk=app.config["PORTAL_OPERATION_CHUNK"],
                                      stop=stop_requested)


def sweep_outbox(app: Flask) -> int:
    """Queue again messages left in "sending" by a worker that died: those whose lease has expired."""
    with app.app_context(), db.new_session() as session:
        return outbox.sweep_stuck(session, now=utcnow())


def enqueue_reminders(app: Flask) -> int:
    """Queue the automatic reminders whose day has come."""
    from portal.domain.reminders import enqueue_due_reminders

    config = app.config
    with app.app_context(), db.new_session() as session:
        count = enqueue_due_reminders(session, now=utcnow(), tz_name=config["PORTAL_TIMEZONE"],
                                      mail_domain=config["PORTAL_MAIL_DOMAIN"], base_url=config["PORTAL_BASE_URL"])
    if count:
        log.info("queued %d reminder(s)", count)
    return count


def purge_outbox(app: Flask) -> int:
    """Empty the bodies of messages done with for PORTAL_OUTBOX_KEEP_SENT_DAYS (outbox.purge_bodies)."""
    with app.app_context(), db.new_session() as session:
        purged = outbox.purge_bodies(session, now=utcnow(),
                                     keep=timedelta(days=app.config["PORTAL_OUTBOX_KEEP_SENT_DAYS"]))
    if purged:
        log.info("emptied the bodies of %d sent message(s)", purged)
    return purged


def forget_login_failures(app: Flask) -> int:
    """Delete login-failure counts whose window is over (portal/domain/login_throttle.py)."""
    from portal.domain import login_throttle

    with app.app_context(), db.new_session() as session:
        return login_throttle.forget_stale(session, window=app.config["LOGIN_LOCK_MINUTES"] * 60)


def shuffle_answers(app: Flask) -> bool:
    """Rewrite the answer table in the order of its random key (PostgreSQL; SQLite keeps that order itself).

    Every time, not only when the statistics say answers changed: they reach other sessions late, and a
    skipped rewrite would leave the order of the last writes in the table until the next one."""
    from portal.domain import answers

    with app.app_context(), db.new_session() as session:
        return answers.shuffle_answer_order(session)


def forget_signals(app: Flask) -> int:
    """Delete the integrity signals of campaigns closed long enough ago (portal/domain/integrity.py)."""
    from portal.domain import integrity

    with app.app_context(), db.new_session() as session:
        return integrity.forget_closed_campaigns(session, app.config["PORTAL_SIGNAL_RETENTION_DAYS"])

def check_integrity(app: Flask) -> int:
    """Run the integrity rules over the provinces with forms submitted since the last run; returns new flags."""
    from portal.domain import integrity_rules

    with app.app_context(), db.new_session() as session:
        count = integrity_rules.check_new_submissions(session, app.config["SECRET_KEY"],
                                                      integrity_rules.Thresholds.from_config(app.config))
    if count:
        log.info("raised %d integrity flag(s)", count)
    return count


def lock_assessments(app: Flask) -> int:
    """Record the lock of every self-assessment whose deadline day has ended (saves check the deadline anyway)."""
    from portal.domain import assessment

    with app.app_context(), db.new_session() as session:
        count = assessment.lock_due(session, app.config["PORTAL_TIMEZONE"], now=utcnow())
    if count:
        log.info("locked %d self-assessment(s)", count)
    return count


def collect_files(app: Flask) -> int:
    """Remove uploaded files (and their rows) nothing references any more; returns how many files went."""
    from portal.domain import evidence

    with app.app_context(), db.new_session() as session:
        collected = evidence.collect_garbage(session, app.config["PORTAL_FILES_DIR"],
                                             min_age=timedelta(hours=app.config["PORTAL_FILES_MIN_AGE_HOURS"]))
    if collected.rows or collected.files or collected.temporaries:
        log.info("removed %d unused file row(s), %d file(s) (%d bytes), %d temporary file(s)", collected.rows,
                 collected.files, collected.bytes, collected.temporaries)
    return collected.files


def intake_bounces(app: Flask) -> int:
    """Read the bounce mailbox once and mark the messages it names; returns how many new messages it held."""
    if not bounces.source_configured(app.config):
        return 0
    return bounces.intake_configured(app, utcnow()).processed


def run_once(app: Flask) -> int:
    """One pass of every job, for `portal worker --once` (tests, cron): operations, reminders, bounces, sweep,
    old login failures, self-assessment locks, old outbox bodies, unused files, the answer order, old signals,
    the integrity rules, one batch."""
    _guarded(run_operations, app, worker_id())
    _guarded(enqueue_reminders, app)
    _guarded(intake_bounces, app)
    _guarded(sweep_outbox, app)
    _guarded(forget_login_failures, app)
    _guarded(shuffle_answers, app)
    _guarded(forget_signals, app)
    _guarded(check_integrity, app)
    _guarded(lock_assessments, app)
    _guarded(purge_outbox, app)
    _guarded(collect_files, app)
    return send_outbox(app, worker_id(), drain=False)


def _guarded(job, *args) -> None:
    try:
        job(*args)
    except Exception:  # noqa: BLE001 - one failing job must not keep the others from running
        log.exception("job %s failed", job.__name__)


def build_scheduler(app: Flask) -> BlockingScheduler:
    """The worker's scheduler: the send job starts at once, then every PORTAL_OUTBOX_INTERVAL seconds."""
    scheduler = BlockingScheduler(executors={"default": ThreadPoolExecutor(max_workers=4)}, timezone="UTC")
    # Never two runs of one job at once; runs missed while one was busy collapse into one.
    one_at_a_time = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}
    me = worker_id()
    now = utcnow()
    scheduler.add_job(send_outbox, "interval", seconds=app.config["PORTAL_OUTBOX_INTERVAL"], args=[app, me],
                      id="send_outbox", name="send outbox batch", next_run_time=now, **one_at_a_time)
    scheduler.add_job(run_operations, "interval", seconds=app.config["PORTAL_OPERATION_INTERVAL"], args=[app, me],
                      id="operations", name="background operations", next_run_time=now, **one_at_a_time)
    scheduler.add_job(sweep_outbox, "interval", seconds=SWEEP_SECONDS, args=[app], id="sweep_outbox",
                      name="sweep stuck outbox rows", next_run_time=now, **one_at_a_time)
    scheduler.add_job(enqueue_reminders, "interval", minutes=REMINDER_MINUTES, args=[app], id="reminders",
                      name="automatic reminders", next_run_time=now + timedelta(seconds=2), **one_at_a_time)
    scheduler.add_job(purge_outbox, "interval", hours=1, args=[app], id="purge_outbox",
                      name="empty old outbox bodies", next_run_time=now + timedelta(minutes=2), **one_at_a_time)
    scheduler.add_job(forget_login_failures, "interval", hours=1, args=[app], id="login_failures",
                      name="forget old login failures", next_run_time=now + timedelta(minutes=1), **one_at_a_time)
    scheduler.add_job(shuffle_answers, "interval", minutes=app.config["PORTAL_ANSWER_SHUFFLE_MINUTES"], args=[app],
                      id="answer_order", name="answer order", next_run_time=now + timedelta(minutes=1),
                      **one_at_a_time)
    scheduler.add_job(forget_signals, "interval", hours=6, args=[app], id="old_signals",
                      name="forget old integrity signals", next_run_time=now + timedelta(minutes=2), **one_at_a_time)
    scheduler.add_job(check_integrity, "interval", minutes=app.config["PORTAL_INTEGRITY_INTERVAL_MINUTES"],
                      args=[app], id="integrity", name="integrity rules over new submissions",
                      next_run_time=now + timedelta(minutes=1), **one_at_a_time)
    scheduler.add_job(lock_assessments, "interval", minutes=1, args=[app], id="lock_assessments",
                      name="lock self-assessments after their deadline", next_run_time=now + timedelta(seconds=3),
                      **one_at_a_time)
    scheduler.add_job(collect_files, "interval", hours=6, args=[app], id="collect_files",
                      name="remove unused files", next_run_time=now + timedelta(minutes=10), **one_at_a_time)
    if bounces.source_configured(app.config):
        scheduler.add_job(intake_bounces, "interval", seconds=app.config["PORTAL_BOUNCE_INTERVAL"], args=[app],
                          id="bounce_intake", name="bounce intake", next_run_time=now + timedelta(seconds=5),
                          **one_at_a_time)
    return scheduler


@contextmanager
def stop_on_signals(on_stop=None) -> Iterator[None]:
    """While inside: SIGTERM and SIGINT set `stop_requested` (then call `on_stop`); handlers restored after."""
    stop_requested.clear()

    def handle(signum, _frame) -> None:
        log.info("received %s: finishing the current message, then stopping", signal.Signals(signum).name)
        stop_requested.set()
        if on_stop is not None:
            on_stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _QuietSkips(logging.Filter):
    """A send job still busy when its next run comes is normal (max_instances=1), not worth a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def run_worker(app: Flask) -> None:
    """Run the scheduler until SIGTERM/SIGINT, then wait for the job in progress to end."""
    # APScheduler logs every run at INFO: every few seconds, for ever. Our jobs log what they did.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_QuietSkips())
    scheduler = build_scheduler(app)
    with stop_on_signals(lambda: scheduler.shutdown(wait=False)):
        log.info("worker %s started: outbox every %ss, batch %d, %s msg/s", worker_id(),
                 app.config["PORTAL_OUTBOX_INTERVAL"], app.config["PORTAL_OUTBOX_BATCH"],
                 app.config["PORTAL_MAIL_RATE"] or "unlimited")
        scheduler.start()
        with _busy:  # the batch in progress has released what it did not send
            pass
        with _busy_operations:  # the operation in progress has ended its chunk and gone back to the queue
            pass
    log.info("worker stopped")
