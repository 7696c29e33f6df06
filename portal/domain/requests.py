"""Requests to the ministry ("Đề nghị"): a province asks, the ministry answers.

A province account or its IT focal point asks for an extension of the list
deadline or of the response deadline, for the return of its sent list, or for
help with a technical problem, with a reason and an optional file. The ministry
grants (with a date where one is needed), refuses (with a reason) or replies.
Granting applies the extension or the return at once, through the same domain
functions as the ministry's own buttons, so the rules stay in one place.

A file is checked and kept by the file store (portal/domain/evidence.py): its
type read from its bytes, never from the name or the browser's claim.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from portal.domain import audit, evidence, lists
from portal.domain.campaigns import end_of_day_utc
from portal.domain.notices import post_system_notice
from portal.domain.text import clean
from portal.models import (
    Campaign,
    ListStatus,
    MinistryNotice,
    Province,
    ProvinceRequest,
    RequestKind,
    RequestStatus,
    RespondentList,
    StoredFile,
    User,
    utcnow,
)

KIND_LABELS = {
    RequestKind.LIST_EXTENSION.value: "Gia hạn gửi danh sách đối tượng khảo sát",
    RequestKind.RESPONSE_EXTENSION.value: "Gia hạn trả lời phiếu khảo sát",
    RequestKind.LIST_RETURN.value: "Trả lại danh sách đã gửi để chỉnh sửa",
    RequestKind.TECHNICAL.value: "Hỗ trợ sự cố kỹ thuật",
}
STATUS_LABELS = {
    RequestStatus.OPEN.value: "Chờ trả lời",
    RequestStatus.GRANTED.value: "Đã chấp thuận",
    RequestStatus.REFUSED.value: "Không chấp thuận",
    RequestStatus.ANSWERED.value: "Đã trả lời",
}
EXTENSIONS = (RequestKind.LIST_EXTENSION.value, RequestKind.RESPONSE_EXTENSION.value)
# What a file may be, by the type its bytes show: documents and scans of a dispatch or a screenshot.
ACCEPTED_KINDS = (evidence.PDF, evidence.PNG, evidence.JPEG, evidence.DOCX, evidence.XLSX)
ALLOWED_TYPES = {kind.content_type: kind.label for kind in ACCEPTED_KINDS}
MAX_REASON = 4000


class RequestError(Exception):
    """What cannot be done; `message` says why, in Vietnamese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def new_form_key() -> str:
    """A key for one showing of the request form: posting it twice makes one request."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: the name on the province's computer and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Submitted:
    request: ProvinceRequest
    created: bool  # False: the same form had been posted before, this is that request


def submit(
    session: Session, author: User, campaign: Campaign, province: Province, *, kind: str, reason: str,
    wanted_until: date | None, form_key: str, upload: Upload | None, files_dir: str | Path, max_bytes: int,
    tz_name: str, now: datetime | None = None,
) -> Submitted:
    """Record a province's request, keep its file, and tell the ministry.

    `wanted_until` is the day an extension is asked for (ignored for other kinds). A second post
    of the same form (same author and `form_key`) returns the first request.
    """
    form_key = clean(form_key)
    if not form_key:
        raise RequestError("Biểu mẫu đã cũ. Vui lòng mở lại trang “Gửi đề nghị” rồi gửi.")
    earlier = session.exec(select(ProvinceRequest).where(ProvinceRequest.author_id == author.id,
                                                         ProvinceRequest.form_key == form_key)).first()
    if earlier is not None:
        return Submitted(earlier, False)
    if kind not in KIND_LABELS:
        raise RequestError("Vui lòng chọn loại đề nghị.")
    reason = (reason or "").strip()
    if not reason:
        raise RequestError("Vui lòng nêu lý do đề nghị để Bộ Nội vụ xem xét.")
    if len(reason) > MAX_REASON:
        raise RequestError(f"Lý do dài quá {MAX_REASON} ký tự; hãy rút gọn hoặc đính kèm văn bản.")
    if kind in EXTENSIONS:
        if wanted_until is None:
            raise RequestError("Vui lòng nhập ngày đề nghị gia hạn đến, theo dạng dd/mm/yyyy.")
        if end_of_day_utc(wanted_until, tz_name) < (now or utcnow()):
            raise RequestError("Ngày đề nghị gia hạn đến phải từ hôm nay trở đi.")
    else:
        wanted_until = None
    if kind == RequestKind.LIST_RETURN.value:
        rlist = lists.list_for(session, campaign, province.id)
        if rlist is None or rlist.status != ListStatus.SENT:
            raise RequestError("Chỉ đề nghị trả lại được danh sách đã gửi Bộ Nội vụ.")
    file_id = None
    if upload is not None and upload.data:
        try:
            stored = evidence.store(session, upload.data, upload.name, files_dir=files_dir, max_bytes=max_bytes,
                                    uploaded_by=author, accept=ACCEPTED_KINDS, what="Tệp đính kèm", now=now)
        except evidence.EvidenceError as problem:
            raise RequestError(problem.message) from None
        file_id = stored.id
    item = ProvinceRequest(campaign_id=campaign.id, province_id=province.id, author_id=author.id, form_key=form_key,
                           kind=kind, reason=reason, wanted_until=wanted_until, created_at=now or utcnow(),
                           file_id=file_id)
    session.add(item)
    detail = KIND_LABELS[kind] + (f", đến {wanted_until:%d/%m/%Y}" if wanted_until else "")
    audit.record(session, author, "Gửi đề nghị", province_id=province.id, detail=detail, reason=reason[:500])
    session.add(MinistryNotice(title=f"{province.name} đề nghị: {KIND_LABELS[kind].lower()}",
                               body=reason[:500], province_id=province.id, created_at=now or utcnow()))
    try:
        session.commit()
    except BaseException as problem:
        # Nothing saved; a file written for it stays unreferenced until `evidence.collect_garbage` (the same
        # bytes may be another row's file, so it is never deleted here).
        session.rollback()
        if not isinstance(problem, IntegrityError):
            raise
        # The same form posted twice at the same moment: the other post won; answer with its request.
        earlier = session.exec(select(ProvinceRequest).where(ProvinceRequest.author_id == author.id,
                                                             ProvinceRequest.form_key == form_key)).one()
        return Submitted(earlier, False)
    session.refresh(item)
    return Submitted(item, True)


def answer(
    session: Session, actor: User, item: ProvinceRequest, decision: str, text: str, *,
    until: date | None, tz_name: str, now: datetime | None = None,
) -> None:
    """The ministry's answer: "grant" (applies the extension or the return), "refuse" or "reply".

    Of two answers to one request (two tabs, a double click), the first wins and the
    second is refused with a message; nothing is applied twice.
    """
    text = (text or "").strip()
    if decision not in ("grant", "refuse", "reply"):
        raise RequestError("Vui lòng chọn cách trả lời.")
    if item.status != RequestStatus.OPEN:
        raise RequestError("Đề nghị này đã được trả lời.")
    if decision in ("refuse", "reply") and not text:
        raise RequestError("Vui lòng nêu lý do không chấp thuận." if decision == "refuse"
                           else "Vui lòng nhập nội dung trả lời.")
    if decision == "grant" and item.kind == RequestKind.TECHNICAL.value:
        raise RequestError("Đề nghị hỗ trợ kỹ thuật được trả lời bằng văn bản (“Trả lời”).")
    if decision == "grant" and item.kind in EXTENSIONS and until is None:
        raise RequestError("Vui lòng nhập ngày gia hạn đến, theo dạng dd/mm/yyyy.")
    status = {"grant": RequestStatus.GRANTED, "refuse": RequestStatus.REFUSED, "reply": RequestStatus.ANSWERED}
    moment = now or utcnow()
    # Claim the request first, in the same transaction as what granting applies.
    claimed = session.exec(update(ProvinceRequest).where(
        ProvinceRequest.id == item.id, ProvinceRequest.status == RequestStatus.OPEN.value,
    ).values(status=status[decision].value, answer=text, answered_by_id=actor.id, answered_at=moment,
             granted_until=until if decision == "grant" else None))
    if claimed.rowcount != 1:
        session.rollback()
        raise RequestError("Đề nghị này đã được trả lời.")
    province = session.get(Province, item.province_id)
    label = KIND_LABELS[item.kind].lower()
    try:
        if decision == "grant":
            _apply(session, actor, item, province, text, until, tz_name=tz_name, now=now)
        else:
            audit.record(session, actor, "Không chấp thuận đề nghị" if decision == "refuse" else "Trả lời đề nghị",
                         province_id=item.province_id, detail=KIND_LABELS[item.kind], reason=text[:500])
            session.commit()
    except lists.ListError as problem:
        session.rollback()
        raise RequestError(problem.message) from None
    session.refresh(item)
    if decision == "grant":
        # The extension or the return has told the province already, with its new date.
        return
    title = (f"Bộ Nội vụ không chấp thuận đề nghị {label}" if decision == "refuse"
             else f"Bộ Nội vụ đã trả lời đề nghị {label}")
    post_system_notice(session, item.province_id, title, text)


def _apply(
    session: Session, actor: User, item: ProvinceRequest, province: Province, text: str, until: date | None,
    *, tz_name: str, now: datetime | None,
) -> None:
    """Do what the granted request asked, through the lists' own functions (which audit, commit and notify)."""
    campaign = session.get(Campaign, item.campaign_id)
    reason = text or f"Theo đề nghị của địa phương: {clean(item.reason)[:300]}"
    rlist = lists.list_for(session, campaign, province.id)
    if rlist is None and item.kind != RequestKind.LIST_RETURN.value:
        # Flushed, not committed: a refused grant below must leave nothing behind.
        rlist = RespondentList(campaign_id=campaign.id, province_id=province.id)
        session.add(rlist)
        session.flush()
    audit.record(session, actor, "Chấp thuận đề nghị", province_id=province.id,
                 detail=KIND_LABELS[item.kind] + (f", đến {until:%d/%m/%Y}" if until else ""), reason=text[:500])
    if item.kind == RequestKind.LIST_EXTENSION.value:
        lists.grant_extension(session, actor, rlist, province, until, reason, tz_name=tz_name, now=now)
    elif item.kind == RequestKind.RESPONSE_EXTENSION.value:
        lists.grant_response_extension(session, actor, rlist, province, campaign, until, reason, tz_name=tz_name,
                                       now=now)
    else:
        if rlist is None:
            raise lists.ListError("Địa phương chưa có danh sách để trả lại.")
        if until is not None and end_of_day_utc(until, tz_name) < (now or utcnow()):
            raise lists.ListError("Hạn gửi lại phải từ hôm nay trở đi.")
        lists.return_list(session, actor, rlist, province, reason, extension_until=until)


