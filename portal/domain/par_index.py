"""The PAR Index (Chỉ số CCHC) of a campaign: each province's appraised points plus its survey points, per area and
in total, ranked; stored with the versions of its inputs so that a published figure can be reproduced.

Where each province's self-assessment part comes from (`basis`, shown on every table and export):

- ``closed``: the appraisal is closed: the final appraised points (`appraisal.final_points`: round 2 where given,
  else round 1, else the province's own score).
- ``appraising``: the appraisal is under way: the running figure by the same rule, marked "đang thẩm định (tạm
  tính)", so the ministry sees it is not final.
- ``not_appraised``: the province sent (or its deadline passed) but no appraiser started: its own points, marked
  "chưa thẩm định (điểm tự chấm)". Its own points rather than zero, because zero would rank it below provinces
  that scored nothing, while its own points show what the appraisal has yet to confirm; the mark says so.
- ``not_assessed``: no line scored: zero.

The survey part comes from `survey_results.survey_points` (counted answers only). A province whose whole survey
result is voided (an integrity decision in effect) gets zero on every survey line, with the decision's reason.
Totals follow the framework's own rules (`scoring.totals`): lines answered "không áp dụng" leave the maximum,
bonus and penalty lines are outside the maximum and add to or take from the criterion, which never goes below
zero; the % is of the province's own maximum (the framework's total less its "không áp dụng" lines), so it may
pass 100 with bonus points.

Ranks are competition ranks ("1, 2, 2, 4"): provinces whose figure is equal to two decimals (the precision the
pages and the export show) share a rank, the next rank skips; within a shared rank provinces are listed by code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from sqlalchemy import func
from sqlmodel import Session, col, select

from portal.domain import appraisal as appraisals
from portal.domain import framework as frameworks
from portal.domain import questionnaires, units
from portal.domain.framework import Framework
from portal.domain.integrity_decisions import IN_EFFECT, VOID_PROVINCE
from portal.domain.scoring import Entry
from portal.models import (
    Appraisal,
    AppraisalScore,
    AppraisalState,
    Assessment,
    AssessmentScore,
    Campaign,
    IndexComputation,
    IntegrityDecision,
    ProvinceIndex,
    User,
    utcnow,
)

CLOSED, APPRAISING, NOT_APPRAISED, NOT_ASSESSED = "closed", "appraising", "not_appraised", "not_assessed"
BASIS_LABELS = {
    CLOSED: "Đã kết thúc thẩm định",
    APPRAISING: "Đang thẩm định (điểm tạm tính)",
    NOT_APPRAISED: "Chưa thẩm định (điểm tự chấm)",
    NOT_ASSESSED: "Chưa tự đánh giá",
}
PLACES = 2  # figures are compared, ranked and shown to two decimals


class IndexUnavailable(Exception):
    """The index cannot be computed now; `message` says why, in Vietnamese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class AreaFigure:
    appraised: float = 0.0
    survey: float = 0.0
    total: float = 0.0
    maximum: float = 0.0
    rank: int = 0


@dataclass
class ProvinceFigures:
    """One province's index, as computed (and as stored in a ProvinceIndex row)."""

    province_id: int
    name: str
    basis: str
    appraised: float
    survey: float
    total: float
    maximum: float
    percent: float
    voided_reason: str = ""
    rank: int = 0
    areas: dict[str, AreaFigure] = field(default_factory=dict)
    lines: dict[str, dict] = field(default_factory=dict)

    @property
    def basis_label(self) -> str:
        return BASIS_LABELS[self.basis]


@dataclass
class Inputs:
    """What a computation read, by version: enough to tell whether a recomputation would read the same."""

    framework_version_id: int | None
    questionnaire_version_id: int | None
    appraisals: list[list] = field(default_factory=list)  # [province, appraisal id, state, version, last score]
    assessments: list[list] = field(default_factory=list)  # [province, assessment id, last score change]
    voided: list[int] = field(default_factory=list)  # the voiding decisions in effect
    survey: dict[str, dict[str, float]] = field(default_factory=dict)  # province id (text) -> line -> points

    def as_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------- pure parts


