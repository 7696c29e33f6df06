"""The respondent's form under gunicorn against a trivial Flask app under the same flags, and its weight.

    ./scripts/bench --only survey                      # through the runner (every database, docs/benchmarks.md)
    python bench/bench_survey.py --db sqlite           # this bench alone
    python bench/bench_survey.py --quick               # short cases, one round: a smoke run

Preparation: a database migrated and seeded as the tests prepare it (SQLite file or a throwaway PostgreSQL
cluster); Hà Nội's sample list (52 people of the four groups) sent and the survey launched with the shipped
sample questionnaire; the campaign's deadlines moved ahead so the forms are open.

Two gunicorn servers (`--no-control-socket -w 2`, sync workers, loopback): the portal, and bench/trivial_app.py (a
Flask app answering "ok"). A small load generator of our own (threads, one http.client connection each, 8 at once)
runs each case for --seconds; round after round the cases alternate, and the median of each is kept: GET of the
largest form page (18 questions) against GET of the trivial app (goal ≥ 0.25×); POST saving a draft (half the
answers, spread over the respondents of that form) against POST of the same body to the trivial app (goal ≥ 0.1×).
And, in each round, a mixed load (no baseline, no goal): a quarter of the clients get the ministry administrator's
home page with a signed-in session (a staff request: its transaction ends in ROLLBACK) while the others get the
form page from the same workers; the form page's rate is the figure, the staff page's rate is in its label. It
shows what staff traffic costs the respondents, and would show a respondent's page paying again for what a staff
request on its connection undid (before the respondents' pool of their own, psycopg's DEALLOCATE ALL after each
ROLLBACK discarded the prepared visit and signal). Then the page's weight: raw, gzip and brotli as served (goal
under 14 KB compressed), and the staff's login page on a first visit (its HTML and stylesheet, gzip and brotli;
goal ≤ 14 KB and no htmx: the pages that use htmx load it, precompressed and cached for a year). And the resident
memory of a portal worker after its first pages (the largest of the workers): what a fresh web process costs.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import brotli
from harness import ROOT, Figure, arguments, backends, databases, peak_rss_mb, report, scratch

_SCRATCH = scratch("cchc-bench-survey-")
SECRET_KEY = "bench-survey-secret-key-0123456789abcdef0123456789"
os.environ["SECRET_KEY"] = SECRET_KEY  # the links made here must open in the gunicorn workers

from sqlmodel import Session  # noqa: E402

from portal import SESSION_STARTED, create_app  # noqa: E402
from portal.domain import accounts  # noqa: E402
from portal.models import Role, User, utcnow  # noqa: E402
from tests.support.database import PreparedDatabase  # noqa: E402
from tests.support.processes import stop  # noqa: E402
from tests.support.survey import (  # noqa: E402
    complete_answers,
    first_half,
    form_def,
    launch,
    load_questionnaire,
    open_by_the_real_clock,
    send_list,
    sent_invitations,
)

HA_NOI = 1
GOAL_BYTES = 14 * 1024
STAFF_PAGE = "/"  # the ministry administrator's home page: a staff request, in a transaction that rolls back


def staff_cookie(app, user: User) -> str:
    """A signed session cookie of `user`, as a completed login leaves it (the gunicorn workers share the key)."""
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
        sess[SESSION_STARTED] = time.time()
        sess.permanent = True
    name = app.config["SESSION_COOKIE_NAME"]
    return f"{name}={client.get_cookie(name).value}"


def prepare(database_url: str):
    """The launched survey; returns (the app, {form code: [form URLs]}, {form code: FormDef}, the ministry
    administrator's session cookie)."""
    database = PreparedDatabase(database_url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY,
                      "RATELIMIT_ENABLED": False, "PORTAL_BASE_URL": "http://127.0.0.1"})
    with Session(database.engine) as session:
        ministry, _ = accounts.create_user(session, "bonoivu", Role.MINISTRY, password="Bench2021cchc",
                                           must_change_password=False)
        session.commit()
        open_by_the_real_clock(app, session)
        send_list(session, HA_NOI, per_group=None, now=utcnow())
        load_questionnaire(session, session.get(User, ministry.id))
        launch(app, session, session.get(User, ministry.id), [HA_NOI])
        people = sent_invitations(app, session, HA_NOI)
        urls: dict[str, list[str]] = {}
        for person in people:
            for code in person.form_codes:
                urls.setdefault(code, []).append(person.form_url(code))
        forms = {code: form_def(session, code) for code in urls}
        cookie = staff_cookie(app, session.get(User, ministry.id))
    database.dispose()
    return app, urls, forms, cookie


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(port: int, path: str, *, encoding: str = "identity") -> tuple[int, bytes, dict[str, str]]:
    return fetch_with(port, path, {"Accept-Encoding": encoding})


