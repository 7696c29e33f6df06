"""Importing a 5,000-row respondent list against merely reading it, in one run.

    python bench/bench_list_import.py            # 5,000 rows
    python bench/bench_list_import.py -n 20000   # the most a file may hold

The file: a realistic .xlsx for Hà Nội written with openpyxl (council deputies, department and district
leaders, division leaders; Hà Nội's real departments and districts), with a few rows in error and a council
deputy also listed as a department leader.

(a) python-calamine alone: open the workbook, iterate every row of the list sheet.
(b) the whole import through the upload route: a Flask test client, logged in as Hà Nội's province account,
    POSTs the file to /khao-sat/danh-sach/tai-len; the portal checks the zip, reads it, checks every row,
    merges duplicates and replaces the draft in the database (SQLite in a temporary folder, migrated and seeded
    as `flask portal init-db` does).

Best of 3 for each. Then one more upload under tracemalloc for the peak of Python allocations during the
request, and one in a forked process for the growth of its peak resident set (ru_maxrss starts there from the
resident set at the fork; in this process it holds the peak of start-up, which is higher than an upload's).
The import must stay under 200 MB. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_SCRATCH = tempfile.mkdtemp(prefix="cchc-bench-lists-")
os.environ["PORTAL_INSTANCE_DIR"] = _SCRATCH  # before config is read: keep the developer's instance/ untouched
os.environ.setdefault("PORTAL_PASSWORD_TIME_COST", "1")
os.environ.setdefault("PORTAL_PASSWORD_MEMORY_KIB", "8")

import python_calamine  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.domain import accounts  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Campaign, Respondent, Role  # noqa: E402
from tests.support.database import PreparedDatabase  # noqa: E402
from tests.support.respondent_files import GROUP_1, realistic_rows, xlsx_bytes  # noqa: E402

HA_NOI = 1
LIMIT_MB = 200
UPLOAD = "/khao-sat/danh-sach/tai-len"


def list_file(count: int) -> tuple[bytes, int]:
    """The .xlsx and the number of rows in error it holds."""
    rows = realistic_rows(count)
    mistakes = [
        (11, 5, "canbo00011@hanoi"),  # an email without its domain
        (101, 4, "Sở Hàng không"),  # a department Hà Nội does not have
        (171, 2, "Trưởng phòng"),  # a division head's title among district leaders
        (201, 4, "Quận Lê Chân"),  # a district of Hải Phòng
        (count - 10, 1, ""),  # no name
    ]
    for stt, column, value in mistakes:
        rows[stt - 1][column] = value
    rows[count - 21][5] = rows[count - 20][5]  # one mailbox for two people: two rows in error
    director = rows[96]
    rows.append([str(count + 1), director[1], "Giám đốc Sở, đại biểu HĐND thành phố", GROUP_1,
                 "Hội đồng nhân dân thành phố Hà Nội", director[5], "", ""])  # merged into the council row
    return xlsx_bytes(rows), len(mistakes) + 2


def timings(runs: int, action) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def read_with_calamine(data: bytes) -> int:
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    sheet = workbook.get_sheet_by_name("Danh sách")
    return sum(1 for _ in sheet.iter_rows())


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_growth_of(action) -> tuple[float, float]:
    """(resident set at the start, growth of the peak resident set) of `action` run in a forked process."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ru_maxrss begins at the resident set it inherits
        os.close(read_end)
        db.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        before = max_rss_mb()
        action()
        os.write(write_end, f"{before} {max_rss_mb() - before}".encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        before, growth = (float(value) for value in answer.read().split())
    os.waitpid(pid, 0)
    return before, growth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--rows", type=int, default=5000)
    args = parser.parse_args()

    data, rows_in_error = list_file(args.rows)
    database = PreparedDatabase(f"sqlite:///{_SCRATCH}/bench.sqlite3")
    with Session(database.engine) as session:
        accounts.create_user(session, "ha-noi", Role.PROVINCE, password="Bench2021cchc", province_id=HA_NOI,
                             must_change_password=False)
        # The benchmark runs on any day: the list deadline lies ahead.
        campaign = session.exec(select(Campaign).where(Campaign.is_current)).one()
        campaign.list_deadline = campaign.list_deadline.replace(year=2100)
        session.add(campaign)
        session.commit()
    app = create_app({"SQLALCHEMY_DATABASE_URI": database.url, "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
                      "MAX_CONTENT_LENGTH": 5 * 1024 * 1024})
    client = app.test_client()
    login = client.post("/dang-nhap", data={"username": "ha-noi", "password": "Bench2021cchc"})
    assert login.status_code == 302, login.status_code
    assert client.get("/khao-sat/danh-sach/").status_code == 200  # warm up: templates, reference data

    def upload() -> None:
        response = client.post(UPLOAD, data={"file": (io.BytesIO(data), "danh-sach-ha-noi.xlsx")},
                               content_type="multipart/form-data")
        assert response.status_code == 303, response.get_data(as_text=True)[:500]

    import_times = timings(3, upload)
    import_time = min(import_times)
    rss_start, rss_growth = rss_growth_of(upload)
    read_time = min(timings(3, lambda: read_with_calamine(data)))
    rows_read = read_with_calamine(data)

    tracemalloc.start()
    tracemalloc.reset_peak()
    upload()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    with app.app_context():
        kept = db.session.exec(select(func.count()).select_from(Respondent)).one()
        with_errors = db.session.exec(select(func.count()).select_from(Respondent)
                                      .where(Respondent.error_count > 0)).one()
    assert with_errors == rows_in_error, (with_errors, rows_in_error)
    peak_mb = traced_peak / 1024 / 1024

    print(f"## Importing a {args.rows:,}-row list (.xlsx, {len(data) / 1024:,.0f} KB)\n")
    print("| Measure | Result |")
    print("|---|---|")
    print(f"| (a) python-calamine {version('python-calamine')}: open, iterate all {rows_read:,} rows "
          f"(best of 3) | {read_time * 1000:,.0f} ms |")
    print(f"| (b) upload route: check the file, read, check every row, merge, save (best of 3) "
          f"| {import_time * 1000:,.0f} ms (first: {import_times[0] * 1000:,.0f} ms) |")
    print(f"| Ratio (b)/(a) | {import_time / read_time:,.1f}× |")
    print(f"| Rows kept / rows in error | {kept:,} / {with_errors} |")
    print(f"| Peak Python allocations during one upload (tracemalloc) | {peak_mb:,.1f} MB |")
    print(f"| Growth of the peak resident set during one upload (ru_maxrss, forked process) "
          f"| {rss_growth:,.1f} MB (from {rss_start:,.0f} MB) |")
    print()
    verdict = "under" if max(peak_mb, rss_growth) < LIMIT_MB else "OVER"
    print(f"Peak memory of the import: {verdict} the {LIMIT_MB} MB limit.")
    database.dispose()
    shutil.rmtree(_SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()
