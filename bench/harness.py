"""What every bench shares: the command line, paired rounds, medians, databases, memory, and the figures.

Each bench measures a figure of the portal against its baseline *in the same process start*, alternating
the two round after round (so a busy moment of the machine hits both alike) and keeps the median of each.
It prints a Markdown table and, with --json, writes its figures for `bench/run_all.py`, which runs every
bench in a fresh process per database and writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Figure:
    """One line of the table: the portal's figure, its baseline, their ratio and the goal it must meet."""

    bench: str
    backend: str
    figure: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None  # None: nothing to meet (a figure kept for reference)


def arguments(description: str, *, rounds: int = 5) -> argparse.ArgumentParser:
    """The options every bench takes; a bench adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both",
                        help="database(s) to measure on (PostgreSQL: a throwaway cluster on loopback)")
    parser.add_argument("--rounds", type=int, default=rounds, help=f"paired rounds, the median kept (default {rounds})")
    parser.add_argument("--quick", action="store_true", help="small sizes and one round: a smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser


def scratch(prefix: str) -> str:
    """A temporary instance folder, set before the portal's config is read (the developer's stays untouched)."""
    folder = tempfile.mkdtemp(prefix=prefix)
    # A bench's databases reach 100 MB: left behind, a day of re-runs fills the machine's /tmp.
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["PORTAL_INSTANCE_DIR"] = folder
    os.environ.setdefault("PORTAL_PASSWORD_TIME_COST", "1")
    os.environ.setdefault("PORTAL_PASSWORD_MEMORY_KIB", "8")
    return folder


def backends(choice: str) -> list[str]:
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


@contextmanager
def databases(backend: str, folder: str) -> Iterator[Callable[[str], str] | None]:
    """A maker of empty databases by name: files under `folder`, or databases of one throwaway PostgreSQL
    cluster on loopback (None when PostgreSQL cannot start here: the bench says so, goes on without it)."""
    if backend == "sqlite":
        yield lambda name: f"sqlite:///{folder}/{name}.sqlite3"
        return
    from tests.support.database import create_postgres_database
    from tests.support.pgcluster import ClusterUnavailable, start_cluster

    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        yield None
        return
    try:
        yield lambda _name: create_postgres_database(cluster.url)
    finally:
        from portal.extensions import db

        db.dispose()
        cluster.stop()


def paired(rounds: int, subject: Callable[[], object], baseline: Callable[[], object],
           *, warm: bool = True) -> tuple[float, float]:
    """Median seconds of `subject` and of `baseline`, run alternately `rounds` times after one warm-up each."""
    if warm:
        subject()
        baseline()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(max(1, rounds)):
        for action, into in ((subject, times[0]), (baseline, times[1])):
            began = time.perf_counter()
            action()
            into.append(time.perf_counter() - began)
    return statistics.median(times[0]), statistics.median(times[1])


def peak_rss_mb() -> float:
    """The peak resident set of this process so far (each bench runs in a fresh process).

    VmHWM of /proc belongs to this program alone; getrusage's ru_maxrss would carry the parent's peak
    across fork and exec, so a fresh process started by a big one would seem big from its first line.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def report(title: str, figures: list[Figure], json_path: Path | None) -> None:
    """Print the figures as a Markdown table, and write them as JSON when asked."""
    print(f"\n### {title}\n")
    print("| backend | figure | value | baseline | baseline value | ratio | goal | met |")
    print("|---|---|---:|---|---:|---:|---|---|")
    for f in figures:
        print(f"| {f.backend} | {f.figure} | {fmt(f.value, f.unit)} | {f.baseline} | "
              f"{fmt(f.baseline_value, f.unit) if f.baseline_value is not None else ''} | "
              f"{ratio_text(f)} | {f.goal} | {met_text(f.met)} |")
    if json_path:
        json_path.write_text(json.dumps([asdict(f) for f in figures], ensure_ascii=False, indent=1))


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit in {"ms", "MB", "KB"}:
        return f"{value:,.1f} {unit}"
    return f"{value:,.0f} {unit}".strip()


def ratio_text(f: Figure) -> str:
    return "" if f.ratio is None else f"{f.ratio:.2f}×"


def met_text(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**no**")