def figure(value: float | Fraction) -> float:
    """A figure as stored and compared: rounded to four places, so sums of halves and quarters stay exact."""
    return round(float(value), 4)


def competition_ranks(values: Mapping[int, float]) -> dict[int, int]:
    """Rank keys by value, highest first; equal values (to two decimals) share a rank and the next one skips."""
    ordered = sorted(values, key=lambda key: (-round(values[key], PLACES), key))
    ranks: dict[int, int] = {}
    previous: float | None = None
    for place, key in enumerate(ordered, start=1):
        value = round(values[key], PLACES)
        ranks[key] = ranks[ordered[place - 2]] if previous is not None and value == previous else place
        previous = value
    return ranks


UNIT = 10_000  # points are summed as whole ten-thousandths: exact for the framework's decimals, and fast


def _units(points: float | None) -> int:
    return round(points * UNIT) if points is not None else 0


@dataclass
class _Sums:
    """Per area and overall: score and maximum, in UNITs."""

    areas: dict[str, tuple[int, int]] = field(default_factory=dict)
    score: int = 0
    maximum: int = 0


def _totals(content: Framework, entries: Mapping[str, Entry]) -> _Sums:
    """`scoring.totals`' rules, summed in whole units: a line "không áp dụng" leaves the maximum; bonus and penalty
    lines are outside it and add or take; a criterion never goes below zero."""
    sums = _Sums()
    for area in content.areas:
        area_score = area_max = 0
        for criterion in area.criteria:
            points = 0
            for line in criterion.subcriteria:
                entry = entries.get(line.code)
                if line.counts_in_maximum and not (entry is not None and entry.not_applicable):
                    area_max += _units(line.points)
                if entry is not None and entry.points is not None:
                    points += _units(entry.points)
            area_score += max(points, 0)
        sums.areas[area.code] = (area_score, area_max)
        sums.score += area_score
        sums.maximum += area_max
    return sums


def province_figures(content: Framework, province_id: int, name: str, basis: str, self_entries: Mapping[str, Entry],
                     appraised_entries: Mapping[str, Entry], survey: Mapping[str, float] | None,
                     voided_reason: str = "") -> ProvinceFigures:
    """One province's index from its appraised entries (self lines) and its survey points (survey lines).

    `survey` None or a voided result gives zero on every survey line. Survey points are capped at the line's
    maximum and never negative.
    """
    survey_entries: dict[str, Entry] = {}
    for _area, _criterion, line in content.lines():
        if line.kind == "survey":
            given = 0.0 if voided_reason or survey is None else float(survey.get(line.code, 0.0))
            survey_entries[line.code] = Entry({}, min(max(given, 0.0), line.points))
    self_only = {code: entry for code, entry in appraised_entries.items() if code not in survey_entries}
    everything = {**self_only, **survey_entries}
    part, whole = _totals(content, self_only), _totals(content, everything)
    areas = {}
    for area in content.areas:
        survey_points = sum(_units(survey_entries[line.code].points) for criterion in area.criteria
                            for line in criterion.subcriteria if line.code in survey_entries)
        (appraised, _), (total, maximum) = part.areas[area.code], whole.areas[area.code]
        areas[area.code] = AreaFigure(appraised=appraised / UNIT, survey=survey_points / UNIT, total=total / UNIT,
                                      maximum=maximum / UNIT)
    lines = {}
    for _area, _criterion, line in content.lines():
        own, final = self_entries.get(line.code), everything.get(line.code)
        lines[line.code] = {
            "self": None if own is None else own.points,
            "points": None if final is None else final.points,
            "na": bool(final is not None and final.not_applicable),
        }
    return ProvinceFigures(
        province_id=province_id, name=name, basis=basis, appraised=part.score / UNIT,
        survey=sum(_units(e.points) for e in survey_entries.values()) / UNIT, total=whole.score / UNIT,
        maximum=whole.maximum / UNIT, percent=figure(Fraction(whole.score * 100, whole.maximum))
        if whole.maximum else 0.0, voided_reason=voided_reason, areas=areas, lines=lines)


