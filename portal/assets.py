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
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import brotli
from flask import Blueprint, Flask, Response, abort, current_app, request
from werkzeug.http import parse_accept_header

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

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
    by_hashed = {asset.hashed_name: asset for asset in by_name.values()}
    app.extensions["assets"] = {"by_name": by_name, "by_hashed": by_hashed}

    def asset_url(name: str) -> str:
        return f"/static/{by_name[name].hashed_name}"

    app.jinja_env.globals["asset"] = asset_url
    app.register_blueprint(bp)
    app.wsgi_app = ServeAssets(app.wsgi_app, by_hashed)  # type: ignore[method-assign]


def asset_response(asset: Asset, accept_encoding: str) -> Response:
    """The asset in the best encoding the browser accepts, cacheable by anyone for a year."""
    accepted = parse_accept_header(accept_encoding)
    body, encoding = asset.body, None
    if accepted.quality("br") > 0:
        body, encoding = asset.br_body, "br"
    elif accepted.quality("gzip") > 0:
        body, encoding = asset.gzip_body, "gzip"
    response = Response(body, content_type=asset.mimetype)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class ServeAssets:
    """A WSGI layer in front of the portal that answers hashed static files before Flask runs.

    Nothing of the request machinery is touched: no session, so no `Set-Cookie` with a person's session
    and no `Vary: Cookie` on a response that every cache may keep for a year (the session cookie changes
    on each request, which would make browsers fetch htmx again and again); no login check, no database.
    Other paths, and unknown names under /static/ (answered 404 by the view below), go on to the portal.
    """

    def __init__(self, wsgi_app: WSGIApplication, by_hashed: dict[str, Asset]) -> None:
        self.wsgi_app = wsgi_app
        self.by_hashed = by_hashed

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if path.startswith("/static/") and environ.get("REQUEST_METHOD") in {"GET", "HEAD"}:
            asset = self.by_hashed.get(path[len("/static/"):])
            if asset is not None:
                return asset_response(asset, environ.get("HTTP_ACCEPT_ENCODING", ""))(environ, start_response)
        return self.wsgi_app(environ, start_response)


@bp.get("/static/<path:filename>")
def static(filename: str) -> Response:
    asset = current_app.extensions["assets"]["by_hashed"].get(filename)
    if asset is None:
        abort(404)
    return asset_response(asset, request.headers.get("Accept-Encoding", ""))
