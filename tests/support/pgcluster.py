"""A throwaway PostgreSQL cluster for the test run, on a spare loopback port.

Used when no database is named in PORTAL_TEST_DATABASE_URL. Debian's server
binaries are run as user postgres (initdb refuses root); the cluster lives in a
temporary folder that is removed afterwards.

A run that is killed (kill -9, a CI timeout) cannot stop its cluster itself, so:
- a watchdog process (this file run as a script) waits for the run to end and then stops the cluster
  and removes its folder;
- each new run first removes clusters whose owner is gone (`remove_orphans`), for the case where the
  watchdog was killed too.
Each cluster's folder holds `cluster.json`: its owner (pid and start time, so a reused pid is not
taken for the owner), port and how to stop it.
"""

from __future__ import annotations

import glob
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "cchc-pg-"
_INFO = "cluster.json"


class ClusterUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        found = shutil.which("initdb")
        if not found:
            raise ClusterUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        return Path(found).parent
    return Path(candidates[-1]).parent


def _free_port() -> int:
    # pg_ctl must be told its port; should another process take it in between, the start fails loudly.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of the process (field 22 of /proc/<pid>/stat); None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass
class Cluster:
    directory: Path
    port: int
    as_postgres: list[str]
    bin_dir: Path
    owner_pid: int = 0
    owner_started: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run([*self.as_postgres, str(self.bin_dir / "pg_ctl"), "-D", str(self.directory / "data"),
                        "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)

    def owner_alive(self) -> bool:
        return self.owner_started is not None and process_start_time(self.owner_pid) == self.owner_started

    def save(self) -> None:
        (self.directory / _INFO).write_text(json.dumps({
            "port": self.port, "as_postgres": self.as_postgres, "bin_dir": str(self.bin_dir),
            "owner_pid": self.owner_pid, "owner_started": self.owner_started}), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> Cluster | None:
        try:
            info = json.loads((directory / _INFO).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls(directory, info["port"], info["as_postgres"], Path(info["bin_dir"]), info["owner_pid"],
                   info["owner_started"])


def remove_orphans(parent: Path | None = None) -> list[Path]:
    """Stop and remove the throwaway clusters whose owning test run is gone; the folders removed."""
    removed = []
    for directory in sorted(Path(parent or tempfile.gettempdir()).glob(f"{PREFIX}*")):
        cluster = Cluster.load(directory)
        if cluster is not None and not cluster.owner_alive():
            cluster.stop()
            removed.append(directory)
    return removed


def _start_watchdog(cluster: Cluster) -> None:
    # Its own session: a Ctrl-C or a kill of the run's process group does not reach it.
    subprocess.Popen([sys.executable, __file__, "watch", str(cluster.directory)], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)


def _wait_for_exit(pid: int) -> None:
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):  # no pidfd (old kernel): look every half second
        while process_start_time(pid) is not None:
            time.sleep(0.5)
        return
    try:
        select.select([descriptor], [], [])  # readable once the process has ended
    finally:
        os.close(descriptor)


def _watch(directory: Path) -> None:
    """The watchdog: when the cluster's owner has ended, stop the cluster (unless the owner already did)."""
    cluster = Cluster.load(directory)
    if cluster is None:
        return
    _wait_for_exit(cluster.owner_pid)
    if directory.exists():
        cluster.stop()


def start_cluster(*, watchdog: bool = True) -> Cluster:
    """initdb and start a cluster owned by this process; raises ClusterUnavailable with the reason when it cannot.

    Clusters left by earlier runs that were killed are removed first.
    """
    bin_dir = _bin_dir()
    remove_orphans()
    directory = Path(tempfile.mkdtemp(prefix=PREFIX))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(directory, ignore_errors=True)
            raise ClusterUnavailable("there is no user 'postgres' to run the server as") from None
        os.chown(directory, entry.pw_uid, entry.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    cluster = Cluster(directory, port, as_postgres, bin_dir, os.getpid(), process_start_time(os.getpid()))
    cluster.save()
    data = directory / "data"
    try:
        subprocess.run([*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True, timeout=120)
        if watchdog:
            _start_watchdog(cluster)  # before the server starts: a kill from here on leaves nothing running
        _pg_ctl_start(cluster)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        output = getattr(exc, "stderr", b"") or b""
        cluster.stop()
        raise ClusterUnavailable(f"could not start PostgreSQL: {output.decode(errors='replace')[-500:]}") from exc
    return cluster


def _pg_ctl_start(cluster: Cluster) -> None:
    options = (f"-c listen_addresses=127.0.0.1 -c port={cluster.port} -c unix_socket_directories={cluster.directory} "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    subprocess.run([*cluster.as_postgres, str(cluster.bin_dir / "pg_ctl"), "-D", str(cluster.directory / "data"),
                    "-o", options, "-l", str(cluster.directory / "server.log"), "-w", "-t", "60", "start"],
                   check=True, capture_output=True, timeout=90)


def stop_cluster(cluster: Cluster) -> None:
    """Stop the server as an administrator's restart does (fast: open connections are cut); keep its data."""
    subprocess.run([*cluster.as_postgres, str(cluster.bin_dir / "pg_ctl"), "-D", str(cluster.directory / "data"),
                    "-m", "fast", "-w", "stop"], check=True, capture_output=True, timeout=60)


def restart_cluster(cluster: Cluster) -> None:
    """Start a stopped cluster again on its port."""
    _pg_ctl_start(cluster)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "watch":
    _watch(Path(sys.argv[2]))
