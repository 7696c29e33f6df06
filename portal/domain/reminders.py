"""Reminders ("Đôn đốc"): a province reminding its unfinished respondents, and the ministry's reminder days.

Each reminder is claimed by a conditional update of the invitation ("not reminded since the day
began"), so a double click, a province's click and a scheduled day at the same moment, or a run
repeated after a crash remind nobody twice. Nobody is reminded after their province's response deadline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, update
from sqlmodel import Session, select

from portal.domain import audit, operations
from portal.domain.campaigns import end_of_day_utc, is_past, local_today
from portal.domain.invitations import LaunchError, invitation_forms, queue_email, response_deadline
from portal.models import (
    Campaign,
    DeliveryStatus,
    FormProgress,
    FormState,
    Invitation,
    Operation,
    ReminderSchedule,
    Respondent,
    User,
    utcnow,
)

# Invitations reminded per transaction on a reminder day (see enqueue_due_reminders).
REMINDER_CHUNK = 200


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
    closed: int = 0  # whose response deadline (or the province's extension) has passed: never reminded


def remind(
    session: Session, actor: User | None, invitations: list[Invitation], *, base_url: str, mail_domain: str,
    tz_name: str, secret: str | None = None, now: datetime | None = None, commit: bool = True,
    since: datetime | None = None,
) -> ReminderOutcome:
    """Queue a reminder ("Đôn đốc") to each invitation not finished and not reminded today (portal time).

    Nobody is reminded once their province's response deadline has passed. Each reminder names
    only the forms still to submit and mentions saved answers only to someone who has a draft;
    an email still unsent when the deadline passes is dropped by the outbox.
    `since` moves "today" back to an earlier moment: a scheduled day finished late skips whoever was
    reminded since that day began.
    """
    now = now or utcnow()
    today = local_today(tz_name, now)
    ids = [i.id for i in invitations]
    open_forms: dict[int, dict[str, str]] = {}
    for invitation_id, code, state in session.exec(
            select(FormProgress.invitation_id, FormProgress.form_code, FormProgress.state)
            .where(FormProgress.state != FormState.SUBMITTED.value, FormProgress.invitation_id.in_(ids))):
        open_forms.setdefault(invitation_id, {})[code] = state
    start_of_today = since if since is not None else end_of_day_utc(today - timedelta(days=1), tz_name)
    deadlines: dict[tuple[int, int], date] = {}
    queued = already = finished = closed = 0
    # In id order, so that two requests reminding overlapping sets lock the rows in the same order.
    for invitation in sorted(invitations, key=lambda i: i.id):
        if invitation.withdrawn_at is not None or invitation.id not in open_forms:
            finished += 1
            continue
        campaign = session.get(Campaign, invitation.campaign_id)
        key = (campaign.id, invitation.province_id)
        if key not in deadlines:
            deadlines[key] = response_deadline(session, campaign, invitation.province_id)
        if is_past(deadlines[key], tz_name, now):
            closed += 1
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
        still_open = open_forms[invitation.id]
        forms = [f for f in invitation_forms(session, invitation) if f.code in still_open]
        queue_email(session, "reminder", invitation, person, campaign, forms, base_url=base_url,
                     mail_domain=mail_domain, secret=secret, now=now, deadline=deadlines[key],
                     has_draft=FormState.IN_PROGRESS.value in still_open.values(),
                     expires_at=end_of_day_utc(deadlines[key], tz_name))
        queued += 1
    if actor is not None and queued:
        audit.record(session, actor, "Đôn đốc trả lời phiếu", province_id=actor.province_id,
                     detail=f"{queued} người")
    if commit:
        session.commit()
    return ReminderOutcome(queued, already, finished, closed)


REMINDERS_CLOSED = "Đã hết hạn trả lời phiếu: không gửi thư đôn đốc nữa."


def start_remind_all(
    session: Session, actor: User, campaign: Campaign, province_id: int, *, base_url: str, mail_domain: str,
    tz_name: str, now: datetime | None = None,
) -> Operation:
    """"Đôn đốc tất cả": record the reminding of every unfinished person of the province, for the worker.

    A second click while one is waiting or running gets that one back instead of another. Refused
    (LaunchError) once the province's response deadline has passed. "Today" is fixed now, so a run
    finished after midnight still skips only those reminded on the day of the click.
    """
    now = now or utcnow()
    if is_past(response_deadline(session, campaign, province_id), tz_name, now):
        raise LaunchError(REMINDERS_CLOSED)
    running = operations.active(session, "remind", campaign.id, province_id=province_id)
    if running:
        return running[0]
    total = session.exec(select(func.count(Invitation.id)).where(
        Invitation.campaign_id == campaign.id, Invitation.province_id == province_id,
        Invitation.withdrawn_at.is_(None))).one()
    since = end_of_day_utc(local_today(tz_name, now) - timedelta(days=1), tz_name)
    operation = operations.create(session, kind="remind", campaign_id=campaign.id, province_id=province_id,
                                  requested_by=actor, params={"since": since.isoformat(), "tz": tz_name,
                                                              "base_url": base_url, "mail_domain": mail_domain},
                                  total=total, now=now)
    session.commit()
    return operation


def remind_step(session: Session, operation: Operation, chunk: int, now: datetime) -> operations.Step:
    """One chunk of "Đôn đốc tất cả": the next `chunk` invitations of the province, in id order.

    Each reminder is claimed as in `remind` ("not reminded since the day began"), so a chunk repeated
    after a crash reminds nobody twice. The last step audits the whole operation once.
    """
    params = operations.params_of(operation)
    batch = list(session.exec(select(Invitation).where(
        Invitation.campaign_id == operation.campaign_id, Invitation.province_id == operation.province_id,
        Invitation.withdrawn_at.is_(None), Invitation.id > operation.cursor).order_by(Invitation.id).limit(chunk)))
    result = operations.result_of(operation)
    if not batch:
        actor = session.get(User, operation.requested_by_id) if operation.requested_by_id else None
        if actor is not None and result.get("queued"):
            audit.record(session, actor, "Đôn đốc trả lời phiếu", province_id=operation.province_id,
                         detail=f"{result['queued']} người")
        return operations.Step(0, finished=True)
    outcome = remind(session, None, batch, base_url=params["base_url"], mail_domain=params["mail_domain"],
                     tz_name=params["tz"], now=now,
                     commit=False, since=datetime.fromisoformat(params["since"]))
    for key in ("queued", "already_today", "finished", "closed"):
        result[key] = result.get(key, 0) + getattr(outcome, key)
    operations.set_result(operation, result)
    operation.cursor = batch[-1].id
    return operations.Step(len(batch))


def reminder_summary(outcome: ReminderOutcome) -> tuple[str, str]:
    """What the province reads after reminding: the sentence and its kind (success, info or error)."""
    if outcome.closed and not outcome.queued:
        return REMINDERS_CLOSED, "error"
    parts = [f"Đã gửi thư đôn đốc đến {outcome.queued} người."]
    if outcome.already_today:
        parts.append(f"{outcome.already_today} người đã được đôn đốc hôm nay (mỗi người tối đa một lần một ngày).")
    if outcome.finished:
        parts.append(f"{outcome.finished} người đã hoàn thành phiếu.")
    return " ".join(parts), "success" if outcome.queued else "info"


def reminder_outcome(operation: Operation) -> ReminderOutcome:
    """What a "Đôn đốc tất cả" operation has done so far."""
    result = operations.result_of(operation)
    return ReminderOutcome(result.get("queued", 0), result.get("already_today", 0), result.get("finished", 0),
                           result.get("closed", 0))


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
        if campaign is not None and not campaign.is_current and campaign.closed_at is None:
            continue  # a prepared campaign (copied, not opened yet): nobody is invited yet, its day may still come
        # A closed campaign's links say closed (the ministry opened the next one): nobody is reminded of it.
        if campaign is None or campaign.closed_at is not None or is_past(campaign.response_deadline, tz_name, now):
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
