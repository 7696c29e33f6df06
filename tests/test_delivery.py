"""IT focal points: registration by the province, the ministry's overview, and the delivery errors page.

The error-list tests launch Hà Nội's short list (two people of each group) on 01/02/2022 at 09:00 +07 and
send it through the outbox into a real SMTP server on loopback (aiosmtpd), which refuses one address with a
550. Three more invitations then come back as real bounces (samples in tests/data/bounces, addressed to the
message's VERP address): a mailbox that does not exist, a full one, and a delay.
"""

from __future__ import annotations

import io
import re
import threading
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session, select

from portal.domain import accounts, bounces, outbox
from portal.domain.invitations import masked_path
from portal.models import AuditEntry, Invitation, OutboxMessage, Respondent, Role, User
from tests.support.accounts import HA_NOI, HAI_PHONG, PASSWORD, log_in, make_user
from tests.support.html import text_of
from tests.support.smtp import MAIL_DOMAIN, mail_config
from tests.support.survey import DURING_SURVEY, TZ, LaunchedSurvey, SentInvitation, launch, launch_survey, send_list

REGISTER = "/dau-moi-cntt/dang-ky"
ERRORS = "/dau-moi-cntt/loi-gui"
BOUNCES = Path(__file__).parent / "data" / "bounces"
REFUSAL = "550 5.7.1 Service unavailable; client host [127.0.0.1] blocked using zen.spamhaus.org"
GOOD = {"full_name": "Trần Minh Đức", "position": "Phó Giám đốc Trung tâm CNTT, Sở TT&TT",
        "phone": "0912 345 678", "email": "duc.tm@hanoi.gov.vn"}
DA_NANG = 48


# ---------------------------------------------------------------- registration


def test_the_first_registration_creates_the_it_focal_account_with_a_one_time_password_shown_once(
        client, session, province_user):
    log_in(client, province_user)

    response = client.post(REGISTER, data=GOOD)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    password = re.search(r'<code class="otp">([^<]+)</code>', page).group(1)
    assert "Tài khoản đăng nhập: ha-noi-cntt" in text_of(page)
    assert "Mật khẩu chỉ hiển thị một lần" in text_of(page)
    user = session.exec(select(User).where(User.username == "ha-noi-cntt")).one()
    assert (user.role, user.province_id, user.must_change_password) == (Role.IT_FOCAL, HA_NOI, True)
    assert (user.full_name, user.position, user.phone, user.email) == (
        "Trần Minh Đức", "Phó Giám đốc Trung tâm CNTT, Sở TT&TT", "0912345678", "duc.tm@hanoi.gov.vn")
    assert user.registered_at is not None
    assert accounts.verify_password(user.password_hash, password)
    [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "Đăng ký đầu mối CNTT")).all()
    assert (entry.actor_name, entry.province_id) == ("ha-noi", HA_NOI)
    assert entry.detail == "Trần Minh Đức, Phó Giám đốc Trung tâm CNTT, Sở TT&TT, 0912345678, duc.tm@hanoi.gov.vn"
    again = client.get(REGISTER).get_data(as_text=True)
    assert password not in again  # shown once
    assert "Tài khoản đăng nhập: ha-noi-cntt" in text_of(again) and 'value="Trần Minh Đức"' in again


def test_the_one_time_password_logs_the_it_focal_point_in_and_must_be_changed_first(
        app, client, session, province_user):
    log_in(client, province_user)
    page = client.post(REGISTER, data=GOOD).get_data(as_text=True)
    password = re.search(r'<code class="otp">([^<]+)</code>', page).group(1)
    visitor = app.test_client()

    response = visitor.post("/dang-nhap", data={"username": "ha-noi-cntt", "password": password})

    assert response.status_code == 302 and response.headers["Location"] == "/doi-mat-khau"
    assert visitor.get(ERRORS).headers["Location"] == "/doi-mat-khau"


