"""The PAR Index's stored computations ("Kết quả"): each computation of a campaign's index with the versions of
its inputs, one row per province with its figures, and which computation the ministry published.

Kept beside portal/models.py (which imports it at its end) like the appraisal's tables. A computation is never
changed once stored, except for its publication: a published figure is always the row it was published from,
and a recomputation is a new computation compared with it (portal/domain/par_index.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.models import utcnow


class IndexComputation(SQLModel, table=True):
    """One computation of a campaign's index: when, by whom, why, and the versions of everything it read."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    computed_at: datetime = Field(default_factory=utcnow)
    computed_by_id: int | None = Field(default=None, foreign_key="user.id")  # None: recomputed by the portal
    trigger: str = ""  # as a person reads it: "Bộ Nội vụ tính lại", "Kết thúc thẩm định: Hà Nội", …
    framework_version_id: int | None = Field(default=None, foreign_key="frameworkversion.id")
    questionnaire_version_id: int | None = Field(default=None, foreign_key="questionnaireversion.id")
    # JSON: each appraisal's id, state, version and last score change; the voiding decisions in effect; the
    # survey points read (portal/domain/par_index.py `Inputs`).
    inputs: str = "{}"
    # A hash of the inputs and the figures: two computations with the same fingerprint give the same index.
    fingerprint: str = ""
    published_at: datetime | None = None
    published_by_id: int | None = Field(default=None, foreign_key="user.id")


class ProvinceIndex(SQLModel, table=True):
    """A province's index in one computation: totals, rank, per area and per line (as JSON)."""

    __table_args__ = (UniqueConstraint("computation_id", "province_id"),)

    id: int | None = Field(default=None, primary_key=True)
    computation_id: int = Field(foreign_key="indexcomputation.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    # Where the self-assessment part comes from: closed | appraising | not_appraised | not_assessed
    basis: str = ""
    appraised: float = 0.0  # the self-assessment lines' points after appraisal
    survey: float = 0.0  # the survey lines' points
    total: float = 0.0
    maximum: float = 0.0  # the framework's maximum less the lines answered "không áp dụng"
    percent: float = 0.0
    rank: int = 0
    voided_reason: str = ""  # the integrity decision's reason when the survey result was voided
    areas: str = "{}"  # JSON: area code -> {appraised, survey, total, maximum, rank}
    lines: str = "{}"  # JSON: line code -> {self, appraised, survey, source}
