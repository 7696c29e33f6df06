"""Pages for slow connections: hashed static files, compression, page weight, labels (portal/assets.py, templates)."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import brotli
import pytest

from portal.assets import htmx_path
from portal.domain import notices
from portal.models import Role
from tests.support.accounts import HA_NOI, PASSWORD, log_in, make_user
from tests.support.html import form_fields

STATIC = Path(__file__).resolve().parent.parent / "static"
ONE_YEAR = "public, max-age=31536000, immutable"
# The first round trip of TCP (10 segments) carries about 14 KB: a page within it shows after one exchange.
PAGE_BUDGET = 14 * 1024
HASHED = re.compile(r"/static/([\w.-]+?)\.([0-9a-f]{10})\.(css|js)")


def asset_urls(page: str) -> dict[str, str]:
    """{'portal.css': '/static/portal.<hash>.css', 'htmx.min.js': ...} as the page links them."""
    return {f"{stem}.{ext}": match for match, stem, ext in
            ((m.group(0), m.group(1), m.group(3)) for m in HASHED.finditer(page))}


def stylesheets(page: str) -> list[str]:
    return re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)


def gzip_weight(client, path: str) -> tuple[int, int]:
    """Bytes on the wire for `path` with gzip: (the HTML, the HTML plus its stylesheets). htmx is left aside:
    it is cached for a year after the first visit."""
    response = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    html = len(response.get_data())
    page = gzip.decompress(response.get_data()).decode("utf-8")
    css = 0
    for url in stylesheets(page):
        sheet = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert sheet.headers["Content-Encoding"] == "gzip"
        css += len(sheet.get_data())
    return html, html + css


# ---------------------------------------------------------------- static files


def notices_page(client, session, province_user) -> str:
    """A page that uses htmx: its notices are marked read with hx-post."""
    notices.post_notice(session, None, "Thông báo có nút đánh dấu đã đọc", "")
    log_in(client, province_user)
    return client.get("/thong-bao/").get_data(as_text=True)


def test_pages_link_static_files_by_content_hash(client, session, province_user):
    page = notices_page(client, session, province_user)

    urls = asset_urls(page)

    css_hash = hashlib.sha256((STATIC / "portal.css").read_bytes()).hexdigest()[:10]
    assert urls["portal.css"] == f"/static/portal.{css_hash}.css"
    htmx_hash = hashlib.sha256(htmx_path().read_bytes()).hexdigest()[:10]
    assert urls["htmx.min.js"] == f"/static/htmx.min.{htmx_hash}.js"


def test_static_file_is_cached_for_a_year(client):
    url = asset_urls(client.get("/dang-nhap").get_data(as_text=True))["portal.css"]

    response = client.get(url)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == ONE_YEAR
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == (STATIC / "portal.css").read_bytes()


@pytest.mark.parametrize(
    ("accept", "encoding", "decompress"),
    [("gzip", "gzip", gzip.decompress), ("gzip, deflate, br", "br", brotli.decompress),
     ("br", "br", brotli.decompress), ("br;q=0, gzip", "gzip", gzip.decompress)],
)
def test_static_file_is_sent_compressed_as_the_browser_accepts(client, accept, encoding, decompress):
    url = asset_urls(client.get("/dang-nhap").get_data(as_text=True))["portal.css"]

    response = client.get(url, headers={"Accept-Encoding": accept})

    assert response.headers["Content-Encoding"] == encoding
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Cache-Control"] == ONE_YEAR
    assert decompress(response.get_data()) == (STATIC / "portal.css").read_bytes()


def test_static_file_of_a_logged_in_page_carries_no_session_cookie(client, province_user):
    """A response every cache may keep for a year must not carry a person's session, nor vary by cookie."""
    client.post("/dang-nhap", data={"username": "ha-noi", "password": PASSWORD})
    urls = asset_urls(client.get("/").get_data(as_text=True))

    for url in urls.values():
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert response.headers["Vary"] == "Accept-Encoding"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_file_answers_head_without_a_body(client):
    url = asset_urls(client.get("/dang-nhap").get_data(as_text=True))["portal.css"]

    response = client.head(url)

    assert response.status_code == 200
    assert response.get_data() == b""
    assert response.headers["Content-Length"] == str((STATIC / "portal.css").stat().st_size)


@pytest.mark.parametrize("path", ["/static/portal.0000000000.css", "/static/portal.css", "/static/../config.py",
                                  "/static/htmx.min.js"])
def test_unknown_static_name_is_404(client, path):
    assert client.get(path).status_code == 404


def test_htmx_is_served_by_the_portal(client, session, province_user):
    page = notices_page(client, session, province_user)
    src = re.search(r'<script src="([^"]+)" defer></script>', page).group(1)

    response = client.get(src, headers={"Accept-Encoding": "br"})

    assert src.startswith("/static/htmx.min.")
    assert response.status_code == 200
    assert response.headers["Content-Type"] in {"text/javascript; charset=utf-8",
                                                "application/javascript; charset=utf-8"}
    body = brotli.decompress(response.get_data())
    assert body.startswith(b"var htmx=function(){")
    assert body == htmx_path().read_bytes()


