"""The ministry's 63-province tables, as the page shows them and as .xlsx with the same columns and filters.

Each table is built once by one function, and its export writes the same rows
under the same headers (`*_HEADERS` are what the page's <thead> prints too), so
the file the ministry downloads is the table it was looking at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from portal.domain import delivery, it_focal, lists, national_progress, spreadsheet_exports, units
from portal.domain.campaigns import is_past
from portal.domain.outbox import INVITATION_KINDS
from portal.models import (
    LIST_STATUS_LABELS,
    Campaign,
    DeliveryStatus,
    Invitation,
    ListStatus,
    OutboxMessage,
    Province,
    RespondentGroup,
    Role,
    User,
)

WAITING = "Đã gửi danh sách, chờ phát hành"
LAUNCHED = "Đã phát hành khảo sát"
LAUNCHING = "Đang phát hành khảo sát"


def _when(moment: datetime | None, tz_name: str) -> str:
    return moment.astimezone(ZoneInfo(tz_name)).strftime("%H:%M %d/%m/%Y") if moment else ""


def _day(value: date | None) -> str:
    return f"{value:%d/%m/%Y}" if value else ""


# ---------------------------------------------------------------- respondent lists


LIST_FILTERS = {
    "": "Tất cả",
    "none": "Chưa nhập",
    "draft": "Đang nhập",
    "returned": "Trả lại",
    "sent": "Đã gửi danh sách (chờ phát hành hoặc đã phát hành)",
    "waiting": WAITING,
    "launched": LAUNCHED,
    "overdue": "Quá hạn, chưa gửi danh sách",
}


@dataclass
class ListRow:
    province: Province
    key: str  # none | draft | returned | waiting | launched
    label: str
    counts: dict[int, int]
    total: int
    errors: int
    sent_at: datetime | None
    deadline: date  # the campaign's, or the province's extension
    extension_until: date | None
    overdue: bool  # the deadline (with its extension) has passed and the list was not sent

    @property
    def flag(self) -> str:
        return f"Quá hạn, chưa gửi (hạn {self.deadline:%d/%m/%Y})" if self.overdue else ""


def list_headers(groups: list[RespondentGroup]) -> list[str]:
    return ["Tỉnh, thành phố", "Trạng thái", *(f"Nhóm {g.number}" for g in groups), "Tổng", "Gửi lúc", "Hạn gửi",
            "Gia hạn", "Quá hạn"]


def lists_table(session: Session, campaign: Campaign, *, status: str = "", tz_name: str,
                now: datetime | None = None) -> list[ListRow]:
    """Every province's list: sent and waiting for launch told apart from launched, late ones flagged."""
    table = []
    for row in lists.ministry_table(session, campaign):
        rlist = row.rlist
        started = rlist is not None and (row.total or rlist.uploaded_at is not None)
        key = rlist.status if started else "none"
        label = LIST_STATUS_LABELS[ListStatus(key)] if started else LIST_STATUS_LABELS[None]
        if key == ListStatus.SENT:
            key, label = (("launched", LAUNCHED) if rlist.launched_at
                          else ("launching", LAUNCHING) if rlist.launch_operation_id else ("waiting", WAITING))
        deadline = lists.deadline_of(rlist, campaign)
        overdue = key in ("none", "draft", "returned") and is_past(deadline, tz_name, now)
        item = ListRow(row.province, key, label, row.counts, row.total, row.errors,
                       rlist.sent_at if rlist else None, deadline, rlist.extension_until if rlist else None, overdue)
        if (not status or status == key or (status == "sent" and key in ("waiting", "launching", "launched"))
                or (status == "overdue" and overdue)):
            table.append(item)
    return table


