"""A province officer's first visit: log in, forced to change the password, land on the province home."""

import pytest
from playwright.sync_api import Page, expect

from portal.models import Role
from tests.support.accounts import PASSWORD, make_user

pytestmark = pytest.mark.browser


def test_province_officer_changes_first_password_and_lands_on_home(
    page: Page, live_server, session, artifacts_dir, database
):
    make_user(session, "ha-noi", Role.PROVINCE, 1, must_change=True)

    page.goto(live_server + "/")
    expect(page.get_by_role("heading", name="Đăng nhập dành cho cán bộ, công chức")).to_be_visible()
    page.get_by_label("Tên đăng nhập").fill("ha-noi")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.screenshot(path=str(artifacts_dir / f"first-login-1-login-{database.url.split(':')[0]}.png"))
    page.get_by_role("button", name="Đăng nhập").click()

    expect(page.get_by_role("heading", name="Đổi mật khẩu")).to_be_visible()
    expect(page.get_by_text("lần đăng nhập đầu tiên")).to_be_visible()
    page.goto(live_server + "/thong-bao/")  # any other page sends the officer back
    expect(page).to_have_url(live_server + "/doi-mat-khau")
    page.get_by_label("Mật khẩu hiện tại").fill(PASSWORD)
    page.get_by_label("Mật khẩu mới", exact=True).fill("HaNoi2022moi")
    page.get_by_label("Nhập lại mật khẩu mới").fill("HaNoi2022moi")
    page.screenshot(path=str(artifacts_dir / f"first-login-2-change-{database.url.split(':')[0]}.png"))
    page.get_by_role("button", name="Lưu mật khẩu mới").click()

    expect(page.get_by_role("heading", name="Thành phố Hà Nội")).to_be_visible()
    expect(page.get_by_text("Đã đổi mật khẩu.")).to_be_visible()
    expect(page.get_by_role("heading", name="Các mốc thời hạn")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / f"first-login-3-home-{database.url.split(':')[0]}.png"), full_page=True)
