"""Alembic environment: the portal's tables, on the database the portal is configured for."""

from alembic import context
from sqlmodel import SQLModel

import portal.models  # noqa: F401 - registers the tables on SQLModel.metadata
from portal.extensions import make_engine

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    from config import Config

    return Config().SQLALCHEMY_DATABASE_URI


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    # Batch mode lets SQLite alter tables (it recreates them), and is a no-op on PostgreSQL.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
