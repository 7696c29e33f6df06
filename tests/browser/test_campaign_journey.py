"""The ministry creates next year's campaign by copying this one, sets its deadlines and opens it in Chromium;
Hà Nội then works on the new campaign and reads its previous list, read-only.

CSRF protection is on, as in production: every form the journey posts carries the token the page gave it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from portal.domain.campaigns import current_campaign
from portal.models import Respondent, Role
from tests.support.accounts import HA_NOI, make_user
from tests.support.browser import log_in, screenshot
from tests.support.survey import send_list

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(app_config: dict) -> dict:
    return {**app_config, "WTF_CSRF_ENABLED": True}


def shot(page: Page, artifacts_dir, name: str, database) -> None:
    screenshot(page, artifacts_dir, f"campaign-{name}", database)


def test_the_ministry_copies_sets_deadlines_and_opens_a_campaign_and_the_province_works_on_it(
    page: Page, live_server, session, artifacts_dir, database
):
    make_user(session, "ha-noi", Role.PROVINCE, HA_NOI)
    make_user(session, "bonoivu", Role.MINISTRY)
    rlist = send_list(session, HA_NOI, per_group=1)  # Hà Nội's list of the running campaign
    old = current_campaign(session)
    first_person = session.exec(select(Respondent).where(Respondent.list_id == rlist.id)).first()
    today = date.today()
    days = {"it_focal_deadline": today + timedelta(days=10), "list_deadline": today + timedelta(days=20),
            "self_assessment_deadline": today + timedelta(days=40), "response_deadline": today + timedelta(days=45)}
    year = str(today.year + 1)

    log_in(page, live_server, "bonoivu")
    page.get_by_role("link", name="Đợt đánh giá").click()
    expect(page.get_by_role("heading", name="Các đợt đánh giá")).to_be_visible()
    shot(page, artifacts_dir, "1-list", database)
    page.locator(f"#dot-{old.id}").get_by_role("link", name="Sao chép thành đợt mới").click()
    expect(page.get_by_role("heading", name=f"Tạo đợt đánh giá: sao chép từ {old.name}")).to_be_visible()
    page.get_by_label("Năm đánh giá").fill(year)
    page.get_by_label("Tên đợt").fill(f"Xác định Chỉ số CCHC năm {year}")
    page.get_by_label("Kế hoạch (số, ngày ban hành)").fill("Kế hoạch số 15/KH-BNV")
    page.get_by_label("Hạn trả lời phiếu khảo sát").fill("01/01/2000")  # before the list deadline: refused
    for key, label in (("it_focal_deadline", "Đăng ký đầu mối kỹ thuật CNTT"),
                       ("list_deadline", "Gửi danh sách đối tượng khảo sát"),
                       ("self_assessment_deadline", "Hoàn thành tự đánh giá, chấm điểm")):
        page.get_by_label(label).fill(f"{days[key]:%d/%m/%Y}")
    page.get_by_role("button", name="Tạo đợt").click()
    expect(page.get_by_text("không được trước hạn gửi danh sách")).to_be_visible()
    shot(page, artifacts_dir, "2-order-refused", database)
    page.get_by_label("Hạn trả lời phiếu khảo sát").fill(f"{days['response_deadline']:%d/%m/%Y}")
    page.get_by_role("button", name="Tạo đợt").click()
    expect(page.get_by_text(f"Đã tạo “Xác định Chỉ số CCHC năm {year}”")).to_be_visible()
    row = page.locator("tr", has_text="Đã tạo, chưa mở")
    shot(page, artifacts_dir, "3-created", database)
    row.get_by_label("Tôi xác nhận").check()
    row.get_by_role("button", name="Chọn làm đợt hiện hành").click()
    expect(page.get_by_text(f"“Xác định Chỉ số CCHC năm {year}” là đợt đánh giá hiện hành")).to_be_visible()
    expect(page.locator(f"#dot-{old.id}")).to_contain_text("Đã kết thúc (chỉ xem)")
    shot(page, artifacts_dir, "4-current", database)
    page.get_by_role("button", name="Đăng xuất").click()

    log_in(page, live_server, "ha-noi")
    expect(page.get_by_text(f"Xác định Chỉ số CCHC năm {year} (Kế hoạch số 15/KH-BNV)")).to_be_visible()
    expect(page.locator("#deadlines")).to_contain_text(f"{days['list_deadline']:%d/%m/%Y}")
    expect(page.locator("#latest-notices")).to_contain_text(f"Bộ Nội vụ mở Xác định Chỉ số CCHC năm {year}")
    shot(page, artifacts_dir, "5-province-home", database)
    page.get_by_role("link", name="Nhập danh sách đối tượng").click()
    expect(page.get_by_role("heading", name="1. Tải mẫu danh sách")).to_be_visible()
    page.goto(live_server + "/")
    page.locator("#past-campaigns").get_by_role("link", name=old.name).click()
    page.get_by_role("link", name="Xem danh sách đối tượng").click()
    expect(page.locator("#read-only")).to_contain_text("dữ liệu chỉ để xem, không sửa được")
    expect(page.locator("#past-list")).to_contain_text(first_person.full_name)
    shot(page, artifacts_dir, "6-past-list", database)
