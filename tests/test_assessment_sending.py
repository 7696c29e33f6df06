"""Approval and sending of a self-assessment ("Gửi kết quả tự đánh giá"), the ministry's return for correction, the
states of the ministry's overview.

The 2021 campaign is current (deadline 15/02/2022) with the sample framework; tests run on 01/02/2022.
"""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from portal.domain import assessment, framework
from portal.domain.campaigns import current_campaign
from portal.models import Assessment, AuditEntry, Notice
from tests.support.accounts import HA_NOI, log_in
from tests.support.html import text_of as _text

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
APPROVAL = {"number": "45/QĐ-UBND", "day": "28/01/2022", "signer": "Nguyễn Văn A, Chủ tịch UBND"}


@pytest.fixture(autouse=True)
def files_dir(app_config, tmp_path):
    app_config["PORTAL_FILES_DIR"] = str(tmp_path / "tep")
    return tmp_path / "tep"


@pytest.fixture
def hanoi(session, clock, province_user):
    campaign = current_campaign(session)
    framework.load_sample(session, campaign)
    return assessment.get_or_create(session, campaign, HA_NOI)


def text_of(response) -> str:
    return _text(response.get_data(as_text=True))


def approve(client, row, *, report: bytes | None = PDF, **fields):
    data = {**APPROVAL, **fields}
    if report is not None:
        data["report"] = (io.BytesIO(report), "Báo cáo tự đánh giá 2021.pdf")
    return client.post(f"/tu-danh-gia/{row.id}/phe-duyet", data=data, content_type="multipart/form-data")


def fresh(session, row) -> Assessment:
    session.expire_all()
    return session.get(Assessment, row.id)


def actions(session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)))


def test_the_sending_page_summarises_total_unscored_and_missing_evidence(client, session, province_user, hanoi):
    log_in(client, province_user)
    client.post(f"/tu-danh-gia/{hanoi.id}/dong/1.1.1", data={"version": "0", "answer": "yes"})

    page = text_of(client.get(f"/tu-danh-gia/{hanoi.id}/gui"))

    assert "Tổng điểm tự chấm: 1/100 điểm" in page
    assert "Tiêu chí thành phần chưa chấm: 74/75" in page
    assert "Tiêu chí thành phần thiếu tài liệu kiểm chứng: 1 (1.1.1)" in page
    assert "Chưa gửi được: còn thiếu báo cáo tự đánh giá đã phê duyệt, số quyết định phê duyệt" in page


def test_an_approval_without_its_fields_or_with_a_bad_report_is_refused_field_by_field(client, session,
                                                                                      province_user, hanoi):
    log_in(client, province_user)

    response = approve(client, hanoi, report=b"<html></html>", number="", day="30/02/2022", signer="")

    assert response.status_code == 422
    page = text_of(response)
    assert "Vui lòng nhập số quyết định phê duyệt" in page
    assert "Ngày quyết định: vui lòng nhập ngày theo dạng dd/mm/yyyy." in page
    assert "Vui lòng nhập người ký quyết định" in page
    assert fresh(session, hanoi).decision_number == ""
    refused_file = approve(client, hanoi, report=b"<html></html>")
    assert refused_file.status_code == 422 and "Nội dung tệp đã được kiểm tra" in text_of(refused_file)
    assert fresh(session, hanoi).report_file_id is None


def test_a_decision_dated_today_in_vietnam_is_accepted_while_utc_is_still_yesterday(client, session, clock,
                                                                                     province_user, hanoi):
    # 01:30 on 02/02/2022 in Việt Nam is 18:30 on 01/02 in UTC: the officer's "today" is the 2nd.
    clock.move_to(datetime(2022, 2, 2, 1, 30, tzinfo=TZ), tick=False)
    log_in(client, province_user)

    assert approve(client, hanoi, day="02/02/2022").status_code == 303
    assert approve(client, hanoi, day="03/02/2022").status_code == 422


def test_sending_asks_a_confirmation_then_locks_stamps_and_audits(client, session, province_user, hanoi):
    log_in(client, province_user)
    assert approve(client, hanoi).status_code == 303

    unconfirmed = client.post(f"/tu-danh-gia/{hanoi.id}/gui", data={})
    assert unconfirmed.status_code == 422
    assert "Vui lòng đánh dấu xác nhận" in text_of(unconfirmed)
    assert fresh(session, hanoi).sent_at is None

    sent = client.post(f"/tu-danh-gia/{hanoi.id}/gui", data={"confirm": "1"})

    assert sent.status_code == 303
    row = fresh(session, hanoi)
    assert row.sent_at is not None and row.sent_by_id == province_user.id
    [entry] = actions(session, "Gửi kết quả tự đánh giá")
    assert (entry.actor_id, entry.province_id) == (province_user.id, HA_NOI)
    assert "45/QĐ-UBND" in entry.detail
    page = text_of(client.get(sent.headers["Location"]))
    assert "Đã gửi kết quả tự đánh giá lúc 09:00 01/02/2022" in page
    locked = client.post(f"/tu-danh-gia/{hanoi.id}/dong/1.1.1", data={"version": "0", "answer": "yes"})
    assert locked.status_code == 409
    assert "Tỉnh đã gửi kết quả tự đánh giá đến Bộ Nội vụ" in text_of(locked)
    again = client.post(f"/tu-danh-gia/{hanoi.id}/gui", data={"confirm": "1"})
    assert again.status_code == 409
    assert len(actions(session, "Gửi kết quả tự đánh giá")) == 1
    report = client.get(f"/tu-danh-gia/{hanoi.id}/bao-cao")
    assert report.data == PDF and report.headers["Content-Disposition"].startswith("attachment;")


