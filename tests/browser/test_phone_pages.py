"""Staff and respondents on a small phone (360 × 740) in Chromium, CSRF on.

The staff header used to take 300 px of the 740; the first question of a form was below the fold; a
refused final submit only said how many questions were missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from portal.domain.campaigns import current_campaign, local_today
from portal.models import Role
from tests.support.accounts import HA_NOI, PASSWORD, make_user
from tests.support.browser import screenshot
from tests.support.survey import complete_answers, first_half, form_def, launch_survey

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
HEADER_MAX = 120  # px: two short rows (brand and account, then the menu)


def phone(browser: Browser) -> BrowserContext:
    return browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, locale="vi-VN")



def box(page: Page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def fits_the_phone(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.parametrize(("username", "role", "province_id", "links"), [
    ("bonoivu", Role.MINISTRY, None, ["Trang chủ", "Tỉnh/thành phố", "Danh sách đối tượng", "Phát hành khảo sát",
                                      "Tiến độ", "Đầu mối CNTT", "Phiếu khảo sát", "Thông báo", "Đợt đánh giá",
                                      "Nhật ký"]),
    ("ha-noi", Role.PROVINCE, HA_NOI, ["Trang chủ", "Nhập danh sách đối tượng", "Tiến độ khảo sát", "Đầu mối CNTT",
                                       "Lỗi gửi thư", "Thông báo"]),
])
def test_the_staff_header_stays_short_on_a_phone_and_every_menu_item_is_reachable(
    browser: Browser, live_server, session, artifacts_dir, database, username, role, province_id, links
):
    make_user(session, username, role, province_id)
    context = phone(browser)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(live_server + "/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()  # a real form post: the CSRF token must be right
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()

    header = box(page, "header.top")
    assert header["height"] <= HEADER_MAX, f"the header takes {header['height']} px of {PHONE['height']}"
    assert box(page, "main h1")["y"] < HEADER_MAX + 40  # the page's own title comes right after
    assert fits_the_phone(page)
    screenshot(page, artifacts_dir, f"phone-header-{username}", database, full_page=False)
    menu = page.get_by_role("navigation", name="Chức năng chính")
    for name in links:  # the menu scrolls sideways: each item can be brought into view and tapped
        link = menu.get_by_role("link", name=name, exact=True)
        link.scroll_into_view_if_needed()
        expect(link).to_be_in_viewport()
    menu.get_by_role("link", name=links[-1], exact=True).click()
    expect(page).not_to_have_url(live_server + "/")
    assert box(page, "header.top")["height"] <= HEADER_MAX
    context.close()


def test_the_first_question_is_in_view_and_a_refused_submit_links_to_each_missing_question(
    app, browser: Browser, live_server, session, artifacts_dir, database
):
    ministry = make_user(session, "bonoivu", Role.MINISTRY)
    campaign = current_campaign(session)
    today = local_today(app.config["PORTAL_TIMEZONE"])  # in real time: the response period must be open
    campaign.self_assessment_deadline = today + timedelta(days=20)
    campaign.response_deadline = today + timedelta(days=30)
    session.add(campaign)
    session.commit()
    survey = launch_survey(app, session, ministry)
    person = survey.of_group("LD_SO")
    context = phone(browser)
    page = context.new_page()
    page.set_default_timeout(15_000)

    for code, name in (("DP-LDSO", "Phiếu đánh giá địa phương"), ("BO-LD", "Phiếu đánh giá bộ chủ quản: Bộ Nội vụ")):
        page.goto(live_server + person.form_url(code))
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        first = box(page, "fieldset.q")
        assert first["y"] + first["height"] <= PHONE["height"], (
            f"{code}: the first question ends at {first['y'] + first['height']} px, below the fold")
        assert fits_the_phone(page)
        screenshot(page, artifacts_dir, f"phone-form-{code}", database, full_page=False)

    # The intro is one tap away and reads as paragraphs.
    page.get_by_text("Giới thiệu và hướng dẫn trả lời").click()
    expect(page.locator("details.intro p")).to_have_count(3)

    # Half answered, then "Nộp phiếu": refused, the banner links to each question still to answer.
    form = form_def(session, "BO-LD")
    half = first_half(form, complete_answers(form))
    for qid, values in half.items():
        for value in values:
            if form.question(qid).kind in ("single", "multiple"):
                page.locator(f'input[name="{qid}"][value="{value}"]').check()
            else:
                page.locator(f'[name="{qid}"]').fill(value)
    page.get_by_role("button", name="Nộp phiếu").click()
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text("câu cần trả lời hoặc sửa")
    missing = [(n, q) for n, q in enumerate(form.questions, start=1) if q.required and q.id not in half]
    expect(banner.get_by_role("link")).to_have_count(len(missing))
    assert fits_the_phone(page)
    banner.scroll_into_view_if_needed()
    screenshot(page, artifacts_dir, "phone-refused-submit-banner", database, full_page=False)
    number, question = missing[-1]
    banner.get_by_role("link", name=f"Câu {number}", exact=True).click()
    expect(page).to_have_url(f"{live_server}{person.form_url('BO-LD')}#q-{question.id}")
    expect(page.locator(f"#q-{question.id}")).to_be_in_viewport()
    screenshot(page, artifacts_dir, "phone-refused-submit-link-followed", database, full_page=False)
    context.close()