def test_a_later_registration_updates_the_details_and_keeps_the_password(client, session, province_user):
    log_in(client, province_user)
    client.post(REGISTER, data=GOOD)
    user = session.exec(select(User).where(User.username == "ha-noi-cntt")).one()
    before = (user.password_hash, user.registered_at, user.id)

    response = client.post(REGISTER, data={**GOOD, "full_name": "Lê Thu Hà", "phone": "+84 98 765 4321",
                                           "email": "ha.lt@hanoi.gov.vn"})

    assert response.status_code == 303 and response.headers["Location"] == REGISTER
    assert "Đã cập nhật thông tin đầu mối CNTT." in text_of(client.get(REGISTER).get_data(as_text=True))
    session.expire_all()
    user = session.get(User, before[2])
    assert (user.full_name, user.phone, user.email) == ("Lê Thu Hà", "0987654321", "ha.lt@hanoi.gov.vn")
    assert (user.password_hash, user.registered_at, user.id) == before
    assert session.exec(select(User).where(User.role == Role.IT_FOCAL)).all() == [user]
    actions = session.exec(select(AuditEntry.action).where(AuditEntry.province_id == HA_NOI)
                           .order_by(AuditEntry.id)).all()
    assert actions == ["Đăng ký đầu mối CNTT", "Cập nhật đầu mối CNTT"]


def test_registering_over_an_account_made_beforehand_keeps_its_password(client, session, province_user,
                                                                        it_focal_user):
    log_in(client, province_user)

    response = client.post(REGISTER, data=GOOD)

    assert response.status_code == 303  # no new password to show
    session.expire_all()
    user = session.get(User, it_focal_user.id)
    assert accounts.verify_password(user.password_hash, PASSWORD) and user.registered_at is not None


@pytest.mark.parametrize(("changes", "messages"), [
    ({"full_name": "", "position": "", "phone": "", "email": ""},
     ["Vui lòng nhập họ và tên.", "Vui lòng nhập chức vụ.", "Số điện thoại di động không hợp lệ (ví dụ 0912345678).",
      "Địa chỉ email công vụ không hợp lệ."]),
    ({"phone": "12345"}, ["Số điện thoại di động không hợp lệ (ví dụ 0912345678)."]),
    ({"phone": "024 3825 1234 ext 5"}, ["Số điện thoại di động không hợp lệ (ví dụ 0912345678)."]),
    ({"email": "duc.tm@"}, ["Địa chỉ email công vụ không hợp lệ."]),
    ({"email": "duc tm@hanoi.gov.vn"}, ["Địa chỉ email công vụ không hợp lệ."]),
    ({"full_name": "   "}, ["Vui lòng nhập họ và tên."]),
])
def test_registration_explains_each_invalid_field_and_creates_nothing(client, session, province_user, changes,
                                                                      messages):
    log_in(client, province_user)

    response = client.post(REGISTER, data={**GOOD, **changes})

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.findall(r'<p class="field-error" id="\w+-error">([^<]+)</p>', page) == messages
    assert page.count('aria-invalid="true"') == len(messages)
    assert session.exec(select(User).where(User.role == Role.IT_FOCAL)).all() == []
    assert session.exec(select(AuditEntry)).all() == []


def test_only_the_province_account_registers_its_it_focal_point(client, ministry_user, it_focal_user):
    for user in (it_focal_user, ministry_user):
        log_in(client, user)
        assert client.get(REGISTER).status_code == 403
        assert client.post(REGISTER, data=GOOD).status_code == 403


def focal_row(page: str, province_name: str) -> str:
    return text_of(page.split(f"<tr><td>{province_name}</td>", 1)[1].split("</tr>", 1)[0])


