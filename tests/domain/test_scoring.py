"""Each scoring kind against hand-computed examples, and the totals with "không áp dụng" lines."""

from __future__ import annotations

import pytest

from portal.domain.framework import Framework, Line
from portal.domain.scoring import (
    Entry,
    InputError,
    deduction_points,
    describe,
    percentage_points,
    read_figures,
    score,
    totals,
)


def line(**values) -> Line:
    return Line.model_validate({"code": "1.1.1", "title": "Dòng thử", **values})


YES_NO = line(kind="yes_no", points=1, not_applicable=True)
PERCENT = line(kind="percentage", points=2, numerator="Số hồ sơ đúng hạn", denominator="Tổng số hồ sơ",
               bands=[{"from": 80, "points": 1}, {"from": 100, "points": 2}])
DEDUCT = line(kind="deduction", points=1, per_case=0.25, cases_label="Số báo cáo chậm")
LEVELS = line(kind="levels", points=1.5, levels=[{"label": "Tốt", "points": 1.5}, {"label": "Đạt", "points": 0.75},
                                                 {"label": "Chưa đạt", "points": 0}])
BONUS = line(kind="bonus", points=0.5)
PENALTY = line(kind="penalty", points=1)


def points_of(item: Line, **form: str) -> float | None:
    return score(item, read_figures(item, form)).points


def test_yes_gives_the_maximum_and_no_gives_nothing():
    assert points_of(YES_NO, answer="yes") == 1.0
    assert points_of(YES_NO, answer="no") == 0.0


def test_not_applicable_gives_no_points_and_is_marked():
    entry = score(YES_NO, read_figures(YES_NO, {"answer": "na"}))

    assert (entry.points, entry.not_applicable) == (None, True)


def test_not_applicable_is_refused_where_the_framework_does_not_allow_it():
    with pytest.raises(InputError, match="không có lựa chọn “Không áp dụng”"):
        read_figures(PERCENT.model_copy(update={"not_applicable": False}), {"answer": "na"})


@pytest.mark.parametrize(("numerator", "denominator", "points"), [
    ("50", "50", 2.0),      # 100% → full
    ("45", "50", 1.0),      # 90% → the 80% band
    ("4", "5", 1.0),        # exactly 80%: reached (compared exactly, not in floating point)
    ("7999", "10000", 0.0),  # 79.99%: below every band
    ("0", "12", 0.0),
])
def test_percentage_bands_from_the_two_figures(numerator, denominator, points):
    assert points_of(PERCENT, numerator=numerator, denominator=denominator) == points


def test_percentage_reads_decimal_commas():
    assert points_of(PERCENT, numerator="12,5", denominator="12,5") == 2.0


@pytest.mark.parametrize(("form", "message"), [
    ({"numerator": "60", "denominator": "50"}, "không được lớn hơn"),
    ({"numerator": "1", "denominator": "0"}, "phải lớn hơn 0"),
    ({"numerator": "mười", "denominator": "50"}, "phải là một số"),
    ({"numerator": "", "denominator": "50"}, "Vui lòng nhập"),
    ({"numerator": "-1", "denominator": "50"}, "không được âm"),
])
def test_percentage_refuses_figures_that_make_no_rate(form, message):
    with pytest.raises(InputError, match=message):
        read_figures(PERCENT, form)


@pytest.mark.parametrize(("cases", "points"), [("0", 1.0), ("1", 0.75), ("3", 0.25), ("4", 0.0), ("9", 0.0)])
def test_deductions_per_case_stop_at_zero(cases, points):
    assert points_of(DEDUCT, cases=cases) == points


def test_deduction_cases_are_whole_numbers():
    with pytest.raises(InputError, match="số nguyên"):
        read_figures(DEDUCT, {"cases": "1,5"})
    assert deduction_points(1, 0.1, 3) == 0.7  # exact: not 0.7000000000000001


