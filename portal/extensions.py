"""Extension objects, created once and attached to the app in create_app()."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, g
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

import portal.ratelimit_storage  # noqa: F401 - registers the portaldb:// storage scheme with Flask-Limiter


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
    # statement is planned with its own values instead; the portal's statements are cheap to plan.
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         connect_args={"prepare_threshold": None})


class Database:
    """The engine, and one session per request (or per app context in jobs and the CLI)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        app.extensions["portal_db"] = self
        app.teardown_appcontext(self._close_session)

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            assert self.engine is not None, "Database.init_app was not called"
            g.db_session = Session(self.engine, expire_on_commit=False)
        return g.db_session

    @contextmanager
    def new_session(self) -> Iterator[Session]:
        assert self.engine is not None
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
compress = Compress()
mail = Mail()
htmx = Htmx()
