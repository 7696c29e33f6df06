"""Versioned documents the ministry imports for a campaign: the questionnaire set and the scoring framework.

Both are YAML files checked in full, stored as a new version of the campaign's document (the JSON of the
checked structure), replaceable until frozen, listed and downloadable by version number. What a document
says and how it is checked stays with its own module (questionnaires.py, framework.py); this module holds
the versions' bookkeeping they share, for any table with the columns of `VersionRow`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from portal.domain import audit
from portal.domain.text import clean
from portal.models import Campaign, User, utcnow


class DocumentError(Exception):
    """A document file that cannot be imported, or an import that is not allowed now.

    `message` is one Vietnamese sentence to show; `problems` lists every problem found, each naming where
    it is (line of the file and the place in the document).
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems if problems is not None else [message]


def decode_text(data: bytes, name: str, error: type[DocumentError]) -> str:
    """A file's text: UTF-8 (a BOM allowed), NFC; `error` names the line of the first byte that is not UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"Tệp {name} không phải văn bản UTF-8 (ký tự lạ ở dòng {line}). Hãy lưu lại tệp với "
                    "mã UTF-8.") from None
    return unicodedata.normalize("NFC", text)


class VersionRow(Protocol):
    """The columns a table of document versions has (FrameworkVersion, QuestionnaireVersion)."""

    id: int | None
    campaign_id: int
    version: int
    title: str
    source_name: str
    document: str
    is_sample: bool
    is_current: bool
    imported_at: datetime
    imported_by_id: int | None
    frozen_at: datetime | None


Row = TypeVar("Row", bound=VersionRow)


def current_version(session: Session, model: type[Row], campaign: Campaign) -> Row | None:
    """The version of `model` the campaign uses now."""
    return session.exec(select(model)
                        .where(model.campaign_id == campaign.id, model.is_current == True)  # noqa: E712
                        .order_by(col(model.version).desc())).first()


def versions(session: Session, model: type[Row], campaign: Campaign) -> list[Row]:
    """Every version of `model` imported for the campaign, newest first."""
    return list(session.exec(select(model).where(model.campaign_id == campaign.id)
                             .order_by(col(model.version).desc())))


def version_by_number(session: Session, model: type[Row], campaign: Campaign, number: int) -> Row | None:
    """The campaign's version `number` of `model`, or None."""
    return session.exec(select(model).where(model.campaign_id == campaign.id, model.version == number)).first()


def store_version(session: Session, model: type[Row], current: Row | None, *, user: User | None,
                  campaign: Campaign, title: str, document: str, is_sample: bool, filename: str,
                  now: datetime | None, error: type[DocumentError], frozen_message: str, race_message: str,
                  audit_action: str, audit_detail: Callable[[int], str], source_name: str | None = None) -> Row:
    """Store a checked document as the campaign's new current version, replacing `current` (committed).

    `audit_detail` says what was imported given the new version number; `source_name` says where the version
    came from when it is not a file (a correction in the browser). Raises `error(frozen_message)` when
    `current` was frozen in the meantime, and `error(race_message)` when another import took the same version
    number; nothing is saved then.
    """
    if current is not None:
        # Conditional, so whatever freezes this version at the same moment (a launch, a province's first
        # score) wins cleanly: on PostgreSQL the update waits for its row lock and then finds it frozen.
        replaced = session.exec(update(model)
                                .where(model.id == current.id, model.frozen_at.is_(None),
                                       model.is_current == True)  # noqa: E712
                                .values(is_current=False))
        if replaced.rowcount != 1:
            session.rollback()
            raise error(frozen_message)
    last = session.exec(select(func.max(model.version)).where(model.campaign_id == campaign.id)).one() or 0
    source = clean(source_name if source_name is not None else filename)[:200]
    row = model(campaign_id=campaign.id, version=last + 1, title=title, source_name=source,
                document=document, is_sample=is_sample, is_current=True, imported_at=now or utcnow(),
                imported_by_id=user.id if user is not None else None)
    session.add(row)
    audit.record(session, user, audit_action,
                 detail=audit_detail(row.version) + (f" (tệp {filename})" if filename else ""))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise error(race_message) from None
    return row


def importers(session: Session, rows: list[Row]) -> dict[int, User]:
    """The users who imported these versions, by id (one query)."""
    ids = {row.imported_by_id for row in rows if row.imported_by_id is not None}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))} if ids else {}


class Versions(Generic[Row]):
    """The functions above bound to one table, for a document module to hand out as its own."""

    def __init__(self, model: type[Row]) -> None:
        self.model = model

    def current(self, session: Session, campaign: Campaign) -> Row | None:
        """The version the campaign uses now."""
        return current_version(session, self.model, campaign)

    def all(self, session: Session, campaign: Campaign) -> list[Row]:
        """Every version imported for the campaign, newest first."""
        return versions(session, self.model, campaign)

    def by_number(self, session: Session, campaign: Campaign, number: int) -> Row | None:
        """The campaign's version `number`, or None."""
        return version_by_number(session, self.model, campaign, number)
