"""Launching the survey: personal links and invitation emails (reminders: reminders.py).

A respondent's link is `/phieu/<id>.<mac>`, where `mac` is 160 bits of
HMAC-SHA256 over the invitation's id and a random nonce, under a key derived
from the portal's SECRET_KEY. The database holds only the nonce, so a copy of
it is not enough to answer as someone; the same link can be rebuilt for every
re-sent email, so earlier emails keep working. Changing SECRET_KEY invalidates
every link (the README says so).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import delete, exists, func, update
from sqlmodel import Session, select

from portal.domain import audit, operations, questionnaires
from portal.domain.addresses import deliverable
from portal.domain.campaigns import contact_of, is_past
from portal.domain.notices import post_system_notice
from portal.models import (
    Campaign,
    DeliveryStatus,
    FormProgress,
    FormState,
    Invitation,
    ListStatus,
    Ministry,
    Operation,
    Province,
    QuestionnaireVersion,
    Respondent,
    RespondentGroup,
    RespondentList,
    User,
    utcnow,
)

MAC_BYTES = 20


class LaunchError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _secret(secret: str | None) -> bytes:
    value = secret if secret is not None else current_app.config["SECRET_KEY"]
    # A key of its own for links, so that no other use of SECRET_KEY can produce one.
    return hashlib.sha256(b"cchc-survey-link:" + value.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def link_token(invitation: Invitation, secret: str | None = None) -> str:
    """The secret part of the respondent's link."""
    mac = hmac.new(_secret(secret), f"{invitation.id}:{invitation.nonce}".encode(), hashlib.sha256).digest()
    return f"{invitation.id}.{_b64(mac[:MAC_BYTES])}"


def link_url(invitation: Invitation, base_url: str, secret: str | None = None) -> str:
    return f"{base_url.rstrip('/')}/phieu/{link_token(invitation, secret)}"


# What stands for the secret part of a link in every stored email and log line: the invitation's id stays
# (an administrator can tell whose link it was), the MAC that makes it a link does not.
LINK_MASK = "••••"


def masked_link_url(invitation_id: int, base_url: str) -> str:
    """The respondent's link as the outbox stores it: `<base>/phieu/<id>.••••`, which opens nothing."""
    return f"{base_url.rstrip('/')}{masked_path(invitation_id)}"


def masked_path(invitation_id: int) -> str:
    return f"/phieu/{invitation_id}.{LINK_MASK}"


def personal_links(session: Session, invitation_ids: Iterable[int], secret: str | None = None,
                   ) -> dict[int, tuple[str, str]]:
    """For each invitation id: (the masked path its stored emails hold, the path of its real link).

    The outbox worker puts the real link into a message only when it sends it, deriving it from the
    key as the survey pages do: the database keeps no link, so a copy of it cannot answer as anyone.
    """
    ids = sorted(set(invitation_ids))
    if not ids:
        return {}
    rows = session.exec(select(Invitation.id, Invitation.nonce).where(Invitation.id.in_(ids))).all()
    return {ident: (masked_path(ident), f"/phieu/{link_token(Invitation(id=ident, nonce=nonce), secret)}")
            for ident, nonce in rows}


def token_id(token: str) -> int | None:
    """The invitation id a link names, or None when the link is not even well formed."""
    ident, _, mac_text = (token or "").partition(".")
    # ASCII digits only: "³" or "١٢" pass str.isdigit() yet are no id a link ever carries (int("³") fails).
    if not (ident.isascii() and ident.isdigit()) or len(ident) > 12 or not mac_text or len(mac_text) > 64 \
            or not mac_text.isascii():
        return None
    return int(ident)


def token_matches(invitation: Invitation | None, token: str, secret: str | None = None) -> bool:
    """Whether the link was made by the portal for this invitation (False for None)."""
    mac_text = (token or "").partition(".")[2]
    expected = link_token(invitation, secret).partition(".")[2] if invitation else _b64(b"\0" * MAC_BYTES)
    # compare_digest runs in constant time, and runs even when the id is unknown.
    return hmac.compare_digest(expected.encode(), mac_text.encode()) and invitation is not None


