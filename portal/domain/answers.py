"""A respondent's answers: drafts saved and continued later, one submission per form, the deadline.

Answers live in `Answer` rows found by an HMAC key (see invitations.response_key);
`FormProgress` holds only the state a province may see. Submission is a
conditional update of that state, so a double click, a re-posted form or two
tabs make exactly one submitted answer and never overwrite it.

Answers in no order. A copy of the database must not tie an answer to the person
who gave it, and the invitation side of the copy knows a lot about people: when
each opened, started and submitted, in what order they were invited. So nothing
about an answer row may follow that order:
- its identifier is random (models.new_answer_id), not a sequence;
- its times keep only the day (`_day_only`);
- its place in the table: on SQLite the table is WITHOUT ROWID, stored in the
  order of its random key whatever the order of inserts and updates. PostgreSQL
  writes every insert and update as a new row version wherever there is room,
  roughly in the order of the writes, so `shuffle_answer_order` rewrites the
  table in the order of its random key (CLUSTER); the worker runs it every
  PORTAL_ANSWER_SHUFFLE_MINUTES. Creating every row at the launch in a shuffled
  batch would not help there: the updates that carry the answers would still
  land in the order they come;
- its transaction id on PostgreSQL (`xmin`, the same as the form state's and the
  integrity signal's written with it, and in the order of the writes): the same
  run first gives every row one id.
Between two runs the latest writes keep their order and ids, as the README says.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, false, inspect, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from sqlmodel import select as model_select

from portal import ratelimit_storage
from portal.domain import answer_checks, integrity, plain_rows, questionnaires
from portal.domain.campaigns import is_past
from portal.domain.invitations import response_key, token_id, token_matches
from portal.extensions import PREPARED
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
    new_answer_id,
    utcnow,
)


def is_closed(campaign: Campaign, tz_name: str, now: datetime | None = None, *, extension: date | None = None) -> bool:
    """True once the response deadline (end of day, portal time), or the province's later extension, has passed."""
    day = extension if extension and extension > campaign.response_deadline else campaign.response_deadline
    return is_past(day, tz_name, now)


def province_extension(session: Session, campaign_id: int, province_id: int) -> date | None:
    """The response deadline the ministry granted this province (on a request), if any."""
    return session.exec(model_select(RespondentList.response_extension_until).where(
        RespondentList.campaign_id == campaign_id, RespondentList.province_id == province_id)).first()


@dataclass
class Visit:
    """Everything a respondent's page needs about the person behind a link, read in one statement.

    The answer is the one to the form asked for (None for the overview, or before the first save);
    `forms` are the invitation's forms in order, a ministry form naming the respondent's ministry.
    """

    invitation: Invitation
    campaign: Campaign
    person: Any  # a record of the person's columns the pages show (_PERSON_COLUMNS)
    group_code: str
    ministry_code: str | None
    ministry_name: str
    extension: date | None
    states: dict[str, FormProgress]
    answer: Answer | None
    forms: list[questionnaires.FormDef] = field(default_factory=list)
    guesses: int | None = None  # the address's count of wrong links, when load_visit was asked to read it

    @property
    def deadline(self) -> date:
        """The last day to answer: the campaign's, or the province's later extension."""
        extension, deadline = self.extension, self.campaign.response_deadline
        return extension if extension and extension > deadline else deadline

    def closed(self, tz_name: str, now: datetime | None = None) -> bool:
        # A campaign the ministry has replaced takes no more answers, whatever its dates said.
        return not self.campaign.is_current or is_closed(self.campaign, tz_name, now, extension=self.extension)

    def form(self, code: str) -> questionnaires.FormDef | None:
        return next((f for f in self.forms if f.code == code), None)

    def saved(self) -> dict:
        """What was saved or submitted for the form asked for (empty when nothing yet)."""
        return json.loads(self.answer.answers) if self.answer else {}


