"""The PAR Index and the ranking of 63 provinces against the bare aggregate SQL on the same database.

    ./scripts/bench --only index                 # through the runner (every database, docs/benchmarks.md)
    python bench/bench_index.py --db sqlite      # this bench alone
    python bench/bench_index.py --quick          # small sizes, one round: a smoke run

Data set, bulk-inserted (SQLAlchemy Core) into a database migrated and seeded as the tests prepare it: the sample
framework (its survey lines mapped to the sample questionnaire's questions) and questionnaire; each of the 63
provinces with every self-assessment line scored, 60 of them appraised (45 closed, 15 in round 1, each round
changing a fifth of the lines); two provinces' survey results voided; 50,000 submitted forms (quick: 2,000)
spread over the provinces and the forms of each group, every choice question answered at random (one answer in
ten "không biết" where offered), plus a tenth as many drafts that must not count.

Measured per backend, paired round by round, median of --rounds:
the index and ranking (`par_index.compute`: the framework, every score and appraisal row, the survey points from
the counted answers, the totals, the ranks; nothing stored) against the bare aggregate SQL written by hand on a
raw DBAPI connection: the self and appraised points summed per province, the voided provinces, and the submitted
answers to the survey lines' questions exploded from their JSON and counted per province, form, question and value
(the questions the index needs, as survey_points reads them). Goal ≤ 3×.
Kept for reference: a recomputation that stores its rows (`par_index.recompute` with a changed input).
"""

from __future__ import annotations

import json
import random
import secrets
import sys
import time
from datetime import UTC, datetime

from harness import Figure, arguments, backends, databases, paired, peak_rss_mb, report, scratch

_SCRATCH = scratch("cchc-bench-index-")

from sqlalchemy import insert, text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from portal.domain import framework, par_index, questionnaires, scoring, units  # noqa: E402
from portal.domain.campaigns import current_campaign  # noqa: E402
from portal.extensions import make_engine  # noqa: E402
from portal.models import (  # noqa: E402
    Answer,
    Appraisal,
    AppraisalScore,
    Assessment,
    AssessmentScore,
    IntegrityDecision,
    User,
)
from tests.support.database import PreparedDatabase  # noqa: E402

SECRET = "bench-index-secret-key-0123456789abcdef"
DAY = datetime(2022, 2, 1, tzinfo=UTC)


def _figures(line, rng: random.Random) -> dict:
    """Figures a province could enter on `line` (the sample framework's kinds)."""
    if line.kind == "yes_no":
        return {"answer": rng.choice(("yes", "no"))}
    if line.kind == "percentage":
        return {"numerator": rng.randrange(0, 11), "denominator": 10}
    if line.kind == "deduction":
        return {"cases": rng.randrange(0, 4)}
    if line.kind == "levels":
        return {"level": rng.randrange(0, len(line.levels))}
    return {"points": round(rng.uniform(0, line.points), 2)}  # bonus, penalty


