"""Faults survived: every scenario, run by `./scripts/faults [--quick] [--only NAME ...]`.

Each scenario builds what it needs on loopback in a scratch folder (a database, gunicorn, the worker, an
SMTP sink), breaks one part for real, checks what is left, writes fault-results/<name>[-<backend>].md and
.json, and stops by itself. The exit status is 1 when any scenario failed.

    ci          the fast scenarios of tests/test_faults.py (pytest, SQLite and PostgreSQL): a full disk
                during an upload; a process killed inside a submission, a launch and a reminder day;
                the relay down, slow and hanging up; PostgreSQL restarted under the test client
    relay       the worker process against a relay that is down, then slow, then hangs up mid-batch,
                with two workers: every invitation delivered exactly once
    pg-restart  PostgreSQL restarted while respondents submit under gunicorn: the friendly 503 page in the
                gap, nothing half-saved, the same gunicorn serving again after
    kill-web    gunicorn workers killed (SIGKILL) again and again while respondents submit: every form
                stored whole or not at all, and sent again successfully
    backup      a backup taken during load with the README's commands, restored: every answer that had its
                thanks page before the backup began is in the restored copy (SQLite and PostgreSQL)
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faultkit import (  # noqa: E402
    ROOT,
    Outcome,
    Portal,
    Result,
    Scratch,
    answer_form,
    free_port,
    kill,
    request,
    write_result,
)


def respondents(portal: Portal, port: int, outcome: Outcome, *, threads: int, think: float = 0.05,
                stop: threading.Event | None = None) -> list[threading.Thread]:
    """`threads` respondents sharing the forms of every person; started, to be joined."""
    work = [(person, code) for person in portal.people for code in person.forms]
    lock = threading.Lock()

    def run() -> None:
        while stop is None or not stop.is_set():
            with lock:
                if not work:
                    return
                person, code = work.pop()
            answer_form(port, person, code, portal.answers[code], outcome, think=think)

    started = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for thread in started:
        thread.start()
    return started


def all_forms(portal: Portal) -> set[tuple[int, str]]:
    return {(person.invitation_id, code) for person in portal.people for code in person.forms}


# ---------------------------------------------------------------- ci


def scenario_ci(quick: bool) -> list[Result]:
    began = time.monotonic()
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_faults.py"],
                               cwd=ROOT, capture_output=True, text=True)
    summary = (completed.stdout.strip().splitlines() or ["(no output)"])[-1]
    lines = [f"`pytest tests/test_faults.py`: {summary}"]
    if completed.returncode:
        lines += [line for line in completed.stdout.splitlines() if line.startswith("FAILED")]
    return [Result("ci", "Fast scenarios of tests/test_faults.py", completed.returncode == 0, lines,
                   time.monotonic() - began)]


# ---------------------------------------------------------------- relay


def scenario_relay(quick: bool) -> list[Result]:
    from aiosmtpd.controller import Controller
    from sqlalchemy import update
    from sqlmodel import Session, func, select

    from portal.models import OutboxMessage, utcnow
    from tests.support.smtp import SinkHandler

    began = time.monotonic()
    lines: list[str] = []
    with Scratch("sqlite") as scratch:
        portal = scratch.prepare([1, 31], per_group=None)  # two provinces' invitations are queued by the launch
        engine = portal.engine()
        with Session(engine) as session:
            total = session.exec(select(func.count()).select_from(OutboxMessage)).one()
        port = free_port()
        handler = SinkHandler(delay=0.1, drop_after=total // 3)
        controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5)
        down = 2.0 if quick else 5.0
        # Two workers on one database, each sweeping and sending; the relay down at first.
        with portal.worker(port, PORTAL_OUTBOX_BATCH="5"), portal.worker(port, PORTAL_OUTBOX_BATCH="5"):
            time.sleep(down)  # the relay is down: every run finds the connection refused
            with Session(engine) as session:
                tried_while_down = session.exec(select(func.count()).select_from(OutboxMessage)
                                                .where(OutboxMessage.attempts > 0)).one()
            controller.start()  # back: slow (0.1 s a message) and hanging up once a third of the way
            deadline = time.monotonic() + (120 if quick else 300)
            sent = 0
            while time.monotonic() < deadline:
                with Session(engine) as session:
                    # The clock moves on: a message cut off by the hang-up waits its backoff (minutes) in
                    # production; here it is made due at once.
                    session.exec(update(OutboxMessage).where(OutboxMessage.status == "queued",
                                                             OutboxMessage.attempts > 0)
                                 .values(next_attempt_at=utcnow()))
                    session.commit()
                    sent = session.exec(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.status == "sent")).one()
                if sent == total:
                    break
                time.sleep(0.5)
        controller.stop()
        with Session(engine) as session:
            ids = set(session.exec(select(OutboxMessage.id)))
        engine.dispose()
    arrived: dict[int, int] = {}
    for item in handler.messages:
        arrived[item.outbox_id] = arrived.get(item.outbox_id, 0) + 1
    doubled = sum(1 for count in arrived.values() if count > 1)
    lost = len(ids - set(arrived))
    lines += [f"{total} invitations of two provinces, two worker processes (batches of 5)",
              f"relay down {down:g} s: {tried_while_down} attempts counted (connection refused releases the batch)",
              f"relay back at 0.1 s a message, hanging up once ({handler.drops} hang-up) on "
              f"{handler.connections} connections",
              f"sent {sent}/{total}; lost {lost}; delivered twice {doubled}"]
    ok = tried_while_down == 0 and sent == total and lost == 0 and doubled == 0 and handler.drops == 1
    return [Result("relay", "SMTP relay down, slow, hanging up mid-batch", ok, lines, time.monotonic() - began)]


# ---------------------------------------------------------------- pg-restart


def scenario_pg_restart(quick: bool) -> list[Result]:
    began = time.monotonic()
    with Scratch("pg") as scratch:
        portal = scratch.prepare([1], per_group=None)
        outcome = Outcome()
        gap = 3.0 if quick else 8.0
        with portal.gunicorn(workers=2) as web:
            master = web.process.pid
            threads = respondents(portal, web.port, outcome, threads=8)
            time.sleep(1.5)
            scratch.stop_database()
            time.sleep(gap)
            health_in_gap = request(web.port, "GET", "/healthz").status
            scratch.start_database()
            for thread in threads:
                thread.join(timeout=300)
            health_after = request(web.port, "GET", "/healthz").status
            same_master = web.process.poll() is None and web.process.pid == master
        problems = portal.check_stored(outcome.successes)
        missing = all_forms(portal) - outcome.successes
    other_errors = {status: count for status, count in outcome.statuses.items() if status not in (200, 303, 503)}
    lines = [f"{len(portal.people)} respondents, 8 at a time, under gunicorn -w 2; PostgreSQL stopped "
             f"(pg_ctl -m fast) for {gap:g} s in the middle",
             f"answers: {dict(sorted(outcome.statuses.items()))}; {outcome.friendly_503} friendly 503 pages "
             f"(\"Hệ thống tạm thời gián đoạn\"); {outcome.broken} cut connections",
             f"/healthz during the gap {health_in_gap}, after {health_after}; gunicorn not restarted: {same_master}",
             f"forms submitted after retrying: {len(outcome.successes)}/{len(all_forms(portal))}; "
             f"problems in the data: {len(problems)}", *problems[:5]]
    ok = (not problems and not missing and not other_errors and outcome.friendly_503 > 0 and health_in_gap == 503
          and health_after == 200 and same_master)
    return [Result("pg-restart", "PostgreSQL restarted under load", ok, lines, time.monotonic() - began, "PostgreSQL")]


# ---------------------------------------------------------------- kill-web


def scenario_kill_web(quick: bool) -> list[Result]:
    results = []
    for backend in ("sqlite", "pg"):
        began = time.monotonic()
        kills = 10 if quick else 30  # at most: the respondents may all be done before
        with Scratch(backend) as scratch:
            portal = scratch.prepare([1], per_group=None)
            outcome = Outcome()
            done = 0
            # One web worker, kept busy by 8 respondents: a kill almost always lands inside a request.
            with portal.gunicorn(workers=1) as web:
                threads = respondents(portal, web.port, outcome, threads=8, think=0.0)
                chance = random.Random(9)
                while done < kills and any(thread.is_alive() for thread in threads):
                    web.wait_up()  # the master has started a new worker and it answers
                    time.sleep(chance.uniform(0.05, 0.3))
                    pids = web.worker_pids()
                    if pids and kill(chance.choice(pids)):
                        done += 1
                for thread in threads:
                    thread.join(timeout=300)
            problems = portal.check_stored(outcome.successes)
            missing = all_forms(portal) - outcome.successes
        lines = [f"{len(portal.people)} respondents ({len(all_forms(portal))} forms), 8 at a time, under "
                 f"gunicorn -w 1; the worker killed with SIGKILL {done} times while they answered",
                 f"answers: {dict(sorted(outcome.statuses.items()))}; {outcome.broken} requests cut by a kill "
                 f"({', '.join(f'{count} {kind}' for kind, count in sorted(outcome.cut_at.items())) or 'none'})",
                 f"forms submitted (sent again after a cut): {len(outcome.successes)}/{len(all_forms(portal))}; "
                 f"half-saved or doubled: {len(problems)}", *problems[:5]]
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        results.append(Result("kill-web", "Gunicorn workers killed during answer submissions",
                              not problems and not missing and outcome.broken > 0, lines, time.monotonic() - began,
                              name))
    return results


# ---------------------------------------------------------------- backup


def scenario_backup(quick: bool) -> list[Result]:
    results = []
    for backend in ("sqlite", "pg"):
        began = time.monotonic()
        with Scratch(backend) as scratch:
            portal = scratch.prepare([1, 31] if not quick else [1], per_group=None)
            outcome = Outcome()
            with portal.gunicorn(workers=2) as web:
                threads = respondents(portal, web.port, outcome, threads=8, think=0.02)
                # The backup is taken in the middle of the load: once a third of the forms are in.
                deadline = time.monotonic() + 120
                while len(outcome.successes) < len(all_forms(portal)) // 3 and time.monotonic() < deadline:
                    time.sleep(0.1)
                with outcome.lock:
                    before = set(outcome.successes)  # thanks pages seen before the backup began
                dump = scratch.path / ("backup.sqlite3" if backend == "sqlite" else "cchc.dump")
                command, restored_url = backup_and_restore(scratch, portal, dump)
                for thread in threads:
                    thread.join(timeout=300)
            restored = Portal(scratch, restored_url, portal.people, portal.answers)
            stored = restored.stored()
            kept = {key for key in before if stored.get(key, ("", False)) == ("submitted", True)}
            half = [key for key, (state, submitted) in stored.items() if (state == "submitted") != submitted]
            problems = portal.check_stored(outcome.successes)
        lines = [f"load: 8 respondents at a time under gunicorn -w 2; backup taken with `{command}` "
                 f"after {len(before)} thanks pages",
                 f"restored copy: {len(kept)}/{len(before)} of those answers present; half-saved forms in it: "
                 f"{len(half)}; forms submitted in it in all: "
                 f"{sum(1 for state, _ in stored.values() if state == 'submitted')}",
                 f"the live database after the load: {len(problems)} problems"]
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        results.append(Result("backup", "Backup during load, restored", len(kept) == len(before) > 0 and not half
                              and not problems, lines, time.monotonic() - began, name))
    return results


def backup_and_restore(scratch: Scratch, portal: Portal, dump: Path) -> tuple[str, str]:
    """The README's commands: back up the live database, restore into a new one; (command, restored URL)."""
    if scratch.cluster is None:
        live = portal.url.removeprefix("sqlite:///")
        subprocess.run(["sqlite3", live, f".backup {dump}"], check=True, capture_output=True, timeout=120)
        return 'sqlite3 instance/portal.sqlite3 ".backup backup.sqlite3"', f"sqlite:///{dump}"
    libpq = portal.url.replace("postgresql+psycopg://", "postgresql://")
    with dump.open("wb") as out:
        subprocess.run(["pg_dump", "--format=custom", libpq], check=True, stdout=out, timeout=300)
    target = scratch.database_url()  # an empty database, as on a new server
    subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "-d",
                    target.replace("postgresql+psycopg://", "postgresql://"), str(dump)],
                   check=True, capture_output=True, timeout=300)
    return "pg_dump --format=custom cchc > cchc.dump; pg_restore --clean --if-exists --no-owner -d cchc cchc.dump", \
        target


SCENARIOS: dict[str, Callable[[bool], list[Result]]] = {
    "ci": scenario_ci,
    "relay": scenario_relay,
    "pg-restart": scenario_pg_restart,
    "kill-web": scenario_kill_web,
    "backup": scenario_backup,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter gaps, fewer kills, smaller loads")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="run only these scenarios")
    args = parser.parse_args()
    failed = []
    for name in args.only or SCENARIOS:
        try:
            results = SCENARIOS[name](args.quick)
        except Exception as exc:  # noqa: BLE001 - a scenario that cannot run is a failed scenario, reported
            results = [Result(name, name, False, [f"could not run: {type(exc).__name__}: {exc}"], 0.0)]
        for result in results:
            write_result(result)
            if not result.ok:
                failed.append(f"{result.name} {result.backend}".strip())
    print("All scenarios survived." if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
