"""The shared kit of the fault scenarios (bench/faults.py) and the deadline-day load (bench/deadline_day.py).

Everything runs on loopback in a scratch folder and stops by itself: a database (an SQLite file, or a
throwaway PostgreSQL cluster started with the tests' own helper), the portal under gunicorn, the worker
process, an aiosmtpd sink, and respondents played by threads with one http.client connection each.

    with Scratch("pg") as scratch:
        portal = scratch.prepare(provinces=[1], per_group=1)   # lists sent, survey launched, deadlines ahead
        with portal.gunicorn(workers=2) as web:
            respondent = Respondent(web.port, portal.people[0], portal.forms)
            respondent.answer_all()                             # open, save, submit, see the thanks page
        portal.check_stored(successes)                          # each success stored exactly once, no other
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "fault-results"
SECRET_KEY = "faults-secret-key-0123456789abcdef0123456789abcdef"
os.environ.setdefault("PORTAL_PASSWORD_TIME_COST", "1")
os.environ.setdefault("PORTAL_PASSWORD_MEMORY_KIB", "8")

MAIL_DOMAIN = "chisocchc.gov.vn"
PASSWORD = "Faults2021cchc"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def machine() -> str:
    """One line naming the machine, for the results."""
    cpus = os.cpu_count() or 0
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"{cpus} cores ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


# ---------------------------------------------------------------- HTTP


@dataclass
class Reply:
    status: int
    body: str
    headers: dict[str, str]
    seconds: float


def request(port: int, method: str, path: str, *, data: dict | None = None, headers: dict | None = None,
            timeout: float = 30.0, connection: http.client.HTTPConnection | None = None) -> Reply:
    """One request on loopback; a broken connection raises OSError or http.client.HTTPException."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    body = urlencode(data, doseq=True).encode() if data is not None else None
    sent = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    began = time.perf_counter()
    try:
        connection.request(method, path, body=body, headers={**sent, **(headers or {})})
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        if response.will_close:
            connection.close()
        return Reply(response.status, text, {k.lower(): v for k, v in response.getheaders()},
                     time.perf_counter() - began)
    except BaseException:
        connection.close()
        raise
    finally:
        if own:
            connection.close()


# ---------------------------------------------------------------- the data


@dataclass
class Person:
    """A respondent of the launched survey: the forms to answer and their answers."""

    token: str
    forms: list[str]
    province_id: int
    invitation_id: int

    def form_url(self, code: str) -> str:
        return f"/phieu/{self.token}/{code}"

    def submit_url(self, code: str) -> str:
        return f"/phieu/{self.token}/{code}/gui"


@dataclass
class Portal:
    """A prepared database: what the gunicorn processes and the worker will serve."""

    scratch: Scratch
    url: str
    people: list[Person]
    answers: dict[str, dict[str, list[str]]]  # form code -> a complete answer, as the browser posts it
    ministry: str = "bonoivu"
    provinces: list[int] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.url, "SECRET_KEY": SECRET_KEY, "PYTHONPATH": str(ROOT),
                "PORTAL_INSTANCE_DIR": str(self.scratch.path), "PORTAL_BASE_URL": "http://127.0.0.1",
                "PORTAL_MAIL_DOMAIN": MAIL_DOMAIN, "RATELIMIT_ENABLED": "false", "PYTHONUNBUFFERED": "1",
                **extra}

    @contextmanager
    def gunicorn(self, workers: int = 2, **extra: str) -> Iterator[Gunicorn]:
        web = Gunicorn(self, workers, extra)
        try:
            web.wait_up()
            yield web
        finally:
            web.stop()

    @contextmanager
    def worker(self, smtp_port: int, **extra: str) -> Iterator[subprocess.Popen]:
        """`flask portal worker` sending to the sink on `smtp_port`."""
        log = (self.scratch.path / f"worker-{time.monotonic_ns()}.log").open("wb")
        settings = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_port), "PORTAL_MAIL_RATE": "0",
                    "PORTAL_OUTBOX_INTERVAL": "0.2", "PORTAL_OUTBOX_BATCH": "20", "PORTAL_MAIL_TIMEOUT": "5",
                    "PORTAL_BOUNCE_ADDRESS": f"bounces@{MAIL_DOMAIN}", **extra}
        env = self.env(**settings)
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "portal", "worker"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            from tests.support.processes import stop

            stop(process, grace_seconds=20)
            log.close()

    def engine(self):
        from portal.extensions import make_engine

        return make_engine(self.url)

    def stored(self) -> dict[tuple[int, str], tuple[str, bool]]:
        """(invitation, form) -> (progress state, whether its answer row is submitted), read afresh."""
        from sqlmodel import Session, select

        from portal.domain.invitations import response_key
        from portal.models import Answer, FormProgress

        engine = self.engine()
        try:
            with Session(engine) as session:
                answers = {a.response_key: a.submitted for a in session.exec(select(Answer))}
                return {(p.invitation_id, p.form_code): (p.state, answers.get(
                    response_key(p.invitation_id, p.form_code, SECRET_KEY), False))
                    for p in session.exec(select(FormProgress))}
        finally:
            engine.dispose()

    def check_stored(self, successes: Iterable[tuple[int, str]], *, others_allowed: Iterable[tuple[int, str]] = ()
                     ) -> list[str]:
        """Problems found: a success page not stored, a form stored but half (progress and answer
        disagree), a submission stored that nobody got a success page for (outside `others_allowed`),
        or an answer row twice."""
        from sqlmodel import Session, func, select

        from portal.models import Answer

        problems: list[str] = []
        seen = set(successes)
        stored = self.stored()
        for key, (state, submitted) in stored.items():
            if (state == "submitted") != submitted:
                problems.append(f"form {key}: progress {state!r} but answer submitted={submitted} (half-saved)")
            if state == "submitted" and key not in seen and key not in set(others_allowed):
                problems.append(f"form {key}: stored as submitted without a success page")
        for key in seen:
            if stored.get(key, ("", False))[0] != "submitted":
                problems.append(f"form {key}: a success page was shown but nothing is stored")
        engine = self.engine()
        try:
            with Session(engine) as session:
                twice = session.exec(select(Answer.response_key, func.count()).group_by(Answer.response_key)
                                     .having(func.count() > 1)).all()
        finally:
            engine.dispose()
        problems.extend(f"answer {key[:12]}… stored {count} times" for key, count in twice)
        return problems