# ---------------------------------------------------------------- reading


def for_province(session: Session, province_id: int, *, limit: int = 200) -> list[ProvinceRequest]:
    """The province's own requests, newest first."""
    return list(session.exec(select(ProvinceRequest).where(ProvinceRequest.province_id == province_id)
                             .order_by(ProvinceRequest.created_at.desc(), ProvinceRequest.id.desc()).limit(limit)))


def for_ministry(session: Session, *, status: str = "open", limit: int = 500) -> list[tuple[ProvinceRequest, Province]]:
    """Every province's requests with their province: the open ones (oldest first) or all (newest first)."""
    query = select(ProvinceRequest, Province).join(Province, Province.id == ProvinceRequest.province_id)
    if status == "open":
        query = query.where(ProvinceRequest.status == RequestStatus.OPEN.value).order_by(
            ProvinceRequest.created_at, ProvinceRequest.id)
    else:
        if status in STATUS_LABELS:
            query = query.where(ProvinceRequest.status == status)
        query = query.order_by(ProvinceRequest.created_at.desc(), ProvinceRequest.id.desc())
    return list(session.exec(query.limit(limit)))


def open_count(session: Session) -> int:
    """How many requests wait for the ministry's answer (shown on its home page)."""
    return session.exec(select(func.count()).select_from(ProvinceRequest)
                        .where(ProvinceRequest.status == RequestStatus.OPEN.value)).one()


def author_of(session: Session, item: ProvinceRequest) -> User | None:
    return session.get(User, item.author_id)


def attachment_of(session: Session, item: ProvinceRequest) -> StoredFile | None:
    """The request's file (its name, size and type), or None when it has none."""
    return session.get(StoredFile, item.file_id) if item.file_id is not None else None
