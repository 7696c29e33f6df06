"""Issue 16 in Chromium, CSRF on: the ministry downloads the questionnaire set's spreadsheet template, fills a small
set in it (openpyxl, as a person does in Excel), imports it, corrects a question in the browser, previews the form at
360 px as a respondent will see it and launches the survey; after the launch the set can no longer be corrected.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from portal.domain import questionnaires
from portal.domain.campaigns import current_campaign
from portal.models import Invitation, QuestionnaireVersion, Role, utcnow
from tests.domain.test_authoring_sheets import filled
from tests.support.accounts import HA_NOI, make_user
from tests.support.browser import log_in, screenshot
from tests.support.operations import finish_operations
from tests.support.survey import open_by_the_real_clock, send_list

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
NO_LIMITS = [None] * 6  # min, max, whole numbers only, length, fewest and most choices
# The ministry's own small set, typed into the template's sheets: one form on the province for every group, one
# on the parent ministry for the department leaders, a shared scale.
SMALL_SET = {
    "Phiếu": [["DP", "Phiếu đánh giá công tác cải cách hành chính của tỉnh", "Đánh giá địa phương", 5, None,
               "x", "x", "x", "x"],
              ["BO", "Phiếu đánh giá bộ chủ quản", "Đánh giá bộ chủ quản", 3, None, None, "x", "x", None]],
    "Phần": [["DP", "A", "1. Chỉ đạo, điều hành", None], ["BO", "B", "1. Hướng dẫn của bộ", None]],
    "Câu hỏi": [
        ["DP", "A", "a1", "Chọn một", "Kế hoạch cải cách hành chính năm của tỉnh cụ thể, khả thi", "Có", None,
         "chat_luong", *NO_LIMITS],
        ["DP", "A", "a2", "Chọn một", "Lãnh đạo tỉnh quan tâm chỉ đạo công tác cải cách hành chính", "Có", None,
         "chat_luong", *NO_LIMITS],
        ["DP", "A", "a3", "Văn bản", "Góp ý của ông/bà", "Không", None, None, None, None, None, 500, None, None],
        ["BO", "B", "b1", "Chọn một", "Văn bản hướng dẫn của bộ rõ ràng, kịp thời", "Có", None, "chat_luong",
         *NO_LIMITS],
    ],
    "Thang đo": [["chat_luong", "1", "Kém", 1], ["chat_luong", "2", "Trung bình", 2], ["chat_luong", "3", "Tốt", 3],
                 ["chat_luong", "kb", "Không biết", None]],
}
TITLE = "Bộ phiếu khảo sát năm 2021 (bản rút gọn)"


def fits_the_phone(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_ministry_imports_its_own_set_corrects_a_question_previews_it_on_a_phone_and_launches(
    app, page: Page, live_server, session, tmp_path, artifacts_dir, database
):
    page.set_default_timeout(15_000)
    make_user(session, "bonoivu", Role.MINISTRY)
    open_by_the_real_clock(app, session)
    send_list(session, HA_NOI, per_group=1, now=utcnow())
    log_in(page, live_server, "bonoivu")

    # The spreadsheet template, downloaded from the page and filled in.
    page.goto(live_server + "/bo/phieu-khao-sat/")
    expect(page.get_by_role("heading", name="Chưa có bộ phiếu")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Tải mẫu bảng tính bộ phiếu (.xlsx)").click()
    filled_in = tmp_path / "bo-phieu-2021.xlsx"
    filled_in.write_bytes(filled(download.value.path().read_bytes(), SMALL_SET, {"Bộ phiếu!B1": TITLE}))

    page.get_by_label(re.compile("^Tệp bộ phiếu")).set_input_files(filled_in)
    page.get_by_role("button", name="Nhập bộ phiếu").click()
    expect(page.locator("#flash")).to_contain_text(f"Đã nhập bộ phiếu “{TITLE}” (phiên bản 1)")
    screenshot(page, artifacts_dir, "authoring-1-imported", database)

    # A question corrected in the browser: its wording and one option's label (HTMX swaps the editor).
    page.locator("#hien-hanh tr", has_text="DP").get_by_role("link", name=re.compile("^Sửa")).click()
    expect(page.get_by_role("heading", name="Sửa phiếu: Phiếu đánh giá địa phương")).to_be_visible()
    card = page.locator("#cau-a2")
    card.get_by_label("Nội dung câu 2").fill("Lãnh đạo UBND tỉnh quan tâm, chỉ đạo sát sao công tác cải cách "
                                              "hành chính")
    card.get_by_label("Phương án 3 của câu 2").fill("Tốt, sát sao")
    card.get_by_role("button", name="Lưu câu 2").click()
    expect(page.locator("#cau-a2 .msg-success")).to_contain_text(
        "Đã lưu phiên bản 2 của bộ phiếu: Phiếu đánh giá địa phương (Mã trong tệp: DP) › Câu 2: sửa nội dung")
    expect(page.locator("#cau-a2 .msg-success")).to_contain_text("Câu 2: sửa phương án “Tốt” → “Tốt, sát sao”")
    page.locator("#cau-a3").get_by_role("button", name="Chuyển lên câu 3").click()
    expect(page.locator("#cau-a3 .msg-success")).to_contain_text("Câu 2: chuyển chỗ (trước là câu 3)")
    page.locator("#cau-a3").scroll_into_view_if_needed()
    screenshot(page, artifacts_dir, "authoring-2-corrected", database, full_page=False)
    campaign = current_campaign(session)
    session.expire_all()
    assert [row.version for row in questionnaires.versions(session, campaign)] == [3, 2, 1]

    # The preview on a phone: the respondent's own page, nothing off the screen.
    page.set_viewport_size(PHONE)
    page.goto(live_server + "/bo/phieu-khao-sat/xem/DP")
    expect(page.get_by_role("heading", name="Phiếu đánh giá địa phương")).to_be_visible()
    expect(page.locator("legend").nth(1)).to_have_text(re.compile(r"^2\. Góp ý của ông/bà"))
    expect(page.locator("#q-a2 legend")).to_have_text(re.compile(r"^3\. Lãnh đạo UBND tỉnh quan tâm, chỉ đạo sát sao"))
    expect(page.locator("#q-a2")).to_contain_text("Tốt, sát sao")
    expect(page.locator("#q-a2 input").first).to_be_disabled()
    assert fits_the_phone(page), "the preview runs off a 360 px screen"
    screenshot(page, artifacts_dir, "authoring-3-preview-phone", database)
    page.set_viewport_size({"width": 1280, "height": 900})

    # The launch: the corrected version goes out, and from then on it cannot be corrected.
    page.goto(live_server + "/bo/phat-hanh")
    page.get_by_label(re.compile(r"Hà Nội \(\d+ người\)")).check()
    page.get_by_role("button", name="Xem lại trước khi phát hành").click()
    page.get_by_role("button", name=re.compile("^Phát hành khảo sát cho 1 tỉnh, thành phố")).click()
    expect(page.locator("#operation-live")).to_contain_text("Đang phát hành")
    finish_operations(app)
    expect(page.locator("#operation-live")).to_contain_text("Đã phát hành khảo sát cho 1 tỉnh, thành phố")
    screenshot(page, artifacts_dir, "authoring-4-launched", database)
    session.expire_all()
    launched = session.exec(select(QuestionnaireVersion).where(QuestionnaireVersion.version == 3)).one()
    assert launched.frozen_at is not None
    assert {i.questionnaire_version_id for i in session.exec(select(Invitation))} == {launched.id}

    page.goto(live_server + "/bo/phieu-khao-sat/sua/DP")
    expect(page.locator("#editor")).to_contain_text("Bộ phiếu đã được phát hành nên không thể sửa nữa")
    expect(page.get_by_role("button", name="Lưu câu 2")).to_have_count(0)
    screenshot(page, artifacts_dir, "authoring-5-frozen", database, full_page=False)