def lists_export(rows: list[ListRow], groups: list[RespondentGroup], campaign: Campaign, *, status: str,
                 tz_name: str) -> bytes:
    data = [[r.province.name, r.label + (f" ({r.errors} lỗi)" if r.errors and r.key == "draft" else ""),
             *(r.counts.get(g.id, 0) for g in groups), r.total, _when(r.sent_at, tz_name), _day(r.deadline),
             _day(r.extension_until), r.flag] for r in rows]
    shown = f" · {LIST_FILTERS.get(status, '')}" if status else ""
    return spreadsheet_exports.export_rows(
        list_headers(groups), data, sheet_title="Danh sách đối tượng",
        title=f"Danh sách đối tượng khảo sát của các địa phương: {campaign.name}{shown}")


# ---------------------------------------------------------------- survey progress


def progress_headers(groups: list[RespondentGroup]) -> list[str]:
    return ["Tỉnh, thành phố", "Danh sách", "Người", "Đã gửi thư", "Lỗi gửi", *(f"Nhóm {g.number}" for g in groups),
            "Phiếu đã nộp", "Tỷ lệ", "Hoạt động gần nhất"]


def progress_export(session: Session, campaign: Campaign, *, sort: str, tz_name: str) -> bytes:
    """The national progress table, sorted as the page was; rates as numbers (per cent, one decimal)."""
    table, total = national_progress.national_table(session, campaign.id, sort=sort)
    groups = lists.campaign_groups(session, campaign)

    def line(r: national_progress.ProvinceProgress) -> list[object]:
        rates = [r.group_rate(g.id) for g in groups]
        return [r.name, r.list_status, r.people, r.invited, r.failed,
                *(round(rate, 1) if rate is not None else "–" for rate in rates),
                f"{r.submitted}/{r.expected}", round(r.rate, 1), _when(r.last_activity, tz_name)]

    sorted_by = national_progress.NATIONAL_SORTS.get(sort, national_progress.NATIONAL_SORTS["ma"])
    return spreadsheet_exports.export_rows(
        progress_headers(groups), [*(line(r) for r in table), line(total)],
        sheet_title="Tiến độ khảo sát",
        title=f"Tiến độ khảo sát cả nước: {campaign.name} · sắp xếp theo "
              f"{sorted_by.lower()}")


# ---------------------------------------------------------------- IT focal points


FOCAL_LABELS = {"on_time": "Đúng hạn", "late": "Đăng ký muộn", "missing": "Quá hạn, chưa đăng ký",
                "not_due": "Chưa đăng ký"}
FOCAL_FILTERS = {"": "Tất cả", "on_time": "Đăng ký đúng hạn", "late": "Đăng ký muộn",
                 "missing": "Chưa đăng ký, đã quá hạn", "not_due": "Chưa đăng ký, chưa đến hạn"}
FOCAL_HEADERS = ["Tỉnh, thành phố", "Tình trạng", "Họ và tên", "Chức vụ", "Điện thoại", "Email", "Đăng ký lúc",
                 "Văn bản cử"]


def focal_table(session: Session, campaign: Campaign, *, status: str = "", tz_name: str,
                now: datetime | None = None) -> list[it_focal.FocalRow]:
    rows = it_focal.ministry_table(session, campaign, tz_name, now)
    return [r for r in rows if not status or r.status == status]


def focal_export(rows: list[it_focal.FocalRow], campaign: Campaign, *, status: str, tz_name: str) -> bytes:
    def line(r: it_focal.FocalRow) -> list[object]:
        u = r.user if r.user is not None and r.user.registered_at else None
        return [r.province.name, FOCAL_LABELS[r.status], u.full_name if u else "", u.position if u else "",
                u.phone if u else "", u.email if u else "", _when(u.registered_at, tz_name) if u else "",
                r.nomination.original_name if r.nomination else "Chưa có" if u else ""]

    shown = f" · {FOCAL_LABELS[status]}" if status in FOCAL_LABELS else ""
    return spreadsheet_exports.export_rows(
        FOCAL_HEADERS, [line(r) for r in rows], sheet_title="Đầu mối CNTT",
        title=f"Đầu mối kỹ thuật CNTT của các địa phương: {campaign.name}{shown}")


