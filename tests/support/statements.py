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


def query_plan(session, statement) -> str:
    """The database's plan for `statement`, not run: SQLite's EXPLAIN QUERY PLAN details or PostgreSQL's
    EXPLAIN lines, one per line. For tests that check a query uses its index (a plan, not a timing)."""
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect)
    processors = compiled._bind_processors
    values = {name: processors[name](value) if name in processors else value
              for name, value in compiled.construct_params().items()}
    if dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string,
                                          tuple(values[name] for name in compiled.positiontup))
        return "\n".join(row[-1] for row in rows)
    return "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + compiled.string, values))
