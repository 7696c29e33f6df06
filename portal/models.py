"""The portal's tables (SQLModel).

Times are timezone-aware UTC (`utcnow()`; SQLModel's UTCDateTime stores them as
such on PostgreSQL and SQLite alike) and are shown in the portal's time zone by
the `datetime_vn` template filter.
Dates of deadlines are calendar days in the portal's time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, aware, in UTC: the form every timestamp column holds."""
    return datetime.now(UTC)


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

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    name: str
    is_current: bool = False
    is_demo: bool = False
    plan_ref: str = ""
    framework_ref: str = ""
    guide_ref: str = ""
    questionnaire_ref: str = ""
    it_focal_deadline: date
    list_deadline: date
    self_assessment_deadline: date
    response_deadline: date


class Province(SQLModel, table=True):
    """A province or centrally-run city; `id` is its official code."""

    id: int = Field(primary_key=True)
    name: str  # official: "Thành phố Hà Nội", "Tỉnh Quảng Ninh"
    short_name: str  # "Hà Nội"
    slug: str = Field(unique=True, index=True)  # "ha-noi": also the province account's user name
    is_centrally_run: bool = False
    is_active: bool = True


class District(SQLModel, table=True):
    """A district-level unit (quận, huyện, thị xã, thành phố thuộc tỉnh); `id` is its official code."""

    id: int = Field(primary_key=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    name: str  # "Quận Ba Đình"
    division_type: str  # "quận", "huyện", "thị xã", "thành phố"


class Ministry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True)
    name: str
    kind: str = "bo"  # bo | co_quan_ngang_bo


class DepartmentType(SQLModel, table=True):
    """A kind of provincial department and the ministry it answers to."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True)
    name: str
    ministry_id: int = Field(foreign_key="ministry.id")
    note: str = ""
    seeded_everywhere: bool = True  # False: only some provinces have it (Sở Ngoại vụ, Ban Dân tộc…)


class Department(SQLModel, table=True):
    """A department (or equivalent agency) of one province, named as that province names it."""

    __table_args__ = (UniqueConstraint("province_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    department_type_id: int | None = Field(default=None, foreign_key="departmenttype.id")
    ministry_id: int = Field(foreign_key="ministry.id")
    name: str


class RespondentGroup(SQLModel, table=True):
    """One of a campaign's respondent groups, with the forms its members answer."""

    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    code: str  # HDND, LD_SO, LD_PHONG, LD_HUYEN
    number: int  # 1..4, as the ministry numbers them
    name: str
    who: str = ""
    answers_locality_form: bool = True
    answers_ministry_form: bool = False


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
    failed_logins: int = 0
    locked_until: datetime | None = None
    last_login_at: datetime | None = None
    password_changed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    # flask-login's protocol, written out so the table stays a plain model.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # The hash's tail changes with the password, so changing it ends other sessions.
        return f"{self.id}:{self.password_hash[-12:]}"

    @property
    def is_ministry(self) -> bool:
        return self.role == Role.MINISTRY

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(Role(self.role), self.role)


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
