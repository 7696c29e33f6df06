"""The province's IT focal point: registration (which creates their account) and who is late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from portal.domain import accounts, addresses, audit, units
from portal.domain.campaigns import end_of_day_utc
from portal.domain.text import clean
from portal.models import Campaign, Province, Role, User, utcnow

if TYPE_CHECKING:
    from portal.domain.nomination import Nomination


def focal_username(province: Province) -> str:
    """The IT focal account of a province is named after it: "ha-noi-cntt"."""
    return f"{province.slug}-cntt"


def focal_point(session: Session, province_id: int) -> User | None:
    """The province's IT focal account, if there is one."""
    return session.exec(select(User).where(User.province_id == province_id,
                                           User.role == Role.IT_FOCAL.value)).first()


@dataclass
class Registration:
    user: User
    password: str | None  # a one-time password when the account was created now


def _phone(value: str) -> str | None:
    digits = "".join(ch for ch in value if ch.isdigit() or ch == "+")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    return digits if digits.startswith("0") and len(digits) in (10, 11) and digits[1:].isdigit() else None


def register(
    session: Session, actor: User, province: Province, values: dict[str, str], now: datetime | None = None,
    *, document: tuple[str, bytes] | None = None, files_dir: str = "", max_bytes: int = 0,
) -> tuple[Registration | None, dict[str, str]]:
    """Register (or update) the province's IT focal point; returns the errors by field when invalid.

    The first registration creates the IT focal account with a one-time password,
    to be changed at first login; later ones update the details only. `document`
    is the nomination (văn bản cử) as (file name, bytes), stored under
    `files_dir`; a wrong file refuses the whole form, so nothing is half saved.
    """
    from portal.domain import nomination

    now = now or utcnow()
    full_name, position = clean(values.get("full_name")), clean(values.get("position"))
    errors: dict[str, str] = {}
    if not full_name:
        errors["full_name"] = "Vui lòng nhập họ và tên."
    if not position:
        errors["position"] = "Vui lòng nhập chức vụ."
    phone = _phone(clean(values.get("phone")))
    if phone is None:
        errors["phone"] = "Số điện thoại di động không hợp lệ (ví dụ 0912345678)."
    email = clean(values.get("email")).lower()
    try:
        email = validate_email(email, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError:
        reason = addresses.problem(email)
        errors["email"] = "Địa chỉ email công vụ không hợp lệ" + (f": {reason}." if reason else ".")
    if document is not None:
        try:
            nomination.check(document[1], document[0], max_bytes)
        except nomination.NominationError as problem:
            errors["nomination"] = problem.message
    if errors:
        return None, errors
    user = focal_point(session, province.id)
    password = None
    if user is None:
        user, password = accounts.create_user(session, focal_username(province), Role.IT_FOCAL,
                                              province_id=province.id)
    user.full_name, user.position, user.phone, user.email = full_name, position, phone or "", email
    user.registered_at = user.registered_at or now
    session.add(user)
    audit.record(session, actor, "Đăng ký đầu mối CNTT" if password else "Cập nhật đầu mối CNTT",
                 province_id=province.id, detail=f"{full_name}, {position}, {phone}, {email}")
    if document is not None:
        # The file is written first, then the registration and its document are committed together: a
        # full disk leaves neither an account without its document nor half a file.
        try:
            nomination.save(session, actor, province, document[0], document[1], files_dir=files_dir,
                            max_bytes=max_bytes, now=now)
        except nomination.NominationError as problem:
            session.rollback()
            return None, {"nomination": problem.message}
    else:
        session.commit()
    return Registration(user, password), {}


@dataclass
class FocalRow:
    province: Province
    user: User | None
    status: str  # "on_time" | "late" | "missing" | "not_due"
    nomination: Nomination | None = None  # the province's newest văn bản cử


def ministry_table(session: Session, campaign: Campaign, tz_name: str, now: datetime | None = None) -> list[FocalRow]:
    """Every province with its IT focal point and whether it registered by the campaign's deadline."""
    now = now or utcnow()
    deadline = end_of_day_utc(campaign.it_focal_deadline, tz_name)
    from portal.domain.nomination import latest_by_province

    users = {u.province_id: u for u in session.exec(select(User).where(User.role == Role.IT_FOCAL.value))}
    documents = latest_by_province(session)
    rows = []
    for province in units.provinces_of(session, campaign):
        user = users.get(province.id)
        registered = user.registered_at if user else None
        if registered is not None:
            status = "on_time" if registered <= deadline else "late"
        else:
            status = "missing" if now > deadline else "not_due"
        rows.append(FocalRow(province, user, status, documents.get(province.id)))
    return rows
