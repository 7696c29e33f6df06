"""The survey in Chromium: the ministry launches it, a respondent answers on a phone from the emailed link.

CSRF protection is on, as in production. Hà Nội's and Hải Phòng's lists are sent; the ministry ticks
Hà Nội only, checks the confirmation page (which names Hà Nội and its 8 emails, and asks for the sample
questionnaire to be accepted) and confirms: exactly Hà Nội is launched. The lists are sent in the
database beforehand and the campaign's deadlines are moved ahead, because the journey runs in real time.
The outbox is sent into a real SMTP server on loopback (aiosmtpd), and the respondent's link is read from
the caught email's text body. The respondent uses a fresh browser context
each time (no cookies: only the link), sized like a small phone (360 × 740).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from portal.domain import outbox
from portal.models import FormProgress, FormState, Invitation, Role, utcnow
from tests.support.accounts import HA_NOI, HAI_PHONG, PASSWORD, make_user
from tests.support.browser import screenshot
from tests.support.operations import finish_operations
from tests.support.smtp import SmtpSink, mail_config
from tests.support.survey import (
    complete_answers,
    first_half,
    form_def,
    load_questionnaire,
    open_by_the_real_clock,
    send_list,
    sent_invitations,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}



@pytest.fixture
def app_config(app_config: dict, sink: SmtpSink) -> dict:
    return {**app_config, **mail_config(sink)}



def fill(page: Page, form, answers: dict[str, list[str]]) -> None:
    """Answer as a person does: click the choices, type the numbers and texts."""
    kinds = {q.id: q.kind for q in form.questions}
    for qid, values in answers.items():
        if kinds[qid] in ("single", "multiple"):
            for value in values:
                page.locator(f'input[name="{qid}"][value="{value}"]').check()
        else:
            page.locator(f'[name="{qid}"]').fill(values[0])


def fits_the_phone(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_ministry_launches_and_a_respondent_answers_on_a_phone_from_the_emailed_link(
    app, page: Page, browser: Browser, live_server, session, sink, artifacts_dir, database
):
    page.set_default_timeout(15_000)
    ministry = make_user(session, "bonoivu", Role.MINISTRY)
    open_by_the_real_clock(app, session)
    send_list(session, HA_NOI, now=utcnow())
    send_list(session, HAI_PHONG, now=utcnow())
    load_questionnaire(session, ministry)
    app.config["PORTAL_BASE_URL"] = live_server  # the emailed links lead to this server

    # The ministry launches the survey for Hà Nội.
    page.goto(live_server + "/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("bonoivu")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.goto(live_server + "/bo/phat-hanh")
    expect(page.get_by_role("heading", name="Phát hành khảo sát", exact=True)).to_be_visible()
    page.get_by_label(re.compile(r"Hà Nội \(8 người\)")).check()
    expect(page.get_by_label(re.compile(r"Hải Phòng \(8 người\)"))).not_to_be_checked()
    screenshot(page, artifacts_dir, "survey-1-launch", database)
    page.get_by_role("button", name="Xem lại trước khi phát hành").click()
    expect(page.locator("#launch-summary")).to_have_text("Sẽ gửi 8 thư mời đến 8 người của 1 tỉnh, thành phố")
    expect(page.locator("main table")).to_contain_text("Thành phố Hà Nội")
    expect(page.locator("main table")).not_to_contain_text("Hải Phòng")
    confirm = page.get_by_role("button", name="Phát hành khảo sát cho 1 tỉnh, thành phố (8 thư mời)")
    confirm.click()  # the sample's box is required: the browser itself holds the form back
    assert session.exec(select(Invitation)).first() is None
    page.get_by_label("Tôi hiểu và vẫn phát hành bằng phiếu mẫu").check()
    screenshot(page, artifacts_dir, "survey-1b-launch-confirm", database)
    confirm.click()
    # The request only records the launch; the page follows the worker, polling, until it is done.
    expect(page.locator("#operation-live")).to_contain_text("Đang phát hành: 0 / 8 người")
    assert session.exec(select(Invitation)).first() is None
    finish_operations(app)
    expect(page.locator("#operation-live")).to_contain_text(
        "Đã phát hành khảo sát cho 1 tỉnh, thành phố: 8 thư mời đang được gửi (Thành phố Hà Nội).")
    screenshot(page, artifacts_dir, "survey-2-launched", database)
    page.get_by_role("link", name="Về trang phát hành khảo sát").click()
    expect(page.locator("#chon-dia-phuong")).to_contain_text("Hải Phòng (8 người)")
    assert {i.province_id for i in session.exec(select(Invitation))} == {HA_NOI}

    # The worker sends the outbox into the SMTP sink; the respondent's link comes from the email's text.
    assert outbox.run_once(app, "journey", limit=50) == 8
    assert sink.wait_for(8)
    person = next(p for p in sent_invitations(app, session, HA_NOI) if p.group_code == "LD_SO")
    [received] = [m.message for m in sink.messages if m.rcpt_tos == [person.respondent.email]]
    text = received.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+/phieu/\S+", text).group(0)
    assert link == f"{live_server}{person.url}"
    locality = form_def(session, "DP-LDSO")
    answers = complete_answers(locality, text="Cần rút ngắn thời gian giải quyết hồ sơ đất đai.")
    half = first_half(locality, answers)

    # On the phone: open the link, answer half of the locality form, save for later, close the browser.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                locale="vi-VN")
    respondent = phone.new_page()
    respondent.set_default_timeout(15_000)
    respondent.goto(link)
    expect(respondent.get_by_role("heading", name=f"Kính chào {person.respondent.full_name}")).to_be_visible()
    expect(respondent.locator("li.card")).to_have_count(2)
    expect(respondent.locator("li.card").first).to_contain_text("Chưa trả lời")
    assert fits_the_phone(respondent)
    screenshot(respondent, artifacts_dir, "survey-3-respondent-forms", database)
    respondent.locator("li.card").first.get_by_role("link", name="Bắt đầu trả lời").click()
    expect(respondent.get_by_role("heading", name="Phiếu đánh giá địa phương")).to_be_visible()
    fill(respondent, locality, half)
    screenshot(respondent, artifacts_dir, "survey-4-half-answered", database)
    respondent.get_by_role("button", name="Lưu, trả lời tiếp sau").click()
    expect(respondent.get_by_role("status")).to_contain_text("Đã lưu câu trả lời")
    assert fits_the_phone(respondent)
    screenshot(respondent, artifacts_dir, "survey-5-saved", database)
    phone.close()

    # Later, a new browser (no cookies): the same link shows the form in progress and the saved answers.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                locale="vi-VN")
    respondent = phone.new_page()
    respondent.set_default_timeout(15_000)
    respondent.goto(link)
    expect(respondent.locator("li.card").first).to_contain_text("Đang trả lời")
    screenshot(respondent, artifacts_dir, "survey-6-back-later", database)
    respondent.locator("li.card").first.get_by_role("link", name="Trả lời tiếp").click()
    kinds = {q.id: q.kind for q in locality.questions}
    for qid, values in half.items():
        if kinds[qid] in ("single", "multiple"):
            for value in values:
                expect(respondent.locator(f'input[name="{qid}"][value="{value}"]')).to_be_checked()
        else:
            expect(respondent.locator(f'[name="{qid}"]')).to_have_value(values[0])
    screenshot(respondent, artifacts_dir, "survey-7-saved-answers-shown", database)
    fill(respondent, locality, {qid: v for qid, v in answers.items() if qid not in half})
    respondent.get_by_role("button", name="Nộp phiếu").click()
    expect(respondent.get_by_role("heading", name="Xác nhận nộp phiếu")).to_be_visible()
    screenshot(respondent, artifacts_dir, "survey-8-confirm", database)
    respondent.get_by_role("button", name="Xác nhận nộp phiếu").click()
    expect(respondent.get_by_role("heading", name="Cảm ơn Ông/Bà")).to_be_visible()
    expect(respondent.get_by_text("Ông/Bà còn 1 phiếu chưa nộp")).to_be_visible()
    assert fits_the_phone(respondent)
    screenshot(respondent, artifacts_dir, "survey-9-thanks", database)
    phone.close()

    session.expire_all()
    states = {p.form_code: p.state for p in session.exec(
        select(FormProgress).where(FormProgress.invitation_id == person.invitation.id))}
    assert states == {"DP-LDSO": FormState.SUBMITTED, "BO-LD": FormState.NOT_STARTED}
    assert session.get(Invitation, person.invitation.id).first_opened_at is not None
