"""The ministry's edits to a campaign: its deadlines (in order, provinces told) and its contact."""

from __future__ import annotations

import re
from datetime import date

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from portal.domain import audit
from portal.domain.campaigns import DEADLINE_LABELS
from portal.domain.dates import parse_date_vn
from portal.domain.notices import post_notice
from portal.domain.text import clean
from portal.models import Campaign, ListStatus, Province, RespondentList, Role, User

# The survey's deadlines follow one another: the IT focal point is registered before the list is due
# (it receives the delivery errors of the invitations), and the list before the answers. The
# self-assessment runs on its own track.
ORDERED_DEADLINES = ("it_focal_deadline", "list_deadline", "response_deadline")

SHORT_LABELS = {
    "it_focal_deadline": "hạn đăng ký đầu mối CNTT",
    "list_deadline": "hạn gửi danh sách",
    "self_assessment_deadline": "hạn tự đánh giá, chấm điểm",
    "response_deadline": "hạn trả lời phiếu",
}


def check_order(days: dict[str, date]) -> dict[str, str]:
    """Errors by field for deadlines out of order (IT focal ≤ list ≤ responses); {} when in order."""
    errors: dict[str, str] = {}
    for earlier, later in zip(ORDERED_DEADLINES, ORDERED_DEADLINES[1:], strict=False):
        if days[later] < days[earlier]:
            errors[later] = (f"{DEADLINE_LABELS[later]}: {SHORT_LABELS[later]} ({days[later]:%d/%m/%Y}) không được "
                             f"trước {SHORT_LABELS[earlier]} ({days[earlier]:%d/%m/%Y}).")
    return errors


def update_deadlines(session: Session, actor: User, campaign: Campaign, values: dict[str, str]) -> dict[str, str]:
    """Set the deadlines from dd/mm/yyyy texts; returns errors by field (nothing saved when any).

    Every change is audited and posted as a notice to the provinces it concerns (see `_concerned`).
    """
    errors: dict[str, str] = {}
    parsed = {}
    for key, label in DEADLINE_LABELS.items():
        day = parse_date_vn(values.get(key, ""))
        if day is None:
            errors[key] = f"{label}: vui lòng nhập ngày theo dạng dd/mm/yyyy."
        else:
            parsed[key] = day
    if errors:
        return errors
    errors = check_order(parsed)
    if errors:
        return errors
    changes: dict[str, tuple[date, date]] = {}
    for key, day in parsed.items():
        old = getattr(campaign, key)
        if old != day:
            changes[key] = (old, day)
            setattr(campaign, key, day)
    if changes:
        session.add(campaign)
        audit.record(session, actor, "Sửa mốc thời hạn", detail="; ".join(
            f"{DEADLINE_LABELS[k]}: {old:%d/%m/%Y} → {new:%d/%m/%Y}" for k, (old, new) in changes.items()))
    session.commit()
    if changes:
        _tell_provinces(session, actor, campaign, changes)
    return {}


def _concerned(session: Session, campaign: Campaign, key: str) -> set[int]:
    """The provinces a deadline still matters to: those that have not done what it asks yet, or everyone."""
    active = set(session.exec(select(Province.id).where(Province.is_active)))
    if key == "it_focal_deadline":
        registered = set(session.exec(select(User.province_id).where(User.role == Role.IT_FOCAL.value,
                                                                     User.registered_at.is_not(None))))
        return active - registered
    if key == "list_deadline":
        sent = set(session.exec(select(RespondentList.province_id).where(
            RespondentList.campaign_id == campaign.id, RespondentList.status == ListStatus.SENT.value)))
        return active - sent
    return active


def _tell_provinces(session: Session, actor: User, campaign: Campaign, changes: dict[str, tuple[date, date]]) -> None:
    """One notice per set of provinces concerned by the same changes."""
    lines_for: dict[int, list[str]] = {}
    for key, (old, new) in changes.items():
        line = (f"{DEADLINE_LABELS[key]}: {old:%d/%m/%Y} → {new:%d/%m/%Y} "
                "(hết 23:59 ngày đó, giờ Việt Nam).")
        for province_id in _concerned(session, campaign, key):
            lines_for.setdefault(province_id, []).append(line)
    groups: dict[tuple[str, ...], list[int]] = {}
    for province_id, lines in lines_for.items():
        groups.setdefault(tuple(lines), []).append(province_id)
    for lines, province_ids in groups.items():
        post_notice(session, actor, f"Bộ Nội vụ thay đổi mốc thời hạn của {campaign.name}"[:200],
                    "\n".join(lines), province_ids=sorted(province_ids))


CONTACT_FIELDS = ("contact_name", "contact_unit", "contact_phone", "contact_email")
_PHONE = re.compile(r"^[0-9 +().\-]{6,30}$")


def update_contact(session: Session, actor: User, campaign: Campaign, values: dict[str, str]) -> dict[str, str]:
    """Set the campaign's contact (name, unit, phone, email); returns errors by field (nothing saved when any)."""
    cleaned = {key: clean(values.get(key, ""))[:200] for key in CONTACT_FIELDS}
    errors: dict[str, str] = {}
    if not cleaned["contact_name"]:
        errors["contact_name"] = "Vui lòng nhập họ tên người liên hệ."
    if not cleaned["contact_unit"]:
        errors["contact_unit"] = "Vui lòng nhập đơn vị của người liên hệ."
    if not cleaned["contact_phone"] and not cleaned["contact_email"]:
        errors["contact_phone"] = "Vui lòng nhập ít nhất số điện thoại hoặc email để liên hệ."
    if cleaned["contact_phone"] and not _PHONE.match(cleaned["contact_phone"]):
        errors["contact_phone"] = "Số điện thoại chỉ gồm chữ số, dấu cách và các dấu + ( ) . -"
    if cleaned["contact_email"]:
        try:
            cleaned["contact_email"] = validate_email(cleaned["contact_email"],
                                                      check_deliverability=False).normalized
        except EmailNotValidError:
            errors["contact_email"] = "Địa chỉ email không hợp lệ."
    if errors:
        return errors
    changed = [key for key in CONTACT_FIELDS if getattr(campaign, key) != cleaned[key]]
    for key in changed:
        setattr(campaign, key, cleaned[key])
    if changed:
        session.add(campaign)
        audit.record(session, actor, "Sửa người liên hệ của đợt đánh giá",
                     detail=", ".join(cleaned[k] for k in CONTACT_FIELDS if cleaned[k]))
    session.commit()
    return {}
