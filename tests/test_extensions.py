"""The engine's pool (portal/extensions.py): a PostgreSQL connection is checked only after it sat idle, and a
dead one is replaced before a request sees it; the respondent's requests run without transactions."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, event, insert, literal_column, select, text

from portal import extensions
from portal.extensions import make_autocommit_engine, make_engine
from portal.models import RateLimitCounter


@pytest.fixture
def pg_engine(database) -> Engine:
    if not database.url.startswith("postgresql"):
        pytest.skip("SQLite connections are files in the process: nothing to ping")
    engine = make_engine(database.url)
    yield engine
    engine.dispose()


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def _pings(engine: Engine) -> list[bool]:
    """Every liveness check the pool makes (the dialect's ping is not sent through a cursor event)."""
    pings: list[bool] = []
    original = engine.dialect.do_ping

    def counted(dbapi_connection) -> bool:
        pings.append(True)
        return original(dbapi_connection)

    engine.dialect.do_ping = counted
    return pings


def test_a_connection_used_moments_ago_is_not_pinged(pg_engine):
    pings = _pings(pg_engine)
    for _ in range(3):
        with pg_engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    assert pings == []


def test_a_connection_idle_past_the_limit_is_pinged_once_on_checkout(pg_engine, monkeypatch):
    with pg_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    pings = _pings(pg_engine)
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE_SECONDS", 0.0)
    with pg_engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    assert pings == [True]


def test_a_connection_the_server_closed_moments_ago_is_replaced_before_the_request_uses_it(pg_engine):
    """A restart, or an administrator ending sessions: the server says goodbye on the socket, which the pool
    sees without a round trip, well before the connection is PING_AFTER_IDLE_SECONDS idle."""
    with pg_engine.connect() as connection:
        dead = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        pooled = connection.connection.dbapi_connection
    admin_engine = make_engine(pg_engine.url.render_as_string(hide_password=False))
    with admin_engine.connect() as admin:
        assert admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": dead}).scalar() is True
        admin.commit()
    admin_engine.dispose()
    deadline = time.monotonic() + 5
    while not extensions._server_spoke(pooled) and time.monotonic() < deadline:
        time.sleep(0.01)
    statements = _statements(pg_engine)

    with pg_engine.connect() as connection:  # no error: the ping found it dead, the pool opened another
        alive = connection.execute(text("SELECT pg_backend_pid()")).scalar()

    assert alive != dead
    assert statements == ["SELECT pg_backend_pid()"]


def test_a_connection_idle_past_the_limit_that_died_silently_is_replaced(pg_engine, monkeypatch):
    with pg_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    monkeypatch.setattr(extensions, "_server_spoke", lambda _connection: False)  # as if a firewall dropped it
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE_SECONDS", 0.0)
    monkeypatch.setattr(pg_engine.dialect, "do_ping", _failing_ping(pg_engine))
    with pg_engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


def _failing_ping(engine: Engine):
    """A ping that finds the first connection it checks dead (closing it, as the network would have)."""
    failed: list[bool] = []
    original = engine.dialect.do_ping

    def ping(dbapi_connection) -> bool:
        if not failed:
            failed.append(True)
            dbapi_connection.close()
        return original(dbapi_connection)

    return ping


def test_use_autocommit_sends_no_begin_or_commit(app, session):
    """Only on PostgreSQL, and only before the request's session exists (its transaction is already open)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    with app.test_request_context():
        assert extensions.db.use_autocommit() is postgres
        connection = extensions.db.session.connection()
        if postgres:
            assert connection.engine is extensions.db.autocommit_engine
            assert connection.connection.dbapi_connection.autocommit is True
    with app.test_request_context():
        extensions.db.session.connection()
        assert extensions.db.use_autocommit() is False
        assert extensions.db.session.connection().engine is extensions.db.engine
    with extensions.db.engine.connect() as connection:
        assert not postgres or connection.connection.dbapi_connection.autocommit is False


def test_requests_without_transactions_never_share_a_connection_with_requests_in_one(app, session):
    """Two pools on PostgreSQL: the connections where statements are prepared never see a ROLLBACK (psycopg
    would follow it with DEALLOCATE ALL), and staff transactions never run on a connection in autocommit."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("one SQLite pool: its transactions cost no round trip")
    with app.test_request_context():
        extensions.db.use_autocommit()
        without = extensions.db.session.connection().connection.dbapi_connection
    with app.test_request_context():
        within = extensions.db.session.connection().connection.dbapi_connection
    assert without is not within
    assert extensions.db.engines == [extensions.db.engine, extensions.db.autocommit_engine]
    assert extensions.db.engine.pool is not extensions.db.autocommit_engine.pool


@pytest.mark.parametrize("autocommit", [False, True], ids=["in a transaction", "without transactions"])
def test_db_commit_keeps_the_requests_write_with_or_without_a_transaction(app, session, autocommit):
    """db.commit() commits a request's transaction; in a request without transactions (PostgreSQL) the server
    committed the write as it ran, and db.commit() has nothing to do. Seen from another connection after the
    request's session is closed (which rolls back whatever was not committed)."""
    table = RateLimitCounter.__table__
    with app.test_request_context():
        if autocommit:
            extensions.db.use_autocommit()
        extensions.db.session.connection().execute(insert(table).values(key="commit-test", count=3, expires_at=1.0))
        extensions.db.commit()
    with extensions.db.engine.connect() as connection:
        assert connection.execute(select(table.c.count).where(table.c.key == "commit-test")).scalar() == 3


def test_only_a_statement_marked_prepared_keeps_its_plan_on_the_server(database):
    """Everything else is planned with its own values at each run (make_engine: no generic plans from the
    statistics of the moment), however often it runs; and nothing is prepared on the engine of transactions,
    even a statement marked so, since its connections roll back."""
    if not database.url.startswith("postgresql"):
        pytest.skip("SQLite prepares nothing on a server")
    marked = select(literal_column("1").label("marked")).execution_options(**extensions.PREPARED)
    plain = select(literal_column("2").label("plain"))
    kept = {}
    for name, engine in (("autocommit", make_autocommit_engine(database.url)), ("transactions",
                                                                            make_engine(database.url))):
        with engine.connect() as connection:
            for _ in range(8):
                assert connection.execute(marked).scalar() == 1
                assert connection.execute(plain).scalar() == 2
            kept[name] = connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
        engine.dispose()
    assert len(kept["autocommit"]) == 1 and "marked" in kept["autocommit"][0], kept
    assert kept["transactions"] == [], kept


def test_a_result_description_makes_its_columns_only_when_looked_at(database, monkeypatch):
    """SQLAlchemy reads a statement's description at each run but looks into it only at the first (it keeps the
    result's shape): the autocommit engine's cursors make no psycopg Column for the later runs, and give the
    same columns as psycopg when asked."""
    if not database.url.startswith("postgresql"):
        pytest.skip("a psycopg cursor")
    import psycopg

    made: list[int] = []
    original = psycopg.Column.__init__

    def counted(self, cursor, index) -> None:
        made.append(index)
        original(self, cursor, index)

    monkeypatch.setattr(psycopg.Column, "__init__", counted)
    statement = select(literal_column("1").label("one"), literal_column("'two'").label("two"))
    engine = make_autocommit_engine(database.url)
    try:
        with engine.connect() as connection:
            made.clear()  # the dialect's own queries on a first connection
            first = connection.execute(statement).one()
            made_first = list(made)
            again = connection.execute(statement).one()
            made_again = list(made)
            cursor = connection.connection.dbapi_connection.cursor()
            cursor.execute("SELECT 1 AS one, 'two' AS two")
            names = [column.name for column in cursor.description]
            cursor.execute("SELECT 1 WHERE false")
            assert cursor.description is not None and len(cursor.description) == 1  # no rows, a shape
            cursor.execute("SET search_path TO public")
            assert cursor.description is None  # no rows at all
    finally:
        engine.dispose()
    assert first._mapping == again._mapping == {"one": 1, "two": "two"}
    assert made_first == made_again == [0, 1], made  # the second run made none
    assert made[2:] == [0, 1], made  # asked for, they are made
    assert names == ["one", "two"]
