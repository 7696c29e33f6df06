"""What the survey-results pages show: response rates per province and group, the answers per question, the survey
points of each line, and the parent ministries' results from the "bộ chủ quản" forms.

All figures come from the counted answers (survey_results.tally); forms voided by an integrity decision count
nowhere, and each page says how many there were. A group (or a ministry) with fewer counted forms than the minimum
(PORTAL_RESULTS_MIN_ANSWERS) shows "Quá ít phiếu để báo cáo" instead of any figure about its answers, and so does a
question fewer than that many people answered: a figure behind two or three answers could name the people.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import func
from sqlmodel import Session, col, select

from portal.domain import framework as fw
from portal.domain import national_progress, questionnaires, units
from portal.domain import survey_mapping as mapping
from portal.domain.integrity_decisions import counted_answers_query, is_province_voided
from portal.domain.questionnaires import Question, Questionnaire
from portal.domain.survey_results import Tally, TallyKey, answer_versions, current_framework, line_sums, tally
from portal.models import Answer, Campaign, Ministry, QuestionnaireVersion, RespondentGroup

TOO_FEW = "Quá ít phiếu để báo cáo"


# ---------------------------------------------------------------- forms expected, counted, voided


@dataclass
class Rate:
    """Forms expected (invitations' forms, as the progress pages count them), counted (submitted, not voided) and
    voided (submitted, then voided by an integrity decision)."""

    expected: int = 0
    counted: int = 0
    voided: int = 0

    @property
    def percent(self) -> float | None:
        return 100.0 * (self.counted + self.voided) / self.expected if self.expected else None

    def add(self, other: Rate) -> None:
        self.expected += other.expected
        self.counted += other.counted
        self.voided += other.voided


def _groups(session: Session, campaign_id: int) -> list[RespondentGroup]:
    return list(session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign_id)
                             .order_by(RespondentGroup.number)))


def rates(session: Session, campaign_id: int, secret: str, *,
          province_id: int | None = None) -> dict[tuple[int, str], Rate]:
    """(province id, group code) -> forms expected, counted and voided, in three grouped queries."""
    codes = {group.id: group.code for group in _groups(session, campaign_id)}
    found: dict[tuple[int, str], Rate] = defaultdict(Rate)
    table, _ = national_progress.national_table(session, campaign_id)
    for row in table:
        if province_id is None or row.province_id == province_id:
            for group_id, (_submitted, expected) in row.by_group.items():
                found[(row.province_id, codes.get(group_id, ""))].expected += expected
    counted = counted_answers_query(session, campaign_id, secret, province_id=province_id).whereclause
    submitted = select(Answer.province_id, Answer.group_code, func.count()).where(
        Answer.campaign_id == campaign_id, Answer.submitted == True)  # noqa: E712
    if province_id is not None:
        submitted = submitted.where(Answer.province_id == province_id)
    for province, group, count in session.exec(submitted.group_by(Answer.province_id, Answer.group_code)):
        found[(province, group)].voided += count
    for province, group, count in session.exec(select(Answer.province_id, Answer.group_code, func.count())
                                               .where(counted).group_by(Answer.province_id, Answer.group_code)):
        found[(province, group)].counted += count
        found[(province, group)].voided -= count
    return found


# ---------------------------------------------------------------- answers per question


@dataclass
class OptionCount:
    value: str
    label: str
    score: float | None
    count: int
    percent: float


@dataclass
class QuestionResult:
    """The answers to one question of one form: how many answered, per option, and the mean option score."""

    form_code: str
    form_name: str
    question: Question
    answered: int
    options: list[OptionCount]
    mean: float | None  # mean of the scored answers' option scores (None: unscored question, or none scored)
    scored: int
    too_few: bool
    # Held back although enough answered: a survey line pools it with a group too small to report, and the line's
    # points (published with the index) less this figure would give that group's answers away.
    shielded: bool = False

    @property
    def top(self) -> float | None:
        scores = [o.score for o in self.question.options if o.score is not None]
        return max(scores) if scores else None


def question_results(result: Tally, keys: list[TallyKey], min_answers: int, questionnaire: Questionnaire | None,
                     ministry_name: str = "") -> list[QuestionResult]:
    """The choice questions the keys' answers cover, in the questionnaire's order, each pooled over versions."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    answered: Counter[tuple[str, str]] = Counter()
    sums: dict[tuple[str, str], list] = defaultdict(lambda: [Fraction(0), 0])
    questions: dict[tuple[str, str], Question] = {}
    for key in keys:
        question = result.question(key)
        if question is None:
            continue
        ref = (key.form_code, key.question_id)
        questions.setdefault(ref, question)
        counts[ref].update(result.counts[key])
        answered[ref] += result.answered[key]
        scores = {o.value: o.score for o in question.options}
        for value, count in result.counts[key].items():
            score = scores.get(value)
            if score is not None and question.kind == "single":
                sums[ref][0] += Fraction(str(score)) * count
                sums[ref][1] += count
    order = _question_order(questionnaire, result)
    rows = []
    for ref in sorted(questions, key=lambda r: order.get(r, (len(order), r))):
        question = (questionnaire.form(ref[0]).question(ref[1]) if questionnaire and questionnaire.form(ref[0])
                    else None) or questions[ref]
        total, scored = sums[ref]
        base = answered[ref]  # a multiple choice's option: the share of the forms that chose it
        options = [OptionCount(o.value, o.label, o.score, counts[ref][o.value],
                               100.0 * counts[ref][o.value] / base if base else 0.0) for o in question.options]
        known = {o.value for o in question.options}
        options += [OptionCount(value, f"{value} (phương án không còn trong bộ phiếu)", None, count,
                                100.0 * count / base if base else 0.0)
                    for value, count in sorted(counts[ref].items()) if value not in known]
        form = questionnaire.form(ref[0]) if questionnaire else None
        name = form.for_ministry(ministry_name).name if form else ref[0]
        rows.append(QuestionResult(ref[0], name, question, answered[ref], options,
                                   float(total / scored) if scored else None, scored, answered[ref] < min_answers))
    return rows


def _question_order(questionnaire: Questionnaire | None, result: Tally) -> dict[tuple[str, str], tuple[int, int]]:
    order: dict[tuple[str, str], tuple[int, int]] = {}
    sources = ([questionnaire] if questionnaire else []) + list(result.questionnaires.values())
    for source in sources:
        for f, form in enumerate(source.forms):
            for q, question in enumerate(form.questions):
                order.setdefault((form.code, question.id), (f, q))
    return order


def _current_questionnaire(session: Session, campaign: Campaign) -> Questionnaire | None:
    version = questionnaires.current_version(session, campaign)
    return questionnaires.load(version) if version is not None else None


# ---------------------------------------------------------------- survey lines


@dataclass
class LineResult:
    code: str
    title: str
    maximum: float
    rule: str
    questions: list[str]
    scored: int
    points: float


def question_label(questionnaire: Questionnaire | None, group_names: dict[str, str], form_code: str,
                   question_id: str) -> str:
    """A mapped question as people name it: "câu c2_1, phiếu của Đại biểu HĐND …" (the file's form codes are
    keys for the portal, not names for people)."""
    form = questionnaire.form(form_code) if questionnaire else None
    if form is None:
        return f"câu {question_id} (phiếu không còn trong bộ phiếu)"
    groups = ", ".join(group_names.get(code, code) for code in form.groups)
    return f"câu {question_id}, {form.name.lower()} của {groups}"


def line_results(result: Tally, framework: fw.Framework | None, keys: list[TallyKey],
                 questionnaire: Questionnaire | None = None,
                 group_names: dict[str, str] | None = None) -> list[LineResult]:
    rows = []
    for line in mapping.survey_lines(framework) if framework else []:
        sums = line_sums(result, line, keys)
        labels = [question_label(questionnaire, group_names or {}, form_code, question_id)
                  for form_code, question_id in (line.survey.references if line.survey else [])]
        rows.append(LineResult(line.code, line.title, line.points,
                               fw.SURVEY_RULES[line.survey.rule] if line.survey else "", labels, sums.scored,
                               sums.points(line)))
    return rows


def mapping_problems(session: Session, campaign: Campaign, framework: fw.Framework | None) -> list[str]:
    """What keeps the framework's survey lines from being computed with the current questionnaire set."""
    if framework is None:
        return ["Đợt đánh giá chưa có bộ tiêu chí, nên chưa tính được điểm điều tra xã hội học."]
    questionnaire = _current_questionnaire(session, campaign)
    problems = mapping.unmapped_lines(framework)
    if questionnaire is None:
        return [*problems, "Đợt đánh giá chưa có bộ phiếu khảo sát."]
    return [*problems, *mapping.reference_problems(framework, questionnaire)]


# ---------------------------------------------------------------- one province


@dataclass
class GroupResult:
    code: str
    name: str
    rate: Rate
    too_few: bool
    questions: list[QuestionResult] = field(default_factory=list)


@dataclass
class ProvinceSurveyResults:
    campaign: Campaign
    province_id: int
    province_name: str
    min_answers: int
    voided_province: bool
    groups: list[GroupResult]
    total: Rate
    lines: list[LineResult]
    problems: list[str]

    @property
    def points(self) -> float:
        return float(sum(Fraction(str(line.points)) for line in self.lines))


def province_survey_results(session: Session, campaign_id: int, province_id: int, secret: str,
                            min_answers: int) -> ProvinceSurveyResults:
    """One province's survey results: per respondent group its forms and, unless too few, the answers to every
    choice question; and the survey points of every survey line. LookupError when the campaign does not assess
    the province. The caller decides who may see it (the ministry always; the province once published)."""
    campaign = session.get(Campaign, campaign_id)
    entry = units.map_entry(session, campaign, province_id) if campaign else None
    if campaign is None or entry is None:
        raise LookupError(f"province {province_id} is not in campaign {campaign_id}")
    result = tally(session, campaign_id, secret, province_id=province_id)
    questionnaire = _current_questionnaire(session, campaign)
    framework = current_framework(session, campaign)
    found = rates(session, campaign_id, secret, province_id=province_id)
    keys = [key for key in result.counts if key.province_id == province_id]
    groups, total = [], Rate()
    campaign_groups = _groups(session, campaign_id)
    hidden = {group.code for group in campaign_groups
              if 0 < found.get((province_id, group.code), Rate()).counted < min_answers}
    shielded = _shielded_questions(framework, [key for key in keys if key.group_code in hidden])
    for group in campaign_groups:
        rate = found.get((province_id, group.code), Rate())
        total.add(rate)
        too_few = rate.counted < min_answers
        mine = [key for key in keys if key.group_code == group.code]
        questions = [] if too_few else question_results(result, mine, min_answers, questionnaire)
        for question in questions:
            if (question.form_code, question.question.id) in shielded:
                question.too_few = question.shielded = True
        groups.append(GroupResult(group.code, group.name, rate, too_few, questions))
    return ProvinceSurveyResults(campaign, province_id, entry.name, min_answers,
                                 is_province_voided(session, campaign_id, province_id), groups, total,
                                 line_results(result, framework, keys, questionnaire,
                                              {group.code: group.name for group in campaign_groups}),
                                 mapping_problems(session, campaign, framework))


def _shielded_questions(framework: fw.Framework | None, hidden_keys: list[TallyKey]) -> set[tuple[str, str]]:
    """The questions of every survey line that pools answers of a group too small to report (`hidden_keys`): no
    other group's figures on them are shown either, since the line's points less those figures would be the small
    group's (secondary suppression)."""
    answered_by_hidden = {(key.form_code, key.question_id) for key in hidden_keys}
    shielded: set[tuple[str, str]] = set()
    for line in mapping.survey_lines(framework) if framework else []:
        references = set(line.survey.references) if line.survey else set()
        if references & answered_by_hidden:
            shielded |= references
    return shielded


# ---------------------------------------------------------------- the national table


@dataclass
class ProvinceRow:
    province_id: int
    name: str
    by_group: dict[str, Rate]
    total: Rate
    voided_province: bool
    points: float


@dataclass
class NationalResults:
    groups: list[RespondentGroup]
    rows: list[ProvinceRow]
    total: Rate
    by_group: dict[str, Rate]
    survey_maximum: float
    problems: list[str]


def national_results(session: Session, campaign: Campaign, secret: str) -> NationalResults:
    """Every province of the campaign: forms expected, counted and voided per group, and its survey points."""
    from portal.domain.integrity_decisions import voided_provinces
    from portal.domain.survey_results import points_from_tally

    groups = _groups(session, campaign.id)
    found = rates(session, campaign.id, secret)
    framework = current_framework(session, campaign)
    provinces = units.map_rows(session, campaign)
    mapped = {ref for line in mapping.survey_lines(framework) if line.survey
              for ref in line.survey.references} if framework else set()
    points = (points_from_tally(tally(session, campaign.id, secret, only=mapped, by_group=False), framework,
                                [p.province_id for p in provinces]) if framework else {})
    voided = voided_provinces(session, campaign.id)
    rows, total = [], Rate()
    by_group: dict[str, Rate] = defaultdict(Rate)
    for entry in provinces:
        mine = {group.code: found.get((entry.province_id, group.code), Rate()) for group in groups}
        row_total = Rate()
        for code, rate in mine.items():
            row_total.add(rate)
            by_group[code].add(rate)
        total.add(row_total)
        rows.append(ProvinceRow(entry.province_id, entry.name, mine, row_total, entry.province_id in voided,
                                float(sum(Fraction(str(v)) for v in points.get(entry.province_id, {}).values()))))
    maximum = float(sum(Fraction(str(line.points)) for line in mapping.survey_lines(framework))) if framework else 0.0
    return NationalResults(groups, rows, total, dict(by_group), maximum,
                           mapping_problems(session, campaign, framework))


# ---------------------------------------------------------------- the parent ministries


@dataclass
class MinistryResult:
    code: str
    name: str
    forms: int
    too_few: bool
    questions: list[QuestionResult]


def ministry_results(session: Session, campaign_id: int, secret: str, min_answers: int) -> list[MinistryResult]:
    """The "bộ chủ quản" forms of every province, aggregated per parent ministry (ministries in name order);
    a ministry with fewer counted forms than `min_answers` shows no figure about its answers."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(f"no campaign {campaign_id}")
    questionnaire = _current_questionnaire(session, campaign)
    sources = [*answer_versions(session, campaign_id).values(), *([questionnaire] if questionnaire else [])]
    ministry_forms = {form.code for source in sources for form in source.forms if form.target == "ministry"}
    if not ministry_forms:
        return []
    result = tally(session, campaign_id, secret, only={(form.code, question.id) for source in sources
                                                       for form in source.forms if form.code in ministry_forms
                                                       for question in form.questions})
    counted = counted_answers_query(session, campaign_id, secret).whereclause
    forms = dict(session.exec(select(Answer.ministry_code, func.count())
                              .where(counted, col(Answer.form_code).in_(sorted(ministry_forms)),
                                     col(Answer.ministry_code).is_not(None))
                              .group_by(Answer.ministry_code)).all())
    names = {m.code: m.name for m in session.exec(select(Ministry).where(col(Ministry.code).in_(sorted(forms))))}
    by_ministry: dict[str, list[TallyKey]] = defaultdict(list)
    for key in result.counts:
        if key.ministry_code and key.form_code in ministry_forms:
            by_ministry[key.ministry_code].append(key)
    rows = []
    for code, count in forms.items():
        name = names.get(code, code)
        too_few = count < min_answers
        rows.append(MinistryResult(code, name, count, too_few, [] if too_few else question_results(
            result, by_ministry.get(code, []), min_answers, questionnaire, name)))
    return sorted(rows, key=lambda row: (row.name, row.code))


def version_labels(session: Session, campaign_id: int) -> dict[int, str]:
    """Questionnaire version id -> "Phiên bản 2" (for the exports)."""
    return {v.id: f"Phiên bản {v.version}" for v in session.exec(
        select(QuestionnaireVersion).where(QuestionnaireVersion.campaign_id == campaign_id)) if v.id is not None}
