"""A respondent's answers: drafts saved and continued later, one submission per form, the deadline.

Answers live in `Answer` rows found by an HMAC key (see invitations.response_key);
`FormProgress` holds only the state a province may see. Submission is a
conditional update of that state, so a double click, a re-posted form or two
tabs make exactly one submitted answer and never overwrite it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from portal.domain import questionnaires
from portal.domain.campaigns import is_past
from portal.domain.invitations import response_key
from portal.models import (
    Answer,
    Campaign,
    FormProgress,
    FormState,
    Invitation,
    Ministry,
    Respondent,
    RespondentGroup,
    RespondentList,
    utcnow,
)


def is_closed(campaign: Campaign, tz_name: str, now: datetime | None = None, *, extension: date | None = None) -> bool:
    """True once the response deadline (end of day, portal time), or the province's later extension, has passed."""
    day = extension if extension and extension > campaign.response_deadline else campaign.response_deadline
    return is_past(day, tz_name, now)


def province_extension(session: Session, campaign_id: int, province_id: int) -> date | None:
    """The response deadline the ministry granted this province (on a request), if any."""
    return session.exec(select(RespondentList.response_extension_until).where(
        RespondentList.campaign_id == campaign_id, RespondentList.province_id == province_id)).first()


def progress_of(session: Session, invitation: Invitation) -> dict[str, FormProgress]:
    """Each form's state for this invitation, by form code."""
    rows = session.exec(select(FormProgress).where(FormProgress.invitation_id == invitation.id))
    return {row.form_code: row for row in rows}


def saved_values(session: Session, invitation: Invitation, form_code: str, secret: str | None = None) -> dict:
    """What the respondent saved or submitted for this form (empty when nothing yet)."""
    answer = session.exec(select(Answer).where(
        Answer.response_key == response_key(invitation.id, form_code, secret))).first()
    return json.loads(answer.answers) if answer else {}


def mark_opened(session: Session, invitation: Invitation, now: datetime | None = None) -> None:
    """Record the first time the link was opened (the progress pages count it)."""
    if invitation.first_opened_at is None:
        session.exec(update(Invitation).where(Invitation.id == invitation.id, Invitation.first_opened_at.is_(None))
                     .values(first_opened_at=now or utcnow()))
        session.commit()


@dataclass
class SaveResult:
    values: dict
    errors: dict[str, str]
    submitted: bool = False  # True: the form was (already) submitted
    already: bool = False  # True: it had been submitted before this request
    closed: bool = False


def _identity(session: Session, invitation: Invitation) -> tuple[str, str | None]:
    person = session.get(Respondent, invitation.respondent_id)
    group = session.get(RespondentGroup, person.group_id)
    ministry = session.get(Ministry, person.ministry_id) if person.ministry_id else None
    return group.code, ministry.code if ministry else None


def _day_only(moment: datetime) -> datetime:
    """Answer rows keep only the day of their changes.

    Exact times would let a copy of the database match an answer to the person
    whose form state changed at the same instant; the day is all the results need.
    """
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _upsert_draft(session: Session, invitation: Invitation, form: questionnaires.FormDef, values: dict,
                  key: str, now: datetime) -> None:
    now = _day_only(now)
    document = json.dumps(values, ensure_ascii=False)
    exists = session.exec(select(Answer.id).where(Answer.response_key == key)).first()
    if exists is None:
        # The first save. A double click sends two at once: both find no row, and a plain INSERT would
        # fail on the unique key for the second. ON CONFLICT DO NOTHING lets the second one fall through
        # to the update below, like any later save.
        group_code, ministry_code = _identity(session, invitation)
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        created = session.exec(insert(Answer).values(
            response_key=key, campaign_id=invitation.campaign_id, province_id=invitation.province_id,
            group_code=group_code, ministry_code=ministry_code if form.target == "ministry" else None,
            form_code=form.code, questionnaire_version_id=invitation.questionnaire_version_id,
            answers=document, submitted=False, updated_at=now, submitted_at=None,
        ).on_conflict_do_nothing(index_elements=["response_key"]))
        if created.rowcount == 1:
            return
    # Never overwrite a submitted answer, whatever a stale tab posts.
    session.exec(update(Answer).where(Answer.response_key == key, Answer.submitted == False)  # noqa: E712
                 .values(answers=document, updated_at=now))


