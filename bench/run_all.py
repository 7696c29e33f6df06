"""Run every bench/bench_*.py on SQLite and PostgreSQL, each in a fresh process, and write docs/benchmarks.md.

    ./scripts/bench                        # everything, 3 times over, at the documented sizes (about 15 minutes)
    ./scripts/bench --quick                # small sizes, one round: a smoke run (prints, writes nothing unless --out)
    ./scripts/bench --only progress --db postgresql --repeat 1 --out /tmp/b.md

Every bench runs `--repeat` times (the benches in turn, then again), so that a burst of other work on the
machine spoils one run, not the table: each figure shown is that of the run with the median ratio (or value,
for a figure without baseline), with the range over the runs. Comparisons between two measurements that are
not paired (the same figure at two sizes, or two years) move the most from run to run.

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


def median_runs(runs: list[list[dict]]) -> list[dict]:
    """One bench's figures on one database over several runs: per figure (by its place: the labels carry
    measured values), the run with the median ratio (or value), with `spread`, the range of the ratios."""
    chosen = []
    for place, first in enumerate(runs[0]):
        same = [run[place] for run in runs if len(run) > place and run[place]["figure"][:40] == first["figure"][:40]]
        by = "ratio" if first["ratio"] is not None else "value"
        same.sort(key=lambda f: f[by])
        figure = dict(same[(len(same) - 1) // 2])
        if len(same) > 1 and by == "ratio":
            figure["spread"] = (same[0]["ratio"], same[-1]["ratio"])
        chosen.append(figure)
    return chosen


def markdown(figures: list[dict], failures: list[str], *, started: datetime, seconds: float, quick: bool,
             repeat: int = 1) -> str:
    repeated = (f" The whole set ran {repeat} times in turn; each figure is that of the run with the median ratio "
                "(or value), the range of the ratios over the runs in brackets.") if repeat > 1 else ""
    lines = ["# Benchmarks", "",
             "Written by `./scripts/bench` (bench/run_all.py): every `bench/bench_*.py`, each in a fresh process, on",
             "SQLite and on PostgreSQL (a throwaway cluster on loopback, as the tests start one). Each figure is",
             "measured against its baseline in the same process, the two alternating round after round; the",
             "medians are shown. A ratio compares the portal to its baseline (time over time, or rate over rate:",
             f"see each goal).{repeated} Re-run it after a change that touches a figure, and commit this file.", "",
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

    text = ratio_text(Figure(**{k: v for k, v in figure.items() if k != "spread"}))
    if "spread" in figure:
        low, high = figure["spread"]
        text += f" ({low:.2f}–{high:.2f})"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and one round: a smoke run")
    parser.add_argument("--only", action="append", choices=sorted(BENCHES), help="this bench only (repeatable)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--out", type=Path, help="where to write the table (default: docs/benchmarks.md, "
                                                  "not written by a --quick run)")
    parser.add_argument("--repeat", type=int, help="runs of the whole set, the median run of each figure shown "
                                                   "(default 3; 1 with --quick)")
    args, extra = parser.parse_known_args()
    repeat = max(1, args.repeat or (1 if args.quick else 3))
    out = args.out or (None if args.quick else ROOT / "docs" / "benchmarks.md")
    started, began = datetime.now(UTC), time.perf_counter()
    runs: dict[tuple[str, str], list[list[dict]]] = {}
    failures: list[str] = []
    names, backends = args.only or list(BENCHES), ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for turn in range(repeat):
        if repeat > 1:
            print(f"== run {turn + 1} of {repeat}", file=sys.stderr, flush=True)
        for name in names:
            for backend in backends:
                found, error = run(name, backend, args.quick, extra)
                for figure in found:  # the memory of the bench process: that of this database's run
                    figure["backend"] = backend if figure["backend"] == "-" else figure["backend"]
                if found:
                    runs.setdefault((name, backend), []).append(found)
                if error:
                    failures.append(f"{name} on {backend} (run {turn + 1}): {error}")
    figures = [figure for name in names for backend in backends for figure in median_runs(runs.get((name, backend))
                                                                                          or [[]])]
    text = markdown(figures, failures, started=started, seconds=time.perf_counter() - began, quick=args.quick,
                    repeat=repeat)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"Written to {out}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
