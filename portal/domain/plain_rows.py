"""Reading whole table rows as plain values and making objects of them outside the session.

For the pages read on every visit or poll (a respondent's form, the progress table): loading entities
through the ORM cost several times what the database took to answer. The objects made here are copies
that no session tracks, for reading only; every write of those pages is an explicit INSERT or UPDATE.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column


def columns(*models: type) -> list[Column]:
    """Every column of each model's table, in order: the start of a select whose rows `split` reads."""
    return [column for model in models for column in model.__table__.c]  # type: ignore[attr-defined]


def split(row: Sequence[Any], models: Sequence[type]) -> list[Any]:
    """The row's objects in the order of `models` (None where an outer join found nothing), then the
    row's remaining values."""
    out: list[Any] = []
    at = 0
    for model in models:
        names = model.__table__.c.keys()  # type: ignore[attr-defined]
        values = row[at:at + len(names)]
        at += len(names)
        # Each table's first column is its primary key, never NULL in a row that exists.
        out.append(model.model_construct(**dict(zip(names, values, strict=True)))  # type: ignore[attr-defined]
                   if values[0] is not None else None)
    return [*out, *row[at:]]


class Shape:
    """Some columns of one table, read into a slotted record (a named tuple) per row.

    For pages that show a few columns of many rows: a record costs a tuple, where `split`'s model copies
    cost a validated object per row, and columns the page never shows (secrets among them) are not read.
    """

    def __init__(self, name: str, *columns: Column) -> None:
        self.columns = list(columns)
        self.record = namedtuple(name, [column.key for column in columns])  # type: ignore[misc]
        self.width = len(columns)

    def read(self, row: Sequence[Any], at: int = 0) -> Any:
        """The record of the row's values from position `at`, or None where an outer join found nothing
        (the first column, a primary key, is NULL)."""
        values = row[at:at + self.width]
        return None if values[0] is None else self.record._make(values)
