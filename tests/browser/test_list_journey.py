"""A province officer enters the respondent list in Chromium: upload, fix in place, send; then the ministry sees it.

The file is the kind an officer makes by hand: 300 people of Hà Nội with ten rows in error of different kinds
and a council deputy who is also listed as a department leader.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from portal.domain.campaigns import current_campaign
from portal.models import Role
from tests.support.accounts import make_user
from tests.support.browser import log_in, screenshot
from tests.support.respondent_files import GROUP_1, GROUP_3, realistic_rows, xlsx_bytes

pytestmark = pytest.mark.browser


def list_with_mistakes() -> tuple[list[list[str]], list[tuple[str, dict[str, str]]], str, str]:
    """300 rows with mistakes; the fixes as (text found in the row, {label: value}); the row to delete; its partner.

    The realistic rows run: council deputies 1-95, department leaders 96-163, district leaders 164-253,
    division leaders after that (numbers are the STT column, the sheet row is one more).
    """
    rows = realistic_rows(300)
    by_stt = {int(row[0]): row for row in rows}
    fixes: list[tuple[str, dict[str, str]]] = []

    def spoil(stt: int, column: int, bad: str, label: str, good: str | None = None) -> None:
        row = by_stt[stt]
        fixes.append((f"canbo{stt:05d}@", {label: good or row[column]}))  # every email starts so
        row[column] = bad

    spoil(11, 5, "canbo00011@hanoi", "Email công vụ", "canbo00011@hanoi.gov.vn")  # email without a domain
    spoil(51, 6, "12345", "Số điện thoại", "0912345000")  # not a phone number
    spoil(101, 4, "Sở Hàng không", "Cơ quan/đơn vị")  # a department Hà Nội does not have
    spoil(171, 2, "Trưởng phòng", "Chức vụ")  # a division head's title in the district group
    spoil(201, 4, "Quận Lê Chân", "Cơ quan/đơn vị")  # a district of Hải Phòng
    spoil(261, 1, "", "Họ và tên")  # no name
    spoil(281, 3, "Nhóm 7", "Nhóm đối tượng")  # no such group
    spoil(291, 2, "", "Chức vụ")  # no position
    # One mailbox written for two people: the officer deletes the row that should not be there.
    duplicate, partner = by_stt[271], by_stt[272]
    duplicate[5] = partner[5]
    # A council deputy who is also a department leader: kept once, in the council group (a notice, no error).
    director = by_stt[97]
    rows.append(["301", director[1], "Giám đốc Sở, đại biểu HĐND thành phố", GROUP_1,
                 "Hội đồng nhân dân thành phố Hà Nội", director[5], "", ""])
    return rows, fixes, duplicate[1], partner[1]




def test_a_province_uploads_fixes_and_sends_its_list_and_the_ministry_sees_it(
    page: Page, live_server, session, artifacts_dir, database, tmp_path
):
    make_user(session, "ha-noi", Role.PROVINCE, 1)
    make_user(session, "bonoivu", Role.MINISTRY)
    # The journey runs in real time: the list deadline is moved ahead (the database is reset after the test).
    campaign = current_campaign(session)
    campaign.list_deadline = date.today() + timedelta(days=30)
    session.add(campaign)
    session.commit()
    rows, fixes, duplicate, partner = list_with_mistakes()
    upload = tmp_path / "danh-sach-ha-noi.xlsx"
    upload.write_bytes(xlsx_bytes(rows))

    # Log in through the form, open "Nhập danh sách đối tượng".
    log_in(page, live_server, "ha-noi")
    page.get_by_role("link", name="Nhập danh sách đối tượng").click()
    expect(page.get_by_role("heading", name="Nhập danh sách đối tượng khảo sát")).to_be_visible()
    expect(page.get_by_text("tối đa 5 MB và 20.000 dòng")).to_be_visible()
    screenshot(page, artifacts_dir, "list-1-start", database)

    # Upload: the review page, errors on top.
    page.get_by_label("Tệp danh sách").set_input_files(upload)
    page.get_by_role("button", name="Tải lên và kiểm tra").click()
    expect(page.get_by_role("heading", name="Kiểm tra và rà soát danh sách")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text(
        "Đã nhập 300 người từ tệp “danh-sach-ha-noi.xlsx”, gộp 1 dòng trùng; còn 10 dòng có lỗi cần sửa.")
    expect(page.locator("#list-summary")).to_contain_text("Còn 10 dòng có lỗi cần sửa trước khi gửi.")
    expect(page.get_by_text("giữ ở nhóm 1 (Đại biểu HĐND) theo quy định")).to_be_visible()
    table_rows = page.locator("#list-table tbody tr")
    expect(table_rows).to_have_count(100)
    for index in range(10):
        expect(table_rows.nth(index)).to_have_class("has-error")
    expect(table_rows.nth(10)).not_to_have_class("has-error")
    screenshot(page, artifacts_dir, "list-2-review-with-errors", database, full_page=False)

    # Fix each row in place: "Sửa" turns the row into a form, "Lưu" saves it, checked again.
    for number, (key, values) in enumerate(fixes, start=1):
        row = page.locator("#list-table tbody tr", has_text=key)
        row_id = row.get_attribute("id")
        row.get_by_role("link", name=re.compile("^Sửa")).click()
        editing = page.locator(f"tr#{row_id}.editing")
        expect(editing).to_be_visible()
        for label, value in values.items():
            field = editing.get_by_label(label)
            if label == "Nhóm đối tượng":
                field.select_option(GROUP_3)
            else:
                field.fill(value)
        if number == 1:
            editing.scroll_into_view_if_needed()
            screenshot(page, artifacts_dir, "list-3-editing-a-row", database, full_page=False)
        editing.get_by_role("button", name="Lưu").click()
        saved = page.locator(f"tr#{row_id}")
        expect(saved).not_to_have_class(re.compile("editing|has-error"))
        expect(page.locator("#list-summary")).to_contain_text(
            f"Còn {10 - number} dòng có lỗi cần sửa trước khi gửi.")

    # Delete the row that repeats another person's mailbox: the other row's error goes with it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Xóa {duplicate}").click()
    expect(page.locator("#row-message")).to_contain_text(f"Đã xóa “{duplicate}” khỏi danh sách.")
    expect(page.locator("#list-summary")).to_contain_text("Không còn lỗi.")
    expect(page.locator("#list-table tbody tr", has_text=partner)).not_to_have_class("has-error")
    expect(page.locator("#list-table tbody tr.has-error")).to_have_count(0)
    page.locator("#list-summary").scroll_into_view_if_needed()
    screenshot(page, artifacts_dir, "list-4-all-fixed", database, full_page=False)

    # Send: the confirmation shows the summary; after sending the list is locked, "Đã gửi" with the time.
    page.locator(".actions").get_by_role("link", name="5. Gửi danh sách").click()
    expect(page.get_by_role("heading", name="Gửi danh sách đến Bộ Nội vụ")).to_be_visible()
    expect(page.locator("#list-summary tfoot")).to_contain_text("299")
    expect(page.get_by_text("Bộ chủ quản được đánh giá (phiếu thứ hai)")).to_be_visible()
    # A warning, not a block: three departments of Hà Nội have no leader in the list; the officer confirms.
    expect(page.locator("#canh-bao")).to_contain_text("3 sở, ngành chưa có giám đốc hoặc phó giám đốc")
    screenshot(page, artifacts_dir, "list-5-confirm", database)
    page.get_by_role("button", name="Gửi danh sách").click()
    expect(page.get_by_role("heading", name="Gửi danh sách đến Bộ Nội vụ")).to_be_visible()  # the browser asks
    page.get_by_label(re.compile("Tôi đã xem 1 cảnh báo trên")).check()
    page.get_by_role("button", name="Gửi danh sách").click()
    expect(page.locator("#flash")).to_contain_text("Đã gửi danh sách đến Bộ Nội vụ.")
    expect(page.locator("#list-status")).to_contain_text(re.compile(r"Đã gửi danh sách lúc \d\d:\d\d \d\d/\d\d/\d{4}"))
    expect(page.get_by_role("button", name="Tải lên và kiểm tra")).to_have_count(0)
    screenshot(page, artifacts_dir, "list-6-sent", database)

    # The ministry sees Hà Nội "Đã gửi" and opens the list.
    page.get_by_role("button", name="Đăng xuất").click()
    log_in(page, live_server, "bonoivu")
    page.get_by_role("link", name="Danh sách đối tượng").click()
    ha_noi = page.locator("tbody tr", has_text="Thành phố Hà Nội")
    expect(ha_noi).to_contain_text("Đã gửi danh sách")
    expect(ha_noi.locator("td").nth(6)).to_have_text("299")
    expect(page.get_by_text("Thành phố Hà Nội đã gửi danh sách đối tượng khảo sát")).to_be_visible()
    screenshot(page, artifacts_dir, "list-7-ministry-table", database)
    ha_noi.get_by_role("link", name="Thành phố Hà Nội").click()
    expect(page.get_by_role("heading", name="Danh sách đối tượng khảo sát: Thành phố Hà Nội")).to_be_visible()
    expect(page.locator("main")).to_contain_text(
        re.compile(r"Trạng thái: Đã gửi danh sách\s+lúc \d\d:\d\d \d\d/\d\d/\d{4}"))
    expect(page.get_by_role("button", name="Trả lại để chỉnh sửa")).to_be_visible()
    screenshot(page, artifacts_dir, "list-8-ministry-opens-the-list", database, full_page=False)
