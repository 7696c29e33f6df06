"""The throwaway PostgreSQL cluster (tests/support/pgcluster.py) never outlives a test run that was killed."""

from __future__ import annotations

import socket
import subprocess
import sys
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


def killed_run(*, watchdog: bool) -> tuple[Path, int]:
    """A test run (a child process) that started a cluster and was then killed with SIGKILL; the cluster's folder
    and port."""
    code = ("import sys; from tests.support.pgcluster import start_cluster; "
            f"c = start_cluster(watchdog={watchdog}); print(c.directory, c.port, flush=True); sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        directory, port = child.stdout.readline().split()
    finally:
        child.kill()
        child.wait(timeout=30)
    return Path(directory), int(port)


def test_a_killed_run_leaves_no_server_behind_and_no_folder():
    directory, port = killed_run(watchdog=True)

    assert wait_until(lambda: not accepts(port) and not directory.exists()), (directory, port)


def test_a_new_run_removes_the_clusters_of_runs_that_are_gone_even_without_their_watchdog():
    directory, port = killed_run(watchdog=False)
    try:
        assert accepts(port)  # left running: nobody stopped it

        removed = remove_orphans()

        assert directory in removed
        assert not accepts(port) and not directory.exists()
    finally:
        remove_orphans()


def test_clusters_of_a_run_still_going_are_left_alone(postgres_server):
    # This run's own cluster (or the server named in PORTAL_TEST_DATABASE_URL) keeps answering.
    port = int(postgres_server.rsplit(":", 1)[1].split("/")[0])

    remove_orphans()

    assert accepts(port)
