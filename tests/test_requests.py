"""Đề nghị (issue 8): a province asks the ministry for an extension, a return or help; the ministry answers.

The 2021 campaign is current: lists are due 15/01/2022, answers 20/02/2022. Tests run on 17/01/2022 (the
list deadline has passed) unless they travel.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlmodel import Session, select

from portal.domain import answers, evidence, lists, requests
from portal.domain.campaigns import current_campaign
from portal.models import (
    AuditEntry,
    Invitation,
    ListStatus,
    MinistryNotice,
    Notice,
    NoticeRecipient,
    ProvinceRequest,
    RequestStatus,
    StoredFile,
)
from tests.support.accounts import HA_NOI, log_in
from tests.support.html import text_of
from tests.support.smtp import mail_config
from tests.support.survey import AFTER_DEADLINE, form_def, launch_survey, send_list
from tests.support.survey import complete_answers as full_answers

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de")


@pytest.fixture(autouse=True)
def after_the_list_deadline():
    with time_machine.travel("2022-01-17 09:00 +0700", tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def files_dir(app_config, tmp_path) -> Path:
    """The files folder of the app under test (autouse: set before the app is built)."""
    folder = tmp_path / "tep"
    app_config["PORTAL_FILES_DIR"] = str(folder)
    return folder


def client_as(app, user):
    client = app.test_client()
    log_in(client, user)
    return client


def form_key_of(html: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def ask(client, kind: str = "list_extension", *, reason: str = "Sở Nội vụ đang tổng hợp danh sách các huyện.",
        until: str = "25/01/2022", file: tuple[bytes, str] | None = None, form_key: str | None = None):
    """Open the request form and post it, as a province officer does."""
    page = client.get(f"/de-nghi/moi?loai={kind}")
    assert page.status_code == 200
    data = {"kind": kind, "reason": reason, "wanted_until": until,
            "form_key": form_key or form_key_of(page.get_data(as_text=True))}
    if file is not None:
        data["file"] = (io.BytesIO(file[0]), file[1])
    return client.post("/de-nghi/moi", data=data, content_type="multipart/form-data")


def the_requests(session: Session) -> list[ProvinceRequest]:
    session.expire_all()
    return list(session.exec(select(ProvinceRequest).order_by(ProvinceRequest.id)))


def notices_to(session: Session, province_id: int) -> list[str]:
    return [n.title for n in session.exec(select(Notice).join(NoticeRecipient, NoticeRecipient.notice_id == Notice.id)
                                          .where(NoticeRecipient.province_id == province_id).order_by(Notice.id))]


def actions(session: Session) -> list[str]:
    return [e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]


# ---------------------------------------------------------------- asking


def test_the_expired_list_page_links_to_a_request_for_an_extension(app, session, province_user):
    client = client_as(app, province_user)

    page = client.get("/khao-sat/danh-sach/").get_data(as_text=True)

    assert 'href="/de-nghi/moi?loai=list_extension"' in page
    assert "Gửi đề nghị gia hạn" in text_of(page)
    assert "đề nghị Bộ Nội vụ gia hạn" not in text_of(page)


def test_a_sent_list_page_links_to_a_request_for_its_return(app, session, province_user):
    with time_machine.travel("2022-01-10 09:00 +0700", tick=False):
        send_list(session, HA_NOI)
        page = client_as(app, province_user).get("/khao-sat/danh-sach/").get_data(as_text=True)

    assert 'href="/de-nghi/moi?loai=list_return"' in page
    assert "đề nghị Bộ Nội vụ trả lại" not in text_of(page)


def test_a_province_asks_for_an_extension_and_the_ministry_is_told(app, session, province_user, ministry_user,
                                                                   files_dir):
    response = ask(client_as(app, province_user))

    [item] = the_requests(session)
    assert response.status_code == 303 and response.headers["Location"] == f"/de-nghi/{item.id}"
    assert (item.province_id, item.kind, item.wanted_until, item.status) == (
        HA_NOI, "list_extension", date(2022, 1, 25), "open")
    assert [n.title for n in session.exec(select(MinistryNotice))] == [
        "Thành phố Hà Nội đề nghị: gia hạn gửi danh sách đối tượng khảo sát"]
    assert actions(session) == ["Gửi đề nghị"]
    ministry = client_as(app, ministry_user)
    assert "1 đề nghị chờ trả lời" in text_of(ministry.get("/").get_data(as_text=True))
    assert "Thành phố Hà Nội" in text_of(ministry.get("/de-nghi/").get_data(as_text=True))


def test_posting_the_same_form_twice_makes_one_request(app, session, province_user, files_dir):
    client = client_as(app, province_user)
    page = client.get("/de-nghi/moi").get_data(as_text=True)
    key = form_key_of(page)

    first = ask(client, form_key=key)
    second = ask(client, form_key=key)

    assert len(the_requests(session)) == 1
    assert first.headers["Location"] == second.headers["Location"]
    assert len(list(session.exec(select(MinistryNotice)))) == 1


def test_an_extension_request_without_a_date_is_refused_and_keeps_what_was_typed(app, session, province_user,
                                                                                 files_dir):
    response = ask(client_as(app, province_user), until="", reason="Lý do rất dài đã gõ")

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Vui lòng nhập ngày đề nghị gia hạn đến" in page
    assert "Lý do rất dài đã gõ" in page
    assert the_requests(session) == []


def test_the_return_of_a_list_not_sent_cannot_be_asked(app, session, province_user, files_dir):
    response = ask(client_as(app, province_user), "list_return")

    assert response.status_code == 422
    assert "Chỉ đề nghị trả lại được danh sách đã gửi" in response.get_data(as_text=True)


def test_the_it_focal_point_asks_for_technical_help(app, session, it_focal_user, files_dir):
    response = ask(client_as(app, it_focal_user), "technical", reason="Máy chủ thư của tỉnh chặn thư mời.", until="")

    [item] = the_requests(session)
    assert response.status_code == 303
    assert (item.author_id, item.kind, item.wanted_until) == (it_focal_user.id, "technical", None)


def test_where_mail_is_configured_the_ministry_is_emailed_once(app_config, session, province_user, files_dir, sink):
    from portal import create_app
    from portal.domain import outbox

    app_config.update(mail_config(sink, MAIL_CONFIGURED=True, PORTAL_MINISTRY_EMAIL="vucchc@moha.gov.vn"))
    application = create_app(app_config)
    client = client_as(application, province_user)
    page = client.get("/de-nghi/moi").get_data(as_text=True)
    ask(client, form_key=form_key_of(page))
    ask(client, form_key=form_key_of(page))  # the same form again: no second email
    [item] = the_requests(session)
    outbox.run_once(application, "test-worker", limit=10)

    [received] = sink.messages
    body = received.message.get_body(("plain",)).get_content()
    assert received.rcpt_tos == ["vucchc@moha.gov.vn"]
    assert received.message["Subject"] == ("[Cổng Chỉ số CCHC] Thành phố Hà Nội đề nghị: gia hạn gửi danh sách "
                                           "đối tượng khảo sát")
    assert "Đề nghị gia hạn đến: 25/01/2022." in body
    assert f"http://localhost/de-nghi/{item.id}" in body


# ---------------------------------------------------------------- files


def test_a_file_is_kept_outside_the_web_root_and_downloaded_as_an_attachment(app, session, province_user,
                                                                             ministry_user, files_dir):
    ask(client_as(app, province_user), file=(PDF, "Công văn số 12.pdf"))

    [item] = the_requests(session)
    stored = session.get(StoredFile, item.file_id)
    assert evidence.path_of(stored, files_dir).read_bytes() == PDF
    assert (stored.original_name, stored.content_type, stored.size) == ("Công văn số 12.pdf", "application/pdf",
                                                                         len(PDF))
    download = client_as(app, ministry_user).get(f"/de-nghi/{item.id}/tep")
    assert download.status_code == 200
    assert download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")


def test_a_file_whose_bytes_are_not_an_allowed_type_is_refused_whatever_its_name(app, session, province_user,
                                                                                 files_dir):
    response = ask(client_as(app, province_user), file=(b"<html><script>alert(1)</script></html>", "cong-van.pdf"))

    assert response.status_code == 422
    assert "Nội dung tệp đã được kiểm tra" in response.get_data(as_text=True)
    assert the_requests(session) == []
    assert not files_dir.exists() or list(files_dir.iterdir()) == []


def test_a_file_over_the_size_limit_is_refused(app_config, app, session, province_user, files_dir):
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = PNG + b"\0" * (limit - len(PNG) - 1000 + 2000)

    response = ask(client_as(app, province_user), file=(big, "anh.png"))

    assert response.status_code in {413, 422}
    assert the_requests(session) == []


def test_another_province_never_sees_a_request_or_its_file(app, session, province_user, other_province_user,
                                                           it_focal_user, other_it_focal_user, files_dir):
    ask(client_as(app, province_user), file=(PNG, "anh-chup.png"))
    [item] = the_requests(session)

    for outsider in (other_province_user, other_it_focal_user):
        client = client_as(app, outsider)
        assert client.get(f"/de-nghi/{item.id}").status_code == 404
        assert client.get(f"/de-nghi/{item.id}/tep").status_code == 404
        assert "Sở Nội vụ đang tổng hợp" not in client.get("/de-nghi/").get_data(as_text=True)
    own_focal = client_as(app, it_focal_user)
    assert own_focal.get(f"/de-nghi/{item.id}/tep").data == PNG


# ---------------------------------------------------------------- answering


def answer(app, ministry_user, item_id: int, decision: str, text: str = "", until: str = ""):
    return client_as(app, ministry_user).post(f"/de-nghi/{item_id}/tra-loi",
                                              data={"decision": decision, "answer": text, "until": until})


def test_granting_an_extension_applies_it_and_the_province_sees_the_new_deadline(app, session, province_user,
                                                                                ministry_user, files_dir):
    province = client_as(app, province_user)
    ask(province)
    [item] = the_requests(session)

    response = answer(app, ministry_user, item.id, "grant", "Đồng ý", "24/01/2022")

    assert response.status_code == 303
    [item] = the_requests(session)
    assert (item.status, item.granted_until, item.answered_by_id) == ("granted", date(2022, 1, 24), ministry_user.id)
    campaign = current_campaign(session)
    rlist = lists.list_for(session, campaign, HA_NOI)
    assert lists.deadline_of(rlist, campaign) == date(2022, 1, 24)
    assert lists.editability(rlist, campaign, "Asia/Ho_Chi_Minh").allowed
    assert "Bộ Nội vụ gia hạn gửi danh sách đến 24/01/2022" in notices_to(session, HA_NOI)
    assert actions(session) == ["Gửi đề nghị", "Chấp thuận đề nghị", "Gia hạn gửi danh sách"]
    page = text_of(province.get("/khao-sat/danh-sach/").get_data(as_text=True))
    assert "Hạn gửi danh sách: 24/01/2022" in page
    assert "Đã chấp thuận" in text_of(province.get(f"/de-nghi/{item.id}").get_data(as_text=True))


def test_a_second_answer_is_refused_and_nothing_is_applied_twice(app, session, province_user, ministry_user,
                                                                 files_dir):
    ask(client_as(app, province_user))
    [item] = the_requests(session)
    answer(app, ministry_user, item.id, "grant", "", "24/01/2022")

    again = answer(app, ministry_user, item.id, "grant", "", "30/01/2022")

    assert again.status_code == 422
    assert "Đề nghị này đã được trả lời" in again.get_data(as_text=True)
    assert lists.list_for(session, current_campaign(session), HA_NOI).extension_until == date(2022, 1, 24)
    assert actions(session).count("Gia hạn gửi danh sách") == 1


def test_a_grant_the_lists_refuse_leaves_the_request_open(app, session, province_user, ministry_user, files_dir):
    ask(client_as(app, province_user))
    [item] = the_requests(session)

    response = answer(app, ministry_user, item.id, "grant", "Đồng ý", "10/01/2022")  # a day already past

    assert response.status_code == 422
    assert "Ngày gia hạn phải từ hôm nay trở đi" in response.get_data(as_text=True)
    assert "Đồng ý" in response.get_data(as_text=True)
    [item] = the_requests(session)
    assert item.status == "open"
    assert lists.list_for(session, current_campaign(session), HA_NOI) is None
    assert actions(session) == ["Gửi đề nghị"]


def test_refusing_needs_a_reason_and_tells_the_province(app, session, province_user, ministry_user, files_dir):
    ask(client_as(app, province_user))
    [item] = the_requests(session)

    empty = answer(app, ministry_user, item.id, "refuse")
    refused = answer(app, ministry_user, item.id, "refuse", "Đã quá thời gian tổng hợp toàn quốc.")

    assert empty.status_code == 422 and "Vui lòng nêu lý do không chấp thuận" in empty.get_data(as_text=True)
    assert refused.status_code == 303
    assert the_requests(session)[0].status == RequestStatus.REFUSED
    assert "Bộ Nội vụ không chấp thuận đề nghị gia hạn gửi danh sách đối tượng khảo sát" in notices_to(session, HA_NOI)
    assert lists.list_for(session, current_campaign(session), HA_NOI) is None
    assert actions(session)[-1] == "Không chấp thuận đề nghị"


def test_a_technical_request_is_answered_with_text_not_granted(app, session, it_focal_user, ministry_user, files_dir):
    ask(client_as(app, it_focal_user), "technical", until="")
    [item] = the_requests(session)

    granted = answer(app, ministry_user, item.id, "grant")
    replied = answer(app, ministry_user, item.id, "reply", "Đã mở chặn địa chỉ cổng khảo sát.")

    assert granted.status_code == 422
    assert replied.status_code == 303
    assert the_requests(session)[0].status == RequestStatus.ANSWERED
    assert "Bộ Nội vụ đã trả lời đề nghị hỗ trợ sự cố kỹ thuật" in notices_to(session, HA_NOI)
    page = text_of(client_as(app, it_focal_user).get(f"/de-nghi/{item.id}").get_data(as_text=True))
    assert "Đã mở chặn địa chỉ cổng khảo sát." in page


def test_granting_a_return_returns_the_sent_list(app, session, province_user, ministry_user, files_dir):
    with time_machine.travel("2022-01-10 09:00 +0700", tick=False):
        send_list(session, HA_NOI)
        log_in_province = client_as(app, province_user)
        ask(log_in_province, "list_return", reason="Thiếu hai lãnh đạo sở mới bổ nhiệm.", until="")
        [item] = the_requests(session)

        response = answer(app, ministry_user, item.id, "grant", "Đồng ý trả lại.", "14/01/2022")

    assert response.status_code == 303
    rlist = lists.list_for(session, current_campaign(session), HA_NOI)
    session.refresh(rlist)
    assert (rlist.status, rlist.return_reason, rlist.extension_until) == (
        ListStatus.RETURNED, "Đồng ý trả lại.", date(2022, 1, 14))
    assert "Bộ Nội vụ trả lại danh sách đối tượng khảo sát để chỉnh sửa" in notices_to(session, HA_NOI)


def test_granting_a_response_extension_lets_that_province_answer_after_the_deadline(app, session, province_user,
                                                                                   ministry_user, files_dir):
    with time_machine.travel("2022-02-15 09:00 +0700", tick=False):
        survey = launch_survey(app, session, ministry_user, HA_NOI)
        ask(client_as(app, province_user), "response_extension", until="28/02/2022")
        [item] = the_requests(session)
        answer(app, ministry_user, item.id, "grant", "", "27/02/2022")
    person = survey.invitations[0]
    code = person.form_codes[0]
    campaign = current_campaign(session)

    with time_machine.travel(AFTER_DEADLINE, tick=False):
        invitation = session.get(Invitation, person.invitation.id)
        with app.app_context():
            saved = answers.save_draft(session, invitation, campaign, form_def(session, code),
                                       full_answers(form_def(session, code)), tz_name="Asia/Ho_Chi_Minh")
        progress = client_as(app, province_user).get("/khao-sat/tien-do/")
        overview = app.test_client().get(person.url)
        form_page = app.test_client().get(person.form_url(code))

    assert not saved.closed
    assert "Hạn trả lời: hết ngày 27/02/2022" in text_of(overview.get_data(as_text=True))
    assert form_page.status_code == 200
    assert "Hạn trả lời phiếu: 27/02/2022" in text_of(progress.get_data(as_text=True))
    assert answers.is_closed(campaign, "Asia/Ho_Chi_Minh", datetime(2022, 2, 28, 0, 0, 1, tzinfo=TZ),
                             extension=date(2022, 2, 27))


def test_a_response_extension_must_end_after_the_campaign_deadline(app, session, province_user, ministry_user,
                                                                   files_dir):
    ask(client_as(app, province_user), "response_extension", until="25/02/2022")
    [item] = the_requests(session)

    response = answer(app, ministry_user, item.id, "grant", "", "19/02/2022")

    assert response.status_code == 422
    assert "Hạn mới phải sau hạn trả lời phiếu của đợt (20/02/2022)" in response.get_data(as_text=True)


def test_the_domain_refuses_an_unknown_kind(app, session, province_user, files_dir):
    from portal.models import Province

    with pytest.raises(requests.RequestError, match="Vui lòng chọn loại đề nghị"):
        requests.submit(session, province_user, current_campaign(session), session.get(Province, HA_NOI),
                        kind="bonus", reason="x", wanted_until=None, form_key="k", upload=None, files_dir=files_dir,
                        max_bytes=1000, tz_name="Asia/Ho_Chi_Minh")
