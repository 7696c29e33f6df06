"""Survey results (kết quả điều tra xã hội học): answer tallies, and the survey points of the framework's survey lines.

Everything here is computed from the answers that count (integrity_decisions.counted_answers_query: submitted, of
no voided province, of no voided form). The database does the heavy part: one grouped query explodes each answer's
JSON into (question, value) pairs of the choice questions only and counts them per province, respondent group,
parent ministry, form and questionnaire version (`tally`). 50,000 forms give a few thousand counted rows, so nothing
grows with the number of forms in Python. The per-option scores of each questionnaire version then turn the counts
into means, shares and points.

Points: scoring.py computes a line's points exactly (fractions) and never rounds a kind's result, and the portal
shows points with two decimals (framework.format_points). A survey line's points are a ratio that rarely ends, so
they are rounded here, once, half up to two decimals: the figure a page shows is the figure the index adds.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from sqlalchemy import JSON, and_, cast, func, or_, true
from sqlmodel import Session, col, select

from portal.domain import framework as fw
from portal.domain import questionnaires, units
from portal.domain.framework import Framework, Line
from portal.domain.integrity_decisions import counted_answers_query
from portal.domain.questionnaires import Question, Questionnaire
from portal.domain.survey_mapping import question_problem, survey_lines
from portal.models import Answer, Campaign, QuestionnaireVersion

POINTS_PLACES = Decimal("0.01")
CHOICE_KINDS = ("single", "multiple")


def round_points(value: Fraction | float) -> float:
    """Points rounded half up to two decimals (see the module's docstring)."""
    exact = Fraction(value) if not isinstance(value, Fraction) else value
    decimal = Decimal(exact.numerator) / Decimal(exact.denominator)
    return float(decimal.quantize(POINTS_PLACES, rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------- the tally


@dataclass(frozen=True)
class TallyKey:
    """Whose answers a count is about: a province's group, on one form of one questionnaire version."""

    province_id: int
    group_code: str
    ministry_code: str | None
    form_code: str
    version_id: int
    question_id: str


@dataclass
class Tally:
    """Counted answers by key and value: `counts[key][value]` answers chose that value (a multiple-choice
    question counts each option chosen; `answered[key]` is the number of forms that answered it)."""

    counts: dict[TallyKey, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    answered: Counter[TallyKey] = field(default_factory=Counter)
    questionnaires: dict[int, Questionnaire] = field(default_factory=dict)

    def question(self, key: TallyKey) -> Question | None:
        questionnaire = self.questionnaires.get(key.version_id)
        form = questionnaire.form(key.form_code) if questionnaire else None
        return form.question(key.question_id) if form else None


def answer_versions(session: Session, campaign_id: int) -> dict[int, Questionnaire]:
    """The questionnaire versions the campaign's answers answered, by id (few: one per launch, at most a handful)."""
    ids = select(Answer.questionnaire_version_id).where(Answer.campaign_id == campaign_id).distinct()
    rows = session.exec(select(QuestionnaireVersion).where(col(QuestionnaireVersion.id).in_(ids)))
    return {row.id: questionnaires.load(row) for row in rows if row.id is not None}


def _exploded(session: Session):
    """The table-valued function that turns an answer's JSON object into (key, value) rows, per dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return func.json_each_text(cast(Answer.answers, JSON)).table_valued("key", "value").alias("pairs")
    return func.json_each(Answer.answers).table_valued("key", "value").alias("pairs")


def tally(session: Session, campaign_id: int, secret: str, *, province_id: int | None = None,
          only: Iterable[tuple[str, str]] | None = None, by_group: bool = True) -> Tally:
    """Count the counted answers to every choice question (or only to the (form code, question id) pairs `only`
    names), grouped in the database (see the module's docstring). Without `by_group` the counts are per province
    only (keys with group "" and no ministry): fewer, narrower rows for the database to sort."""
    result = Tally(questionnaires=answer_versions(session, campaign_id))
    choice: dict[str, set[str]] = defaultdict(set)
    wanted_pairs = set(only) if only is not None else None
    for questionnaire in result.questionnaires.values():
        for form in questionnaire.forms:
            choice[form.code] |= {q.id for q in form.questions if q.kind in CHOICE_KINDS
                                  and (wanted_pairs is None or (form.code, q.id) in wanted_pairs)}
    choice = {code: ids for code, ids in choice.items() if ids}
    if not choice:
        return result
    counted = counted_answers_query(session, campaign_id, secret, province_id=province_id).whereclause
    pairs = _exploded(session)
    # Only the choice questions of each form: a text answer would make every free sentence its own group.
    wanted = or_(*[and_(Answer.form_code == code, pairs.c.key.in_(sorted(ids))) for code, ids in choice.items()])
    who = (Answer.group_code, Answer.ministry_code) if by_group else ()
    columns = (Answer.province_id, *who, Answer.form_code, Answer.questionnaire_version_id, pairs.c.key,
               pairs.c.value)
    # The form filter stands alone too, so the database skips other forms' answers before exploding them.
    statement = (select(*columns, func.count()).select_from(Answer).join(pairs, true())
                 .where(counted, col(Answer.form_code).in_(sorted(choice)), wanted).group_by(*columns))
    for row in session.exec(statement):
        province, group, ministry = (row[0], row[1], row[2]) if by_group else (row[0], "", None)
        form_code, version_id, question_id, value, count = row[-5:]
        key = TallyKey(province, group, ministry, form_code, version_id, str(question_id))
        for chosen in _values(value):
            result.counts[key][chosen] += count
        result.answered[key] += count
    return result


def _values(value: object) -> list[str]:
    """What one answer chose: one value, or each value of a multiple choice (stored as a JSON list)."""
    if value is None:
        return []
    text = str(value)
    if text.startswith("["):
        try:
            chosen = json.loads(text)
        except ValueError:
            return [text]
        return [str(item) for item in chosen] if isinstance(chosen, list) else [text]
    return [text]


# ---------------------------------------------------------------- scores and points


def top_score(question: Question) -> float | None:
    scores = [option.score for option in question.options if option.score is not None]
    return max(scores) if scores else None


def top_two_scores(question: Question) -> set[float]:
    """The two highest distinct scores of the question's options ("share_top" counts answers at these)."""
    return set(sorted({o.score for o in question.options if o.score is not None}, reverse=True)[:2])


@dataclass
class LineSums:
    """What a survey line's rule needs from the answers: scored answers, their sum scaled to the question's top
    score, and how many were at the top two scores."""

    scored: int = 0
    scaled: Fraction = Fraction(0)
    at_top: int = 0

    def add(self, question: Question, values: Counter[str]) -> None:
        scores = {option.value: option.score for option in question.options}
        top = top_score(question)
        best = top_two_scores(question)
        if not top:
            return
        for value, count in values.items():
            score = scores.get(value)
            if score is None:  # "không biết", or a value the version does not offer: no score, not counted
                continue
            self.scored += count
            self.scaled += Fraction(str(score)) / Fraction(str(top)) * count
            self.at_top += count if score in best else 0

    def points(self, line: Line) -> float:
        if not self.scored:
            return 0.0
        rule = line.survey.rule if line.survey else "mean_scaled"
        share = Fraction(self.at_top, self.scored) if rule == "share_top" else self.scaled / self.scored
        return round_points(share * Fraction(str(line.points)))


def line_sums(tally_: Tally, line: Line, keys: Iterable[TallyKey]) -> LineSums:
    """The sums of `line`'s questions over the tally's `keys` (a province's, or a group's)."""
    sums = LineSums()
    wanted = set(line.survey.references) if line.survey else set()
    for key in keys:
        if (key.form_code, key.question_id) not in wanted:
            continue
        questionnaire = tally_.questionnaires.get(key.version_id)
        if questionnaire is None or question_problem(questionnaire, key.form_code, key.question_id,
                                                     line.survey.rule if line.survey else "mean_scaled"):
            continue
        question = tally_.question(key)
        if question is not None:
            sums.add(question, tally_.counts[key])
    return sums


def current_framework(session: Session, campaign: Campaign) -> Framework | None:
    version = fw.current_version(session, campaign)
    return fw.load(version) if version is not None else None


def points_from_tally(tally_: Tally, framework: Framework, province_ids: Iterable[int]) -> dict[int, dict[str, float]]:
    """province id -> {survey line code -> points} from a tally (every province and line present)."""
    by_province: dict[int, list[TallyKey]] = defaultdict(list)
    for key in tally_.counts:
        by_province[key.province_id].append(key)
    lines = survey_lines(framework)
    return {province: {line.code: line_sums(tally_, line, by_province.get(province, ())).points(line)
                       for line in lines}
            for province in sorted(province_ids)}


def survey_points(session: Session, campaign_id: int, secret: str) -> dict[int, dict[str, float]]:
    """province_id -> {survey sub-criterion code -> points}, every province of the campaign present, every survey
    line of the campaign's current framework present (0.0 when no counted answer, or when the line has no usable
    question: the survey-results page reports those); computed from counted answers only
    (integrity_decisions.counted_answers_query: submitted, not voided), so a voided province gets 0.0 everywhere.

    A line's rule (framework.SURVEY_RULES) pools the scored answers of all its questions in the province, every
    respondent group together: "mean_scaled" is the mean of (option score / the question's top score) × the line's
    points; "share_top" the share of scored answers at the question's two highest scores × the line's points.
    Answers without a score ("không biết") count in neither numerator nor denominator. Each answer is read with the
    questionnaire version it answered. Points are rounded half up to two decimals (see the module's docstring).
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(f"no campaign {campaign_id}")
    provinces = units.province_ids(session, campaign)
    framework = current_framework(session, campaign)
    if framework is None:
        return {province: {} for province in sorted(provinces)}
    # Only the questions the lines name: the database then groups a fraction of the answers' pairs.
    mapped = {ref for line in survey_lines(framework) if line.survey for ref in line.survey.references}
    return points_from_tally(tally(session, campaign_id, secret, only=mapped, by_group=False), framework, provinces)


def province_survey_results(session: Session, campaign_id: int, province_id: int, secret: str, min_answers: int):
    """One province's survey results per group (survey_report.province_survey_results), rendered by
    templates/results/_province_survey.html as `survey`."""
    from portal.domain.survey_report import province_survey_results as build

    return build(session, campaign_id, province_id, secret, min_answers)
