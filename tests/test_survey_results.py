"""Survey results worked out by hand: the survey points of each province from counted answers only."""

from __future__ import annotations

import pytest

from portal.domain import survey_results
from tests.support.accounts import HA_NOI, HAI_PHONG
from tests.support.results import HandResult

DA_NANG = 48


@pytest.fixture
def result(app, session, ministry_user) -> HandResult:
    """Hà Nội: three HĐND forms and one leaders' form counted, a draft and a voided form not; Hải Phòng: one
    form; Đà Nẵng: a form, but its whole result voided."""
    result = HandResult.build(app, session, ministry_user)
    result.answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "5", "c3_1": "4", "c8_2": "Không có ý kiến"})
    result.answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "3", "c3_1": "2"})
    result.answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "kb", "c3_1": "5"})
    result.answer(HA_NOI, "LD_SO", "DP-LDSO", {"c2_1": "4", "c7_3": ["tthc", "du_lieu"]})
    result.answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "1", "c3_1": "1"}, submitted=False)
    result.voided_answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "1", "c3_1": "1"}, invitation_id=987654)
    result.answer(HAI_PHONG, "HDND", "DP-HDND", {"c2_1": "2", "c3_1": "3"})
    result.answer(DA_NANG, "HDND", "DP-HDND", {"c2_1": "5", "c3_1": "5"})
    result.void_province(DA_NANG)
    return result


def test_survey_points_are_worked_out_from_counted_answers_only(app, session, result):
    points = survey_results.survey_points(session, result.campaign.id, result.secret)

    # 8.1.1, mean_scaled over DP-HDND.c2_1 and DP-LDSO.c2_1: Hà Nội's scored answers 5, 3, 4 ("kb" has no score;
    # the draft and the voided form do not count): (5 + 3 + 4) / 5 / 3 = 0.8 of 2 points = 1.6.
    # 8.1.2, share_top over DP-HDND.c3_1: 4, 2, 5, of which 4 and 5 are the top two scores: 2/3 of 1 = 0.67.
    assert points[HA_NOI] == {"8.1.1": 1.6, "8.1.2": 0.67}
    # Hải Phòng: c2_1 = 2 -> 2/5 of 2 = 0.8; c3_1 = 3, not in the top two: 0.
    assert points[HAI_PHONG] == {"8.1.1": 0.8, "8.1.2": 0.0}
    # Đà Nẵng's whole result is voided; a province without answers gets zero too, every line present.
    assert points[DA_NANG] == {"8.1.1": 0.0, "8.1.2": 0.0}
    assert points[2] == {"8.1.1": 0.0, "8.1.2": 0.0}
    assert len(points) == 63


def test_points_round_half_up_to_two_decimals():
    assert survey_results.round_points(survey_results.Fraction(2, 3)) == 0.67
    assert survey_results.round_points(survey_results.Fraction(1, 8)) == 0.13
    assert survey_results.round_points(survey_results.Fraction(5, 1000)) == 0.01


def test_a_survey_line_counts_each_answer_with_the_version_it_answered(app, session, result):
    """Answers keep their questionnaire version; the tally reads each with its own options."""
    found = survey_results.tally(session, result.campaign.id, result.secret, province_id=HA_NOI)

    assert set(found.questionnaires) == {result.version.id}
    key = survey_results.TallyKey(HA_NOI, "HDND", None, "DP-HDND", result.version.id, "c2_1")
    assert found.counts[key] == {"5": 1, "3": 1, "kb": 1}
    assert found.answered[key] == 3
    many = survey_results.TallyKey(HA_NOI, "LD_SO", None, "DP-LDSO", result.version.id, "c7_3")
    assert found.counts[many] == {"tthc": 1, "du_lieu": 1} and found.answered[many] == 1
    # Free text is never grouped: only choice questions are counted.
    assert not any(key.question_id == "c8_2" for key in found.counts)
