"""The explanation window (giải trình) of an appraisal. The ministry extends it: a later day, to its last second in
Việt Nam; audited and told to the province; refused once round 2 has started; a double post does it once. The
province's home page puts an open window first in "Việc cần làm tiếp theo", and a released appraisal there to read.

The 2021 campaign is current with the sample framework; the clock reads 01/02/2022 09:00 (giờ Việt Nam). Hà Nội
sent its self-assessment; round 1 scored one line and opened the window until 10/02/2022.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from portal.domain import appraisal, framework
from portal.domain import appraisal_explanations as explaining
from portal.models import Appraisal, AppraisalState, AuditEntry, Notice
from tests.support.accounts import HA_NOI, log_in
from tests.support.appraisal import sample_campaign, sent_assessment
from tests.support.html import text_of
from tests.test_home import next_task_text

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HCM = "Asia/Ho_Chi_Minh"
EXTENDED = "Thẩm định: gia hạn giải trình"


@pytest.fixture
def campaign(session, clock):
    return sample_campaign(session)


@pytest.fixture
def explaining_window(session, campaign, province_user, ministry_user):
    """Hà Nội's sent assessment with round 1 on 1.1.1 and the explanation window open until 10/02/2022."""
    row = sent_assessment(session, campaign, HA_NOI, province_user, {"1.1.1": {"answer": "yes"}},
                          datetime(2022, 2, 1, 8, 0, tzinfo=TZ))
    line = framework.load(framework.current_version(session, campaign)).line("1.1.1")
    assert appraisal.save_score(session, ministry_user, row, campaign, line,
                                {"answer": "no", "version": "0", "round": "1", "comment": ""}, HCM).ok
    assert appraisal.open_explanation(session, ministry_user, row, campaign, "10/02/2022", HCM) == {}
    return row


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2022, 2, day, hour, minute, second, tzinfo=TZ)


def the_appraisal(session) -> Appraisal:
    session.expire_all()
    return session.exec(select(Appraisal)).one()


def extensions(session) -> list[AuditEntry]:
    session.expire_all()
    return list(session.exec(select(AuditEntry).where(AuditEntry.action == EXTENDED)))


def notice_titles(session) -> list[str]:
    return [n.title for n in session.exec(select(Notice).order_by(Notice.id))]


def explain(session, user, row, campaign, version: str = "0"):
    line = framework.load(framework.current_version(session, campaign)).line("1.1.1")
    return explaining.save_explanation(session, user, row, campaign, line,
                                       {"explanation": "Đã có văn bản", "version": version}, HCM)


# ---------------------------------------------------------------- the domain


def test_an_extension_moves_the_deadline_to_the_end_of_the_later_day_audited_and_told(
        session, ministry_user, province_user, campaign, explaining_window, clock):
    assert appraisal.extend_explanation(session, ministry_user, explaining_window, campaign, "15/02/2022", HCM) == {}

    assert the_appraisal(session).explanation_until == date(2022, 2, 15)
    (entry,) = extensions(session)
    assert entry.province_id == HA_NOI and "từ 23:59 ngày 10/02/2022 đến 23:59 ngày 15/02/2022" in entry.detail
    assert notice_titles(session)[-1] == "Bộ Nội vụ gia hạn giải trình kết quả thẩm định vòng 1"
    clock.move_to(at(15, 23, 59, 59), tick=False)
    assert explain(session, province_user, explaining_window, campaign).ok
    clock.move_to(at(16, 0, 0, 0), tick=False)
    with pytest.raises(appraisal.AppraisalRefused, match="15/02/2022"):
        explain(session, province_user, explaining_window, campaign, version="1")


def test_an_extension_posted_twice_is_taken_once(session, ministry_user, campaign, explaining_window):
    for _ in range(2):
        assert appraisal.extend_explanation(session, ministry_user, explaining_window, campaign, "15/02/2022",
                                            HCM) == {}

    assert len(extensions(session)) == 1
    assert notice_titles(session).count("Bộ Nội vụ gia hạn giải trình kết quả thẩm định vòng 1") == 1


@pytest.mark.parametrize(("typed", "message"), [
    ("31/01/2022", "Hạn giải trình mới phải sau hạn hiện tại (ngày 10/02/2022)."),
    ("09/02/2022", "Hạn giải trình mới phải sau hạn hiện tại (ngày 10/02/2022)."),
    ("30/02/2022", "Hạn giải trình mới: vui lòng nhập ngày theo dạng dd/mm/yyyy."),
    ("", "Hạn giải trình mới: vui lòng nhập ngày theo dạng dd/mm/yyyy."),
])
def test_a_day_not_after_the_current_deadline_or_unreadable_is_refused(session, ministry_user, campaign,
                                                                       explaining_window, typed, message):
    assert appraisal.extend_explanation(session, ministry_user, explaining_window, campaign, typed, HCM) == {
        "until": message}

    assert the_appraisal(session).explanation_until == date(2022, 2, 10) and extensions(session) == []


def test_after_the_window_closed_a_past_day_is_refused_and_a_later_one_opens_it_again(
        session, ministry_user, province_user, campaign, explaining_window, clock):
    clock.move_to(at(13, 9), tick=False)  # the window closed on 10/02; round 2 has not started
    with pytest.raises(appraisal.AppraisalRefused):
        explain(session, province_user, explaining_window, campaign)

    refused = appraisal.extend_explanation(session, ministry_user, explaining_window, campaign, "12/02/2022", HCM)
    assert refused == {"until": "Hạn giải trình mới đã qua; vui lòng chọn một ngày từ hôm nay trở đi."}
    assert appraisal.extend_explanation(session, ministry_user, explaining_window, campaign, "13/02/2022", HCM) == {}

    assert explain(session, province_user, explaining_window, campaign).ok