@pytest.mark.parametrize(("level", "points"), [("0", 1.5), ("1", 0.75), ("2", 0.0)])
def test_levels_give_the_points_of_the_level_picked(level, points):
    assert points_of(LEVELS, level=level) == points


def test_a_level_not_in_the_list_is_refused():
    with pytest.raises(InputError, match="chọn một mức"):
        read_figures(LEVELS, {"level": "3"})


def test_bonus_adds_and_penalty_takes_away_up_to_their_maximum():
    assert points_of(BONUS, points="0,5") == 0.5
    assert points_of(PENALTY, points="0,75") == -0.75
    with pytest.raises(InputError, match="vượt mức tối đa"):
        read_figures(BONUS, {"points": "1"})


def test_survey_lines_take_no_input():
    survey = line(kind="survey", points=3, source="survey")
    with pytest.raises(InputError, match="điều tra xã hội học"):
        read_figures(survey, {"points": "3"})


def test_percentage_points_function_alone():
    assert percentage_points([(100, 1), (75, 0.5)], 3, 4) == 0.5


def test_an_entry_reads_for_a_person():
    assert describe(PERCENT, score(PERCENT, {"numerator": 45, "denominator": 50})) == "45/50 (90%) → 1 điểm"
    assert describe(LEVELS, score(LEVELS, {"level": 1})) == "Mức “Đạt” → 0,75 điểm"
    assert describe(YES_NO, None) == "(chưa chấm)"


FRAMEWORK = Framework.model_validate({"format": 1, "title": "Thử", "areas": [
    {"code": "1", "title": "Lĩnh vực một", "criteria": [
        {"code": "1.1", "title": "Tiêu chí một", "subcriteria": [
            {"code": "1.1.1", "title": "a", "kind": "yes_no", "points": 1, "not_applicable": True},
            {"code": "1.1.2", "title": "b", "kind": "deduction", "points": 2, "per_case": 0.5},
            {"code": "1.1.3", "title": "c", "kind": "penalty", "points": 1}]},
        {"code": "1.2", "title": "Tiêu chí hai", "subcriteria": [
            {"code": "1.2.1", "title": "d", "kind": "survey", "source": "survey", "points": 3},
            {"code": "1.2.2", "title": "e", "kind": "bonus", "points": 0.5}]}]},
    {"code": "2", "title": "Lĩnh vực hai", "criteria": [
        {"code": "2.1", "title": "Tiêu chí ba", "subcriteria": [
            {"code": "2.1.1", "title": "f", "kind": "yes_no", "points": 4}]}]}]})


def test_totals_leave_not_applicable_lines_out_of_the_maximum():
    result = totals(FRAMEWORK, {"1.1.1": Entry({"answer": "na"}, None, True), "1.1.2": Entry({"cases": 1}, 1.5),
                                "2.1.1": Entry({"answer": "yes"}, 4.0)})

    assert (result.criteria["1.1"].maximum, result.criteria["1.1"].score) == (2.0, 1.5)
    assert (result.areas["1"].maximum, result.areas["1"].score) == (5.0, 1.5)  # 2 + survey 3; bonus outside
    assert (result.overall.maximum, result.overall.score) == (9.0, 5.5)
    # 4 lines to enter (the survey line is not entered): 3 done
    assert (result.overall.answered, result.overall.to_answer, result.overall.progress) == (3, 5, 60)


def test_a_penalty_never_takes_a_criterion_below_zero_and_a_bonus_adds_beyond_its_lines():
    result = totals(FRAMEWORK, {"1.1.2": Entry({"cases": 4}, 0.0), "1.1.3": Entry({"points": 1}, -1.0),
                                "1.2.2": Entry({"points": 0.5}, 0.5)})

    assert result.criteria["1.1"].score == 0.0
    assert result.criteria["1.2"].score == 0.5
    assert result.overall.maximum == 10.0  # nothing not applicable: 1 + 2 + 3 + 4
