"""Helpers for the browser journeys (tests/browser/): logging in through the form, screenshots for review.

    log_in(page, live_server, "ha-noi")                       # the login form, CSRF token and all
    screenshot(page, artifacts_dir, "list-1-upload", database)  # test-artifacts/list-1-upload-sqlite.png
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.accounts import PASSWORD
from tests.support.database import PreparedDatabase


def log_in(page: Page, live_server: str, username: str, password: str = PASSWORD) -> None:
    """Log in with the form, as a person does, and wait until the staff header shows "Đăng xuất"."""
    page.goto(live_server + "/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()


def screenshot(page: Page, artifacts_dir: Path, name: str, database: PreparedDatabase, *,
               full_page: bool = True) -> None:
    """`<name>-<backend>.png` in the artifacts folder (full_page=False: the window as the person sees it)."""
    backend = database.url.split(":")[0].split("+")[0]
    page.screenshot(path=str(artifacts_dir / f"{name}-{backend}.png"), full_page=full_page)
