"""Each role's home page, and the ministry's page for the campaign's deadlines (portal/home, ministry.campaign)."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlmodel import func, select

from portal.domain import notices
from portal.models import AuditEntry, Campaign, Role
from tests.support.accounts import log_in, make_user
from tests.support.html import text_of

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
DEADLINES_2021 = [
    "10/01/2022: Đăng ký đầu mối kỹ thuật CNTT",
    "15/01/2022: Gửi danh sách đối tượng khảo sát",
    "15/02/2022: Hoàn thành tự đánh giá, chấm điểm",
    "20/02/2022: Hạn trả lời phiếu khảo sát",
]
VALID_DEADLINES = {"it_focal_deadline": "12/01/2022", "list_deadline": "20/1/2022",
                   "self_assessment_deadline": "15/02/2022", "response_deadline": "20/02/2022"}


def vietnam_time(*args: int) -> datetime:
    return datetime(*args, tzinfo=VIETNAM)


def home_text(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return text_of(response.get_data(as_text=True))


def campaign_2021(session) -> Campaign:
    session.expire_all()
    return session.exec(select(Campaign).where(Campaign.year == 2021)).one()


# ---------------------------------------------------------------- what each role sees


@time_machine.travel(vietnam_time(2022, 1, 5, 9, 0), tick=False)
def test_province_home_shows_its_province_and_the_2021_deadlines(client, province_user):
    log_in(client, province_user)

    page = home_text(client)

    assert "Thành phố Hà Nội Tài khoản của Ủy ban nhân dân Thành phố Hà Nội" in page
    assert "Xác định Chỉ số CCHC năm 2021 (Quyết định 838/QĐ-BNV ngày 28/7/2021)" in page
    positions = [page.index(line) for line in DEADLINES_2021]
    assert positions == sorted(positions)


@time_machine.travel(vietnam_time(2022, 1, 5, 9, 0), tick=False)
def test_province_home_names_the_next_deadline_and_what_to_do(client, province_user):
    log_in(client, province_user)

    page = home_text(client)

    assert ("Việc cần làm tiếp theo Đăng ký đầu mối kỹ thuật CNTT: hạn 10/01/2022 (còn 5 ngày). "
            "Sở Thông tin và Truyền thông cử đầu mối kỹ thuật CNTT") in page
    assert "10/01/2022: Đăng ký đầu mối kỹ thuật CNTT còn 5 ngày" in page
    assert "20/02/2022: Hạn trả lời phiếu khảo sát còn 46 ngày" in page


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (vietnam_time(2022, 1, 9, 12, 0), "Việc cần làm tiếp theo "
         "Đăng ký đầu mối kỹ thuật CNTT: hạn 10/01/2022 (còn 1 ngày (hết hạn ngày mai))"),
        (vietnam_time(2022, 1, 10, 23, 59),
         "Việc cần làm tiếp theo Đăng ký đầu mối kỹ thuật CNTT: hạn 10/01/2022 (hết hạn hôm nay)"),
        # Not registered yet: the task stays, now overdue, and the list's task follows.
        (vietnam_time(2022, 1, 11, 0, 0), "Việc cần làm tiếp theo "
         "Đăng ký đầu mối kỹ thuật CNTT: hạn 10/01/2022 (đã quá hạn 1 ngày)."),
        (vietnam_time(2022, 1, 11, 0, 0), "Gửi danh sách đối tượng khảo sát: hạn 15/01/2022 (còn 4 ngày)"),
        (vietnam_time(2022, 2, 20, 23, 59), "20/02/2022: Hạn trả lời phiếu khảo sát hết hạn hôm nay"),
    ],
    ids=["day-before", "last-minute", "midnight", "midnight-list", "last-deadline-last-minute"],
)
def test_the_next_deadline_turns_over_at_midnight_vietnam_time(client, province_user, now, expected):
    with time_machine.travel(now, tick=False):
        log_in(client, province_user)  # inside: a session signed "in the future" would be refused
        page = home_text(client)

    assert expected in page


@time_machine.travel(vietnam_time(2022, 2, 21, 0, 0, 1), tick=False)
def test_after_the_last_deadline_the_home_says_they_have_passed(client, province_user):
    log_in(client, province_user)

    page = home_text(client)

    assert "Việc cần làm tiếp theo Các mốc thời hạn của đợt này đã qua." in page
    assert "10/01/2022: Đăng ký đầu mối kỹ thuật CNTT đã quá hạn 42 ngày" in page
    assert "20/02/2022: Hạn trả lời phiếu khảo sát đã quá hạn 1 ngày" in page


@time_machine.travel(vietnam_time(2022, 1, 5, 9, 0), tick=False)
def test_it_focal_home_shows_its_province_and_deadlines(client, it_focal_user):
    log_in(client, it_focal_user)

    page = home_text(client)

    assert "Đầu mối kỹ thuật CNTT · Thành phố Hà Nội" in page
    # The IT focal account registers no one and sends no list: it waits for its own work.
    assert "Việc cần làm tiếp theo Chờ tỉnh gửi danh sách đối tượng khảo sát" in page
    assert "Sở Thông tin và Truyền thông cử" not in page
    assert all(line in page for line in DEADLINES_2021)


def test_province_home_shows_the_latest_notices_with_unread_marks(client, session, province_user):
    notices.post_notice(session, None, "Nhắc hạn cử đầu mối CNTT", "")
    log_in(client, province_user)

    page = home_text(client)

    assert "Thông báo mới Nhắc hạn cử đầu mối CNTT" in page
    assert "chưa đọc" in page


def test_province_home_without_notices_says_so(client, province_user):
    log_in(client, province_user)

    assert "Thông báo mới Chưa có thông báo." in home_text(client)


def test_ministry_home_shows_account_stats(client, session, ministry_user, province_user, other_province_user,
                                          it_focal_user):
    make_user(session, "quang-ninh", Role.PROVINCE, 22, must_change=True)
    log_in(client, ministry_user)

    page = home_text(client)

    assert "Bộ Nội vụ · Theo dõi Chỉ số CCHC" in page
    assert "3/63 tỉnh, thành phố đã được cấp tài khoản; 2 đã đăng nhập và đổi mật khẩu." in page
    assert "1 đầu mối kỹ thuật CNTT có tài khoản." in page
    assert all(line in page for line in DEADLINES_2021)


def test_ministry_home_without_notices_offers_to_send_one(client, ministry_user):
    log_in(client, ministry_user)

    page = client.get("/").get_data(as_text=True)

    assert "Chưa gửi thông báo nào." in page
    assert '<a class="button" href="/bo/thong-bao">Gửi thông báo</a>' in page


# ---------------------------------------------------------------- the ministry edits the deadlines


def test_campaign_page_shows_the_deadlines_in_vietnamese_date_format(client, ministry_user):
    log_in(client, ministry_user)

    page = client.get("/bo/chien-dich").get_data(as_text=True)

    values = dict(re.findall(r'<input type="text" id="(\w+)" name="\w+"[^>]*value="([^"]*)"', page))
    assert values == {"it_focal_deadline": "10/01/2022", "list_deadline": "15/01/2022",
                      "self_assessment_deadline": "15/02/2022", "response_deadline": "20/02/2022"}


def test_valid_deadlines_are_saved_and_audited(client, session, ministry_user, province_user):
    log_in(client, ministry_user)

    response = client.post("/bo/chien-dich", data=VALID_DEADLINES)

    assert response.status_code == 302
    assert response.headers["Location"] == "/bo/chien-dich"
    campaign = campaign_2021(session)
    assert (campaign.it_focal_deadline, campaign.list_deadline, campaign.self_assessment_deadline,
            campaign.response_deadline) == (date(2022, 1, 12), date(2022, 1, 20), date(2022, 2, 15), date(2022, 2, 20))
    entry = session.exec(select(AuditEntry)).one()
    assert (entry.actor_id, entry.actor_name, entry.action, entry.detail) == (
        ministry_user.id, "bonoivu", "Sửa mốc thời hạn",
        "Đăng ký đầu mối kỹ thuật CNTT: 10/01/2022 → 12/01/2022; "
        "Gửi danh sách đối tượng khảo sát: 15/01/2022 → 20/01/2022")
    assert "Đã lưu các mốc thời hạn." in client.get("/bo/chien-dich").get_data(as_text=True)
    log_in(client, province_user)
    assert "12/01/2022: Đăng ký đầu mối kỹ thuật CNTT" in home_text(client)


def test_saving_unchanged_deadlines_writes_no_audit_entry(client, session, ministry_user):
    log_in(client, ministry_user)

    client.post("/bo/chien-dich", data={"it_focal_deadline": "10/01/2022", "list_deadline": "15/01/2022",
                                        "self_assessment_deadline": "15/02/2022", "response_deadline": "20/02/2022"})

    assert session.exec(select(func.count()).select_from(AuditEntry)).one() == 0


@pytest.mark.parametrize("bad", ["31/02/2022", "2022/13/01", "mười tháng một", ""])
def test_an_invalid_date_shows_a_message_and_saves_nothing(client, session, ministry_user, bad):
    log_in(client, ministry_user)

    response = client.post("/bo/chien-dich", data={**VALID_DEADLINES, "list_deadline": bad})

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Gửi danh sách đối tượng khảo sát: vui lòng nhập ngày theo dạng dd/mm/yyyy." in page
    assert 'aria-invalid="true" aria-describedby="list_deadline-error"' in page
    assert 'value="12/01/2022"' in page  # what was typed in the other fields is kept
    campaign = campaign_2021(session)
    assert (campaign.it_focal_deadline, campaign.list_deadline) == (date(2022, 1, 10), date(2022, 1, 15))
    assert session.exec(select(func.count()).select_from(AuditEntry)).one() == 0


def test_deadline_edits_are_listed_in_the_audit_log(client, ministry_user):
    log_in(client, ministry_user)
    client.post("/bo/chien-dich", data=VALID_DEADLINES)

    page = text_of(client.get("/bo/nhat-ky").get_data(as_text=True))

    assert "bonoivu Sửa mốc thời hạn Đăng ký đầu mối kỹ thuật CNTT: 10/01/2022 → 12/01/2022" in page



def test_province_home_says_where_its_list_and_survey_stand(client, session, province_user, it_focal_user):
    from tests.support.survey import send_list

    send_list(session, 1, per_group=2)  # two people in each of the four groups
    log_in(client, province_user)

    page = text_of(client.get("/").get_data(as_text=True))

    assert "Danh sách đối tượng: Đã gửi danh sách (8 người)" in page
    assert "Bộ Nội vụ chưa phát hành phiếu" in page
    log_in(client, it_focal_user)
    assert "Danh sách đối tượng: Đã gửi danh sách" in text_of(client.get("/").get_data(as_text=True))


# ---------------------------------------------------------------- the next task follows what the province did


def next_task_text(page: str) -> str:
    """The "Việc cần làm tiếp theo" card only."""
    start = page.index("Việc cần làm tiếp theo")
    return page[start:page.index("Các mốc thời hạn", start)]


def register_focal(session, when: datetime):
    from portal.domain import it_focal
    from portal.models import Province, User

    actor = session.exec(select(User).where(User.username == "ha-noi")).one()
    registration, errors = it_focal.register(
        session, actor, session.get(Province, 1),
        {"full_name": "Nguyễn Văn An", "position": "Phó Giám đốc Sở", "phone": "0912345678",
         "email": "an.nv@hanoi.gov.vn"}, now=when)
    assert not errors
    return registration.user


def test_a_registered_focal_point_and_a_sent_list_are_not_asked_again(client, session, province_user):
    from tests.support.survey import send_list

    register_focal(session, vietnam_time(2022, 1, 8, 10, 0))
    send_list(session, 1, per_group=1, now=vietnam_time(2022, 1, 12, 15, 0))
    with time_machine.travel(vietnam_time(2022, 1, 20, 9, 0), tick=False):
        log_in(client, province_user)
        page = home_text(client)

    tasks = next_task_text(page)
    assert "Đăng ký đầu mối" not in tasks and "Gửi danh sách" not in tasks
    assert tasks.startswith("Việc cần làm tiếp theo Hoàn thành tự đánh giá, chấm điểm: hạn 15/02/2022 (còn 26 ngày).")
    assert "Chờ Bộ Nội vụ phát hành khảo sát" in tasks
    # Deadlines met on time read as met, not as a red "đã quá hạn".
    assert "10/01/2022: Đăng ký đầu mối kỹ thuật CNTT đã hoàn thành (ngày 08/01/2022)" in page
    assert "15/01/2022: Gửi danh sách đối tượng khảo sát đã hoàn thành (ngày 12/01/2022)" in page
    assert "đã quá hạn" not in page
    html = client.get("/").get_data(as_text=True)
    assert "tag-bad" not in html


def test_the_it_focal_account_is_never_asked_to_register_anyone(client, session, province_user):
    focal = register_focal(session, vietnam_time(2022, 1, 8, 10, 0))
    focal.must_change_password = False
    session.add(focal)
    session.commit()
    with time_machine.travel(vietnam_time(2022, 1, 9, 9, 0), tick=False):
        log_in(client, focal)
        page = home_text(client)

    tasks = next_task_text(page)
    assert "Đăng ký đầu mối" not in tasks and "Gửi danh sách" not in tasks and "tự đánh giá" not in tasks
    assert tasks.startswith("Việc cần làm tiếp theo Chờ tỉnh gửi danh sách đối tượng khảo sát")
    assert "10/01/2022: Đăng ký đầu mối kỹ thuật CNTT đã hoàn thành (ngày 08/01/2022)" in page


def test_an_unregistered_focal_point_is_asked_of_the_province_even_after_the_deadline(client, province_user):
    with time_machine.travel(vietnam_time(2022, 1, 12, 9, 0), tick=False):
        log_in(client, province_user)
        page = home_text(client)

    tasks = next_task_text(page)
    assert tasks.startswith("Việc cần làm tiếp theo Đăng ký đầu mối kỹ thuật CNTT: hạn 10/01/2022 (đã quá hạn 2 ngày). "
                            "Đã quá hạn nhưng tỉnh chưa đăng ký đầu mối kỹ thuật CNTT")
    assert "Gửi danh sách đối tượng khảo sát: hạn 15/01/2022 (còn 3 ngày)" in tasks
    assert "10/01/2022: Đăng ký đầu mối kỹ thuật CNTT đã quá hạn 2 ngày" in page


def test_a_list_sent_after_the_deadline_reads_as_done_late(client, session, province_user):
    from tests.support.survey import send_list

    register_focal(session, vietnam_time(2022, 1, 8, 10, 0))
    rlist = send_list(session, 1, per_group=1, now=vietnam_time(2022, 1, 15, 23, 59))
    rlist.sent_at = vietnam_time(2022, 1, 16, 0, 0, 1)  # sent just after 23:59:59 on the deadline day
    session.add(rlist)
    session.commit()
    with time_machine.travel(vietnam_time(2022, 1, 20, 9, 0), tick=False):
        log_in(client, province_user)
        page = home_text(client)

    assert "15/01/2022: Gửi danh sách đối tượng khảo sát hoàn thành sau hạn (ngày 16/01/2022)" in page


def test_a_returned_list_and_an_extension_make_the_list_the_next_task_again(client, session, ministry_user,
                                                                            province_user):
    from portal.domain import lists
    from tests.support.survey import send_list

    register_focal(session, vietnam_time(2022, 1, 8, 10, 0))
    rlist = send_list(session, 1, per_group=1, now=vietnam_time(2022, 1, 12, 15, 0))
    from portal.models import Province

    lists.return_list(session, ministry_user, rlist, session.get(Province, 1), "Thiếu lãnh đạo cấp huyện",
                      extension_until=date(2022, 1, 25))
    with time_machine.travel(vietnam_time(2022, 1, 20, 9, 0), tick=False):
        log_in(client, province_user)
        page = home_text(client)

    tasks = next_task_text(page)
    assert tasks.startswith("Việc cần làm tiếp theo Gửi danh sách đối tượng khảo sát (đã được gia hạn): "
                            "hạn 25/01/2022 (còn 5 ngày). Bộ Nội vụ đã trả lại danh sách để chỉnh sửa "
                            "(Thiếu lãnh đạo cấp huyện). Sửa và gửi lại.")
    assert "25/01/2022: Gửi danh sách đối tượng khảo sát (đã được gia hạn) còn 5 ngày" in page


def test_after_launch_the_province_chases_answers_and_the_focal_point_fixes_delivery(app, client, session,
                                                                                      ministry_user, province_user):
    from portal.models import DeliveryStatus, Invitation
    from tests.support.survey import launch_survey

    focal = register_focal(session, vietnam_time(2022, 1, 8, 10, 0))
    focal.must_change_password = False
    session.add(focal)
    session.commit()
    with time_machine.travel(vietnam_time(2022, 2, 1, 9, 0), tick=False):
        survey = launch_survey(app, session, ministry_user, per_group=1)
        bad = session.get(Invitation, survey.invitations[0].invitation.id)
        bad.delivery_status = DeliveryStatus.BOUNCED.value
        session.add(bad)
        session.commit()
        log_in(client, province_user)
        province_tasks = next_task_text(home_text(client))
        log_in(client, focal)
        focal_tasks = next_task_text(home_text(client))

    assert province_tasks.startswith("Việc cần làm tiếp theo Hoàn thành tự đánh giá, chấm điểm: hạn 15/02/2022")
    assert "Hạn trả lời phiếu khảo sát: hạn 20/02/2022 (còn 19 ngày). Theo dõi, đôn đốc" in province_tasks
    assert "Chờ Bộ Nội vụ" not in province_tasks
    assert focal_tasks.startswith("Việc cần làm tiếp theo Xử lý 1 thư mời chưa đến được người nhận: hạn 20/02/2022")


def test_when_everyone_has_submitted_the_province_is_told_so(app, client, session, ministry_user, province_user):
    from tests.support.survey import finish, launch_survey

    register_focal(session, vietnam_time(2022, 1, 8, 10, 0))
    with time_machine.travel(vietnam_time(2022, 2, 1, 9, 0), tick=False):
        survey = launch_survey(app, session, ministry_user, per_group=1)
        for person in survey.invitations:
            finish(app, session, person)
        log_in(client, province_user)
        tasks = next_task_text(home_text(client))

    assert "Mọi phiếu đã được nộp" in tasks
    assert "Theo dõi, đôn đốc" not in tasks
