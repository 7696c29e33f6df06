"""Writing many rows of one table at once, in the session's transaction: PostgreSQL's COPY, SQLite's executemany.

An import writes up to 20,000 rows. Through SQLAlchemy's insert each row's parameters are compiled, processed
and held for the whole statement; here the rows are taken from an iterable a chunk at a time (only a chunk is
ever held) and handed to the driver nearly as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Table
from sqlmodel import Session

CHUNK_ROWS = 1000


def insert_rows(session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                *, chunk: int = CHUNK_ROWS) -> int:
    """Insert `rows` (tuples of values in `columns`' order) into `table` in the session's transaction, taking
    `chunk` rows of the iterable at a time; returns how many were written.

    A rollback of the session undoes them like any other write. Values are Python values of the columns'
    types (str, int, bool, None, datetime): PostgreSQL's COPY adapts them itself, SQLite gets them through
    the columns' own bind processors (a datetime stored as SQLAlchemy stores it).
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return _copy(connection, table, columns, rows, chunk)
    return _executemany(connection, table, columns, rows, chunk)


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _copy(connection: Any, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]],
          chunk: int) -> int:
    driver = connection.connection.driver_connection  # psycopg's connection, in the session's transaction
    names = ", ".join(f'"{name}"' for name in columns)
    written = 0
    with driver.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for part in _chunks(rows, chunk):
            for row in part:
                copy.write_row(row)
            written += len(part)
    return written


def _executemany(connection: Any, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                 chunk: int) -> int:
    dialect = connection.dialect
    processors: list[tuple[int, Callable[[Any], Any]]] = []
    for position, name in enumerate(columns):
        processor = table.c[name].type._cached_bind_processor(dialect)
        if processor is not None:
            processors.append((position, processor))
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
    written = 0
    process = _Processors(processors) if processors else None
    for part in _chunks(rows, chunk):
        if process is not None:
            part = [process(row) for row in part]
        connection.exec_driver_sql(statement, part)
        written += len(part)
    return written


class _Processors:
    """The columns' bind processors, each remembering its last value: an import's rows share their
    timestamps (one `now`), so each is formatted once rather than twice a row."""

    def __init__(self, processors: list[tuple[int, Callable[[Any], Any]]]) -> None:
        self._processors = processors
        self._last: dict[int, tuple[Any, Any]] = {}

    def __call__(self, row: Sequence[Any]) -> tuple[Any, ...]:
        values = list(row)
        last = self._last
        for position, processor in self._processors:
            value = values[position]
            if value is None:
                continue
            seen = last.get(position)
            if seen is not None and seen[0] is value:
                values[position] = seen[1]
            else:
                values[position] = processed = processor(value)
                last[position] = (value, processed)
        return tuple(values)