def test_the_ministry_sees_who_registered_on_time_late_or_not_at_all(client, session, time_machine, ministry_user,
                                                                     province_user, other_province_user):
    da_nang = make_user(session, "da-nang", Role.PROVINCE, DA_NANG)

    def register(user: User, moment: datetime, name: str) -> None:
        time_machine.move_to(moment, tick=False)
        log_in(client, user)
        assert client.post(REGISTER, data={**GOOD, "full_name": name}).status_code == 200

    def overview(moment: datetime) -> str:
        time_machine.move_to(moment, tick=False)
        log_in(client, ministry_user)
        return client.get("/bo/dau-moi-cntt").get_data(as_text=True)

    before = overview(datetime(2022, 1, 5, 9, 0, tzinfo=TZ))
    register(province_user, datetime(2022, 1, 9, 15, 0, tzinfo=TZ), "Trần Minh Đức")
    register(da_nang, datetime(2022, 1, 10, 23, 59, 30, tzinfo=TZ), "Phạm Thị Mai")  # the last minute
    on_the_day = overview(datetime(2022, 1, 10, 23, 59, 45, tzinfo=TZ))
    register(other_province_user, datetime(2022, 1, 11, 0, 0, 30, tzinfo=TZ), "Vũ Văn Hùng")
    after = overview(datetime(2022, 1, 12, 8, 0, tzinfo=TZ))

    assert "Hạn đăng ký: 10/01/2022. Đã đăng ký: 0/63." in text_of(before)
    assert focal_row(before, "Thành phố Hà Nội") == "Chưa đăng ký"
    assert focal_row(on_the_day, "Thành phố Hà Nội").startswith("Đúng hạn Trần Minh Đức")
    assert focal_row(on_the_day, "Thành phố Đà Nẵng").startswith("Đúng hạn Phạm Thị Mai")
    assert focal_row(on_the_day, "Thành phố Hải Phòng") == "Chưa đăng ký"  # the day is not over yet
    assert "Đã đăng ký: 3/63." in text_of(after)
    assert focal_row(after, "Thành phố Hà Nội") == (
        "Đúng hạn Trần Minh Đức Phó Giám đốc Trung tâm CNTT, Sở TT&TT 0912345678 duc.tm@hanoi.gov.vn 15:00 09/01/2022"
        " Chưa có")  # registered without the nomination document (văn bản cử)
    assert focal_row(after, "Thành phố Đà Nẵng").endswith("23:59 10/01/2022 Chưa có")
    assert focal_row(after, "Thành phố Hải Phòng").startswith("Đăng ký muộn Vũ Văn Hùng")
    assert focal_row(after, "Tỉnh Quảng Ninh") == "Quá hạn, chưa đăng ký"
    assert text_of(after).count("Quá hạn, chưa đăng ký") == 60


# ---------------------------------------------------------------- the delivery errors



@pytest.fixture
def app_config(app_config, sink):
    return {**app_config, **mail_config(sink)}


def bounce_back(session: Session, person: SentInvitation, sample: str, at: datetime) -> None:
    """A real bounce sample, as it reaches the VERP address of the person's latest email."""
    token = session.exec(select(OutboxMessage.bounce_token).where(
        OutboxMessage.invitation_id == person.invitation.id).order_by(OutboxMessage.id.desc())).first()
    raw = f"Delivered-To: bounces+{token}@{MAIL_DOMAIN}\n".encode() + (BOUNCES / sample).read_bytes()
    result = bounces.intake(session, [(sample, raw)], now=at)
    assert result.processed == 1 and result.unmatched == result.unparsed == 0


def run_worker(app) -> int:
    return outbox.run_once(app, "test-worker", limit=100)


class Errors:
    def __init__(self, survey: LaunchedSurvey) -> None:
        self.survey = survey
        self.people = dict(zip("ABCDEFGH", survey.invitations, strict=True))

    def __getitem__(self, letter: str) -> SentInvitation:
        return self.people[letter]


@pytest.fixture
def errors(app, session, ministry_user, sink, time_machine) -> Errors:
    """D refused at 09:00 (policy), B bounced at 09:05 (no such user), H bounced at 09:10 (mailbox full),
    G delayed at 09:15; everyone else delivered."""
    time_machine.move_to(DURING_SURVEY, tick=False)
    built = Errors(launch_survey(app, session, ministry_user, per_group=2))
    sink.refuse[built["D"].respondent.email] = REFUSAL
    assert run_worker(app) == 8
    bounce_back(session, built["B"], "dsn_14.txt", DURING_SURVEY + timedelta(minutes=5))
    bounce_back(session, built["H"], "dsn_01.txt", DURING_SURVEY + timedelta(minutes=10))
    bounce_back(session, built["G"], "simple_03.txt", DURING_SURVEY + timedelta(minutes=15))
    time_machine.move_to(DURING_SURVEY + timedelta(minutes=30), tick=False)
    session.expire_all()
    return built


def error_rows(page: str) -> dict[int, str]:
    """The error list: invitation id -> the row's visible text."""
    return {int(ident): text_of(row) for ident, row in re.findall(r'<tr id="e-(\d+)">(.*?)</tr>', page, re.S)}


