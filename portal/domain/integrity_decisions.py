"""The ministry's integrity decisions, under the two-person rule, and which answers count.

What the integrity rules found (IntegrityFlag) changes nothing by itself: the ministry decides. A decision
dismisses a flag, voids single forms, or voids the province's whole survey result ("hủy toàn bộ kết quả khảo
sát của địa phương", as the dispatch says), always with a reason. One administrator proposes it; it takes effect
only when a second, different administrator confirms it (PORTAL_INTEGRITY_TWO_PERSON, on by default); until
then any administrator may withdraw it. A decision in effect is reversed the same way: a reversal is proposed,
then confirmed by someone other than its proposer. Every step is audited, and the province is told (a notice,
its home and progress pages) of every void that took effect and of its reversal, with the reason; a dismissed
flag is not told, since provinces never learn of flags.

Voided answers stay stored (for an appeal); the results count only what `counted_answers` returns, and
`is_province_voided` / `voided_forms` say what is left out. A decision names invitations and form codes, never
answer rows: the answers of voided forms are found through their HMAC keys when the answers are counted, as the
survey pages find them, so no table ties an answer to a person.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from portal.domain import audit, notices
from portal.domain.campaigns import require_current
from portal.domain.invitations import response_key
from portal.models import (
    Answer,
    Campaign,
    IntegrityDecision,
    IntegrityFlag,
    Invitation,
    User,
    utcnow,
)

DISMISS, VOID_FORMS, VOID_PROVINCE, REVERSE = "dismiss", "void_forms", "void_province", "reverse"
PROPOSED, WITHDRAWN, IN_EFFECT, REVERSED = "proposed", "withdrawn", "in_effect", "reversed"
KINDS = (DISMISS, VOID_FORMS, VOID_PROVINCE)
KIND_LABELS = {
    DISMISS: "Bỏ qua cảnh báo",
    VOID_FORMS: "Hủy phiếu khảo sát",
    VOID_PROVINCE: "Hủy toàn bộ kết quả khảo sát của tỉnh",
    REVERSE: "Đảo ngược quyết định",
}
STATE_LABELS = {
    PROPOSED: "Chờ người thứ hai xác nhận",
    WITHDRAWN: "Đã rút",
    IN_EFFECT: "Có hiệu lực",
    REVERSED: "Đã đảo ngược",
}
# What a flag's state becomes when a decision on it takes effect; a reversal puts it back to "open".
FLAG_STATE_AFTER = {DISMISS: "dismissed", VOID_FORMS: "voided", VOID_PROVINCE: "voided"}
MAX_REASON = 2000


class DecisionError(ValueError):
    """A decision refused, with the message the administrator reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Proposed:
    decision: IntegrityDecision
    created: bool  # False: the same form had been posted before; this is that proposal


def new_form_key() -> str:
    """A key for one showing of a proposal form: posting it twice makes one proposal."""
    return secrets.token_urlsafe(16)


def forms_of(decision: IntegrityDecision) -> list[tuple[int, str]]:
    """The (invitation id, form code) pairs a void_forms decision names."""
    return [(int(i), str(c)) for i, c in json.loads(decision.forms or "[]")]


def label_of(session: Session, decision: IntegrityDecision) -> str:
    """What the decision does, in words: a reversal names the decision it reverses."""
    if decision.kind != REVERSE:
        label = KIND_LABELS[decision.kind]
        return f"{label} ({len(forms_of(decision))} phiếu)" if decision.kind == VOID_FORMS else label
    original = session.get(IntegrityDecision, decision.reverses_id)
    return f"Đảo ngược quyết định số {original.id}: {label_of(session, original).lower()}"


# ---------------------------------------------------------------- proposing


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DecisionError("Vui lòng nêu lý do của quyết định: tỉnh sẽ đọc lý do này khi quyết định có hiệu lực.")
    if len(reason) > MAX_REASON:
        raise DecisionError(f"Lý do dài quá {MAX_REASON} ký tự; hãy rút gọn.")
    return reason


