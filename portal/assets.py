"""Static files under content-hashed names, cached for a year and served pre-compressed.

The stylesheet lives in static/; htmx comes from the `django-js-lib-htmx`
package installed from PyPI (only its files are read, nothing of Django). Each
file is read once at start, hashed, and kept with its gzip and brotli forms, so
a province on a slow line downloads it once and never asks again.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import brotli
from flask import Blueprint, Flask, Response, abort, current_app, request

bp = Blueprint("assets", __name__)

ONE_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Asset:
    name: str  # the logical name templates ask for: "portal.css"
    hashed_name: str  # "portal.3f2a1c9e0b.css"
    mimetype: str
    body: bytes
    gzip_body: bytes
    br_body: bytes


def htmx_path() -> Path:
    return Path(str(resources.files("js_lib_htmx") / "static" / "htmx" / "htmx.min.js"))


@lru_cache(maxsize=64)
def _load_cached(name: str, path: Path, _mtime: float) -> Asset:
    # Brotli at quality 11 is slow; each file is compressed once per process (tests build many apps).
    return _load(name, path)


def _load(name: str, path: Path) -> Asset:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:10]
    stem, dot, ext = name.rpartition(".")
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if mimetype.startswith("text/") or mimetype == "application/javascript":
        mimetype += "; charset=utf-8"
    return Asset(name, f"{stem}.{digest}{dot}{ext}", mimetype, body,
                 gzip.compress(body, 9, mtime=0), brotli.compress(body, quality=11))


def init_assets(app: Flask, static_dir: Path) -> None:
    """Read every static file (and htmx) and register the `asset(name)` template function."""
    files = {p.relative_to(static_dir).as_posix(): p for p in static_dir.rglob("*") if p.is_file()}
    files["htmx.min.js"] = htmx_path()
    by_name = {name: _load_cached(name, path, path.stat().st_mtime) for name, path in files.items()}
    app.extensions["assets"] = {
        "by_name": by_name,
        "by_hashed": {asset.hashed_name: asset for asset in by_name.values()},
    }

    def asset_url(name: str) -> str:
        return f"/static/{by_name[name].hashed_name}"

    app.jinja_env.globals["asset"] = asset_url
    app.register_blueprint(bp)


@bp.get("/static/<path:filename>")
def static(filename: str) -> Response:
    asset = current_app.extensions["assets"]["by_hashed"].get(filename)
    if asset is None:
        abort(404)
    accepted = request.headers.get("Accept-Encoding", "")
    body, encoding = asset.body, None
    if "br" in accepted:
        body, encoding = asset.br_body, "br"
    elif "gzip" in accepted:
        body, encoding = asset.gzip_body, "gzip"
    response = Response(body, mimetype=asset.mimetype)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response
