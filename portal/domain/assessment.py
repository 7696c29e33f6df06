"""A province's self-assessment ("Tự đánh giá, chấm điểm"): line saves, totals, the lock and its exception,
and every value's audit trail.

Each line saves on its own. A save carries the version of the line it was based on; a save based on an
older version (another officer saved the line meanwhile) is refused with both values, never applied over
the other. The deadline is checked on every save, so the lock holds even when the worker is down; the
worker only records when each assessment locked. The ministry may grant one province an exception until
a date.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from portal.domain import audit, framework, notices, units
from portal.domain import versioned_saves as versions
from portal.domain.campaigns import current_campaign, is_past
from portal.domain.dates import parse_date_vn
from portal.domain.framework import Framework, Line
from portal.domain.scoring import MAX_EXPLANATION, Entry, InputError, describe, read_figures, score
from portal.domain.versioned_saves import Outcome, SaveResult, save_versioned
from portal.input_cleaning import storable
from portal.models import (
    Appraisal,
    Assessment,
    AssessmentScore,
    Campaign,
    FrameworkVersion,
    Province,
    ScoreChange,
    User,
    utcnow,
)


class AssessmentClosed(Exception):
    """A save refused because the assessment is locked (deadline passed) or its campaign is not current."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------- reading


def framework_of(session: Session, campaign: Campaign) -> tuple[FrameworkVersion, Framework] | None:
    """The campaign's current framework version and its content; None while the ministry has imported none."""
    version = framework.current_version(session, campaign)
    if version is None:
        return None
    return version, framework.load(version)


def assessment_for(session: Session, campaign: Campaign, province_id: int) -> Assessment | None:
    return session.exec(select(Assessment).where(Assessment.campaign_id == campaign.id,
                                                 Assessment.province_id == province_id)).first()


def get_or_create(session: Session, campaign: Campaign, province_id: int) -> Assessment:
    """The province's assessment in the campaign, made on first visit (committed)."""
    found = assessment_for(session, campaign, province_id)
    if found is not None:
        return found
    row = Assessment(campaign_id=campaign.id, province_id=province_id)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # two tabs opened the page at the same moment
        session.rollback()
        return assessment_for(session, campaign, province_id)
    return row


def score_rows(session: Session, assessment: Assessment) -> dict[str, AssessmentScore]:
    """The saved lines of an assessment by line code."""
    return {row.line_code: row for row in session.exec(
        select(AssessmentScore).where(AssessmentScore.assessment_id == assessment.id))}


def entry_of(row: AssessmentScore) -> Entry:
    return Entry(json.loads(row.figures), row.points, row.not_applicable)


def entries(rows: dict[str, AssessmentScore]) -> dict[str, Entry]:
    return {code: entry_of(row) for code, row in rows.items()}


def history(session: Session, assessment: Assessment, line_code: str) -> list[ScoreChange]:
    """A line's changes (scores, explanations, evidence files), newest first."""
    return list(session.exec(select(ScoreChange).where(ScoreChange.assessment_id == assessment.id,
                                                       ScoreChange.line_code == line_code)
                             .order_by(col(ScoreChange.at).desc(), col(ScoreChange.id).desc())))


# ---------------------------------------------------------------- the deadline and the lock


def deadline_of(assessment: Assessment, campaign: Campaign) -> date:
    """The last day the province may save: the campaign's, or the ministry's exception when later."""
    if assessment.exception_until is not None and assessment.exception_until > campaign.self_assessment_deadline:
        return assessment.exception_until
    return campaign.self_assessment_deadline


def is_open(assessment: Assessment, campaign: Campaign, tz_name: str, now: datetime | None = None) -> bool:
    """Whether saves are accepted now: a current campaign whose deadline (or exception) has not passed, and an
    assessment not sent (a sent one stays as sent until the ministry returns it for correction)."""
    return (campaign.is_current and assessment.sent_at is None
            and not is_past(deadline_of(assessment, campaign), tz_name, now))


def closed_message(assessment: Assessment, campaign: Campaign) -> str:
    if not campaign.is_current:
        return "Đợt đánh giá này đã kết thúc: kết quả tự đánh giá chỉ còn để xem."
    if assessment.sent_at is not None:
        return ("Tỉnh đã gửi kết quả tự đánh giá đến Bộ Nội vụ: kết quả đã khóa, không nhận thêm thay đổi. "
                "Nếu cần sửa, Bộ Nội vụ trả lại để tỉnh chỉnh sửa.")
    day = deadline_of(assessment, campaign)
    what = "hạn ngoại lệ Bộ Nội vụ cho phép" if day != campaign.self_assessment_deadline else "hạn tự đánh giá"
    return (f"Đã hết {what} (23:59 ngày {day:%d/%m/%Y}, giờ Việt Nam): Cổng đã tự khóa, không nhận thêm thay đổi. "
            "Nếu cần, tỉnh gửi đề nghị để Bộ Nội vụ xem xét cho phép ngoại lệ.")


