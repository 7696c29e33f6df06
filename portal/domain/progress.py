"""Counts and rows for the progress views ("Chi tiết tiến độ khảo sát").

Everything here reads invitations, delivery states and form states; nothing
here reads an answer. A province sees who has answered, never what.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, true
from sqlmodel import Session, select

from portal.domain import plain_rows
from portal.domain.text import fold
from portal.models import (
    DeliveryStatus,
    FormProgress,
    FormState,
    Invitation,
    Ministry,
    Respondent,
    RespondentGroup,
    RespondentList,
)

FAILED_STATES = (DeliveryStatus.FAILED.value, DeliveryStatus.BOUNCED.value)
DELIVERY_LABELS = {
    DeliveryStatus.QUEUED.value: "Đang chờ gửi",
    DeliveryStatus.SENDING.value: "Đang gửi",
    DeliveryStatus.SENT.value: "Đã gửi thư",
    DeliveryStatus.FAILED.value: "Gửi lỗi",
    DeliveryStatus.BOUNCED.value: "Bị trả lại",
    DeliveryStatus.DELAYED.value: "Đang chậm",
}
FORM_STATE_LABELS = {
    FormState.NOT_STARTED.value: "Chưa trả lời",
    FormState.IN_PROGRESS.value: "Đang trả lời",
    FormState.SUBMITTED.value: "Đã nộp phiếu",
}


# A group of the campaign, as the summary shows it (id, code, number, name): a plain record, not an entity.
_GROUP = plain_rows.Shape("Group", RespondentGroup.id, RespondentGroup.code, RespondentGroup.number,
                          RespondentGroup.name)


@dataclass(slots=True)
class GroupProgress:
    """One line of the summary: a group (or the total when `group` is None)."""

    group: Any  # a _GROUP record (id, code, number, name), or None
    people: int = 0
    invited: int = 0  # invitation accepted by the mail server
    failed: int = 0  # refused or bounced
    opened: int = 0
    started: int = 0
    forms_expected: int = 0
    forms_submitted: int = 0

    @property
    def rate(self) -> float:
        """Submitted forms over forms expected, in %."""
        return 100.0 * self.forms_submitted / self.forms_expected if self.forms_expected else 0.0


def _list_ids(campaign_id: Any, province_id: Any):
    return select(RespondentList.id).where(RespondentList.campaign_id == campaign_id,
                                           RespondentList.province_id == province_id)


def _people_of(campaign_id: Any, province_id: Any) -> tuple:
    """The province's respondents in the campaign, filtered on the province's own column first.

    The province filter lets the database start from the province's index (a few thousand rows) rather
    than from the campaign's (the whole country), so a page costs the same at 12,500 or 100,000 people.
    """
    return (Respondent.province_id == province_id, Respondent.list_id.in_(_list_ids(campaign_id, province_id)))


def _invitation_of(province_id: Any):
    """The outer join condition to a respondent's invitation, kept inside the province."""
    return and_(Invitation.respondent_id == Respondent.id, Invitation.province_id == province_id)


# The statements of the page and its polls are built once per shape, with the campaign, the province (and the
# search, the group, the page) as parameters: building and caching-keying a statement per request cost more
# than the database took to answer it.
@lru_cache(maxsize=1)
def _groups_statement():
    return (select(*_GROUP.columns).where(RespondentGroup.campaign_id == bindparam("campaign_id"))
            .order_by(RespondentGroup.number))


def _summary_statement(dialect: str):
    """The summary's counts per group, with the campaign and the province as parameters, as each database
    plans it best (the same counts; tests/test_progress.py holds both to a hand count)."""
    return _summary_by_invitation() if dialect == "postgresql" else _summary_by_person()


def _people_counts():
    return (Respondent.group_id, func.count(Respondent.id).label("people"),
            func.count(Invitation.id).filter(Invitation.delivery_status == DeliveryStatus.SENT.value).label("invited"),
            func.count(Invitation.id).filter(or_(*(Invitation.delivery_status == state
                                                   for state in FAILED_STATES))).label("failed"),
            func.count(Invitation.first_opened_at).label("opened"))


