"""Counting the SQL statements a request sends, so that a page that starts to query per row is caught.

    with count_statements() as statements:
        client.get("/khao-sat/tien-do/", headers=...)
    assert len(statements) <= 6, statements.text()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from portal.extensions import db


class Statements(list):
    """The statements seen, in order (SQL text as sent to the driver)."""

    def text(self) -> str:
        return "\n\n".join(self)

    def selects(self) -> list[str]:
        return [s for s in self if s.lstrip().upper().startswith(("SELECT", "WITH"))]


@contextmanager
def count_statements() -> Iterator[Statements]:
    """Every statement the portal's engine sends while the block runs (PRAGMAs of a new SQLite
    connection excepted: they belong to the pool, not to the request)."""
    seen = Statements()
    engine = db.engine
    assert engine is not None

    def listen(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if not statement.lstrip().upper().startswith("PRAGMA"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)