def test_no_extension_before_the_window_opens_nor_once_round_two_began(session, ministry_user, campaign,
                                                                        explaining_window, clock):
    clock.move_to(at(11, 9), tick=False)
    appraisal.start_round2(session, ministry_user, explaining_window, campaign, HCM)

    with pytest.raises(appraisal.AppraisalRefused, match="Vòng 2: đang thẩm định"):
        appraisal.extend_explanation(session, ministry_user, explaining_window, campaign, "20/02/2022", HCM)
    row = the_appraisal(session)
    row.state, row.explanation_opened_at = AppraisalState.ROUND1, None
    session.add(row)
    session.commit()
    with pytest.raises(appraisal.AppraisalRefused, match="Chưa mở giải trình"):
        appraisal.extend_explanation(session, ministry_user, explaining_window, campaign, "20/02/2022", HCM)
    assert extensions(session) == []


# ---------------------------------------------------------------- the route


def test_the_ministry_extends_with_a_plain_form_and_with_htmx(client, session, ministry_user, campaign,
                                                              explaining_window):
    log_in(client, ministry_user)
    url = f"/bo/tham-dinh/{explaining_window.id}/gia-han-giai-trinh"
    page = text_of(client.get(f"/bo/tham-dinh/{explaining_window.id}").get_data(as_text=True))
    assert "Gia hạn giải trình đến hết ngày (dd/mm/yyyy)" in page

    plain = client.post(url, data={"until": "14/02/2022"})
    again = client.post(url, data={"until": "14/02/2022"})
    fragment = client.post(url, data={"until": "18/02/2022"}, headers={"HX-Request": "true"})

    assert plain.status_code == again.status_code == 303
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    assert html.startswith('<div id="buoc-td">') and 'id="trang-thai-td" role="status" hx-swap-oob="true"' in html
    assert "Đã gia hạn giải trình đến 23:59 ngày 18/02/2022; tỉnh đã được thông báo." in text_of(html)
    assert "hạn giải trình 23:59 ngày 18/02/2022" in text_of(html)
    assert len(extensions(session)) == 2
    followed = text_of(client.get(f"/bo/tham-dinh/{explaining_window.id}").get_data(as_text=True))
    assert "Vòng 2 bắt đầu sau hạn giải trình (23:59 ngày 18/02/2022)" in followed


def test_a_past_day_posted_is_refused_in_vietnamese_both_ways_and_changes_nothing(client, session, ministry_user,
                                                                                 campaign, explaining_window, clock):
    clock.move_to(at(12, 9), tick=False)
    log_in(client, ministry_user)
    url = f"/bo/tham-dinh/{explaining_window.id}/gia-han-giai-trinh"

    plain = client.post(url, data={"until": "11/02/2022"})
    fragment = client.post(url, data={"until": "11/02/2022"}, headers={"HX-Request": "true"})

    assert plain.status_code == fragment.status_code == 422
    for response in (plain, fragment):
        shown = text_of(response.get_data(as_text=True))
        assert "Hạn giải trình mới đã qua; vui lòng chọn một ngày từ hôm nay trở đi." in shown
        assert 'value="11/02/2022"' in response.get_data(as_text=True)
    assert the_appraisal(session).explanation_until == date(2022, 2, 10) and extensions(session) == []


def test_after_round_two_began_the_route_refuses_the_extension(client, session, ministry_user, campaign,
                                                                 explaining_window, clock):
    clock.move_to(at(11, 9), tick=False)
    appraisal.start_round2(session, ministry_user, explaining_window, campaign, HCM)
    log_in(client, ministry_user)

    response = client.post(f"/bo/tham-dinh/{explaining_window.id}/gia-han-giai-trinh", data={"until": "20/02/2022"},
                           headers={"HX-Request": "true"})

    assert response.status_code == 409
    assert "Không gia hạn giải trình được nữa" in text_of(response.get_data(as_text=True))
    assert extensions(session) == []


# ---------------------------------------------------------------- the province's home page


def home(client) -> tuple[str, str]:
    response = client.get("/")
    assert response.status_code == 200
    return next_task_text(text_of(response.get_data(as_text=True))), response.get_data(as_text=True)


def test_the_open_explanation_window_is_the_first_task_and_a_released_appraisal_is_there_to_read(
        client, session, ministry_user, province_user, it_focal_user, campaign, explaining_window, clock):
    log_in(client, province_user)
    tasks, html = home(client)

    assert tasks.startswith("Việc cần làm tiếp theo Giải trình kết quả thẩm định vòng 1: hạn 10/02/2022 (còn 9 ngày). "
                            "Bộ Nội vụ đã gửi điểm và nhận xét thẩm định vòng 1")
    assert "Hoàn thành tự đánh giá, chấm điểm" not in tasks  # sent: not asked again
    assert '<a href="/tham-dinh/">Mở trang “Thẩm định” để giải trình</a>' in html
    log_in(client, it_focal_user)
    assert "thẩm định" not in home(client)[0].lower()

    clock.move_to(datetime(2022, 2, 11, 9, tzinfo=TZ), tick=False)  # the window closed: nothing left to explain
    appraisal.start_round2(session, ministry_user, explaining_window, campaign, HCM)
    appraisal.close(session, ministry_user, explaining_window, campaign, HCM)
    log_in(client, province_user)
    assert "thẩm định" not in home(client)[0].lower()

    appraisal.release(session, ministry_user, explaining_window, campaign, HCM)
    tasks, html = home(client)
    assert "Đọc kết quả thẩm định. Bộ Nội vụ đã công bố kết quả thẩm định ngày 11/02/2022" in tasks
    assert '<a href="/tham-dinh/">Xem kết quả thẩm định</a>' in html
