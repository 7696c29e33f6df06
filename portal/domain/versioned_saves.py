"""Saving one versioned row (a line of the self-assessment, an appraiser's score, a province's explanation) with the
version-conflict refusal: a save carries the version it was based on, and one based on an older version (another
officer saved meanwhile) is refused, never applied over the other. The callers show both values then.

The row is written with a conditional UPDATE on (id, version), or inserted at version 1 against the table's unique
key, so two saves racing on two servers still make one version each: the loser is told, not lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from portal.models import User

MISSING_VERSION = "Biểu mẫu thiếu thông tin phiên bản; vui lòng tải lại trang rồi nhập lại."
STALE_FORM = "Biểu mẫu đã cũ; vui lòng tải lại trang rồi nhập lại."

Row = TypeVar("Row", bound=SQLModel)


@dataclass(frozen=True)
class Conflict:
    """A save refused because another save came first: both values, to choose from."""

    theirs: str
    theirs_explanation: str
    theirs_by: str
    theirs_at: datetime
    yours: str
    yours_explanation: str
    version: int  # the line's current version: saving again with it overwrites, knowingly


@dataclass
class SaveResult:
    row: Any = None
    error: str = ""
    conflict: Conflict | None = None
    changed: bool = False
    submitted: dict[str, str] = field(default_factory=dict)  # what was typed, shown again on a refusal

    @property
    def ok(self) -> bool:
        return not self.error and self.conflict is None


class Outcome(Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # the same values as stored: no new version
    STALE = "stale"  # based on an older version, or beaten by a concurrent save: nothing written


def based_on(form: dict[str, str]) -> int | None:
    """The version the form was based on (0: the row did not exist yet); None when missing or not a number."""
    value = form.get("version", "")
    return int(value) if value.isascii() and value.isdigit() else None


def save_versioned(session: Session, current: Row | None, based_on_version: int, values: dict[str, Any], *,
                   new_row: type[Row], keys: dict[str, Any], compared: tuple[str, ...]) -> tuple[Outcome, Row | None]:
    """Write `values` over `current` (the stored row, or None) if it is still at `based_on_version`, or insert a new
    row made of `keys` and `values` at version 1 when there was none and the form was based on none.

    `compared` names the fields whose equality with the stored row means nothing changed. Returns the outcome and
    the row as stored now (None when STALE). Nothing is committed; on STALE the session is rolled back (the caller
    reads the row again to show the other save).
    """
    if current is None:
        if based_on_version != 0:
            session.rollback()
            return Outcome.STALE, None
        row = new_row(**keys, version=1, **values)
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # another officer's first save of this row came first
            session.rollback()
            return Outcome.STALE, None
        return Outcome.CREATED, row
    if based_on_version != current.version:
        session.rollback()
        return Outcome.STALE, None
    if all(getattr(current, name) == values[name] for name in compared):
        return Outcome.UNCHANGED, current
    table = type(current)
    done = session.exec(update(table).where(table.id == current.id, table.version == current.version)
                        .values(version=table.version + 1, **values).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.rollback()
        return Outcome.STALE, None
    session.refresh(current)
    return Outcome.UPDATED, current


def author_name(session: Session, row: Any) -> str:
    """Who saved the row last, as the conflict shows it."""
    who = session.get(User, row.updated_by_id) if row.updated_by_id else None
    return (who.full_name or who.username) if who else ""
