"""Each scoring kind as a pure function: what a province enters on a line -> the line's points.

Figures are what the province types (a yes/no answer, two counts, a number of cases, a level, bonus or
penalty points); the portal computes the points from them, never takes points typed by hand except for
bonus and penalty lines, whose points are the figure. A line answered "không áp dụng" gives no points and
leaves the maximum (`not_applicable`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from portal.domain.framework import Framework, Line, format_points

NOT_APPLICABLE = "na"
MAX_EXPLANATION = 4000
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")


class InputError(ValueError):
    """What the province entered cannot be scored; the message says why, in Vietnamese."""


@dataclass(frozen=True)
class Entry:
    """A scored line: the figures entered and the points they give (None when not applicable)."""

    figures: dict[str, Any]
    points: float | None
    not_applicable: bool = False


# ---------------------------------------------------------------- the kinds


def yes_no_points(maximum: float, answer: str) -> float:
    """"yes" gives the line's maximum, "no" nothing."""
    return float(maximum) if answer == "yes" else 0.0


def percentage_points(bands: Iterable[tuple[float, float]], numerator: int | float, denominator: int | float) -> float:
    """The points of the highest band (from %, points) the rate numerator/denominator reaches; 0 below all.

    Compared exactly (fractions), so 4 of 5 reaches an 80% band and 79.99% does not.
    """
    rate = Fraction(str(numerator)) * 100 / Fraction(str(denominator))
    for start, points in sorted(bands, reverse=True):
        if rate >= Fraction(str(start)):
            return float(points)
    return 0.0


def deduction_points(maximum: float, per_case: float, cases: int) -> float:
    """The maximum less `per_case` for each case, never below 0."""
    left = Fraction(str(maximum)) - Fraction(str(per_case)) * cases
    return float(max(left, Fraction(0)))


def level_points(levels: Iterable[float], index: int) -> float:
    """The points of the level picked (by its place in the list)."""
    return float(list(levels)[index])


def bonus_points(maximum: float, points: float) -> float:
    """Bonus points as entered, at most the line's maximum (checked when read)."""
    return float(min(Fraction(str(points)), Fraction(str(maximum))))


def penalty_points(maximum: float, points: float) -> float:
    """Penalty points count against the total: the entered points, negative."""
    return -float(min(Fraction(str(points)), Fraction(str(maximum))))


def score(line: Line, figures: Mapping[str, Any]) -> Entry:
    """The points `figures` give on `line` (figures already checked by `read_figures`)."""
    if figures.get("answer") == NOT_APPLICABLE:
        return Entry(dict(figures), None, True)
    if line.kind == "yes_no":
        points = yes_no_points(line.points, figures["answer"])
    elif line.kind == "percentage":
        points = percentage_points([(b.from_percent, b.points) for b in line.bands or []],
                                   figures["numerator"], figures["denominator"])
    elif line.kind == "deduction":
        points = deduction_points(line.points, line.per_case or 0, figures["cases"])
    elif line.kind == "levels":
        points = level_points([level.points for level in line.levels or []], figures["level"])
    elif line.kind == "bonus":
        points = bonus_points(line.points, figures["points"])
    elif line.kind == "penalty":
        points = penalty_points(line.points, figures["points"])
    else:  # survey: filled from the survey's results, never entered
        raise InputError("Điểm của tiêu chí này lấy từ kết quả điều tra xã hội học, tỉnh không nhập.")
    return Entry(dict(figures), points)


# ---------------------------------------------------------------- reading what was typed


def _number(text: str, what: str, *, integer: bool = False) -> float | int:
    value = (text or "").strip().replace(" ", "").replace("\u00a0", "")
    if not value:
        raise InputError(f"Vui lòng nhập {what}.")
    if integer and "." in value and "," not in value and re.fullmatch(r"\d{1,3}(\.\d{3})+", value):
        value = value.replace(".", "")  # "1.234" written with a thousands dot
    if not _NUMBER.match(value):
        raise InputError(f"{what[:1].upper()}{what[1:]} phải là một số (đang ghi “{text.strip()[:40]}”).")
    number = float(value.replace(",", "."))
    if number < 0:
        raise InputError(f"{what[:1].upper()}{what[1:]} không được âm.")
    if integer:
        if number != int(number):
            raise InputError(f"{what[:1].upper()}{what[1:]} phải là số nguyên.")
        return int(number)
    return number


