"""Writing many rows of one table at once, in the session's transaction: PostgreSQL's COPY, SQLite's executemany.

An import writes up to 20,000 rows. Through SQLAlchemy's insert each row's parameters are compiled, processed
and held for the whole statement; here the rows are taken from an iterable a chunk at a time (only a chunk is
ever held) and handed to the driver nearly as they are.

On PostgreSQL the statements go to the server from a thread of their own (`writing`), so that the server's
work overlaps the Python that reads and checks the next rows: a COPY's foreign keys are checked by triggers
that run when the statement ends (20,000 rows: four checks each, a third of a second), and the old draft's
DELETE checks the rows that could refer to each deleted one. One COPY per chunk, each ended while the next
chunk is being read, leaves only the last chunk's checks to wait for. On SQLite, which runs inside the
process, the statements simply run as they come.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, Protocol

from sqlalchemy import Executable, Table
from sqlmodel import Session

CHUNK_ROWS = 1000
# Chunks read ahead of the server: enough to keep it busy, few enough that memory stays a few chunks' worth.
_QUEUED_CHUNKS = 2


def insert_rows(session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                *, chunk: int = CHUNK_ROWS) -> int:
    """Insert `rows` (tuples of values in `columns`' order) into `table` in the session's transaction, taking
    `chunk` rows of the iterable at a time; returns how many were written.

    A rollback of the session undoes them like any other write. Values are Python values of the columns'
    types (str, int, bool, None, datetime): PostgreSQL's COPY adapts them itself, SQLite gets them through
    the columns' own bind processors (a datetime stored as SQLAlchemy stores it).
    """
    with writing(session) as writer:
        return writer.insert(table, columns, rows, chunk=chunk)


class Writer(Protocol):
    """Statements and rows written in the session's transaction, in the order given (see `writing`)."""

    def execute(self, statement: Executable) -> None:
        """Run `statement` (a DELETE, an UPDATE: nothing that returns rows) before what comes next."""

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
               chunk: int = CHUNK_ROWS) -> int:
        """Insert `rows`, as `insert_rows` says; returns how many were given."""


@contextmanager
def writing(session: Session) -> Iterator[Writer]:
    """A writer for statements and bulk rows in the session's transaction, finished when the block ends.

    On PostgreSQL they run on a thread of their own while the block goes on; the block must not use the
    session until it ends (the connection is the writer's). The block's end waits for the last statement, and
    raises the first error the server gave. An error in the block stops the writer (what is queued is dropped,
    a chunk's COPY under way ends) and is raised as it was: the caller rolls the session back, as after any
    failed write.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        yield _DirectWriter(connection)
        return
    writer = _ThreadWriter(connection)
    try:
        yield writer
    except BaseException:
        writer.abandon()
        raise
    writer.finish()


class _DirectWriter:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, statement: Executable) -> None:
        self._connection.execute(statement)

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
               chunk: int = CHUNK_ROWS) -> int:
        return _executemany(self._connection, table, columns, rows, chunk)


class _ThreadWriter:
    """PostgreSQL: the jobs go through a short queue to a thread that owns the driver's connection."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._driver = connection.connection.driver_connection  # psycopg's, in the session's transaction
        self._formatting = self._driver.cursor()  # its adapters format the rows; it never runs a statement
        self._jobs: queue.Queue[Callable[[Any], None] | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)
        self._stopping = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="bulk-rows", daemon=True)
        self._thread.start()

    def execute(self, statement: Executable) -> None:
        # Through SQLAlchemy's connection, in the writer's thread: the block's thread leaves it alone meanwhile.
        self._put(lambda _cursor: self._connection.execute(statement))

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
               chunk: int = CHUNK_ROWS) -> int:
        from psycopg import Copy  # only PostgreSQL's writer needs the driver
        from psycopg.copy import FileWriter

        names = ", ".join(f'"{name}"' for name in columns)
        copy_sql = f'COPY "{table.name}" ({names}) FROM STDIN'
        written = 0
        for part in _chunks(rows, chunk):
            # Formatted here, sent there: the thread then needs Python's interpreter lock only to hand the
            # bytes over, not a thousand times a chunk while this thread checks the next rows.
            data = io.BytesIO()
            with Copy(self._formatting, binary=False, writer=FileWriter(data)) as formatter:
                for row in part:
                    formatter.write_row(row)

            def copy(cursor: Any, data: bytes = data.getvalue()) -> None:
                with cursor.copy(copy_sql) as copy:
                    copy.write(data)
            self._put(copy)
            written += len(part)
        return written

    def _put(self, job: Callable[[Any], None] | None) -> None:
        while True:
            self._raise_failure()
            try:
                self._jobs.put(job, timeout=0.05)
                return
            except queue.Full:
                continue

    def _raise_failure(self) -> None:
        if self._failure is not None:
            self._thread.join()
            raise self._failure

    def _work(self) -> None:
        try:
            with self._driver.cursor() as cursor:
                while (job := self._jobs.get()) is not None:
                    if not self._stopping.is_set():
                        job(cursor)
        except BaseException as failure:  # noqa: BLE001 - handed to the block's thread, raised there
            self._stopping.set()
            self._failure = failure  # the block's next put (or its end) raises it

    def finish(self) -> None:
        """Wait for every job; raise the first failure."""
        self._put(None)
        self._thread.join()
        self._raise_failure()

    def abandon(self) -> None:
        """The block failed: drop what is queued and wait for the thread; nothing is raised from here."""
        self._stopping.set()
        while self._thread.is_alive():
            try:
                self._jobs.put(None, timeout=0.05)
                break
            except queue.Full:
                continue
        self._thread.join()


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


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