def invitation_for_token(session: Session, token: str, secret: str | None = None) -> Invitation | None:
    """The invitation a link names, or None for anything forged, truncated or unknown."""
    ident = token_id(token)
    if ident is None:
        return None
    invitation = session.get(Invitation, ident)
    return invitation if token_matches(invitation, token, secret) else None


def response_key(invitation_id: int, form_code: str, secret: str | None = None) -> str:
    """The key under which this respondent's answers to a form are stored (names no person)."""
    return hmac.new(_secret(secret), f"answers:{invitation_id}:{form_code}".encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- launch


@dataclass
class LaunchCandidate:
    province: Province
    rlist: RespondentList
    people: int


def launch_candidates(session: Session, campaign: Campaign) -> list[LaunchCandidate]:
    """Provinces whose list is sent and whose survey has not been launched yet (nor is being launched)."""
    rows = session.exec(
        select(RespondentList, Province, func.count(Respondent.id))
        .join(Province, Province.id == RespondentList.province_id)
        .join(Respondent, Respondent.list_id == RespondentList.id, isouter=True)
        .where(RespondentList.campaign_id == campaign.id, RespondentList.status == ListStatus.SENT.value,
               RespondentList.launched_at.is_(None), RespondentList.launch_operation_id.is_(None))
        .group_by(RespondentList.id, Province.id).order_by(Province.id)).all()
    return [LaunchCandidate(province, rlist, count) for rlist, province, count in rows]


NOTHING_TO_LAUNCH = "Không có tỉnh, thành phố nào đã gửi danh sách mà chưa được phát hành khảo sát."
NONE_CHOSEN = "Vui lòng chọn ít nhất một tỉnh, thành phố."
NO_QUESTIONNAIRE = "Chưa có bộ phiếu khảo sát. Hãy nhập bộ phiếu (hoặc nạp bộ phiếu mẫu) trước khi phát hành."
SAMPLE_NOT_ACCEPTED = ("Bộ phiếu đang dùng là PHIẾU MẪU, không phải bộ phiếu chính thức. Nếu vẫn phát hành bằng phiếu "
                       "mẫu, hãy đánh dấu ô xác nhận; nếu không, hãy nhập bộ phiếu chính thức trước.")
PLAN_CHANGED = ("Danh sách các địa phương được phát hành đã thay đổi kể từ khi trang xác nhận được mở. "
                "Vui lòng xem lại rồi xác nhận lần nữa.")


@dataclass
class LaunchPlan:
    """Exactly what a launch of the chosen provinces would do, shown before anything is sent."""

    candidates: list[LaunchCandidate]  # the chosen provinces that are ready, in code order
    not_ready: list[Province]  # chosen, but not (or no longer) waiting for a launch
    version: QuestionnaireVersion | None

    @property
    def emails(self) -> int:
        """One invitation email per person, whether they answer one form or two."""
        return sum(c.people for c in self.candidates)

    @property
    def is_sample(self) -> bool:
        return bool(self.version and self.version.is_sample)

    @property
    def province_ids(self) -> list[int]:
        return [c.province.id for c in self.candidates]


def plan_launch(session: Session, campaign: Campaign, province_ids: Iterable[int] | None) -> LaunchPlan:
    """The provinces a launch of `province_ids` (None: every province ready) would reach, and how many emails.

    Raises LaunchError when nothing was chosen or none of the chosen is ready.
    """
    candidates = launch_candidates(session, campaign)
    not_ready: list[Province] = []
    if province_ids is not None:
        wanted = set(province_ids)
        if not wanted:
            raise LaunchError(NONE_CHOSEN)
        ready_ids = {c.province.id for c in candidates}
        candidates = [c for c in candidates if c.province.id in wanted]
        not_ready = list(session.exec(select(Province).where(Province.id.in_(wanted - ready_ids))
                                      .order_by(Province.id)))
    if not candidates:
        raise LaunchError(NOTHING_TO_LAUNCH)
    return LaunchPlan(candidates, not_ready, questionnaires.current_version(session, campaign))


@dataclass
class LaunchOutcome:
    provinces: list[str]
    invitations: int


LAUNCH_DECISION = "Quyết định phát hành khảo sát"


def start_launch(
    session: Session,
    actor: User,
    campaign: Campaign,
    province_ids: Iterable[int] | None,
    *,
    base_url: str,
    mail_domain: str,
    tz_name: str,
    accept_sample: bool = False,
    expected_emails: int | None = None,
    now: datetime | None = None,
) -> Operation:
    """Decide the launch of the chosen provinces (None: every province ready); the worker does the rest.

    Refused while the questionnaire is the sample unless `accept_sample`, and, when
    `expected_emails` is given (what the confirmation page showed), when the launch
    would now send a different number of emails. In one transaction: each chosen
    list is claimed for this launch (so no other launch takes it), the questionnaire
    is frozen, the decision is audited and the operation recorded. Nothing grows with
    the lists here: `launch_step` invites their people, chunk by chunk, in the worker.
    """
    now = now or utcnow()
    if is_past(campaign.response_deadline, tz_name, now):
        raise LaunchError("Đã quá hạn trả lời phiếu của đợt này; không thể phát hành khảo sát.")
    version = questionnaires.current_version(session, campaign)
    if version is None:
        raise LaunchError(NO_QUESTIONNAIRE)
    if version.is_sample and not accept_sample:
        raise LaunchError(SAMPLE_NOT_ACCEPTED)
    plan = plan_launch(session, campaign, province_ids)
    if expected_emails is not None and (plan.emails != expected_emails or plan.not_ready):
        raise LaunchError(PLAN_CHANGED)
    operation = operations.create(session, kind="launch", campaign_id=campaign.id, requested_by=actor,
                                  params={"version_id": version.id, "base_url": base_url,
                                          "mail_domain": mail_domain}, total=0, now=now)
    claimed: list[LaunchCandidate] = []
    for candidate in plan.candidates:
        # Claim the province with a conditional update: of two launches at once (a double click, two
        # ministry officers), exactly one takes it; the other skips it.
        taken = session.exec(update(RespondentList)
                             .where(RespondentList.id == candidate.rlist.id, RespondentList.launched_at.is_(None),
                                    RespondentList.launch_operation_id.is_(None),
                                    RespondentList.status == ListStatus.SENT.value)
                             .values(launch_operation_id=operation.id).execution_options(synchronize_session=False))
        if taken.rowcount == 1:
            claimed.append(candidate)
    if not claimed:  # every one was taken by another launch at the same moment
        session.rollback()
        raise LaunchError(NOTHING_TO_LAUNCH)
    if version.frozen_at is None:
        # With the decision: from now on the questionnaire the invitations will name cannot be replaced.
        try:
            questionnaires.freeze(session, version, now)
        except questionnaires.QuestionnaireError as problem:
            session.rollback()
            raise LaunchError(problem.message) from problem
    operation.total = sum(c.people for c in claimed)
    session.add(operation)
    audit.record(session, actor, LAUNCH_DECISION,
                 detail=f"{len(claimed)} tỉnh, thành phố, {operation.total} người "
                        f"({', '.join(c.province.name for c in claimed)}); "
                        f"{version.title}, phiên bản {version.version}")
    session.commit()
    return operation


def launch_step(session: Session, operation: Operation, chunk: int, now: datetime) -> operations.Step:
    """One chunk of a launch: up to `chunk` people of the first province not done yet get their invitation.

    People are chosen as "on the list and not invited yet" (an invitation's respondent is unique), so a
    chunk repeated after a crash invites nobody twice. The chunk that leaves a province with nobody to
    invite marks it launched, audits it and tells it, in the same transaction: the ministry never sees a
    province half launched, only "đang phát hành" until then.
    """
    rlist = session.exec(select(RespondentList).where(RespondentList.launch_operation_id == operation.id,
                                                      RespondentList.launched_at.is_(None))
                         .order_by(RespondentList.province_id)).first()
    if rlist is None:
        return operations.Step(0, finished=True)
    campaign = session.get(Campaign, operation.campaign_id)
    params = operations.params_of(operation)
    version = session.get(QuestionnaireVersion, params["version_id"])
    questionnaire = questionnaires.load(version)
    groups = {g.id: g for g in session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id))}
    not_invited = ~exists().where(Invitation.respondent_id == Respondent.id)
    people = session.exec(select(Respondent).where(Respondent.list_id == rlist.id, not_invited)
                          .order_by(Respondent.row_number, Respondent.id).limit(chunk)).all()
    for person in people:
        _invite(session, person, groups[person.group_id], questionnaire, version, campaign,
                base_url=params["base_url"], mail_domain=params["mail_domain"], secret=None, now=now)
    if len(people) < chunk:
        _province_launched(session, operation, rlist, version, now)
    return operations.Step(len(people))


