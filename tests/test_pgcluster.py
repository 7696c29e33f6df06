"""The throwaway PostgreSQL cluster (tests/support/pgcluster.py) never outlives a test run that was killed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.ci import skip_unless_ci
from tests.support.pgcluster import ClusterUnavailable, _bin_dir, remove_orphans

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def postgres_binaries():
    try:
        _bin_dir()
    except ClusterUnavailable as exc:
        skip_unless_ci(str(exc))


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def wait_until(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def parent():
    """A temporary folder of the test's own for the killed run's cluster: the test's orphan is not taken by another
    pytest-xdist worker's run removing orphans meanwhile (the user postgres must reach into it, hence 755)."""
    folder = Path(tempfile.mkdtemp(prefix="cchc-pgtest-"))
    folder.chmod(0o755)
    yield folder
    remove_orphans(folder)
    shutil.rmtree(folder, ignore_errors=True)


def killed_run(parent: Path, *, watchdog: bool) -> tuple[Path, int]:
    """A test run (a child process, its temporary files in `parent`) that started a cluster and was then killed with
    SIGKILL; the cluster's folder and port."""
    code = ("import sys; from tests.support.pgcluster import start_cluster; "
            f"c = start_cluster(watchdog={watchdog}); print(c.directory, c.port, flush=True); sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "TMPDIR": str(parent)})
    try:
        directory, port = child.stdout.readline().split()
    finally:
        child.kill()
        child.wait(timeout=30)
    return Path(directory), int(port)


def test_a_killed_run_leaves_no_server_behind_and_no_folder(parent):
    directory, port = killed_run(parent, watchdog=True)

    assert wait_until(lambda: not accepts(port) and not directory.exists()), (directory, port)


def test_a_new_run_removes_the_clusters_of_runs_that_are_gone_even_without_their_watchdog(parent):
    directory, port = killed_run(parent, watchdog=False)
    assert accepts(port)  # left running: nobody stopped it

    removed = remove_orphans(parent)

    assert directory in removed
    assert not accepts(port) and not directory.exists()


def test_clusters_of_a_run_still_going_are_left_alone(postgres_server):
    # This run's own cluster (or the server named in PORTAL_TEST_DATABASE_URL) keeps answering.
    port = int(postgres_server.rsplit(":", 1)[1].split("/")[0])

    remove_orphans()

    assert accepts(port)
