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
