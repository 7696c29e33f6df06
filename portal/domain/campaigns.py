"""The current campaign and its deadlines, read in the portal's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from portal.models import Campaign, utcnow


def current_campaign(session: Session) -> Campaign | None:
    """The campaign the portal is working on (the ministry marks one as current), or None before the first.

    There is no fallback to the newest campaign: a fresh install holds only the 2021 template, whose dates
    have passed, and provinces must not be put to work on it.
    """
    return session.exec(select(Campaign).where(Campaign.is_current == True)).first()  # noqa: E712


class PastCampaign(Exception):
    """A change asked of a campaign that is not the current one: it stays as it was, readable only."""

    def __init__(self, campaign: Campaign | None) -> None:
        self.campaign = campaign
        name = campaign.name if campaign is not None else "này"
        if campaign is not None and campaign.is_template:
            self.message = f"“{name}” là đợt mẫu, chỉ dùng để sao chép: không sửa được dữ liệu của đợt này."
        else:
            self.message = (f"“{name}” không phải đợt đánh giá hiện hành: dữ liệu của đợt này chỉ để xem, "
                            "không sửa được.")
        super().__init__(self.message)


class NoCurrentCampaign(Exception):
    """Nothing to work on yet: the ministry has not opened a campaign (a fresh install)."""

    message = ("Bộ Nội vụ chưa mở đợt đánh giá nào. Khi Bộ Nội vụ mở đợt đánh giá, trang này sẽ dùng được "
               "và Cổng sẽ gửi thông báo đến các tỉnh, thành phố.")


class NotInCampaign(Exception):
    """The province is not on the current campaign's map (merged in 2025): it reads its past campaigns only."""

    def __init__(self, campaign: Campaign, province_name: str) -> None:
        self.campaign = campaign
        self.message = (f"{province_name} không thuộc bản đồ hành chính của “{campaign.name}”, nên không có việc "
                        "trong đợt này. Tài khoản vẫn đăng nhập được để xem danh sách, tiến độ của các đợt trước "
                        "(mục “Các đợt trước” ở trang chủ); dữ liệu đó chỉ để xem, không sửa được.")
        super().__init__(self.message)


def require_current(session: Session, campaign_id: int) -> Campaign:
    """The campaign when it is the current one; raises PastCampaign for any other (past, prepared, template).

    Every change to a list, a person, an invitation, a request or a reminder day goes through this check,
    so that a past year's records stay exactly as they were when the year closed.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not campaign.is_current:
        raise PastCampaign(campaign)
    return campaign


def end_of_day_utc(day: date, tz_name: str) -> datetime:
    """The last moment of `day` in the portal's time zone, in UTC (23:59:59.999999 local)."""
    local_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=ZoneInfo(tz_name))
    return local_end.astimezone(UTC) - timedelta(microseconds=1)


def is_past(day: date, tz_name: str, now: datetime | None = None) -> bool:
    """True once the whole of `day` has passed in the portal's time zone."""
    return (now or utcnow()) > end_of_day_utc(day, tz_name)


def local_today(tz_name: str, now: datetime | None = None) -> date:
    """Today's date in the portal's time zone."""
    return (now or utcnow()).astimezone(ZoneInfo(tz_name)).date()


@dataclass(frozen=True)
class Deadline:
    key: str
    label: str
    day: date
    days_left: int  # negative once passed
    passed: bool
    # For one province: the local day it did what the deadline asks (None: not done, or not known).
    done_on: date | None = None
    done_late: bool = False


DEADLINE_LABELS = {
    "it_focal_deadline": "Đăng ký đầu mối kỹ thuật CNTT",
    "list_deadline": "Gửi danh sách đối tượng khảo sát",
    "self_assessment_deadline": "Hoàn thành tự đánh giá, chấm điểm",
    "response_deadline": "Hạn trả lời phiếu khảo sát",
}


def deadlines(campaign: Campaign, tz_name: str, now: datetime | None = None) -> list[Deadline]:
    """The campaign's deadlines in date order, each with the days left from today."""
    today = local_today(tz_name, now)
    items = []
    for key, label in DEADLINE_LABELS.items():
        day: date = getattr(campaign, key)
        items.append(Deadline(key, label, day, (day - today).days, is_past(day, tz_name, now)))
    return sorted(items, key=lambda d: d.day)


def next_deadline(campaign: Campaign, tz_name: str, now: datetime | None = None) -> Deadline | None:
    """The nearest deadline that has not passed, or None when all have."""
    return next((d for d in deadlines(campaign, tz_name, now) if not d.passed), None)


@dataclass(frozen=True)
class Contact:
    """Whom to ask about the campaign, as the ministry's dispatch names them."""

    name: str = ""
    unit: str = ""
    phone: str = ""
    email: str = ""

    @property
    def text(self) -> str:
        """One line for emails and footers: "Ông Nguyễn Văn A, Vụ CCHC, Bộ Nội vụ; điện thoại …; email …"."""
        parts = [", ".join(p for p in (self.name, self.unit) if p)]
        if self.phone:
            parts.append(f"điện thoại {self.phone}")
        if self.email:
            parts.append(f"email {self.email}")
        return "; ".join(p for p in parts if p)


def contact_of(campaign: Campaign | None, fallback_unit: str = "") -> Contact:
    """The campaign's contact; until the ministry fills it in, the unit configured as PORTAL_CONTACT."""
    if campaign is not None and any((campaign.contact_name, campaign.contact_unit, campaign.contact_phone,
                                     campaign.contact_email)):
        return Contact(campaign.contact_name, campaign.contact_unit, campaign.contact_phone, campaign.contact_email)
    return Contact(unit=fallback_unit)