def rank_all(rows: list[ProvinceFigures]) -> list[ProvinceFigures]:
    """Set each province's rank in total and per area; return the rows in ranking order."""
    ranks = competition_ranks({row.province_id: row.total for row in rows})
    for row in rows:
        row.rank = ranks[row.province_id]
    for code in (rows[0].areas if rows else {}):
        area_ranks = competition_ranks({row.province_id: row.areas[code].total for row in rows})
        for row in rows:
            row.areas[code].rank = area_ranks[row.province_id]
    return sorted(rows, key=lambda row: (row.rank, row.province_id))


# ---------------------------------------------------------------- reading the campaign


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _survey_points(session: Session, campaign_id: int, secret: str) -> dict[int, dict[str, float]]:
    from portal.domain.survey_results import survey_points

    return survey_points(session, campaign_id, secret)


def compute(session: Session, campaign: Campaign, secret: str,
            survey: Mapping[int, Mapping[str, float]] | None = None) -> tuple[list[ProvinceFigures], Inputs]:
    """Every province of the campaign's map with its index, ranked, and the inputs read (a fixed number of
    queries whatever the number of provinces). `survey` replaces the survey results (tests, the benchmark's
    baseline); normally they are read from the counted answers."""
    found = frameworks.current_version(session, campaign)
    if found is None:
        raise IndexUnavailable("Đợt đánh giá chưa có bộ tiêu chí: chưa tính được Chỉ số.")
    content = frameworks.load(found)
    questionnaire = questionnaires.current_version(session, campaign)
    inputs = Inputs(framework_version_id=found.id, questionnaire_version_id=questionnaire.id if questionnaire else None)
    assessments = {row.province_id: row for row in session.exec(
        select(Assessment).where(Assessment.campaign_id == campaign.id))}
    by_assessment = {row.id: row.province_id for row in assessments.values()}
    self_entries: dict[int, dict[str, Entry]] = {}
    last_self: dict[int, datetime] = {}
    of_campaign = select(Assessment.id).where(Assessment.campaign_id == campaign.id)
    # Plain columns, not ORM rows: thousands of lines, read once (the benchmark holds the cost to the bare SQL's).
    for assessment_id, code, points, not_applicable, updated_at in session.exec(
            select(AssessmentScore.assessment_id, AssessmentScore.line_code, AssessmentScore.points,
                   AssessmentScore.not_applicable, AssessmentScore.updated_at)
            .where(col(AssessmentScore.assessment_id).in_(of_campaign))):
        province = by_assessment[assessment_id]
        self_entries.setdefault(province, {})[code] = Entry({}, points, not_applicable)
        last_self[province] = max(last_self.get(province, updated_at), updated_at)
    found_appraisals = {row.province_id: row for row in session.exec(
        select(Appraisal).where(Appraisal.campaign_id == campaign.id))}
    rounds: dict[int, dict[int, dict[str, Entry]]] = {}
    last_appraised: dict[int, datetime] = {}
    for assessment_id, code, round_, points, not_applicable, updated_at in session.exec(
            select(AppraisalScore.assessment_id, AppraisalScore.line_code, AppraisalScore.round,
                   AppraisalScore.points, AppraisalScore.not_applicable, AppraisalScore.updated_at)
            .where(col(AppraisalScore.assessment_id).in_(of_campaign))):
        province = by_assessment[assessment_id]
        rounds.setdefault(province, {1: {}, 2: {}})[round_][code] = Entry({}, points, not_applicable)
        last_appraised[province] = max(last_appraised.get(province, updated_at), updated_at)
    voids = {row.province_id: row for row in session.exec(
        select(IntegrityDecision).where(IntegrityDecision.campaign_id == campaign.id,
                                        IntegrityDecision.kind == VOID_PROVINCE, IntegrityDecision.state == IN_EFFECT)
        .order_by(col(IntegrityDecision.id)))}
    points = survey if survey is not None else _survey_points(session, campaign.id, secret)
    rows = []
    for place in units.map_rows(session, campaign):
        pid = place.province_id
        # A draft counts for nothing: only what the province sent (or held when its deadline locked it).
        mine = assessments.get(pid)
        own = self_entries.get(pid, {}) if mine is not None and (mine.sent_at or mine.locked_at) else {}
        appraisal = found_appraisals.get(pid)
        if appraisal is not None:
            scored = rounds.get(pid, {1: {}, 2: {}})
            entries, _ = appraisals.combine(own, scored[1], scored[2])
            basis = CLOSED if appraisal.state == AppraisalState.CLOSED else APPRAISING
            inputs.appraisals.append([pid, appraisal.id, appraisal.state, appraisal.version,
                                      _iso(last_appraised.get(pid))])
        else:
            entries, basis = own, NOT_APPRAISED if own else NOT_ASSESSED
        if pid in assessments:
            inputs.assessments.append([pid, assessments[pid].id, _iso(last_self.get(pid))])
        decision = voids.get(pid)
        given = {code: figure(value) for code, value in (points.get(pid) or {}).items()}
        inputs.survey[str(pid)] = {} if decision else given
        rows.append(province_figures(content, pid, place.name, basis, own, entries, given,
                                     decision.reason if decision else ""))
    inputs.voided = sorted(decision.id for decision in voids.values())
    return rank_all(rows), inputs