@lru_cache(maxsize=1)
def _visit_statement():
    """The one statement of a respondent's page, built once (building it cost more than running it).

    Plain columns of the invitation, the person (`_PERSON_COLUMNS`), the campaign and a form state (one row
    per form state), then the saved answer's document,
    the extension, group code, ministry and the count of wrong links of the visitor's address
    (survey/guessing.py: read here, it costs no statement of its own); a form code of None leaves the
    answer out (no response_key is NULL), a counter key of None the count.

    Only four tables are joined; the rest are scalar subqueries, each a lookup by key: with eight tables
    joined PostgreSQL's search over their orders took most of the statement's time (1 to 3 ms of planning
    for 0.15 ms of execution). Every condition is an equality on a key, so the statement is prepared and
    its plan kept (extensions.PREPARED), which leaves no planning at all.
    """
    def one(column, *where):
        return select(column).where(*where).scalar_subquery()

    return (select(*plain_rows.columns(Invitation), *_PERSON_COLUMNS, *plain_rows.columns(Campaign, FormProgress),
                   one(Answer.answers, Answer.response_key == bindparam("key")),
                   one(RespondentList.response_extension_until, RespondentList.campaign_id == Invitation.campaign_id,
                       RespondentList.province_id == Invitation.province_id),
                   one(RespondentGroup.code, RespondentGroup.id == Respondent.group_id),
                   one(Ministry.code, Ministry.id == Respondent.ministry_id),
                   one(Ministry.name, Ministry.id == Respondent.ministry_id),
                   ratelimit_storage.current_count().scalar_subquery())
            .select_from(Invitation)
            .join(Respondent, Respondent.id == Invitation.respondent_id)
            .join(Campaign, Campaign.id == Invitation.campaign_id)
            .join(FormProgress, FormProgress.invitation_id == Invitation.id, isouter=True)
            .where(Invitation.id == bindparam("invitation_id")).order_by(FormProgress.id)
            .execution_options(**PREPARED))


# Of the person, what the pages show or the visit needs: the list row's other columns (its checks, its search
# text, its spreadsheet cells) were most of the visit's columns. Read into a record, not a model copy: making
# a Respondent of six columns filled in defaults for its eighteen others.
_PERSON = plain_rows.Shape("VisitPerson", Respondent.id, Respondent.list_id, Respondent.province_id,
                           Respondent.full_name, Respondent.group_id, Respondent.ministry_id)
_PERSON_COLUMNS = tuple(_PERSON.columns)

# Where each part starts in a row of the visit statement.
_PERSON_AT = len(Invitation.__table__.c)
_CAMPAIGN_AT = _PERSON_AT + _PERSON.width
_STATE_AT = _CAMPAIGN_AT + len(Campaign.__table__.c)
_SCALARS_AT = _STATE_AT + len(FormProgress.__table__.c)


def load_visit(session: Session, invitation_id: int, code: str | None = None,
               secret: str | None = None, *, counter_key: str | None = None) -> Visit | None:
    """The invitation with its person, campaign, deadline extension, form states and the answer to
    form `code`, in one statement (the questionnaire itself comes from the per-process cache); with
    `counter_key`, also that rate-limit counter's current count (`Visit.guesses`, 0 when none).

    The rows are read as plain values and the objects built from them are not in the session (loading
    nine entities through the ORM took most of a page's time): every write of the survey is an explicit
    INSERT or UPDATE, none goes through these objects. The person is a record of `_PERSON_COLUMNS`, the
    answer has only its document.
    """
    key = response_key(invitation_id, code, secret) if code else None
    rows = session.connection().execute(
        _visit_statement(), {"invitation_id": invitation_id, "key": key, "code": code,
                             "counter_key": counter_key, "now": time.time()}).all()
    if not rows:
        return None
    # One row per form state; the invitation, the person, the campaign and the scalars repeat on each.
    first = rows[0]
    invitation = plain_rows.split(first[:_PERSON_AT], (Invitation,))[0]
    person = _PERSON.read(first, _PERSON_AT)
    campaign = plain_rows.split(first[_CAMPAIGN_AT:_STATE_AT], (Campaign,))[0]
    document, extension, group_code, ministry_code, ministry_name, guesses = first[_SCALARS_AT:]
    states = {}
    for row in rows:
        state = plain_rows.split(row[_STATE_AT:_SCALARS_AT], (FormProgress,))[0]
        if state is not None:
            states[state.form_code] = state
    answer = Answer.model_construct(answers=document) if document is not None and code in states else None
    by_code = {f.code: f for f in questionnaires.load_frozen(session, invitation.questionnaire_version_id).forms}
    forms = [by_code[c].for_ministry(ministry_name or "") for c in invitation.form_codes.split(",") if c in by_code]
    return Visit(invitation, campaign, person, group_code or "", ministry_code, ministry_name or "", extension,
                 states, answer, forms, int(guesses or 0) if counter_key is not None else None)


def visit_for_token(session: Session, token: str, code: str | None = None,
                    secret: str | None = None, *, counter_key: str | None = None) -> Visit | None:
    """What a personal link leads to, or None for anything forged, truncated or unknown."""
    ident = token_id(token)
    if ident is None:
        return None
    visit = load_visit(session, ident, code, secret, counter_key=counter_key)
    return visit if token_matches(visit.invitation if visit else None, token, secret) else None


def progress_of(session: Session, invitation: Invitation) -> dict[str, FormProgress]:
    """Each form's state for this invitation, by form code."""
    rows = session.exec(model_select(FormProgress).where(FormProgress.invitation_id == invitation.id))
    return {row.form_code: row for row in rows}


