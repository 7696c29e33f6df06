"""Issue 8 in Chromium, CSRF on: a namesake pair kept apart, a department added from the review table, and the
review table with its edit form on a 360 px phone. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from portal.domain.campaigns import current_campaign
from portal.models import Role
from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import screenshot
from tests.support.respondent_files import GROUP_1, GROUP_2, GROUP_3, GROUP_4, xlsx_bytes

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
ROWS = [
    ["1", "Nguyễn Văn An", "Giám đốc", GROUP_2, "Sở Tài chính", "an.nv@hanoi.gov.vn", "0912345678", ""],
    ["2", "Trần Thị Bình", "Trưởng phòng Ngân sách", GROUP_3, "Sở Tài chính", "binh.tt@hanoi.gov.vn", "", ""],
    ["3", "Lê Văn Cường", "Chủ tịch UBND", GROUP_4, "Quận Ba Đình", "cuong.lv@hanoi.gov.vn", "", ""],
    ["4", "Vũ Thanh Mai", "Đại biểu HĐND thành phố", GROUP_1, "HĐND thành phố Hà Nội", "mai.vt@hanoi.gov.vn",
     "0911111111", ""],
    ["5", "Vũ Thanh Mai", "Đại biểu HĐND thành phố", GROUP_1, "HĐND thành phố Hà Nội", "vtmai@hanoi.gov.vn",
     "0922222222", ""],
    ["6", "Lý Thu Hà", "Trưởng ban", GROUP_2, "Ban Quản lý An toàn thực phẩm", "ha.lt@hanoi.gov.vn", "", ""],
]


@pytest.fixture
def app_config(app_config: dict) -> dict:
    return {**app_config, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def hanoi_upload(session, tmp_path):
    make_user(session, "ha-noi", Role.PROVINCE, 1)
    campaign = current_campaign(session)  # the journey runs in real time: the deadline moves ahead
    campaign.list_deadline = date.today() + timedelta(days=30)
    session.add(campaign)
    session.commit()
    path = tmp_path / "danh-sach.xlsx"
    path.write_bytes(xlsx_bytes(ROWS))
    return path


def upload(page: Page, live_server: str, path) -> None:
    page.goto(live_server + "/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("ha-noi")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.goto(live_server + "/khao-sat/danh-sach/")
    page.get_by_label("Tệp danh sách").set_input_files(path)
    page.get_by_role("button", name="Tải lên và kiểm tra").click()
    expect(page.get_by_role("heading", name="Kiểm tra và rà soát danh sách")).to_be_visible()


def test_a_namesake_pair_is_kept_apart_and_a_department_is_added_from_the_review_table(
    page: Page, live_server, hanoi_upload, artifacts_dir, database
):
    page.set_default_timeout(15_000)
    upload(page, live_server, hanoi_upload)
    expect(page.locator("#flash")).to_contain_text("Đã nhập 6 người")
    mai = page.locator("#list-table tbody tr", has_text="Vũ Thanh Mai")
    expect(mai).to_have_count(2)
    expect(mai.first).to_contain_text("cùng họ tên và cơ quan/đơn vị")
    mai.first.scroll_into_view_if_needed()
    screenshot(page, artifacts_dir, "list-namesakes-warned", database, full_page=False)

    mai.first.get_by_role("button", name="Đây là những người khác nhau").click()

    expect(page.locator("#flash")).to_contain_text("đây là những người khác nhau")
    expect(mai).to_have_count(2)
    expect(page.get_by_role("button", name="Đây là những người khác nhau")).to_have_count(0)
    screenshot(page, artifacts_dir, "list-namesakes-kept-apart", database, full_page=False)

    ha = page.locator("#list-table tbody tr", has_text="Lý Thu Hà")
    expect(ha).to_have_class("has-error")
    expect(ha).to_contain_text("chưa có trong danh mục sở, ngành")
    ha.get_by_label(re.compile("Bộ, ngành chủ quản của")).select_option(label="Bộ Y tế")
    ha.scroll_into_view_if_needed()
    screenshot(page, artifacts_dir, "list-department-missing", database, full_page=False)

    ha.get_by_role("button", name="Thêm sở này vào danh mục của tỉnh").click()

    expect(page.locator("#flash")).to_contain_text("Đã thêm “Ban Quản lý An toàn thực phẩm” vào danh mục sở, ngành")
    ha = page.locator("#list-table tbody tr", has_text="Lý Thu Hà")
    expect(ha).not_to_have_class("has-error")
    expect(page.locator("#list-summary")).to_contain_text("Không còn lỗi.")
    screenshot(page, artifacts_dir, "list-department-added", database, full_page=False)


def test_the_review_table_and_its_edit_form_fit_a_360_px_phone(
    browser: Browser, live_server, hanoi_upload, artifacts_dir, database
):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                  locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    upload(page, live_server, hanoi_upload)

    def fits() -> bool:
        return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    table = page.locator("#list-table")
    table.scroll_into_view_if_needed()
    assert fits(), "the review table runs off the screen"
    card = page.locator("#list-table tbody tr", has_text="Trần Thị Bình")
    card.scroll_into_view_if_needed()
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(card.locator('td[data-label="Email công vụ"]')).to_be_in_viewport()
    screenshot(page, artifacts_dir, "list-phone-review-table", database, full_page=False)

    card.get_by_role("link", name=re.compile("^Sửa")).click()

    editing = page.locator("#list-table tr.editing")
    expect(editing).to_be_visible()
    assert fits(), "the edit form runs off the screen"
    for label in ("Họ và tên", "Email công vụ", "Số điện thoại"):
        field = editing.get_by_label(label)
        field.scroll_into_view_if_needed()
        field_box = field.bounding_box()
        assert field_box["x"] >= 0 and field_box["x"] + field_box["width"] <= PHONE["width"], label
    editing.get_by_label("Số điện thoại").fill("+84 987 654 321")
    save = editing.get_by_role("button", name="Lưu")
    save.scroll_into_view_if_needed()
    expect(save).to_be_in_viewport()
    screenshot(page, artifacts_dir, "list-phone-review-edit", database, full_page=False)
    save.click()

    saved = page.locator("#list-table tbody tr", has_text="Trần Thị Bình")
    expect(saved).not_to_have_class(re.compile("editing"))
    expect(saved.locator('td[data-label="Số điện thoại"]')).to_have_text("0987654321")
    assert fits()
    context.close()