def test_the_it_focal_page_lists_refusals_and_bounces_with_a_plain_explanation_and_the_raw_reason(
        client, it_focal_user, errors):
    log_in(client, it_focal_user)

    page = client.get(ERRORS).get_data(as_text=True)

    rows = error_rows(page)
    assert list(rows) == [errors[x].invitation.id for x in "GHBD"]  # newest first
    b, d, g, h = (rows[errors[x].invitation.id] for x in "BDGH")
    assert b.startswith("Đặng Kim Lan Trưởng ban Pháp chế, HĐND thành phố lan.dk@ha-noi.gov.vn Thư bị trả lại "
                        "09:05 01/02/2022 Hộp thư không tồn tại")
    assert "Lý do gốc 550 5.1.1 User unknown" in b
    assert d.startswith("Huỳnh Quốc Nam")
    assert f"Máy chủ từ chối khi gửi 09:00 01/02/2022 {bounces.POLICY} Lý do gốc {REFUSAL}" in d
    assert f"Thư bị trả lại 09:10 01/02/2022 {bounces.MAILBOX_FULL}" in h
    assert "Lý do gốc 5.0.0 recipient reached disk quota" in h
    assert f"Đang chậm, máy chủ còn thử lại 09:15 01/02/2022 {bounces.UNAVAILABLE}" in g
    assert "Sửa và gửi lại" in page and "Gửi lại (giữ địa chỉ)" in page


def test_an_unreadable_bounce_changes_nothing_on_the_list(client, session, it_focal_user, errors):
    raw = (BOUNCES / "qmail_08.txt").read_bytes()  # an autoreply, not a bounce
    bounces.intake(session, [("qmail_08", raw)], now=DURING_SURVEY + timedelta(minutes=20))
    log_in(client, it_focal_user)

    assert list(error_rows(client.get(ERRORS).get_data(as_text=True))) == [errors[x].invitation.id for x in "GHBD"]


def post_correction(client, person: SentInvitation, email: str):
    return client.post(f"{ERRORS}/{person.invitation.id}/sua", data={"email": email})


@pytest.mark.parametrize(("email", "message"), [
    ("lan.dk@", "Địa chỉ “lan.dk@” không hợp lệ."),
    ("lan dk@ha-noi.gov.vn", "Địa chỉ “lan dk@ha-noi.gov.vn” không hợp lệ."),
    ("", "Địa chỉ “” không hợp lệ."),
    ("viet.nt@ha-noi.gov.vn", "Địa chỉ viet.nt@ha-noi.gov.vn đã là của Ngô Thị Việt trong danh sách."),
    ("VIET.NT@ha-noi.gov.vn", "Địa chỉ viet.nt@ha-noi.gov.vn đã là của Ngô Thị Việt trong danh sách."),
    ("lan.dk@ha-noi.gov.vn", "Địa chỉ mới trùng địa chỉ cũ. Nếu chỉ muốn gửi lại, hãy bấm “Gửi lại”."),
    ("lân.đk@ha-noi.gov.vn", "Địa chỉ “lân.đk@ha-noi.gov.vn” không hợp lệ: phần trước dấu @ có chữ có dấu"),
])
def test_a_correction_to_an_invalid_or_taken_address_is_refused_with_a_message(
        client, session, it_focal_user, errors, email, message):
    log_in(client, it_focal_user)
    queued = len(session.exec(select(OutboxMessage)).all())

    response = post_correction(client, errors["B"], email)

    assert response.status_code == 303
    assert message in text_of(client.get(ERRORS).get_data(as_text=True))
    session.expire_all()
    assert session.get(Respondent, errors["B"].respondent.id).email == "lan.dk@ha-noi.gov.vn"
    assert len(session.exec(select(OutboxMessage)).all()) == queued
    assert session.exec(select(AuditEntry).where(AuditEntry.action.like("Sửa địa chỉ%"))).all() == []


def link_in(text: str) -> str:
    return re.search(r"/phieu/[\w.•-]+", text).group(0)


