"""A throwaway PostgreSQL cluster for the test run, on a spare loopback port.

Used when no database is named in PORTAL_TEST_DATABASE_URL. Debian's server
binaries are run as user postgres (initdb refuses root); the cluster lives in a
temporary folder that is removed afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    directory: Path
    port: int
    as_postgres: list[str]
    bin_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run([*self.as_postgres, str(self.bin_dir / "pg_ctl"), "-D", str(self.directory / "data"),
                        "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_cluster() -> Cluster:
    """initdb and start a cluster; raises ClusterUnavailable with the reason when it cannot."""
    bin_dir = _bin_dir()
    directory = Path(tempfile.mkdtemp(prefix="cchc-pg-"))
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
    data = directory / "data"
    try:
        subprocess.run([*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True, timeout=120)
        _pg_ctl_start(Cluster(directory, port, as_postgres, bin_dir))
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        output = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(directory, ignore_errors=True)
        raise ClusterUnavailable(f"could not start PostgreSQL: {output.decode(errors='replace')[-500:]}") from exc
    return Cluster(directory, port, as_postgres, bin_dir)


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
