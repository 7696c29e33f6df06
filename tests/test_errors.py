"""Friendly Vietnamese error pages, and fragments for HTMX requests (portal/errors.py)."""

from __future__ import annotations

import pytest

from tests.support.accounts import log_in
from tests.support.html import text_of

HTMX = {"HX-Request": "true"}


def assert_error_page(response, status: int, title: str) -> None:
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert '<html lang="vi">' in page
    assert f"<h1>{title}</h1>" in page
    assert f"Mã lỗi {status}" in text_of(page)
    assert '<a class="button" href="/">Về trang chủ</a>' in page


def assert_error_fragment(response, status: int, title: str) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.headers["HX-Retarget"] == "#flash"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert "<html" not in body
    assert body.startswith('<p class="msg msg-error" role="alert">')
    assert f"<strong>{title}.</strong>" in body


# ---------------------------------------------------------------- 404


def test_unknown_address_is_a_vietnamese_404_page(client):
    assert_error_page(client.get("/khong-co-trang-nay"), 404, "Không tìm thấy trang")


def test_unknown_address_for_htmx_is_a_404_fragment(client):
    assert_error_fragment(client.get("/khong-co-trang-nay", headers=HTMX), 404, "Không tìm thấy trang")


def test_a_missing_row_is_the_same_404_page(client, province_user):
    log_in(client, province_user)

    assert_error_page(client.post("/thong-bao/999999/da-doc"), 404, "Không tìm thấy trang")


# ---------------------------------------------------------------- 403


def test_forbidden_page_is_a_vietnamese_403_page(client, province_user):
    log_in(client, province_user)

    assert_error_page(client.get("/bo/tinh-thanh"), 403, "Không có quyền truy cập")


def test_forbidden_htmx_request_is_a_403_fragment(client, province_user):
    log_in(client, province_user)

    assert_error_fragment(client.get("/bo/tinh-thanh", headers=HTMX), 403, "Không có quyền truy cập")


# ---------------------------------------------------------------- 405


def test_wrong_method_is_a_vietnamese_405_page_naming_the_allowed_ones(client, province_user):
    log_in(client, province_user)

    response = client.get("/dang-xuat")

    assert_error_page(response, 405, "Thao tác không được hỗ trợ")
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


def test_wrong_method_for_htmx_is_a_405_fragment(client, province_user):
    log_in(client, province_user)

    assert_error_fragment(client.get("/dang-xuat", headers=HTMX), 405, "Thao tác không được hỗ trợ")


# ---------------------------------------------------------------- 413


@pytest.fixture
def small_upload_client(app_config, request):
    app_config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    return request.getfixturevalue("client")


def test_too_large_a_post_is_a_vietnamese_413_page_with_the_limit(small_upload_client):
    response = small_upload_client.post("/dang-nhap", data={"username": "ha-noi", "password": "x" * (3 * 1024 * 1024)})

    assert_error_page(response, 413, "Tệp quá lớn")
    assert "vượt quá dung lượng cho phép (2 MB)" in response.get_data(as_text=True)


def test_too_large_an_htmx_post_is_a_413_fragment(small_upload_client):
    response = small_upload_client.post("/dang-nhap", data={"password": "x" * (3 * 1024 * 1024)}, headers=HTMX)

    assert_error_fragment(response, 413, "Tệp quá lớn")


@pytest.fixture
def tiny_upload_client(app_config, request):
    app_config["MAX_CONTENT_LENGTH"] = 512 * 1024
    return request.getfixturevalue("client")


def test_a_limit_below_one_megabyte_is_shown_in_kilobytes(tiny_upload_client):
    response = tiny_upload_client.post("/dang-nhap", data={"password": "x" * (600 * 1024)})

    assert response.status_code == 413
    assert "vượt quá dung lượng cho phép (512 KB)" in response.get_data(as_text=True)


# ---------------------------------------------------------------- 500


@pytest.fixture
def broken_app(app_config, request):
    """The app as deployed (exceptions not propagated), with one route that fails."""
    app_config["TESTING"] = False
    app_config["PROPAGATE_EXCEPTIONS"] = False
    application = request.getfixturevalue("app")

    def broken():
        raise RuntimeError("lỗi thử nghiệm")

    application.add_url_rule("/hong", "broken", broken)
    return application


def test_an_unexpected_error_is_a_vietnamese_500_page(broken_app, province_user, caplog):
    client = broken_app.test_client()
    log_in(client, province_user)

    response = client.get("/hong")

    assert_error_page(response, 500, "Đã xảy ra lỗi")
    assert "Dữ liệu đã lưu trước đó không bị ảnh hưởng." in response.get_data(as_text=True)
    assert "lỗi thử nghiệm" not in response.get_data(as_text=True)
    assert any(record.exc_info and "lỗi thử nghiệm" in str(record.exc_info[1]) for record in caplog.records)


def test_an_unexpected_error_in_an_htmx_request_is_a_500_fragment(broken_app, province_user):
    client = broken_app.test_client()
    log_in(client, province_user)

    assert_error_fragment(client.get("/hong", headers=HTMX), 500, "Đã xảy ra lỗi")


def test_the_portal_keeps_working_after_an_error(broken_app, province_user):
    client = broken_app.test_client()
    log_in(client, province_user)
    client.get("/hong")

    home = client.get("/")
    assert home.status_code == 200
    assert "Tài khoản của Ủy ban nhân dân Thành phố Hà Nội" in text_of(home.get_data(as_text=True))


# ---------------------------------------------------------------- CSRF



def test_missing_csrf_token_is_a_vietnamese_400_page(csrf_client):
    response = csrf_client.post("/dang-nhap", data={"username": "ha-noi", "password": "x"})

    assert_error_page(response, 400, "Phiên làm việc đã hết hạn")
    assert "Vui lòng tải lại trang và gửi lại" in response.get_data(as_text=True)


def test_missing_csrf_token_in_an_htmx_request_is_a_400_fragment(csrf_client, province_user):
    log_in(csrf_client, province_user)

    response = csrf_client.post("/thong-bao/da-doc-tat-ca", headers=HTMX)

    assert_error_fragment(response, 400, "Phiên làm việc đã hết hạn")


# ---------------------------------------------------------------- an expired session


def test_anonymous_htmx_request_to_a_protected_page_gets_hx_redirect_to_login(client):
    response = client.get("/thong-bao/", headers=HTMX)

    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/dang-nhap?next=/thong-bao/"
    assert response.get_data() == b""


def test_anonymous_htmx_post_gets_hx_redirect_without_next(client):
    response = client.post("/thong-bao/da-doc-tat-ca", headers=HTMX)

    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/dang-nhap"


def test_error_pages_are_not_cached(client):
    assert client.get("/khong-co-trang-nay").headers["Cache-Control"] == "no-store"