def saved_values(session: Session, invitation: Invitation, form_code: str, secret: str | None = None) -> dict:
    """What the respondent saved or submitted for this form (empty when nothing yet)."""
    answer = session.exec(model_select(Answer).where(
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


def _day_only(moment: datetime) -> datetime:
    """Answer rows keep only the day of their changes.

    Exact times would let a copy of the database match an answer to the person
    whose form state changed at the same instant; the day is all the results need.
    The day is UTC's, whatever zone `moment` comes in, so every row reads the same way.
    """
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _draft_values(visit: Visit, form: questionnaires.FormDef, values: dict, key: str, now: datetime) -> dict:
    """The parameters of `_upsert_statement`: the whole answer row, as its first save creates it."""
    invitation = visit.invitation
    return _prefixed(id=new_answer_id(), response_key=key, campaign_id=invitation.campaign_id,
                     province_id=invitation.province_id, group_code=visit.group_code,
                     ministry_code=visit.ministry_code if form.target == "ministry" else None, form_code=form.code,
                     questionnaire_version_id=invitation.questionnaire_version_id,
                     answers=json.dumps(values, ensure_ascii=False), submitted=False, updated_at=_day_only(now),
                     submitted_at=None)


def _prefixed(**values) -> dict:
    # Parameters named like a column are reserved by SQLAlchemy in an INSERT's values.
    return {f"answer_{name}": value for name, value in values.items()}


@lru_cache(maxsize=2)
def _upsert_statement(dialect: str):
    """A draft written whatever came before: the first save inserts the row (a double click's second save
    finds it and updates it), a later one updates it, and a submitted answer is never overwritten, whatever
    a stale tab posts. One statement, built once per dialect, its values sent as parameters."""
    table = Answer.__table__
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).values({name: bindparam(f"answer_{name}") for name in table.c.keys()})
    return statement.on_conflict_do_update(
        index_elements=[table.c.response_key], where=table.c.submitted == false(),
        set_={"answers": statement.excluded.answers, "updated_at": statement.excluded.updated_at})


def _upsert_draft(session: Session, visit: Visit, form: questionnaires.FormDef, values: dict,
                  key: str, now: datetime) -> None:
    session.connection().execute(_upsert_statement(session.get_bind().dialect.name),
                                 _draft_values(visit, form, values, key, now))


def _start_mark():
    """Mark a form started, once (a form already in progress or submitted keeps its state and start)."""
    table = FormProgress.__table__
    return (update(table).where(table.c.id == bindparam("state_id"),
                                table.c.state == FormState.NOT_STARTED.value)
            .values(state=FormState.IN_PROGRESS.value, started_at=bindparam("mark_started_at")))


@lru_cache(maxsize=2)
def _save_statement(with_signal: bool):
    """PostgreSQL: the draft, the start mark and the integrity signal in one statement (data-modifying CTEs).

    One statement is atomic by itself, so a draft save needs neither BEGIN nor COMMIT (the survey page runs
    it without a transaction: db.use_autocommit): two round trips fewer than three statements in a
    transaction. The rows it writes share one transaction id (xmin), as they shared the one transaction
    before; the answer rewrite (shuffle_answer_order) gives every answer row the same one.
    """
    saved = _upsert_statement("postgresql").returning(Answer.__table__.c.id).cte("saved")
    started = _start_mark().returning(FormProgress.__table__.c.id).cte("started")
    final = integrity.insert_statement("signal_") if with_signal else select(literal(1))
    return final.add_cte(saved, started)


def save_draft(
    session: Session, invitation: Invitation, campaign: Campaign, form: questionnaires.FormDef,
    raw: Mapping[str, list[str]], *, tz_name: str, secret: str | None = None, now: datetime | None = None,
    visit: Visit | None = None, commit: bool = True, signal: dict | None = None,
) -> SaveResult:
    """Keep what the respondent has answered so far; invalid values are reported, not kept.

    `visit` is what the page already read of this invitation and form (load_visit); without it, it is read here.
    `signal` (integrity.signal_row) is written with the draft, and only when a draft is written. On PostgreSQL
    the draft, the form's start mark and the signal are one statement (`_save_statement`); on SQLite three,
    in the caller's transaction. With `commit=False` the caller commits.
    """
    now = now or utcnow()
    visit = visit or load_visit(session, invitation.id, form.code, secret)
    state = visit.states.get(form.code)
    if state is None:
        raise KeyError(form.code)
    if state.state == FormState.SUBMITTED:
        return SaveResult(visit.saved(), {}, submitted=True, already=True)
    if visit.closed(tz_name, now):
        return SaveResult({}, {}, closed=True)
    values, errors = answer_checks.check_answers(form, raw, final=False)
    draft = _draft_values(visit, form, values, response_key(invitation.id, form.code, secret), now)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_save_statement(signal is not None),
                           {**draft, "state_id": state.id, "mark_started_at": now,
                            **integrity.parameters(signal or {}, "signal_")})
    else:
        connection.execute(_upsert_statement(connection.dialect.name), draft)
        if state.state == FormState.NOT_STARTED:
            connection.execute(_start_mark(), {"state_id": state.id, "mark_started_at": now})
        if signal is not None:
            integrity.insert_row(session, signal)
    if commit:
        session.commit()
    return SaveResult(values, errors)


