"""The portal served by a real gunicorn on a loopback port, for tests that need separate worker processes."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import stop

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(port: int, path: str, *, method: str = "GET", headers: dict[str, str] | None = None,
          timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection: status, headers (lower-cased names), body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@contextmanager
def served(environment: dict[str, str], *, workers: int = 1, startup: float = 30.0,
           options: tuple[str, ...] = ()) -> Iterator[int]:
    """Run `gunicorn wsgi:app` with `environment` added (and gunicorn `options`, e.g. where its logs go); yields
    its port, stops it afterwards. gunicorn reads the project's gunicorn.conf.py, as in production.

    Waits (bounded by `startup` seconds) until /healthz answers, so the test starts on a serving portal.
    """
    port = free_port()
    env = {**os.environ, **environment, "PYTHONPATH": str(ROOT)}
    command = [str(Path(sys.executable).parent / "gunicorn"), "--no-control-socket", "-w", str(workers),
               "-b", f"127.0.0.1:{port}", "--log-level", "warning", *options, "wsgi:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + startup
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}")
            try:
                if fetch(port, "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz in time")
            time.sleep(0.1)
        yield port
    finally:
        stop(process, grace_seconds=10)
