"""The benchmark command keeps working: its quick mode runs a bench end to end and writes the table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_quick_benchmark_run_measures_the_progress_fragment_and_writes_its_table(tmp_path):
    out = tmp_path / "benchmarks.md"

    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run_all.py"), "--quick", "--only", "progress",
                           "--db", "sqlite", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]
    table = out.read_text(encoding="utf-8")
    assert table.startswith("# Benchmarks")
    assert "- Machine: " in table and "- Date: " in table
    assert "| SQLite | progress fragment, Hà Nội (200 of 1,260 people) | " in table
    assert "| bare SQL: summary + one page of rows (raw DBAPI) | " in table
    assert "## Failed" not in table


def test_the_benchmark_command_runs_every_bench_script():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import run_all
    finally:
        sys.path.remove(str(ROOT / "bench"))

    assert sorted(run_all.BENCHES.values()) == sorted(p.name for p in (ROOT / "bench").glob("bench_*.py"))


def test_the_index_bench_computes_the_index_of_a_small_data_set(tmp_path):
    """Correctness only, at the quick size: 63 provinces ranked from 2,000 forms, both figures measured."""
    out = tmp_path / "index.json"

    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_index.py"), "--quick", "--db", "sqlite",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stderr[-2000:]
    figures = {f["figure"]: f for f in json.loads(out.read_text(encoding="utf-8"))}
    measured = figures["index and ranking, 63 provinces, 2,000 submitted forms"]
    assert measured["value"] > 0 and measured["baseline_value"] > 0 and measured["ratio"] > 0
    assert figures["a recomputation stored (computation and 63 rows)"]["value"] > 0
