"""What each role's home page shows: its province, the campaign's deadlines and what is due next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from portal.domain.campaigns import Deadline, current_campaign, deadlines, next_deadline
from portal.models import Campaign, Province, Role, User

# What a province does for each deadline, in the ministry's words.
TASKS = {
    "it_focal_deadline": "Sở Thông tin và Truyền thông cử đầu mối kỹ thuật CNTT (họ tên, chức vụ, số điện thoại).",
    "list_deadline": "Nhập danh sách đối tượng khảo sát theo mẫu, kiểm tra và bấm “Gửi danh sách”.",
    "self_assessment_deadline": "Phê duyệt báo cáo tự đánh giá và hoàn thành nhập điểm; sau hạn phần mềm tự khóa.",
    "response_deadline": "Theo dõi, đôn đốc người được khảo sát trả lời phiếu trước hạn.",
}


@dataclass
class Overview:
    campaign: Campaign | None
    deadlines: list[Deadline] = field(default_factory=list)
    next_deadline: Deadline | None = None
    next_task: str = ""


def overview(session: Session, tz_name: str, now: datetime | None = None) -> Overview:
    """The current campaign with its deadlines and the next one due."""
    campaign = current_campaign(session)
    if campaign is None:
        return Overview(None)
    upcoming = next_deadline(campaign, tz_name, now)
    return Overview(campaign, deadlines(campaign, tz_name, now), upcoming,
                    TASKS.get(upcoming.key, "") if upcoming else "")


@dataclass(frozen=True)
class AccountStats:
    provinces: int
    province_accounts: int
    activated: int  # changed the one-time password
    it_focal_accounts: int


def account_stats(session: Session) -> AccountStats:
    """For the ministry: how far the province accounts have come into use."""
    def count(*conditions) -> int:
        return session.exec(select(func.count()).select_from(User).where(*conditions)).one()

    return AccountStats(
        provinces=session.exec(select(func.count()).select_from(Province).where(Province.is_active)).one(),
        province_accounts=count(User.role == Role.PROVINCE.value),
        activated=count(User.role == Role.PROVINCE.value, User.must_change_password == False),  # noqa: E712
        it_focal_accounts=count(User.role == Role.IT_FOCAL.value),
    )


def province_accounts(session: Session) -> list[tuple[Province, User | None, User | None]]:
    """Every province with its province account and IT focal account (None where missing)."""
    users = list(session.exec(select(User).where(User.province_id.is_not(None))))
    by_role: dict[tuple[int, str], User] = {(u.province_id, u.role): u for u in users}  # type: ignore[misc]
    return [
        (p, by_role.get((p.id, Role.PROVINCE.value)), by_role.get((p.id, Role.IT_FOCAL.value)))
        for p in session.exec(select(Province).where(Province.is_active).order_by(Province.id))
    ]


@dataclass(frozen=True)
class ProvinceStatus:
    """Where a province stands in the current campaign, for its home page."""

    list_label: str
    people: int
    rows_with_errors: int
    sent_at: datetime | None
    launched: bool
    forms_submitted: int
    forms_expected: int
    delivery_errors: int
    focal_registered: bool

    @property
    def rate(self) -> float:
        return 100.0 * self.forms_submitted / self.forms_expected if self.forms_expected else 0.0


def province_status(session: Session, campaign: Campaign, province_id: int) -> ProvinceStatus:
    """The list's state, the survey's progress and open delivery errors of one province."""
    from portal.domain import delivery, it_focal, lists
    from portal.models import LIST_STATUS_LABELS, FormProgress, FormState, Invitation, ListStatus

    rlist = lists.list_for(session, campaign, province_id)
    facts = lists.summary(session, rlist, campaign)
    started = rlist is not None and (facts.total or rlist.uploaded_at)
    expected, submitted = session.exec(
        select(func.count(FormProgress.id),
               func.count(FormProgress.id).filter(FormProgress.state == FormState.SUBMITTED.value))
        .join(Invitation, Invitation.id == FormProgress.invitation_id)
        .where(Invitation.campaign_id == campaign.id, FormProgress.province_id == province_id)).one()
    errors = session.exec(select(func.count(Invitation.id)).where(
        Invitation.campaign_id == campaign.id, Invitation.province_id == province_id,
        Invitation.delivery_status.in_(delivery.ERROR_STATES))).one()
    focal = it_focal.focal_point(session, province_id)
    return ProvinceStatus(
        list_label=LIST_STATUS_LABELS[ListStatus(rlist.status) if started else None],
        people=facts.total, rows_with_errors=facts.rows_with_errors,
        sent_at=rlist.sent_at if rlist is not None and rlist.status == ListStatus.SENT else None,
        launched=rlist is not None and rlist.launched_at is not None,
        forms_submitted=submitted, forms_expected=expected, delivery_errors=errors,
        focal_registered=focal is not None and focal.registered_at is not None)