def _province_launched(session: Session, operation: Operation, rlist: RespondentList,
                       version: QuestionnaireVersion, now: datetime) -> None:
    """Everyone on the list is invited: the province is launched, audited and told (not committed)."""
    session.exec(update(RespondentList).where(RespondentList.id == rlist.id, RespondentList.launched_at.is_(None))
                 .values(launched_at=now).execution_options(synchronize_session=False))
    people = session.exec(select(func.count(Respondent.id)).where(Respondent.list_id == rlist.id)).one()
    province = session.get(Province, rlist.province_id)
    actor = session.get(User, operation.requested_by_id) if operation.requested_by_id else None
    audit.record(session, actor, "Phát hành khảo sát", province_id=province.id,
                 detail=f"{people} người được gửi thư mời ({version.title}, phiên bản {version.version})")
    post_system_notice(session, province.id, "Bộ Nội vụ đã phát hành khảo sát",
                       "Bộ Nội vụ đã gửi thư mời trả lời phiếu khảo sát đến hộp thư công vụ của "
                       f"{people} người trong danh sách. Theo dõi và đôn đốc tại “Chi tiết tiến độ khảo sát”.",
                       commit=False)
    result = operations.result_of(operation)
    result.setdefault("provinces", []).append(province.name)
    result["invitations"] = result.get("invitations", 0) + people
    operations.set_result(operation, result)


