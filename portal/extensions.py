"""Extension objects, created once and attached to the app in create_app()."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from flask import Flask, g
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import Engine, event, exc
from sqlmodel import Session, create_engine

import portal.ratelimit_storage  # noqa: F401 - registers the portaldb:// storage scheme with Flask-Limiter

# Connections each gunicorn worker may hold on PostgreSQL (README, "Deploying for real"). A sync worker serves
# one request at a time and holds one or two of the first pool (a request's session, now and then a second
# connection beside it) and one of the second; the rest is headroom for threaded workers and the CLI.
POOL_SIZE, POOL_OVERFLOW = 5, 10
AUTOCOMMIT_POOL_SIZE, AUTOCOMMIT_POOL_OVERFLOW = 2, 2


def make_engine(url: str) -> Engine:
    """An engine with the settings the portal relies on for either database."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            # WAL lets the progress pages read while the worker writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # psycopg prepares a statement on the server after its fifth run, and PostgreSQL may then keep a generic plan
    # made from the statistics of the moment: for the progress summary, planned while the tables were nearly
    # empty, that was a nested loop over every form of the province (tens of seconds once lists arrived). Each
    # statement is planned with its own values instead. Nothing is prepared on these connections, even a
    # statement marked `PREPARED`: see make_autocommit_engine.
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                           connect_args={"prepare_threshold": _PREPARE_ONLY_WHEN_ASKED})
    _ping_after_idle(engine)
    return engine


def make_autocommit_engine(url: str) -> Engine:
    """PostgreSQL: the engine of the requests that run without transactions (`Database.use_autocommit`), with
    its own small pool, the only one whose connections keep prepared statements (`PREPARED`).

    Its own pool, not the first one's connections switched to autocommit for a request: once psycopg has
    prepared a statement on a connection, every ROLLBACK there is followed by a DEALLOCATE ALL (its guard
    against dropped objects), one more round trip that also discards the kept plans, and staff requests end
    in ROLLBACK all the time. These connections never hold a transaction, so they never roll back (a
    rollback of an idle connection sends nothing), and the pool has nothing to reset when they come back.
    """
    engine = create_engine(url, pool_size=AUTOCOMMIT_POOL_SIZE, max_overflow=AUTOCOMMIT_POOL_OVERFLOW,
                           isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                           connect_args={"prepare_threshold": _PREPARE_ONLY_WHEN_ASKED,
                                         "cursor_factory": _cursor_described_on_demand()})
    _ping_after_idle(engine)
    _prepare_when_asked(engine)
    return engine


def _cursor_described_on_demand() -> type:
    """A psycopg cursor whose `description` makes its columns only when one is looked at.

    SQLAlchemy reads a result's description at every execution, but looks into it only the first time a
    statement runs (it keeps the result's shape with the compiled statement): psycopg made a Column per
    column each time all the same, which for the 56 columns of a respondent's visit was about 2% of the page.
    """
    import psycopg
    from psycopg.pq import ExecStatus

    described = psycopg.Cursor.description.fget
    with_rows = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)

    class Description(Sequence):
        """The columns of one result, made from it on first use (as psycopg would have made them)."""

        __slots__ = ("_cursor", "_result", "_columns")

        def __init__(self, cursor: psycopg.Cursor, result) -> None:
            self._cursor, self._result, self._columns = cursor, result, None

        def __len__(self) -> int:
            return self._result.nfields

        def __getitem__(self, index):
            if self._columns is None:
                # psycopg makes a column from the cursor's current result: still this one, or say so.
                if self._cursor.pgresult is not self._result:
                    raise RuntimeError("the cursor ran another statement since this description was taken")
                self._columns = described(self._cursor)
            return self._columns[index]

    class DescribedOnDemandCursor(psycopg.Cursor):
        @property
        def description(self):
            result = self.pgresult
            if result is None or not (result.nfields or result.status in with_rows):
                return None
            return Description(self, result)

    return DescribedOnDemandCursor


# A statement built with `.execution_options(**PREPARED)` is prepared on each connection of the autocommit
# engine at its first run there and its plan kept (PostgreSQL; SQLite ignores it, and so does the engine of
# requests with transactions). Only for statements whose every condition is an equality on a unique key or an
# index, whose plan the statistics cannot change: a respondent's visit was 1 to 3 ms of planning for 0.15 ms
# of execution. psycopg prepares nothing while its threshold is None, even when asked, so the threshold is
# one no statement reaches.
PREPARED = {"portal_prepared": True}
_PREPARE_ONLY_WHEN_ASKED = 2**62


