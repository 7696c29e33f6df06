"""The mapping of survey questions to the framework's survey lines, checked against a questionnaire set.

A survey line (kind `survey`) names its questions as "form code.question id" with a rule (framework.SURVEY_RULES).
The framework file alone can only check the shape of those names; whether they exist, are single-choice questions
with scored options and belong to a form that evaluates the province is known only against the campaign's
questionnaire set. That check runs when a framework is imported (if the campaign has a questionnaire set then) and
on the survey-results page (the set may have been replaced since), so a mapping that names an unknown or unscored
question is reported, never counted as a silent zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.domain.framework import Framework, Line, format_points
from portal.domain.questionnaires import Question, Questionnaire


@dataclass(frozen=True)
class MappedQuestion:
    """One question a survey line counts, as the questionnaire set has it."""

    form_code: str
    question: Question

    @property
    def reference(self) -> str:
        return f"{self.form_code}.{self.question.id}"


def survey_lines(framework: Framework) -> list[Line]:
    """The framework's survey lines, in the framework's order."""
    return [line for _, _, line in framework.lines() if line.kind == "survey"]


def question_problem(questionnaire: Questionnaire, form_code: str, question_id: str,
                     rule: str = "mean_scaled") -> str:
    """Why the question cannot give a survey line points by `rule` ('' when it can)."""
    form = questionnaire.form(form_code)
    if form is None:
        codes = ", ".join(f.code for f in questionnaire.forms)
        return f"không có phiếu mã “{form_code}” trong bộ phiếu khảo sát (các phiếu: {codes})"
    if form.target != "locality":
        return (f"phiếu “{form_code}” đánh giá bộ chủ quản, không đánh giá địa phương, nên không tính vào điểm "
                "của tỉnh")
    question = form.question(question_id)
    if question is None:
        return f"phiếu “{form_code}” không có câu hỏi “{question_id}”"
    if question.kind != "single" or not question.scored:
        return (f"câu hỏi “{form_code}.{question_id}” không phải câu hỏi chọn một có điểm cho các phương án, "
                "nên không tính được điểm")
    levels = {option.score for option in question.options if option.score is not None}
    if rule == "share_top" and len(levels) < 3:
        # With two levels every scored answer is "in the top two": each province would get full points.
        return (f"câu hỏi “{form_code}.{question_id}” chỉ có {len(levels)} mức điểm; cách tính share_top (tỷ lệ "
                "trả lời ở hai mức cao nhất) cần ít nhất ba mức điểm khác nhau")
    return ""


def reference_problems(framework: Framework, questionnaire: Questionnaire) -> list[str]:
    """Every survey question reference the questionnaire set cannot score, each with its line, in Vietnamese."""
    problems = []
    for line in survey_lines(framework):
        for form_code, question_id in line.survey.references if line.survey else ():
            problem = question_problem(questionnaire, form_code, question_id, line.survey.rule)
            if problem:
                problems.append(f"Tiêu chí thành phần {line.code}, khóa “survey.questions”: {problem}.")
    return problems


def unmapped_lines(framework: Framework) -> list[str]:
    """The survey lines without questions: they give 0 points until the ministry maps them (said on the page)."""
    return [f"Tiêu chí thành phần {line.code} ({format_points(line.points)} điểm) chưa gắn câu hỏi điều tra xã hội "
            "học (khóa “survey”), nên chưa tính được điểm." for line in survey_lines(framework) if line.survey is None]


def mapped_questions(line: Line, questionnaire: Questionnaire) -> list[MappedQuestion]:
    """The line's questions that the questionnaire set can score (the others are reported, not counted)."""
    found = []
    for form_code, question_id in line.survey.references if line.survey else ():
        if not question_problem(questionnaire, form_code, question_id, line.survey.rule):
            form = questionnaire.form(form_code)
            assert form is not None
            question = form.question(question_id)
            assert question is not None
            found.append(MappedQuestion(form_code, question))
    return found