def _earlier(session: Session, actor: User, form_key: str) -> IntegrityDecision | None:
    return session.exec(select(IntegrityDecision).where(IntegrityDecision.proposed_by_id == actor.id,
                                                        IntegrityDecision.form_key == form_key)).first()


def _pending(session: Session, campaign_id: int, province_id: int) -> list[IntegrityDecision]:
    return list(session.exec(select(IntegrityDecision).where(
        IntegrityDecision.campaign_id == campaign_id, IntegrityDecision.province_id == province_id,
        IntegrityDecision.state == PROPOSED)))


def _parse_forms(session: Session, campaign_id: int, province_id: int,
                 forms: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """The chosen forms, checked to be forms of this province's invitations in this campaign."""
    chosen = sorted({(int(i), str(c)) for i, c in forms})
    if not chosen:
        raise DecisionError("Vui lòng chọn ít nhất một phiếu cần hủy.")
    invitations = {i.id: i for i in session.exec(select(Invitation).where(
        col(Invitation.id).in_([i for i, _ in chosen]), Invitation.campaign_id == campaign_id,
        Invitation.province_id == province_id))}
    for invitation_id, code in chosen:
        invitation = invitations.get(invitation_id)
        if invitation is None or code not in invitation.form_codes.split(","):
            raise DecisionError("Phiếu đã chọn không thuộc tỉnh này trong đợt đánh giá này; hãy mở lại trang.")
    return chosen


def _check_proposal(session: Session, campaign_id: int, province_id: int, kind: str, flag: IntegrityFlag | None,
                    forms: list[tuple[int, str]]) -> None:
    """Refuse a proposal that would do nothing or repeat one already waiting."""
    pending = _pending(session, campaign_id, province_id)
    if is_province_voided(session, campaign_id, province_id) and kind != DISMISS:
        raise DecisionError("Kết quả khảo sát của tỉnh đã bị hủy toàn bộ; muốn khôi phục, hãy đảo ngược quyết định đó.")
    if kind == VOID_PROVINCE and any(d.kind == VOID_PROVINCE for d in pending):
        raise DecisionError("Đã có đề xuất hủy toàn bộ kết quả của tỉnh đang chờ xác nhận.")
    if flag is not None and kind == DISMISS:
        if flag.state != "open":
            raise DecisionError("Cảnh báo này đã được xử lý.")
        if any(d.flag_id == flag.id for d in pending):
            raise DecisionError("Cảnh báo này đã có đề xuất đang chờ xác nhận.")
    if kind == VOID_FORMS:
        already = voided_forms(session, campaign_id, province_id) | {
            f for d in pending if d.kind == VOID_FORMS for f in forms_of(d)}
        if set(forms) <= already:
            raise DecisionError("Các phiếu đã chọn đã bị hủy hoặc đang chờ xác nhận hủy.")


def propose(session: Session, actor: User, campaign: Campaign, province_id: int, *, kind: str, reason: str,
            form_key: str, flag_id: int | None = None, forms: Iterable[tuple[int, str]] = (),
            two_person: bool = True, now: datetime | None = None) -> Proposed:
    """Propose a decision on one province's survey in the current campaign.

    `kind` is DISMISS (needs `flag_id`), VOID_FORMS (needs `forms`; `flag_id` names the flag they come from, if
    any) or VOID_PROVINCE. With `two_person` off the proposal takes effect at once. A second post of the same
    form (same administrator and `form_key`) returns the first proposal and changes nothing.
    """
    require_current(session, campaign.id)
    form_key = (form_key or "").strip()
    if not form_key:
        raise DecisionError("Biểu mẫu đã cũ. Vui lòng mở lại trang rồi gửi.")
    earlier = _earlier(session, actor, form_key)
    if earlier is not None:
        return Proposed(earlier, False)
    if kind not in KINDS:
        raise DecisionError("Vui lòng chọn quyết định: bỏ qua cảnh báo, hủy phiếu hoặc hủy toàn bộ kết quả.")
    reason = _clean_reason(reason)
    flag = None
    if flag_id is not None:
        flag = session.get(IntegrityFlag, flag_id)
        if flag is None or flag.campaign_id != campaign.id or flag.province_id != province_id:
            raise DecisionError("Không tìm thấy cảnh báo này của tỉnh; hãy mở lại trang.")
    if kind == DISMISS and flag is None:
        raise DecisionError("Vui lòng chọn cảnh báo cần bỏ qua.")
    chosen = _parse_forms(session, campaign.id, province_id, forms) if kind == VOID_FORMS else []
    _check_proposal(session, campaign.id, province_id, kind, flag, chosen)
    decision = IntegrityDecision(campaign_id=campaign.id, province_id=province_id, kind=kind,
                                 flag_id=flag.id if flag else None, forms=json.dumps([list(f) for f in chosen]),
                                 reason=reason, form_key=form_key, proposed_by_id=actor.id,
                                 proposed_at=now or utcnow())
    return _store_proposal(session, actor, decision, two_person=two_person, now=now)


def propose_reversal(session: Session, actor: User, decision: IntegrityDecision, *, reason: str, form_key: str,
                     two_person: bool = True, now: datetime | None = None) -> Proposed:
    """Propose reversing a decision in effect (a reversal itself is not reversed: propose the decision again)."""
    require_current(session, decision.campaign_id)
    form_key = (form_key or "").strip()
    if not form_key:
        raise DecisionError("Biểu mẫu đã cũ. Vui lòng mở lại trang rồi gửi.")
    earlier = _earlier(session, actor, form_key)
    if earlier is not None:
        return Proposed(earlier, False)
    reason = _clean_reason(reason)
    if decision.kind == REVERSE or decision.state != IN_EFFECT:
        raise DecisionError("Chỉ đảo ngược được một quyết định đang có hiệu lực.")
    if any(d.reverses_id == decision.id for d in _pending(session, decision.campaign_id, decision.province_id)):
        raise DecisionError("Quyết định này đã có đề xuất đảo ngược đang chờ xác nhận.")
    reversal = IntegrityDecision(campaign_id=decision.campaign_id, province_id=decision.province_id, kind=REVERSE,
                                 flag_id=decision.flag_id, reverses_id=decision.id, reason=reason, form_key=form_key,
                                 proposed_by_id=actor.id, proposed_at=now or utcnow())
    return _store_proposal(session, actor, reversal, two_person=two_person, now=now)


def _store_proposal(session: Session, actor: User, decision: IntegrityDecision, *, two_person: bool,
                    now: datetime | None) -> Proposed:
    session.add(decision)
    try:
        session.flush()
    except IntegrityError:
        # The same form posted twice at the same moment: the other post won; answer with its proposal.
        session.rollback()
        return Proposed(session.exec(select(IntegrityDecision).where(
            IntegrityDecision.proposed_by_id == actor.id, IntegrityDecision.form_key == decision.form_key)).one(),
            False)
    audit.record(session, actor, "Kiểm tra can thiệp: đề xuất quyết định", province_id=decision.province_id,
                 detail=_detail(session, decision), reason=decision.reason[:500])
    if two_person:
        session.commit()
    else:
        # One administrator decides alone: the portal's configuration says so, and the audit says it too.
        _take_effect(session, actor, decision, now=now, alone=True)
    session.refresh(decision)
    return Proposed(decision, True)


def _detail(session: Session, decision: IntegrityDecision) -> str:
    flag = f", cảnh báo số {decision.flag_id}" if decision.flag_id and decision.kind != REVERSE else ""
    return f"Quyết định số {decision.id}: {label_of(session, decision)}{flag}"


# ---------------------------------------------------------------- confirming, withdrawing


def confirm(session: Session, actor: User, decision: IntegrityDecision, *, now: datetime | None = None) -> None:
    """A second administrator confirms a proposal, which then takes effect.

    The proposer cannot confirm their own proposal. Of two confirmations (two tabs, a double click, two
    administrators at once) the first wins; the second is refused with a message and applies nothing twice.
    """
    require_current(session, decision.campaign_id)
    if decision.state != PROPOSED:
        raise DecisionError(f"Đề xuất này không còn chờ xác nhận ({STATE_LABELS[decision.state].lower()}).")
    if decision.proposed_by_id == actor.id:
        raise DecisionError("Người đề xuất không tự xác nhận được: cần một quản trị viên khác của Bộ xác nhận.")
    _take_effect(session, actor, decision, now=now, alone=False)


def _take_effect(session: Session, actor: User, decision: IntegrityDecision, *, now: datetime | None,
                 alone: bool) -> None:
    moment = now or utcnow()
    claimed = session.exec(update(IntegrityDecision).where(
        IntegrityDecision.id == decision.id, IntegrityDecision.state == PROPOSED,
    ).values(state=IN_EFFECT, decided_by_id=actor.id, decided_at=moment))
    if claimed.rowcount != 1:
        session.rollback()
        raise DecisionError("Đề xuất này không còn chờ xác nhận.")
    target = decision
    if decision.kind == REVERSE:
        target = session.get(IntegrityDecision, decision.reverses_id)
        # The decision reversed must still be in effect (another reversal may have won meanwhile).
        undone = session.exec(update(IntegrityDecision).where(
            IntegrityDecision.id == target.id, IntegrityDecision.state == IN_EFFECT).values(state=REVERSED))
        if undone.rowcount != 1:
            session.rollback()
            raise DecisionError("Quyết định được đề nghị đảo ngược không còn hiệu lực.")
    elif decision.kind == VOID_PROVINCE and session.exec(select(IntegrityDecision.id).where(
            IntegrityDecision.campaign_id == decision.campaign_id, IntegrityDecision.province_id ==
            decision.province_id, IntegrityDecision.kind == VOID_PROVINCE, IntegrityDecision.state == IN_EFFECT,
            IntegrityDecision.id != decision.id)).first() is not None:
        session.rollback()
        raise DecisionError("Kết quả khảo sát của tỉnh đã bị hủy toàn bộ bởi một quyết định khác.")
    elif decision.kind == DISMISS and session.get(IntegrityFlag, decision.flag_id).state != "open":
        session.rollback()
        raise DecisionError("Cảnh báo này đã được xử lý bởi một quyết định khác.")
    if target.flag_id is not None:
        flag = session.get(IntegrityFlag, target.flag_id)
        if decision.kind != REVERSE:
            flag.state = FLAG_STATE_AFTER[target.kind]
        else:
            # Back to open, unless another decision on the flag (other forms voided) is still in effect.
            others = session.exec(select(IntegrityDecision.kind).where(
                IntegrityDecision.flag_id == flag.id, IntegrityDecision.state == IN_EFFECT,
                IntegrityDecision.kind != REVERSE, IntegrityDecision.id != target.id)).first()
            flag.state = FLAG_STATE_AFTER[others] if others else "open"
        session.add(flag)
    how = "có hiệu lực ngay (không cần người thứ hai xác nhận theo cấu hình)" if alone else "xác nhận, có hiệu lực"
    audit.record(session, actor, "Kiểm tra can thiệp: quyết định có hiệu lực", province_id=decision.province_id,
                 detail=f"{_detail(session, decision)}; {how}", reason=decision.reason[:500])
    if target.kind != DISMISS:
        title, body = _province_notice(session, decision, target)
        notices.post_system_notice(session, decision.province_id, title, body, commit=False)
    session.commit()
    session.refresh(decision)


def _province_notice(session: Session, decision: IntegrityDecision, target: IntegrityDecision) -> tuple[str, str]:
    """What the province is told: what was decided and why, never the evidence or anyone's answers."""
    what = ("toàn bộ kết quả khảo sát của tỉnh" if target.kind == VOID_PROVINCE
            else f"{len(forms_of(target))} phiếu khảo sát của tỉnh")
    if decision.kind == REVERSE:
        return (f"Bộ Nội vụ khôi phục {what}",
                f"Bộ Nội vụ đảo ngược quyết định hủy {what}; các phiếu này được tính lại.\nLý do: {decision.reason}")
    return (f"Bộ Nội vụ hủy {what}",
            f"Qua kiểm tra can thiệp vào việc trả lời phiếu, Bộ Nội vụ quyết định hủy {what}; các phiếu bị hủy "
            f"không được tính vào kết quả.\nLý do: {decision.reason}")


def withdraw(session: Session, actor: User, decision: IntegrityDecision, *, now: datetime | None = None) -> None:
    """Withdraw a proposal not yet confirmed: its proposer takes it back, or another administrator declines it."""
    require_current(session, decision.campaign_id)
    claimed = session.exec(update(IntegrityDecision).where(
        IntegrityDecision.id == decision.id, IntegrityDecision.state == PROPOSED,
    ).values(state=WITHDRAWN, decided_by_id=actor.id, decided_at=now or utcnow()))
    if claimed.rowcount != 1:
        session.rollback()
        raise DecisionError("Đề xuất này không còn chờ xác nhận.")
    who = "người đề xuất rút lại" if decision.proposed_by_id == actor.id else "quản trị viên khác không đồng ý"
    audit.record(session, actor, "Kiểm tra can thiệp: rút đề xuất", province_id=decision.province_id,
                 detail=f"{_detail(session, decision)}; {who}")
    session.commit()
    session.refresh(decision)


def waiting_count(session: Session) -> int:
    """How many proposals wait for a second administrator's confirmation (the ministry's home page says so)."""
    return session.exec(select(func.count()).select_from(IntegrityDecision).where(
        IntegrityDecision.state == PROPOSED)).one()


# ---------------------------------------------------------------- what counts


def _in_effect(campaign_id: int, kind: str):
    return select(IntegrityDecision).where(IntegrityDecision.campaign_id == campaign_id,
                                           IntegrityDecision.kind == kind, IntegrityDecision.state == IN_EFFECT)


def is_province_voided(session: Session, campaign_id: int, province_id: int) -> bool:
    """Whether the province's whole survey result of the campaign is voided (a decision in effect, not reversed):
    then none of its answers count."""
    return session.exec(_in_effect(campaign_id, VOID_PROVINCE).where(
        IntegrityDecision.province_id == province_id)).first() is not None


def voided_provinces(session: Session, campaign_id: int) -> set[int]:
    """The provinces whose whole survey result of the campaign is voided."""
    return {d.province_id for d in session.exec(_in_effect(campaign_id, VOID_PROVINCE))}


def voided_forms(session: Session, campaign_id: int, province_id: int | None = None) -> set[tuple[int, str]]:
    """The (invitation id, form code) pairs voided one by one (decisions in effect, not reversed); a voided
    province's other forms are not listed here: ask `is_province_voided`."""
    query = _in_effect(campaign_id, VOID_FORMS)
    if province_id is not None:
        query = query.where(IntegrityDecision.province_id == province_id)
    return {form for decision in session.exec(query) for form in forms_of(decision)}


def voided_response_keys(session: Session, campaign_id: int, secret: str) -> set[str]:
    """The answer rows' keys of the forms voided one by one, derived with the secret key (never stored)."""
    return {response_key(invitation_id, code, secret) for invitation_id, code in voided_forms(session, campaign_id)}


def counted_answers_query(session: Session, campaign_id: int, secret: str, *, province_id: int | None = None):
    """The statement selecting the answers that count (see `counted_answers`), for a results computation that
    aggregates in the database or reads the rows in batches rather than all at once."""
    query = select(Answer).where(Answer.campaign_id == campaign_id, Answer.submitted == True)  # noqa: E712
    if province_id is not None:
        query = query.where(Answer.province_id == province_id)
    provinces = voided_provinces(session, campaign_id)
    if provinces:
        query = query.where(col(Answer.province_id).not_in(sorted(provinces)))
    keys = voided_response_keys(session, campaign_id, secret)
    if keys:
        query = query.where(col(Answer.response_key).not_in(sorted(keys)))
    return query


def counted_answers(session: Session, campaign_id: int, secret: str, *, province_id: int | None = None) -> list[Answer]:
    """The submitted answers of the campaign that count in its results: none of a voided province, none of a
    voided form. Voided answers stay stored (for an appeal and a reversal) and are simply left out here; every
    results computation reads its answers through this function (or `counted_answers_query`)."""
    return list(session.exec(counted_answers_query(session, campaign_id, secret, province_id=province_id)))
