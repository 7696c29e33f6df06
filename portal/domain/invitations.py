"""Launching the survey: personal links, invitation emails, reminders.

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
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, update
from sqlmodel import Session, select

from portal.domain import audit, questionnaires
from portal.domain.campaigns import end_of_day_utc, is_past, local_today
from portal.domain.notices import post_system_notice
from portal.models import (
    Campaign,
    DeliveryStatus,
    FormProgress,
    FormState,
    Invitation,
    ListStatus,
    Ministry,
    Province,
    QuestionnaireVersion,
    ReminderSchedule,
    Respondent,
    RespondentGroup,
    RespondentList,
    User,
    utcnow,
)

MAC_BYTES = 20
# Invitations reminded per transaction on a reminder day (see enqueue_due_reminders).
REMINDER_CHUNK = 200


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
    """Provinces whose list is sent and whose survey has not been launched yet."""
    rows = session.exec(
        select(RespondentList, Province, func.count(Respondent.id))
        .join(Province, Province.id == RespondentList.province_id)
        .join(Respondent, Respondent.list_id == RespondentList.id, isouter=True)
        .where(RespondentList.campaign_id == campaign.id, RespondentList.status == ListStatus.SENT.value,
               RespondentList.launched_at.is_(None))
        .group_by(RespondentList.id, Province.id).order_by(Province.id)).all()
    return [LaunchCandidate(province, rlist, count) for rlist, province, count in rows]


@dataclass
class LaunchOutcome:
    provinces: list[str]
    invitations: int


def launch(
    session: Session,
    actor: User,
    campaign: Campaign,
    province_ids: Iterable[int] | None,
    *,
    base_url: str,
    mail_domain: str,
    tz_name: str,
    secret: str | None = None,
    now: datetime | None = None,
) -> LaunchOutcome:
    """Send the survey to the respondents of the chosen provinces (None: every province ready).

    Freezes the questionnaire, creates one invitation per respondent covering
    their one or two forms, queues one email each, tells each province. Each
    province is committed on its own, so a failure half way keeps what was done
    and a second run continues with the rest.
    """
    now = now or utcnow()
    if is_past(campaign.response_deadline, tz_name, now):
        raise LaunchError("Đã quá hạn trả lời phiếu của đợt này; không thể phát hành khảo sát.")
    version = questionnaires.current_version(session, campaign)
    if version is None:
        raise LaunchError("Chưa có bộ phiếu khảo sát. Hãy nhập bộ phiếu (hoặc nạp bộ phiếu mẫu) trước khi phát hành.")
    questionnaire = questionnaires.load(version)
    candidates = launch_candidates(session, campaign)
    if province_ids is not None:
        wanted = set(province_ids)
        candidates = [c for c in candidates if c.province.id in wanted]
    if not candidates:
        raise LaunchError("Không có tỉnh, thành phố nào đã gửi danh sách mà chưa được phát hành khảo sát.")
    groups = {g.id: g for g in session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id))}
    launched, total = [], 0
    for candidate in candidates:
        # Claim the province with a conditional update: of two launches at once (a double click, two
        # ministry officers), exactly one invites its people; the other skips it.
        claimed = session.exec(update(RespondentList)
                               .where(RespondentList.id == candidate.rlist.id, RespondentList.launched_at.is_(None))
                               .values(launched_at=now).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            session.rollback()
            continue
        if version.frozen_at is None:
            # In the first province's transaction: the launch and the freeze are stored together.
            try:
                questionnaires.freeze(session, version, now)
            except questionnaires.QuestionnaireError as problem:
                session.rollback()
                raise LaunchError(problem.message) from problem
        people = session.exec(select(Respondent).where(Respondent.list_id == candidate.rlist.id)
                              .order_by(Respondent.row_number)).all()
        for person in people:
            group = groups[person.group_id]
            forms = [f for f in questionnaires.forms_for(questionnaire, group.code)
                     if f.target == "locality" or person.answers_ministry_form]
            invitation = Invitation(respondent_id=person.id, campaign_id=campaign.id,
                                    province_id=candidate.province.id, questionnaire_version_id=version.id,
                                    nonce=secrets.token_hex(16), form_codes=",".join(f.code for f in forms),
                                    created_at=now)
            session.add(invitation)
            session.flush()
            session.add_all(FormProgress(invitation_id=invitation.id, province_id=candidate.province.id,
                                         form_code=f.code) for f in forms)
            _queue_email(session, "invitation", invitation, person, campaign, forms, base_url=base_url,
                         mail_domain=mail_domain, secret=secret, now=now)
        audit.record(session, actor, "Phát hành khảo sát", province_id=candidate.province.id,
                     detail=f"{len(people)} người được gửi thư mời ({version.title}, phiên bản {version.version})")
        # The province's notice is stored with its launch: a process killed between two commits would
        # otherwise leave a launched province never told, and a second run skips a launched province.
        post_system_notice(session, candidate.province.id, "Bộ Nội vụ đã phát hành khảo sát",
                           "Bộ Nội vụ đã gửi thư mời trả lời phiếu khảo sát đến hộp thư công vụ của "
                           f"{len(people)} người trong danh sách. Theo dõi và đôn đốc tại “Chi tiết tiến độ khảo sát”.",
                           commit=False)
        session.commit()
        launched.append(candidate.province.name)
        total += len(people)
    if not launched:  # every one was launched by another launch at the same moment
        raise LaunchError("Không có tỉnh, thành phố nào đã gửi danh sách mà chưa được phát hành khảo sát.")
    return LaunchOutcome(launched, total)


def _queue_email(
    session: Session, kind: str, invitation: Invitation, person: Respondent, campaign: Campaign,
    forms: list, *, base_url: str, mail_domain: str, secret: str | None, now: datetime,
) -> None:
    from portal.domain import outbox
    from portal.emails import render_email

    ministry = ministry_name(session, person)
    subject, text, html = render_email(kind, {
        "person": person, "forms": [f.for_ministry(ministry) for f in forms], "campaign": campaign,
        "link": link_url(invitation, base_url, secret),
        "contact": current_app.config.get("PORTAL_CONTACT", ""),
    })
    outbox.enqueue(session, kind=kind, to_addr=person.email, subject=subject, body_text=text, body_html=html,
                   invitation_id=invitation.id, province_id=invitation.province_id, mail_domain=mail_domain, now=now)


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


def resend(
    session: Session, actor: User | None, invitation: Invitation, *, base_url: str, mail_domain: str,
    secret: str | None = None, now: datetime | None = None, commit: bool = True,
) -> None:
    """Queue the invitation email again (same link) — after an address was corrected, say."""
    now = now or utcnow()
    person = session.get(Respondent, invitation.respondent_id)
    campaign = session.get(Campaign, invitation.campaign_id)
    _queue_email(session, "invitation", invitation, person, campaign, invitation_forms(session, invitation),
                 base_url=base_url, mail_domain=mail_domain, secret=secret, now=now)
    invitation.delivery_status = DeliveryStatus.QUEUED.value
    invitation.delivery_reply = ""
    session.add(invitation)
    audit.record(session, actor, "Gửi lại thư mời", province_id=invitation.province_id, detail=person.email)
    if commit:
        session.commit()


# ---------------------------------------------------------------- reminders


def unfinished(session: Session, invitation_ids: Iterable[int] | None = None, *, campaign_id: int | None = None):
    """Invitations with at least one form not yet submitted (a query to refine further)."""
    open_forms = select(FormProgress.invitation_id).where(FormProgress.state != FormState.SUBMITTED.value)
    query = select(Invitation).where(Invitation.id.in_(open_forms))
    if invitation_ids is not None:
        query = query.where(Invitation.id.in_(list(invitation_ids)))
    if campaign_id is not None:
        query = query.where(Invitation.campaign_id == campaign_id)
    return query


@dataclass
class ReminderOutcome:
    queued: int
    already_today: int
    finished: int


def remind(
    session: Session, actor: User | None, invitations: list[Invitation], *, base_url: str, mail_domain: str,
    tz_name: str, secret: str | None = None, now: datetime | None = None, commit: bool = True,
    since: datetime | None = None,
) -> ReminderOutcome:
    """Queue a reminder ("Đôn đốc") to each invitation not finished and not reminded today (portal time).

    `since` moves "today" back to an earlier moment: a scheduled day finished late skips whoever was
    reminded since that day began.
    """
    now = now or utcnow()
    today = local_today(tz_name, now)
    ids = [i.id for i in invitations]
    open_ids = set(session.exec(select(Invitation.id).where(Invitation.id.in_(
        select(FormProgress.invitation_id).where(FormProgress.state != FormState.SUBMITTED.value,
                                                 FormProgress.invitation_id.in_(ids))))))
    start_of_today = since if since is not None else end_of_day_utc(today - timedelta(days=1), tz_name)
    queued = already = finished = 0
    # In id order, so that two requests reminding overlapping sets lock the rows in the same order.
    for invitation in sorted(invitations, key=lambda i: i.id):
        if invitation.id not in open_ids:
            finished += 1
            continue
        # Claim today's reminder with a conditional update: of a double click, or the province's click
        # and the scheduled reminder at the same moment, exactly one queues the email.
        claimed = session.exec(
            update(Invitation)
            .where(Invitation.id == invitation.id,
                   or_(Invitation.last_reminded_at.is_(None), Invitation.last_reminded_at <= start_of_today))
            .values(last_reminded_at=now, reminder_count=Invitation.reminder_count + 1)
            .execution_options(synchronize_session=False))
        session.expire(invitation, ["last_reminded_at", "reminder_count"])
        if claimed.rowcount != 1:
            already += 1
            continue
        person = session.get(Respondent, invitation.respondent_id)
        campaign = session.get(Campaign, invitation.campaign_id)
        _queue_email(session, "reminder", invitation, person, campaign, invitation_forms(session, invitation),
                     base_url=base_url, mail_domain=mail_domain, secret=secret, now=now)
        queued += 1
    if actor is not None and queued:
        audit.record(session, actor, "Đôn đốc trả lời phiếu", province_id=actor.province_id,
                     detail=f"{queued} người")
    if commit:
        session.commit()
    return ReminderOutcome(queued, already, finished)


def schedule_reminder(session: Session, actor: User, campaign: Campaign, day: date, *, tz_name: str,
                      max_reminders: int, now: datetime | None = None) -> ReminderSchedule:
    """Add an automatic reminder day (at most `max_reminders` per campaign, before the response deadline)."""
    existing = session.exec(select(ReminderSchedule).where(ReminderSchedule.campaign_id == campaign.id)).all()
    if len(existing) >= max_reminders:
        raise LaunchError(f"Mỗi đợt chỉ đặt tối đa {max_reminders} lần nhắc tự động.")
    if day < local_today(tz_name, now) or day > campaign.response_deadline:
        raise LaunchError(f"Ngày nhắc phải từ hôm nay đến hạn trả lời phiếu ({campaign.response_deadline:%d/%m/%Y}).")
    if any(s.send_on == day for s in existing):
        raise LaunchError(f"Đã có lần nhắc ngày {day:%d/%m/%Y}.")
    item = ReminderSchedule(campaign_id=campaign.id, send_on=day, created_by_id=actor.id)
    session.add(item)
    audit.record(session, actor, "Đặt lịch nhắc tự động", detail=f"{day:%d/%m/%Y}")
    session.commit()
    return item


def reminder_schedules(session: Session, campaign: Campaign) -> list[ReminderSchedule]:
    """The campaign's automatic reminder days, in date order."""
    return list(session.exec(select(ReminderSchedule).where(ReminderSchedule.campaign_id == campaign.id)
                             .order_by(ReminderSchedule.send_on)))


