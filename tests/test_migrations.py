"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text
from sqlmodel import SQLModel

from portal.database import alembic_config, upgrade_schema
from portal.extensions import db, make_engine
from tests.support.database import create_postgres_database, drop_postgres_database


def test_the_alembic_head_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
        differences = compare_metadata(context, SQLModel.metadata)

    assert differences == [], "write a migration: alembic revision --autogenerate -m '...'"


def test_the_test_database_is_at_the_newest_migration(app):
    head = ScriptDirectory.from_config(alembic_config(app.config["SQLALCHEMY_DATABASE_URI"])).get_current_head()

    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()

    assert current == head


def test_there_is_one_line_of_migrations(app):
    heads = ScriptDirectory.from_config(alembic_config(app.config["SQLALCHEMY_DATABASE_URI"])).get_heads()

    assert len(heads) == 1, f"merge the migration heads: {heads}"


@pytest.fixture
def empty_database_url(app_config, request, tmp_path):
    if app_config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = create_postgres_database(server)
    yield url
    drop_postgres_database(server, url)


def test_every_migration_downgrades_and_upgrades_again(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        upgrade_schema(engine)
        cfg = alembic_config(empty_database_url)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        upgrade_schema(engine)

        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_the_outbox_claim_migration_masks_the_links_rows_stored_before_it_hold(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        cfg = alembic_config(empty_database_url)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "campaigns_as_data")
            connection.execute(text(
                "INSERT INTO outboxmessage (kind, to_addr, subject, body_text, body_html, bounce_token, message_id,"
                " status, attempts, next_attempt_at, claimed_by, last_reply, queued_at, updated_at) VALUES"
                " ('invitation', 'a@hanoi.gov.vn', 'S', 'Mở https://x.vn/phieu/12.AbC_d-9xYz.\n',"
                " '<a href=\"https://x.vn/phieu/12.AbC_d-9xYz\">mở</a>', 't', '<m@x>', 'sent', 1,"
                " CURRENT_TIMESTAMP, '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        upgrade_schema(engine)

        with engine.connect() as connection:
            text_body, html_body = connection.execute(text("SELECT body_text, body_html FROM outboxmessage")).one()
        assert text_body == "Mở https://x.vn/phieu/12.••••.\n"
        assert html_body == '<a href="https://x.vn/phieu/12.••••">mở</a>'
    finally:
        engine.dispose()


def _one_row_in_every_table(connection) -> None:
    """A row in every table of the schema as it is (reflected), each reference pointing at the row of its table."""
    schema = MetaData()
    schema.reflect(bind=connection)
    for table in schema.sorted_tables:
        if table.name == "alembic_version":
            continue
        row = {}
        for column in table.columns:
            if column.foreign_keys or column.primary_key:
                row[column.name] = 1
            elif column.nullable or column.server_default is not None:
                continue
            else:
                python_type = column.type.python_type
                row[column.name] = {int: 1, bool: False, str: "[]", float: 1.0}.get(python_type)  # "[]": JSON too
                if row[column.name] is None:
                    row[column.name] = datetime(2024, 1, 1, tzinfo=UTC)
        connection.execute(table.insert().values(**row))


def test_a_database_holding_lists_upgrades_through_the_table_rebuilds(empty_database_url):
    """SQLite rebuilds a table to alter it; rows pointing at the rebuilt table must not stop the upgrade."""
    engine = make_engine(empty_database_url)
    try:
        cfg = alembic_config(empty_database_url)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            # Before the migrations that rebuild department (list_corrections) and district (campaign_maps).
            command.upgrade(cfg, "outbox_lease")
            _one_row_in_every_table(connection)

        upgrade_schema(engine)

        with engine.connect() as connection:
            assert connection.execute(text("SELECT department_id, district_id FROM respondent")).one() == (1, 1)
            # A form takes its invitation's campaign (formprogress_campaign).
            assert connection.execute(text("SELECT campaign_id FROM formprogress")).scalar_one() == 1
            if engine.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