def test_a_correction_is_audited_shown_to_the_province_and_resent_with_the_same_link_until_delivered(
        app, client, session, sink, it_focal_user, province_user, errors):
    person = errors["B"]
    original = session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id)).one()
    log_in(client, it_focal_user)

    response = post_correction(client, person, "  Kim.Lan.Dang@Ha-Noi.gov.vn ")

    assert response.status_code == 303 and response.headers["Location"] == ERRORS
    page = client.get(ERRORS).get_data(as_text=True)
    assert "Đã sửa địa chỉ thành kim.lan.dang@ha-noi.gov.vn và gửi lại thư mời." in text_of(page)
    session.expire_all()
    assert session.get(Respondent, person.respondent.id).email == "kim.lan.dang@ha-noi.gov.vn"
    [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "Sửa địa chỉ email người được khảo sát")
                           ).all()
    assert (entry.actor_name, entry.province_id) == ("ha-noi-cntt", HA_NOI)
    assert entry.detail == "Đặng Kim Lan: lan.dk@ha-noi.gov.vn → kim.lan.dang@ha-noi.gov.vn"
    [resent] = session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id,
                                                        OutboxMessage.id != original.id)).all()
    assert (resent.to_addr, resent.status, resent.kind) == ("kim.lan.dang@ha-noi.gov.vn", "queued", "invitation")
    assert link_in(resent.body_text) == link_in(original.body_text) == masked_path(person.invitation.id)
    # Until the worker has delivered it, the row stays, saying so.
    row = error_rows(page)[person.invitation.id]
    assert "kim.lan.dang@ha-noi.gov.vn Đang gửi lại" in row and "Lý do gốc 550 5.1.1 User unknown" in row
    log_in(client, province_user)
    notices = text_of(client.get("/thong-bao/").get_data(as_text=True))
    assert "Đầu mối CNTT đã sửa địa chỉ email của Đặng Kim Lan" in notices
    assert "lan.dk@ha-noi.gov.vn → kim.lan.dang@ha-noi.gov.vn. Thư mời đã được gửi lại đến địa chỉ mới." in notices

    assert run_worker(app) == 1

    [arrived] = [m for m in sink.messages if m.outbox_id == resent.id]
    assert arrived.rcpt_tos == ["kim.lan.dang@ha-noi.gov.vn"]
    assert arrived.mail_from == f"bounces+{resent.bounce_token}@{MAIL_DOMAIN}"
    assert f"http://localhost{person.url}" in arrived.message.get_body(("plain",)).get_content()
    log_in(client, it_focal_user)
    assert person.invitation.id not in error_rows(client.get(ERRORS).get_data(as_text=True))
    session.expire_all()
    assert session.get(Invitation, person.invitation.id).delivery_status == "sent"


def test_a_corrected_address_that_fails_again_comes_back_with_the_new_reason(app, client, session, sink,
                                                                            it_focal_user, errors):
    sink.refuse["lan.kim@ha-noi.gov.vn"] = "550 5.1.1 <lan.kim@ha-noi.gov.vn>: Recipient address rejected"
    log_in(client, it_focal_user)
    post_correction(client, errors["B"], "lan.kim@ha-noi.gov.vn")

    run_worker(app)

    row = error_rows(client.get(ERRORS).get_data(as_text=True))[errors["B"].invitation.id]
    assert f"lan.kim@ha-noi.gov.vn Máy chủ từ chối khi gửi 09:30 01/02/2022 {bounces.MAILBOX_UNKNOWN}" in row
    assert "Lý do gốc 550 5.1.1 <lan.kim@ha-noi.gov.vn>: Recipient address rejected" in row


def test_resend_queues_the_invitation_again_to_the_same_address(app, client, session, sink, it_focal_user, errors):
    person = errors["H"]  # a full mailbox: once emptied, the same address works
    log_in(client, it_focal_user)

    response = client.post(f"{ERRORS}/{person.invitation.id}/gui-lai")

    assert response.status_code == 303
    assert "Đã đưa thư mời vào hàng đợi gửi lại." in text_of(client.get(ERRORS).get_data(as_text=True))
    queued = session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id,
                                                      OutboxMessage.status == "queued")).all()
    assert [m.to_addr for m in queued] == [person.respondent.email]
    assert link_in(queued[0].body_text) == masked_path(person.invitation.id)
    assert session.exec(select(AuditEntry.detail).where(AuditEntry.action == "Gửi lại thư mời")).all() == [
        person.respondent.email]
    assert run_worker(app) == 1 and sink.messages[-1].rcpt_tos == [person.respondent.email]
    assert person.invitation.id not in error_rows(client.get(ERRORS).get_data(as_text=True))