# ---------------------------------------------------------------- delivery errors


DELIVERY_FILTERS = {"": "Tất cả", "co-loi": "Có thư mời chưa đến"}
DELIVERY_HEADERS = ["Tỉnh, thành phố", "Máy chủ từ chối khi gửi", "Thư bị trả lại", "Đang chậm, máy chủ còn thử lại",
                    "Đang gửi lại", "Tổng chưa đến", "Lỗi gần nhất", "Đầu mối CNTT", "Điện thoại", "Email"]


@dataclass
class DeliveryRow:
    province: Province
    by_state: dict[str, int] = field(default_factory=dict)
    resending: int = 0  # corrected or re-sent after a failure, not delivered yet
    last_error: datetime | None = None
    focal: User | None = None

    @property
    def failed(self) -> int:
        return self.by_state.get(DeliveryStatus.FAILED.value, 0)

    @property
    def bounced(self) -> int:
        return self.by_state.get(DeliveryStatus.BOUNCED.value, 0)

    @property
    def delayed(self) -> int:
        return self.by_state.get(DeliveryStatus.DELAYED.value, 0)

    @property
    def total(self) -> int:
        """Invitations not delivered: the province's error list ("Lỗi gửi thư") counts the same rows."""
        return self.failed + self.bounced + self.delayed + self.resending


def delivery_table(session: Session, campaign: Campaign, *, show: str = "") -> list[DeliveryRow]:
    """Per province, invitations that have not arrived, by what happened to them, with whom to call."""
    rows = {p.id: DeliveryRow(p) for p in units.provinces_of(session, campaign)}
    for province_id, state, count, last in session.exec(
            select(Invitation.province_id, Invitation.delivery_status, func.count(Invitation.id),
                   func.max(Invitation.delivery_at))
            .where(Invitation.campaign_id == campaign.id, Invitation.delivery_status.in_(delivery.ERROR_STATES),
                   Invitation.withdrawn_at.is_(None))
            .group_by(Invitation.province_id, Invitation.delivery_status)):
        row = rows.get(province_id)
        if row is None:
            continue
        row.by_state[state] = count
        if last is not None and (row.last_error is None or last > row.last_error):
            row.last_error = last
    failed_before = select(OutboxMessage.invitation_id).where(
        OutboxMessage.kind.in_(INVITATION_KINDS),
        OutboxMessage.status.in_((DeliveryStatus.FAILED.value, DeliveryStatus.BOUNCED.value)))
    for province_id, count in session.exec(
            select(Invitation.province_id, func.count(Invitation.id))
            .where(Invitation.campaign_id == campaign.id, Invitation.delivery_status.in_(delivery.RESENDING_STATES),
                   Invitation.id.in_(failed_before), Invitation.withdrawn_at.is_(None))
            .group_by(Invitation.province_id)):
        if province_id in rows:
            rows[province_id].resending = count
    for user in session.exec(select(User).where(User.role == Role.IT_FOCAL.value)):
        if user.province_id in rows and user.registered_at is not None:
            rows[user.province_id].focal = user
    return [r for r in rows.values() if show != "co-loi" or r.total]


def delivery_export(rows: list[DeliveryRow], campaign: Campaign, *, show: str, tz_name: str) -> bytes:
    data = [[r.province.name, r.failed, r.bounced, r.delayed, r.resending, r.total, _when(r.last_error, tz_name),
             f"{r.focal.full_name}, {r.focal.position}" if r.focal else "Chưa đăng ký",
             r.focal.phone if r.focal else "", r.focal.email if r.focal else ""] for r in rows]
    shown = f" · {DELIVERY_FILTERS[show]}" if show in DELIVERY_FILTERS and show else ""
    return spreadsheet_exports.export_rows(
        DELIVERY_HEADERS, data, sheet_title="Lỗi gửi thư",
        title=f"Thư mời chưa đến người nhận, theo địa phương: {campaign.name}{shown}")