def generate(database: PreparedDatabase, forms: int, seed: int = 2021) -> tuple[int, int]:
    """Bulk-insert the data set; returns (the campaign's id, the forms inserted)."""
    rng = random.Random(seed)
    with Session(database.engine) as session:
        campaign = current_campaign(session)
        admin = User(username="bonoivu", role="ministry", password_hash="x")
        session.add(admin)
        version = questionnaires.load_sample(session, campaign)
        content = framework.load(framework.load_sample(session, campaign))
        questionnaire = questionnaires.load(version)
        provinces = sorted(units.province_ids(session, campaign))
        lines = [line for _a, _c, line in content.lines() if line.needs_input]
        scores, appraised = [], []
        for number, province in enumerate(provinces):
            assessment = Assessment(campaign_id=campaign.id, province_id=province, sent_at=DAY)
            session.add(assessment)
            session.flush()
            for line in lines:
                figures = _figures(line, rng)
                entry = scoring.score(line, figures)
                scores.append({"assessment_id": assessment.id, "province_id": province, "line_code": line.code,
                               "figures": json.dumps(figures), "points": entry.points, "not_applicable": False,
                               "explanation": "", "version": 1, "updated_at": DAY})
            if number >= 60:
                continue
            session.add(Appraisal(assessment_id=assessment.id, campaign_id=campaign.id, province_id=province,
                                  state="closed" if number < 45 else "round1"))
            for round_ in (1, 2) if number < 45 else (1,):
                for line in rng.sample(lines, len(lines) // 5):
                    figures = _figures(line, rng)
                    entry = scoring.score(line, figures)
                    appraised.append({"assessment_id": assessment.id, "province_id": province,
                                      "line_code": line.code, "round": round_, "figures": json.dumps(figures),
                                      "points": entry.points, "not_applicable": False, "comment": "", "version": 1,
                                      "updated_at": DAY})
        session.commit()
        for province in provinces[-2:]:
            session.add(IntegrityDecision(campaign_id=campaign.id, province_id=province, kind="void_province",
                                          reason="Thử", state="in_effect", form_key=secrets.token_hex(8),
                                          proposed_by_id=admin.id))
        session.commit()
        by_group: dict[str, list] = {}
        for form in questionnaire.forms:
            for group in form.groups:
                by_group.setdefault(group, []).append(form)
        groups = sorted(by_group)
        answers = []
        for count in range(forms + forms // 10):
            group = groups[count % len(groups)]
            form = rng.choice(by_group[group])
            values = {}
            for question in form.questions:
                if question.kind == "single":
                    option = rng.choice(question.options)
                    values[question.id] = option.value
                elif question.kind == "multiple":
                    values[question.id] = [o.value for o in rng.sample(question.options, min(2, len(question.options)))]
            submitted = count < forms
            answers.append({"id": secrets.token_hex(16), "response_key": secrets.token_hex(16),
                            "campaign_id": campaign.id, "province_id": rng.choice(provinces), "group_code": group,
                            "ministry_code": "BNV" if form.target == "ministry" else None, "form_code": form.code,
                            "questionnaire_version_id": version.id, "answers": json.dumps(values),
                            "submitted": submitted, "updated_at": DAY, "submitted_at": DAY if submitted else None})
        for model, rows in ((AssessmentScore, scores), (AppraisalScore, appraised), (Answer, answers)):
            for start in range(0, len(rows), 5_000):
                session.execute(insert(model), rows[start:start + 5_000])
        session.commit()
        if database.engine.dialect.name == "postgresql":
            session.execute(text("ANALYZE"))
            session.commit()
        return campaign.id, forms


# ---------------------------------------------------------------- the bare SQL

SELF_POINTS = """
SELECT a.province_id, sum(s.points) FROM assessmentscore s JOIN assessment a ON a.id = s.assessment_id
WHERE a.campaign_id = %s GROUP BY a.province_id"""
APPRAISED_POINTS = """
SELECT a.province_id, s.round, sum(s.points) FROM appraisalscore s JOIN assessment a ON a.id = s.assessment_id
WHERE a.campaign_id = %s GROUP BY a.province_id, s.round"""
VOIDED = """
SELECT province_id FROM integritydecision WHERE campaign_id = %s AND kind = 'void_province' AND state = 'in_effect'"""
# The answers to the questions the survey lines name ({wanted}: "(form_code = 'X' AND key IN (...)) OR ..."), as the
# index needs them: exploded from their JSON and counted per province, form, question and value.
ANSWER_COUNTS = {
    "sqlite": """
SELECT a.province_id, a.form_code, j.key, j.value, count(*) FROM answer a, json_each(a.answers) j
WHERE a.campaign_id = %s AND a.submitted AND ({wanted}) GROUP BY a.province_id, a.form_code, j.key, j.value""",
    "postgresql": """
SELECT a.province_id, a.form_code, j.key, j.value, count(*) FROM answer a, json_each_text(a.answers::json) j
WHERE a.campaign_id = %s AND a.submitted AND ({wanted}) GROUP BY a.province_id, a.form_code, j.key, j.value""",
}


def mapped_questions(session: Session, campaign) -> str:
    """The SQL condition naming the survey lines' questions, per form (literal codes from the framework)."""
    content = framework.load(framework.current_version(session, campaign))
    by_form: dict[str, set[str]] = {}
    for _a, _c, line in content.lines():
        for form_code, question_id in (line.survey.references if line.survey else []):
            by_form.setdefault(form_code, set()).add(question_id)
    return " OR ".join(f"(a.form_code = '{code}' AND j.key IN ({', '.join(repr(q) for q in sorted(ids))}))"
                       for code, ids in sorted(by_form.items())) or "false"


class BareSQL:
    """The hand-written aggregates on a raw DBAPI connection (sqlite3 or psycopg), no ORM."""

    def __init__(self, url: str, campaign_id: int, wanted: str) -> None:
        self.engine = make_engine(url)
        self.connection = self.engine.raw_connection()
        self.backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.campaign_id = campaign_id
        self.wanted = wanted

    def run(self, sql: str) -> list:
        cursor = self.connection.cursor()
        cursor.execute(sql.replace("%s", "?") if self.backend == "sqlite" else sql, (self.campaign_id,))
        rows = cursor.fetchall()
        cursor.close()
        return rows

    def aggregates(self) -> None:
        for sql in (SELF_POINTS, APPRAISED_POINTS, VOIDED, ANSWER_COUNTS[self.backend].format(wanted=self.wanted)):
            self.run(sql)
        self.connection.rollback()

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


# ---------------------------------------------------------------- measuring


def measure(backend: str, url: str, forms: int, rounds: int) -> list[Figure]:
    print(f"[{backend}] {forms:,} forms: preparing the database …", file=sys.stderr)
    began = time.perf_counter()
    database = PreparedDatabase(url)
    campaign_id, _ = generate(database, forms)
    print(f"[{backend}] prepared in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    engine = make_engine(url)

    def index() -> None:
        with Session(engine) as session:
            rows, _inputs = par_index.compute(session, session.get(par_index.Campaign, campaign_id), SECRET)
            assert len(rows) == 63 and rows[0].rank == 1

    with Session(engine) as session:
        wanted = mapped_questions(session, session.get(par_index.Campaign, campaign_id))
    bare = BareSQL(url, campaign_id, wanted)
    try:
        subject, baseline = paired(rounds, index, bare.aggregates)
        with Session(engine) as session:
            campaign = session.get(par_index.Campaign, campaign_id)
            began = time.perf_counter()
            par_index.recompute(session, campaign, SECRET, actor=None, trigger="bench")
            stored = time.perf_counter() - began
            province = session.exec(select(Answer.province_id)).first()
    finally:
        bare.close()
        engine.dispose()
        database.dispose()
    assert province is not None
    return [
        Figure("index", backend, f"index and ranking, 63 provinces, {forms:,} submitted forms", subject * 1000, "ms",
               "bare SQL: points per province, voided provinces, answers counted per value (raw DBAPI)",
               baseline * 1000, subject / baseline, "≤ 3×", subject / baseline <= 3),
        Figure("index", backend, "a recomputation stored (computation and 63 rows)", stored * 1000, "ms"),
    ]


def main() -> None:
    parser = arguments(__doc__.split("\n")[0])
    parser.add_argument("--forms", type=int, default=50_000, help="submitted forms (default 50,000)")
    args = parser.parse_args()
    forms, rounds = args.forms, args.rounds
    if args.quick:
        forms, rounds = 2_000, 1
    figures: list[Figure] = []
    for backend in backends(args.db):
        with databases(backend, _SCRATCH) as new_url:
            if new_url is None:
                continue
            figures += measure(backend, new_url(f"index-{forms}"), forms, rounds)
    figures.append(Figure("index", "-", "peak resident memory of the bench process", peak_rss_mb(), "MB"))
    report("The PAR Index and ranking against the bare aggregate SQL", figures, args.json)


if __name__ == "__main__":
    main()
