"""Test databases: created once per backend, emptied of everything but reference data after each test."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, create_engine, delete, func, select, text, update
from sqlmodel import Session, SQLModel
from sqlmodel import select as sqlmodel_select

from portal.database import upgrade_schema
from portal.domain.reference import load_reference_data
from portal.extensions import make_engine
from portal.models import Campaign


def running_2021(session: Session) -> Campaign:
    """Turn the seeded 2021 template into the current campaign, with its own dates (2021-2022)."""
    campaign = session.exec(sqlmodel_select(Campaign).where(Campaign.year == 2021, Campaign.is_demo == False)).one()  # noqa: E712
    campaign.is_template = False
    campaign.name = "Xác định Chỉ số CCHC năm 2021"
    campaign.is_current = True
    session.add(campaign)
    session.commit()
    return campaign

REFERENCE_TABLES = ("campaign", "campaignprovince", "campaignministry", "province", "district", "ministry",
                    "departmenttype", "department", "respondentgroup", "positiontitle")
# Reference rows the portal's own pages edit (the ministry's groups, positions, ministries and departments pages;
# a province adding a department): a test that edits them must not leave the next test another campaign.
EDITABLE_REFERENCE_TABLES = ("ministry", "campaignministry", "department", "respondentgroup", "positiontitle")


def create_postgres_database(server_url: str) -> str:
    """A fresh database on the server; returns its URL."""
    name = f"cchc_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(server_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def count_rows(session: Session, model, *conditions) -> int:
    """How many rows of `model` match the conditions, as committed now (the session's cache is dropped first)."""
    from sqlmodel import select as select_rows

    session.expire_all()
    return session.exec(select_rows(func.count()).select_from(model).where(*conditions)).one()


def _rows(connection, name: str) -> list[tuple]:
    """Every row of a table as the driver gives it (no type processing: this runs after every test), by id."""
    return [tuple(row) for row in connection.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY id').fetchall()]


def _columns(connection, name: str) -> list[str]:
    return list(connection.exec_driver_sql(f'SELECT * FROM "{name}" WHERE 1 = 0').keys())


class PreparedDatabase:
    """A migrated database with reference data, and the row ids that belong to that baseline."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        upgrade_schema(self.engine)
        with Session(self.engine) as session:
            load_reference_data(session)
            # The suite's baseline: the 2021 campaign running, as the ministry would have opened it (a fresh
            # install holds it as a template only; tests/test_fresh_install.py covers that path).
            running_2021(session)
        self.baseline: dict[str, int] = {}
        campaign = SQLModel.metadata.tables["campaign"]
        with self.engine.connect() as connection:
            # Tests may edit the seeded campaign (deadlines, name, references): all of it is put back.
            self.campaigns = [dict(row._mapping) for row in connection.execute(select(campaign))]
            for name in REFERENCE_TABLES:
                table = SQLModel.metadata.tables[name]
                self.baseline[name] = connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
            self.editable: dict[str, list[tuple]] = {name: _rows(connection, name)
                                                     for name in EDITABLE_REFERENCE_TABLES}
            self.editable_columns = {name: _columns(connection, name) for name in EDITABLE_REFERENCE_TABLES}
        # What the seeding itself wrote beyond the baseline (the sample framework's audit entry) goes now, as it
        # goes after every test: the first test of a worker sees the same database as the others.
        self.reset()

    def reset(self) -> None:
        """Remove every row a test added; put the seeded campaign back exactly as it was."""
        campaign = SQLModel.metadata.tables["campaign"]
        with self.engine.begin() as connection:
            for table in reversed(SQLModel.metadata.sorted_tables):
                if table.name in self.baseline:
                    connection.execute(delete(table).where(table.c.id > self.baseline[table.name]))
                else:
                    connection.execute(delete(table))
            for row in self.campaigns:
                connection.execute(update(campaign).where(campaign.c.id == row["id"]).values(**row))
            self._restore_edited_reference_rows(connection)

    def _restore_edited_reference_rows(self, connection) -> None:
        """Put back the seeded rows a test changed, deleted or re-ordered. Ministries (which other reference rows
        point at) are updated in place; the other editable tables, whose rows point at each other, are emptied
        (children first) and filled again (parents first) when any of them differs. Rows are compared as plain
        tuples: this runs after every test."""
        ministry = SQLModel.metadata.tables["ministry"]
        if _rows(connection, "ministry") != self.editable["ministry"]:
            current = {row[0]: row for row in _rows(connection, "ministry")}
            for row in self.editable["ministry"]:
                values = dict(zip(self.editable_columns["ministry"], row, strict=True))
                if row[0] not in current:
                    connection.execute(ministry.insert().values(**values))
                elif current[row[0]] != row:
                    connection.execute(update(ministry).where(ministry.c.id == row[0]).values(**values))
        tables = [t for t in SQLModel.metadata.sorted_tables if t.name in self.editable and t.name != "ministry"]
        if all(_rows(connection, t.name) == self.editable[t.name] for t in tables):
            return
        for table in reversed(tables):
            connection.execute(delete(table))
        for table in tables:
            if self.editable[table.name]:
                keys = self.editable_columns[table.name]
                connection.execute(table.insert(), [dict(zip(keys, row, strict=True))
                                                    for row in self.editable[table.name]])

    def dispose(self) -> None:
        self.engine.dispose()