def final_errors(form: questionnaires.FormDef, saved: Mapping) -> dict[str, str]:
    """What stops these saved answers from being submitted (required questions left), by question id."""
    raw = {qid: (value if isinstance(value, list) else [str(value)]) for qid, value in saved.items()}
    return answer_checks.check_answers(form, raw, final=True)[1]


def submit_check(session: Session, invitation: Invitation, form: questionnaires.FormDef,
                 secret: str | None = None) -> dict[str, str]:
    """What still stops the saved answers from being submitted (required questions left), by question id."""
    return final_errors(form, saved_values(session, invitation, form.code, secret))


def submit(
    session: Session, invitation: Invitation, campaign: Campaign, form: questionnaires.FormDef,
    *, tz_name: str, secret: str | None = None, now: datetime | None = None, visit: Visit | None = None,
) -> SaveResult:
    """Submit the saved answers of a form, once. Returns the missing/invalid ones when not complete."""
    now = now or utcnow()
    visit = visit or load_visit(session, invitation.id, form.code, secret)
    state = visit.states.get(form.code)
    if state is None:
        raise KeyError(form.code)
    key = response_key(invitation.id, form.code, secret)
    saved = visit.saved()
    if state.state == FormState.SUBMITTED:
        return SaveResult(saved, {}, submitted=True, already=True)
    if visit.closed(tz_name, now):
        return SaveResult(saved, {}, closed=True)
    raw = {qid: (value if isinstance(value, list) else [str(value)]) for qid, value in saved.items()}
    values, errors = answer_checks.check_answers(form, raw, final=True)
    if errors:
        return SaveResult(values, errors)
    claimed = session.exec(update(FormProgress).where(FormProgress.id == state.id,
                                                      FormProgress.state != FormState.SUBMITTED.value)
                           .values(state=FormState.SUBMITTED.value, submitted_at=now,
                                   started_at=state.started_at or now))
    if claimed.rowcount != 1:
        session.rollback()
        return SaveResult(saved_values(session, invitation, form.code, secret), {}, submitted=True, already=True)
    if visit.answer is None:  # a form with nothing required can be submitted before any save
        _upsert_draft(session, visit, form, values, key, now)
    session.exec(update(Answer).where(Answer.response_key == key)
                 .values(submitted=True, submitted_at=_day_only(now),
                         answers=json.dumps(values, ensure_ascii=False)))
    session.commit()
    return SaveResult(values, {}, submitted=True)


def shuffle_answer_order(session: Session, *, lock_timeout_ms: int = 2000) -> bool:
    """Rewrite the answer table in the order of its random key, so that no physical order follows the writes,
    and give every row the same transaction id, so that none names the transaction that wrote it.

    PostgreSQL only; SQLite keeps the table in key order by itself and has no transaction ids in its rows.
    Every PostgreSQL row version carries the id of the transaction that wrote it (`xmin`): an answer's is
    the one of the save or submission that also wrote the form's state and its integrity signal, rows tied
    to the invitation; and ids follow the order of the writes. A rewrite (CLUSTER) keeps each row's xmin, so
    one UPDATE of every row, committed before it, gives them all the id of that UPDATE; the rewrite then
    leaves out the versions it replaced (unless an older transaction may still read them: the next run
    does). CLUSTER locks the table for the moment of the rewrite: well under a second for a campaign's
    answers. Returns whether both ran: they do not when another transaction holds the table (or a row)
    longer than `lock_timeout_ms`.
    """
    if session.get_bind().dialect.name != "postgresql":
        return False
    primary = inspect(session.connection()).get_pk_constraint("answer")["name"]
    # A rewrite waiting for a long transaction would queue every respondent's save behind it: give up
    # instead, and let the next run rewrite the table.
    try:
        session.exec(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
        session.exec(text("UPDATE answer SET submitted = submitted"))
        session.commit()
        session.exec(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
        session.exec(text(f'CLUSTER answer USING "{primary}"'))
        session.commit()
    except OperationalError:
        session.rollback()
        return False
    return True
