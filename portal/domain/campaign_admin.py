"""The ministry's edits to a campaign's deadlines."""

from __future__ import annotations

from sqlmodel import Session

from portal.domain import audit
from portal.domain.campaigns import DEADLINE_LABELS
from portal.domain.dates import parse_date_vn
from portal.models import Campaign, User


def update_deadlines(session: Session, actor: User, campaign: Campaign, values: dict[str, str]) -> dict[str, str]:
    """Set the deadlines from dd/mm/yyyy texts; returns errors by field (nothing saved when any)."""
    errors: dict[str, str] = {}
    parsed = {}
    for key, label in DEADLINE_LABELS.items():
        day = parse_date_vn(values.get(key, ""))
        if day is None:
            errors[key] = f"{label}: vui lòng nhập ngày theo dạng dd/mm/yyyy."
        else:
            parsed[key] = day
    if errors:
        return errors
    changes = []
    for key, day in parsed.items():
        old = getattr(campaign, key)
        if old != day:
            changes.append(f"{DEADLINE_LABELS[key]}: {old:%d/%m/%Y} → {day:%d/%m/%Y}")
            setattr(campaign, key, day)
    if changes:
        session.add(campaign)
        audit.record(session, actor, "Sửa mốc thời hạn", detail="; ".join(changes))
    session.commit()
    return {}
