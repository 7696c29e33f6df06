"""Fixtures: the app on SQLite and on PostgreSQL, a client, and users of every role.

Every test that uses `app` runs once per database backend. PostgreSQL comes from
PORTAL_TEST_DATABASE_URL (a server URL whose user may create databases) or, when
that is unset, from a throwaway cluster started for the run. With CI set, a
PostgreSQL that cannot be started fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Config reads the environment when the app is built; keep test runs out of the developer's instance/.
# Each pytest-xdist worker gets a folder of its own (workers inherit the environment of the process that started
# them, so the folder that process made would otherwise be shared), unless the developer named one.
if "PORTAL_INSTANCE_DIR" not in os.environ or os.environ.get("CCHC_TEST_INSTANCE_MADE") == "1":
    os.environ["PORTAL_INSTANCE_DIR"] = tempfile.mkdtemp(
        prefix=f"cchc-instance-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-")
    os.environ["CCHC_TEST_INSTANCE_MADE"] = "1"
os.environ.setdefault("PORTAL_PASSWORD_TIME_COST", "1")
os.environ.setdefault("PORTAL_PASSWORD_MEMORY_KIB", "8")

from sqlmodel import Session  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Role, User  # noqa: E402
from tests.support.accounts import HA_NOI, HAI_PHONG, make_user  # noqa: E402
from tests.support.ci import skip_unless_ci  # noqa: E402
from tests.support.database import (  # noqa: E402
    PreparedDatabase,
    create_postgres_database,
    drop_postgres_database,
)
from tests.support.smtp import SmtpSink  # noqa: E402
from tests.support.survey import DURING_SURVEY  # noqa: E402

BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", default=",".join(BACKENDS),
                     help="comma-separated database backends to run the app tests on (sqlite,postgresql)")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
        return
    from tests.support.pgcluster import ClusterUnavailable, start_cluster

    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        skip_unless_ci(f"PostgreSQL unavailable: {exc}")
    try:
        yield cluster.url
    finally:
        cluster.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        chosen = [b.strip() for b in metafunc.config.getoption("--db").split(",") if b.strip()]
        metafunc.parametrize("database", chosen, indirect=True, scope="session")


@pytest.fixture(scope="session")
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreparedDatabase]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "portal.sqlite3"
        prepared = PreparedDatabase(f"sqlite:///{path}")
        yield prepared
        prepared.dispose()
        return
    server = request.getfixturevalue("postgres_server")
    url = create_postgres_database(server)
    prepared = PreparedDatabase(url)
    yield prepared
    prepared.dispose()
    drop_postgres_database(server, url)


@pytest.fixture
def app_config(database: PreparedDatabase) -> dict:
    """Overrides for the app under test; a test may change them before asking for `app`."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database.url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "PORTAL_BASE_URL": "http://localhost",
        "SERVER_NAME": None,
    }


@pytest.fixture
def app(app_config: dict, database: PreparedDatabase):
    # No app context stays pushed during the test: each client request must get its own, as in
    # production (otherwise `g`, and with it the logged-in user and the db session, would leak
    # from one request to the next). Tests that need one use `app_ctx`.
    application = create_app(app_config)
    yield application
    db.dispose()
    database.reset()


@pytest.fixture
def app_ctx(app):
    with app.app_context() as ctx:
        yield ctx


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def csrf_client(app_config, request):
    """A client of an app that checks CSRF tokens, as in production (get a token with support.html.csrf_token)."""
    app_config["WTF_CSRF_ENABLED"] = True
    return request.getfixturevalue("client")


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app) -> Iterator[Session]:
    with db.new_session() as s:
        yield s


@pytest.fixture
def ministry_user(session) -> User:
    return make_user(session, "bonoivu", Role.MINISTRY)


@pytest.fixture
def province_user(session) -> User:
    return make_user(session, "ha-noi", Role.PROVINCE, HA_NOI)


@pytest.fixture
def it_focal_user(session) -> User:
    return make_user(session, "ha-noi-cntt", Role.IT_FOCAL, HA_NOI)


@pytest.fixture
def other_province_user(session) -> User:
    return make_user(session, "hai-phong", Role.PROVINCE, HAI_PHONG)


@pytest.fixture
def other_it_focal_user(session) -> User:
    return make_user(session, "hai-phong-cntt", Role.IT_FOCAL, HAI_PHONG)


@pytest.fixture
def clock(time_machine):
    """The clock frozen on a morning of the 2021 survey (01/02/2022 09:00, giờ Việt Nam); move it with move_to."""
    time_machine.move_to(DURING_SURVEY, tick=False)
    return time_machine


@pytest.fixture
def during_survey(clock):
    return clock


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback (tests/support/smtp.py); point the app at it with `mail_config(sink)`."""
    with SmtpSink() as running:
        yield running


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(os.environ.get("PORTAL_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
