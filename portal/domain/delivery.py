"""Delivery errors of a province's invitations, for its IT focal point: explain, correct, re-send."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import and_, or_
from sqlmodel import Session, select

from portal.domain import addresses, audit, invitations, spreadsheet_exports
from portal.domain.notices import post_system_notice
from portal.domain.outbox import INVITATION_KINDS
from portal.domain.text import clean, fold
from portal.models import DeliveryStatus, Invitation, OutboxMessage, Province, Respondent, User, utcnow

ERROR_STATES = (DeliveryStatus.FAILED.value, DeliveryStatus.BOUNCED.value, DeliveryStatus.DELAYED.value)
RESENDING_STATES = (DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value)
STATE_LABELS = {
    DeliveryStatus.FAILED.value: "Máy chủ từ chối khi gửi",
    DeliveryStatus.BOUNCED.value: "Thư bị trả lại",
    DeliveryStatus.DELAYED.value: "Đang chậm, máy chủ còn thử lại",
    DeliveryStatus.QUEUED.value: "Đang gửi lại",
    DeliveryStatus.SENDING.value: "Đang gửi lại",
}
RESENDING = "Thư mời đang chờ gửi lại; dòng này rời danh sách khi thư được gửi thành công."
# A temporary refusal (4xx) that lasted through every retry: the portal has stopped, nothing is retrying.
GAVE_UP_LABEL = "Máy chủ người nhận không nhận thư sau nhiều lần thử"


def state_label(invitation: Invitation) -> str:
    """The short state of an undelivered invitation, as the error list shows it."""
    if invitation.delivery_status == DeliveryStatus.FAILED.value and invitation.delivery_reply.startswith("4"):
        return GAVE_UP_LABEL
    return STATE_LABELS[invitation.delivery_status]


class DeliveryError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def explain(reply: str, status: str = "") -> str:
    """The plain Vietnamese explanation of a server's reply or a bounce's reason.

    The invitation's state says whether the failure is final: a bounce or a refusal is (the portal has
    stopped trying), a delay is not. So a final failure is never explained as "being retried".
    """
    from portal.domain import bounce_explanations

    if not reply:
        return "Không rõ lý do."
    final = None if not status else status != DeliveryStatus.DELAYED.value
    return bounce_explanations.explain_smtp_reply(reply, final=final)


@dataclass
class ErrorRow:
    invitation: Invitation
    respondent: Respondent
    label: str
    explanation: str
    reason: str  # the raw reason, for the expert
    resending: bool = False  # corrected or re-sent, waiting for the worker


def _failed_before(province_id: int):
    """Invitations of the province one of whose emails was refused or bounced."""
    return select(OutboxMessage.invitation_id).where(
        OutboxMessage.province_id == province_id, OutboxMessage.kind.in_(INVITATION_KINDS),
        OutboxMessage.status.in_((DeliveryStatus.FAILED.value, DeliveryStatus.BOUNCED.value)))


def _in_error_list(campaign_id: int, province_id: int):
    """The conditions of the error list: undelivered, or sent again after a failure and not yet delivered.

    A corrected or re-sent row stays until the worker has delivered it, so the IT focal point sees
    it through to the end (and, should the new address fail too, sees the new reason).
    """
    return and_(Invitation.campaign_id == campaign_id, Invitation.province_id == province_id,
                Invitation.withdrawn_at.is_(None),  # a withdrawn link names nobody: nothing to correct or re-send
                or_(Invitation.delivery_status.in_(ERROR_STATES),
                    and_(Invitation.delivery_status.in_(RESENDING_STATES),
                         Invitation.id.in_(_failed_before(province_id)))))


def errors_for_province(session: Session, campaign_id: int, province_id: int) -> list[ErrorRow]:
    """The province's invitations that did not arrive (refused, bounced, delayed, being re-sent), newest first."""
    rows = session.exec(
        select(Invitation, Respondent).join(Respondent, Respondent.id == Invitation.respondent_id)
        .where(_in_error_list(campaign_id, province_id))
        .order_by(Invitation.delivery_at.desc(), Invitation.id)).all()
    resending = [inv.id for inv, _person in rows if inv.delivery_status in RESENDING_STATES]
    last_failure: dict[int, str] = {}
    if resending:
        for invitation_id, reply in session.exec(
                select(OutboxMessage.invitation_id, OutboxMessage.last_reply)
                .where(OutboxMessage.invitation_id.in_(resending),
                       OutboxMessage.status.in_((DeliveryStatus.FAILED.value, DeliveryStatus.BOUNCED.value)))
                .order_by(OutboxMessage.id)):
            last_failure[invitation_id] = reply
    result = []
    for inv, person in rows:
        if inv.delivery_status in RESENDING_STATES:
            result.append(ErrorRow(inv, person, STATE_LABELS[inv.delivery_status], RESENDING,
                                   last_failure.get(inv.id, ""), resending=True))
        else:
            result.append(ErrorRow(inv, person, state_label(inv),
                                   explain(inv.delivery_reply, inv.delivery_status), inv.delivery_reply))
    return result