# ---------------------------------------------------------------- storing


def fingerprint(inputs: Inputs, rows: Iterable[ProvinceFigures]) -> str:
    """The same inputs and the same figures give the same fingerprint."""
    figures = sorted([row.province_id, row.total, row.rank, row.survey, row.appraised] for row in rows)
    return hashlib.sha256((inputs.as_json() + json.dumps(figures)).encode()).hexdigest()


def store(session: Session, campaign: Campaign, rows: list[ProvinceFigures], inputs: Inputs, *, actor: User | None,
          trigger: str, now: datetime | None = None) -> IndexComputation:
    """Store a computation and its rows (committed with the caller's transaction)."""
    computation = IndexComputation(campaign_id=campaign.id, computed_at=now or utcnow(),
                                   computed_by_id=actor.id if actor else None, trigger=trigger[:200],
                                   framework_version_id=inputs.framework_version_id,
                                   questionnaire_version_id=inputs.questionnaire_version_id,
                                   inputs=inputs.as_json(), fingerprint=fingerprint(inputs, rows))
    session.add(computation)
    session.flush()
    session.add_all(ProvinceIndex(
        computation_id=computation.id, campaign_id=campaign.id, province_id=row.province_id, basis=row.basis,
        appraised=row.appraised, survey=row.survey, total=row.total, maximum=row.maximum, percent=row.percent,
        rank=row.rank, voided_reason=row.voided_reason,
        areas=json.dumps({code: area.__dict__ for code, area in row.areas.items()}),
        lines=json.dumps(row.lines)) for row in rows)
    return computation


def recompute(session: Session, campaign: Campaign, secret: str, *, actor: User | None, trigger: str,
              survey: Mapping[int, Mapping[str, float]] | None = None, now: datetime | None = None,
              commit: bool = True) -> IndexComputation:
    """Compute the campaign's index and store it (committed unless `commit` is False: the worker's step commits
    it with its operation). When nothing changed since the latest computation (same fingerprint), that one is
    returned and nothing is stored: asking twice stores one. Pages ask through portal/domain/index_recompute.py."""
    rows, inputs = compute(session, campaign, secret, survey)
    latest = latest_computation(session, campaign.id)
    if latest is not None and latest.fingerprint == fingerprint(inputs, rows):
        return latest
    computation = store(session, campaign, rows, inputs, actor=actor, trigger=trigger, now=now)
    if commit:
        session.commit()
    return computation