def unschedule_reminder(session: Session, actor: User, campaign: Campaign, schedule_id: int) -> None:
    """Remove a reminder day that has not been sent yet."""
    item = session.get(ReminderSchedule, schedule_id)
    if item is None or item.campaign_id != campaign.id:
        raise LaunchError("Không tìm thấy lịch nhắc này.")
    if item.enqueued_at is not None:
        raise LaunchError("Lần nhắc này đã được gửi nên không thể xóa.")
    session.delete(item)
    audit.record(session, actor, "Xóa lịch nhắc tự động", detail=f"{item.send_on:%d/%m/%Y}")
    session.commit()


def enqueue_due_reminders(
    session: Session, *, now: datetime, tz_name: str, mail_domain: str, base_url: str, secret: str | None = None,
    chunk: int = REMINDER_CHUNK,
) -> int:
    """For each reminder day that has come (and not been handled), remind everyone not finished.

    Run by the worker every few minutes. The people of a day are reminded
    `chunk` at a time, each chunk in its own short transaction (one long one
    would hold SQLite's write lock while respondents wait to submit). Each
    invitation's reminder is claimed by a conditional update ("not reminded
    since the start of that day"), so a run killed half way and run again
    reminds the rest, and nobody twice; the day is marked handled after its
    last chunk.
    """
    today = local_today(tz_name, now)
    total = 0
    due = session.exec(select(ReminderSchedule).where(ReminderSchedule.send_on <= today,
                                                      ReminderSchedule.enqueued_at.is_(None))).all()
    for item in due:
        campaign = session.get(Campaign, item.campaign_id)
        if campaign is None or is_past(campaign.response_deadline, tz_name, now):
            item.enqueued_at = now
            session.add(item)
            session.commit()
            continue
        ids = [invitation.id for invitation in session.exec(
            unfinished(session, campaign_id=campaign.id)
            .where(Invitation.delivery_status.not_in([DeliveryStatus.FAILED.value, DeliveryStatus.BOUNCED.value]))
            .order_by(Invitation.id))]
        since = end_of_day_utc(item.send_on - timedelta(days=1), tz_name)
        for start in range(0, len(ids), chunk):
            batch = list(session.exec(select(Invitation).where(Invitation.id.in_(ids[start:start + chunk]))))
            outcome = remind(session, None, batch, base_url=base_url, mail_domain=mail_domain, tz_name=tz_name,
                             secret=secret, now=now, commit=False, since=since)
            item.enqueued_count += outcome.queued
            session.add(item)
            session.commit()
            total += outcome.queued
        item.enqueued_at = now
        session.add(item)
        session.commit()
    return total
