"""Deadlines are whole days in the portal's time zone (portal/domain/campaigns.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from portal.domain.campaigns import deadlines, end_of_day_utc, is_past, local_today, next_deadline
from portal.models import Campaign

TZ = "Asia/Ho_Chi_Minh"
LAST_MOMENT = datetime(2022, 1, 15, 16, 59, 59, 999999, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


def campaign_2021() -> Campaign:
    return Campaign(year=2021, name="Xác định Chỉ số CCHC năm 2021", it_focal_deadline=date(2022, 1, 10),
                    list_deadline=date(2022, 1, 15), self_assessment_deadline=date(2022, 2, 15),
                    response_deadline=date(2022, 2, 20))


def test_end_of_day_utc_of_15_january_in_vietnam_is_16_59_59_999999_utc():
    assert end_of_day_utc(date(2022, 1, 15), TZ) == LAST_MOMENT


def test_end_of_day_utc_in_utc_itself_is_the_last_microsecond_of_the_day():
    assert end_of_day_utc(date(2022, 1, 15), "UTC") == datetime(2022, 1, 15, 23, 59, 59, 999999, tzinfo=UTC)


def test_a_deadline_is_not_past_at_its_last_microsecond():
    assert is_past(date(2022, 1, 15), TZ, now=LAST_MOMENT) is False


def test_a_deadline_is_not_past_one_microsecond_before_its_end():
    assert is_past(date(2022, 1, 15), TZ, now=LAST_MOMENT - ONE_MICROSECOND) is False


def test_a_deadline_is_past_one_microsecond_after_its_end():
    assert is_past(date(2022, 1, 15), TZ, now=LAST_MOMENT + ONE_MICROSECOND) is True


@pytest.mark.parametrize(
    ("now", "today"),
    [
        (datetime(2022, 1, 14, 16, 59, 59, 999999, tzinfo=UTC), date(2022, 1, 14)),  # 23:59:59.999999 in Hà Nội
        (datetime(2022, 1, 14, 17, 0, tzinfo=UTC), date(2022, 1, 15)),  # midnight in Hà Nội, still the 14th in UTC
        (datetime(2022, 1, 15, 0, 0, tzinfo=UTC), date(2022, 1, 15)),  # midnight UTC is 07:00 in Hà Nội
        (datetime(2022, 1, 15, 16, 59, tzinfo=UTC), date(2022, 1, 15)),
    ],
    ids=["last-moment-of-14th", "vietnam-midnight", "utc-midnight", "late-evening"],
)
def test_local_today_follows_the_portal_time_zone_around_midnight(now, today):
    assert local_today(TZ, now=now) == today


def test_deadlines_come_in_date_order_with_days_left():
    now = datetime(2022, 1, 5, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội

    items = deadlines(campaign_2021(), TZ, now=now)

    assert [(d.key, d.day, d.days_left, d.passed) for d in items] == [
        ("it_focal_deadline", date(2022, 1, 10), 5, False),
        ("list_deadline", date(2022, 1, 15), 10, False),
        ("self_assessment_deadline", date(2022, 2, 15), 41, False),
        ("response_deadline", date(2022, 2, 20), 46, False),
    ]


def test_next_deadline_is_the_nearest_that_has_not_passed():
    just_after_first = end_of_day_utc(date(2022, 1, 10), TZ) + ONE_MICROSECOND

    upcoming = next_deadline(campaign_2021(), TZ, now=just_after_first)

    assert upcoming is not None
    assert (upcoming.key, upcoming.days_left) == ("list_deadline", 4)


def test_no_next_deadline_once_all_have_passed():
    after_all = end_of_day_utc(date(2022, 2, 20), TZ) + ONE_MICROSECOND

    assert next_deadline(campaign_2021(), TZ, now=after_all) is None
