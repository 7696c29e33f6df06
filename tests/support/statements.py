"""Counting the SQL statements a request sends, so that a page that starts to query per row is caught.

    with count_statements() as statements:
        client.get("/khao-sat/tien-do/", headers=...)
    assert len(statements) <= 6, statements.text()
"""

from __future__ import annotations

import tempfile
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
    """Every statement the portal's engines send while the block runs (PRAGMAs of a new SQLite
    connection excepted: they belong to the pool, not to the request)."""
    seen = Statements()
    engines = db.engines
    assert engines

    def listen(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if not statement.lstrip().upper().startswith("PRAGMA"):
            seen.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        for engine in engines:
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


@contextmanager
def count_round_trips() -> Iterator[list[str]]:
    """PostgreSQL: every round trip to the server while the block runs, as libpq traces it: the frontend
    messages that end one (a simple Query such as BEGIN or COMMIT, or the Sync after a statement's
    Parse/Bind/Execute), each given as the trace line of the first message of its trip. Connection pings
    count (the pool's listener is made to run after ours); connecting does not.
    """
    from psycopg import pq

    trips: list[str] = []
    engines = db.engines
    assert engines and engines[0].dialect.name == "postgresql"
    traced = []
    with tempfile.TemporaryFile("w+") as trace:

        def start(dbapi_connection, _record, _proxy) -> None:
            pgconn = dbapi_connection.pgconn
            if any(pgconn is seen for seen in traced):
                return  # tracing it again would drop what libpq buffered for the first trace
            pgconn.trace(trace.fileno())
            pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            traced.append(pgconn)

        for engine in engines:
            event.listen(engine, "checkout", start, insert=True)
        try:
            yield trips
        finally:
            for engine in engines:
                event.remove(engine, "checkout", start)
            for pgconn in traced:
                pgconn.untrace()
            trace.seek(0)
            first = None
            for line in trace:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 2 or parts[0] != "F":
                    continue
                first = first or line.strip()[:120]
                if parts[2] in ("Query", "Sync"):
                    trips.append(first)
                    first = None