def lock_due(session: Session, tz_name: str, now: datetime | None = None) -> int:
    """Record the lock of every assessment of the current campaign whose deadline has passed (the worker).

    Every province of the campaign's map gets its assessment recorded as locked, begun or not. Returns how many were
    locked now; running it again locks nothing more.
    """
    now = now or utcnow()
    campaign = current_campaign(session)
    if campaign is None or framework.current_version(session, campaign) is None:
        return 0
    if not is_past(campaign.self_assessment_deadline, tz_name, now):
        return 0
    have = {row.province_id: row for row in session.exec(select(Assessment).where(
        Assessment.campaign_id == campaign.id))}
    for province_id in units.province_ids(session, campaign):  # the provinces the campaign's map assesses
        if province_id not in have:
            row = Assessment(campaign_id=campaign.id, province_id=province_id)
            session.add(row)
            have[province_id] = row
    session.flush()
    locked = 0
    for row in have.values():
        if row.locked_at is None and is_past(deadline_of(row, campaign), tz_name, now):
            # Conditional, so two workers (or a retry) record one lock, at the first moment.
            done = session.exec(update(Assessment).where(Assessment.id == row.id, Assessment.locked_at.is_(None))
                                .values(locked_at=now).execution_options(synchronize_session=False))
            if done.rowcount == 1:
                locked += 1
                audit.record(session, None, "Khóa kết quả tự đánh giá", province_id=row.province_id,
                             detail=f"{campaign.name}: hết hạn 23:59 ngày {deadline_of(row, campaign):%d/%m/%Y}")
    session.commit()
    return locked


def grant_exception(session: Session, actor: User, assessment: Assessment, campaign: Campaign, until_text: str,
                    reason_text: str, tz_name: str, now: datetime | None = None) -> dict[str, str]:
    """Let one province save until the end of `until` (audited; the province gets a notice).

    Returns the errors by field, nothing saved when any.
    """
    errors: dict[str, str] = {}
    until = parse_date_vn(until_text or "")
    reason = storable(unicodedata.normalize("NFC", (reason_text or "").strip()))[:1000]
    if until is None:
        errors["until"] = "Ngày hết hạn ngoại lệ: vui lòng nhập ngày theo dạng dd/mm/yyyy."
    elif until <= campaign.self_assessment_deadline:
        errors["until"] = (f"Ngày hết hạn ngoại lệ phải sau hạn chung {campaign.self_assessment_deadline:%d/%m/%Y}.")
    elif is_past(until, tz_name, now):
        errors["until"] = "Ngày hết hạn ngoại lệ đã qua; vui lòng chọn một ngày từ hôm nay trở đi."
    if not reason:
        errors["reason"] = "Vui lòng ghi lý do cho phép ngoại lệ (được ghi vào nhật ký và báo cho tỉnh)."
    if not campaign.is_current:
        errors["until"] = "Đợt đánh giá này đã kết thúc."
    elif assessment.id is not None and session.exec(select(Appraisal.id).where(
            Appraisal.assessment_id == assessment.id)).first() is not None:
        # Reopening would let the scores change under the appraisers' (an unsent assessment is appraised as locked).
        errors["until"] = "Bộ Nội vụ đã bắt đầu thẩm định kết quả của tỉnh này, không cho phép ngoại lệ được nữa."
    if errors:
        return errors
    before = assessment.exception_until
    assessment.exception_until = until
    assessment.exception_reason = reason
    assessment.exception_by_id = actor.id
    assessment.exception_at = now or utcnow()
    assessment.locked_at = None  # open again until the exception's day; the worker locks it after
    session.add(assessment)
    audit.record(session, actor, "Cho phép ngoại lệ hạn tự đánh giá", province_id=assessment.province_id,
                 detail=(f"{campaign.name}: được chấm điểm đến hết ngày {until:%d/%m/%Y}"
                         + (f" (trước đó: {before:%d/%m/%Y})" if before else "")), reason=reason)
    notices.post_system_notice(
        session, assessment.province_id, "Bộ Nội vụ cho phép ngoại lệ hạn tự đánh giá",
        f"Tỉnh được tiếp tục tự đánh giá, chấm điểm đến hết 23:59 ngày {until:%d/%m/%Y} (giờ Việt Nam). "
        f"Lý do: {reason}", commit=False)
    session.commit()
    return {}


# ---------------------------------------------------------------- saving a line


def _clean_explanation(text: str) -> str:
    text = storable(unicodedata.normalize("NFC", text or "")).replace("\r\n", "\n").replace("\u200b", "")
    return text.strip()


