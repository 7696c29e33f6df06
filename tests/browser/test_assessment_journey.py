"""A province scores lines of each kind in Chromium (HTMX: one line at a time, the others untouched), the deadline
passes and its saves are refused, the ministry grants an exception and the province scores again and sends; an
appraiser appraises (round 1), the province explains with a new file, round 2 closes the appraisal and the ministry
releases it to the province; screenshots saved.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from portal.domain import framework
from portal.domain.campaigns import current_campaign
from portal.models import Appraisal, Role
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

    # The province approves its report and sends (within its exception).
    page.get_by_role("link", name="Phê duyệt và gửi kết quả tự đánh giá").click()
    page.get_by_label("Báo cáo tự đánh giá đã phê duyệt").set_input_files(
        files=[{"name": "Báo cáo tự đánh giá 2021.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.get_by_label("Số quyết định phê duyệt").fill("45/QĐ-UBND")
    page.get_by_label("Ngày quyết định (dd/mm/yyyy)").fill(f"{date.today():%d/%m/%Y}")
    page.get_by_label("Người ký (họ tên, chức vụ)").fill("Nguyễn Văn A, Chủ tịch UBND")
    page.get_by_role("button", name="Lưu phần phê duyệt").click()
    expect(page.get_by_text("Đã lưu phần phê duyệt báo cáo tự đánh giá.")).to_be_visible()
    page.get_by_label("Tôi xác nhận").check()
    page.get_by_role("button", name="Gửi kết quả tự đánh giá").click()
    expect(page.get_by_text("Đã gửi kết quả tự đánh giá đến Bộ Nội vụ").first).to_be_visible()
    page.get_by_role("button", name="Đăng xuất").click()

    # An appraiser takes one point off line 1.1.1 in round 1 (HTMX) and sends round 1 for explanation.
    log_in(page, live_server, "bonoivu")
    page.goto(live_server + "/bo/tu-danh-gia/")
    page.get_by_role("link", name="Thẩm định Thành phố Hà Nội").click()
    expect(page.get_by_role("heading", name="Thẩm định: Thành phố Hà Nội")).to_be_visible()
    line = page.locator("#td-1-1-1")
    line.get_by_label("Không", exact=True).check()
    line.get_by_label("Nhận xét vòng 1").fill("Kế hoạch ban hành chậm 10 ngày")
    line.get_by_role("button", name="Lưu điểm thẩm định").click()
    expect(page.locator("#td-1-1-1").get_by_text("Đã lưu điểm thẩm định tiêu chí 1.1.1.")).to_be_visible()
    expect(page.locator("#tong-td")).to_contain_text("Tổng điểm tự chấm: 4/100 · sau vòng 1: 3/100")
    screenshot(page, artifacts_dir, "assessment-4-appraisal-round-1", database)
    page.get_by_label("Hạn giải trình (dd/mm/yyyy)").fill(f"{date.today() + timedelta(days=1):%d/%m/%Y}")
    page.get_by_role("button", name="Gửi kết quả vòng 1 để tỉnh giải trình").click()
    expect(page.get_by_text("Đã gửi kết quả thẩm định vòng 1 để tỉnh giải trình")).to_be_visible()
    page.get_by_role("button", name="Đăng xuất").click()

    # The province sees round 1 and explains the line, with a new file.
    log_in(page, live_server, "ha-noi")
    page.goto(live_server + "/tham-dinh/")
    line = page.locator("#td-1-1-1")
    expect(line.get_by_text("Nhận xét: Kế hoạch ban hành chậm 10 ngày")).to_be_visible()
    line.get_by_label("Giải trình tiêu chí 1.1.1").fill("Kế hoạch ban hành đúng hạn, xem công văn kèm theo")
    line.get_by_role("button", name="Lưu giải trình").click()
    expect(page.locator("#td-1-1-1").get_by_text("Đã lưu giải trình tiêu chí 1.1.1.")).to_be_visible()
    page.locator("#td-1-1-1").get_by_label("Tài liệu kiểm chứng bổ sung").set_input_files(
        files=[{"name": "Công văn 123.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.locator("#td-1-1-1").get_by_role("button", name="Tải lên tài liệu giải trình 1.1.1").click()
    expect(page.locator("#td-1-1-1").get_by_role("link", name="Công văn 123.pdf")).to_be_visible()
    screenshot(page, artifacts_dir, "assessment-5-explanation", database)
    page.get_by_role("button", name="Đăng xuất").click()

    # The window's last day passes (moved in the database, as the deadline above); round 2 gives the point back;
    # the appraisal closes and is released to the province.
    appraisal = session.exec(select(Appraisal)).one()
    appraisal.explanation_until = date.today() - timedelta(days=1)
    session.add(appraisal)
    session.commit()
    log_in(page, live_server, "bonoivu")
    page.goto(live_server + "/bo/tu-danh-gia/")
    page.get_by_role("link", name="Thẩm định Thành phố Hà Nội").click()
    expect(page.locator("#td-1-1-1")).to_contain_text("Kế hoạch ban hành đúng hạn, xem công văn kèm theo")
    page.get_by_role("button", name="Bắt đầu vòng 2").click()
    expect(page.get_by_text("Đã bắt đầu thẩm định vòng 2.")).to_be_visible()
    line = page.locator("#td-1-1-1")
    line.get_by_label("Có", exact=True).check()
    line.get_by_label("Nhận xét vòng 2").fill("Chấp nhận giải trình")
    line.get_by_role("button", name="Lưu điểm thẩm định").click()
    expect(page.locator("#tong-td")).to_contain_text("điểm thẩm định (tạm tính): 4/100")
    page.get_by_role("button", name="Kết thúc thẩm định").click()
    page.get_by_role("button", name="Công bố kết quả thẩm định cho tỉnh").click()
    expect(page.get_by_text("Đã công bố kết quả thẩm định cho tỉnh; tỉnh đã được thông báo.")).to_be_visible()
    screenshot(page, artifacts_dir, "assessment-6-appraisal-closed", database)
    page.get_by_role("button", name="Đăng xuất").click()

    log_in(page, live_server, "ha-noi")
    page.goto(live_server + "/tham-dinh/")
    expect(page.get_by_text("Đã công bố kết quả thẩm định", exact=True)).to_be_visible()
    expect(page.locator("#tong-td")).to_contain_text("điểm thẩm định: 4/100")
    expect(page.locator("#td-1-1-1")).to_contain_text("Chấp nhận giải trình")
    screenshot(page, artifacts_dir, "assessment-7-released", database)