def test_three_clicks_on_resend_queue_one_email(app, client, session, sink, it_focal_user, errors):
    person = errors["H"]
    log_in(client, it_focal_user)

    responses = [client.post(f"{ERRORS}/{person.invitation.id}/gui-lai") for _ in range(3)]

    assert [r.status_code for r in responses] == [303] * 3
    page = text_of(client.get(ERRORS).get_data(as_text=True))
    assert "Thư mời này đã ở hàng đợi gửi lại; không gửi thêm thư." in page
    assert len(session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id,
                                                        OutboxMessage.status == "queued")).all()) == 1
    assert run_worker(app) == 1
    assert [m.rcpt_tos for m in sink.messages].count([person.respondent.email]) == 2  # the first, and one again


def test_a_double_click_on_resend_from_two_requests_at_once_queues_one_email(app, session, it_focal_user, errors):
    person = errors["D"]
    session.refresh(it_focal_user)  # read here, not from two threads sharing the test's session
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        log_in(browser, it_focal_user)
    url = f"{ERRORS}/{person.invitation.id}/gui-lai"
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def click(browser) -> None:
        barrier.wait(timeout=10)
        statuses.append(browser.post(url).status_code)

    threads = [threading.Thread(target=click, args=(browser,)) for browser in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [303, 303]
    assert len(session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id,
                                                        OutboxMessage.status == "queued")).all()) == 1


def test_correcting_an_address_while_a_resend_waits_redirects_that_email_instead_of_adding_one(
        app, client, session, sink, it_focal_user, errors):
    person = errors["B"]
    log_in(client, it_focal_user)
    client.post(f"{ERRORS}/{person.invitation.id}/gui-lai")

    post_correction(client, person, "lan.kim@ha-noi.gov.vn")

    waiting = session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id,
                                                       OutboxMessage.status == "queued")).all()
    assert [m.to_addr for m in waiting] == ["lan.kim@ha-noi.gov.vn"]
    assert run_worker(app) == 1 and sink.messages[-1].rcpt_tos == ["lan.kim@ha-noi.gov.vn"]


def test_a_451_that_used_up_its_retries_reads_as_failed_with_what_to_do(app, client, session, sink, it_focal_user,
                                                                        errors):
    app.config["PORTAL_MAIL_MAX_ATTEMPTS"] = 1
    sink.tempfail["lan.kim@ha-noi.gov.vn"] = 99
    log_in(client, it_focal_user)
    post_correction(client, errors["B"], "lan.kim@ha-noi.gov.vn")

    run_worker(app)

    row = error_rows(client.get(ERRORS).get_data(as_text=True))[errors["B"].invitation.id]
    assert f"Máy chủ người nhận không nhận thư sau nhiều lần thử 09:30 01/02/2022 {bounces.GAVE_UP}" in row
    assert "Lý do gốc 451 4.7.1 Greylisted, please try again later" in row
    assert "đang được thử gửi lại" not in row and "Đang gửi lại" not in row


def test_the_export_lists_the_errors_with_explanations_and_raw_reasons(client, it_focal_user, errors):
    log_in(client, it_focal_user)

    response = client.get(f"{ERRORS}.xlsx")

    assert response.status_code == 200
    assert "loi-gui-thu-ha-noi.xlsx" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "Lỗi gửi thư mời khảo sát: Thành phố Hà Nội"
    assert rows[2] == ["Họ và tên", "Chức vụ", "Cơ quan/đơn vị", "Email", "Tình trạng", "Thời điểm", "Giải thích",
                       "Lý do gốc (máy chủ thư)"]
    assert [row[3] for row in rows[3:]] == [errors[x].respondent.email for x in "GHBD"]
    assert rows[5][4:] == ["Thư bị trả lại", "01/02/2022 09:05", bounces.MAILBOX_UNKNOWN, "550 5.1.1 User unknown"]
    assert rows[6][4:] == ["Máy chủ từ chối khi gửi", "01/02/2022 09:00", bounces.POLICY, REFUSAL]


# ---------------------------------------------------------------- who may do what