def save_draft(
    session: Session, invitation: Invitation, campaign: Campaign, form: questionnaires.FormDef,
    raw: Mapping[str, list[str]], *, tz_name: str, secret: str | None = None, now: datetime | None = None,
) -> SaveResult:
    """Keep what the respondent has answered so far; invalid values are reported, not kept."""
    now = now or utcnow()
    state = progress_of(session, invitation).get(form.code)
    if state is None:
        raise KeyError(form.code)
    if state.state == FormState.SUBMITTED:
        return SaveResult(saved_values(session, invitation, form.code, secret), {}, submitted=True, already=True)
    if is_closed(campaign, tz_name, now,
                 extension=province_extension(session, campaign.id, invitation.province_id)):
        return SaveResult({}, {}, closed=True)
    values, errors = questionnaires.check_answers(form, raw, final=False)
    _upsert_draft(session, invitation, form, values, response_key(invitation.id, form.code, secret), now)
    session.exec(update(FormProgress).where(FormProgress.id == state.id,
                                            FormProgress.state == FormState.NOT_STARTED.value)
                 .values(state=FormState.IN_PROGRESS.value, started_at=now))
    session.commit()
    return SaveResult(values, errors)


def submit_check(session: Session, invitation: Invitation, form: questionnaires.FormDef,
                 secret: str | None = None) -> dict[str, str]:
    """What still stops the saved answers from being submitted (required questions left), by question id."""
    saved = saved_values(session, invitation, form.code, secret)
    raw = {qid: (value if isinstance(value, list) else [str(value)]) for qid, value in saved.items()}
    return questionnaires.check_answers(form, raw, final=True)[1]


def submit(
    session: Session, invitation: Invitation, campaign: Campaign, form: questionnaires.FormDef,
    *, tz_name: str, secret: str | None = None, now: datetime | None = None,
) -> SaveResult:
    """Submit the saved answers of a form, once. Returns the missing/invalid ones when not complete."""
    now = now or utcnow()
    state = progress_of(session, invitation).get(form.code)
    if state is None:
        raise KeyError(form.code)
    key = response_key(invitation.id, form.code, secret)
    saved = saved_values(session, invitation, form.code, secret)
    if state.state == FormState.SUBMITTED:
        return SaveResult(saved, {}, submitted=True, already=True)
    if is_closed(campaign, tz_name, now,
                 extension=province_extension(session, campaign.id, invitation.province_id)):
        return SaveResult(saved, {}, closed=True)
    raw = {qid: (value if isinstance(value, list) else [str(value)]) for qid, value in saved.items()}
    values, errors = questionnaires.check_answers(form, raw, final=True)
    if errors:
        return SaveResult(values, errors)
    claimed = session.exec(update(FormProgress).where(FormProgress.id == state.id,
                                                      FormProgress.state != FormState.SUBMITTED.value)
                           .values(state=FormState.SUBMITTED.value, submitted_at=now,
                                   started_at=state.started_at or now))
    if claimed.rowcount != 1:
        session.rollback()
        return SaveResult(saved_values(session, invitation, form.code, secret), {}, submitted=True, already=True)
    _upsert_draft(session, invitation, form, values, key, now)
    session.flush()
    session.exec(update(Answer).where(Answer.response_key == key)
                 .values(submitted=True, submitted_at=_day_only(now),
                         answers=json.dumps(values, ensure_ascii=False)))
    session.commit()
    return SaveResult(values, {}, submitted=True)
