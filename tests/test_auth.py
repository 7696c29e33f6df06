"""Logging in, the first-login password change, throttling, CSRF and logging out (portal/auth/routes.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import time_machine
from sqlmodel import select

from portal.domain import accounts, notices
from portal.models import NoticeRead, Role, User
from tests.support.accounts import HA_NOI, PASSWORD, log_in, make_user
from tests.support.html import csrf_token, text_of

NEW_PASSWORD = "ChiSoCCHC2022moi"
WRONG_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."


def log_in_with_form(client, username: str, password: str, *, next_path: str | None = None, address: str = "127.0.0.1",
                     token: str | None = None):
    url = "/dang-nhap" + (f"?next={quote(next_path, safe='')}" if next_path is not None else "")
    data = {"username": username, "password": password}
    if token:
        data["csrf_token"] = token
    return client.post(url, data=data, environ_base={"REMOTE_ADDR": address})


def reload(session, user: User) -> User:
    session.expire_all()
    return session.get(User, user.id)


@pytest.fixture
def first_time_user(session) -> User:
    """A province account that has only its one-time password."""
    return make_user(session, "ha-noi", Role.PROVINCE, HA_NOI, must_change=True)


# ---------------------------------------------------------------- the login page


def test_login_page_is_titled_for_officials(client):
    response = client.get("/dang-nhap")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Đăng nhập dành cho cán bộ, công chức</h1>" in page
    assert "<title>Đăng nhập · Cổng Chỉ số CCHC</title>" in page


@pytest.mark.parametrize(
    ("role_fixture", "heading"),
    [
        ("ministry_user", "Bộ Nội vụ · Theo dõi Chỉ số CCHC"),
        ("province_user", "Thành phố Hà Nội"),
        ("it_focal_user", "Đầu mối kỹ thuật CNTT · Thành phố Hà Nội"),
    ],
)
def test_good_login_lands_on_the_role_home(request, client, role_fixture, heading):
    user = request.getfixturevalue(role_fixture)

    response = log_in_with_form(client, user.username, PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert f"<h1>{heading}</h1>" in home.get_data(as_text=True)


def test_user_name_is_read_without_case_or_surrounding_spaces(client, province_user):
    response = log_in_with_form(client, "  HA-NOI ", PASSWORD)

    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_login_starts_a_fresh_session(client, province_user):
    with client.session_transaction() as before:
        before["carried_over"] = "từ trước khi đăng nhập"

    log_in_with_form(client, "ha-noi", PASSWORD)

    with client.session_transaction() as after:
        assert "carried_over" not in after
        assert after["_user_id"] == province_user.get_id()


def test_login_records_when_it_happened(client, session, province_user):
    with time_machine.travel(datetime(2022, 1, 5, 2, 0, tzinfo=UTC), tick=False):
        log_in_with_form(client, "ha-noi", PASSWORD)

    assert reload(session, province_user).last_login_at == datetime(2022, 1, 5, 2, 0, tzinfo=UTC)


def test_session_cookie_is_http_only_and_same_site(client, province_user):
    response = log_in_with_form(client, "ha-noi", PASSWORD)

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("cchc_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_a_logged_in_visitor_of_the_login_page_is_sent_home(client, province_user):
    log_in(client, province_user)

    response = client.get("/dang-nhap")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(("username", "password"), [("ha-noi", "SaiMatKhau2021"), ("khong-co-ai", PASSWORD)])
def test_wrong_credentials_get_one_vietnamese_message_and_401(client, province_user, username, password):
    response = log_in_with_form(client, username, password)

    assert response.status_code == 401
    assert WRONG_CREDENTIALS in response.get_data(as_text=True)
    assert client.get("/").headers["Location"].startswith("/dang-nhap")


def test_empty_login_form_asks_for_both_fields(client):
    response = client.post("/dang-nhap", data={"username": "", "password": ""})

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Vui lòng nhập tên đăng nhập." in page
    assert "Vui lòng nhập mật khẩu." in page


def test_deactivated_account_cannot_log_in(client, session, province_user):
    province_user.is_active = False
    session.add(province_user)
    session.commit()

    response = log_in_with_form(client, "ha-noi", PASSWORD)

    assert response.status_code == 401
    assert "Tài khoản đã bị khóa. Vui lòng liên hệ Bộ Nội vụ." in response.get_data(as_text=True)


def test_deactivated_account_loses_its_open_session(client, session, province_user):
    log_in(client, province_user)
    province_user.is_active = False
    session.add(province_user)
    session.commit()

    response = client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dang-nhap")


# ---------------------------------------------------------------- the first-login password change


def test_first_login_goes_to_the_password_change(client, first_time_user):
    response = log_in_with_form(client, "ha-noi", PASSWORD, next_path="/thong-bao/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/doi-mat-khau"
    page = client.get("/doi-mat-khau").get_data(as_text=True)
    assert "Đây là lần đăng nhập đầu tiên với mật khẩu được cấp." in page


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", "/thong-bao/"),
                                              ("POST", "/thong-bao/da-doc-tat-ca"), ("GET", "/bo/tinh-thanh")])
def test_every_other_page_redirects_to_the_password_change_until_it_is_done(client, first_time_user, method, path):
    log_in(client, first_time_user)

    response = client.open(path, method=method)

    assert response.status_code == 302
    assert response.headers["Location"] == "/doi-mat-khau"


def test_htmx_requests_before_the_password_change_get_hx_redirect(client, first_time_user):
    log_in(client, first_time_user)

    response = client.get("/thong-bao/", headers={"HX-Request": "true"})

    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/doi-mat-khau"
    assert response.get_data() == b""


def test_the_header_menu_is_hidden_until_the_password_is_changed(client, first_time_user):
    log_in(client, first_time_user)

    page = client.get("/doi-mat-khau").get_data(as_text=True)

    assert 'aria-label="Chức năng chính"' not in page
    assert "Đăng xuất" in page


def test_a_first_time_user_can_still_log_out(client, first_time_user):
    log_in(client, first_time_user)

    response = client.post("/dang-xuat")

    assert response.headers["Location"] == "/dang-nhap"
    assert client.get("/doi-mat-khau").headers["Location"].startswith("/dang-nhap")


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("SaiMatKhau2021", NEW_PASSWORD, NEW_PASSWORD, "Mật khẩu hiện tại không đúng."),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "Hai lần nhập mật khẩu mới không khớp."),
        (PASSWORD, "abc1234", "abc1234", "Mật khẩu mới phải có ít nhất 10 ký tự."),
        (PASSWORD, "chisocaicachhanhchinh", "chisocaicachhanhchinh", "Mật khẩu mới phải có cả chữ và số."),
        (PASSWORD, "20222022202220", "20222022202220", "Mật khẩu mới phải có cả chữ và số."),
        (PASSWORD, "HA-NOI-2022-moi", "HA-NOI-2022-moi", "Mật khẩu mới không được chứa tên đăng nhập."),
        (PASSWORD, PASSWORD, PASSWORD, "Mật khẩu mới phải khác mật khẩu hiện tại."),
    ],
)
def test_password_policy_refuses_with_a_message_and_changes_nothing(client, session, first_time_user, current, new,
                                                                    confirm, message):
    log_in(client, first_time_user)
    old_hash = first_time_user.password_hash

    response = client.post("/doi-mat-khau", data={"current": current, "new": new, "confirm": confirm})

    assert response.status_code == 422
    assert message in text_of(response.get_data(as_text=True))
    after = reload(session, first_time_user)
    assert after.password_hash == old_hash
    assert after.must_change_password is True


def test_empty_password_change_form_asks_for_every_field(client, first_time_user):
    log_in(client, first_time_user)

    response = client.post("/doi-mat-khau", data={"current": "", "new": "", "confirm": ""})

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in ("Vui lòng nhập mật khẩu hiện tại.", "Vui lòng nhập mật khẩu mới.",
                    "Vui lòng nhập lại mật khẩu mới."):
        assert message in page


def test_after_the_change_the_user_lands_on_the_province_home(client, session, first_time_user):
    log_in_with_form(client, "ha-noi", PASSWORD)

    response = client.post("/doi-mat-khau", data={"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "<h1>Thành phố Hà Nội</h1>" in home
    assert "Đã đổi mật khẩu. Chào mừng bạn đến với Cổng Chỉ số CCHC." in home
    after = reload(session, first_time_user)
    assert after.must_change_password is False
    assert after.password_changed_at is not None
    assert accounts.verify_password(after.password_hash, NEW_PASSWORD)


def test_after_the_change_only_the_new_password_logs_in(app, client, first_time_user):
    log_in(client, first_time_user)
    client.post("/doi-mat-khau", data={"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert log_in_with_form(app.test_client(), "ha-noi", PASSWORD).status_code == 401
    assert log_in_with_form(app.test_client(), "ha-noi", NEW_PASSWORD).headers["Location"] == "/"


def test_changing_the_password_ends_the_sessions_of_other_browsers(app, client, province_user):
    this_browser, other_browser = client, app.test_client()
    log_in_with_form(this_browser, "ha-noi", PASSWORD)
    log_in_with_form(other_browser, "ha-noi", PASSWORD)
    assert other_browser.get("/").status_code == 200

    this_browser.post("/doi-mat-khau", data={"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert this_browser.get("/").status_code == 200
    stale = other_browser.get("/")
    assert stale.status_code == 302
    assert stale.headers["Location"].startswith("/dang-nhap")


# ---------------------------------------------------------------- throttling


ATTACKER, OWNER = "198.51.100.66", "203.0.113.9"


def test_wrong_passwords_from_one_address_hold_back_that_address_only(app, client, session, province_user):
    started = datetime(2022, 1, 5, 2, 0, tzinfo=UTC)
    with time_machine.travel(started, tick=False) as clock:
        for _ in range(app.config["LOGIN_MAX_FAILURES"]):
            wrong = log_in_with_form(client, "ha-noi", "SaiMatKhau2021", address=ATTACKER)
            assert wrong.status_code == 401
            assert WRONG_CREDENTIALS in wrong.get_data(as_text=True)

        held = log_in_with_form(app.test_client(), "ha-noi", PASSWORD, address=ATTACKER)
        assert held.status_code == 401
        assert ("Đã nhập sai mật khẩu nhiều lần từ máy này. Vui lòng thử lại sau 15 phút. Tài khoản không bị khóa"
                in held.get_data(as_text=True))

        # The province's own officer, elsewhere, is not locked out by the stranger, and is told about it.
        owner = app.test_client()
        assert log_in_with_form(owner, "ha-noi", PASSWORD, address=OWNER).headers["Location"] == "/"
        assert ("có 6 lần thử đăng nhập sai mật khẩu vào tài khoản này từ nơi khác"
                in owner.get("/").get_data(as_text=True))

        clock.shift(timedelta(minutes=10))
        still = log_in_with_form(app.test_client(), "ha-noi", PASSWORD, address=ATTACKER)
        assert "Vui lòng thử lại sau 5 phút." in still.get_data(as_text=True)

        clock.shift(timedelta(minutes=5, seconds=1))
        lifted = log_in_with_form(app.test_client(), "ha-noi", PASSWORD, address=ATTACKER)
        assert lifted.status_code == 302
        assert lifted.headers["Location"] == "/"


def test_past_the_account_wide_ceiling_an_address_that_failed_is_slowed_and_a_fresh_one_gets_in(
        app_config, request):
    app_config.update(LOGIN_ACCOUNT_CEILING=6, LOGIN_SLOWDOWN_SECONDS=30)
    app = request.getfixturevalue("app")
    request.getfixturevalue("province_user")
    started = datetime(2022, 1, 5, 2, 0, tzinfo=UTC)
    with time_machine.travel(started, tick=False) as clock:
        for number in range(6):  # spread over three addresses: none reaches its own limit of five
            log_in_with_form(app.test_client(), "ha-noi", "SaiMatKhau2021", address=f"192.0.2.{number % 3 + 1}")

        slowed = log_in_with_form(app.test_client(), "ha-noi", PASSWORD, address="192.0.2.1")
        assert slowed.status_code == 401
        assert "Vui lòng thử lại sau 30 giây." in slowed.get_data(as_text=True)
        assert log_in_with_form(app.test_client(), "ha-noi", PASSWORD, address=OWNER).status_code == 302

        clock.shift(timedelta(seconds=31))
        assert log_in_with_form(app.test_client(), "ha-noi", PASSWORD, address="192.0.2.1").status_code == 302


def test_a_good_login_clears_the_count_of_wrong_passwords_of_its_address(app, client, session, province_user):
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        log_in_with_form(client, "ha-noi", "SaiMatKhau2021")

    log_in_with_form(client, "ha-noi", PASSWORD)
    client.post("/dang-xuat")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        wrong_again = log_in_with_form(client, "ha-noi", "SaiMatKhau2021")
        assert WRONG_CREDENTIALS in wrong_again.get_data(as_text=True)

    assert log_in_with_form(client, "ha-noi", PASSWORD).status_code == 302


@pytest.fixture
def limited_client(app_config, request):
    """A client of an app that allows three login posts a minute per address."""
    app_config["RATELIMIT_ENABLED"] = True
    app_config["LOGIN_RATE_PER_ADDRESS"] = "3 per minute"
    return request.getfixturevalue("client")


def test_too_many_logins_from_one_address_get_the_friendly_429_page(limited_client, province_user):
    for _ in range(3):
        assert log_in_with_form(limited_client, "khong-co-ai", "SaiMatKhau2021").status_code == 401

    response = log_in_with_form(limited_client, "ha-noi", PASSWORD)

    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "<h1>Thao tác quá nhiều lần</h1>" in page
    assert "Vui lòng đợi vài phút rồi thử lại." in page
    assert "Về trang chủ" in page
    assert limited_client.get("/").headers["Location"].startswith("/dang-nhap")


def test_the_address_limit_leaves_other_addresses_and_the_login_page_alone(limited_client, province_user):
    for _ in range(4):
        log_in_with_form(limited_client, "khong-co-ai", "SaiMatKhau2021", address="10.1.1.1")

    assert limited_client.get("/dang-nhap", environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 200
    assert log_in_with_form(limited_client, "ha-noi", PASSWORD, address="10.2.2.2").status_code == 302


# ---------------------------------------------------------------- CSRF



def test_login_without_a_csrf_token_is_refused_with_the_vietnamese_page(csrf_client, province_user):
    response = log_in_with_form(csrf_client, "ha-noi", PASSWORD)

    assert response.status_code == 400
    assert "<h1>Phiên làm việc đã hết hạn</h1>" in response.get_data(as_text=True)
    assert csrf_client.get("/").headers["Location"].startswith("/dang-nhap")


def test_login_with_the_token_from_the_page_works(csrf_client, province_user):
    token = csrf_token(csrf_client.get("/dang-nhap").get_data(as_text=True))

    response = log_in_with_form(csrf_client, "ha-noi", PASSWORD, token=token)

    assert response.status_code == 302
    assert csrf_client.get("/").status_code == 200


def test_marking_a_notice_read_without_a_token_changes_nothing(csrf_client, session, province_user):
    notice = notices.post_system_notice(session, HA_NOI, "Danh sách đã được Bộ Nội vụ tiếp nhận")
    log_in(csrf_client, province_user)

    response = csrf_client.post(f"/thong-bao/{notice.id}/da-doc")

    assert response.status_code == 400
    assert "Phiên làm việc đã hết hạn" in response.get_data(as_text=True)
    assert session.exec(select(NoticeRead)).all() == []


def test_marking_a_notice_read_with_the_token_from_the_page_works(csrf_client, session, province_user):
    notice = notices.post_system_notice(session, HA_NOI, "Danh sách đã được Bộ Nội vụ tiếp nhận")
    log_in(csrf_client, province_user)
    token = csrf_token(csrf_client.get("/thong-bao/").get_data(as_text=True))

    response = csrf_client.post(f"/thong-bao/{notice.id}/da-doc", data={"csrf_token": token})

    assert response.status_code == 302
    assert [(r.notice_id, r.user_id) for r in session.exec(select(NoticeRead))] == [(notice.id, province_user.id)]


def test_htmx_posts_carry_the_token_in_a_header(csrf_client, session, province_user):
    notice = notices.post_system_notice(session, HA_NOI, "Danh sách đã được Bộ Nội vụ tiếp nhận")
    log_in(csrf_client, province_user)
    page = csrf_client.get("/thong-bao/").get_data(as_text=True)
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]

    response = csrf_client.post(f"/thong-bao/{notice.id}/da-doc",
                                headers={"HX-Request": "true", "X-CSRFToken": token})

    assert response.status_code == 200
    assert len(session.exec(select(NoticeRead)).all()) == 1


def test_password_change_without_a_token_changes_nothing(csrf_client, session, first_time_user):
    log_in(csrf_client, first_time_user)

    response = csrf_client.post("/doi-mat-khau",
                                data={"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert response.status_code == 400
    after = reload(session, first_time_user)
    assert after.password_hash == first_time_user.password_hash
    assert after.must_change_password is True


# ---------------------------------------------------------------- logging out and `next`


def test_logout_is_post_only(client, province_user):
    log_in(client, province_user)

    response = client.get("/dang-xuat")

    assert response.status_code == 405
    assert client.get("/").status_code == 200


def test_logout_ends_the_session(client, province_user):
    log_in_with_form(client, "ha-noi", PASSWORD)

    response = client.post("/dang-xuat")

    assert response.status_code == 302
    assert response.headers["Location"] == "/dang-nhap"
    assert "Bạn đã đăng xuất." in client.get("/dang-nhap").get_data(as_text=True)
    again = client.get("/")
    assert again.status_code == 302
    assert again.headers["Location"] == "/dang-nhap?next=/"


def _session_cookie(app, client) -> str:
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value


def test_a_session_cookie_replayed_after_logout_is_refused(app, client, province_user):
    log_in_with_form(client, "ha-noi", PASSWORD)
    stolen = _session_cookie(app, client)

    client.post("/dang-xuat")
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen)
    replayed = thief.get("/")

    assert replayed.status_code == 302
    assert replayed.headers["Location"].startswith("/dang-nhap")


def test_logging_out_ends_the_accounts_sessions_in_other_browsers_too(app, client, province_user):
    other_browser = app.test_client()
    log_in_with_form(client, "ha-noi", PASSWORD)
    log_in_with_form(other_browser, "ha-noi", PASSWORD)

    client.post("/dang-xuat")

    assert other_browser.get("/").headers["Location"].startswith("/dang-nhap")
    assert log_in_with_form(client, "ha-noi", PASSWORD).headers["Location"] == "/"


def test_an_administrators_password_reset_ends_the_accounts_open_sessions(app, client, session, ministry_user,
                                                                         province_user):
    log_in_with_form(client, "ha-noi", PASSWORD)

    accounts.reset_password(session, ministry_user, session.get(User, province_user.id))

    assert client.get("/").headers["Location"].startswith("/dang-nhap")


@pytest.mark.parametrize("named", ["{id}:99999999999999999999:{tail}", "99999999999999999999:{version}:{tail}",
                                   "{id}:{version}:another-tail", "{id}:{later}:{tail}"],
                         ids=["version beyond any integer", "id beyond any integer", "another password",
                              "a version not reached yet"])
def test_a_session_naming_no_current_account_state_is_logged_out_not_an_error(client, province_user, named):
    with client.session_transaction() as sess:
        sess["_user_id"] = named.format(id=province_user.id, version=province_user.session_version,
                                        later=province_user.session_version + 1,
                                        tail=province_user.password_hash[-12:])

    response = client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dang-nhap")


def test_a_session_ends_after_its_absolute_lifetime_however_active(app, client, province_user):
    started = datetime(2022, 1, 5, 1, 0, tzinfo=UTC)
    with time_machine.travel(started, tick=False) as clock:
        log_in_with_form(client, "ha-noi", PASSWORD)
        for _ in range(app.config["PORTAL_SESSION_MAX_HOURS"] - 1):
            clock.shift(timedelta(hours=1))  # active every hour: the idle limit never ends it
            assert client.get("/").status_code == 200

        clock.shift(timedelta(hours=1, seconds=1))
        ended = client.get("/")

    assert ended.status_code == 302
    assert ended.headers["Location"].startswith("/dang-nhap")


def test_anonymous_visitor_returns_to_the_page_asked_for_after_login(client, province_user):
    asked = client.get("/thong-bao/")
    assert asked.headers["Location"] == "/dang-nhap?next=/thong-bao/"

    response = log_in_with_form(client, "ha-noi", PASSWORD, next_path="/thong-bao/")

    assert response.headers["Location"] == "/thong-bao/"


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example", "http://evil.example/dang-nhap", "/\\evil.example",
     "\\\\evil.example", "/\t/evil.example", "javascript:alert(1)", "evil.example", ""],
)
def test_next_cannot_send_the_user_off_site(client, province_user, target):
    response = log_in_with_form(client, "ha-noi", PASSWORD, next_path=target)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# ---------------------------------------------------------------- the ministry's reset, re-hashing


def test_the_ministry_resets_a_province_password_and_only_the_new_one_time_password_logs_in(
        app, client, session, ministry_user, province_user):
    log_in(client, ministry_user)

    page = client.post(f"/bo/tinh-thanh/{HA_NOI}/cap-lai-mat-khau/{province_user.id}")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Đã cấp lại mật khẩu</h1>" in html and "<strong>ha-noi</strong> (Thành phố Hà Nội)" in html
    [one_time] = re.findall(r'<p class="otp"><code>([^<]+)</code></p>', html)
    assert reload(session, province_user).must_change_password
    province = app.test_client()
    assert WRONG_CREDENTIALS in text_of(log_in_with_form(province, "ha-noi", PASSWORD).get_data(as_text=True))
    logged_in = log_in_with_form(province, "ha-noi", one_time)
    assert logged_in.status_code == 302 and logged_in.headers["Location"].startswith("/doi-mat-khau")


def test_a_login_after_the_hashing_cost_was_raised_stores_the_password_at_the_new_cost(
        app_config, session, province_user):
    from portal import create_app

    assert "$argon2id$v=19$m=8,t=1,p=1$" in reload(session, province_user).password_hash
    dearer = create_app({**app_config, "PASSWORD_HASH_TIME_COST": 2, "PASSWORD_HASH_MEMORY_KIB": 16})
    try:
        assert log_in_with_form(dearer.test_client(), "ha-noi", PASSWORD).status_code == 302
        rehashed = reload(session, province_user).password_hash
        assert "$argon2id$v=19$m=16,t=2,p=1$" in rehashed
        assert accounts.verify_password(rehashed, PASSWORD)
    finally:
        accounts.configure_hasher(app_config.get("PASSWORD_HASH_TIME_COST", 1),
                                  app_config.get("PASSWORD_HASH_MEMORY_KIB", 8))