def test_htmx_is_served_precompressed_with_gzip_too(client, session, province_user):
    src = asset_urls(notices_page(client, session, province_user))["htmx.min.js"]

    response = client.get(src, headers={"Accept-Encoding": "gzip"})

    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == ONE_YEAR
    assert gzip.decompress(response.get_data()) == htmx_path().read_bytes()


def test_login_page_does_not_load_htmx(client):
    page = client.get("/dang-nhap").get_data(as_text=True)

    assert "htmx" not in page
    assert "<script" not in page
    assert "hx-" not in page
    assert list(asset_urls(page)) == ["portal.css"]


@pytest.mark.parametrize("role", ["province_user", "it_focal_user", "ministry_user"])
def test_home_pages_without_htmx_attributes_do_not_load_htmx(client, request, role):
    log_in(client, request.getfixturevalue(role))

    page = client.get("/").get_data(as_text=True)

    assert "hx-" not in page
    assert "htmx" not in page


def test_a_page_with_htmx_attributes_loads_htmx_and_sends_its_csrf_header(client, session, province_user):
    page = notices_page(client, session, province_user)

    assert 'hx-post="' in page
    assert '<script src="/static/htmx.min.' in page
    assert '<body hx-headers=\'{"X-CSRFToken": "' in page


# ---------------------------------------------------------------- compressed pages and their weight


@pytest.mark.parametrize(("accept", "encoding"), [("gzip", "gzip"), ("br", "br"), ("gzip, br", "br")])
def test_html_pages_are_compressed(client, accept, encoding):
    response = client.get("/dang-nhap", headers={"Accept-Encoding": accept})

    assert response.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in response.headers["Vary"]


def test_html_is_sent_plain_when_compression_is_not_accepted(client):
    response = client.get("/dang-nhap", headers={"Accept-Encoding": ""})

    assert "Content-Encoding" not in response.headers
    assert "Đăng nhập dành cho cán bộ, công chức" in response.get_data(as_text=True)


def test_login_page_weighs_under_14_kb_with_gzip(client, artifacts_dir):
    html, with_css = gzip_weight(client, "/dang-nhap")
    page = client.get("/dang-nhap").get_data(as_text=True)

    assert asset_urls(page).keys() == {"portal.css"}  # nothing but its own HTML and CSS
    (artifacts_dir / "page-weight-login.txt").write_text(f"html {html} B, with stylesheet {with_css} B (gzip)\n")
    assert with_css < PAGE_BUDGET


def test_province_home_weighs_under_14_kb_with_gzip(client, session, province_user, artifacts_dir):
    for n in range(8):  # more than the five the home page shows, with long titles
        notices.post_notice(session, None, f"Thông báo số {n}: nhắc các tỉnh, thành phố hoàn thành đúng hạn " * 2, "")
    log_in(client, province_user)

    html, with_css = gzip_weight(client, "/")

    (artifacts_dir / "page-weight-province-home.txt").write_text(
        f"html {html} B, with stylesheet {with_css} B (gzip)\n")
    assert with_css < PAGE_BUDGET


# ---------------------------------------------------------------- health


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


# ---------------------------------------------------------------- language and labels

PAGES = [
    ("anonymous", "/dang-nhap"),
    ("first_time", "/doi-mat-khau"),
    ("province_user", "/"),
    ("province_user", "/thong-bao/"),
    ("province_user", "/doi-mat-khau"),
    ("it_focal_user", "/"),
    ("ministry_user", "/"),
    ("ministry_user", "/bo/thong-bao"),
    ("ministry_user", "/bo/chien-dich"),
    ("ministry_user", "/bo/tinh-thanh"),
    ("ministry_user", f"/bo/tinh-thanh/{HA_NOI}"),
    ("ministry_user", "/bo/nhat-ky"),
    ("anonymous", "/khong-co-trang-nay"),  # the 404 page is a page too
]


@pytest.fixture
def visitor(request, client, session):
    """Log the client in as the role named by the test's `role` parameter."""
    def as_role(role: str):
        if role == "first_time":
            log_in(client, make_user(session, "quang-ninh", Role.PROVINCE, 22, must_change=True))
        elif role != "anonymous":
            log_in(client, request.getfixturevalue(role))
        return client
    return as_role


@pytest.mark.parametrize(("role", "path"), PAGES, ids=[f"{role} {path}" for role, path in PAGES])
def test_every_page_is_in_vietnamese_and_labels_every_field(visitor, session, role, path):
    notices.post_notice(session, None, "Thông báo có nút đánh dấu đã đọc", "")
    client = visitor(role)

    response = client.get(path)

    assert response.status_code == (404 if path == "/khong-co-trang-nay" else 200)
    fields = form_fields(response.get_data(as_text=True))
    assert fields.html_lang == "vi"
    assert fields.unlabelled() == []


def test_the_label_check_finds_an_unlabelled_field():
    """The check above is only worth something if it can fail."""
    page = '<html lang="vi"><label for="a">A</label><input id="a"><input id="b" name="b"><input type="hidden">'

    assert form_fields(page).unlabelled() == ["b"]


def test_the_label_check_accepts_a_field_inside_its_label():
    page = '<html lang="vi"><label><input type="checkbox" name="province_ids"> Hà Nội</label>'

    assert form_fields(page).unlabelled() == []
