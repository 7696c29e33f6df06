"""Kiểm tra can thiệp in Chromium: a flagged province, its evidence, a void proposed by one ministry administrator and
confirmed by a second, the province reading the decision and its reason.

Hà Nội's survey is launched in the database beforehand (deadlines moved ahead: the journey runs in real time),
three people's forms are submitted, and the shared-device rule's finding over them is kept as the worker keeps it.
CSRF protection is on, as in production.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from portal.domain import integrity_decisions, integrity_review
from portal.domain import integrity_rules as rules
from portal.models import Role, utcnow
from tests.support.accounts import HA_NOI, make_user
from tests.support.browser import log_in, screenshot
from tests.support.survey import answer, launch_survey, open_by_the_real_clock

pytestmark = pytest.mark.browser

DEVICE = "Zm9vYmFyLWRldmljZS0xMjM"
REASON = "Cán bộ văn phòng dùng một máy trả lời thay ba lãnh đạo; tỉnh đã có văn bản thừa nhận."


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_two_administrators_void_a_flagged_province_and_the_province_reads_why(
    app, page: Page, live_server, session, artifacts_dir, database
):
    ministry = make_user(session, "bonoivu", Role.MINISTRY)
    make_user(session, "bo-thu-hai", Role.MINISTRY)
    make_user(session, "ha-noi", Role.PROVINCE, HA_NOI)
    campaign = open_by_the_real_clock(app, session)
    survey = launch_survey(app, session, ministry, HA_NOI, per_group=1)
    people = survey.invitations[:3]
    for person in people:
        answer(app, session, person, person.form_codes[0])
    start = utcnow() - timedelta(minutes=30)
    rules.save_findings(session, campaign.id, HA_NOI, [rules.Finding(
        rules.SHARED_DEVICE, "high", tuple((p.invitation.id, p.form_codes[0]) for p in people),
        {"device": DEVICE, "respondents": 3, "forms": 3, "first": _iso(start),
         "last": _iso(start + timedelta(minutes=4)), "address_prefixes": ["203.0.113.0/24"]})])

    # The first administrator finds the flagged province and reads the evidence.
    log_in(page, live_server, "bonoivu")
    page.get_by_role("link", name="Kiểm tra can thiệp").click()
    page.locator(f"#dot-{campaign.id}").get_by_role("link", name="Cảnh báo theo tỉnh").click()
    row = page.locator(f"#tinh-{HA_NOI}")
    expect(row).to_contain_text("Thành phố Hà Nội")
    row.get_by_role("link", name="Bằng chứng và quyết định").click()
    flag = page.locator(".flag").first
    expect(flag).to_contain_text("Một thiết bị nộp phiếu của nhiều người")
    expect(flag).to_contain_text(integrity_review.short_hash(DEVICE))
    expect(flag).to_contain_text(integrity_review.moment_vn(_iso(start), "Asia/Ho_Chi_Minh"))
    expect(flag).to_contain_text(people[0].respondent.full_name)
    expect(page.get_by_text(DEVICE)).to_have_count(0)
    screenshot(page, artifacts_dir, "integrity-1-evidence", database)

    # … and proposes to void the province's whole result; alone, it cannot take effect.
    page.get_by_label("Lý do hủy toàn bộ kết quả").fill(REASON)
    page.get_by_role("button", name="Đề xuất hủy toàn bộ kết quả của tỉnh").click()
    expect(page.get_by_text("Quyết định chỉ có hiệu lực khi một quản trị viên khác của Bộ xác nhận.")).to_be_visible()
    expect(page.get_by_text("Chờ người thứ hai xác nhận")).to_be_visible()
    expect(page.get_by_role("button", name="Xác nhận quyết định số")).to_have_count(0)
    screenshot(page, artifacts_dir, "integrity-2-proposed", database)
    page.get_by_role("button", name="Đăng xuất").click()
    assert not integrity_decisions.is_province_voided(session, campaign.id, HA_NOI)

    # A second administrator confirms it.
    log_in(page, live_server, "bo-thu-hai")
    page.get_by_role("link", name="Kiểm tra can thiệp").click()
    expect(page.locator(f"#dot-{campaign.id}")).to_contain_text("1")
    page.locator(f"#dot-{campaign.id}").get_by_role("link", name="Cảnh báo theo tỉnh").click()
    expect(page.locator(f"#tinh-{HA_NOI}")).to_contain_text("1 đề xuất chờ xác nhận")
    page.locator(f"#tinh-{HA_NOI}").get_by_role("link", name="Bằng chứng và quyết định").click()
    page.get_by_role("button", name="Xác nhận quyết định số").click()
    expect(page.get_by_text("Đã xác nhận: quyết định có hiệu lực")).to_be_visible()
    expect(page.locator("#voided")).to_be_visible()
    screenshot(page, artifacts_dir, "integrity-3-confirmed", database)
    page.get_by_role("button", name="Đăng xuất").click()
    session.expire_all()
    assert integrity_decisions.is_province_voided(session, campaign.id, HA_NOI)

    # The province reads the decision and its reason, on its home page, its progress page and in a notice.
    log_in(page, live_server, "ha-noi")
    decision = page.locator("#quyet-dinh-can-thiep")
    expect(decision).to_contain_text("Bộ Nội vụ hủy toàn bộ kết quả khảo sát của tỉnh")
    expect(decision).to_contain_text(REASON)
    expect(page.get_by_text(integrity_review.short_hash(DEVICE))).to_have_count(0)
    screenshot(page, artifacts_dir, "integrity-4-province-home", database)
    page.get_by_role("link", name="Tiến độ khảo sát").click()
    expect(page.locator("#quyet-dinh-can-thiep")).to_contain_text(REASON)
    page.get_by_role("link", name="Thông báo").click()
    expect(page.get_by_text("Bộ Nội vụ hủy toàn bộ kết quả khảo sát của tỉnh").first).to_be_visible()
    screenshot(page, artifacts_dir, "integrity-5-province-notice", database)
    assert session.exec(select(integrity_decisions.IntegrityDecision)).one().decided_by_id != ministry.id