def fetch_with(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 30.0, path: str = "/healthz") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            if fetch(port, path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer {path} in time")


def staff_page_weights(port: int) -> dict[str, tuple[int, bool]]:
    """The login page on a first visit as served, for gzip and brotli: (bytes of the HTML and its stylesheets,
    whether it loads htmx). htmx, when a page needs it, is fetched once and cached for a year."""
    weights = {}
    for encoding in ("gzip", "br"):
        status, body, headers = fetch(port, "/dang-nhap", encoding=encoding)
        assert status == 200 and headers.get("content-encoding") == encoding, (status, headers)
        html = (gzip.decompress(body) if encoding == "gzip" else brotli.decompress(body)).decode()
        total = len(body)
        for sheet in re.findall(r'<link rel="stylesheet" href="([^"]+)"', html):
            status, css, css_headers = fetch(port, sheet, encoding=encoding)
            assert status == 200 and css_headers.get("content-encoding") == encoding, (sheet, css_headers)
            total += len(css)
        weights[encoding] = (total, "htmx" in html)
    return weights


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


def run_together(port: int, cases: dict, *, seconds: float) -> list[CaseResult]:
    """The cases {name: (clients, make_request)} at once on the same server, each with its own clients."""
    results: list[CaseResult] = []
    threads = [threading.Thread(target=lambda name=name, clients=clients, make=make: results.append(
        run_case(name, port, make, seconds=seconds, concurrency=clients, expected=200)))
        for name, (clients, make) in cases.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def children(pid: int) -> list[int]:
    """The gunicorn master's worker processes."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_gunicorn(app_spec: str, port: int, workers: int, env: dict, cwd: Path) -> subprocess.Popen:
    command = [str(Path(sys.executable).parent / "gunicorn"), "--no-control-socket", "-w", str(workers),
               "-b", f"127.0.0.1:{port}", "--log-level", "warning", app_spec]
    return subprocess.Popen(command, cwd=cwd, env=env)


def measure(backend: str, database_url: str, args) -> list[Figure]:
    print(f"[{backend}] preparing: Hà Nội's sample list sent, the survey launched …", file=sys.stderr)
    app, urls, forms, cookie = prepare(database_url)
    env = {**os.environ, "DATABASE_URL": database_url, "PORTAL_INSTANCE_DIR": _SCRATCH, "SECRET_KEY": SECRET_KEY,
           "PYTHONPATH": str(ROOT)}
    port, trivial_port = free_port(), free_port()
    portal = start_gunicorn("wsgi:app", port, args.workers, env, ROOT)
    trivial = start_gunicorn("trivial_app:app", trivial_port, args.workers, env, ROOT / "bench")
    try:
        wait_until_up(port, portal)
        wait_until_up(trivial_port, trivial, path="/")
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

        staff = staff_page_weights(port)
        worker_mb = max(resident_mb(pid) for pid in children(portal.pid))  # after its first pages, before the load

        form = forms[largest]
        draft = urlencode({**first_half(form, complete_answers(form)), "action": "save"}, doseq=True).encode()
        posts = urls[largest]
        form_headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept-Encoding": "gzip, br"}
        cases = {
            "trivial GET": (trivial_port, lambda n, i: ("GET", "/", None, {"Accept-Encoding": "gzip, br"})),
            "form GET": (port, lambda n, i: ("GET", page, None, {"Accept-Encoding": "gzip, br"})),
            "trivial POST": (trivial_port, lambda n, i: ("POST", "/", draft, form_headers)),
            "draft POST": (port, lambda n, i: ("POST", posts[(n + i * args.concurrency) % len(posts)], draft,
                                               form_headers)),
        }
        for name, (where, make) in cases.items():  # warm up every worker of both servers
            run_case(name, where, make, seconds=min(0.5, args.seconds), concurrency=args.concurrency, expected=200)
        staff_headers = {"Accept-Encoding": "gzip, br", "Cookie": cookie}
        staff_clients = max(1, args.concurrency // 4)
        mixed = {"mixed form GET": (args.concurrency - staff_clients,
                                    cases["form GET"][1]),
                 "mixed staff GET": (staff_clients, lambda n, i: ("GET", STAFF_PAGE, None, staff_headers))}
        status, _, _ = fetch_with(port, STAFF_PAGE, staff_headers)
        assert status == 200, status  # the cookie is a login: not a redirect to the login page
        rates: dict[str, list[float]] = {name: [] for name in [*cases, *mixed]}
        errors = 0
        for _ in range(args.rounds):
            for name, (where, make) in cases.items():
                result = run_case(name, where, make, seconds=args.seconds, concurrency=args.concurrency,
                                  expected=200)
                rates[name].append(result.rate)
                errors += result.errors
            for result in run_together(port, mixed, seconds=args.seconds):
                rates[result.name].append(result.rate)
                errors += result.errors
    finally:
        stop(portal)
        stop(trivial)
    rate = {name: statistics.median(values) for name, values in rates.items()}
    get_ratio = rate["form GET"] / rate["trivial GET"]
    post_ratio = rate["draft POST"] / rate["trivial POST"]
    flags = f"gunicorn -w {args.workers}, {args.concurrency} clients"
    assert errors == 0, f"{errors} requests failed"
    return [
        Figure("survey", backend, f"GET the form page ({largest}, {len(form.questions)} questions; {flags})",
               rate["form GET"], "req/s", "GET of a trivial Flask app, same flags", rate["trivial GET"], get_ratio,
               "≥ 0.25×", get_ratio >= 0.25),
        Figure("survey", backend, f"POST saving a draft ({flags})", rate["draft POST"], "req/s",
               "POST of the same body to the trivial app", rate["trivial POST"], post_ratio, "≥ 0.1×",
               post_ratio >= 0.1),
        Figure("survey", backend, f"GET the form page while staff pages load on the same workers "
               f"({args.concurrency - staff_clients} respondents' clients; {staff_clients} staff clients getting the "
               f"ministry's home page, {rate['mixed staff GET']:,.0f} req/s; gunicorn -w {args.workers})",
               rate["mixed form GET"], "req/s"),
        Figure("survey", backend, f"the form page, gzip as served ({len(raw):,} B raw)", len(gzipped) / 1024, "KB",
               goal="< 14 KB", met=len(gzipped) < 14 * 1024),
        Figure("survey", backend, "the form page, brotli as served", len(brotlied) / 1024, "KB",
               goal="< 14 KB", met=len(brotlied) < 14 * 1024),
        Figure("survey", backend, "resident memory of a portal worker after its first pages (the largest of "
               f"{args.workers})", worker_mb, "MB"),
        *(Figure("survey", backend, f"staff login page, first visit, {name} (HTML + CSS{htmx})", size / 1024, "KB",
                 goal="≤ 14 KB, no htmx", met=size <= GOAL_BYTES and not loads_htmx)
          for name, (size, loads_htmx) in staff.items()
          for htmx in [", loads htmx" if loads_htmx else "; htmx not loaded"]),
    ]


def main() -> None:
    parser = arguments(__doc__.split("\n")[0], rounds=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each case per round")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds, args.concurrency = 0.5, 1, 4
    figures: list[Figure] = []
    try:
        for backend in backends(args.db):
            with databases(backend, _SCRATCH) as new_url:
                if new_url is not None:
                    figures += measure(backend, new_url("survey"), args)
    finally:
        shutil.rmtree(_SCRATCH, ignore_errors=True)
    figures.append(Figure("survey", "-", "peak resident memory of the bench process", peak_rss_mb(), "MB"))
    report("The respondent's form under gunicorn against a trivial Flask app", figures, args.json)


if __name__ == "__main__":
    main()