@lru_cache(maxsize=1)
def _summary_by_invitation():
    """PostgreSQL: each invitation's forms in one row (how many, how many submitted, whether any was started),
    joined to the person's invitation like the delivery states, in one pass from the list's people. Joining
    each form to its person instead, the planner (expecting a few dozen forms) looked each person up by key,
    form by form: 6.2 ms at 100,000 people against 2.9 ms this way, and it grew with the country."""
    campaign_id, province_id = bindparam("campaign_id"), bindparam("province_id")
    forms = (select(FormProgress.invitation_id, func.count(FormProgress.id).label("expected"),
                    func.count(FormProgress.id).filter(FormProgress.state == FormState.SUBMITTED.value)
                    .label("submitted"),
                    func.max(case((FormProgress.state != FormState.NOT_STARTED.value, 1), else_=0)).label("started"))
             .where(FormProgress.province_id == province_id, FormProgress.campaign_id == campaign_id)
             .group_by(FormProgress.invitation_id)).subquery()
    return (select(*_people_counts(), func.sum(forms.c.expected), func.sum(forms.c.submitted),
                   func.sum(forms.c.started))
            .select_from(Respondent)
            .join(Invitation, _invitation_of(province_id), isouter=True)
            .join(forms, forms.c.invitation_id == Invitation.id, isouter=True)
            .where(Respondent.list_id == _list_ids(campaign_id, province_id).scalar_subquery())
            .group_by(Respondent.group_id))


@lru_cache(maxsize=1)
def _summary_by_person():
    """SQLite: the people's counts and the forms' counts per group, each its own aggregate, joined by group.
    (Grouping the forms per invitation first made SQLite sort them into a temporary tree and index the result:
    2.6 to 3.8 ms.)"""
    campaign_id, province_id = bindparam("campaign_id"), bindparam("province_id")
    people = (
        select(*_people_counts())
        .select_from(Respondent)
        .join(Invitation, _invitation_of(province_id), isouter=True)
        # The province's one list of the campaign as a value, not a set: its people and their groups are
        # then read from ix_respondent_list_summary alone (on SQLite, a third of this part's time).
        .where(Respondent.list_id == _list_ids(campaign_id, province_id).scalar_subquery())
        .group_by(Respondent.group_id)).subquery()
    forms = (
        select(Respondent.group_id, func.count(FormProgress.id).label("expected"),
               func.count(FormProgress.id).filter(FormProgress.state == FormState.SUBMITTED.value)
               .label("submitted"),
               func.count(func.distinct(case((FormProgress.state != FormState.NOT_STARTED.value,
                                              FormProgress.invitation_id)))).label("started"))
        .select_from(FormProgress)
        .join(Invitation, Invitation.id == FormProgress.invitation_id)
        .join(Respondent, Respondent.id == Invitation.respondent_id)
        .where(FormProgress.province_id == province_id, FormProgress.campaign_id == campaign_id)
        .group_by(Respondent.group_id)).subquery()
    # One round trip for both: every form belongs to a person of the province, so the people's groups
    # cover the forms' (a group without a group id, too: the join is null-safe).
    return (select(people.c.group_id, people.c.people, people.c.invited, people.c.failed, people.c.opened,
                   forms.c.expected, forms.c.submitted, forms.c.started)
            .select_from(people)
            .join(forms, people.c.group_id.is_not_distinct_from(forms.c.group_id), isouter=True))


