"""The portal's tables (SQLModel).

Times are timezone-aware UTC (`utcnow()`; SQLModel's UTCDateTime stores them as
such on PostgreSQL and SQLite alike) and are shown in the portal's time zone by
the `datetime_vn` template filter.
Dates of deadlines are calendar days in the portal's time zone.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, aware, in UTC: the form every timestamp column holds."""
    return datetime.now(UTC)


def new_answer_id() -> str:
    """A random identifier for an answer row (128 bits): its order says nothing of when or by whom."""
    return secrets.token_hex(16)


class Role(StrEnum):
    MINISTRY = "ministry"
    PROVINCE = "province"
    IT_FOCAL = "it_focal"


ROLE_LABELS = {
    Role.MINISTRY: "Quản trị Bộ Nội vụ",
    Role.PROVINCE: "Tài khoản tỉnh/thành phố",
    Role.IT_FOCAL: "Đầu mối kỹ thuật CNTT",
}


# ---------------------------------------------------------------- reference data


class Campaign(SQLModel, table=True):
    """One year's determination of the index, with its legal references and deadlines."""

    # At most one campaign is current, whatever two ministry staff click at the same moment.
    __table_args__ = (Index("uq_campaign_one_current", "is_current", unique=True,
                            sqlite_where=text("is_current"), postgresql_where=text("is_current")),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    name: str
    is_current: bool = False
    is_demo: bool = False
    # A campaign kept to be copied (the 2021 one a fresh install loads), never worked on itself.
    is_template: bool = False
    # The campaign this one was copied from: its groups, positions, questionnaires and reminder days.
    copied_from_id: int | None = Field(default=None, foreign_key="campaign.id")
    created_at: datetime | None = None
    # When another campaign replaced it as current: from then on it is readable only, never reopened.
    closed_at: datetime | None = None
    plan_ref: str = ""
    framework_ref: str = ""
    guide_ref: str = ""
    questionnaire_ref: str = ""
    it_focal_deadline: date
    list_deadline: date
    self_assessment_deadline: date
    response_deadline: date
    # Whom provinces and respondents ask about the campaign, as the dispatch names them; shown on survey
    # pages, the invalid-link page, invitations and reminders, and the staff footer.
    contact_name: str = ""
    contact_unit: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    # When the ministry published the campaign's results (the index, the ranking): the computation published is
    # the IndexComputation with `published_at` set last (portal/domain/par_index.py).
    results_published_at: datetime | None = None


class Province(SQLModel, table=True):
    """A province or centrally-run city; `id` is its official code."""

    id: int = Field(primary_key=True)
    name: str  # official: "Thành phố Hà Nội", "Tỉnh Quảng Ninh"
    short_name: str  # "Hà Nội"
    slug: str = Field(unique=True, index=True)  # "ha-noi": also the province account's user name
    is_centrally_run: bool = False
    is_active: bool = True


class District(SQLModel, table=True):
    """A lower-level unit of a province in one map (portal/domain/units.py).

    In the 2021 map a district-level unit (quận, huyện, thị xã, thành phố thuộc tỉnh); in the 2025 map a
    ward, commune or special zone (phường, xã, đặc khu). `code` is its official code within that map; `id` is
    the portal's own (on installs from before maps, a 2021 district's id is its code).
    """

    __table_args__ = (UniqueConstraint("unit_map", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    name: str  # "Quận Ba Đình", "Phường Hoàn Kiếm"
    division_type: str  # "quận", "huyện", "thị xã", "thành phố"; "phường", "xã", "đặc khu"
    unit_map: str = Field(default="2021", index=True)  # the map it belongs to: "2021", "2025"
    code: int = 0


class CampaignProvince(SQLModel, table=True):
    """A province a campaign assesses, named as in that campaign's map, with the kind of its lower-level units.

    The rows of one campaign are its map: 63 provinces with their districts in 2021, 34 with their wards and
    communes from 2025, or one province with its own units when a province organises its own index.
    """

    __table_args__ = (UniqueConstraint("campaign_id", "province_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    name: str  # as the map names it: "Thành phố Huế" in 2025, where 2021 had "Tỉnh Thừa Thiên Huế"
    short_name: str
    # Which lower-level units: the District rows of this map ("" for none), and their kind.
    unit_map: str = ""
    unit_kind: str = ""  # district | commune | "" (no lower level)


class Ministry(SQLModel, table=True):
    """A ministry or ministerial-level agency, as the government named it at some time (the 2021 and the 2025
    lists share the rows of the ministries that kept their names); which ones a campaign knows is CampaignMinistry."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True)
    name: str
    kind: str = "bo"  # bo | co_quan_ngang_bo


class CampaignMinistry(SQLModel, table=True):
    """A ministry on a campaign's list: the parents its departments choose from (22 in 2021, 17 from 2025)."""

    __table_args__ = (UniqueConstraint("campaign_id", "ministry_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    ministry_id: int = Field(foreign_key="ministry.id")
    position: int = 0  # the government's order


class DepartmentType(SQLModel, table=True):
    """A kind of provincial department and the ministry it answers to."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True)
    name: str
    ministry_id: int = Field(foreign_key="ministry.id")
    note: str = ""
    seeded_everywhere: bool = True  # False: only some provinces have it (Sở Ngoại vụ, Ban Dân tộc…)


class Department(SQLModel, table=True):
    """A department (or equivalent agency) of one province in one campaign, named as that province names it.

    Each campaign has its own rows (copied with the campaign), so that renaming, re-parenting or retiring a
    department in 2026 leaves the 2021 lists, which point to their own rows, as they were.
    """

    __table_args__ = (UniqueConstraint("campaign_id", "province_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    department_type_id: int | None = Field(default=None, foreign_key="departmenttype.id")
    ministry_id: int = Field(foreign_key="ministry.id")
    name: str
    # Where a department particular to this province comes from: the seed's source, or who added it.
    source: str = ""
    added_by_id: int | None = Field(default=None, foreign_key="user.id")  # a province account that added it
    added_at: datetime | None = None
    # Retired by the ministry (merged away, dissolved): no longer offered nor accepted in new lists.
    retired_at: datetime | None = None


class RespondentGroup(SQLModel, table=True):
    """One of a campaign's respondent groups, with the forms its members answer."""

    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    code: str  # the code questionnaire files name the group by (2021: HDND, LD_SO, LD_PHONG, LD_HUYEN)
    number: int  # 1..4, as the ministry numbers them
    name: str
    who: str = ""
    # What unit a respondent of the group names (portal/domain/group_kinds.py): council (free text), department,
    # division (the department it belongs to), district or commune (a lower-level unit of the campaign's map),
    # none (free text).
    unit_kind: str = "department"
    # The council group: its row wins when one person is listed in two groups.
    council_priority: bool = False
    answers_locality_form: bool = True
    answers_ministry_form: bool = False

    @property
    def label(self) -> str:
        """How the group reads in drop-downs and lists: "2. Lãnh đạo cấp sở"."""
        return f"{self.number}. {self.name}"


class PositionTitle(SQLModel, table=True):
    """A position title that fits a group, with the forms people write it in (';'-separated)."""

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="respondentgroup.id", index=True)
    title: str
    common_forms: str = ""
    note: str = ""


# ---------------------------------------------------------------- accounts


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True)
    full_name: str = ""
    position: str = ""
    email: str = ""
    phone: str = ""
    role: str = Field(index=True)  # a Role value
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    password_hash: str
    must_change_password: bool = True
    is_active: bool = True
    # Part of every session's id (get_id): raising it ends every open session of the account at once
    # (logout, password change or reset, account disabled), since a signed cookie cannot be taken back.
    session_version: int = 0
    last_login_at: datetime | None = None
    password_changed_at: datetime | None = None
    registered_at: datetime | None = None  # IT focal points: when the province registered them
    created_at: datetime = Field(default_factory=utcnow)

    # flask-login's protocol, written out so the table stays a plain model.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # The session version, and the hash's tail (which changes with the password), end old sessions.
        return f"{self.id}:{self.session_version}:{self.password_hash[-12:]}"

    @property
    def is_ministry(self) -> bool:
        return self.role == Role.MINISTRY

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(Role(self.role), self.role)



class LoginThrottle(SQLModel, table=True):
    """Password checks of one account from one client address ("*": from anywhere) in the current window.

    Times are seconds since the epoch, so that one atomic UPSERT can compare and reset them the same way
    on SQLite and PostgreSQL (portal/domain/login_throttle.py).
    """

    username: str = Field(primary_key=True)
    source: str = Field(primary_key=True)
    attempts: int = 0
    window_start: float = 0.0
    last_attempt_at: float = 0.0


class RateLimitCounter(SQLModel, table=True):
    """A Flask-Limiter counter shared by every gunicorn worker (portal/ratelimit_storage.py)."""

    key: str = Field(primary_key=True)
    count: int = 0
    expires_at: float = 0.0  # seconds since the epoch


class StoredFile(SQLModel, table=True):
    """A file someone uploaded: its content (by hash, in PORTAL_FILES_DIR) and what is known of it.

    One row per upload (each with its own name and uploader); uploads of the same bytes share
    one file on disk (portal/domain/evidence.py). Rows that point here: a nomination document, a
    request's attachment, a line's evidence. A row nothing points to, and a file no row names,
    are removed by `flask portal collect-files` (and the worker, daily).
    """

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(index=True)  # hex; "" for a file already missing when it was moved into the store
    size: int
    content_type: str  # detected from the bytes, not taken from the browser
    original_name: str  # cleaned of folders and control characters, for the download's name only
    uploaded_by_id: int | None = Field(default=None, foreign_key="user.id")
    uploaded_at: datetime = Field(default_factory=utcnow, index=True)


class NominationDocument(SQLModel, table=True):
    """The province's document nominating its IT focal point (văn bản cử), as uploaded; the newest counts."""

    id: int | None = Field(default=None, primary_key=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    file_id: int = Field(foreign_key="storedfile.id", index=True)


# ---------------------------------------------------------------- notices and audit


class Notice(SQLModel, table=True):
    """A message to provinces: posted by the ministry, or by the portal when something happens."""

    id: int | None = Field(default=None, primary_key=True)
    title: str
    body: str = ""
    kind: str = "ministry"  # ministry | system
    author_id: int | None = Field(default=None, foreign_key="user.id")
    to_all: bool = False
    created_at: datetime = Field(default_factory=utcnow, index=True)


class NoticeRecipient(SQLModel, table=True):
    notice_id: int = Field(foreign_key="notice.id", primary_key=True)
    province_id: int = Field(foreign_key="province.id", primary_key=True, index=True)


class NoticeRead(SQLModel, table=True):
    notice_id: int = Field(foreign_key="notice.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True)
    read_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """Who did what, when and why: kept for every action that changes another party's work."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor_name: str = ""
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    action: str
    detail: str = ""
    reason: str = ""
    # A respondent's address changed (by the province's list edit or the IT focal point's correction): whose, and
    # the old and new address as hashes, so the integrity rules link the change to the person without reading
    # `detail`. No foreign key: a person removed from a draft list leaves the entry as it was.
    subject_respondent_id: int | None = Field(default=None, index=True)
    old_email_hash: str = ""
    new_email_hash: str = ""


# ---------------------------------------------------------------- respondent lists


class ListStatus(StrEnum):
    DRAFT = "draft"  # đang nhập
    SENT = "sent"  # đã gửi danh sách
    RETURNED = "returned"  # trả lại để chỉnh sửa


LIST_STATUS_LABELS = {
    None: "Chưa nhập",
    ListStatus.DRAFT: "Đang nhập",
    ListStatus.SENT: "Đã gửi danh sách",
    ListStatus.RETURNED: "Trả lại",
}


class RespondentList(SQLModel, table=True):
    """A province's list of people to survey in one campaign: a draft until sent, then locked."""

    __table_args__ = (UniqueConstraint("campaign_id", "province_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    status: str = ListStatus.DRAFT.value
    # Bumped by every change, so that a form built on an older state (a second tab, a double
    # click) is recognised instead of silently applied.
    version: int = 0
    source_filename: str = ""
    uploaded_at: datetime | None = None
    check_notices: str = "[]"  # JSON: messages of the last check (council priority, fixed phones …)
    # JSON: every merge the portal made, kept across edits: [{"at", "rows": [gone, kept], "message"}]
    merge_record: str = "[]"
    # JSON: the keys of rows the officer confirmed are different people with one name (respondent_rules)
    dismissed_namesakes: str = "[]"
    # JSON: what the rows add up to (list_tally), and the version of the list it describes: used only while
    # that is the list's version.
    tally: str | None = None
    tally_version: int | None = None
    sent_at: datetime | None = None
    sent_by_id: int | None = Field(default=None, foreign_key="user.id")
    returned_at: datetime | None = None
    return_reason: str = ""
    extension_until: date | None = None
    # The ministry's extension of the response deadline for this province's respondents.
    response_extension_until: date | None = None
    launched_at: datetime | None = None  # when the ministry sent the survey to this list
    # The launch (a background operation) that took this list: set when the ministry confirms, so that no
    # other launch takes it; `launched_at` follows once every person on it is invited ("đang phát hành" between).
    launch_operation_id: int | None = Field(default=None, foreign_key="operation.id", index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class Respondent(SQLModel, table=True):
    """A person on a province's list. Their answers are stored elsewhere, never beside them."""

    # An edit finds the rows sharing a name or mailbox by the first two; the list's summary is read from
    # ix_respondent_list_summary alone, and the progress page's fifty people from the last (on SQLite, without
    # reading the province's rows). None on list_id, province_id or email alone: composites begin with them.
    __table_args__ = (Index("ix_respondent_list_name_key", "list_id", "name_key"),
                      Index("ix_respondent_list_email", "list_id", "email"),
                      Index("ix_respondent_list_notice", "list_id", "has_notice"),
                      Index("ix_respondent_list_summary", "list_id", "group_id", "answers_ministry_form",
                            "ministry_id", "error_count"),
                      Index("ix_respondent_province_list_row", "province_id", "list_id", "row_number"))

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="respondentlist.id")
    province_id: int = Field(foreign_key="province.id")
    row_number: int = 0  # the row the person had in the uploaded file, or its place in the list
    full_name: str = ""
    position: str = ""
    group_id: int | None = Field(default=None, foreign_key="respondentgroup.id", index=True)
    group_text: str = ""  # what the province wrote, kept for rows whose group is not recognised
    unit: str = ""
    department_id: int | None = Field(default=None, foreign_key="department.id")
    district_id: int | None = Field(default=None, foreign_key="district.id")
    ministry_id: int | None = Field(default=None, foreign_key="ministry.id")
    answers_ministry_form: bool = False
    email: str = ""
    phone: str = ""
    note: str = ""
    search_text: str = ""  # folded name, email and unit, for diacritics-insensitive search
    problems: str = "[]"  # JSON: [{"column": …, "message": …}] from the last check
    error_count: int = 0
    name_key: str = ""  # the folded full name the check compares rows by (same person, namesakes)
    has_notice: bool = False  # problems hold a notice (a value the check read another way): the list's notices
    formula_cells: str = "{}"  # JSON: {value key: formula text} of cells the uploaded workbook held as formulas
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class MinistryNotice(SQLModel, table=True):
    """A message from the portal to the ministry's staff (a list sent, …)."""

    id: int | None = Field(default=None, primary_key=True)
    title: str
    body: str = ""
    province_id: int | None = Field(default=None, foreign_key="province.id")
    created_at: datetime = Field(default_factory=utcnow, index=True)
    read_at: datetime | None = None


# ---------------------------------------------------------------- the survey


class QuestionnaireVersion(SQLModel, table=True):
    """One imported set of survey forms; answers record the version they answered."""

    __table_args__ = (UniqueConstraint("campaign_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    version: int
    title: str
    source_name: str = ""
    document: str  # the checked questionnaire as JSON (see portal/domain/questionnaires.py)
    is_sample: bool = False
    is_current: bool = True
    frozen_at: datetime | None = None  # set at the first launch: then it can no longer be replaced
    imported_at: datetime = Field(default_factory=utcnow)
    imported_by_id: int | None = Field(default=None, foreign_key="user.id")


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # refused by the SMTP server (5xx) or retries exhausted
    BOUNCED = "bounced"  # accepted, then returned by the recipient's server
    DELAYED = "delayed"  # a bounce said the server is still trying


class Invitation(SQLModel, table=True):
    """A respondent's personal survey link and what is known of its delivery.

    The link is derived from `nonce` with the portal's secret key (see
    portal/domain/invitations.py), so a copy of the database alone cannot answer.
    """

    # The progress pages and their polls read one province's invitations of one campaign.
    __table_args__ = (Index("ix_invitation_province_campaign", "province_id", "campaign_id"),)

    id: int | None = Field(default=None, primary_key=True)
    # None once the province removed the person from a list already launched: the invitation stays,
    # withdrawn, so its link can say so and the audit log keeps what happened.
    respondent_id: int | None = Field(default=None, foreign_key="respondent.id", unique=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    questionnaire_version_id: int = Field(foreign_key="questionnaireversion.id")
    nonce: str
    form_codes: str  # comma-separated codes of the forms this respondent answers
    created_at: datetime = Field(default_factory=utcnow)
    first_opened_at: datetime | None = None
    delivery_status: str = Field(default=DeliveryStatus.QUEUED.value, index=True)
    delivery_at: datetime | None = None
    delivery_reply: str = ""
    last_reminded_at: datetime | None = None
    reminder_count: int = 0
    withdrawn_at: datetime | None = None  # the link answers 410 "đã được thu hồi" from then on


class FormState(StrEnum):
    NOT_STARTED = "not_started"  # chưa trả lời
    IN_PROGRESS = "in_progress"  # đang trả lời
    SUBMITTED = "submitted"  # đã nộp phiếu


class FormProgress(SQLModel, table=True):
    """Whether a respondent has answered a form: all a province may know, never the answers."""

    # The progress summary and its polls read one province's forms of one campaign from this index alone
    # (filtered by the province only, they read every past year's forms too, more with each campaign). In the
    # invitations' order: the summary joins each form to its invitation, and SQLite then reads them in the
    # order they are stored (1.3 ms at 3,200 forms, against 1.9 ms ordered by state).
    __table_args__ = (UniqueConstraint("invitation_id", "form_code"),
                      Index("ix_formprogress_province_campaign_invitation", "province_id", "campaign_id",
                            "invitation_id", "state"))

    id: int | None = Field(default=None, primary_key=True)
    invitation_id: int = Field(foreign_key="invitation.id", index=True)
    province_id: int = Field(foreign_key="province.id")
    campaign_id: int = Field(foreign_key="campaign.id")  # the invitation's, kept here for the index above
    form_code: str
    state: str = FormState.NOT_STARTED.value
    started_at: datetime | None = None
    submitted_at: datetime | None = None


class FormSignal(SQLModel, table=True):
    """A moment of a respondent's visit kept for integrity rules (portal/domain/integrity.py).

    Tied to the invitation, never to an answer row; read by integrity rules and the ministry's integrity page
    only; deleted PORTAL_SIGNAL_RETENTION_DAYS after the campaign closes.
    """

    id: int | None = Field(default=None, primary_key=True)
    invitation_id: int = Field(foreign_key="invitation.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    form_code: str = ""  # "" for the respondent's overview page
    event: str  # opened | saved | submitted
    at: datetime = Field(default_factory=utcnow)
    seconds_on_page: int | None = None  # how long the posted page had been open
    device: str = ""  # the random identifier the respondent's browser keeps in a cookie
    user_agent: str = ""
    address_hash: str = ""  # HMAC of the network address under the secret key
    address_prefix: str = ""  # the address cut to /24 (IPv4) or /48 (IPv6)


class IntegrityFlag(SQLModel, table=True):
    """What an integrity rule saw in one province's signals (portal/domain/integrity_rules.py).

    A flag never changes an answer: the ministry reads its evidence and decides. Re-running a rule over the
    same forms updates the flag instead of adding another (unique by rule, campaign, province, involved set).
    The evidence names forms, times, devices and address hashes, never an answer's value.
    """

    __table_args__ = (UniqueConstraint("rule", "campaign_id", "province_id", "involved_key"),)

    id: int | None = Field(default=None, primary_key=True)
    rule: str  # the rule's code, e.g. "shared_device"
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    severity: str  # low | medium | high
    involved_key: str  # a hash of the sorted invitation ids involved (the upsert's key)
    invitation_ids: str = "[]"  # JSON: the invitations whose forms are involved
    forms: str = "[]"  # JSON: [[invitation id, form code], ...]
    evidence: str = "{}"  # JSON: times, device ids, address hashes and prefixes, counts
    state: str = "open"
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class IntegrityDecision(SQLModel, table=True):
    """The ministry's decision on what the integrity rules found (portal/domain/integrity_decisions.py).

    Dismissing a flag, voiding single forms, voiding the province's whole survey result, or reversing one of
    these: proposed by one administrator, in effect only once a second, different one confirms it
    (PORTAL_INTEGRITY_TWO_PERSON). Voided answers stay stored; `counted_answers` leaves them out.
    `forms` names invitations and form codes, never an answer row: the link to the answers is made with the
    secret key when the answers are counted, so this table ties no person to an answer.
    """

    # Posting the same proposal form twice makes one proposal.
    __table_args__ = (UniqueConstraint("proposed_by_id", "form_key"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    kind: str  # dismiss | void_forms | void_province | reverse
    flag_id: int | None = Field(default=None, foreign_key="integrityflag.id", index=True)
    reverses_id: int | None = Field(default=None, foreign_key="integritydecision.id", index=True)
    forms: str = "[]"  # JSON: [[invitation id, form code], ...] voided by a void_forms decision
    reason: str
    state: str = Field(default="proposed", index=True)  # proposed | withdrawn | in_effect | reversed
    form_key: str
    proposed_by_id: int = Field(foreign_key="user.id")
    proposed_at: datetime = Field(default_factory=utcnow)
    # Who confirmed (in_effect) or withdrew (withdrawn) the proposal, and when.
    decided_by_id: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = None


class IntegrityWatermark(SQLModel, table=True):
    """The last signal the worker's integrity run has looked at, so it checks only provinces with news."""

    id: int | None = Field(default=None, primary_key=True)
    last_signal_id: int = 0
    checked_at: datetime = Field(default_factory=utcnow)


class Answer(SQLModel, table=True):
    """The answers to one form, kept apart from who gave them.

    `response_key` is an HMAC of the invitation and form under the portal's
    secret key: the respondent's link finds it again, but the table itself names
    no person. Province, group and parent ministry stay, for the results.

    Nothing else in a copy of the table may follow the people who answered
    (portal/domain/answers.py, "Answers in no order"): the key is random, not a
    sequence; times keep only the day; SQLite stores the table in key order
    (WITHOUT ROWID), and on PostgreSQL the worker rewrites it in key order.
    """

    __table_args__ = {"sqlite_with_rowid": False}

    id: str = Field(default_factory=new_answer_id, primary_key=True)
    response_key: str = Field(unique=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    group_code: str
    ministry_code: str | None = None
    form_code: str
    questionnaire_version_id: int = Field(foreign_key="questionnaireversion.id")
    answers: str = "{}"  # JSON: question id -> value
    submitted: bool = False
    updated_at: datetime = Field(default_factory=utcnow)
    submitted_at: datetime | None = None


class OutboxMessage(SQLModel, table=True):
    """One email to one recipient, moving queued -> sending -> sent / failed / bounced.

    An invitation's or reminder's body holds its personal link masked (`/phieu/<id>.••••`): the worker puts
    the link in when it sends (portal/domain/outbox.py), so a copy of this table cannot answer as anyone.
    """

    # The worker's claim reads the queued rows in queue order from this index alone: no scan, no sort,
    # however long the queue or the history of sent rows (portal/domain/outbox.py, claim_batch).
    __table_args__ = (Index("ix_outbox_claim", "status", "queued_at", "id", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)  # invitation | reminder | …
    invitation_id: int | None = Field(default=None, foreign_key="invitation.id", index=True)
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    to_addr: str
    subject: str
    body_text: str
    body_html: str = ""
    bounce_token: str = Field(index=True)  # in the VERP return path: bounces+<token>@domain
    message_id: str = Field(default="", index=True)
    status: str = Field(default=DeliveryStatus.QUEUED.value)  # first column of ix_outbox_claim
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    # A message not sent by then is dropped (status "expired"): a reminder after the response deadline.
    expires_at: datetime | None = None
    claimed_by: str = ""
    claimed_at: datetime | None = None
    # Until when the claim holds: the sending worker renews it while it sends, and only an expired lease
    # (its worker died) lets the sweep queue the row again.
    lease_until: datetime | None = None
    last_reply: str = ""
    queued_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    # When the subject and bodies of a message done with were emptied (PORTAL_OUTBOX_KEEP_SENT_DAYS after
    # it was sent); recipient, status and times stay for the delivery pages.
    purged_at: datetime | None = None


class ReminderSchedule(SQLModel, table=True):
    """A day on which the worker reminds every respondent who has not finished."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    send_on: date
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    enqueued_at: datetime | None = None
    enqueued_count: int = 0


class OperationState(StrEnum):
    QUEUED = "queued"  # waiting for the worker
    RUNNING = "running"  # a worker holds it (its lease) and runs it chunk by chunk
    DONE = "done"
    FAILED = "failed"  # stopped for good; `last_error` says why


class Operation(SQLModel, table=True):
    """Work that grows with a list (a launch, reminding everyone): recorded by a request, run by the worker.

    The worker runs it in chunks, each chunk's work committed together with the `done` counter, so a
    page can follow it and a crashed worker's operation is resumed by another once its lease expires
    (portal/domain/operations.py).
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)  # launch | remind | index
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    # The province it belongs to, for a province's own operation (None: the ministry's).
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    requested_by_id: int | None = Field(default=None, foreign_key="user.id")
    params: str = "{}"  # JSON: what was decided
    result: str = "{}"  # JSON: what has been done so far
    state: str = Field(default=OperationState.QUEUED.value, index=True)
    total: int = 0
    done: int = 0
    cursor: int = 0  # the last id a chunk handled, for kinds that walk a table in id order
    attempts: int = 0  # chunks that failed unexpectedly; after a few the operation is marked failed
    last_error: str = ""
    claimed_by: str = ""
    # Until when the claim holds: renewed by every chunk; an expired lease lets another worker take over.
    lease_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class BounceMessage(SQLModel, table=True):
    """A message that arrived at the bounce mailbox, kept once (by its digest) whatever it said."""

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(unique=True)  # SHA-256 of the raw message: the same bounce is never processed twice
    source: str = ""  # maildir file name or IMAP uid
    received_at: datetime = Field(default_factory=utcnow, index=True)
    outbox_id: int | None = Field(default=None, foreign_key="outboxmessage.id", index=True)
    province_id: int | None = Field(default=None, foreign_key="province.id", index=True)
    kind: str = Field(index=True)  # permanent | temporary | unmatched | unparsed
    addresses: str = ""  # the failed addresses the bounce named, comma-separated
    reason: str = ""  # the diagnostic text for the expert
    explanation: str = ""  # the plain Vietnamese explanation shown to the IT focal point
    raw: str = ""  # kept for unmatched and unparsed messages, so they can be looked at, not lost


# ---------------------------------------------------------------- self-assessment ("Tự đánh giá, chấm điểm")


class FrameworkVersion(SQLModel, table=True):
    """One imported criteria framework (bộ tiêu chí) of a campaign; frozen once a province saves a score."""

    __table_args__ = (UniqueConstraint("campaign_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    version: int
    title: str
    source_name: str = ""
    document: str  # the checked framework as JSON (see portal/domain/framework.py)
    is_sample: bool = False
    is_current: bool = True
    frozen_at: datetime | None = None  # set by the first score a province saves: then it can no longer be replaced
    imported_at: datetime = Field(default_factory=utcnow)
    imported_by_id: int | None = Field(default=None, foreign_key="user.id")


class Assessment(SQLModel, table=True):
    """A province's self-assessment in one campaign: its lock and the ministry's exception to it."""

    __table_args__ = (UniqueConstraint("campaign_id", "province_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    # When the worker recorded the lock at the end of the deadline day. Saves are refused by the deadline
    # itself (checked on every save), so a worker that was down never leaves an assessment open.
    locked_at: datetime | None = None
    # The ministry's exception: this province may keep saving until the end of this day (portal time zone).
    exception_until: date | None = None
    exception_reason: str = ""
    exception_by_id: int | None = Field(default=None, foreign_key="user.id")
    exception_at: datetime | None = None
    # The approval: the approved report (Báo cáo tự đánh giá) and the decision approving it.
    report_file_id: int | None = Field(default=None, foreign_key="storedfile.id", index=True)
    decision_number: str = ""
    decision_date: date | None = None
    decision_signer: str = ""
    # "Gửi kết quả tự đánh giá": once sent, nothing changes until the ministry returns it for correction.
    sent_at: datetime | None = None
    sent_by_id: int | None = Field(default=None, foreign_key="user.id")
    returned_at: datetime | None = None
    return_reason: str = ""
    returned_by_id: int | None = Field(default=None, foreign_key="user.id")


class AssessmentScore(SQLModel, table=True):
    """A province's entry on one line (sub-criterion) of the framework: the figures, the points they give."""

    __table_args__ = (UniqueConstraint("assessment_id", "line_code"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    line_code: str
    figures: str = "{}"  # JSON: what the province entered, by the line's kind (portal/domain/scoring.py)
    points: float | None = None  # None: not applicable (the line's points leave the maximum)
    not_applicable: bool = False
    explanation: str = ""
    # Bumped by every save: a save based on an older version (another officer saved meanwhile) is refused.
    version: int = 1
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by_id: int | None = Field(default=None, foreign_key="user.id")


class ScoreChange(SQLModel, table=True):
    """One change of a line's entry: who, when, the value before and after (the line's audit trail)."""

    id: int | None = Field(default=None, primary_key=True)
    # The line by its assessment and code: an evidence file may come before the line has any score row.
    assessment_id: int | None = Field(default=None, foreign_key="assessment.id", index=True)
    line_code: str = ""
    score_id: int | None = Field(default=None, foreign_key="assessmentscore.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor_name: str = ""
    old_value: str = ""  # as a person reads it: "Tỷ lệ 45/50 (90%) → 0,5 điểm"
    new_value: str = ""


class AssessmentEvidence(SQLModel, table=True):
    """An evidence file (tài liệu kiểm chứng) on one line of a province's assessment; the file is in the store."""

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    line_code: str
    file_id: int = Field(foreign_key="storedfile.id", index=True)
    added_at: datetime = Field(default_factory=utcnow)
    added_by_id: int | None = Field(default=None, foreign_key="user.id")


# ---------------------------------------------------------------- requests to the ministry ("Đề nghị")


class RequestKind(StrEnum):
    LIST_EXTENSION = "list_extension"  # gia hạn gửi danh sách
    RESPONSE_EXTENSION = "response_extension"  # gia hạn trả lời phiếu
    LIST_RETURN = "list_return"  # trả lại danh sách đã gửi
    TECHNICAL = "technical"  # hỗ trợ sự cố kỹ thuật


class RequestStatus(StrEnum):
    OPEN = "open"  # chờ Bộ Nội vụ trả lời
    GRANTED = "granted"  # chấp thuận (and applied)
    REFUSED = "refused"  # không chấp thuận, with a reason
    ANSWERED = "answered"  # trả lời bằng văn bản


class ProvinceRequest(SQLModel, table=True):
    """A province's (or its IT focal point's) request to the ministry, and the ministry's answer."""

    # One form shown once is one request: a second post of the same form (double click, resent
    # after a timeout) finds the first instead of making another.
    __table_args__ = (UniqueConstraint("author_id", "form_key"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    form_key: str
    kind: str  # a RequestKind value
    reason: str
    wanted_until: date | None = None  # the day the province asks for (extensions)
    file_id: int | None = Field(default=None, foreign_key="storedfile.id", index=True)  # the attached file
    status: str = Field(default=RequestStatus.OPEN.value, index=True)
    answer: str = ""
    granted_until: date | None = None
    answered_by_id: int | None = Field(default=None, foreign_key="user.id")
    answered_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


# The appraisal's tables live in their own module; imported here so that every table is on the metadata.
from portal.models_appraisal import (  # noqa: E402,F401
    Appraisal,
    AppraisalEvidence,
    AppraisalExplanation,
    AppraisalScore,
    AppraisalState,
)

# The index's stored computations ("Kết quả"), likewise in their own module.
from portal.models_results import IndexComputation, ProvinceIndex  # noqa: E402,F401
