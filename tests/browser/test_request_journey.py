"""A province asks for an extension in Chromium, the ministry grants it, the province sees its new deadline.

CSRF protection is on, as in production: every form the journey posts carries the token the page gave it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from portal.domain.campaigns import current_campaign
from portal.models import Role
from tests.support.accounts import make_user
from tests.support.browser import log_in, screenshot

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def app_config(app_config: dict, tmp_path) -> dict:
    return {**app_config, "PORTAL_FILES_DIR": str(tmp_path / "tep")}




def test_a_province_asks_for_an_extension_and_the_ministry_grants_it(
    page: Page, live_server, session, artifacts_dir, database, tmp_path
):
    make_user(session, "ha-noi", Role.PROVINCE, 1)
    make_user(session, "bonoivu", Role.MINISTRY)
    # The journey runs in real time: the list deadline passed yesterday (the database is reset after the test).
    campaign = current_campaign(session)
    campaign.list_deadline = date.today() - timedelta(days=1)
    session.add(campaign)
    session.commit()
    wanted, granted = date.today() + timedelta(days=10), date.today() + timedelta(days=7)
    letter = tmp_path / "Cong van de nghi gia han.pdf"
    letter.write_bytes(PDF)

    # The province finds its list locked, and the way to ask.
    log_in(page, live_server, "ha-noi")
    page.get_by_role("link", name="Nhập danh sách đối tượng").click()
    expect(page.get_by_text("Đã hết hạn gửi danh sách").first).to_be_visible()
    screenshot(page, artifacts_dir, "request-1-locked", database)
    page.get_by_role("link", name="Gửi đề nghị gia hạn").first.click()
    expect(page.get_by_role("heading", name="Gửi đề nghị đến Bộ Nội vụ")).to_be_visible()
    expect(page.get_by_label("Gia hạn gửi danh sách đối tượng khảo sát")).to_be_checked()
    page.get_by_label("Đề nghị gia hạn đến ngày").fill(f"{wanted:%d/%m/%Y}")
    page.get_by_label("Lý do").fill("Sáp nhập hai sở; cần thêm thời gian cập nhật lãnh đạo sở mới.")
    page.get_by_label("Văn bản, ảnh chụp kèm theo").set_input_files(str(letter))
    screenshot(page, artifacts_dir, "request-2-ask", database)
    page.get_by_role("button", name="Gửi đề nghị").click()
    expect(page.get_by_text("Đã gửi đề nghị đến Bộ Nội vụ.")).to_be_visible()
    expect(page.get_by_text("Chờ trả lời")).to_be_visible()
    page.get_by_role("button", name="Đăng xuất").click()

    # The ministry sees it waiting on its home page, opens it and grants a shorter extension.
    log_in(page, live_server, "bonoivu")
    expect(page.get_by_text("1 đề nghị chờ trả lời")).to_be_visible()
    page.get_by_role("link", name="Xem và trả lời đề nghị").click()
    page.get_by_role("link", name="Gia hạn gửi danh sách đối tượng khảo sát").click()
    expect(page.get_by_role("link", name="Cong van de nghi gia han.pdf")).to_be_visible()
    page.get_by_label("Chấp thuận (gia hạn ngay)").check()
    page.get_by_label("Gia hạn đến ngày").fill(f"{granted:%d/%m/%Y}")
    page.get_by_label("Nội dung trả lời").fill("Đồng ý gia hạn một tuần.")
    screenshot(page, artifacts_dir, "request-3-grant", database)
    page.get_by_role("button", name="Gửi trả lời").click()
    expect(page.get_by_text("Đã trả lời đề nghị")).to_be_visible()
    expect(page.get_by_text(f"Hạn mới: {granted:%d/%m/%Y}")).to_be_visible()
    page.goto(live_server + "/")
    expect(page.get_by_text("0 đề nghị chờ trả lời")).to_be_visible()
    page.get_by_role("button", name="Đăng xuất").click()

    # The province is told, and its list opens again until the new day.
    log_in(page, live_server, "ha-noi")
    expect(page.get_by_text(f"Bộ Nội vụ gia hạn gửi danh sách đến {granted:%d/%m/%Y}").first).to_be_visible()
    page.get_by_role("link", name="Nhập danh sách đối tượng").click()
    expect(page.get_by_text(f"Hạn gửi danh sách: {granted:%d/%m/%Y}")).to_be_visible()
    expect(page.get_by_text("đã được Bộ Nội vụ gia hạn")).to_be_visible()
    expect(page.get_by_role("button", name="Tải lên và kiểm tra")).to_be_visible()
    screenshot(page, artifacts_dir, "request-4-new-deadline", database)
    page.get_by_role("link", name="Đề nghị", exact=True).click()
    expect(page.get_by_text("Đã chấp thuận")).to_be_visible()