def province_summary(session: Session, campaign_id: int, province_id: int) -> list[GroupProgress]:
    """Per group and in total: people, invitations delivered, failures, opened, started, forms submitted."""
    connection = session.connection()
    params = {"campaign_id": campaign_id, "province_id": province_id}
    lines = {group.id: GroupProgress(group) for group in map(_GROUP.read, connection.execute(
        _groups_statement(), params))}
    for group_id, count, invited, failed, opened, expected, submitted, started in connection.execute(
            _summary_statement(connection.dialect.name), params):
        line = lines.get(group_id)
        if line is None:
            line = lines[group_id] = GroupProgress(None)
        line.people, line.invited, line.failed, line.opened = count, invited, failed, opened
        # Sums of counts: PostgreSQL gives them as numeric (Decimal), SQLite as integers.
        line.forms_expected, line.forms_submitted = int(expected or 0), int(submitted or 0)
        line.started = int(started or 0)
    total = GroupProgress(None)
    for line in lines.values():
        total.people += line.people
        total.invited += line.invited
        total.failed += line.failed
        total.opened += line.opened
        total.started += line.started
        total.forms_expected += line.forms_expected
        total.forms_submitted += line.forms_submitted
    return [*lines.values(), total]


# What a row of the table shows, and no more: the link's nonce (a secret) and the list's checking state are
# never read for a page that only shows progress.
_PERSON = plain_rows.Shape("Person", Respondent.id, Respondent.full_name, Respondent.position, Respondent.unit,
                           Respondent.group_text, Respondent.email, Respondent.phone)
_INVITATION = plain_rows.Shape("InvitationProgress", Invitation.id, Invitation.questionnaire_version_id,
                               Invitation.delivery_status, Invitation.delivery_at, Invitation.last_reminded_at,
                               Invitation.reminder_count)
_FORM = plain_rows.Shape("FormLine", FormProgress.invitation_id, FormProgress.form_code, FormProgress.state)


@dataclass(slots=True)
class RespondentProgress:
    """One row of the table: a _PERSON record, its _INVITATION record (None before the launch), its forms."""

    respondent: Any
    invitation: Any
    forms: list = field(default_factory=list)  # _FORM records (invitation_id, form_code, state)
    form_names: dict[str, str] = field(default_factory=dict)  # form code -> "Phiếu đánh giá …"

    @property
    def finished(self) -> bool:
        return bool(self.forms) and all(f.state == FormState.SUBMITTED.value for f in self.forms)


@dataclass
class ProgressPage:
    rows: list[RespondentProgress]
    total: int
    page: int
    pages: int


FILTERS = {
    "": "Tất cả",
    "chua-xong": "Chưa hoàn thành phiếu",
    "chua-mo": "Chưa mở thư",
    "loi-gui": "Gửi thư lỗi",
    "da-xong": "Đã hoàn thành",
}
SORTS = {"stt": "Thứ tự trong danh sách", "ten": "Họ và tên", "nhom": "Nhóm", "trang-thai": "Tình trạng trả lời"}
_STATE_FILTERS = ("chua-xong", "da-xong", "chua-mo", "loi-gui")  # the filters that read the invitation


def _least_done_first():
    """Sort keys: those still to answer first (fewest forms submitted first), the finished last."""
    def forms(*conditions):
        return select(func.count(FormProgress.id)).where(FormProgress.invitation_id == Invitation.id,
                                                         *conditions).scalar_subquery()

    still_open = forms(FormProgress.state != FormState.SUBMITTED.value)
    finished = case((and_(Invitation.id.is_not(None), still_open == 0), 1), else_=0)
    return finished, forms(FormProgress.state == FormState.SUBMITTED.value)


