"""A demo campaign a newcomer can click through: accounts for every role and sample data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from portal.domain import accounts, notices
from portal.domain.campaigns import local_today
from portal.domain.reference import load_groups
from portal.models import Campaign, Notice, Province, Role, User

DEMO_ADMIN = "bonoivu"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    province: str
    password: str | None  # None: existed already, password unchanged


def focal_username(province: Province) -> str:
    return f"{province.slug}-cntt"


def ensure_demo_campaign(session: Session, tz_name: str) -> Campaign:
    """A current campaign whose deadlines lie ahead, spaced like 2021's, so every step is open."""
    campaign = session.exec(select(Campaign).where(Campaign.is_demo == True)).first()  # noqa: E712
    if campaign is None:
        today = local_today(tz_name)
        campaign = Campaign(
            year=today.year, name=f"Xác định Chỉ số CCHC năm {today.year} (chạy thử)", is_demo=True,
            plan_ref="Kế hoạch chạy thử", framework_ref="Quyết định 1149/QĐ-BNV ngày 30/12/2020",
            guide_ref="Công văn 383/BNV-CCHC ngày 28/01/2021", questionnaire_ref="Phiếu mẫu (chạy thử)",
            it_focal_deadline=today + timedelta(days=14), list_deadline=today + timedelta(days=21),
            self_assessment_deadline=today + timedelta(days=52), response_deadline=today + timedelta(days=57),
        )
        session.add(campaign)
        session.flush()
        load_groups(session, campaign)
    for other in session.exec(select(Campaign).where(Campaign.is_current == True)):  # noqa: E712
        other.is_current = False
        session.add(other)
    campaign.is_current = True
    session.add(campaign)
    session.commit()
    return campaign


def create_demo_accounts(session: Session, password: str | None) -> list[DemoAccount]:
    """The ministry admin, one account per province (its slug) and one IT focal account per province.

    With `password`, every demo account gets it and is ready to use; without, each gets a
    one-time password to change at first login. Existing accounts are left as they are.
    """
    shared_hash = accounts.hash_password(password) if password else None
    existing = set(session.exec(select(User.username)))
    created: list[DemoAccount] = []

    def add(username: str, role: Role, province: Province | None, full_name: str) -> None:
        if username in existing:
            created.append(DemoAccount(username, role.value, province.name if province else "", None))
            return
        _user, pw = accounts.create_user(
            session, username, role, password=password, province_id=province.id if province else None,
            full_name=full_name, must_change_password=password is None, password_hash=shared_hash)
        created.append(DemoAccount(username, role.value, province.name if province else "", pw))

    add(DEMO_ADMIN, Role.MINISTRY, None, "Vụ Cải cách hành chính")
    for province in session.exec(select(Province).where(Province.is_active).order_by(Province.id)):
        add(province.slug, Role.PROVINCE, province, f"UBND {province.name}")
        add(focal_username(province), Role.IT_FOCAL, province, f"Đầu mối CNTT {province.short_name}")
    session.commit()
    return created


def post_demo_notices(session: Session) -> None:
    """A welcome notice from the ministry, once."""
    admin = session.exec(select(User).where(User.username == DEMO_ADMIN)).first()
    title = "Triển khai xác định Chỉ số CCHC (chạy thử)"
    if session.exec(select(Notice).where(Notice.title == title)).first():
        return
    notices.post_notice(
        session, admin, title,
        "Bộ Nội vụ đề nghị Ủy ban nhân dân các tỉnh, thành phố trực thuộc Trung ương:\n"
        "1. Cử đầu mối kỹ thuật CNTT đúng hạn;\n"
        "2. Nhập danh sách đối tượng khảo sát theo mẫu và bấm “Gửi danh sách” trước hạn;\n"
        "3. Hoàn thành tự đánh giá, chấm điểm trước hạn.\n"
        "Đây là dữ liệu chạy thử.",
    )
