"""A province scores lines of each kind in Chromium (HTMX: one line at a time, the others untouched), the deadline
passes and its saves are refused, the ministry grants an exception and the province scores again; screenshots saved.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from portal.domain import framework
from portal.domain.campaigns import current_campaign
from portal.models import Role
from tests.support.accounts import make_user
from tests.support.browser import log_in, screenshot

pytestmark = pytest.mark.browser
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def files_dir(app_config, tmp_path):
    """Evidence files of the journey in a folder of its own (set before the app is built)."""
    app_config["PORTAL_FILES_DIR"] = str(tmp_path / "tep")


def test_a_province_scores_its_lines_until_the_lock_and_again_with_an_exception(page: Page, live_server, session,
                                                                                artifacts_dir, database):
    make_user(session, "ha-noi", Role.PROVINCE, 1)
    make_user(session, "bonoivu", Role.MINISTRY)
    campaign = current_campaign(session)
    # The journey runs in real time: the deadline is a few days ahead (the database is reset after the test).
    campaign.self_assessment_deadline = date.today() + timedelta(days=3)
    session.add(campaign)
    session.commit()
    framework.load_sample(session, campaign)

    log_in(page, live_server, "ha-noi")
    page.get_by_role("link", name="Tự đánh giá", exact=True).click()
    expect(page.get_by_role("heading", name="Tự đánh giá, chấm điểm: Thành phố Hà Nội")).to_be_visible()

    # An explanation typed on one line stays while another line is saved (only the saved line is swapped).
    page.locator("#gt-1-1-2").fill("Đang nhập dở")
    line = page.locator("#dong-1-1-1")
    line.get_by_label("Có").check()
    line.get_by_role("button", name="Lưu").click()
    expect(page.locator("#dong-1-1-1").get_by_text("Đã lưu tiêu chí 1.1.1.")).to_be_visible()
    expect(page.locator("#tc-1-1")).to_have_text("1/2 điểm")
    expect(page.locator("#gt-1-1-2")).to_have_value("Đang nhập dở")

    # A percentage: a rate above 100% is refused, the figures fixed and saved.
    line = page.locator("#dong-1-1-2")
    line.get_by_label("Số nhiệm vụ đã hoàn thành").fill("12")
    line.get_by_label("Tổng số nhiệm vụ trong kế hoạch").fill("10")
    line.get_by_role("button", name="Lưu").click()
    expect(page.locator("#dong-1-1-2").get_by_role("alert")).to_contain_text("không được lớn hơn")
    page.locator("#dong-1-1-2").get_by_label("Số nhiệm vụ đã hoàn thành").fill("9")
    page.locator("#dong-1-1-2").get_by_role("button", name="Lưu").click()
    expect(page.locator("#tc-1-1")).to_have_text("1,5/2 điểm")
    # A deduction and a level.
    page.locator("#dong-1-2-1").get_by_label("Số báo cáo chậm hạn hoặc thiếu nội dung").fill("2")
    page.locator("#dong-1-2-1").get_by_role("button", name="Lưu").click()
    expect(page.locator("#tc-1-2")).to_have_text("0,5/1 điểm")
    page.locator("#dong-1-4-2").get_by_label("Đạt: đầy đủ nhưng còn chậm hoặc chưa sâu").check()
    page.locator("#dong-1-4-2").get_by_role("button", name="Lưu").click()
    expect(page.locator("#tong")).to_contain_text("Tổng điểm tự chấm: 2,5/100 điểm")
    screenshot(page, artifacts_dir, "assessment-1-area-1", database)

    # Evidence: line 1.1.1, scored without the file it expects, is marked; one upload (HTMX) clears the mark.
    line = page.locator("#dong-1-1-1")
    expect(line.get_by_text("Thiếu tài liệu kiểm chứng", exact=True)).to_be_visible()
    line.get_by_label("Tải lên tài liệu kiểm chứng").set_input_files(
        files=[{"name": "Kế hoạch CCHC 2021.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    line.get_by_role("button", name="Tải lên cho tiêu chí 1.1.1").click()
    expect(page.locator("#dong-1-1-1").get_by_text("Đã tải lên “Kế hoạch CCHC 2021.pdf”.")).to_be_visible()
    expect(page.locator("#dong-1-1-1").get_by_role("link", name="Kế hoạch CCHC 2021.pdf")).to_be_visible()
    expect(page.locator("#dong-1-1-1").get_by_text("Thiếu tài liệu kiểm chứng", exact=True)).to_have_count(0)

    # Another area, opened alone; a bonus line there.
    page.get_by_role("link", name="6. Cải cách tài chính công").click()
    line = page.locator("#dong-6-4-3")
    line.get_by_label("Số điểm thưởng (tối đa 0,5)").fill("0,5")
    line.get_by_role("button", name="Lưu").click()
    expect(page.locator("#tong")).to_contain_text("Tổng điểm tự chấm: 3/100 điểm")
    expect(page.locator("#dong-1-1-1")).to_have_count(0)
    page.locator("#dong-6-4-3").get_by_role("link", name="Lịch sử thay đổi").click()
    expect(page.locator("#ls-6-4-3")).to_contain_text("(chưa chấm)")

    # The deadline passes: the page is locked and says so.
    campaign.self_assessment_deadline = date.today() - timedelta(days=1)
    session.add(campaign)
    session.commit()
    page.goto(live_server + "/tu-danh-gia/")
    expect(page.get_by_text("Cổng đã tự khóa")).to_be_visible()
    expect(page.get_by_role("button", name="Lưu tiêu chí 1.1.1")).to_have_count(0)
    screenshot(page, artifacts_dir, "assessment-2-locked", database)
    page.get_by_role("button", name="Đăng xuất").click()

    # The ministry lets Hà Nội in until the day after tomorrow.
    until = date.today() + timedelta(days=2)
    log_in(page, live_server, "bonoivu")
    page.get_by_role("link", name="Tự đánh giá").first.click()
    page.get_by_role("link", name="Ngoại lệ cho Thành phố Hà Nội").click()
    page.get_by_label("Được chấm điểm đến hết ngày (dd/mm/yyyy)").fill(f"{until:%d/%m/%Y}")
    page.get_by_label("Lý do").fill("Sự cố mạng kéo dài")
    page.get_by_role("button", name="Cho phép ngoại lệ").click()
    expect(page.get_by_text("Đã cho phép Thành phố Hà Nội tự đánh giá")).to_be_visible()
    page.get_by_role("button", name="Đăng xuất").click()

    log_in(page, live_server, "ha-noi")
    page.goto(live_server + "/tu-danh-gia/")
    expect(page.get_by_text(f"Bộ Nội vụ cho phép chấm điểm đến hết ngày {until:%d/%m/%Y}")).to_be_visible()
    line = page.locator("#dong-1-3-1")
    line.get_by_label("Số cơ quan được kiểm tra").fill("10")
    line.get_by_label("Số cơ quan theo kế hoạch kiểm tra").fill("10")
    line.get_by_role("button", name="Lưu").click()
    expect(page.locator("#tc-1-3")).to_have_text("1/2 điểm")
    screenshot(page, artifacts_dir, "assessment-3-exception", database)
