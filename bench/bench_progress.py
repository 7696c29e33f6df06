"""The province's progress fragment against its bare SQL, and how it grows with the country.

    ./scripts/bench --only progress                  # through the runner (every database, docs/benchmarks.md)
    python bench/bench_progress.py --db sqlite       # this bench alone
    python bench/bench_progress.py --quick           # small sizes, one round: a smoke run

Data sets, bulk-inserted (SQLAlchemy Core) into a database migrated and seeded as the tests prepare it: 63
provinces, each with a sent and launched list; Hà Nội with 2,000 people and the nation with 12,500, then
100,000 (quick: 200 of 1,260), in the four groups (20/30/30/20 %), one invitation each, one or two forms
each. Delivery: 93 % sent, 2 % refused, 2 % bounced, 1 % delayed, 2 % queued; 70 % of the delivered opened;
of those, per form, 55 % submitted and 15 % in progress. The survey is open (a poll is answered 200/304).

Measured per backend and national size, paired round by round, median of --rounds:
(a) the progress fragment of Hà Nội (HTMX GET, target "progress-live", Flask test client, logged in as the
    province: fingerprint, summary, first page of 50 rows, rendering) against the bare SQL that feeds it,
    written by hand and run on a raw DBAPI connection: the fingerprint the response's ETag is made of (the
    statement of (b)'s baseline), the summary aggregates (in the shape the portal gives each database), one
    page of rows with their forms, the count. Goal ≤ 2×. Until 05/12/2026 this baseline left the fingerprint
    out, though the response cannot be sent without it: the ratio then counted a statement of SQL as the
    portal's overhead (2.4× on SQLite).
(b) an unchanged poll (304) against the bare SQL of the same fingerprint the portal computes (its one poll
    statement: the invitations' and the forms' states as paired sums, each id times its state's rank, which
    reads every row of the province in the campaign; the people's last change; the province's extension).
    Until 12/2026 the baseline was an older fingerprint of counts and maxima, less work than the portal's (it
    missed two rows swapping states), which made the ratio unfair. Goal ≤ 2×.
(c) flatness: the fragment at 100,000 people against the same at 12,500 (Hà Nội fixed). Goal ≤ 1.2×.
(d) flatness over the years: (a) and (b) again at 12,500 people in a database that also keeps the year
    before's 12,500 (a closed campaign's lists, invitations and forms, stored first), and the fragment against
    the first year's. Goal ≤ 1.2×.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from harness import Figure, arguments, backends, databases, paired, peak_rss_mb, report, scratch

_SCRATCH = scratch("cchc-bench-progress-")

from sqlalchemy import func, insert, text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.domain import accounts, demo, questionnaires  # noqa: E402
from portal.domain.campaigns import current_campaign, local_today  # noqa: E402
from portal.domain.text import fold  # noqa: E402
from portal.extensions import db, make_engine  # noqa: E402
from portal.models import (  # noqa: E402
    Campaign,
    FormProgress,
    Invitation,
    Province,
    Respondent,
    RespondentGroup,
    RespondentList,
    Role,
    User,
)
from tests.support.database import PreparedDatabase  # noqa: E402

HA_NOI = 1
GROUPS = (("HDND", 0.20, ("DP-HDND",)), ("LD_SO", 0.30, ("DP-LDSO", "BO-LD")),
          ("LD_PHONG", 0.30, ("DP-LDPHONG", "BO-LD")), ("LD_HUYEN", 0.20, ("DP-LDHUYEN",)))
POSITIONS = {"HDND": "Đại biểu HĐND", "LD_SO": "Giám đốc", "LD_PHONG": "Trưởng phòng", "LD_HUYEN": "Chủ tịch UBND"}
POLL = {"HX-Request": "true", "HX-Target": "progress-live"}
PASSWORD = "Bench2021cchc"
PAGE = "/khao-sat/tien-do/"


# ---------------------------------------------------------------- the data set


@dataclass
class DataSet:
    respondents: int = 0
    forms: int = 0
    seconds: float = 0.0


def generate(database: PreparedDatabase, tz_name: str, total: int, big: int, seed: int = 2021, *,
             past_year: bool = False) -> DataSet:
    """Bulk-insert a national data set of `total` people, `big` of them in Hà Nội; returns its size.

    past_year: the same data set for the year before first (a closed campaign of its own, stored before this
    year's rows, as a database a year old holds it).
    """
    rng = random.Random(seed)
    began = time.perf_counter()
    now = datetime.now(UTC)
    launched = now - timedelta(days=10)
    with Session(database.engine) as session:
        campaign = current_campaign(session)
        past = None
        if past_year:
            past = Campaign(year=campaign.year - 1, name=f"{campaign.name} (năm trước)", closed_at=launched,
                            **{day: getattr(campaign, day) - timedelta(days=365) for day in
                               ("it_focal_deadline", "list_deadline", "self_assessment_deadline",
                                "response_deadline")})
            session.add(past)
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
        sizes = {p.id: big if p.id == HA_NOI else (total - big) // others for p in provinces}
        sizes[provinces[-1].id] += total - sum(sizes.values())

        def next_id(model) -> int:
            return (session.exec(select(func.max(model.id))).one() or 0) + 1

        list_id, person_id, invitation_id, form_id = (next_id(m) for m in
                                                      (RespondentList, Respondent, Invitation, FormProgress))
        lists, people, invitations, forms = [], [], [], []
        names = (demo._FAMILY, demo._MIDDLE, demo._GIVEN)
        years = [(past, launched - timedelta(days=365))] if past is not None else []
        for year, moment in [*years, (campaign, launched)]:
            for province in provinces:
                lists.append({"id": list_id, "campaign_id": year.id, "province_id": province.id,
                              "status": "sent", "version": 3, "sent_at": moment - timedelta(days=3),
                              "launched_at": moment, "updated_at": moment, "check_notices": "[]"})
                for row in range(sizes[province.id]):
                    code, _share, codes = rng.choices(GROUPS, weights=[g[1] for g in GROUPS])[0]
                    name = " ".join(rng.choice(part) for part in names)
                    email = f"nguoi{person_id}@{province.slug}.gov.vn"
                    unit = f"Sở số {row % 20 + 1}"
                    people.append({"id": person_id, "list_id": list_id, "province_id": province.id,
                                   "row_number": row + 2, "full_name": name, "position": POSITIONS[code],
                                   "group_id": groups[code].id,
                                   "group_text": groups[code].label, "unit": unit, "email": email,
                                   "phone": f"09{rng.randrange(10**7, 10**8)}",
                                   "answers_ministry_form": len(codes) == 2,
                                   "search_text": fold(f"{name} {email} {unit} {POSITIONS[code]}"),
                                   "problems": "[]", "error_count": 0, "note": "",
                                   "created_at": moment, "updated_at": moment})
                    roll = rng.random()
                    status = ("sent" if roll < 0.93 else "failed" if roll < 0.95 else "bounced" if roll < 0.97
                              else "delayed" if roll < 0.98 else "queued")
                    delivered_at = moment + timedelta(minutes=rng.randrange(0, 600))
                    opened = status in ("sent", "delayed") and rng.random() < 0.70
                    invitations.append({
                        "id": invitation_id, "respondent_id": person_id, "campaign_id": year.id,
                        "province_id": province.id, "questionnaire_version_id": version.id,
                        "nonce": f"{rng.getrandbits(128):032x}", "form_codes": ",".join(codes),
                        "created_at": moment,
                        "first_opened_at": (delivered_at + timedelta(hours=rng.randrange(1, 100)) if opened
                                            else None),
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
                                submitted = (started + timedelta(minutes=rng.randrange(5, 90)) if pick < 0.55
                                             else None)
                        forms.append({"id": form_id, "invitation_id": invitation_id, "province_id": province.id,
                                      "campaign_id": year.id, "form_code": form_code, "state": state,
                                      "started_at": started, "submitted_at": submitted})
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


# ---------------------------------------------------------------- the bare SQL


SUMMARY_PEOPLE = """
SELECT r.group_id, count(r.id),
       count(i.id) FILTER (WHERE i.delivery_status = 'sent'),
       count(i.id) FILTER (WHERE i.delivery_status IN ('failed', 'bounced')),
       count(i.first_opened_at)
FROM respondent r LEFT JOIN invitation i ON i.respondent_id = r.id
WHERE r.list_id = %s GROUP BY r.group_id"""
SUMMARY_FORMS = """
SELECT r.group_id, count(f.id), count(f.id) FILTER (WHERE f.state = 'submitted'),
       count(DISTINCT CASE WHEN f.state <> 'not_started' THEN f.invitation_id END)
FROM formprogress f JOIN invitation i ON i.id = f.invitation_id JOIN respondent r ON r.id = i.respondent_id
WHERE f.province_id = %s AND f.campaign_id = %s GROUP BY r.group_id"""
# On PostgreSQL the portal counts the forms per invitation and joins them to the people's invitations (its
# planner looked each form's person up by key otherwise, which grew with the country): the bare SQL does the same.
SUMMARY_BY_INVITATION = """
SELECT r.group_id, count(r.id),
       count(i.id) FILTER (WHERE i.delivery_status = 'sent'),
       count(i.id) FILTER (WHERE i.delivery_status IN ('failed', 'bounced')),
       count(i.first_opened_at), sum(f.expected), sum(f.submitted), sum(f.started)
FROM respondent r LEFT JOIN invitation i ON i.respondent_id = r.id AND i.province_id = %s
LEFT JOIN (SELECT invitation_id, count(id) AS expected, count(id) FILTER (WHERE state = 'submitted') AS submitted,
                  max(CASE WHEN state <> 'not_started' THEN 1 ELSE 0 END) AS started
           FROM formprogress WHERE province_id = %s AND campaign_id = %s GROUP BY invitation_id) f
  ON f.invitation_id = i.id
WHERE r.list_id = %s GROUP BY r.group_id"""
PAGE_ROWS = """
SELECT r.id, r.row_number, r.full_name, r.position, r.unit, r.group_text, r.email, r.phone,
       i.id, i.delivery_status, i.delivery_reply, i.first_opened_at, i.last_reminded_at
FROM respondent r LEFT JOIN invitation i ON i.respondent_id = r.id
WHERE r.list_id = %s ORDER BY r.row_number, r.id LIMIT 50"""
PAGE_COUNT = "SELECT count(*) FROM respondent WHERE list_id = %s"
PAGE_FORMS = "SELECT invitation_id, form_code, state, submitted_at FROM formprogress WHERE invitation_id IN ({})"
# The same fingerprint as the portal's poll statement (progress._poll_statement): the invitations' count, the
# sum of each id times its delivery state's rank, the last delivery, the opened and the reminders; the forms'
# count and paired sum of states; the people's count and last change; the province's extension.
FINGERPRINT = """
SELECT i.*, f.*, r.*,
       (SELECT response_extension_until FROM respondentlist WHERE campaign_id = %s AND province_id = %s)
FROM (SELECT count(id), sum(id * CASE delivery_status WHEN 'queued' THEN 1 WHEN 'sending' THEN 2 WHEN 'sent' THEN 3
                                  WHEN 'failed' THEN 4 WHEN 'bounced' THEN 5 WHEN 'delayed' THEN 6 ELSE 7 END),
             max(delivery_at), count(first_opened_at), sum(reminder_count)
      FROM invitation WHERE province_id = %s AND campaign_id = %s) i,
     (SELECT count(id), sum(id * CASE state WHEN 'not_started' THEN 1 WHEN 'in_progress' THEN 2
                                  WHEN 'submitted' THEN 3 ELSE 4 END)
      FROM formprogress WHERE province_id = %s AND campaign_id = %s) f,
     (SELECT count(id), max(updated_at) FROM respondent WHERE province_id = %s AND list_id = %s) r"""


class BareSQL:
    """The hand-written queries on a raw DBAPI connection (sqlite3 or psycopg), no ORM, no Flask."""

    def __init__(self, url: str, campaign_id: int, list_id: int) -> None:
        self.engine = make_engine(url)
        self.connection = self.engine.raw_connection()
        self.qmark = url.startswith("sqlite")
        self.campaign_id, self.list_id = campaign_id, list_id

    def run(self, sql: str, params: tuple) -> list:
        cursor = self.connection.cursor()
        cursor.execute(sql.replace("%s", "?") if self.qmark else sql, params)
        rows = cursor.fetchall()
        cursor.close()
        return rows

    def fragment(self) -> None:
        self.run(FINGERPRINT, self.fingerprint_params())  # the response's ETag
        if self.qmark:
            self.run(SUMMARY_PEOPLE, (self.list_id,))
            self.run(SUMMARY_FORMS, (HA_NOI, self.campaign_id))
        else:
            self.run(SUMMARY_BY_INVITATION, (HA_NOI, HA_NOI, self.campaign_id, self.list_id))
        rows = self.run(PAGE_ROWS, (self.list_id,))
        self.run(PAGE_COUNT, (self.list_id,))
        ids = [row[8] for row in rows if row[8] is not None]
        self.run(PAGE_FORMS.format(", ".join(["%s"] * len(ids))), tuple(ids))
        self.connection.rollback()  # end the read transaction, as a request does

    def fingerprint_params(self) -> tuple:
        c = self.campaign_id
        return (c, HA_NOI, HA_NOI, c, HA_NOI, c, HA_NOI, self.list_id)

    def fingerprint(self) -> None:
        self.run(FINGERPRINT, self.fingerprint_params())
        self.connection.rollback()

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


# ---------------------------------------------------------------- measuring


def measure(backend: str, url: str, total: int, big: int, rounds: int, *,
            past_year: bool = False) -> tuple[float, list[Figure]]:
    """Figures at one national size (past_year: with the year before's data kept too); returns (the fragment's
    median ms, the figures)."""
    print(f"[{backend}] {total:,} people{' and a past year' if past_year else ''}: preparing the database …",
          file=sys.stderr)
    database = PreparedDatabase(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
                      "SECRET_KEY": "bench-progress-secret-key-0123456789abcdef", "SERVER_NAME": None})
    data = generate(database, app.config["PORTAL_TIMEZONE"], total, big, past_year=past_year)
    print(f"[{backend}] {data.respondents:,} respondents, {data.forms:,} forms in {data.seconds:.1f} s",
          file=sys.stderr)
    with Session(database.engine) as session:
        users = {u.username: u for u in session.exec(select(User))}
        campaign_id = current_campaign(session).id
        list_id = session.exec(select(RespondentList.id).where(RespondentList.campaign_id == campaign_id,
                                                               RespondentList.province_id == HA_NOI)).one()
    database.dispose()

    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = users["ha-noi"].get_id()
        sess["_fresh"] = True

    def get(status: int, **headers):
        response = client.get(PAGE, headers=headers)
        assert response.status_code == status, response.status_code
        return response

    etag = get(200, **POLL).headers["ETag"]
    bare = BareSQL(url, campaign_id, list_id)
    try:
        fragment, fragment_bare = paired(rounds, lambda: get(200, **POLL), bare.fragment)
        poll, poll_bare = paired(rounds, lambda: get(304, **POLL, **{"If-None-Match": etag}), bare.fingerprint)
    finally:
        bare.close()
        db.dispose()
    size = f"{big:,} of {total:,} people" + ("; the past year's as many, kept" if past_year else "")
    figures = [
        Figure("progress", backend, f"progress fragment, Hà Nội ({size})", fragment * 1000, "ms",
               "bare SQL: summary + one page of rows (raw DBAPI)", fragment_bare * 1000, fragment / fragment_bare,
               "≤ 2×", fragment / fragment_bare <= 2),
        Figure("progress", backend, f"unchanged poll, 304 ({size})", poll * 1000, "ms",
               "bare SQL: the fingerprint (raw DBAPI)", poll_bare * 1000, poll / poll_bare, "≤ 2×",
               poll / poll_bare <= 2),
    ]
    return fragment * 1000, figures


def main() -> None:
    parser = arguments(__doc__.split("\n")[0])
    parser.add_argument("--province", type=int, default=2_000, help="Hà Nội's people (default 2,000)")
    parser.add_argument("--nations", default="12500,100000", help="national sizes (default 12500,100000)")
    args = parser.parse_args()
    big, nations, rounds = args.province, [int(n) for n in args.nations.split(",")], args.rounds
    if args.quick:
        big, nations, rounds = 200, [1_260], 1
    figures: list[Figure] = []
    for backend in backends(args.db):
        with databases(backend, _SCRATCH) as new_url:
            if new_url is None:
                continue
            fragments = []
            for total in nations:
                ms, found = measure(backend, new_url(f"progress-{total}"), total, big, rounds)
                fragments.append(ms)
                figures += found
            if len(nations) > 1:
                growth = fragments[-1] / fragments[0]
                figures.append(Figure("progress", backend,
                                      f"progress fragment at {nations[-1]:,} people (Hà Nội {big:,})",
                                      fragments[-1], "ms", f"the same at {nations[0]:,} people", fragments[0],
                                      growth, "≤ 1.2× (flat in the national size)", growth <= 1.2))
            # The next year: the same country again, with the first year's lists, invitations and forms kept.
            ms, found = measure(backend, new_url(f"progress-{nations[0]}-second-year"), nations[0], big, rounds,
                                past_year=True)
            figures += found
            growth = ms / fragments[0]
            figures.append(Figure("progress", backend,
                                  f"progress fragment in the second year ({nations[0]:,} people, the first "
                                  f"year's kept)", ms, "ms", "the same in the first year", fragments[0], growth,
                                  "≤ 1.2× (flat over the years)", growth <= 1.2))
    figures.append(Figure("progress", "-", "peak resident memory of the bench process", peak_rss_mb(), "MB"))
    report("Progress fragment against its bare SQL", figures, args.json)


if __name__ == "__main__":
    main()