def launch_outcome(operation: Operation) -> LaunchOutcome:
    """What a launch has done so far: the provinces launched, and the invitations they hold."""
    result = operations.result_of(operation)
    return LaunchOutcome(result.get("provinces", []), result.get("invitations", 0))


def launch_summary(operation: Operation) -> str:
    """The sentence the ministry reads once a launch is over."""
    outcome = launch_outcome(operation)
    return (f"Đã phát hành khảo sát cho {len(outcome.provinces)} tỉnh, thành phố: {outcome.invitations} thư mời "
            f"đang được gửi ({', '.join(outcome.provinces)}).")


def launching(session: Session, campaign: Campaign) -> list[tuple[Province, Operation]]:
    """Provinces whose launch is decided but not finished ("đang phát hành"), with their operation."""
    return list(session.exec(
        select(Province, Operation).join(RespondentList, RespondentList.province_id == Province.id)
        .join(Operation, Operation.id == RespondentList.launch_operation_id)
        .where(RespondentList.campaign_id == campaign.id, RespondentList.launched_at.is_(None))
        .order_by(Province.id)).all())


def launch(session: Session, *args: Any, **options: Any) -> LaunchOutcome:
    """Decide a launch and run it to the end in this process (the demo, tests, scripts).

    Takes `start_launch`'s arguments and goes the same path as the ministry's page and the worker:
    `start_launch`, then every chunk of `launch_step`.
    """
    operation = start_launch(session, *args, **options)
    try:
        operation = operations.run_until_done(session, operation.id, now=options.get("now"))
    except operations.OperationError as problem:
        raise LaunchError(problem.message) from problem
    return launch_outcome(operation)


