"""A Flask-Limiter storage in the portal's own database: `RATELIMIT_STORAGE_URI=portaldb://` (the default).

Memory storage counts per gunicorn worker, so four workers turn a limit of 30 into about 120, and a
limit meant to stop link guessing stops nothing. Every deployment of the portal already has a database
that all its workers (and, on PostgreSQL, all its servers) share, so the counters live there, in the
`ratelimitcounter` table, without another service to run. Each hit is one atomic UPSERT (INSERT … ON
CONFLICT DO UPDATE … RETURNING, on SQLite 3.35+ and PostgreSQL alike) in its own short transaction,
apart from the request's session, so a count holds whatever the request does next. A Redis or
Memcached URI in RATELIMIT_STORAGE_URI still replaces it.

Only the fixed-window strategy is supported (Flask-Limiter's default, the one the portal uses).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from flask import has_request_context
from limits.storage import Storage
from sqlalchemy import Engine, bindparam, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from portal.models import RateLimitCounter

_TABLE = RateLimitCounter.__table__


def current_count():
    """A counter's count while its window lasts (no row: none), its key and the time (time.time()) given as
    the parameters `counter_key` and `now`: built once here, and read inside a respondent's visit statement
    (portal/domain/answers.py)."""
    return select(_TABLE.c.count).where(_TABLE.c.key == bindparam("counter_key"),
                                        _TABLE.c.expires_at > bindparam("now"))


# Built once: a respondent's every page reads its address's counter.
_CURRENT_COUNT = current_count()
# Every this many hits a worker deletes the counters whose window ended long ago.
_PURGE_EVERY = 500


class PortalDatabaseStorage(Storage):
    """Fixed-window counters in the `ratelimitcounter` table of the portal's database."""

    STORAGE_SCHEME = ["portaldb"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._hits = itertools.count(1)

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    @staticmethod
    def _engine() -> Engine:
        # The engine of the app being served: the storage is built before a request needs it.
        from portal.extensions import db

        assert db.engine is not None, "the database is attached before the limiter is used"
        return db.engine

    def incr(self, key: str, expiry: int | float, amount: int = 1) -> int:
        now = time.time()
        engine = self._engine()
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        expired = _TABLE.c.expires_at <= now
        statement = insert(_TABLE).values(key=key, count=amount, expires_at=now + expiry).on_conflict_do_update(
            index_elements=[_TABLE.c.key],
            set_={"count": case((expired, amount), else_=_TABLE.c.count + amount),
                  "expires_at": case((expired, now + expiry), else_=_TABLE.c.expires_at)},
        ).returning(_TABLE.c.count)
        with engine.begin() as connection:
            count = connection.execute(statement).scalar_one()
            if next(self._hits) % _PURGE_EVERY == 0:
                connection.execute(delete(_TABLE).where(_TABLE.c.expires_at < now - 3600))
        return int(count)

    def get(self, key: str) -> int:
        values = {"counter_key": key, "now": time.time()}
        if has_request_context():
            # Every respondent's page asks this before anything else: read on the connection the request's
            # session takes anyway (no second checkout, and on PostgreSQL no second liveness ping). A read
            # needs no transaction of its own; the counting (incr) keeps its own.
            from portal.extensions import db

            count = db.session.connection().execute(_CURRENT_COUNT, values).scalar()
        else:
            with self._engine().connect() as connection:
                count = connection.execute(_CURRENT_COUNT, values).scalar()
        return int(count or 0)

    def get_expiry(self, key: str) -> float:
        with self._engine().connect() as connection:
            expires = connection.execute(select(_TABLE.c.expires_at).where(_TABLE.c.key == key)).scalar()
        return float(expires) if expires and expires > time.time() else time.time()

    def check(self) -> bool:
        try:
            with self._engine().connect() as connection:
                connection.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self._engine().begin() as connection:
            return connection.execute(delete(_TABLE)).rowcount

    def clear(self, key: str) -> None:
        with self._engine().begin() as connection:
            connection.execute(delete(_TABLE).where(_TABLE.c.key == key))
