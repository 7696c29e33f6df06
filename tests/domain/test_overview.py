"""The next tasks of a province and of its IT focal point, per state and role (portal/domain/overview.py)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from portal.domain.overview import ProvinceStatus, province_deadlines, province_tasks
from portal.models import Campaign, ListStatus, Role

TZ = "Asia/Ho_Chi_Minh"
VN = ZoneInfo(TZ)
CAMPAIGN = Campaign(year=2021, name="2021", it_focal_deadline=date(2022, 1, 10), list_deadline=date(2022, 1, 15),
                    self_assessment_deadline=date(2022, 2, 15), response_deadline=date(2022, 2, 20))


def state(**changes) -> ProvinceStatus:
    values = dict(list_label="", people=0, rows_with_errors=0, sent_at=None, launched=False, forms_submitted=0,
                  forms_expected=0, delivery_errors=0, focal_registered=False, list_state=None,
                  list_deadline=CAMPAIGN.list_deadline)
    return ProvinceStatus(**{**values, **changes})


REGISTERED = {"focal_registered": True, "focal_registered_at": datetime(2022, 1, 8, 10, tzinfo=VN)}
SENT = {**REGISTERED, "list_state": ListStatus.SENT, "list_sent_at": datetime(2022, 1, 12, 15, tzinfo=VN)}
LAUNCHED = {**SENT, "launched": True, "forms_expected": 12, "forms_submitted": 3}
ASSESSED = {"assessment_sent_at": datetime(2022, 1, 18, 16, tzinfo=VN)}
EXPLAINING = {**ASSESSED, "explanation_until": date(2022, 2, 25)}

# (state, moment, role) -> the titles of the tasks, in order.
CASES = [
    ("nothing done", {}, datetime(2022, 1, 5, 9, tzinfo=VN), Role.PROVINCE,
     ["Đăng ký đầu mối kỹ thuật CNTT", "Gửi danh sách đối tượng khảo sát", "Hoàn thành tự đánh giá, chấm điểm"]),
    ("focal registered", REGISTERED, datetime(2022, 1, 5, 9, tzinfo=VN), Role.PROVINCE,
     ["Gửi danh sách đối tượng khảo sát", "Hoàn thành tự đánh giá, chấm điểm"]),
    ("focal late, overdue first", {}, datetime(2022, 1, 12, 9, tzinfo=VN), Role.PROVINCE,
     ["Đăng ký đầu mối kỹ thuật CNTT", "Gửi danh sách đối tượng khảo sát", "Hoàn thành tự đánh giá, chấm điểm"]),
    ("list returned", {**REGISTERED, "list_state": ListStatus.RETURNED, "return_reason": "Thiếu nhóm 4"},
     datetime(2022, 1, 13, 9, tzinfo=VN), Role.PROVINCE,
     ["Gửi danh sách đối tượng khảo sát", "Hoàn thành tự đánh giá, chấm điểm"]),
    ("list sent", SENT, datetime(2022, 1, 20, 9, tzinfo=VN), Role.PROVINCE,
     ["Hoàn thành tự đánh giá, chấm điểm", "Chờ Bộ Nội vụ phát hành khảo sát"]),
    ("launched", LAUNCHED, datetime(2022, 2, 16, 9, tzinfo=VN), Role.PROVINCE, ["Hạn trả lời phiếu khảo sát"]),
    ("all submitted", {**LAUNCHED, "forms_submitted": 12}, datetime(2022, 2, 16, 9, tzinfo=VN), Role.PROVINCE,
     ["Mọi phiếu đã được nộp"]),
    ("survey over", {}, datetime(2022, 2, 21, 9, tzinfo=VN), Role.PROVINCE, []),
    ("focal: nothing sent", REGISTERED, datetime(2022, 1, 12, 9, tzinfo=VN), Role.IT_FOCAL,
     ["Chờ tỉnh gửi danh sách đối tượng khảo sát"]),
    ("focal: list sent", SENT, datetime(2022, 1, 20, 9, tzinfo=VN), Role.IT_FOCAL,
     ["Chờ Bộ Nội vụ phát hành khảo sát"]),
    ("focal: delivery errors", {**LAUNCHED, "delivery_errors": 2}, datetime(2022, 2, 1, 9, tzinfo=VN),
     Role.IT_FOCAL, ["Xử lý 2 thư mời chưa đến được người nhận"]),
    ("focal: no errors", LAUNCHED, datetime(2022, 2, 1, 9, tzinfo=VN), Role.IT_FOCAL, ["Theo dõi lỗi gửi thư"]),
    ("focal: survey over", {**LAUNCHED, "delivery_errors": 2}, datetime(2022, 2, 21, 9, tzinfo=VN), Role.IT_FOCAL,
     []),
    ("assessment sent", {**SENT, **ASSESSED}, datetime(2022, 1, 20, 9, tzinfo=VN), Role.PROVINCE,
     ["Chờ Bộ Nội vụ phát hành khảo sát"]),
    ("explaining", {**LAUNCHED, **EXPLAINING}, datetime(2022, 2, 16, 9, tzinfo=VN), Role.PROVINCE,
     ["Giải trình kết quả thẩm định vòng 1", "Hạn trả lời phiếu khảo sát"]),
    ("explaining before overdue work", {**EXPLAINING, "explanation_until": date(2022, 1, 14)},
     datetime(2022, 1, 12, 9, tzinfo=VN), Role.PROVINCE,
     ["Giải trình kết quả thẩm định vòng 1", "Đăng ký đầu mối kỹ thuật CNTT", "Gửi danh sách đối tượng khảo sát"]),
    ("explaining after the survey", {**LAUNCHED, **EXPLAINING}, datetime(2022, 2, 24, 9, tzinfo=VN), Role.PROVINCE,
     ["Giải trình kết quả thẩm định vòng 1"]),
    ("explanation window over", {**LAUNCHED, **EXPLAINING}, datetime(2022, 2, 26, 0, 0, 1, tzinfo=VN),
     Role.PROVINCE, []),
    ("appraisal released", {**LAUNCHED, **ASSESSED, "appraisal_released_at": datetime(2022, 3, 2, 8, tzinfo=VN)},
     datetime(2022, 3, 3, 9, tzinfo=VN), Role.PROVINCE, ["Đọc kết quả thẩm định"]),
    ("focal: explaining", {**LAUNCHED, **EXPLAINING}, datetime(2022, 2, 24, 9, tzinfo=VN), Role.IT_FOCAL, []),
    ("focal: released", {**LAUNCHED, "appraisal_released_at": datetime(2022, 3, 2, 8, tzinfo=VN)},
     datetime(2022, 3, 3, 9, tzinfo=VN), Role.IT_FOCAL, []),
]


@pytest.mark.parametrize(("changes", "now", "role", "titles"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_the_tasks_follow_the_provinces_state_and_the_role(changes, now, role, titles):
    tasks = province_tasks(CAMPAIGN, state(**changes), role, TZ, now)

    assert [task.title.replace(" (đã được gia hạn)", "") for task in tasks] == titles


def test_the_it_focal_account_is_never_asked_to_register_or_to_send_a_list_in_any_state():
    for _name, changes, now, _role, _titles in CASES:
        titles = [t.title for t in province_tasks(CAMPAIGN, state(**changes), Role.IT_FOCAL, TZ, now)]
        assert not any(t.startswith(("Đăng ký", "Gửi danh sách", "Hoàn thành tự đánh giá")) for t in titles)


def test_met_deadlines_carry_their_day_and_a_late_one_says_so():
    late = {**SENT, "list_sent_at": datetime(2022, 1, 16, 0, 0, 1, tzinfo=VN)}

    on_time = {d.key: d for d in province_deadlines(CAMPAIGN, state(**SENT), TZ, datetime(2022, 2, 1, tzinfo=VN))}
    after = {d.key: d for d in province_deadlines(CAMPAIGN, state(**late), TZ, datetime(2022, 2, 1, tzinfo=VN))}

    assert (on_time["it_focal_deadline"].done_on, on_time["it_focal_deadline"].done_late) == (date(2022, 1, 8), False)
    assert (on_time["list_deadline"].done_on, on_time["list_deadline"].done_late) == (date(2022, 1, 12), False)
    assert (after["list_deadline"].done_on, after["list_deadline"].done_late) == (date(2022, 1, 16), True)
    assert on_time["self_assessment_deadline"].done_on is None


def test_an_extension_moves_the_provinces_list_deadline():
    extended = state(**REGISTERED, list_deadline=date(2022, 1, 25))

    deadline = {d.key: d for d in province_deadlines(CAMPAIGN, extended, TZ, datetime(2022, 1, 20, tzinfo=VN))}

    assert deadline["list_deadline"].day == date(2022, 1, 25)
    assert deadline["list_deadline"].days_left == 5 and not deadline["list_deadline"].passed


def test_a_response_extension_keeps_the_survey_going_for_that_province():
    extended = state(**LAUNCHED, response_deadline=date(2022, 2, 28))
    after_the_campaigns_deadline = datetime(2022, 2, 22, 9, tzinfo=VN)

    tasks = province_tasks(CAMPAIGN, extended, Role.PROVINCE, TZ, after_the_campaigns_deadline)

    assert [(t.title, t.deadline.day) for t in tasks] == [
        ("Hạn trả lời phiếu khảo sát (đã được gia hạn)", date(2022, 2, 28))]
    assert province_tasks(CAMPAIGN, state(**LAUNCHED), Role.PROVINCE, TZ, after_the_campaigns_deadline) == []


def test_an_open_explanation_window_names_its_deadline_and_links_to_the_appraisal():
    (task, _) = province_tasks(CAMPAIGN, state(**LAUNCHED, **EXPLAINING), Role.PROVINCE, TZ,
                               datetime(2022, 2, 16, 9, tzinfo=VN))

    assert (task.deadline.day, task.deadline.days_left, task.endpoint) == (date(2022, 2, 25), 9, "appraisal.index")
    assert "trước 23:59 ngày 25/02/2022 (giờ Việt Nam)" in task.text


def test_a_sent_self_assessment_reads_as_done_and_an_exception_moves_its_deadline():
    sent = state(**SENT, **ASSESSED)
    excepted = state(**REGISTERED, assessment_deadline=date(2022, 2, 18))
    moment = datetime(2022, 2, 16, 9, tzinfo=VN)

    done = {d.key: d for d in province_deadlines(CAMPAIGN, sent, TZ, moment)}["self_assessment_deadline"]
    moved = {d.key: d for d in province_deadlines(CAMPAIGN, excepted, TZ, moment)}["self_assessment_deadline"]

    assert (done.done_on, done.done_late) == (date(2022, 1, 18), False)
    assert (moved.day, moved.passed) == (date(2022, 2, 18), False)
    assert "Hoàn thành tự đánh giá, chấm điểm (đã được gia hạn)" in [
        t.title for t in province_tasks(CAMPAIGN, excepted, Role.PROVINCE, TZ, moment)]