def _invite(
    session: Session, person: Respondent, group: RespondentGroup, questionnaire: questionnaires.Questionnaire,
    version: QuestionnaireVersion, campaign: Campaign, *, base_url: str, mail_domain: str, secret: str | None,
    now: datetime,
) -> Invitation:
    """One person's invitation covering their one or two forms, its progress rows and its email."""
    forms = [f for f in questionnaires.forms_for(questionnaire, group.code)
             if (f.target == "locality" and group.answers_locality_form)
             or (f.target == "ministry" and person.answers_ministry_form)]
    invitation = Invitation(respondent_id=person.id, campaign_id=campaign.id, province_id=person.province_id,
                            questionnaire_version_id=version.id, nonce=secrets.token_hex(16),
                            form_codes=",".join(f.code for f in forms), created_at=now)
    session.add(invitation)
    session.flush()
    session.add_all(FormProgress(invitation_id=invitation.id, province_id=person.province_id,
                                 campaign_id=campaign.id, form_code=f.code) for f in forms)
    queue_email(session, "invitation", invitation, person, campaign, forms, base_url=base_url,
                 mail_domain=mail_domain, secret=secret, now=now)
    return invitation


# ---------------------------------------------------------------- a launched list returned and sent again


def withdraw_for_respondents(session: Session, actor: User | None, respondent_ids: Iterable[int],
                             *, now: datetime | None = None, because: str = "") -> int:
    """Withdraw the invitations of people about to be removed from a launched list; returns how many.

    The invitation stays (its link then answers "đã được thu hồi") but no longer names the person,
    so the person's row can be deleted; its progress rows go (the person is no longer expected to
    answer) and emails not yet sent are not sent. Not committed: the caller deletes the rows in the
    same transaction.
    """
    from portal.domain import outbox

    now = now or utcnow()
    ids = list(respondent_ids)
    if not ids:
        return 0
    rows = session.exec(select(Invitation, Respondent).join(Respondent, Respondent.id == Invitation.respondent_id)
                        .where(Invitation.respondent_id.in_(ids))).all()
    for invitation, person in rows:
        invitation.withdrawn_at = now
        invitation.respondent_id = None
        session.add(invitation)
        session.exec(delete(FormProgress).where(FormProgress.invitation_id == invitation.id))
        outbox.cancel_queued(session, invitation.id, now=now)
        audit.record(session, actor, "Thu hồi thư mời", province_id=invitation.province_id,
                     detail=f"{person.full_name} <{person.email}>: " + (
                         because or "người này được xóa khỏi danh sách sau khi phát hành khảo sát; "
                                    "đường liên kết không còn dùng được."))
    session.flush()
    return len(rows)


@dataclass
class ListFollowUp:
    """What sending a launched list again did to its invitations."""

    invited: int = 0  # people added since the launch, now invited
    resent: int = 0  # corrected address, the first email never arrived: sent again on the same link
    renewed: int = 0  # corrected address, the first email arrived unopened: old link withdrawn, a new one sent
    kept: int = 0  # corrected address of someone whose link was already opened: nothing sent to the new address

    def summary(self) -> str:
        """What was done, in Vietnamese, for the notices to the ministry and the province."""
        parts = [f"đã gửi thư mời đến {self.invited} người được thêm",
                 f"gửi lại thư mời đến {self.resent} địa chỉ được sửa (cùng đường liên kết, thư trước chưa đến)"]
        if self.renewed:
            parts.append(f"gửi đường liên kết mới đến {self.renewed} địa chỉ được sửa (đường liên kết cũ đã đến "
                         "địa chỉ cũ nên bị thu hồi)")
        if self.kept:
            parts.append(f"không gửi sang địa chỉ mới cho {self.kept} người đã mở đường liên kết")
        return ", ".join(parts)


