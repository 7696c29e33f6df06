"""In Chromium: the ministry creates a campaign on the 2025 map (34 provinces, their wards and communes) and looks
at its map, then creates the following year's campaign by copying it, sets its deadlines and opens it; Hà Nội
uploads a list whose fourth group, commune leaders, is checked against its wards and communes; Hà Giang, merged
into Tuyên Quang in 2025, reads its 2021 list, read-only. Screenshots saved."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from portal.domain.campaigns import current_campaign
from portal.models import Respondent, Role
from tests.support.accounts import HA_NOI, make_user
from tests.support.browser import log_in, screenshot
from tests.support.respondent_files import GROUP_1, GROUP_2, xlsx_bytes
from tests.support.survey import send_list

pytestmark = pytest.mark.browser
HA_GIANG = 2
GROUP_4 = "4. Lãnh đạo UBND cấp xã"  # on a map of communes the fourth group is the commune leaders


def shot(page: Page, artifacts_dir, name: str, database) -> None:
    screenshot(page, artifacts_dir, f"map-{name}", database)


def test_a_campaign_on_the_2025_map_checks_communes_and_a_merged_province_reads_its_2021_list(
    page: Page, live_server, session, artifacts_dir, database, tmp_path
):
    make_user(session, "bonoivu", Role.MINISTRY)
    make_user(session, "ha-noi", Role.PROVINCE, HA_NOI)
    make_user(session, "ha-giang", Role.PROVINCE, HA_GIANG)
    old = current_campaign(session)
    rlist = send_list(session, HA_GIANG, per_group=1)
    first_person = session.exec(select(Respondent).where(Respondent.list_id == rlist.id)).first()
    today = date.today()
    year, next_year = str(today.year + 1), str(today.year + 2)

    log_in(page, live_server, "bonoivu")
    page.goto(live_server + "/bo/dot-danh-gia/moi")
    page.get_by_label("Năm đánh giá").fill(year)
    page.get_by_label("Tên đợt").fill(f"Xác định Chỉ số CCHC năm {year}")
    page.get_by_label("Bản đồ hành chính từ 01/7/2025").check()
    for label, days in (("Đăng ký đầu mối kỹ thuật CNTT", 10), ("Gửi danh sách đối tượng khảo sát", 20),
                        ("Hoàn thành tự đánh giá, chấm điểm", 40), ("Hạn trả lời phiếu khảo sát", 45)):
        page.get_by_label(label).fill(f"{today + timedelta(days=days):%d/%m/%Y}")
    shot(page, artifacts_dir, "1-new-on-2025-map", database)
    page.get_by_role("button", name="Tạo đợt").click()
    row = page.locator("tr", has_text="Đã tạo, chưa mở")
    row.get_by_role("link", name="Bản đồ hành chính").click()
    expect(page.locator("#map-summary")).to_contain_text("34 tỉnh, thành phố; 3.321 đơn vị hành chính cấp dưới")
    shot(page, artifacts_dir, "2-map", database)
    page.get_by_role("link", name="Tỉnh Tuyên Quang").click()
    expect(page.get_by_role("heading", name="Tỉnh Tuyên Quang: 124 xã, phường, đặc khu")).to_be_visible()
    # The next year's campaign is a copy of this one: the map and the commune leaders' group come with it.
    page.get_by_role("link", name="Các đợt đánh giá").click()
    page.locator("tr", has_text=f"Xác định Chỉ số CCHC năm {year}").get_by_role(
        "link", name="Sao chép thành đợt mới").click()
    expect(page.get_by_role("heading", name=f"Tạo đợt đánh giá: sao chép từ Xác định Chỉ số CCHC năm {year}")
           ).to_be_visible()
    page.get_by_label("Năm đánh giá").fill(next_year)
    page.get_by_label("Tên đợt").fill(f"Xác định Chỉ số CCHC năm {next_year}")
    for label, days in (("Đăng ký đầu mối kỹ thuật CNTT", 12), ("Gửi danh sách đối tượng khảo sát", 22),
                        ("Hoàn thành tự đánh giá, chấm điểm", 42), ("Hạn trả lời phiếu khảo sát", 47)):
        page.get_by_label(label).fill(f"{today + timedelta(days=days):%d/%m/%Y}")
    shot(page, artifacts_dir, "3-copy-for-next-year", database)
    page.get_by_role("button", name="Tạo đợt").click()
    expect(page.get_by_text(f"Đã tạo “Xác định Chỉ số CCHC năm {next_year}”")).to_be_visible()
    row = page.locator("tr", has_text=f"Xác định Chỉ số CCHC năm {next_year}")
    row.get_by_label("Tôi xác nhận").check()
    row.get_by_role("button", name="Chọn làm đợt hiện hành").click()
    expect(page.get_by_text(f"“Xác định Chỉ số CCHC năm {next_year}” là đợt đánh giá hiện hành")).to_be_visible()
    page.get_by_role("button", name="Đăng xuất").click()

    upload = tmp_path / "danh-sach-ha-noi-2025.xlsx"
    upload.write_bytes(xlsx_bytes([
        [1, "Nguyễn Văn An", "Phó Chủ tịch HĐND", GROUP_1, "HĐND thành phố Hà Nội", "an.nv@hanoi.gov.vn", "", ""],
        [2, "Trần Thị Bình", "Giám đốc", GROUP_2, "Sở Nội vụ", "binh.tt@hanoi.gov.vn", "", ""],
        [3, "Lê Văn Cường", "Chủ tịch UBND", GROUP_4, "UBND phường Hoàn Kiếm", "cuong.lv@hanoi.gov.vn", "", ""],
        [4, "Phạm Thị Dung", "Phó Chủ tịch UBND", GROUP_4, "Quận Ba Đình", "dung.pt@hanoi.gov.vn", "", ""],
    ]))
    log_in(page, live_server, "ha-noi")
    page.get_by_role("link", name="Nhập danh sách đối tượng").click()
    page.get_by_label("Tệp danh sách").set_input_files(upload)
    page.get_by_role("button", name="Tải lên và kiểm tra").click()
    expect(page.get_by_role("heading", name="Kiểm tra và rà soát danh sách")).to_be_visible()
    table = page.locator("#list-table")
    expect(table).to_contain_text("Phường Hoàn Kiếm")
    expect(table).to_contain_text("“Quận Ba Đình” không phải xã, phường hoặc đặc khu thuộc thành phố Hà Nội")
    shot(page, artifacts_dir, "4-list-against-communes", database)
    page.get_by_role("button", name="Đăng xuất").click()

    log_in(page, live_server, "ha-giang")
    expect(page.locator("#outside-map")).to_contain_text("Tỉnh Hà Giang không thuộc bản đồ hành chính")
    shot(page, artifacts_dir, "5-merged-province-home", database)
    page.locator("#past-campaigns").get_by_role("link", name=old.name).click()
    page.get_by_role("link", name="Xem danh sách đối tượng").click()
    expect(page.locator("#read-only")).to_contain_text("dữ liệu chỉ để xem, không sửa được")
    expect(page.locator("#past-list")).to_contain_text(first_person.full_name)
    shot(page, artifacts_dir, "6-merged-province-2021-list", database)
    page.goto(live_server + "/khao-sat/danh-sach/")
    expect(page.get_by_role("heading", name="Không thuộc đợt đánh giá hiện hành")).to_be_visible()