def latest_computation(session: Session, campaign_id: int) -> IndexComputation | None:
    return session.exec(select(IndexComputation).where(IndexComputation.campaign_id == campaign_id)
                        .order_by(col(IndexComputation.id).desc())).first()


def computation_count(session: Session, campaign_id: int) -> int:
    return session.exec(select(func.count()).select_from(IndexComputation)
                        .where(IndexComputation.campaign_id == campaign_id)).one()


def stored_rows(session: Session, computation: IndexComputation) -> list[ProvinceFigures]:
    """A stored computation's rows, in ranking order, read back into figures."""
    names = {place.province_id: place.name for place in units.map_rows(
        session, session.get(Campaign, computation.campaign_id))}
    rows = []
    for row in session.exec(select(ProvinceIndex).where(ProvinceIndex.computation_id == computation.id)
                            .order_by(col(ProvinceIndex.rank), col(ProvinceIndex.province_id))):
        rows.append(ProvinceFigures(
            province_id=row.province_id, name=names.get(row.province_id, str(row.province_id)), basis=row.basis,
            appraised=row.appraised, survey=row.survey, total=row.total, maximum=row.maximum, percent=row.percent,
            voided_reason=row.voided_reason, rank=row.rank,
            areas={code: AreaFigure(**values) for code, values in json.loads(row.areas).items()},
            lines=json.loads(row.lines)))
    return rows


@dataclass(frozen=True)
class Comparison:
    """A stored computation against a recomputation now: which inputs and which provinces' figures differ."""

    same: bool
    changed_inputs: list[str]
    changed_provinces: list[tuple[str, float, float]]  # name, stored total, total now


INPUT_LABELS = {"framework_version_id": "phiên bản bộ tiêu chí", "questionnaire_version_id": "phiên bản bộ phiếu",
                "appraisals": "thẩm định", "assessments": "điểm tự chấm", "voided": "quyết định hủy kết quả khảo sát",
                "survey": "điểm điều tra xã hội học"}


def _difference(stored_inputs: dict, now_inputs: dict, before: list[ProvinceFigures], after: list[ProvinceFigures],
                same: bool) -> Comparison:
    changed = [INPUT_LABELS[key] for key in INPUT_LABELS if stored_inputs.get(key) != now_inputs.get(key)]
    earlier = {row.province_id: row for row in before}
    moved = [(row.name, earlier[row.province_id].total if row.province_id in earlier else 0.0, row.total)
             for row in after if row.province_id not in earlier or earlier[row.province_id].total != row.total
             or earlier[row.province_id].rank != row.rank]
    return Comparison(same=same, changed_inputs=changed, changed_provinces=moved)


def compare(session: Session, computation: IndexComputation, secret: str,
            survey: Mapping[int, Mapping[str, float]] | None = None) -> Comparison:
    """Recompute (nothing stored) and compare with `computation`: a published figure is reproduced when `same`."""
    campaign = session.get(Campaign, computation.campaign_id)
    rows, inputs = compute(session, campaign, secret, survey)
    return _difference(json.loads(computation.inputs), json.loads(inputs.as_json()),
                       stored_rows(session, computation), rows, fingerprint(inputs, rows) == computation.fingerprint)


def difference(session: Session, before: IndexComputation, after: IndexComputation) -> Comparison:
    """Two stored computations compared (the published one and the latest): cheap, nothing recomputed."""
    return _difference(json.loads(before.inputs), json.loads(after.inputs), stored_rows(session, before),
                       stored_rows(session, after), before.fingerprint == after.fingerprint)
