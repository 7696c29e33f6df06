"""Downloads, answered the same way by every area: spreadsheets the portal makes, files people uploaded."""

from __future__ import annotations

from io import BytesIO

from flask import Response, abort, current_app, send_file

from portal.domain import evidence
from portal.models import StoredFile

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_download(data: bytes, filename: str) -> Response:
    """An .xlsx the browser saves under `filename` rather than displays."""
    return send_file(BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=filename)


def stored_file_download(stored: StoredFile | None) -> Response:
    """An uploaded file, for a person the calling route has already allowed to have it (404 when it is gone).

    Always an attachment under its own cleaned name (Werkzeug writes `filename*=UTF-8''…`, RFC 5987,
    for a Vietnamese name, with an ASCII fallback), with the type read from its bytes and never
    sniffed (`nosniff`), sandboxed (`Content-Security-Policy: sandbox`: an HTML file that got through
    as something else still runs nothing and reaches no cookie), and never cached by a shared cache.
    """
    if stored is None:
        abort(404)
    path = evidence.path_of(stored, current_app.config["PORTAL_FILES_DIR"])
    if path is None:
        abort(404)
    response = send_file(path, mimetype=stored.content_type, as_attachment=True, download_name=stored.original_name,
                         max_age=0, etag=stored.sha256)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