@pytest.fixture
def haiphong(app, session, ministry_user, errors) -> list[SentInvitation]:
    """Hải Phòng's launched list, every invitation bounced."""
    from tests.support.survey import sent_invitations

    send_list(session, HAI_PHONG, per_group=2)
    launch(app, session, ministry_user, [HAI_PHONG])
    theirs = sent_invitations(app, session, HAI_PHONG)
    for person in theirs:
        message = session.exec(select(OutboxMessage.id).where(OutboxMessage.invitation_id == person.invitation.id)
                               ).one()
        outbox.record_outcome(session, message, "bounced", "550 5.1.1 User unknown", DURING_SURVEY)
    session.commit()
    return theirs


def test_the_it_focal_point_of_ha_noi_cannot_see_or_act_on_hai_phong_invitations(
        client, session, it_focal_user, errors, haiphong):
    log_in(client, it_focal_user)
    target = haiphong[0]

    page = client.get(ERRORS).get_data(as_text=True)
    corrected = post_correction(client, target, "moi@haiphong.gov.vn")
    resent = client.post(f"{ERRORS}/{target.invitation.id}/gui-lai")
    exported = client.get(f"{ERRORS}.xlsx").data

    assert set(error_rows(page)) == {errors[x].invitation.id for x in "BDGH"}
    assert all(p.respondent.email not in page for p in haiphong)
    assert corrected.status_code == resent.status_code == 404
    session.expire_all()
    assert session.get(Respondent, target.respondent.id).email == target.respondent.email
    assert session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == target.invitation.id)).all()[
        0].status == "bounced"
    assert len(session.exec(select(OutboxMessage).where(OutboxMessage.province_id == HAI_PHONG)).all()) == 8
    assert all(p.respondent.email.encode() not in exported for p in haiphong)


def test_the_it_focal_point_cannot_redirect_a_delivered_invitation(client, session, it_focal_user, errors):
    # Sending someone's personal link to another address would hand over their answers: delivered rows are off.
    person = errors["A"]
    log_in(client, it_focal_user)

    assert post_correction(client, person, "ke.gian@example.com").status_code == 404
    assert client.post(f"{ERRORS}/{person.invitation.id}/gui-lai").status_code == 404
    session.expire_all()
    assert session.get(Respondent, person.respondent.id).email == person.respondent.email
    assert len(session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id)
                            ).all()) == 1


@pytest.mark.parametrize("url", ["/bo/tien-do", "/bo/tien-do/1", "/bo/dau-moi-cntt", "/bo/tinh-thanh",
                                 "/khao-sat/danh-sach/", "/khao-sat/danh-sach/ra-soat",
                                 "/khao-sat/danh-sach/xuat.xlsx", REGISTER])
def test_the_it_focal_point_cannot_reach_the_ministry_pages_the_list_pages_or_the_registration(
        client, it_focal_user, errors, url):
    log_in(client, it_focal_user)

    assert client.get(url).status_code == 403


def test_a_province_account_sees_the_error_list_but_cannot_correct_or_resend(client, session, province_user,
                                                                            errors):
    log_in(client, province_user)
    person = errors["B"]

    page = client.get(ERRORS)
    exported = client.get(f"{ERRORS}.xlsx")
    corrected = post_correction(client, person, "kim.lan.dang@ha-noi.gov.vn")
    resent = client.post(f"{ERRORS}/{person.invitation.id}/gui-lai")

    assert page.status_code == exported.status_code == 200
    assert set(error_rows(page.get_data(as_text=True))) == {errors[x].invitation.id for x in "BDGH"}
    assert "Sửa và gửi lại" not in page.get_data(as_text=True)
    assert "Đầu mối kỹ thuật CNTT của tỉnh xử lý các lỗi này." in text_of(page.get_data(as_text=True))
    assert corrected.status_code == resent.status_code == 403
    session.expire_all()
    assert session.get(Respondent, person.respondent.id).email == "lan.dk@ha-noi.gov.vn"


def test_the_ministry_has_no_province_error_list(client, ministry_user, errors):
    log_in(client, ministry_user)

    assert client.get(ERRORS).status_code == 403


def test_no_page_of_the_it_focal_point_carries_a_respondents_personal_link(
        client, session, it_focal_user, errors):
    macs = [person.token.partition(".")[2] for person in errors.survey.invitations]
    log_in(client, it_focal_user)

    seen = [client.get(path).get_data() for path in (ERRORS, "/dau-moi-cntt/thu-de-rieng")]

    assert all(response for response in seen)
    assert not [mac for mac in macs for body in seen if mac.encode() in body]
