"""Spreadsheet downloads, answered the same way by every area."""

from __future__ import annotations

from io import BytesIO

from flask import Response, send_file

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_download(data: bytes, filename: str) -> Response:
    """An .xlsx the browser saves under `filename` rather than displays."""
    return send_file(BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=filename)