def _prepare_when_asked(engine: Engine) -> None:
    @event.listens_for(engine, "do_execute")
    def _execute_prepared(cursor, statement, parameters, context) -> bool | None:
        if context.execution_options.get("portal_prepared"):
            cursor.execute(statement, parameters, prepare=True)
            return True
        return None


# A pooled PostgreSQL connection is checked (one round trip) when it has been idle this long.
PING_AFTER_IDLE_SECONDS = 10.0


def _server_spoke(dbapi_connection) -> bool:
    """Whether an idle connection's socket has something to read: nothing is expected on an idle connection,
    so it is the server's goodbye (a restart or pg_terminate_backend closes it) or a notice. A local check of
    the socket, no round trip."""
    try:
        # poll, not select: select refuses descriptors above 1023, which a busy worker's sockets can reach.
        watcher = select.poll()
        watcher.register(dbapi_connection.fileno(), select.POLLIN)
        return bool(watcher.poll(0))
    except Exception:  # noqa: BLE001 - a closed connection has no socket to look at: check it the long way
        return True


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before a request uses it, only when it sat idle PING_AFTER_IDLE_SECONDS or
    its server closed it meanwhile.

    pool_pre_ping checked every checkout: one round trip per request, a tenth of a respondent's page. A
    connection that served a request moments ago is almost always alive; one the server closed (a restart,
    an administrator ending sessions) has its socket readable, which is seen without asking the server, and
    one left idle long (a quiet night, a connection a firewall dropped silently) is pinged. Either is
    replaced, if dead, before the request sees it. What this gives up against a ping on every checkout: a
    connection broken without a word from the server (a network fault) in the seconds since its last use
    fails the request's first statement (the "unavailable" page), after which SQLAlchemy discards every
    connection the pool held and the next requests reconnect.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("idle_since")
        if since is None:  # just connected
            return
        if time.monotonic() - since < PING_AFTER_IDLE_SECONDS and not _server_spoke(dbapi_connection):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (a new one if need be).
            raise exc.DisconnectionError() from error


class Database:
    """The engines, and one session per request (or per app context in jobs and the CLI)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        # PostgreSQL only: the requests without transactions (use_autocommit), on a pool of their own.
        self.autocommit_engine: Engine | None = None

    def init_app(self, app: Flask) -> None:
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        self.engine = make_engine(url)
        self.autocommit_engine = make_autocommit_engine(url) if self.engine.dialect.name == "postgresql" else None
        app.extensions["portal_db"] = self
        app.teardown_appcontext(self._close_session)

    @property
    def engines(self) -> list[Engine]:
        """Every engine with a pool of its own (for tests that watch statements, and for dispose)."""
        return [engine for engine in (self.engine, self.autocommit_engine) if engine is not None]

    def dispose(self) -> None:
        """Close every pooled connection (a test's end, a process that forked)."""
        for engine in self.engines:
            engine.dispose()

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            assert self.engine is not None, "Database.init_app was not called"
            bind = self.autocommit_engine if g.get("db_autocommit") else self.engine
            g.db_session = Session(bind, expire_on_commit=False)
        return g.db_session

    def use_autocommit(self) -> bool:
        """Let this request's session send each statement on its own, without BEGIN and COMMIT.

        PostgreSQL only (SQLite's transactions cost no round trip), and only for requests whose every write
        is one statement, atomic by itself (a respondent's page and draft save; the polls that only read,
        polling.READ_ONLY_POLLS): BEGIN and COMMIT were two of a page's five round trips. The session then
        uses the autocommit engine's pool, where the statements marked PREPARED keep their plans. Called
        before the request's session is first used; returns whether the request runs so.
        """
        assert self.engine is not None, "Database.init_app was not called"
        if self.autocommit_engine is None or "db_session" in g:
            return False
        g.db_autocommit = True
        return True

    def commit(self) -> None:
        """Commit the request's session; nothing to do in a request that runs without transactions
        (`use_autocommit`), whose every statement the server committed as it ran (SQLAlchemy's commit of
        that empty transaction was about 4% of a respondent's page)."""
        if g.get("db_autocommit"):
            return
        self.session.commit()

    @contextmanager
    def new_session(self) -> Iterator[Session]:
        assert self.engine is not None
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        # One app context may serve several requests (tests, the CLI's test client): the next one starts in
        # a transaction again.
        g.pop("db_autocommit", None)
        if session is not None:
            session.close()


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
compress = Compress()
mail = Mail()
htmx = Htmx()