class Scratch:
    """A scratch folder and a database, "sqlite" (a file) or "pg" (a throwaway cluster); removed at exit."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.path = Path(tempfile.mkdtemp(prefix=f"cchc-faults-{backend}-"))
        self.cluster = None
        os.environ["PORTAL_INSTANCE_DIR"] = str(self.path)

    def __enter__(self) -> Scratch:
        if self.backend == "pg":
            from tests.support.pgcluster import start_cluster

            self.cluster = start_cluster()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        shutil.rmtree(self.path, ignore_errors=True)

    def database_url(self, name: str = "cchc") -> str:
        if self.cluster is None:
            return f"sqlite:///{self.path / (name + '.sqlite3')}"
        from tests.support.database import create_postgres_database

        url = create_postgres_database(self.cluster.url)
        return url

    def prepare(self, provinces: Iterable[int] | int = (1,), *, per_group: int | None = None) -> Portal:
        """Migrate and seed a database, send each province's sample list, launch the survey (deadlines ahead).

        `provinces` are province ids (official codes: 1 Hà Nội, 31 Hải Phòng…) or a number: the first so many.
        """
        from sqlmodel import Session, select

        from portal import create_app
        from portal.domain import accounts
        from portal.models import Province, Role, User, utcnow
        from tests.support.database import PreparedDatabase
        from tests.support.survey import (
            complete_answers,
            form_def,
            launch,
            load_questionnaire,
            open_by_the_real_clock,
            send_list,
            sent_invitations,
        )

        url = self.database_url()
        database = PreparedDatabase(url)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY, "RATELIMIT_ENABLED": False,
                          "PORTAL_BASE_URL": "http://127.0.0.1", "PORTAL_MAIL_DOMAIN": MAIL_DOMAIN})
        with Session(database.engine) as session:
            if isinstance(provinces, int):
                chosen = list(session.exec(select(Province.id).order_by(Province.id).limit(provinces)))
            else:
                chosen = list(provinces)
            ministry, _ = accounts.create_user(session, "bonoivu", Role.MINISTRY, password=PASSWORD,
                                               must_change_password=False)
            for province_id in chosen:
                slug = session.get(Province, province_id).slug
                accounts.create_user(session, slug, Role.PROVINCE, password=PASSWORD, province_id=province_id,
                                     must_change_password=False)
            session.commit()
            open_by_the_real_clock(app, session)
            for province_id in chosen:
                send_list(session, province_id, per_group=per_group, now=utcnow())
            load_questionnaire(session, session.get(User, ministry.id))
            launch(app, session, session.get(User, ministry.id), chosen)
            people: list[Person] = []
            codes: set[str] = set()
            for province_id in chosen:
                for sent in sent_invitations(app, session, province_id):
                    people.append(Person(sent.token, sent.form_codes, province_id, sent.invitation.id))
                    codes.update(sent.form_codes)
            answers = {code: complete_answers(form_def(session, code)) for code in codes}
        database.dispose()
        from portal.extensions import db

        db.dispose()
        return Portal(self, url, people, answers, provinces=chosen)

    # PostgreSQL only: the server stopped and started again as an administrator's restart does.
    def stop_database(self) -> None:
        from tests.support.pgcluster import stop_cluster

        stop_cluster(self.cluster)

    def start_database(self) -> None:
        from tests.support.pgcluster import restart_cluster

        restart_cluster(self.cluster)


class Gunicorn:
    """`gunicorn wsgi:app` with sync workers on a free loopback port."""

    def __init__(self, portal: Portal, workers: int, extra: dict[str, str]) -> None:
        self.port = free_port()
        self.log_path = portal.scratch.path / f"gunicorn-{self.port}.log"
        self.log = self.log_path.open("wb")
        command = [str(Path(sys.executable).parent / "gunicorn"), "--no-control-socket", "-w", str(workers),
                   "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "--graceful-timeout", "5", "wsgi:app"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=portal.env(**extra), stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                if request(self.port, "GET", "/healthz", timeout=5).status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer /healthz in time")

    def worker_pids(self) -> list[int]:
        """The web workers (children of the master) now."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        from tests.support.processes import stop

        stop(self.process, grace_seconds=20)
        self.log.close()


