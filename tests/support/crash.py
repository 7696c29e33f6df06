"""A portal process that dies at a chosen moment (SIGKILL: no cleanup, no rollback of its own).

    died = run_and_die(app_config, '''
        import portal.domain.answers as answers
        ...                      # arm: call die() where the process must stop
        client = app.test_client()
        client.post(url)
    ''')
    assert died

The code runs in a fresh Python process with `app` built from the same settings (the same database and
secret key), and `die()` that kills the process on the spot, as the OOM killer or `kill -9` would. The
database is then left exactly as a killed gunicorn worker or a killed worker process leaves it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PRELUDE = '''
import json, os, signal, sys
from portal import create_app
from portal.extensions import db


def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


app = create_app(json.loads(sys.argv[1]))
'''


def run_and_die(config: dict, code: str, *, timeout: float = 60.0) -> bool:
    """Run `code` in a portal process of its own; True when that process was killed by die()."""
    settings = {key: value for key, value in config.items() if isinstance(value, str | int | float | bool)
                or value is None}
    script = _PRELUDE + textwrap.dedent(code)
    completed = subprocess.run([sys.executable, "-c", script, json.dumps(settings)], cwd=ROOT, env=dict(os.environ),
                               capture_output=True, timeout=timeout)
    if completed.returncode not in (-signal.SIGKILL, 0):
        raise AssertionError(f"the child failed ({completed.returncode}):\n{completed.stderr.decode()[-3000:]}")
    return completed.returncode == -signal.SIGKILL
