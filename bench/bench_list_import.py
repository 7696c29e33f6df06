"""Importing a respondent list through the upload route against merely reading the file with python-calamine.

    ./scripts/bench --only list_import             # through the runner (every database, docs/benchmarks.md)
    python bench/bench_list_import.py -n 20000     # the most a file may hold
    python bench/bench_list_import.py --quick      # 300 rows, one round: a smoke run

The file: a realistic .xlsx for Hà Nội written with openpyxl (council deputies, department and district
leaders, division leaders; Hà Nội's real departments and districts), with 7 rows in error and a council
deputy also listed as a department leader (merged into one row), `n` rows in all.

(a) baseline: python-calamine alone opens the workbook and iterates every row of the list sheet.
(b) the upload route: a Flask test client, logged in as Hà Nội, POSTs the file; the portal checks the zip,
    reads it, checks every row, merges duplicates and replaces the draft (SQLite file or PostgreSQL).
Paired round by round after a first (cold) upload, the median of each kept; goal (b)/(a) ≤ 10×. Then one
upload in a fresh process (bench/upload_once.py): its peak resident set before and after the upload (and the
increment, what the upload itself cost), and its resident set after it (whether the memory went back).
Goal: peak under 100 MB at 20,000 rows. Beside it, the floor (bench/read_once.py): a fresh process of the
libraries the portal stands on, without its code, reading the same file with python-calamine; no upload
through this stack can peak below it.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from harness import Figure, arguments, backends, databases, paired, peak_rss_mb, report, scratch

_SCRATCH = scratch("cchc-bench-lists-")

import python_calamine  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.domain import accounts  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Campaign, Respondent, Role, User  # noqa: E402
from tests.support.database import PreparedDatabase  # noqa: E402
from tests.support.respondent_files import GROUP_1, realistic_rows, xlsx_bytes  # noqa: E402

HA_NOI = 1
UPLOAD = "/khao-sat/danh-sach/tai-len"


def list_file(count: int) -> tuple[bytes, int]:
    """The .xlsx and the number of rows in error it holds."""
    rows = realistic_rows(count - 1)  # and one more below: `count` rows in all
    mistakes = [
        (11, 5, "canbo00011@hanoi"),  # an email without its domain
        (101, 4, "Sở Hàng không"),  # a department Hà Nội does not have
        (171, 2, "Trưởng phòng"),  # a division head's title among district leaders
        (201, 4, "Quận Lê Chân"),  # a district of Hải Phòng
        (count - 10, 1, ""),  # no name
    ]
    for stt, column, value in mistakes:
        rows[stt - 1][column] = value
    rows[count - 22][5] = rows[count - 21][5]  # one mailbox for two people: two rows in error
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


def prepare_database(url: str) -> None:
    database = PreparedDatabase(url)
    with Session(database.engine) as session:
        if session.exec(select(func.count()).select_from(User)).one() == 0:
            accounts.create_user(session, "ha-noi", Role.PROVINCE, password="Bench2021cchc", province_id=HA_NOI,
                                 must_change_password=False)
        campaign = session.exec(select(Campaign).where(Campaign.is_current)).one()
        campaign.list_deadline = campaign.list_deadline.replace(year=2100)  # the bench runs on any day
        session.add(campaign)
        session.commit()
    database.dispose()


def prepare(url: str):
    """The migrated database with Hà Nội's account, the list deadline ahead; returns a logged-in client."""
    prepare_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
                      "MAX_CONTENT_LENGTH": 5 * 1024 * 1024})
    client = app.test_client()
    login = client.post("/dang-nhap", data={"username": "ha-noi", "password": "Bench2021cchc"})
    assert login.status_code == 302, login.status_code
    assert client.get("/khao-sat/danh-sach/").status_code == 200  # warm up: templates, reference data
    return app, client


def uploader(client, data: bytes):
    def upload() -> None:
        response = client.post(UPLOAD, data={"file": (io.BytesIO(data), "danh-sach-ha-noi.xlsx")},
                               content_type="multipart/form-data")
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return upload


def measure(backend: str, url: str, count: int, rounds: int) -> list[Figure]:
    print(f"[{backend}] {count:,} rows …", file=sys.stderr)
    data, rows_in_error = list_file(count)
    app, client = prepare(url)
    upload = uploader(client, data)
    began = time.perf_counter()
    upload()
    cold = time.perf_counter() - began
    imported, read = paired(rounds, upload, lambda: read_with_calamine(data), warm=False)
    with app.app_context():
        kept = db.session.exec(select(func.count()).select_from(Respondent)).one()
        with_errors = db.session.exec(select(func.count()).select_from(Respondent)
                                      .where(Respondent.error_count > 0)).one()
    assert with_errors == rows_in_error, (kept, with_errors, count, rows_in_error)
    db.dispose()
    path = Path(_SCRATCH) / f"list-{count}.xlsx"
    path.write_bytes(data)
    answer = subprocess.run([sys.executable, str(Path(__file__).with_name("upload_once.py")), url, str(path)],
                            capture_output=True, text=True, check=True, timeout=600)
    memory = json.loads(answer.stdout.strip().splitlines()[-1])
    floor = json.loads(subprocess.run([sys.executable, str(Path(__file__).with_name("read_once.py")), url, str(path)],
                                      capture_output=True, text=True, check=True, timeout=600)
                       .stdout.strip().splitlines()[-1])
    ratio = imported / read
    size = f"{count:,} rows, {len(data) / 1024:,.0f} KB"
    return [
        Figure("list_import", backend, f"upload route, warm ({size}; cold: {cold * 1000:,.0f} ms, "
                                       f"{cold / read:.0f}×)", imported * 1000, "ms",
               f"python-calamine {version('python-calamine')} reading the file", read * 1000, ratio, "≤ 10×",
               ratio <= 10),
        Figure("list_import", backend, f"peak resident memory of a fresh process after one upload ({size}; "
                                       f"+{memory['after'] - memory['before']:.0f} MB over its "
                                       f"{memory['before']:.0f} MB before the upload, "
                                       f"{memory['resident_after']:.0f} MB resident after it)", memory["after"], "MB",
               goal="< 100 MB at 20,000 rows" if count >= 20_000 else "",
               met=memory["after"] < 100 if count >= 20_000 else None),
        Figure("list_import", backend, f"the floor: a fresh process of the stack alone (Flask, SQLAlchemy, SQLModel, "
                                       f"the driver; no portal code) reading the same file with python-calamine "
                                       f"({size}; {floor['before']:.0f} MB before the reading)",
               floor["after"], "MB"),
    ]


def main() -> None:
    parser = arguments(__doc__.split("\n")[0], rounds=5)
    parser.add_argument("-n", "--rows", default="5000,20000", help="rows of each file (default 5000,20000)")
    args = parser.parse_args()
    sizes, rounds = ([300], 1) if args.quick else ([int(n) for n in str(args.rows).split(",")], args.rounds)
    figures: list[Figure] = []
    try:
        for backend in backends(args.db):
            with databases(backend, _SCRATCH) as new_url:
                if new_url is not None:
                    for count in sizes:
                        figures += measure(backend, new_url(f"lists-{count}"), count, rounds)
    finally:
        shutil.rmtree(_SCRATCH, ignore_errors=True)
    figures.append(Figure("list_import", "-", "peak resident memory of the bench process", peak_rss_mb(), "MB"))
    report("Importing a list against reading it", figures, args.json)


if __name__ == "__main__":
    main()