def follow_up_launched_list(
    session: Session, actor: User | None, rlist: RespondentList, campaign: Campaign, *, base_url: str,
    mail_domain: str, secret: str | None = None, now: datetime | None = None,
) -> ListFollowUp:
    """After a launched list was returned and sent again: invite the people added, re-send corrected addresses.

    Uses the questionnaire frozen at the launch. Not committed: it runs in the transaction that
    sends the list, so the list is never "sent" without its people invited.
    """
    from portal.models import OutboxMessage

    now = now or utcnow()
    version = session.exec(select(QuestionnaireVersion).where(QuestionnaireVersion.campaign_id == campaign.id,
                                                              QuestionnaireVersion.frozen_at.is_not(None))
                           .order_by(QuestionnaireVersion.version.desc())).first()
    if version is None:
        raise LaunchError(NO_QUESTIONNAIRE)
    questionnaire = questionnaires.load(version)
    groups = {g.id: g for g in session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id))}
    rows = session.exec(select(Respondent, Invitation)
                        .join(Invitation, Invitation.respondent_id == Respondent.id, isouter=True)
                        .where(Respondent.list_id == rlist.id).order_by(Respondent.row_number, Respondent.id)).all()
    # The address each invitation was last emailed to: a correction is a person whose address differs.
    last_to = dict(session.exec(
        select(OutboxMessage.invitation_id, OutboxMessage.to_addr)
        .where(OutboxMessage.invitation_id.in_([i.id for _, i in rows if i is not None]),
               OutboxMessage.kind == "invitation")
        .order_by(OutboxMessage.id)).all())
    outcome = ListFollowUp()
    for person, invitation in rows:
        if invitation is None:
            _invite(session, person, groups[person.group_id], questionnaire, version, campaign,
                    base_url=base_url, mail_domain=mail_domain, secret=secret, now=now)
            audit.record(session, actor, "Gửi thư mời người được thêm sau khi phát hành",
                         province_id=rlist.province_id, detail=f"{person.full_name} <{person.email}>")
            outcome.invited += 1
        elif deliverable(last_to.get(invitation.id, "")).casefold() != deliverable(person.email).casefold():
            # The outbox holds the address as sent (an IDN domain in its IDNA form): compare like with like.
            old = last_to.get(invitation.id, "")
            change = f"{person.full_name}: {old} → {person.email}"
            # The link carries the person's saved answers: it may only follow a corrected address when it
            # never reached anyone. Otherwise the province could read or finish someone's answers by
            # writing its own address into the row.
            if invitation.first_opened_at is not None or _any_form_started(session, invitation):
                audit.record(session, actor, "Không gửi thư mời sang địa chỉ mới", province_id=rlist.province_id,
                             detail=f"{change}: người này đã mở đường liên kết, nên đường liên kết không được "
                                    "gửi sang địa chỉ khác.")
                outcome.kept += 1
            elif invitation.delivery_status == DeliveryStatus.SENT.value:
                withdraw_for_respondents(session, actor, [person.id], now=now,
                                         because=f"địa chỉ được sửa ({old} → {person.email}) sau khi thư mời "
                                                 "đã đến địa chỉ cũ; đường liên kết cũ bị thu hồi.")
                _invite(session, person, groups[person.group_id], questionnaire, version, campaign,
                        base_url=base_url, mail_domain=mail_domain, secret=secret, now=now)
                audit.record(session, actor, "Gửi thư mời mới đến địa chỉ được sửa", province_id=rlist.province_id,
                             detail=change)
                outcome.renewed += 1
            else:
                resend_to_corrected_address(session, actor, invitation, person.email, base_url=base_url,
                                            mail_domain=mail_domain, secret=secret, now=now,
                                            detail=f"{change} (địa chỉ được sửa)")
                outcome.resent += 1
    return outcome


def _any_form_started(session: Session, invitation: Invitation) -> bool:
    return session.exec(select(FormProgress.invitation_id).where(
        FormProgress.invitation_id == invitation.id,
        FormProgress.state != FormState.NOT_STARTED.value)).first() is not None


def queue_email(
    session: Session, kind: str, invitation: Invitation, person: Respondent, campaign: Campaign,
    forms: list, *, base_url: str, mail_domain: str, secret: str | None, now: datetime,
    deadline: date | None = None, has_draft: bool = False, expires_at: datetime | None = None,
) -> None:
    """Queue a respondent's invitation or reminder email naming `forms` (the link is masked until sent)."""
    from portal.domain import outbox
    from portal.emails import render_email

    ministry = ministry_name(session, person)
    subject, text, html = render_email(kind, {
        "person": person, "forms": [f.for_ministry(ministry) for f in forms], "campaign": campaign,
        "link": masked_link_url(invitation.id, base_url),  # the outbox worker puts the real link in
        "deadline": deadline or response_deadline(session, campaign, invitation.province_id),
        "has_draft": has_draft,
        "contact": contact_of(campaign, current_app.config.get("PORTAL_CONTACT", "")).text,
    })
    outbox.enqueue(session, kind=kind, to_addr=person.email, subject=subject, body_text=text, body_html=html,
                   invitation_id=invitation.id, province_id=invitation.province_id, mail_domain=mail_domain, now=now,
                   expires_at=expires_at)


