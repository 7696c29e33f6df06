"""Editing one row of a long respondent list through the review page, at 1,000, 5,000 and 20,000 rows.

    ./scripts/bench --only list_edit              # through the runner (every database, docs/benchmarks.md)
    python bench/bench_list_edit.py -n 1000,20000
    python bench/bench_list_edit.py --quick       # 300 rows, one round: a smoke run

The list: the realistic Hà Nội file of the import bench (every group, real departments and districts),
imported once per size. The edit: the HTMX POST of the review table's row form, as an officer saves a
row, changing the phone of a division head in the middle of the list (one round sets it, the next
restores it, so every round changes the row and the list is re-checked).

Figures: the median edit at each size (goal ≤ 50 ms at 20,000 rows), and against the same edit in the
1,000-row list in the same process (goal: flat, ≤ 1.5×). The sizes are measured one after the other (the
portal's engine is process-wide, so one database, re-imported at each size): the median of each.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time

from harness import Figure, arguments, backends, databases, peak_rss_mb, report, scratch

_SCRATCH = scratch("cchc-bench-edit-")

from sqlmodel import Session, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.domain import list_import, lists  # noqa: E402
from portal.domain.campaigns import current_campaign  # noqa: E402
from portal.domain.respondent_rules import RowInput  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Province, Respondent, User  # noqa: E402
from tests.support.respondent_files import HEADER, realistic_rows  # noqa: E402

HA_NOI = 1
KEYS = ("stt", "full_name", "position", "group", "unit", "email", "phone", "note")
assert len(KEYS) == len(HEADER)


class Editor:
    """A logged-in client on a database holding Hà Nội's list, and the row it edits."""

    def __init__(self, url: str) -> None:
        from bench_list_import import prepare_database

        prepare_database(url)
        # One app per process: the portal's engine is process-wide.
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                               "RATELIMIT_ENABLED": False,
                               "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789"})
        self.client = self.app.test_client()
        login = self.client.post("/dang-nhap", data={"username": "ha-noi", "password": "Bench2021cchc"})
        assert login.status_code == 302, login.status_code
        self.turn = 0

    def load(self, count: int) -> None:
        """Make the list `count` rows long (an import, as an upload does) and pick a row in its middle."""
        with self.app.app_context():
            session: Session = db.session
            campaign = current_campaign(session)
            province = session.get(Province, HA_NOI)
            user = session.exec(select(User).where(User.username == "ha-noi")).one()
            rlist = lists.get_or_create_list(session, campaign, HA_NOI)
            rows = [RowInput(key=n, number=n + 1, values=dict(zip(KEYS[1:], row[1:], strict=True)))
                    for n, row in enumerate(realistic_rows(count), start=1)]
            list_import.import_rows(session, user, rlist, campaign, province, rows, "bench.xlsx")
            person = session.exec(select(Respondent).where(Respondent.list_id == rlist.id)
                                  .order_by(Respondent.row_number).offset(count // 2).limit(1)).one()
            self.url = f"/khao-sat/danh-sach/nguoi/{person.id}"
            self.form = {"full_name": person.full_name, "position": person.position, "group": person.group_text,
                         "unit": person.unit, "email": person.email, "phone": person.phone, "note": ""}
            self.phones = (person.phone, "0912000111")

    def edit(self) -> None:
        self.turn += 1
        form = {**self.form, "phone": self.phones[self.turn % 2]}
        response = self.client.post(self.url, data=form, headers={"HX-Request": "true"})
        assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:300])

    def close(self) -> None:
        db.dispose()


def timed(action, cpu: list[float] | None = None) -> float:
    """Seconds on the clock; the seconds of this process's CPU go to `cpu` (on a loaded machine the clock
    mostly measures the wait for a core, the CPU time what the edit itself costs)."""
    began, used = time.perf_counter(), time.process_time()
    action()
    if cpu is not None:
        cpu.append(time.process_time() - used)
    return time.perf_counter() - began


def measure(backend: str, url: str, sizes: list[int], rounds: int) -> list[Figure]:
    print(f"[{backend}] lists of {', '.join(f'{n:,}' for n in sizes)} rows …", file=sys.stderr)
    editor = Editor(url)
    medians, cpu_medians = {}, {}
    for count in sizes:
        editor.load(count)
        editor.edit()  # warm: templates, reference data
        cpu: list[float] = []
        medians[count] = statistics.median(timed(editor.edit, cpu) for _ in range(max(1, rounds))) * 1000
        cpu_medians[count] = statistics.median(cpu) * 1000
    editor.close()
    smallest = min(sizes)
    figures = []
    for count in sizes:
        big = count >= 20_000
        figures.append(Figure("list_edit", backend, f"editing one row, {count:,}-row list (HTMX POST; "
                                                    f"{cpu_medians[count]:.1f} ms CPU)",
                              medians[count], "ms", goal="≤ 50 ms at 20,000 rows" if big else "",
                              met=medians[count] <= 50 if big else None))
        if count != smallest:
            ratio = medians[count] / medians[smallest]
            figures.append(Figure("list_edit", backend, f"editing one row at {count:,} rows",
                                  medians[count], "ms", f"the same at {smallest:,} rows", medians[smallest], ratio,
                                  "≤ 1.5× (flat in the list's length)", ratio <= 1.5))
    return figures


def main() -> None:
    parser = arguments(__doc__.split("\n")[0], rounds=15)
    parser.add_argument("-n", "--rows", default="1000,5000,20000", help="list lengths (default 1000,5000,20000)")
    args = parser.parse_args()
    sizes, rounds = ([100, 300], 1) if args.quick else ([int(n) for n in str(args.rows).split(",")], args.rounds)
    figures: list[Figure] = []
    try:
        for backend in backends(args.db):
            with databases(backend, _SCRATCH) as new_url:
                if new_url is not None:
                    figures += measure(backend, new_url("lists-edit"), sizes, rounds)
    finally:
        shutil.rmtree(_SCRATCH, ignore_errors=True)
    figures.append(Figure("list_edit", "-", "peak resident memory of the bench process", peak_rss_mb(), "MB"))
    report("Editing one row of a long list", figures, args.json)


if __name__ == "__main__":
    main()
