"""The respondent's form: its page weight, and its GET and POST throughput under gunicorn, in one run.

    python bench/bench_survey.py                       # 5 s per case, 8 concurrent clients
    python bench/bench_survey.py --seconds 10 --concurrency 16

Preparation: SQLite in a temporary folder, migrated and seeded as the tests prepare it; Hà Nội's sample list
(52 people of the four groups) sent and the survey launched with the shipped sample questionnaire; the
campaign's deadlines moved ahead so the forms are open.

(a) Page weight of GET /phieu/<token>/<form> for the largest sample form: the bytes gunicorn serves with no
    compression, with gzip and with brotli (Flask-Compress, as in production), against the goal of 14 KB
    compressed; and, for reference, gzip -9 and brotli quality 11 of the same page, and the stylesheet.
(b) Throughput under `gunicorn --no-control-socket -w 2` on loopback: GET of the form page and POST saving a
    draft (half the answers, spread over the respondents of that form), against GET /healthz of the same app
    (one SELECT 1). A small load generator of our own: threads, one http.client connection each, a fixed
    concurrency for a fixed time. Requests/s and the ratio to /healthz.

Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_SCRATCH = tempfile.mkdtemp(prefix="cchc-bench-survey-")
SECRET_KEY = "bench-survey-secret-key-0123456789abcdef0123456789"
os.environ["PORTAL_INSTANCE_DIR"] = _SCRATCH  # before config is read: keep the developer's instance/ untouched
os.environ["SECRET_KEY"] = SECRET_KEY  # the links made here must open in the gunicorn workers
os.environ.setdefault("PORTAL_PASSWORD_TIME_COST", "1")
os.environ.setdefault("PORTAL_PASSWORD_MEMORY_KIB", "8")

import brotli  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.domain import accounts  # noqa: E402
from portal.domain.campaigns import local_today  # noqa: E402
from portal.models import Campaign, Role, User, utcnow  # noqa: E402
from tests.support.database import PreparedDatabase  # noqa: E402
from tests.support.survey import (  # noqa: E402
    complete_answers,
    first_half,
    form_def,
    launch,
    load_questionnaire,
    send_list,
    sent_invitations,
)

HA_NOI = 1
GOAL_BYTES = 14 * 1024


def prepare(database_url: str):
    """The launched survey; returns (the app, {form code: [form URLs]}, {form code: FormDef})."""
    database = PreparedDatabase(database_url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY,
                      "RATELIMIT_ENABLED": False, "PORTAL_BASE_URL": "http://127.0.0.1"})
    with Session(database.engine) as session:
        ministry, _ = accounts.create_user(session, "bonoivu", Role.MINISTRY, password="Bench2021cchc",
                                           must_change_password=False)
        session.commit()
        campaign = session.exec(select(Campaign).where(Campaign.is_current)).one()
        today = local_today(app.config["PORTAL_TIMEZONE"])
        campaign.list_deadline = today + timedelta(days=5)
        campaign.self_assessment_deadline = today + timedelta(days=20)
        campaign.response_deadline = today + timedelta(days=30)
        session.add(campaign)
        session.commit()
        send_list(session, HA_NOI, per_group=None, now=utcnow())
        load_questionnaire(session, session.get(User, ministry.id))
        launch(app, session, session.get(User, ministry.id), [HA_NOI])
        people = sent_invitations(app, session, HA_NOI)
        urls: dict[str, list[str]] = {}
        for person in people:
            for code in person.form_codes:
                urls.setdefault(code, []).append(person.form_url(code))
        forms = {code: form_def(session, code) for code in urls}
    database.dispose()
    return app, urls, forms


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(port: int, path: str, *, encoding: str = "identity") -> tuple[int, bytes, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": encoding})
        response = connection.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            if fetch(port, "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer /healthz in time")


@dataclass
class CaseResult:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def run_case(name: str, port: int, make_request, *, seconds: float, concurrency: int,
             expected: int) -> CaseResult:
    """`concurrency` threads send `make_request(thread, n)` -> (method, path, body, headers) for `seconds`."""
    result = CaseResult(name)
    lock = threading.Lock()
    start_line = threading.Barrier(concurrency + 1)
    stop_at: list[float] = []

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies: list[float] = []
        errors = 0
        sent = 0
        start_line.wait()
        while time.perf_counter() < stop_at[0]:
            method, path, body, headers = make_request(number, sent)
            sent += 1
            began = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.will_close:
                    connection.close()  # gunicorn's sync workers close after each response
                ok = response.status == expected
            except (OSError, http.client.HTTPException):
                connection.close()
                ok = False
            if ok:
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1
        connection.close()
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors

    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at.append(began + seconds)
    start_line.wait()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    result.seconds = time.perf_counter() - began
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput case")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()

    database_url = f"sqlite:///{_SCRATCH}/bench.sqlite3"
    print("Preparing: Hà Nội's sample list sent, the survey launched …", file=sys.stderr)
    app, urls, forms = prepare(database_url)

    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PORTAL_INSTANCE_DIR": _SCRATCH, "SECRET_KEY": SECRET_KEY,
           "PYTHONPATH": str(ROOT)}
    command = [str(Path(sys.executable).parent / "gunicorn"), "--no-control-socket", "-w", str(args.workers),
               "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_until_up(port, process)

        # (a) page weight: every sample form once, the largest one measured.
        sizes = {}
        for code, paths in urls.items():
            status, body, _ = fetch(port, paths[0])
            assert status == 200, (code, status)
            sizes[code] = len(body)
        largest = max(sizes, key=sizes.get)
        page = urls[largest][0]
        _, raw, _ = fetch(port, page)
        _, gzipped, gzip_headers = fetch(port, page, encoding="gzip")
        _, brotlied, br_headers = fetch(port, page, encoding="br")
        assert gzip_headers.get("content-encoding") == "gzip", gzip_headers
        assert br_headers.get("content-encoding") == "br", br_headers
        links = [part.split('"')[0] for part in raw.decode().split('href="')[1:]]
        stylesheet = next(link for link in links if ".css" in link)
        _, css_raw, _ = fetch(port, stylesheet)
        _, css_br, _ = fetch(port, stylesheet, encoding="br")

        # (b) throughput: /healthz, the form page, saving a draft.
        form = forms[largest]
        draft = urlencode({**first_half(form, complete_answers(form)), "action": "save"}, doseq=True).encode()
        posts = urls[largest]
        form_headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept-Encoding": "gzip, br"}
        cases = [
            ("GET /healthz", lambda n, i: ("GET", "/healthz", None, {}), 200),
            (f"GET form page ({largest})", lambda n, i: ("GET", page, None, {"Accept-Encoding": "gzip, br"}), 200),
            (f"POST save draft ({largest}, {len(posts)} respondents)",
             lambda n, i: ("POST", posts[(n + i * args.concurrency) % len(posts)], draft, form_headers), 200),
        ]
        for name, make, expected in cases[:1]:
            run_case(name, port, make, seconds=min(1.0, args.seconds), concurrency=args.concurrency,
                     expected=expected)  # warm up both workers
        results = [run_case(name, port, make, seconds=args.seconds, concurrency=args.concurrency, expected=expected)
                   for name, make, expected in cases]
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(_SCRATCH, ignore_errors=True)

    kb = 1024
    print(f"\n### Respondent form page weight ({largest}: {len(form.questions)} questions; "
          f"goal under {GOAL_BYTES // kb} KB compressed)\n")
    print("| Response | Bytes | KB | Under 14 KB |")
    print("|---|---:|---:|---|")
    rows = [
        (f"GET {largest} page, uncompressed", len(raw)),
        ("… gzip as served (Flask-Compress)", len(gzipped)),
        ("… brotli as served (Flask-Compress)", len(brotlied)),
        ("… gzip -9 (reference)", len(gzip.compress(raw, 9))),
        ("… brotli quality 11 (reference)", len(brotli.compress(raw, quality=11))),
        ("portal.css, uncompressed (first visit only; cached after)", len(css_raw)),
        ("portal.css, brotli as served", len(css_br)),
    ]
    for label, size in rows:
        print(f"| {label} | {size:,} | {size / kb:.1f} | {'yes' if size < GOAL_BYTES else 'no'} |")
    other = ", ".join(f"{code} {size / kb:.1f}" for code, size in sorted(sizes.items()))
    print(f"\nUncompressed KB of every sample form page: {other}.")

    healthz = results[0].rate
    print(f"\n### Throughput under gunicorn (-w {args.workers} sync, SQLite, loopback; "
          f"{args.concurrency} concurrent clients, {args.seconds:g} s per case)\n")
    print("| Case | Requests | Requests/s | Mean ms | p95 ms | Errors | vs /healthz |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        latencies = sorted(result.latencies) or [0.0]
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        print(f"| {result.name} | {len(result.latencies)} | {result.rate:,.0f} | "
              f"{statistics.fmean(latencies) * 1000:.1f} | {p95 * 1000:.1f} | {result.errors} | "
              f"{result.rate / healthz:.2f} |")


if __name__ == "__main__":
    main()
