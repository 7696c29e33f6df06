"""The ministry's national progress table ("Tiến độ khảo sát cả nước"): one row per province, and the totals.

Counts and rates only, as the province's own progress page (portal/domain/progress.py) shows them for one
province; nothing here reads an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from portal.domain import units
from portal.domain.progress import FAILED_STATES
from portal.domain.text import fold
from portal.models import (
    Campaign,
    DeliveryStatus,
    FormProgress,
    FormState,
    Invitation,
    Respondent,
    RespondentList,
)


@dataclass
class ProvinceProgress:
    province_id: int
    name: str
    list_status: str
    short_name: str = ""
    people: int = 0
    invited: int = 0
    failed: int = 0
    by_group: dict[int, tuple[int, int]] = field(default_factory=dict)  # group id -> (submitted, expected)
    submitted: int = 0
    expected: int = 0
    last_activity: datetime | None = None

    @property
    def rate(self) -> float:
        return 100.0 * self.submitted / self.expected if self.expected else 0.0

    def group_rate(self, group_id: int) -> float | None:
        submitted, expected = self.by_group.get(group_id, (0, 0))
        return 100.0 * submitted / expected if expected else None


NATIONAL_SORTS = {"ma": "Mã tỉnh", "ten": "Tên", "ty-le": "Tỷ lệ phiếu đã nộp", "loi": "Lỗi gửi thư",
                  "hoat-dong": "Hoạt động gần nhất"}


def national_table(session: Session, campaign_id: int, *, sort: str = "ma") -> tuple[list[ProvinceProgress],
                                                                                    ProvinceProgress]:
    """One row per province (and the national totals), in a handful of grouped queries."""
    from portal.models import LIST_STATUS_LABELS, ListStatus

    lists_by_province = {r.province_id: r for r in session.exec(
        select(RespondentList).where(RespondentList.campaign_id == campaign_id))}
    rows: dict[int, ProvinceProgress] = {}
    # The provinces of the campaign's map: 63 in 2021, 34 from 2025.
    campaign = session.get(Campaign, campaign_id)
    for province in units.provinces_of(session, campaign):
        rlist = lists_by_province.get(province.id)
        label = LIST_STATUS_LABELS[ListStatus(rlist.status)] if rlist else LIST_STATUS_LABELS[None]
        rows[province.id] = ProvinceProgress(province.id, province.name, label, province.short_name)
    for province_id, people in session.exec(
            select(Respondent.province_id, func.count(Respondent.id))
            .where(Respondent.list_id.in_(select(RespondentList.id)
                                          .where(RespondentList.campaign_id == campaign_id)))
            .group_by(Respondent.province_id)):
        rows[province_id].people = people
    for province_id, invited, failed in session.exec(
            select(Invitation.province_id,
                   func.count(Invitation.id).filter(Invitation.delivery_status == DeliveryStatus.SENT.value),
                   func.count(Invitation.id).filter(Invitation.delivery_status.in_(FAILED_STATES)))
            .where(Invitation.campaign_id == campaign_id, Invitation.withdrawn_at.is_(None))
            .group_by(Invitation.province_id)):
        rows[province_id].invited, rows[province_id].failed = invited, failed
    for province_id, group_id, expected, submitted, last_submit, last_start in session.exec(
            select(FormProgress.province_id, Respondent.group_id, func.count(FormProgress.id),
                   func.count(FormProgress.id).filter(FormProgress.state == FormState.SUBMITTED.value),
                   func.max(FormProgress.submitted_at), func.max(FormProgress.started_at))
            .select_from(FormProgress)
            .join(Invitation, Invitation.id == FormProgress.invitation_id)
            .join(Respondent, Respondent.id == Invitation.respondent_id)
            .where(Invitation.campaign_id == campaign_id)
            .group_by(FormProgress.province_id, Respondent.group_id)):
        row = rows[province_id]
        row.by_group[group_id] = (submitted, expected)
        row.submitted += submitted
        row.expected += expected
        for moment in (last_submit, last_start):
            if moment is not None and (row.last_activity is None or moment > row.last_activity):
                row.last_activity = moment
    table = list(rows.values())
    keys = {
        "ten": lambda r: (fold(r.short_name), r.province_id),  # "Tỉnh"/"Thành phố" aside, Đ with D
        "ty-le": lambda r: (-r.rate, r.province_id),
        "loi": lambda r: (-r.failed, r.province_id),
        "hoat-dong": lambda r: (-(r.last_activity.timestamp() if r.last_activity else 0), r.province_id),
    }
    if sort in keys:
        table.sort(key=keys[sort])
    total = ProvinceProgress(0, "Cả nước", "")
    for row in table:
        total.people += row.people
        total.invited += row.invited
        total.failed += row.failed
        total.submitted += row.submitted
        total.expected += row.expected
        for group_id, (submitted, expected) in row.by_group.items():
            done, due = total.by_group.get(group_id, (0, 0))
            total.by_group[group_id] = (done + submitted, due + expected)
        if row.last_activity and (total.last_activity is None or row.last_activity > total.last_activity):
            total.last_activity = row.last_activity
    return table, total
