"""The worker (portal/jobs.py, `flask --app wsgi portal worker`): killed, stopped, doubled, against a real SMTP sink.

The worker runs as a real process on the test database (SQLite file or PostgreSQL)
and sends to an aiosmtpd sink in this process; the sink's count is the truth.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import func, select

from portal import jobs
from portal.domain import outbox
from portal.models import OutboxMessage, utcnow
from tests.support.outbox import queue
from tests.support.smtp import MAIL_DOMAIN, SmtpSink, mail_config
from tests.support.threads import race

ROOT = Path(__file__).resolve().parent.parent



@pytest.fixture
def app_config(app_config, sink):
    return {**app_config, **mail_config(sink)}


class Worker:
    """`flask --app wsgi portal worker` as a child process, always killed at the end of the test."""

    def __init__(self, database, sink: SmtpSink, tmp_path: Path, name: str = "worker", **settings: str) -> None:
        self.log_path = tmp_path / f"{name}.log"
        env = {
            **os.environ,
            "DATABASE_URL": database.url,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "PORTAL_INSTANCE_DIR": str(tmp_path),
            "PORTAL_BASE_URL": "http://localhost",
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port),
            "PORTAL_MAIL_DOMAIN": MAIL_DOMAIN, "PORTAL_BOUNCE_ADDRESS": f"bounces@{MAIL_DOMAIN}",
            "PORTAL_MAIL_RATE": "0", "PORTAL_OUTBOX_INTERVAL": "0.1", "PORTAL_OUTBOX_BATCH": "100",
            "PORTAL_MAIL_TIMEOUT": "5",
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "portal", "worker"],
                                        cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_started(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "started" in self.output():
                return
            assert self.process.poll() is None, f"the worker exited early:\n{self.output()}"
            time.sleep(0.05)
        raise AssertionError(f"the worker did not start:\n{self.output()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def workers(database, sink, tmp_path):
    started: list[Worker] = []

    def start(name: str = "worker", **settings: str) -> Worker:
        worker = Worker(database, sink, tmp_path, name, **settings)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


def statuses(session) -> Counter[str]:
    session.expire_all()
    counts = session.exec(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    return Counter({status: count for status, count in counts})


def assert_each_delivered_once(session, sink: SmtpSink, *, duplicates_allowed: int = 0) -> None:
    ids = set(session.exec(select(OutboxMessage.id)))
    arrived = sink.outbox_ids()
    assert ids - set(arrived) == set(), "messages never arrived"
    assert set(arrived) - ids == set()
    duplicates = sum(count - 1 for count in arrived.values())
    assert duplicates <= duplicates_allowed, f"{duplicates} duplicate deliveries"


# ---------------------------------------------------------------- the process


def test_a_worker_killed_mid_batch_then_swept_and_restarted_delivers_every_message_at_most_one_twice(
        app, session, sink, workers, runner):
    sink.delay = 0.05  # a slow server: the kill lands in the middle of the batch
    queue(session, 60)
    worker = workers()

    assert sink.wait_for(20, timeout=30), worker.output()
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(timeout=10)
    at_kill = statuses(session)
    assert at_kill["sending"] > 0, at_kill  # the kill left claimed rows behind

    # Past the dead worker's lease, without waiting for it.
    later = utcnow() + timedelta(seconds=app.config["PORTAL_OUTBOX_LEASE_SECONDS"] + 1)
    assert outbox.sweep_stuck(session, now=later) == at_kill["sending"]
    for _ in range(5):
        result = runner.invoke(args=["portal", "worker", "--once"])
        assert result.exit_code == 0, result.output
        if statuses(session)["queued"] == 0:
            break

    assert statuses(session) == Counter({"sent": 60})
    assert_each_delivered_once(session, sink, duplicates_allowed=1)


def test_sigterm_finishes_the_message_on_the_wire_returns_the_rest_and_exits(session, sink, workers):
    sink.delay = 0.1
    queue(session, 20)
    worker = workers()

    assert sink.wait_for(3, timeout=30), worker.output()
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=10) == 0, worker.output()

    now = statuses(session)
    assert now["sending"] == 0
    assert now["sent"] == sink.count()  # the one on the wire was finished and recorded
    assert now["queued"] == 20 - sink.count() > 0
    session.expire_all()
    assert {m.attempts for m in session.exec(select(OutboxMessage).where(OutboxMessage.status == "queued"))} == {0}
    assert max(sink.outbox_ids().values()) == 1
    assert "stopped" in worker.output()


def test_two_worker_processes_on_one_database_never_send_a_message_twice(session, sink, workers):
    sink.delay = 0.02
    first, second = workers("first", PORTAL_OUTBOX_BATCH="5"), workers("second", PORTAL_OUTBOX_BATCH="5")
    first.wait_started()
    second.wait_started()
    queue(session, 60)

    assert sink.wait_for(60, timeout=30), first.output() + second.output()
    deadline = time.monotonic() + 10
    while statuses(session) != Counter({"sent": 60}) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert statuses(session) == Counter({"sent": 60})
    assert_each_delivered_once(session, sink)
    assert sink.count() == 60
    claimed_by = set(session.exec(select(OutboxMessage.claimed_by)))
    assert len(claimed_by) == 2, claimed_by  # both took part


def test_two_workers_in_threads_racing_batch_after_batch_never_send_a_message_twice(app, session, sink):
    queue(session, 60)

    def work(name: str) -> int:
        total = 0
        while (count := outbox.run_once(app, name, limit=4)) or statuses_left(app):
            total += count
        return total

    tried = race(lambda: work("a:1"), lambda: work("b:2"))

    assert sum(tried) == 60
    assert sink.count() == 60
    assert_each_delivered_once(session, sink)


def test_a_slow_relay_and_two_workers_sweeping_all_the_while_never_send_a_message_twice(app, session, sink):
    # The relay takes 0.3 s per message (2 s in the field), so a batch of 6 lasts longer than the 1 s lease;
    # both workers sweep before every claim, as the worker's sweep job does. Without a lease that the sender
    # renews, the sweep hands the batch being sent to the other worker, which sends it again.
    app.config["PORTAL_OUTBOX_LEASE_SECONDS"] = 1
    sink.delay = 0.3
    queue(session, 12)
    deadline = time.monotonic() + 60
    idle = threading.Event()

    def work(name: str) -> None:
        while time.monotonic() < deadline:
            jobs.sweep_outbox(app)
            if not outbox.run_once(app, name, limit=6):
                if not statuses_left(app):
                    return
                idle.wait(0.05)  # the other worker is still sending: look again shortly

    race(lambda: work("a:1"), lambda: work("b:2"), timeout=90)

    assert statuses(session) == Counter({"sent": 12})
    assert_each_delivered_once(session, sink)
    assert sink.count() == 12


def statuses_left(app) -> bool:
    """Whether any message is still queued or being sent by the other thread."""
    with app.app_context(), app.extensions["portal_db"].new_session() as own:
        return own.exec(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.status.in_(["queued", "sending"]))).one() > 0


def test_worker_once_sends_the_queue_and_exits(session, sink, runner):
    queue(session, 3)

    result = runner.invoke(args=["portal", "worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "Đã xử lý 3 thư." in result.output
    assert statuses(session) == Counter({"sent": 3})
    assert sink.count() == 3


# ---------------------------------------------------------------- the jobs


def test_the_scheduler_has_its_eleven_jobs_each_never_overlapping_itself(app):
    app.config["PORTAL_OUTBOX_INTERVAL"] = 7.0
    app.config["PORTAL_INTEGRITY_INTERVAL_MINUTES"] = 12
    app.config["PORTAL_OPERATION_INTERVAL"] = 3.0
    app.config["PORTAL_ANSWER_SHUFFLE_MINUTES"] = 20

    scheduler = jobs.build_scheduler(app)

    found = {job.id: job for job in scheduler.get_jobs()}
    assert set(found) == {"send_outbox", "operations", "sweep_outbox", "reminders", "login_failures",
                          "lock_assessments", "purge_outbox", "collect_files", "answer_order", "old_signals",
                          "integrity"}
    assert found["integrity"].trigger.interval == timedelta(minutes=12)
    assert found["old_signals"].trigger.interval == timedelta(hours=6)
    assert found["answer_order"].trigger.interval == timedelta(minutes=20)
    assert found["send_outbox"].trigger.interval == timedelta(seconds=7)
    assert found["operations"].trigger.interval == timedelta(seconds=3)
    assert found["sweep_outbox"].trigger.interval == timedelta(seconds=60)
    assert found["reminders"].trigger.interval == timedelta(minutes=10)
    assert found["login_failures"].trigger.interval == timedelta(hours=1)
    assert found["lock_assessments"].trigger.interval == timedelta(minutes=1)
    assert found["purge_outbox"].trigger.interval == timedelta(hours=1)
    assert found["collect_files"].trigger.interval == timedelta(hours=6)
    assert all(job.max_instances == 1 and job.coalesce for job in found.values())


def test_the_reminder_job_hands_the_portal_settings_to_the_domain(app, monkeypatch):
    import portal.domain.reminders as reminders

    calls = []

    def fake(session, *, now, tz_name, mail_domain, base_url):
        calls.append((tz_name, mail_domain, base_url))
        return 4

    monkeypatch.setattr(reminders, "enqueue_due_reminders", fake)

    assert jobs.enqueue_reminders(app) == 4
    assert calls == [("Asia/Ho_Chi_Minh", MAIL_DOMAIN, "http://localhost")]


def test_the_send_job_drains_a_long_queue_batch_after_batch(app, session, sink):
    app.config["PORTAL_OUTBOX_BATCH"] = 2
    queue(session, 5)

    assert jobs.send_outbox(app, "test:1") == 5
    assert jobs.send_outbox(app, "test:1") == 0

    assert sink.count() == 5
    assert statuses(session) == Counter({"sent": 5})


def test_a_launched_survey_and_its_due_reminder_day_reach_the_sink_through_the_worker_jobs(
        app, session, sink, ministry_user, time_machine):
    from datetime import date

    from portal.domain import reminders
    from tests.support.survey import DURING_SURVEY, launch_survey

    time_machine.move_to(DURING_SURVEY, tick=False)
    survey = launch_survey(app, session, ministry_user)
    people = len(survey.invitations)
    with app.app_context():
        reminders.schedule_reminder(session, ministry_user, survey.campaign, date(2022, 2, 1),
                                    tz_name=app.config["PORTAL_TIMEZONE"], max_reminders=3)

    assert jobs.run_once(app) == 2 * people  # reminders queued first, then one batch sends everything

    assert sink.count() == 2 * people
    assert_each_delivered_once(session, sink)
    assert Counter(session.exec(select(OutboxMessage.kind))) == Counter({"invitation": people, "reminder": people})
    person = survey.invitations[0]
    mine = [item.message for item in sink.messages if item.rcpt_tos == [person.respondent.email]]
    assert len(mine) == 2
    assert all(f"http://localhost/phieu/{person.token}" in m.get_body(("plain",)).get_content() for m in mine)
    session.expire_all()
    assert session.get(type(person.invitation), person.invitation.id).delivery_status == "sent"


def test_a_launch_confirmed_over_http_is_invited_and_sent_by_one_pass_of_the_worker(
        app, client, session, sink, ministry_user, time_machine):
    from tests.support.accounts import HA_NOI, log_in
    from tests.support.survey import DURING_SURVEY, load_questionnaire, send_list

    time_machine.move_to(DURING_SURVEY, tick=False)
    send_list(session, HA_NOI)
    load_questionnaire(session, ministry_user)
    log_in(client, ministry_user)
    confirmed = client.post("/bo/phat-hanh/xac-nhan", data={"province_ids": [str(HA_NOI)], "emails": "8",
                                                            "accept_sample": "1"})
    assert confirmed.status_code == 303 and sink.count() == 0

    assert jobs.run_once(app) == 8  # the launch runs to its end first, then one batch sends its mail

    assert sink.count() == 8
    assert_each_delivered_once(session, sink)


def test_the_worker_forgets_login_failures_whose_window_is_over_and_keeps_the_rest(app, session):
    from sqlalchemy import insert

    from portal.models import LoginThrottle

    window = app.config["LOGIN_LOCK_MINUTES"] * 60
    now = time.time()
    session.execute(insert(LoginThrottle), [
        {"username": "ha-noi", "source": "203.0.113.9", "attempts": 5, "window_start": now - window - 5,
         "last_attempt_at": now - window - 5},  # over: nothing can use it
        {"username": "ha-noi", "source": "203.0.113.10", "attempts": 2, "window_start": now - 60,
         "last_attempt_at": now - 60},  # still counting
        {"username": "bonoivu", "source": "*", "attempts": 101, "window_start": now - window - 5,
         "last_attempt_at": now - 10},  # an address still being slowed down
    ])
    session.commit()

    assert jobs.forget_login_failures(app) == 1

    session.expire_all()
    assert sorted((t.username, t.source) for t in session.exec(select(LoginThrottle))) == [
        ("bonoivu", "*"), ("ha-noi", "203.0.113.10")]
