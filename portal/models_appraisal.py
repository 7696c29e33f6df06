"""The ministry's appraisal (thẩm định) of a province's self-assessment: its rounds, the appraisers' scores, the
province's explanations (giải trình) and their files.

Kept beside portal/models.py (which imports it at its end, so `from portal.models import Appraisal` works) because
that module has grown past the size the house keeps to. Every row names its assessment, so a campaign's rows are
found through it (the past-campaign walk) and a province's through the assessment's guard.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.models import utcnow


class AppraisalState:
    """The appraisal's steps, in order (portal/domain/appraisal.py moves between them)."""

    ROUND1 = "round1"  # vòng 1: appraisers score; the province sees nothing yet
    EXPLAINING = "explaining"  # vòng 1 released to the province, which explains until the deadline
    ROUND2 = "round2"  # vòng 2: appraisers score again after the explanations
    CLOSED = "closed"  # kết thúc; the province sees the result once released


class Appraisal(SQLModel, table=True):
    """The appraisal of one province's self-assessment: where it stands and when each step was taken."""

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", unique=True, index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    state: str = AppraisalState.ROUND1
    # Bumped by every step, so two appraisers pressing the same button take it once.
    version: int = 1
    started_at: datetime = Field(default_factory=utcnow)
    # The explanation window: round 1 shown to the province, which explains until the end of this day.
    explanation_until: date | None = None
    explanation_opened_at: datetime | None = None
    round2_at: datetime | None = None
    closed_at: datetime | None = None
    released_at: datetime | None = None  # the province sees the final appraised points from here on


class AppraisalScore(SQLModel, table=True):
    """An appraiser's entry on one line in one round: the figures (as the province's), the points, a comment."""

    __table_args__ = (UniqueConstraint("assessment_id", "line_code", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    line_code: str
    round: int  # 1 or 2
    figures: str = "{}"  # JSON, by the line's kind (portal/domain/scoring.py)
    points: float | None = None  # None: not applicable
    not_applicable: bool = False
    comment: str = ""
    version: int = 1
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by_id: int | None = Field(default=None, foreign_key="user.id")


class AppraisalExplanation(SQLModel, table=True):
    """The province's explanation (giải trình) of one line after round 1."""

    __table_args__ = (UniqueConstraint("assessment_id", "line_code"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    line_code: str
    text: str = ""
    version: int = 1
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by_id: int | None = Field(default=None, foreign_key="user.id")


class AppraisalEvidence(SQLModel, table=True):
    """A new evidence file the province adds to a line with its explanation; the file is in the one store."""

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    province_id: int = Field(foreign_key="province.id", index=True)
    line_code: str
    file_id: int = Field(foreign_key="storedfile.id", index=True)
    added_at: datetime = Field(default_factory=utcnow)
    added_by_id: int | None = Field(default=None, foreign_key="user.id")
