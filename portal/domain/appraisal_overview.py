"""The ministry's overview of every province's self-assessment and appraisal, and its .xlsx export.

Each row adds to the self-assessment's row (portal/domain/assessment.py `overview`) the appraisal's state, the
appraised score (running while the appraisal goes on: round 2 where given, else round 1, else the self score) and
the late flags: sent after the general deadline (under the ministry's exception), or locked unsent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from portal.domain import appraisal as appraisals
from portal.domain import assessment as assessments
from portal.domain.campaigns import end_of_day_utc
from portal.domain.framework import Framework
from portal.domain.scoring import Entry, totals
from portal.domain.spreadsheet_exports import export_rows
from portal.models import Appraisal, AppraisalScore, AppraisalState, Campaign


@dataclass(frozen=True)
class OverviewRow:
    base: assessments.ProvinceRow
    appraisal: Appraisal | None
    appraised: float | None  # None before any appraisal
    sent_late: bool
    locked_unsent: bool

    @property
    def state(self) -> str:
        """chưa bắt đầu / đang chấm / đã gửi / khóa khi chưa gửi / đang thẩm định / đã thẩm định."""
        if self.appraisal is not None:
            return "đã thẩm định" if self.appraisal.state == AppraisalState.CLOSED else "đang thẩm định"
        return self.base.state

    @property
    def flags(self) -> list[str]:
        return (["gửi sau hạn chung"] if self.sent_late else []) + (["khóa khi chưa gửi"] if self.locked_unsent else [])


def overview(session: Session, campaign: Campaign, content: Framework, tz_name: str,
             now: datetime | None = None) -> list[OverviewRow]:
    """Every province of the campaign's map with its self-assessment, appraisal and late flags (a fixed number of
    queries, whatever the number of provinces)."""
    base = assessments.overview(session, campaign, content, tz_name, now)
    found = {row.assessment_id: row for row in session.exec(
        select(Appraisal).where(Appraisal.campaign_id == campaign.id))}
    by_round: dict[int, dict[int, dict[str, Entry]]] = {}
    if found:
        for row in session.exec(select(AppraisalScore).where(col(AppraisalScore.assessment_id).in_(list(found)))):
            by_round.setdefault(row.assessment_id, {1: {}, 2: {}})[row.round][row.line_code] = appraisals.entry_of(row)
    self_entries = _self_entries(session, [row.assessment.id for row in base if row.assessment and
                                           row.assessment.id in found])
    general_end = end_of_day_utc(campaign.self_assessment_deadline, tz_name)
    rows = []
    for row in base:
        assessment = row.assessment
        appraisal = found.get(assessment.id) if assessment else None
        appraised = None
        if appraisal is not None:
            rounds = by_round.get(assessment.id, {1: {}, 2: {}})
            entries, _ = appraisals.combine(self_entries.get(assessment.id, {}), rounds[1], rounds[2])
            appraised = totals(content, entries).overall.score
        sent_at = assessment.sent_at if assessment else None
        rows.append(OverviewRow(row, appraisal, appraised, sent_at is not None and sent_at > general_end,
                                sent_at is None and row.past_deadline))
    return rows


def _self_entries(session: Session, assessment_ids: list[int]) -> dict[int, dict[str, Entry]]:
    from portal.models import AssessmentScore

    found: dict[int, dict[str, Entry]] = {}
    if assessment_ids:
        for row in session.exec(select(AssessmentScore).where(col(AssessmentScore.assessment_id).in_(assessment_ids))):
            found.setdefault(row.assessment_id, {})[row.line_code] = assessments.entry_of(row)
    return found


HEADERS = ["STT", "Tỉnh, thành phố", "Trạng thái", "Đã chấm (tiêu chí thành phần)", "Điểm tự chấm", "Điểm tối đa",
           "Điểm thẩm định", "Trạng thái thẩm định", "Hạn tự đánh giá", "Ngày gửi", "Gửi sau hạn chung",
           "Khóa khi chưa gửi"]


def overview_xlsx(rows: list[OverviewRow], campaign: Campaign, tz_name: str) -> bytes:
    """The overview as a spreadsheet: Vietnamese headers, dates as dates (dd/mm/yyyy), points as numbers."""
    zone = ZoneInfo(tz_name)
    lines = []
    for number, row in enumerate(rows, start=1):
        sent = row.base.assessment.sent_at if row.base.assessment else None
        lines.append([number, row.base.province.name, row.state.capitalize(),
                      f"{row.base.answered}/{row.base.to_answer}", row.base.score, row.base.maximum,
                      row.appraised, appraisals.state_label(row.appraisal), row.base.deadline,
                      sent.astimezone(zone).date() if sent else None, "Có" if row.sent_late else "",
                      "Có" if row.locked_unsent else ""])
    return export_rows(HEADERS, lines, sheet_title="Tự đánh giá và thẩm định",
                       title=f"Tự đánh giá và thẩm định: {campaign.name}")