@lru_cache(maxsize=64)
def _page_statements(searching: bool, show: str, sort: str):
    """One page of rows (with the matching total riding along) and the total alone, for one shape of the
    request: `show` is one of _STATE_FILTERS, "nhom" (one group) or ""; `sort` one of SORTS."""
    campaign_id, province_id = bindparam("campaign_id"), bindparam("province_id")
    open_forms = select(FormProgress.invitation_id).where(FormProgress.province_id == province_id,
                                                          FormProgress.campaign_id == campaign_id,
                                                          FormProgress.state != FormState.SUBMITTED.value)
    conditions = list(_people_of(campaign_id, province_id))
    if searching:
        conditions.append(Respondent.search_text.like(bindparam("pattern"), escape="/"))
    if show == "chua-xong":
        conditions.append(Invitation.id.in_(open_forms))
    elif show == "da-xong":
        conditions.append(and_(Invitation.id.is_not(None), Invitation.id.not_in(open_forms)))
    elif show == "chua-mo":
        conditions.append(and_(Invitation.id.is_not(None), Invitation.first_opened_at.is_(None)))
    elif show == "loi-gui":
        conditions.append(or_(*(Invitation.delivery_status == state for state in FAILED_STATES)))
    elif show == "nhom":
        conditions.append(Respondent.group_id == bindparam("group_id"))
    # The total rides along each row, so one statement gives the page and the count. Not as a window count:
    # that made the database join and carry every row of the province before keeping one page (ten times the
    # time at 2,000 people); a count on its own, uncorrelated, is read once beside the page.
    matching = select(func.count()).select_from(Respondent)
    if show in _STATE_FILTERS:
        matching = matching.join(Invitation, _invitation_of(province_id), isouter=True)
    matching = matching.where(*conditions)
    order = {
        # search_text starts with the folded name: "Đặng" sorts with D, and alike on SQLite and PostgreSQL.
        "ten": lambda: (Respondent.search_text, Respondent.id),
        "nhom": lambda: (Respondent.group_id, Respondent.row_number, Respondent.id),
        "trang-thai": lambda: (*_least_done_first(), Respondent.row_number, Respondent.id),
    }.get(sort, lambda: (Respondent.row_number, Respondent.id))()
    # The page's people are chosen first, by id and sort keys alone, and only those fifty are joined to their
    # invitation and ministry: joining every person of the province and carrying their columns into the sort
    # cost a third of the statement.
    keys = [key.label(f"key_{n}") for n, key in enumerate(order)]  # ordered by name: computed once a row
    chosen = select(Respondent.id.label("id"), *keys)
    if show in _STATE_FILTERS or sort == "trang-thai":
        chosen = chosen.select_from(Respondent).join(Invitation, _invitation_of(province_id), isouter=True)
    chosen = (chosen.where(*conditions).order_by(*keys)
              .offset(bindparam("offset")).limit(bindparam("limit")).subquery("chosen"))
    page = (select(*_PERSON.columns, *_INVITATION.columns, Ministry.name, matching.scalar_subquery().correlate(None))
            .select_from(chosen)
            .join(Respondent, Respondent.id == chosen.c.id)
            .join(Invitation, _invitation_of(province_id), isouter=True)
            .join(Ministry, Ministry.id == Respondent.ministry_id, isouter=True)
            .order_by(*list(chosen.c)[1:]))
    return page, matching


@lru_cache(maxsize=1)
def _forms_statement():
    return (select(*_FORM.columns)
            .where(FormProgress.province_id == bindparam("province_id"),
                   FormProgress.invitation_id.in_(bindparam("invitation_ids", expanding=True)))
            .order_by(FormProgress.id))


