"""The floor under bench_list_import.py's memory figure: the fixed stack alone reading the list, in a fresh process.

    python bench/read_once.py DATABASE_URL FILE

Imports the libraries the portal is built on (Flask and its extensions, SQLAlchemy's ORM, SQLModel, the
database driver, python-calamine), none of the portal's own code, opens one connection, and reads every cell
of the file with python-calamine as the portal does (row by row). Prints JSON: the peak resident set before
and after the reading. No upload can peak below this; the portal's figure is this plus its own code and work.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import flask  # noqa: F401
import flask_login  # noqa: F401
import flask_mail  # noqa: F401
import flask_wtf  # noqa: F401
import python_calamine
import sqlmodel  # noqa: F401
from harness import peak_rss_mb
from sqlalchemy import create_engine, text


def main(url: str, path: Path) -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    before = peak_rss_mb()
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    cells = sum(len(row) for row in workbook.get_sheet_by_index(0).iter_rows())
    assert cells > 0
    print(json.dumps({"before": before, "after": peak_rss_mb()}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