# ---------------------------------------------------------------- respondents


@dataclass
class Outcome:
    """What the respondents saw."""

    statuses: dict[int, int] = field(default_factory=dict)
    broken: int = 0  # connections cut before an answer (a killed worker)
    cut_at: dict[str, int] = field(default_factory=dict)  # kind of request -> connections cut during it
    successes: set[tuple[int, str]] = field(default_factory=set)  # (invitation, form) that got the thanks page
    latencies: dict[str, list[float]] = field(default_factory=dict)  # kind of request -> seconds
    friendly_503: int = 0  # 503 answers that were the Vietnamese page
    errors: dict[str, int] = field(default_factory=dict)  # kind of request -> error answers (4xx, 5xx)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, kind: str, reply: Reply) -> None:
        with self.lock:
            self.statuses[reply.status] = self.statuses.get(reply.status, 0) + 1
            self.latencies.setdefault(kind, []).append(reply.seconds)
            if reply.status >= 400:
                self.errors[kind] = self.errors.get(kind, 0) + 1
            if reply.status == 503 and "Hệ thống tạm thời gián đoạn" in reply.body:
                self.friendly_503 += 1

    def cut(self, kind: str = "") -> None:
        with self.lock:
            self.broken += 1
            if kind:
                self.cut_at[kind] = self.cut_at.get(kind, 0) + 1


def answer_form(port: int, person: Person, code: str, answers: dict[str, list[str]], outcome: Outcome, *,
                think: float = 0.0, attempts: int = 20, pause: threading.Event | None = None) -> bool:
    """A respondent opens the form, saves the answers and submits, trying again (as a person does) after an
    error page or a cut connection; True once the thanks page shows."""
    waiter = pause or threading.Event()
    for _ in range(attempts):
        stage = "open form"
        try:
            opened = request(port, "GET", person.form_url(code))
            outcome.saw(stage, opened)
            if opened.status == 303 or "/cam-on" in opened.headers.get("location", ""):
                stage = "thanks page"
                return _thanks(port, person, code, outcome)
            if opened.status != 200:
                waiter.wait(0.5)
                continue
            waiter.wait(think)
            stage = "save draft"
            saved = request(port, "POST", person.form_url(code), data={**answers, "action": "save"})
            outcome.saw(stage, saved)
            if saved.status != 200:
                waiter.wait(0.5)
                continue
            stage = "submit"
            sent = request(port, "POST", person.submit_url(code))
            outcome.saw(stage, sent)
            if sent.status == 303:
                stage = "thanks page"
                return _thanks(port, person, code, outcome)
            waiter.wait(0.5)
        except (OSError, http.client.HTTPException):
            outcome.cut(stage)
            waiter.wait(0.2)
    return False


def _thanks(port: int, person: Person, code: str, outcome: Outcome) -> bool:
    page = request(port, "GET", f"/phieu/{person.token}/{code}/cam-on")
    outcome.saw("thanks page", page)
    if page.status == 200:
        with outcome.lock:
            outcome.successes.add((person.invitation_id, code))
        return True
    return False


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


# ---------------------------------------------------------------- results


@dataclass
class Result:
    name: str
    title: str
    ok: bool
    lines: list[str]
    seconds: float
    backend: str = ""

    def markdown(self) -> str:
        mark = "survived" if self.ok else "FAILED"
        head = f"### {self.title}{f' ({self.backend})' if self.backend else ''}: {mark}"
        return "\n".join([head, "", *[f"- {line}" for line in self.lines],
                          f"- {self.seconds:.0f} s, {datetime.now().astimezone():%d/%m/%Y %H:%M %Z}, {machine()}", ""])


def write_result(result: Result) -> Path:
    """fault-results/<name>.md (and .json), printed as well."""
    RESULTS.mkdir(exist_ok=True)
    stem = f"{result.name}{'-' + result.backend if result.backend else ''}"
    path = RESULTS / f"{stem}.md"
    path.write_text(result.markdown(), encoding="utf-8")
    (RESULTS / f"{stem}.json").write_text(json.dumps({
        "name": result.name, "backend": result.backend, "ok": result.ok, "lines": result.lines,
        "seconds": round(result.seconds, 1), "date": date.today().isoformat(), "machine": machine()},
        ensure_ascii=False, indent=1), encoding="utf-8")
    print(result.markdown(), flush=True)
    return path


def kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False
