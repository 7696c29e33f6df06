"""A web process starts without the libraries only some requests need (openpyxl, python-calamine, the SMTP
server and bounce parser): every gunicorn worker would carry them (docs/benchmarks.md, memory)."""

import subprocess
import sys

HEAVY = ("openpyxl", "python_calamine", "aiosmtpd", "flufl.bounce", "playwright")


def test_building_the_app_imports_no_heavy_library(tmp_path):
    code = (
        "import sys\n"
        "from portal import create_app\n"
        f"create_app({{'SQLALCHEMY_DATABASE_URI': 'sqlite:///{tmp_path}/x.sqlite3', 'SECRET_KEY': 'k' * 40}})\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PORTAL_INSTANCE_DIR": str(tmp_path)})

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
