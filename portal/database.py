"""Creating and upgrading the schema with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, inspect

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade_schema(engine: Engine, file_dirs: dict[str, str] | None = None) -> None:
    """Bring the schema to the newest migration (creates it on an empty database).

    `file_dirs` (config.file_dirs(): the files folder and the two earlier ones) tells the
    migrations that move uploaded files where they are; without it they read the environment.
    """
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    if file_dirs is not None:
        cfg.attributes["file_dirs"] = file_dirs
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
        return
    # SQLite alters a table by rebuilding it (copy, drop, rename), and with foreign keys on, dropping a table that
    # other rows point at fails: a database holding lists could not be upgraded. SQLite's own recipe: foreign keys
    # off for the upgrade (the pragma only takes effect outside a transaction), every reference checked before the
    # commit, on again after.
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "head")
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"The upgrade would leave rows pointing at nothing: {broken[:5]}")
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def has_schema(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")