def _like_pattern(text: str) -> str:
    """`text` anywhere, its % and _ taken literally (escaped with "/", as the statement says)."""
    return "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def respondent_page(
    session: Session, campaign_id: int, province_id: int, *, query: str = "", show: str = "", sort: str = "stt",
    page: int = 1, per_page: int = 50,
) -> ProgressPage:
    """One page of the province's respondents with their delivery and form states."""
    params: dict[str, Any] = {"campaign_id": campaign_id, "province_id": province_id, "limit": per_page}
    folded = fold(query)
    if folded:
        params["pattern"] = _like_pattern(folded)
    if show not in _STATE_FILTERS:
        if show.isascii() and show.isdigit() and len(show) < 10:  # "³" or a 30-digit number: no group
            params["group_id"] = int(show)
            show = "nhom"
        else:
            show = ""
    statement, matching = _page_statements(bool(folded), show, sort if sort in SORTS else "stt")
    # A page number from the address bar can be anything: past a million pages there are no rows anyway,
    # and the offset must stay within a 64-bit integer for the database.
    page = min(max(1, page), 1_000_000)
    connection = session.connection()
    width = _PERSON.width

    def read(at_page: int) -> list:
        params["offset"] = (at_page - 1) * per_page
        return [(_PERSON.read(row), _INVITATION.read(row, width), row[-2], row[-1])
                for row in connection.execute(statement, params)]

    rows = read(page)
    if not rows and page > 1:  # past the last page (a filter left fewer rows): show the last one
        total = connection.execute(matching, params).scalar_one()
        page = max(1, -(-total // per_page))
        rows = read(page)
    total = rows[0][3] if rows else 0
    pages = max(1, -(-total // per_page))
    invitation_ids = [inv.id for _person, inv, _ministry, _total in rows if inv is not None]
    forms: dict[int, list] = {}
    if invitation_ids:
        for form in map(_FORM.record._make, connection.execute(
                _forms_statement(), {"province_id": province_id, "invitation_ids": invitation_ids})):
            forms.setdefault(form.invitation_id, []).append(form)
    names: dict[tuple[int, str], dict[str, str]] = {}  # a page has one questionnaire and a few ministries

    def form_names(inv: Any, ministry: str) -> dict[str, str]:
        key = (inv.questionnaire_version_id, ministry)
        if key not in names:
            names[key] = _form_names(session, *key)
        return names[key]

    return ProgressPage([RespondentProgress(person, inv, forms.get(inv.id, []) if inv else [],
                                            form_names(inv, ministry or "") if inv else {})
                         for person, inv, ministry, _total in rows], total, page, pages)


def _form_names(session: Session, version_id: int, ministry: str) -> dict[str, str]:
    """Forms by name, not by the file's code: "Phiếu đánh giá bộ chủ quản: Bộ Tài chính"."""
    from portal.domain import questionnaires

    return {form.code: questionnaires.form_name(form.target, ministry)
            for form in questionnaires.load_frozen(session, version_id).forms}


def invitations_for_province(session: Session, campaign_id: int, province_id: int,
                             invitation_ids: list[int] | None = None) -> list[Invitation]:
    """The province's invitations (all, or those ids only: anything of another province is left out)."""
    query = select(Invitation).where(Invitation.campaign_id == campaign_id, Invitation.province_id == province_id,
                                     Invitation.withdrawn_at.is_(None))
    if invitation_ids is not None:
        query = query.where(Invitation.id.in_(invitation_ids))
    return list(session.exec(query))


@dataclass(frozen=True)
class PollState:
    """What a poll of the progress page needs before deciding to answer "unchanged"."""

    fingerprint: str
    extension: date | None  # the province's response deadline, when the ministry extended it


def poll_state(session: Session, campaign_id: int, province_id: int) -> PollState:
    """The fingerprint and the province's response extension, in one statement (a poll's only query
    beyond the login and the campaign)."""
    values = session.connection().execute(_poll_statement(), {"campaign_id": campaign_id,
                                                               "province_id": province_id}).one()
    return PollState("|".join(str(value) for value in values[:-1]), values[-1])


def fingerprint(session: Session, campaign_id: int, province_id: int) -> str:
    """A short value that changes whenever anything on the province's progress page changes.

    Polling compares it (as an ETag) instead of building the table again. Times alone are not enough:
    "Gửi lại" changes an invitation's delivery state and no time, so the states are in too, as paired
    sums: the sum of each row's id times its state's rank. A row that changes state moves the sum by its
    id times the step, so two rows swapping states change it too (counts per state missed that); only
    changes whose id-weighted steps cancel exactly, between two polls, would go unseen until the next.
    """
    values = session.connection().execute(_fingerprint_query(), {"campaign_id": campaign_id,
                                                                 "province_id": province_id}).one()
    return "|".join(str(value) for value in values)


# Every poll sends these statements: built once, with the campaign and the province as parameters
# (building them took longer than the database took to answer them).
@lru_cache(maxsize=1)
def _poll_statement():
    extension = (select(RespondentList.response_extension_until)
                 .where(RespondentList.campaign_id == bindparam("campaign_id"),
                        RespondentList.province_id == bindparam("province_id"))
                 .scalar_subquery())
    return _fingerprint_query().add_columns(extension)


def _paired_sum(column, ranks: tuple[str, ...]):
    """The sum of the rows' ids, each times the rank of `column`'s value in `ranks` (see `fingerprint`)."""
    return func.sum(column.table.c.id * case({value: rank for rank, value in enumerate(ranks, 1)},
                                             value=column, else_=len(ranks) + 1))


@lru_cache(maxsize=1)
def _fingerprint_query():
    campaign_id, province_id = bindparam("campaign_id"), bindparam("province_id")
    # What a row shows of its invitation: the delivery state and time, whether it was opened (set once),
    # the reminders (each one adds to the count, and sets the time shown).
    sent = (select(func.count(Invitation.id),
                   _paired_sum(Invitation.delivery_status, tuple(status.value for status in DeliveryStatus)),
                   func.max(Invitation.delivery_at), func.count(Invitation.first_opened_at),
                   func.sum(Invitation.reminder_count))
            .where(Invitation.province_id == province_id, Invitation.campaign_id == campaign_id)).subquery()
    # Forms by state alone: a form's times move only with its state (started: in progress; submitted:
    # submitted), and the page shows the states. The paired sum needs each form's id, which SQLite's
    # (province, campaign, invitation, state) index holds; PostgreSQL reads the campaign's form rows for it. The
    # campaign, not the province alone: the past years' forms stay, and would be read by every poll.
    forms = (select(func.count(FormProgress.id),
                    _paired_sum(FormProgress.state, tuple(state.value for state in FormState)))
             .where(FormProgress.province_id == province_id, FormProgress.campaign_id == campaign_id)).subquery()
    people = (select(func.count(Respondent.id), func.max(Respondent.updated_at))
              .where(*_people_of(campaign_id, province_id))).subquery()
    # Three one-row aggregates in one statement: a poll costs one round trip to the database.
    return select(*sent.c, *forms.c, *people.c).select_from(sent).join(forms, true()).join(people, true())


def unanswered_export(session: Session, campaign_id: int, province_id: int, province_name: str,
                      tz_name: str) -> bytes:
    """Everyone who has not submitted all their forms, as a formula-safe .xlsx for follow-up calls."""
    from zoneinfo import ZoneInfo

    from portal.domain import spreadsheet_exports

    tz = ZoneInfo(tz_name)
    page = respondent_page(session, campaign_id, province_id, show="chua-xong", per_page=100_000)
    headers = ["Họ và tên", "Chức vụ", "Cơ quan/đơn vị", "Nhóm", "Email", "Số điện thoại", "Phiếu chưa nộp",
               "Thư mời", "Đôn đốc gần nhất"]
    rows = []
    for row in page.rows:
        inv = row.invitation
        missing = ", ".join(f"{row.form_names.get(f.form_code, f.form_code)} ({FORM_STATE_LABELS[f.state].lower()})"
                            for f in row.forms
                            if f.state != FormState.SUBMITTED.value)
        rows.append([row.respondent.full_name, row.respondent.position, row.respondent.unit,
                     row.respondent.group_text, row.respondent.email, row.respondent.phone, missing,
                     DELIVERY_LABELS.get(inv.delivery_status, "") if inv else "",
                     inv.last_reminded_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
                     if inv and inv.last_reminded_at else ""])
    return spreadsheet_exports.export_rows(
        headers, rows, sheet_title="Chưa trả lời",
        title=f"Người chưa hoàn thành phiếu khảo sát: {province_name}")
