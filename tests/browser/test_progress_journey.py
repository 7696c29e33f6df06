"""Progress and delivery errors in Chromium: a province watches answers come in; its IT focal point fixes a bounce.

Hà Nội's list of 320 people is sent and launched in the database beforehand (deadlines moved ahead: the
journey runs in real time), and the invitations go through the outbox into a real SMTP server on loopback.
The progress page polls every second here (PORTAL_PROGRESS_POLL_SECONDS), so answers submitted in the test
thread show up on the open page without a reload. Then one invitation comes back as a real bounce; the IT
focal point logs in, corrects the address, and the worker delivers the invitation again to the sink.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import request
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from portal.domain import bounces, outbox
from portal.models import Invitation, OutboxMessage, Role, utcnow
from tests.support.accounts import HA_NOI, make_user
from tests.support.big_list import generated_rows
from tests.support.browser import log_in, screenshot
from tests.support.smtp import MAIL_DOMAIN, SmtpSink, mail_config
from tests.support.survey import answer, launch, load_questionnaire, open_by_the_real_clock, send_list, sent_invitations

pytestmark = pytest.mark.browser

PEOPLE = 320
DSN = Path(__file__).parent.parent / "data" / "bounces" / "dsn_14.txt"



@pytest.fixture
def app_config(app_config: dict, sink: SmtpSink) -> dict:
    return {**app_config, **mail_config(sink), "PORTAL_PROGRESS_POLL_SECONDS": 1}




def test_a_province_watches_answers_arrive_and_its_it_focal_point_fixes_a_bounced_address(
    app, page: Page, browser: Browser, live_server, session, sink, artifacts_dir, database
):
    page.set_default_timeout(15_000)
    polls: list[int] = []  # what the server answered each poll (the browser shows a 304 as its cached 200)

    @app.after_request
    def record_poll(response):
        if request.headers.get("HX-Target") == "progress-live":
            polls.append(response.status_code)
        return response

    ministry = make_user(session, "bonoivu", Role.MINISTRY)
    make_user(session, "ha-noi", Role.PROVINCE, HA_NOI)
    make_user(session, "ha-noi-cntt", Role.IT_FOCAL, HA_NOI)
    open_by_the_real_clock(app, session)
    send_list(session, HA_NOI, rows=generated_rows(session, HA_NOI, PEOPLE), now=utcnow())
    load_questionnaire(session, ministry)
    launch(app, session, ministry, [HA_NOI])
    app.config["PORTAL_BASE_URL"] = live_server
    assert outbox.run_once(app, "journey", limit=PEOPLE) == PEOPLE
    people = sent_invitations(app, session, HA_NOI)
    forms = sum(len(p.form_codes) for p in people)

    # The province logs in through the form and opens "Tiến độ khảo sát".
    log_in(page, live_server, "ha-noi")
    page.get_by_role("link", name="Tiến độ khảo sát").click()
    expect(page.get_by_role("heading", name="Chi tiết tiến độ khảo sát: Thành phố Hà Nội")).to_be_visible()
    submitted = page.locator("#progress-summary tr.total td").nth(5)
    expect(submitted).to_have_text(f"0/{forms}")
    expect(page.locator("#progress-summary tr.total td").nth(0)).to_have_text(str(PEOPLE))
    expect(page.get_by_text(f"{PEOPLE} người, trang 1/7")).to_be_visible()
    expect(page.get_by_text("Trang tự cập nhật mỗi 1 giây khi có thay đổi.")).to_be_visible()
    screenshot(page, artifacts_dir, "progress-1-province-open", database)
    page.evaluate("window.stillTheSamePage = true")  # gone if the page were reloaded

    # Answers come in while the page is open: it updates itself.
    deadline = time.monotonic() + 15
    while polls.count(304) < 2:  # a few unchanged polls first
        assert time.monotonic() < deadline, polls
        page.wait_for_timeout(50)  # lets Playwright deliver the page's events while the poll comes
    for person in people[:3]:
        for code in person.form_codes:
            answer(app, session, person, code)
    done = sum(len(p.form_codes) for p in people[:3])
    expect(submitted).to_have_text(f"{done}/{forms}", timeout=10_000)
    first = page.locator(f"#p-{people[0].respondent.id}")
    expect(first).to_contain_text("Phiếu đánh giá địa phương: Đã nộp phiếu")
    screenshot(page, artifacts_dir, "progress-2-province-answers-arrived", database)
    answer(app, session, people[3], people[3].form_codes[0])
    expect(submitted).to_have_text(f"{done + 1}/{forms}", timeout=10_000)
    assert page.evaluate("window.stillTheSamePage") is True
    assert 304 in polls and set(polls) <= {200, 304}  # unchanged polls sent no table

    # One invitation bounces: a real DSN arrives at its VERP address.
    victim = people[10]
    token = session.exec(select(OutboxMessage.bounce_token)
                         .where(OutboxMessage.invitation_id == victim.invitation.id)).one()
    raw = f"Delivered-To: bounces+{token}@{MAIL_DOMAIN}\n".encode() + DSN.read_bytes()
    assert bounces.intake(session, [("dsn_14", raw)], now=utcnow()).permanent == 1
    expect(page.locator(f"#p-{victim.respondent.id}")).to_contain_text("Bị trả lại", timeout=10_000)
    expect(page.locator("#progress-summary tr.total td").nth(2)).to_have_text("1")

    # The IT focal point logs in, finds the bounced address and corrects it.
    focal_context = browser.new_context(locale="vi-VN")
    focal = focal_context.new_page()
    focal.set_default_timeout(15_000)
    log_in(focal, live_server, "ha-noi-cntt")
    focal.get_by_role("link", name="Lỗi gửi thư").click()
    row = focal.locator(f"#e-{victim.invitation.id}")
    expect(row).to_contain_text(victim.respondent.email)
    expect(row).to_contain_text("Hộp thư không tồn tại")
    row.get_by_text("Lý do gốc").click()
    expect(row.locator("pre.raw")).to_have_text("550 5.1.1 User unknown")
    screenshot(focal, artifacts_dir, "progress-3-it-focal-error-list", database)
    new_address = "dia.chi.dung@ha-noi.gov.vn"
    row.get_by_label("Địa chỉ đúng").fill(new_address)
    row.get_by_role("button", name="Sửa và gửi lại").click()
    expect(focal.locator("#flash")).to_contain_text(f"Đã sửa địa chỉ thành {new_address} và gửi lại thư mời.")
    expect(focal.locator(f"#e-{victim.invitation.id}")).to_contain_text("Đang gửi lại")
    screenshot(focal, artifacts_dir, "progress-4-it-focal-corrected", database)

    # The worker sends it: the same personal link arrives at the new address, and the row leaves the list.
    received = sink.count()
    assert outbox.run_once(app, "journey", limit=10) == 1
    assert sink.wait_for(received + 1)
    message = sink.messages[-1]
    assert message.rcpt_tos == [new_address]
    assert f"{live_server}{victim.url}" in message.message.get_body(("plain",)).get_content()
    focal.reload()
    expect(focal.locator(f"#e-{victim.invitation.id}")).to_have_count(0)
    expect(focal.get_by_text("Không có lỗi gửi thư nào.")).to_be_visible()
    screenshot(focal, artifacts_dir, "progress-5-it-focal-delivered", database)
    focal_context.close()

    # The province's open page shows the new address, delivered.
    victim_row = page.locator(f"#p-{victim.respondent.id}")
    expect(victim_row).to_contain_text(new_address, timeout=10_000)
    expect(victim_row).to_contain_text("Đã gửi thư")
    screenshot(page, artifacts_dir, "progress-6-province-after-correction", database)
    session.expire_all()
    assert session.get(Invitation, victim.invitation.id).delivery_status == "sent"
    expect(submitted).to_have_text(f"{done + 1}/{forms}")  # the address corrected, the answers unchanged
