"""One list upload in a fresh process, for bench_list_import.py's memory figure.

    python bench/upload_once.py DATABASE_URL FILE

Imports only what a web worker imports (the portal), not the bench's file writer (openpyxl) or the test
support (Alembic): its resident set before the upload is a web process's. Prints JSON: the peak resident set
before and after the upload, and the resident set afterwards (whether the memory went back).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from harness import peak_rss_mb

from portal import create_app

UPLOAD = "/khao-sat/danh-sach/tai-len"


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(url: str, path: Path) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
                      "MAX_CONTENT_LENGTH": 5 * 1024 * 1024})
    client = app.test_client()
    login = client.post("/dang-nhap", data={"username": "ha-noi", "password": "Bench2021cchc"})
    assert login.status_code == 302, login.status_code
    assert client.get("/khao-sat/danh-sach/").status_code == 200  # warm up: templates, reference data
    before = peak_rss_mb()
    response = client.post(UPLOAD, data={"file": (io.BytesIO(path.read_bytes()), path.name)},
                           content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    print(json.dumps({"before": before, "after": peak_rss_mb(), "resident_after": resident_mb()}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
