"""Small corrections the ministry makes in the browser to a versioned document (questionnaire set, framework).

A correction is a function from the document to the corrected document. It is applied to the current version,
checked by the same checks as an import, described in words against the current version and stored as a new
version through `document_versions.store_version` (who and when, audited). What each kind of document allows to
correct is in questionnaire_corrections.py and framework_corrections.py; this module holds the rules they share:

- a frozen version (a launched questionnaire, a framework with a score) is never corrected;
- a correction that changes nothing stores nothing: a form posted twice says "already saved" the second time;
- a correction made on a page showing an older version is applied only when the part it touches is unchanged
  since that version; otherwise it is refused, so nobody overwrites a colleague's correction unknowingly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlmodel import Session

from portal.domain import document_versions
from portal.models import Campaign, User

Row = TypeVar("Row", bound=document_versions.VersionRow)

SOURCE = "Sửa trên trình duyệt"
# Raised by store_version when the version replaced was frozen or replaced meanwhile; told apart afterwards.
_REPLACED = "replaced"


@dataclass
class Outcome(Generic[Row]):
    """What a correction did: the version now current, and the changes it made in words (none: nothing new)."""

    version: Row
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True)
class Kind(Generic[Row]):
    """One kind of document, as the correction needs it."""

    model: type[Row]
    load: Callable[[Row], Any]  # the stored version's document
    check: Callable[[Any], Any]  # the import's checks on a corrected document; raises `error`
    to_document: Callable[[Any], str]
    title: Callable[[Any], str]
    is_sample: Callable[[Any], bool]
    describe: Callable[[Any, Any], list[str]]  # the changes between two documents, in words
    error: type[document_versions.DocumentError]
    noun: str  # "bộ phiếu", "bộ tiêu chí"
    frozen_message: str
    audit_action: str


_NUMBER = re.compile(r"[+-]?(\d+([.,]\d+)?|[.,]\d+)")


def parse_number(text: str) -> int | float | None:
    """A number as the ministry types it in a correction: "3", "2,5" or "2.5" (the comma is the Vietnamese decimal
    mark); None for an empty field; ValueError for anything else. Whether the number fits is the checks' job."""
    compact = text.strip().replace(" ", "").replace("\u00a0", "")
    if not compact:
        return None
    if len(compact) > 20 or not _NUMBER.fullmatch(compact):
        raise ValueError(text)
    number = float(compact.replace(",", "."))
    if not math.isfinite(number):
        raise ValueError(text)
    return int(number) if number.is_integer() else number


def correct(session: Session, kind: Kind[Row], user: User | None, campaign: Campaign, base_number: int | None,
            change: Callable[[Any], Any], touched: Callable[[Any], Any], *, now: datetime | None = None
            ) -> Outcome[Row]:
    """Apply `change` to the campaign's current version and store the result as a new version (committed).

    `base_number` is the version the ministry's page showed; `touched(document)` is the part of a document the
    correction is about, compared between that version and the current one. Raises `kind.error` with a
    Vietnamese message (and every problem the checks found) when the correction cannot be made; nothing is
    stored then.
    """
    current = document_versions.current_version(session, kind.model, campaign)
    if current is None:
        raise kind.error(f"Chưa có {kind.noun} để sửa.")
    if current.frozen_at is not None:
        raise kind.error(kind.frozen_message)
    document = kind.load(current)
    corrected = change(document)
    if corrected == document:
        return Outcome(current)
    if base_number is not None and base_number != current.version:
        base = document_versions.version_by_number(session, kind.model, campaign, base_number)
        if base is None or touched(kind.load(base)) != touched(document):
            raise _conflict(kind, current)
    checked = kind.check(corrected)
    changes = kind.describe(document, checked)
    if not changes:
        return Outcome(current)
    try:
        row = document_versions.store_version(
            session, kind.model, current, user=user, campaign=campaign, title=kind.title(checked),
            document=kind.to_document(checked), is_sample=kind.is_sample(checked), filename="", now=now,
            error=kind.error, frozen_message=_REPLACED, race_message=_REPLACED, audit_action=kind.audit_action,
            audit_detail=lambda number: f"{campaign.name}, phiên bản {number}: " + "; ".join(changes)[:1500],
            source_name=SOURCE)
    except document_versions.DocumentError as problem:
        if problem.message != _REPLACED:
            raise
        return _after_a_race(session, kind, campaign, checked)
    return Outcome(row, changes)


def _after_a_race(session: Session, kind: Kind[Row], campaign: Campaign, checked: Any) -> Outcome[Row]:
    """Another request froze or replaced the version at the same moment: the same correction posted twice
    finds its own result stored; anything else is refused as it would have been a moment later."""
    session.rollback()
    now_current = document_versions.current_version(session, kind.model, campaign)
    if now_current is not None and now_current.frozen_at is not None:
        raise kind.error(kind.frozen_message)
    if now_current is not None and kind.load(now_current) == checked:
        return Outcome(now_current)
    raise _conflict(kind, now_current)


def _conflict(kind: Kind, current: document_versions.VersionRow | None) -> document_versions.DocumentError:
    number = f" (phiên bản {current.version})" if current is not None else ""
    error = kind.error(f"Chưa lưu: phần này của {kind.noun} vừa được sửa{number} sau khi trang của bạn được mở. "
                       "Xem lại nội dung đang dùng bên dưới rồi sửa lại nếu cần.")
    error.conflict = True
    return error


def status_of(error: document_versions.DocumentError) -> int:
    """The HTTP status a refused correction answers with: 409 when a colleague's correction came first."""
    return 409 if getattr(error, "conflict", False) else 422
