"""Child processes (gunicorn, the worker) stopped the way an administrator's `kill` does, then forced."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, *, grace_seconds: float = 15) -> None:
    """SIGTERM, then SIGKILL if the process is still there after `grace_seconds`; always reaped."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
