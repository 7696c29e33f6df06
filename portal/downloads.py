"""Downloads, answered the same way by every area: spreadsheets the portal makes, files people uploaded."""

from __future__ import annotations

import re
import unicodedata
from io import BytesIO
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, send_file

from portal.domain import evidence
from portal.domain.document_versions import VersionRow
from portal.models import StoredFile

YAML = "application/yaml"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_download(data: bytes, filename: str) -> Response:
    """An .xlsx the browser saves under `filename` rather than displays."""
    return send_file(BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=filename)


def attachment_header(name: str) -> str:
    """Content-Disposition for saving a file under `name`: `filename*` (RFC 5987, UTF-8) for every browser
    of this decade, and a plain `filename` without diacritics ("Quyet dinh") for older ones."""
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = re.sub(r'[^\x20-\x7e]|["\\%;]', "", plain.encode("ascii", "ignore").decode()).strip() or "tep"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def stored_file_download(stored: StoredFile | None) -> Response:
    """An uploaded file, for a person the calling route has already allowed to have it (404 when it is gone).

    This is the one way out for every uploaded file: the self-assessment's evidence, a nomination, a
    request's attachment. Always an attachment under its own cleaned name (`attachment_header`), with
    the type read from its bytes and never sniffed (`nosniff`), sandboxed (`Content-Security-Policy:
    sandbox`: should an HTML file get through as something else, it runs nothing and reaches no
    cookie), and never kept by a shared cache.
    """
    if stored is None:
        abort(404)
    path = evidence.path_of(stored, current_app.config["PORTAL_FILES_DIR"])
    if path is None:
        abort(404)
    response = send_file(path, mimetype=stored.content_type, max_age=0, etag=stored.sha256)
    response.headers["Content-Disposition"] = attachment_header(stored.original_name)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


def document_version_download(row: VersionRow, text: str, filename: str) -> Response:
    """A stored version of an imported YAML document (framework, questionnaire set), as a file to save; it
    starts with a comment naming the version, when and from which file it was imported."""
    imported = row.imported_at.astimezone(ZoneInfo(current_app.config["PORTAL_TIMEZONE"]))
    header = (f"# {row.title}\n# Phiên bản {row.version}, nhập lúc {imported:%H:%M %d/%m/%Y}"
              f"{' từ tệp ' + row.source_name if row.source_name else ''}; tải về từ Cổng Chỉ số CCHC.\n")
    return Response(header + text, mimetype=YAML, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