def read_figures(line: Line, form: Mapping[str, str]) -> dict[str, Any]:
    """The figures a line's form holds, checked for its kind; raises InputError with a Vietnamese message."""
    answer = (form.get("answer") or "").strip()
    if answer == NOT_APPLICABLE:
        if not line.not_applicable:
            raise InputError("Tiêu chí này không có lựa chọn “Không áp dụng”.")
        return {"answer": NOT_APPLICABLE}
    if line.kind == "yes_no":
        if answer not in ("yes", "no"):
            raise InputError("Vui lòng chọn “Có” hoặc “Không”.")
        return {"answer": answer}
    if line.kind == "percentage":
        numerator = _number(form.get("numerator", ""), f"“{line.numerator}” (tử số)")
        denominator = _number(form.get("denominator", ""), f"“{line.denominator}” (mẫu số)")
        if denominator == 0:
            hint = " Nếu tỉnh không có trường hợp nào, chọn “Không áp dụng”." if line.not_applicable else ""
            raise InputError(f"“{line.denominator}” (mẫu số) phải lớn hơn 0.{hint}")
        if numerator > denominator:
            raise InputError(f"“{line.numerator}” ({format_points(numerator)}) không được lớn hơn "
                             f"“{line.denominator}” ({format_points(denominator)}).")
        return {"numerator": numerator, "denominator": denominator}
    if line.kind == "deduction":
        return {"cases": _number(form.get("cases", ""), f"“{line.cases_label or 'số trường hợp'}”", integer=True)}
    if line.kind == "levels":
        text = (form.get("level") or "").strip()
        levels = line.levels or []
        if not (text.isascii() and text.isdigit() and int(text) < len(levels)):
            raise InputError("Vui lòng chọn một mức đánh giá.")
        return {"level": int(text)}
    if line.kind in ("bonus", "penalty"):
        points = _number(form.get("points", ""), "số điểm")
        if points > line.points:
            raise InputError(f"Số điểm ({format_points(points)}) vượt mức tối đa {format_points(line.points)} điểm.")
        return {"points": points}
    raise InputError("Điểm của tiêu chí này lấy từ kết quả điều tra xã hội học, tỉnh không nhập.")


def describe(line: Line, entry: Entry | None) -> str:
    """A line's entry as a person reads it (the audit trail, the conflict message)."""
    if entry is None:
        return "(chưa chấm)"
    figures = entry.figures
    if entry.not_applicable:
        return "Không áp dụng"
    if line.kind == "yes_no":
        text = "Có" if figures.get("answer") == "yes" else "Không"
    elif line.kind == "percentage":
        rate = Fraction(str(figures["numerator"])) * 100 / Fraction(str(figures["denominator"]))
        text = (f"{format_points(figures['numerator'])}/{format_points(figures['denominator'])} "
                f"({format_points(float(rate))}%)")
    elif line.kind == "deduction":
        text = f"{figures['cases']} trường hợp"
    elif line.kind == "levels":
        levels = line.levels or []
        index = figures.get("level", 0)
        text = f"Mức “{levels[index].label}”" if index < len(levels) else "Mức không còn trong bộ tiêu chí"
    else:
        text = f"{format_points(figures.get('points', 0))} điểm"
    return f"{text} → {format_points(entry.points or 0)} điểm"


# ---------------------------------------------------------------- totals


@dataclass
class Subtotal:
    """Maximum and score of a criterion, an area or the whole framework, and how many lines are done."""

    maximum: float = 0.0
    score: float = 0.0
    answered: int = 0
    to_answer: int = 0

    @property
    def progress(self) -> int:
        """Lines scored, in % of the lines the province must enter (survey lines are not entered)."""
        return round(100 * self.answered / self.to_answer) if self.to_answer else 100


@dataclass
class Totals:
    criteria: dict[str, Subtotal] = field(default_factory=dict)
    areas: dict[str, Subtotal] = field(default_factory=dict)
    overall: Subtotal = field(default_factory=Subtotal)


def totals(framework: Framework, entries: Mapping[str, Entry]) -> Totals:
    """Running totals per criterion, area and overall.

    A line answered "không áp dụng" leaves the maximum; bonus and penalty lines are outside the maximum
    and add to or take from the criterion's score, which never goes below 0. Survey lines count in the
    maximum and score only once the survey's results fill them.
    """
    result = Totals()
    for area in framework.areas:
        area_sum = Subtotal()
        area_max, area_score = Fraction(0), Fraction(0)
        for criterion in area.criteria:
            maximum, points = Fraction(0), Fraction(0)
            sub = Subtotal()
            for line in criterion.subcriteria:
                entry = entries.get(line.code)
                if line.needs_input:
                    sub.to_answer += 1
                    sub.answered += entry is not None
                if line.counts_in_maximum and not (entry is not None and entry.not_applicable):
                    maximum += Fraction(str(line.points))
                if entry is not None and entry.points is not None:
                    points += Fraction(str(entry.points))
            points = max(points, Fraction(0))
            sub.maximum, sub.score = float(maximum), float(points)
            result.criteria[criterion.code] = sub
            area_max += maximum
            area_score += points
            area_sum.answered += sub.answered
            area_sum.to_answer += sub.to_answer
        area_sum.maximum, area_sum.score = float(area_max), float(area_score)
        result.areas[area.code] = area_sum
        overall = result.overall
        overall.maximum = float(Fraction(str(overall.maximum)) + area_max)
        overall.score = float(Fraction(str(overall.score)) + area_score)
        overall.answered += area_sum.answered
        overall.to_answer += area_sum.to_answer
    return result