def save_line(session: Session, user: User, assessment: Assessment, campaign: Campaign, version: FrameworkVersion,
              content: Framework, line: Line, form: dict[str, str], tz_name: str,
              now: datetime | None = None) -> SaveResult:
    """Save one line from its form: figures by the line's kind, an explanation, the version it was based on.

    Raises AssessmentClosed after the deadline. A bad figure gives `error` (nothing saved); a save based
    on a stale version gives `conflict` with both values (nothing saved). A save freezes the framework.
    """
    if not is_open(assessment, campaign, tz_name, now):
        raise AssessmentClosed(closed_message(assessment, campaign))
    result = SaveResult(submitted=dict(form))
    explanation = _clean_explanation(form.get("explanation", ""))
    if len(explanation) > MAX_EXPLANATION:
        result.error = f"Phần giải trình dài quá {MAX_EXPLANATION} ký tự; vui lòng rút gọn."
        return result
    based_on = versions.based_on(form)
    if based_on is None:
        result.error = versions.MISSING_VERSION
        return result
    try:
        figures = read_figures(line, form)
    except InputError as problem:
        result.error = str(problem)
        return result
    entry = score(line, figures)
    moment = now or utcnow()
    row = session.exec(select(AssessmentScore).where(AssessmentScore.assessment_id == assessment.id,
                                                     AssessmentScore.line_code == line.code)).first()
    values = {"figures": json.dumps(figures, ensure_ascii=False, sort_keys=True), "points": entry.points,
              "not_applicable": entry.not_applicable, "explanation": explanation, "updated_at": moment,
              "updated_by_id": user.id}
    old_text, old_explanation = (describe(line, entry_of(row)), row.explanation) if row else ("(chưa chấm)", "")
    outcome, row = save_versioned(session, row, based_on, values, new_row=AssessmentScore, compared=(
        "figures", "explanation"), keys={"assessment_id": assessment.id, "province_id": assessment.province_id,
                                         "line_code": line.code})
    if outcome == Outcome.STALE:
        return _conflict(session, assessment, line, entry, explanation, result)
    if outcome == Outcome.UNCHANGED:
        result.row = row
        return result  # nothing changed: no new version, nothing in the trail
    new_text = describe(line, entry)
    if explanation != old_explanation:
        old_text += f" · giải trình: “{_short(old_explanation)}”" if old_explanation else ""
        new_text += f" · giải trình: “{_short(explanation)}”" if explanation else " · xóa giải trình"
    session.add(ScoreChange(assessment_id=assessment.id, line_code=line.code, score_id=row.id,
                            province_id=assessment.province_id, at=moment, actor_id=user.id,
                            actor_name=user.full_name or user.username, old_value=old_text, new_value=new_text))
    framework.freeze(session, version, moment)
    session.commit()
    result.row, result.changed = row, True
    return result


def _short(text: str, length: int = 200) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _conflict(session: Session, assessment: Assessment, line: Line, entry: Entry, explanation: str,
              result: SaveResult) -> SaveResult:
    current = session.exec(select(AssessmentScore).where(AssessmentScore.assessment_id == assessment.id,
                                                         AssessmentScore.line_code == line.code)).first()
    if current is None:  # a version from a form of another assessment: nothing to show but a reload
        result.error = versions.STALE_FORM
        return result
    result.conflict = versions.Conflict(
        theirs=describe(line, entry_of(current)), theirs_explanation=current.explanation,
        theirs_by=versions.author_name(session, current), theirs_at=current.updated_at,
        yours=describe(line, entry), yours_explanation=explanation, version=current.version)
    result.row = current
    return result


# ---------------------------------------------------------------- the ministry's overview


@dataclass(frozen=True)
class ProvinceRow:
    province: Province
    assessment: Assessment | None
    answered: int
    to_answer: int
    score: float
    maximum: float
    deadline: date
    past_deadline: bool = False

    @property
    def progress(self) -> int:
        return round(100 * self.answered / self.to_answer) if self.to_answer else 0

    @property
    def state(self) -> str:
        """chưa bắt đầu / đang chấm / đã gửi / khóa khi chưa gửi."""
        if self.assessment is not None and self.assessment.sent_at is not None:
            return "đã gửi"
        if self.past_deadline:
            return "khóa khi chưa gửi"
        return "đang chấm" if self.answered else "chưa bắt đầu"


def overview(session: Session, campaign: Campaign, content: Framework, tz_name: str = "Asia/Ho_Chi_Minh",
             now: datetime | None = None) -> list[ProvinceRow]:
    """Every province of the campaign's map with how far its self-assessment has come and its state (one query for
    all scores)."""
    from portal.domain.scoring import totals

    assessments = {row.province_id: row for row in session.exec(
        select(Assessment).where(Assessment.campaign_id == campaign.id))}
    by_assessment: dict[int, dict[str, Entry]] = {}
    if assessments:
        for row in session.exec(select(AssessmentScore).where(
                col(AssessmentScore.assessment_id).in_([a.id for a in assessments.values()]))):
            by_assessment.setdefault(row.assessment_id, {})[row.line_code] = entry_of(row)
    rows = []
    empty = totals(content, {})
    for province in units.provinces_of(session, campaign):
        assessment = assessments.get(province.id)
        figures = totals(content, by_assessment.get(assessment.id, {})) if assessment else empty
        deadline = deadline_of(assessment, campaign) if assessment else campaign.self_assessment_deadline
        rows.append(ProvinceRow(province, assessment, figures.overall.answered, figures.overall.to_answer,
                                figures.overall.score, figures.overall.maximum, deadline,
                                is_past(deadline, tz_name, now)))
    return rows