def get_error_in_province(session: Session, campaign_id: int, province_id: int,
                          invitation_id: int) -> Invitation | None:
    """The invitation when it is on the province's error list; None otherwise.

    The IT focal point corrects and re-sends undelivered invitations only: sending the personal link
    of someone who already received it to another address would hand their answers to whoever reads it.
    """
    return session.exec(select(Invitation).where(Invitation.id == invitation_id,
                                                 _in_error_list(campaign_id, province_id))).first()


def correct_address(
    session: Session, actor: User, invitation: Invitation, new_email: str, *, base_url: str, mail_domain: str,
    now: datetime | None = None,
) -> str:
    """Correct a respondent's address, tell the province, and send the invitation again (same link).

    Returns the normalised address; raises DeliveryError with a Vietnamese message when it is not valid.
    """
    person = session.get(Respondent, invitation.respondent_id)
    try:
        email = validate_email(clean(new_email).lower(), check_deliverability=False,
                               allow_smtputf8=False).normalized.lower()
    except EmailNotValidError:
        reason = addresses.problem(clean(new_email))
        raise DeliveryError(f"Địa chỉ “{clean(new_email)}” không hợp lệ" + (f": {reason}." if reason else ".")) \
            from None
    if email == person.email.lower():
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
    audit.record_address_change(session, actor, person, old, email, province_id=invitation.province_id,
                                detail=f"{person.full_name}: {old} → {email}")
    # The correction and its re-sent invitation land together, or not at all; never two emails waiting.
    invitations.resend_to_corrected_address(session, actor, invitation, email, base_url=base_url,
                                            mail_domain=mail_domain, now=now)
    session.commit()
    post_system_notice(session, invitation.province_id, f"Đầu mối CNTT đã sửa địa chỉ email của {person.full_name}",
                       f"{old} → {email}. Thư mời đã được gửi lại đến địa chỉ mới.")
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
             r.explanation, r.reason] for r in rows]
    return spreadsheet_exports.export_rows(
        headers, data, sheet_title="Lỗi gửi thư",
        title=f"Lỗi gửi thư mời khảo sát: {province_name}")


def notify_focal_points(
    session: Session, by_province: Mapping[int, Mapping[str, int]], *, base_url: str, mail_domain: str,
    now: datetime | None = None,
) -> int:
    """Tell each province with new delivery errors: one notice, and one email to its IT focal point.

    `by_province` holds what one intake run found per province (bounced, delayed, kept aside), so a run
    that reads forty bounces of one province posts one notice and queues one email, not forty. The email
    goes through the outbox to the address the province registered for its IT focal point. Returns how
    many provinces were told.
    """
    from portal.domain import outbox
    from portal.domain.it_focal import focal_point
    from portal.emails import render_email

    told = 0
    for province_id in sorted(by_province):
        counts = by_province[province_id]
        bounced, delayed, kept = counts.get("permanent", 0), counts.get("temporary", 0), counts.get("kept", 0)
        if not bounced + delayed + kept:
            continue
        province = session.get(Province, province_id)
        if province is None:
            continue
        lines = [text for number, text in ((bounced, f"{bounced} thư mời bị trả lại"),
                                           (delayed, f"{delayed} thư mời đang chậm (máy chủ người nhận còn thử lại)"),
                                           (kept, f"{kept} thư báo lỗi không đọc được, đã để riêng để xem"))
                 if number]
        title = f"Có lỗi gửi thư mời mới: {', '.join(lines)}"
        body = ("Cổng vừa đọc hộp thư báo lỗi và thấy: " + "; ".join(lines) + ". Đầu mối kỹ thuật CNTT của tỉnh "
                "xem lý do và sửa địa chỉ hoặc gửi lại tại trang “Lỗi gửi thư mời”.")
        post_system_notice(session, province_id, title[:200], body)
        focal = focal_point(session, province_id)
        if focal is not None and focal.is_active and focal.email:
            subject, text, html = render_email("delivery-errors", {
                "province": province, "focal": focal, "lines": lines,
                "errors_url": f"{base_url.rstrip('/')}/dau-moi-cntt/loi-gui",
                "kept_url": f"{base_url.rstrip('/')}/dau-moi-cntt/thu-de-rieng"})
            outbox.enqueue(session, kind="delivery-errors", to_addr=focal.email, subject=subject, body_text=text,
                           body_html=html, province_id=province_id, mail_domain=mail_domain, now=now)
            session.commit()
        told += 1
    return told
