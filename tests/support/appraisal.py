"""A province's self-assessment ready to be appraised, for the appraisal's tests."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from portal.domain import assessment, framework
from portal.domain.campaigns import current_campaign
from portal.models import Assessment, Campaign, User

HCM = "Asia/Ho_Chi_Minh"


def sample_campaign(session: Session) -> Campaign:
    """The current campaign with the sample framework imported."""
    found = current_campaign(session)
    framework.load_sample(session, found)
    return found


def sent_assessment(session: Session, campaign: Campaign, province_id: int, user: User,
                    forms: dict[str, dict[str, str]], sent_at: datetime, **stamped: str) -> Assessment:
    """The province's assessment with each line of `forms` scored (line code -> its form) and sent at `sent_at`."""
    version = framework.current_version(session, campaign)
    content = framework.load(version)
    row = assessment.get_or_create(session, campaign, province_id)
    for code, form in forms.items():
        assert assessment.save_line(session, user, row, campaign, version, content, content.line(code),
                                    {**form, "version": "0"}, HCM).ok
    row.sent_at, row.sent_by_id = sent_at, user.id
    for name, value in stamped.items():
        setattr(row, name, value)
    session.add(row)
    session.commit()
    return row
