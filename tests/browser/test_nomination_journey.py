"""The province registers its IT focal point with the nomination document in Chromium (CSRF on); a wrong file is
refused with what was typed kept; the ministry downloads the document and reads a bounce kept aside as text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from portal.models import BounceMessage, Role
from tests.support.accounts import HA_NOI, make_user
from tests.support.browser import log_in, screenshot

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
AUTOREPLY = ("From: Trần Văn A <a@hanoi.gov.vn>\nSubject: Tự động trả lời: Mời trả lời phiếu\n"
             "Content-Type: text/html; charset=utf-8\n\n<p>Tôi đang đi công tác đến 15/12.</p>"
             "<script>document.title='hacked'</script><p>Liên kết: http://x/phieu/BiMat123</p>\n")


@pytest.fixture
def app_config(app_config, tmp_path):
    return {**app_config, "PORTAL_FILES_DIR": str(tmp_path / "tep")}



def test_the_province_uploads_the_nomination_and_the_ministry_downloads_it(
    page: Page, live_server, session, artifacts_dir, database, tmp_path
):
    make_user(session, "ha-noi", Role.PROVINCE, HA_NOI)
    make_user(session, "bonoivu", Role.MINISTRY)
    session.add(BounceMessage(digest="cd" * 32, province_id=HA_NOI, kind="unparsed", raw=AUTOREPLY,
                              received_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC),
                              explanation="Không đọc được thư báo lỗi này (có thể là thư tự động trả lời)"))
    session.commit()
    wrong, right = tmp_path / "cu-dau-moi.pdf", tmp_path / "Quyet-dinh-cu.pdf"
    wrong.write_bytes(b"<html>not a pdf</html>")
    right.write_bytes(PDF)

    log_in(page, live_server, "ha-noi")
    page.get_by_role("link", name="Đầu mối CNTT").click()
    expect(page.get_by_role("heading", name="Đầu mối kỹ thuật CNTT của Thành phố Hà Nội")).to_be_visible()
    page.get_by_label("Họ và tên").fill("Trần Minh Đức")
    page.get_by_label("Chức vụ").fill("Phó Giám đốc Trung tâm CNTT")
    page.get_by_label("Số điện thoại di động").fill("0912345678")
    page.get_by_label("Email công vụ").fill("duc.tm@hanoi.gov.vn")

    # A file that is not what its name says: refused, nothing saved, what was typed stays.
    page.get_by_label("Văn bản cử đầu mối CNTT").set_input_files(wrong)
    page.get_by_role("button", name="Đăng ký").click()
    expect(page.locator("#nomination-error")).to_contain_text("không phải PDF, Word")
    expect(page.get_by_label("Họ và tên")).to_have_value("Trần Minh Đức")
    screenshot(page, artifacts_dir, "nomination-1-refused", database)

    page.get_by_label("Văn bản cử đầu mối CNTT").set_input_files(right)
    page.get_by_role("button", name="Đăng ký").click()
    expect(page.get_by_role("heading", name="Đã đăng ký đầu mối CNTT")).to_be_visible()
    page.get_by_role("link", name="Xong").click()
    expect(page.locator("#nomination-current")).to_contain_text("Quyet-dinh-cu.pdf")
    screenshot(page, artifacts_dir, "nomination-2-registered", database)

    # The ministry: the IT focal table links the document; it downloads as a file, not a page.
    page.get_by_role("button", name="Đăng xuất").click()
    log_in(page, live_server, "bonoivu")
    page.goto(live_server + "/bo/dau-moi-cntt")
    with page.expect_download() as download:
        page.get_by_role("link", name="Quyet-dinh-cu.pdf").click()
    saved = tmp_path / "tai-ve.pdf"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "Quyet-dinh-cu.pdf"
    assert saved.read_bytes() == PDF

    # And the bounce kept aside, read as text: no script ran, the personal link is hidden.
    page.get_by_role("link", name="Thư báo lỗi để riêng (mọi tỉnh, thành phố)").click()
    page.get_by_role("link", name="Xem thư").click()
    expect(page.get_by_text("Tôi đang đi công tác đến 15/12.")).to_be_visible()
    expect(page.get_by_text("Tự động trả lời: Mời trả lời phiếu")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("BiMat123")
    assert page.title() != "hacked"
    screenshot(page, artifacts_dir, "nomination-3-kept-message", database)
