"""Progress pages on a national data set: each page against the bare queries that feed it, and what a poll costs.

    python bench/bench_progress.py                  # SQLite and PostgreSQL (a throwaway cluster)
    python bench/bench_progress.py --repeat 9       # best of 9 instead of 5

Data set, bulk-inserted (SQLAlchemy Core, one transaction) into a database migrated and seeded as the tests
prepare it: 63 provinces, each with a sent and launched list; 50,000 respondents (Hà Nội: 2,000, the others
~770 each) in the four groups (20/30/30/20 %), one invitation each, one or two forms each (~80,000
FormProgress rows). Delivery: 93 % sent, 2 % refused, 2 % bounced, 1 % delayed, 2 % queued; 70 % of the
delivered opened; of those, per form, 55 % submitted and 15 % in progress. The campaign's deadlines are moved
ahead, so the survey is open (a poll is answered 200/304, not 286).

Measured per backend, best of N after one warm-up:
(a) the progress fragment of the 2,000-respondent province (HTMX GET, target "progress-live", through the Flask
    test client, logged in as the province) against `progress.province_summary` + `progress.respondent_page`
    called directly; the same sorted by answer state; an unchanged poll (304) against `progress.fingerprint`.
(b) the national table page /bo/tien-do (logged in as the ministry) against `progress.national_table`.
(c) bytes on the wire for a poll: unchanged (304: no body; its headers) against changed (the fragment, gzip and
    brotli as Flask-Compress sends them, and uncompressed).

PostgreSQL comes from tests/support/pgcluster.py (Debian's server binaries); without them only SQLite runs.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_SCRATCH = tempfile.mkdtemp(prefix="cchc-bench-progress-")
os.environ["PORTAL_INSTANCE_DIR"] = _SCRATCH  # before config is read: keep the developer's instance/ untouched
os.environ.setdefault("PORTAL_PASSWORD_TIME_COST", "1")
os.environ.setdefault("PORTAL_PASSWORD_MEMORY_KIB", "8")

from sqlalchemy import func, insert, text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.domain import accounts, demo, progress, questionnaires  # noqa: E402
from portal.domain.campaigns import current_campaign, local_today  # noqa: E402
from portal.domain.text import fold  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import (  # noqa: E402
    FormProgress,
    Invitation,
    Province,
    Respondent,
    RespondentGroup,
    RespondentList,
    Role,
    User,
)
from tests.support.database import PreparedDatabase, create_postgres_database  # noqa: E402

HA_NOI = 1
BIG_PROVINCE = 2_000
TOTAL = 50_000
GROUPS = (("HDND", 0.20, ("DP-HDND",)), ("LD_SO", 0.30, ("DP-LDSO", "BO-LD")),
          ("LD_PHONG", 0.30, ("DP-LDPHONG", "BO-LD")), ("LD_HUYEN", 0.20, ("DP-LDHUYEN",)))
POSITIONS = {"HDND": "Đại biểu HĐND", "LD_SO": "Giám đốc", "LD_PHONG": "Trưởng phòng", "LD_HUYEN": "Chủ tịch UBND"}
POLL = {"HX-Request": "true", "HX-Target": "progress-live"}
PASSWORD = "Bench2021cchc"


# ---------------------------------------------------------------- the data set


@dataclass
class DataSet:
    respondents: int = 0
    forms: int = 0
    seconds: float = 0.0


def generate(database: PreparedDatabase, tz_name: str, seed: int = 2021) -> DataSet:
    """Bulk-insert the national data set; returns its size."""
    rng = random.Random(seed)
    began = time.perf_counter()
    now = datetime.now(UTC)
    launched = now - timedelta(days=10)
    with Session(database.engine) as session:
        campaign = current_campaign(session)
        today = local_today(tz_name)
        campaign.list_deadline = today - timedelta(days=12)
        campaign.response_deadline = today + timedelta(days=20)
        campaign.self_assessment_deadline = today + timedelta(days=20)
        session.add(campaign)
        version = questionnaires.load_sample(session, campaign)
        version.frozen_at = launched
        session.add(version)
        for username, role, province_id in (("bonoivu", Role.MINISTRY, None), ("ha-noi", Role.PROVINCE, HA_NOI)):
            accounts.create_user(session, username, role, password=PASSWORD, province_id=province_id,
                                 must_change_password=False)
        session.commit()
        groups = {g.code: g for g in session.exec(select(RespondentGroup)
                                                  .where(RespondentGroup.campaign_id == campaign.id))}
        provinces = list(session.exec(select(Province).where(Province.is_active).order_by(Province.id)))
        others = len(provinces) - 1
        sizes = {p.id: BIG_PROVINCE if p.id == HA_NOI else (TOTAL - BIG_PROVINCE) // others for p in provinces}
        sizes[provinces[-1].id] += TOTAL - sum(sizes.values())

        def next_id(model) -> int:
            return (session.exec(select(func.max(model.id))).one() or 0) + 1

        list_id, person_id, invitation_id, form_id = (next_id(m) for m in
                                                      (RespondentList, Respondent, Invitation, FormProgress))
        lists, people, invitations, forms = [], [], [], []
        names = (demo._FAMILY, demo._MIDDLE, demo._GIVEN)
        for province in provinces:
            lists.append({"id": list_id, "campaign_id": campaign.id, "province_id": province.id, "status": "sent",
                          "version": 3, "sent_at": launched - timedelta(days=3), "launched_at": launched,
                          "updated_at": launched, "check_notices": "[]"})
            for row in range(sizes[province.id]):
                code, _share, codes = rng.choices(GROUPS, weights=[g[1] for g in GROUPS])[0]
                name = " ".join(rng.choice(part) for part in names)
                email = f"nguoi{person_id}@{province.slug}.gov.vn"
                unit = f"Sở số {row % 20 + 1}"
                people.append({"id": person_id, "list_id": list_id, "province_id": province.id, "row_number": row + 2,
                               "full_name": name, "position": POSITIONS[code], "group_id": groups[code].id,
                               "group_text": groups[code].label, "unit": unit, "email": email,
                               "phone": f"09{rng.randrange(10**7, 10**8)}",
                               "answers_ministry_form": len(codes) == 2,
                               "search_text": fold(f"{name} {email} {unit} {POSITIONS[code]}"),
                               "problems": "[]", "error_count": 0, "note": "",
                               "created_at": launched, "updated_at": launched})
                roll = rng.random()
                status = ("sent" if roll < 0.93 else "failed" if roll < 0.95 else "bounced" if roll < 0.97
                          else "delayed" if roll < 0.98 else "queued")
                delivered_at = launched + timedelta(minutes=rng.randrange(0, 600))
                opened = status in ("sent", "delayed") and rng.random() < 0.70
                invitations.append({
                    "id": invitation_id, "respondent_id": person_id, "campaign_id": campaign.id,
                    "province_id": province.id, "questionnaire_version_id": version.id,
                    "nonce": f"{rng.getrandbits(128):032x}", "form_codes": ",".join(codes), "created_at": launched,
                    "first_opened_at": delivered_at + timedelta(hours=rng.randrange(1, 100)) if opened else None,
                    "delivery_status": status, "delivery_at": None if status == "queued" else delivered_at,
                    "delivery_reply": {"failed": "550 5.1.1 User unknown", "bounced": "5.2.2 mailbox full",
                                       "delayed": "4.4.1 no answer from host"}.get(status, "250 2.0.0 Ok"),
                    "last_reminded_at": None, "reminder_count": 0})
                for form_code in codes:
                    state, started, submitted = "not_started", None, None
                    if opened:
                        pick = rng.random()
                        if pick < 0.70:
                            started = delivered_at + timedelta(hours=rng.randrange(1, 150))
                            state = "submitted" if pick < 0.55 else "in_progress"
                            submitted = started + timedelta(minutes=rng.randrange(5, 90)) if pick < 0.55 else None
                    forms.append({"id": form_id, "invitation_id": invitation_id, "province_id": province.id,
                                  "form_code": form_code, "state": state, "started_at": started,
                                  "submitted_at": submitted})
                    form_id += 1
                person_id += 1
                invitation_id += 1
            list_id += 1
        for model, rows in ((RespondentList, lists), (Respondent, people), (Invitation, invitations),
                            (FormProgress, forms)):
            for start in range(0, len(rows), 5_000):
                session.execute(insert(model), rows[start:start + 5_000])
        if database.engine.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind: move them past the rows, as the portal's inserts expect.
            for table in ("respondentlist", "respondent", "invitation", "formprogress"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
            session.commit()
            session.execute(text("ANALYZE"))
        session.commit()
    return DataSet(len(people), len(forms), time.perf_counter() - began)


# ---------------------------------------------------------------- measuring


def best_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm-up: templates compiled, statements cached, pages in the database's cache
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return min(times) * 1000


def header_bytes(response) -> int:
    """Bytes of the status line and headers as an HTTP/1.1 server sends them."""
    lines = [f"HTTP/1.1 {response.status}"] + [f"{name}: {value}" for name, value in response.headers.items()]
    return len(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"))


@dataclass
class Result:
    backend: str
    data: DataSet
    timings: list[tuple[str, float, str, float]]  # case, ms, bare case, bare ms
    wire: list[tuple[str, int, int]]  # case, status line + headers bytes, body bytes
    cookie: int


def measure(backend: str, url: str, repeat: int) -> Result:
    print(f"[{backend}] preparing the database …", file=sys.stderr)
    database = PreparedDatabase(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
                      "SECRET_KEY": "bench-progress-secret-key-0123456789abcdef", "SERVER_NAME": None})
    print(f"[{backend}] generating the national data set …", file=sys.stderr)
    data = generate(database, app.config["PORTAL_TIMEZONE"])
    print(f"[{backend}] {data.respondents} respondents, {data.forms} forms in {data.seconds:.1f} s",
          file=sys.stderr)
    with Session(database.engine) as session:
        users = {u.username: u for u in session.exec(select(User))}
        campaign_id = current_campaign(session).id
        big = session.exec(select(func.count(Respondent.id)).where(Respondent.province_id == HA_NOI)).one()
        assert big == BIG_PROVINCE, big
    database.dispose()

    def client_for(username: str):
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["_user_id"] = users[username].get_id()
            sess["_fresh"] = True
            sess.permanent = True  # as a real login makes it: the cookie is refreshed on every response
        return client

    province, ministry = client_for("ha-noi"), client_for("bonoivu")
    page = "/khao-sat/tien-do/"

    def get(client, path: str, status: int, **headers):
        response = client.get(path, headers=headers)
        assert response.status_code == status, (path, response.status_code)
        return response

    fragment = get(province, page, 200, **POLL)
    etag = fragment.headers["ETag"]

    def bare(call: Callable[[Session], object]) -> Callable[[], object]:
        def run() -> object:
            with app.app_context(), db.new_session() as session:
                return call(session)
        return run

    def page_queries(sort: str) -> Callable[[Session], object]:
        def run(session: Session) -> object:
            return (progress.province_summary(session, campaign_id, HA_NOI),
                    progress.respondent_page(session, campaign_id, HA_NOI, sort=sort))
        return run

    print(f"[{backend}] measuring …", file=sys.stderr)
    timings = [
        ("progress fragment, 2,000 people (page 1 of 40)", best_ms(lambda: get(province, page, 200, **POLL), repeat),
         "province_summary + respondent_page", best_ms(bare(page_queries("stt")), repeat)),
        ("the same, sorted by answer state", best_ms(lambda: get(province, f"{page}?xep=trang-thai", 200, **POLL),
                                                     repeat),
         "the same queries, sorted by state", best_ms(bare(page_queries("trang-thai")), repeat)),
        ("unchanged poll (304)", best_ms(lambda: get(province, page, 304, **POLL, **{"If-None-Match": etag}),
                                         repeat),
         "fingerprint", best_ms(bare(lambda s: progress.fingerprint(s, campaign_id, HA_NOI)), repeat)),
        ("national table page /bo/tien-do, 63 provinces", best_ms(lambda: get(ministry, "/bo/tien-do", 200), repeat),
         "national_table", best_ms(bare(lambda s: progress.national_table(s, campaign_id)), repeat)),
    ]

    unchanged = get(province, page, 304, **POLL, **{"If-None-Match": etag})
    wire = [("unchanged poll: 304", header_bytes(unchanged), len(unchanged.data))]
    for encoding in ("gzip", "br", "identity"):
        changed = get(province, page, 200, **POLL, **{"Accept-Encoding": encoding})
        assert changed.headers.get("Content-Encoding", "identity") == encoding
        wire.append((f"changed poll: fragment, {encoding}", header_bytes(changed), len(changed.data)))
    cookie = sum(len(f"Set-Cookie: {v}\r\n") for v in unchanged.headers.getlist("Set-Cookie"))
    return Result(backend, data, timings, wire, cookie)


def report(results: list[Result], repeat: int) -> None:
    print(f"\n### Progress pages against their bare queries (best of {repeat}, ms)\n")
    print("| backend | page or request | ms | bare database work | ms | ratio |")
    print("|---|---|---:|---|---:|---:|")
    for result in results:
        for case, ms, bare_case, bare_ms in result.timings:
            print(f"| {result.backend} | {case} | {ms:.1f} | {bare_case} | {bare_ms:.1f} | {ms / bare_ms:.1f}× |")
    print("\n### Bytes of one poll (HTTP/1.1 status line and headers + body)\n")
    print("| backend | poll | headers | body | total |")
    print("|---|---|---:|---:|---:|")
    for result in results:
        for case, head, body in result.wire:
            print(f"| {result.backend} | {case} | {head} | {body} | {head + body} |")
    print("\nData sets: " + "; ".join(f"{r.backend}: {r.data.respondents:,} respondents, {r.data.forms:,} forms, "
                                      f"generated in {r.data.seconds:.1f} s" for r in results))
    print(f"The headers include the refreshed session cookie ({results[0].cookie} bytes of Set-Cookie).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    args = parser.parse_args()

    results = [measure("SQLite", f"sqlite:///{_SCRATCH}/bench.sqlite3", args.repeat)]
    from tests.support.pgcluster import ClusterUnavailable, start_cluster

    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
    else:
        try:
            results.append(measure("PostgreSQL", create_postgres_database(cluster.url), args.repeat))
        finally:
            if db.engine is not None:
                db.engine.dispose()
            cluster.stop()
    report(results, args.repeat)


if __name__ == "__main__":
    main()