def test_sending_after_the_deadline_is_refused_unless_an_exception_runs(client, session, clock, province_user,
                                                                       ministry_user, hanoi):
    log_in(client, province_user)
    approve(client, hanoi)
    clock.move_to(datetime(2022, 2, 16, 0, 0, 0, tzinfo=TZ), tick=False)
    log_in(client, province_user)  # a fresh login: the old session's absolute lifetime has run out

    refused = client.post(f"/tu-danh-gia/{hanoi.id}/gui", data={"confirm": "1"})

    assert refused.status_code == 409
    assert "Cổng đã tự khóa" in text_of(refused)
    assert fresh(session, hanoi).sent_at is None
    log_in(client, ministry_user)
    client.post(f"/bo/tu-danh-gia/{HA_NOI}/ngoai-le", data={"until": "20/02/2022", "reason": "Lũ lụt"})
    log_in(client, province_user)
    assert client.post(f"/tu-danh-gia/{hanoi.id}/gui", data={"confirm": "1"}).status_code == 303
    assert fresh(session, hanoi).sent_at is not None


def test_the_ministry_returns_a_sent_assessment_with_a_reason_and_the_province_sends_again(
        client, session, province_user, ministry_user, hanoi):
    log_in(client, province_user)
    approve(client, hanoi)
    client.post(f"/tu-danh-gia/{hanoi.id}/gui", data={"confirm": "1"})
    log_in(client, ministry_user)
    overview = text_of(client.get("/bo/tu-danh-gia/"))
    assert "Hà Nội" in overview and "Đã gửi 09:00 01/02/2022" in overview

    no_reason = client.post(f"/bo/tu-danh-gia/{HA_NOI}/tra-lai", data={"reason": " "})
    assert no_reason.status_code == 422 and fresh(session, hanoi).sent_at is not None
    returned = client.post(f"/bo/tu-danh-gia/{HA_NOI}/tra-lai", data={"reason": "Thiếu tài liệu tiêu chí 1.1.1"})

    assert returned.status_code == 303
    row = fresh(session, hanoi)
    assert row.sent_at is None and row.return_reason == "Thiếu tài liệu tiêu chí 1.1.1"
    [entry] = actions(session, "Trả lại kết quả tự đánh giá để chỉnh sửa")
    assert (entry.actor_id, entry.province_id, entry.reason) == (ministry_user.id, HA_NOI,
                                                                 "Thiếu tài liệu tiêu chí 1.1.1")
    assert session.exec(select(Notice).where(
        Notice.title == "Bộ Nội vụ trả lại kết quả tự đánh giá để chỉnh sửa")).first() is not None
    log_in(client, province_user)
    page = text_of(client.get("/tu-danh-gia/"))
    assert "Lý do: Thiếu tài liệu tiêu chí 1.1.1" in page
    assert client.post(f"/tu-danh-gia/{hanoi.id}/dong/1.1.1", data={"version": "0", "answer": "yes"}
                       ).status_code == 303
    assert client.post(f"/tu-danh-gia/{hanoi.id}/gui", data={"confirm": "1"}).status_code == 303
    assert len(actions(session, "Gửi kết quả tự đánh giá")) == 2


def test_the_overview_shows_each_state(client, session, clock, province_user, ministry_user, hanoi):
    log_in(client, ministry_user)
    page = text_of(client.get("/bo/tu-danh-gia/"))
    assert "Chưa bắt đầu" in page and "Đã gửi" not in page
    log_in(client, province_user)
    client.post(f"/tu-danh-gia/{hanoi.id}/dong/1.1.1", data={"version": "0", "answer": "yes"})
    campaign = current_campaign(session)
    _, content = assessment.framework_of(session, campaign)
    states = {row.province.id: row.state for row in assessment.overview(session, campaign, content)}
    assert states[HA_NOI] == "đang chấm"
    assert set(states.values()) == {"đang chấm", "chưa bắt đầu"}
    after = datetime(2022, 2, 16, 0, 0, 0, tzinfo=TZ)
    states = {row.province.id: row.state for row in assessment.overview(session, campaign, content, now=after)}
    assert set(states.values()) == {"khóa khi chưa gửi"}
