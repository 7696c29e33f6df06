"""Issue 16 in Chromium, CSRF on: the ministry takes the questionnaire set's template, fills a small set of its own,
imports it, corrects a question in the browser, previews the form at 360 px as a respondent will see it and
launches the survey; after the launch the set can no longer be corrected. Screenshots go to test-artifacts/.

The spreadsheet import (helper E1, branch `sheets`) was not on this branch when the journey was written: the set is
written as the YAML file the import reads, from the sample downloaded on the page.
"""

from __future__ import annotations

import re

import pytest
import yaml
from playwright.sync_api import Page, expect
from sqlmodel import select

from portal.domain import questionnaires
from portal.domain.campaigns import current_campaign
from portal.models import Invitation, QuestionnaireVersion, Role, utcnow
from tests.support.accounts import HA_NOI, make_user
from tests.support.browser import log_in, screenshot
from tests.support.operations import finish_operations
from tests.support.survey import open_by_the_real_clock, send_list

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
QUALITY = [{"value": "1", "label": "Kém", "score": 1}, {"value": "2", "label": "Trung bình", "score": 2},
           {"value": "3", "label": "Tốt", "score": 3}, {"value": "kb", "label": "Không biết", "score": None}]


def small_set(sample: dict) -> dict:
    """The ministry's own small set, in the format of the sample it downloaded: one form on the province for every
    group, one on the parent ministry for the department leaders."""
    def question(qid: str, text: str) -> dict:
        return {"id": qid, "kind": "single", "text": text, "options": QUALITY}

    return {
        "format": sample["format"], "title": "Bộ phiếu khảo sát năm 2021 (bản rút gọn)", "sample": False,
        "forms": [
            {"code": "DP", "title": "Phiếu đánh giá công tác cải cách hành chính của tỉnh", "target": "locality",
             "groups": ["HDND", "LD_SO", "LD_PHONG", "LD_HUYEN"], "minutes": 5,
             "sections": [{"id": "A", "title": "1. Chỉ đạo, điều hành", "questions": [
                 question("a1", "Kế hoạch cải cách hành chính năm của tỉnh cụ thể, khả thi"),
                 question("a2", "Lãnh đạo tỉnh quan tâm chỉ đạo công tác cải cách hành chính"),
                 {"id": "a3", "kind": "text", "text": "Góp ý của ông/bà", "required": False, "max_length": 500},
             ]}]},
            {"code": "BO", "title": "Phiếu đánh giá bộ chủ quản", "target": "ministry",
             "groups": ["LD_SO", "LD_PHONG"], "minutes": 3,
             "sections": [{"id": "B", "title": "1. Hướng dẫn của bộ", "questions": [
                 question("b1", "Văn bản hướng dẫn của bộ rõ ràng, kịp thời")]}]},
        ],
    }


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

    # The template, downloaded from the page; the ministry's own set written in its format.
    page.goto(live_server + "/bo/phieu-khao-sat/")
    expect(page.get_by_role("heading", name="Chưa có bộ phiếu")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Tải tệp bộ phiếu mẫu")).click()
    template = yaml.safe_load(download.value.path().read_text(encoding="utf-8"))
    filled = tmp_path / "bo-phieu-2021.yaml"
    filled.write_text(yaml.safe_dump(small_set(template), allow_unicode=True, sort_keys=False), encoding="utf-8")

    page.get_by_label("Tệp bộ phiếu (.yaml)").set_input_files(filled)
    page.get_by_role("button", name="Nhập bộ phiếu").click()
    expect(page.locator("#flash")).to_contain_text("Đã nhập bộ phiếu “Bộ phiếu khảo sát năm 2021 (bản rút gọn)” "
                                                   "(phiên bản 1)")
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
