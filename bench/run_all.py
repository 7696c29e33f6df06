"""Run every bench/bench_*.py on SQLite and PostgreSQL, each in a fresh process, and write docs/benchmarks.md.

    ./scripts/bench                        # everything, at the documented sizes (about 5 minutes on 2 quiet cores)
    ./scripts/bench --quick                # small sizes, one round: a smoke run (prints, writes nothing unless --out)
    ./scripts/bench --only progress --db postgresql --out /tmp/b.md

A bench that fails is reported in the table as failed, and the command exits non-zero after writing it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from harness import fmt, met_text, ratio_text  # noqa: E402

BENCHES = {
    "progress": "bench_progress.py",
    "survey": "bench_survey.py",
    "outbox": "bench_outbox.py",
    "list_import": "bench_list_import.py",
    "list_edit": "bench_list_edit.py",
    "index": "bench_index.py",
}
TITLES = {
    "progress": "Province progress fragment against its bare SQL (bench/bench_progress.py)",
    "survey": "Respondent pages under gunicorn against a trivial Flask app (bench/bench_survey.py)",
    "outbox": "Outbox worker against smtplib sending prepared messages (bench/bench_outbox.py)",
    "list_import": "Importing a list against python-calamine reading it (bench/bench_list_import.py)",
    "list_edit": "Editing one row of a long list (bench/bench_list_edit.py)",
    "index": "The PAR Index and ranking against the bare aggregate SQL (bench/bench_index.py)",
}


def machine() -> str:
    """The machine in one line: CPU, cores, memory, OS, Python, SQLite and PostgreSQL versions."""
    cpu = "unknown CPU"
    memory = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        memory = f", {kib / 1024 / 1024:.0f} GB memory"
    except (OSError, StopIteration):
        pass
    postgres = "PostgreSQL not found"
    try:
        from tests.support.pgcluster import _bin_dir

        postgres = subprocess.run([str(_bin_dir() / "postgres"), "--version"], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001 - only a label for the report
        pass
    return (f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}; {postgres}")


def run(name: str, backend: str, quick: bool, extra: list[str]) -> tuple[list[dict], str]:
    """One bench on one database in a fresh process: (its figures, an error text or "")."""
    with tempfile.TemporaryDirectory(prefix="cchc-bench-run-") as folder:
        out = Path(folder) / "figures.json"
        command = [sys.executable, str(BENCH / BENCHES[name]), "--db", backend, "--json", str(out),
                   *(["--quick"] if quick else []), *extra]
        print(f"== {name} on {backend}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        began = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        print(f"== {name} on {backend}: {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
        if done.returncode != 0 or not out.exists():
            return [], f"exit status {done.returncode}"
        return json.loads(out.read_text()), ""


def markdown(figures: list[dict], failures: list[str], *, started: datetime, seconds: float, quick: bool) -> str:
    lines = ["# Benchmarks", "",
             "Written by `./scripts/bench` (bench/run_all.py): every `bench/bench_*.py`, each in a fresh process, on",
             "SQLite and on PostgreSQL (a throwaway cluster on loopback, as the tests start one). Each figure is",
             "measured against its baseline in the same process, the two alternating round after round; the",
             "medians are shown. A ratio compares the portal to its baseline (time over time, or rate over rate:",
             "see each goal). Re-run it after a change that touches a figure, and commit this file.", "",
             f"- Date: {started:%d/%m/%Y %H:%M} UTC{' (quick smoke run: small sizes, one round)' if quick else ''}",
             f"- Machine: {machine()}",
             f"- Load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)",
             f"- Duration: {seconds / 60:.0f} min", ""]
    for name, title in TITLES.items():
        rows = [f for f in figures if f["bench"] == name]
        if not rows:
            continue
        lines += [f"## {title}", "", "| Database | Figure | Value | Baseline | Baseline value | Ratio | Goal | Met |",
                  "|---|---|---:|---|---:|---:|---|---|"]
        for f in rows:
            backend = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(f["backend"], f["backend"])
            baseline = fmt(f["baseline_value"], f["unit"]) if f["baseline_value"] is not None else ""
            lines.append(f"| {backend} | {f['figure']} | {fmt(f['value'], f['unit'])} | {f['baseline']} | "
                         f"{baseline} | {ratio_text_of(f)} | {f['goal']} | {met_text(f['met'])} |")
        lines.append("")
    if failures:
        lines += ["## Failed", ""] + [f"- {failure}" for failure in failures] + [""]
    goals = [f for f in figures if f["met"] is not None]
    lines += [f"Goals met: {sum(1 for f in goals if f['met'])} of {len(goals)}.", ""]
    return "\n".join(lines)


def ratio_text_of(figure: dict) -> str:
    from harness import Figure

    return ratio_text(Figure(**figure))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and one round: a smoke run")
    parser.add_argument("--only", action="append", choices=sorted(BENCHES), help="this bench only (repeatable)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--out", type=Path, help="where to write the table (default: docs/benchmarks.md, "
                                                  "not written by a --quick run)")
    args, extra = parser.parse_known_args()
    out = args.out or (None if args.quick else ROOT / "docs" / "benchmarks.md")
    started, began = datetime.now(UTC), time.perf_counter()
    figures: list[dict] = []
    failures: list[str] = []
    for name in args.only or list(BENCHES):
        for backend in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
            found, error = run(name, backend, args.quick, extra)
            for figure in found:  # the memory of the bench process: that of this database's run
                figure["backend"] = backend if figure["backend"] == "-" else figure["backend"]
            figures += found
            if error:
                failures.append(f"{name} on {backend}: {error}")
    text = markdown(figures, failures, started=started, seconds=time.perf_counter() - began, quick=args.quick)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"Written to {out}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
