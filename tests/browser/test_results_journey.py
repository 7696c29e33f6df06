"""Kết quả in Chromium: the ministry computes the index, reviews it and publishes; the province then reads its own
result from its home page and the public ranking. The campaign is test_par_index's hand-worked one (Hà Nội and Đà
Nẵng tied at 63,33%, Hải Phòng's survey voided). CSRF protection is on, as in production.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests import test_par_index as hand
from tests.support.browser import log_in, screenshot
from tests.support.operations import finish_operations

pytestmark = pytest.mark.browser

# The hand-worked campaign's fixtures, shared.
campaign, content, result, scored = hand.campaign, hand.content, hand.result, hand.scored


def test_the_ministry_publishes_the_index_and_the_province_reads_it(
    app, page: Page, live_server, scored, ministry_user, province_user, artifacts_dir, database
):
    log_in(page, live_server, ministry_user.username)
    page.get_by_role("navigation", name="Chức năng chính").get_by_role("link", name="Kết quả").click()
    page.get_by_role("link", name=scored.name, exact=True).click()
    expect(page.get_by_text("Chưa tính Chỉ số cho đợt này.")).to_be_visible()
    page.get_by_role("button", name="Tính lại Chỉ số").click()
    expect(page.locator("#dang-tinh")).to_contain_text("Đang tính lại Chỉ số")
    assert finish_operations(app) == 1  # the worker's run
    page.get_by_role("link", name="Tải lại trang").click()
    table = page.locator("#bang-xep-hang")
    expect(table).to_contain_text("Thành phố Hà Nội")
    expect(table).to_contain_text(hand.VOID_REASON)
    expect(page.locator(".ranking-chart")).to_contain_text("1. Thành phố Hà Nội")
    screenshot(page, artifacts_dir, "results-1-computed", database)

    page.get_by_role("button", name="Công bố kết quả").click()
    expect(page.get_by_role("alert")).to_contain_text("Tôi biết … và vẫn công bố")
    page.get_by_label("Tôi biết còn 62 tỉnh, thành phố chưa có điểm thẩm định cuối cùng và vẫn công bố").check()
    page.get_by_role("button", name="Công bố kết quả").click()
    expect(page.get_by_text("Đã công bố kết quả; các tỉnh, thành phố đã được thông báo.")).to_be_visible()
    screenshot(page, artifacts_dir, "results-2-published", database)
    page.get_by_role("button", name="Đăng xuất").click()

    log_in(page, live_server, province_user.username)
    page.get_by_role("link", name="Xem Chỉ số của tỉnh").click()
    expect(page.locator("#chi-so")).to_contain_text("Chỉ số: 63,33%")
    expect(page.locator("#chi-so")).to_contain_text("hạng 1")
    expect(page.locator("#tung-tieu-chi")).to_contain_text("Báo cáo đúng hạn")
    expect(page.locator("#ket-qua-khao-sat-tinh")).to_contain_text("Kết quả điều tra xã hội học")
    screenshot(page, artifacts_dir, "results-3-province", database)
    page.get_by_role("link", name="Bảng xếp hạng các tỉnh, thành phố").click()
    expect(page.locator("#bang-xep-hang")).to_contain_text("Thành phố Hải Phòng")
    screenshot(page, artifacts_dir, "results-4-ranking", database)