def response_deadline(session: Session, campaign: Campaign, province_id: int) -> date:
    """The day the province's respondents answer by: the campaign's, or the province's extension."""
    extension = session.exec(select(RespondentList.response_extension_until).where(
        RespondentList.campaign_id == campaign.id, RespondentList.province_id == province_id)).first()
    return extension if extension and extension > campaign.response_deadline else campaign.response_deadline


def ministry_name(session: Session, person: Respondent) -> str:
    """The name of the ministry the person's ministry form evaluates ("" when they answer none)."""
    ministry = session.get(Ministry, person.ministry_id) if person.ministry_id else None
    return ministry.name if ministry else ""


def invitation_forms(session: Session, invitation: Invitation) -> list:
    """The FormDefs of the invitation, in its order; a ministry form names the respondent's ministry."""
    version = session.get(QuestionnaireVersion, invitation.questionnaire_version_id)
    questionnaire = questionnaires.load(version)
    by_code = {f.code: f for f in questionnaire.forms}
    ministry = ministry_name(session, session.get(Respondent, invitation.respondent_id))
    return [by_code[code].for_ministry(ministry) for code in invitation.form_codes.split(",") if code in by_code]


PENDING_STATES = (DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value)


def resend(
    session: Session, actor: User | None, invitation: Invitation, *, base_url: str, mail_domain: str,
    secret: str | None = None, now: datetime | None = None, commit: bool = True, detail: str = "",
    even_if_pending: bool = False,
) -> bool:
    """Queue the invitation email again (same link); False when one is already waiting to go.

    The invitation's state is claimed with one conditional UPDATE, so of a double click, three clicks or
    two IT focal points at once exactly one queues an email: one pending re-send per invitation.
    `even_if_pending` skips that condition (an address corrected while the last email is on the wire).
    `detail` is what the audit log says (the address, by default).
    """
    now = now or utcnow()
    statement = update(Invitation).where(Invitation.id == invitation.id)
    if not even_if_pending:
        statement = statement.where(Invitation.delivery_status.not_in(PENDING_STATES))
    claimed = session.exec(statement.values(delivery_status=DeliveryStatus.QUEUED.value, delivery_reply="")
                           .execution_options(synchronize_session=False))
    session.expire(invitation, ["delivery_status", "delivery_reply"])
    if claimed.rowcount != 1:
        return False
    person = session.get(Respondent, invitation.respondent_id)
    campaign = session.get(Campaign, invitation.campaign_id)
    queue_email(session, "invitation", invitation, person, campaign, invitation_forms(session, invitation),
                 base_url=base_url, mail_domain=mail_domain, secret=secret, now=now)
    audit.record(session, actor, "Gửi lại thư mời", province_id=invitation.province_id, detail=detail or person.email)
    if commit:
        session.commit()
    return True


def resend_to_corrected_address(
    session: Session, actor: User | None, invitation: Invitation, email: str, *, base_url: str, mail_domain: str,
    secret: str | None = None, now: datetime | None = None, detail: str = "",
) -> None:
    """After the respondent's address was corrected: the invitation goes to `email`, once. Does not commit.

    An email of the invitation still waiting in the outbox (an earlier correction or "Gửi lại") is
    redirected to the new address instead of adding another; only when the waiting one is already on
    the wire to the old address is one more queued.
    """
    from portal.models import OutboxMessage

    if resend(session, actor, invitation, base_url=base_url, mail_domain=mail_domain, secret=secret, now=now,
              commit=False, detail=detail):
        return
    redirected = session.exec(
        update(OutboxMessage).where(OutboxMessage.invitation_id == invitation.id,
                                    OutboxMessage.status == DeliveryStatus.QUEUED.value)
        .values(to_addr=deliverable(email)).execution_options(synchronize_session=False))
    if redirected.rowcount == 0:
        resend(session, actor, invitation, base_url=base_url, mail_domain=mail_domain, secret=secret, now=now,
               commit=False, detail=detail, even_if_pending=True)
