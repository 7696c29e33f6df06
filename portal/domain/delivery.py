"""Delivery errors of a province's invitations, for its IT focal point: explain, correct, re-send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from portal.domain import audit, invitations, spreadsheets
from portal.domain.notices import post_system_notice
from portal.domain.text import clean, fold
from portal.models import DeliveryStatus, Invitation, Respondent, User, utcnow

ERROR_STATES = (DeliveryStatus.FAILED.value, DeliveryStatus.BOUNCED.value, DeliveryStatus.DELAYED.value)
STATE_LABELS = {
    DeliveryStatus.FAILED.value: "Máy chủ từ chối khi gửi",
    DeliveryStatus.BOUNCED.value: "Thư bị trả lại",
    DeliveryStatus.DELAYED.value: "Đang chậm, máy chủ còn thử lại",
}


class DeliveryError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def explain(reply: str) -> str:
    """The plain Vietnamese explanation of a server's reply or a bounce's reason."""
    from portal.domain import bounces

    return bounces.explain_smtp_reply(reply) if reply else "Không rõ lý do."


@dataclass
class ErrorRow:
    invitation: Invitation
    respondent: Respondent
    label: str
    explanation: str


def errors_for_province(session: Session, campaign_id: int, province_id: int) -> list[ErrorRow]:
    """The province's invitations that did not arrive (refused, bounced or delayed), newest first."""
    rows = session.exec(
        select(Invitation, Respondent).join(Respondent, Respondent.id == Invitation.respondent_id)
        .where(Invitation.campaign_id == campaign_id, Invitation.province_id == province_id,
               Invitation.delivery_status.in_(ERROR_STATES))
        .order_by(Invitation.delivery_at.desc(), Invitation.id)).all()
    return [ErrorRow(inv, person, STATE_LABELS[inv.delivery_status], explain(inv.delivery_reply))
            for inv, person in rows]


def get_invitation_in_province(session: Session, province_id: int, invitation_id: int) -> Invitation | None:
    """The invitation when it belongs to that province; None otherwise (no probing of other provinces)."""
    invitation = session.get(Invitation, invitation_id)
    return invitation if invitation is not None and invitation.province_id == province_id else None


def correct_address(
    session: Session, actor: User, invitation: Invitation, new_email: str, *, base_url: str, mail_domain: str,
    now: datetime | None = None,
) -> str:
    """Correct a respondent's address, tell the province, and send the invitation again (same link).

    Returns the normalised address; raises DeliveryError with a Vietnamese message when it is not valid.
    """
    person = session.get(Respondent, invitation.respondent_id)
    try:
        email = validate_email(clean(new_email).lower(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise DeliveryError(f"Địa chỉ “{clean(new_email)}” không hợp lệ.") from None
    if email == person.email:
        raise DeliveryError("Địa chỉ mới trùng địa chỉ cũ. Nếu chỉ muốn gửi lại, hãy bấm “Gửi lại”.")
    taken = session.exec(select(Respondent).where(Respondent.list_id == person.list_id, Respondent.email == email,
                                                  Respondent.id != person.id)).first()
    if taken is not None:
        raise DeliveryError(f"Địa chỉ {email} đã là của {taken.full_name} trong danh sách.")
    old = person.email
    person.email = email
    person.search_text = fold(f"{person.full_name} {email} {person.unit} {person.position}")
    person.updated_at = now or utcnow()
    session.add(person)
    audit.record(session, actor, "Sửa địa chỉ email người được khảo sát", province_id=invitation.province_id,
                 detail=f"{person.full_name}: {old} → {email}")
    session.commit()
    post_system_notice(session, invitation.province_id, f"Đầu mối CNTT đã sửa địa chỉ email của {person.full_name}",
                       f"{old} → {email}. Thư mời đã được gửi lại đến địa chỉ mới.")
    invitations.resend(session, actor, invitation, base_url=base_url, mail_domain=mail_domain, now=now)
    return email


def export_errors(rows: list[ErrorRow], province_name: str, tz_name: str) -> bytes:
    """The error list as a formula-safe .xlsx (times in the portal's time zone)."""
    tz = ZoneInfo(tz_name)
    headers = ["Họ và tên", "Chức vụ", "Cơ quan/đơn vị", "Email", "Tình trạng", "Thời điểm", "Giải thích",
               "Lý do gốc (máy chủ thư)"]
    def when(row: ErrorRow) -> str:
        moment = row.invitation.delivery_at
        return moment.astimezone(tz).strftime("%d/%m/%Y %H:%M") if moment else ""

    data = [[r.respondent.full_name, r.respondent.position, r.respondent.unit, r.respondent.email, r.label, when(r),
             r.explanation, r.invitation.delivery_reply] for r in rows]
    return spreadsheets.export_rows(headers, data, sheet_title="Lỗi gửi thư",
                                    title=f"Lỗi gửi thư mời khảo sát: {province_name}")
