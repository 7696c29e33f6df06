"""The audit log: who did what to whose work, when and why."""

from __future__ import annotations

import hashlib

from sqlmodel import Session, select

from portal.log_redaction import redact_links
from portal.models import AuditEntry, Respondent, User

# Both the province's list edits and the IT focal point's corrections record an address change under this action.
ADDRESS_CHANGE = "Sửa địa chỉ email người được khảo sát"


def record(
    session: Session,
    actor: User | None,
    action: str,
    *,
    province_id: int | None = None,
    detail: str = "",
    reason: str = "",
) -> AuditEntry:
    """Add an entry to the log (committed with the caller's transaction).

    A respondent's personal link quoted in the detail or the reason is kept redacted (`/phieu/***`): the
    audit log is read by many, and the link lets its holder answer as the respondent.
    """
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "hệ thống",
        province_id=province_id,
        action=action,
        detail=redact_links(detail),
        reason=redact_links(reason),
    )
    session.add(entry)
    return entry


def email_hash(address: str) -> str:
    """An address as the audit's structured columns keep it: equal addresses (any case) compare equal."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:32] if address else ""


def record_address_change(session: Session, actor: User | None, person: Respondent, old: str, new: str, *,
                          province_id: int | None, detail: str) -> AuditEntry:
    """An audited change of a respondent's address, naming the person and the old and new address hashes in
    columns of their own: the integrity rules read these, never the wording of `detail`."""
    entry = record(session, actor, ADDRESS_CHANGE, province_id=province_id, detail=detail)
    entry.subject_respondent_id = person.id
    entry.old_email_hash = email_hash(old)
    entry.new_email_hash = email_hash(new)
    return entry


def entries(session: Session, *, province_id: int | None = None, limit: int = 200) -> list[AuditEntry]:
    """The newest entries first, for one province or for all."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if province_id is not None:
        query = query.where(AuditEntry.province_id == province_id)
    return list(session.exec(query))
