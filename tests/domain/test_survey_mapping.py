"""The survey lines' questions and rule: checked in YAML and in the workbook with their place, and against a
questionnaire set (unknown form or question, unscored question, a ministry form), never counted as a silent zero."""

from __future__ import annotations

import pytest

from portal.domain import framework as fw
from portal.domain import questionnaires as q
from portal.domain import survey_mapping
from portal.domain.authoring import framework_template_workbook, framework_workbook, read_framework_workbook
from tests.domain.test_authoring_sheets import FRAMEWORK_ROWS, filled
from tests.support.results import FRAMEWORK

GROUPS_2021 = ("HDND", "LD_SO", "LD_PHONG", "LD_HUYEN")


def yaml_problems(text: str) -> list[str]:
    with pytest.raises(fw.FrameworkError) as caught:
        fw.parse_framework(text.encode(), "bo-tieu-chi.yaml")
    return caught.value.problems


def sample_set() -> q.Questionnaire:
    return q.parse_questionnaire(q.sample_path().read_bytes(), q.SAMPLE_FILE, known_groups=GROUPS_2021)


def test_the_sample_framework_maps_every_survey_line_to_scored_questions_of_both_sample_sets():
    framework = fw.parse_framework(fw.sample_path().read_bytes(), fw.SAMPLE_FILE)
    lines = survey_mapping.survey_lines(framework)

    assert len(lines) == 13 and all(line.survey for line in lines)
    assert survey_mapping.unmapped_lines(framework) == []
    assert survey_mapping.reference_problems(framework, sample_set()) == []
    later = q.parse_questionnaire(q.sample_path("questionnaires-2025-sample.yaml").read_bytes(), "2025.yaml",
                                  known_groups=("HDND", "LD_SO", "LD_PHONG", "LD_XA"))
    assert survey_mapping.reference_problems(framework, later) == []


def test_a_bad_rule_a_malformed_question_and_a_block_on_another_kind_are_placed_in_the_file():
    text = (FRAMEWORK.replace("rule: share_top", "rule: top2")
            .replace("[DP-HDND.c2_1, DP-LDSO.c2_1]", "[DP-HDND c2_1, DP-LDSO.c2_1]")
            .replace("kind: yes_no, points: 1}", "kind: yes_no, points: 1, survey: {questions: [DP-HDND.c1_1]}}"))

    problems = yaml_problems(text)

    assert problems == [
        "Lĩnh vực 1 › tiêu chí 1.1 › tiêu chí thành phần 1.1.1 (dòng 10): loại “yes_no” (Có / Không) không dùng khóa "
        "survey (câu hỏi điều tra xã hội học); chỉ loại “survey” dùng.",
        "Lĩnh vực 8 › tiêu chí 8.1 › tiêu chí thành phần 8.1.1, khóa “survey.questions” (dòng 23): câu hỏi "
        "“DP-HDND c2_1” không đúng dạng “mã phiếu.mã câu hỏi”, ví dụ “DP-HDND.c2_1”.",
        "Lĩnh vực 8 › tiêu chí 8.1 › tiêu chí thành phần 8.1.2, khóa “survey.rule” (dòng 32): phải là một trong các "
        "cách tính mean_scaled (Điểm trung bình các câu trả lời / điểm cao nhất của câu hỏi × điểm tối đa); "
        "share_top (Tỷ lệ câu trả lời ở hai mức điểm cao nhất × điểm tối đa) (đang ghi “top2”).",
    ]


def test_a_question_named_twice_or_no_question_is_refused():
    assert "được ghi hai lần" in yaml_problems(FRAMEWORK.replace("[DP-HDND.c3_1]", "[DP-HDND.c3_1, DP-HDND.c3_1]"))[0]
    assert "phải có ít nhất 1 mục" in yaml_problems(FRAMEWORK.replace("[DP-HDND.c3_1]", "[]"))[0]


def test_unknown_unscored_and_ministry_questions_are_reported_against_the_questionnaire_set():
    text = (FRAMEWORK.replace("DP-HDND.c2_1, DP-LDSO.c2_1", "DP-HDND.c1_3, DP-XX.c2_1, BO-LD.b1_1")
            .replace("[DP-HDND.c3_1]", "[DP-HDND.c9_9]"))
    framework = fw.parse_framework(text)

    assert survey_mapping.reference_problems(framework, sample_set()) == [
        "Tiêu chí thành phần 8.1.1, khóa “survey.questions”: câu hỏi “DP-HDND.c1_3” không phải câu hỏi chọn một có "
        "điểm cho các phương án, nên không tính được điểm.",
        "Tiêu chí thành phần 8.1.1, khóa “survey.questions”: không có phiếu mã “DP-XX” trong bộ phiếu khảo sát (các "
        "phiếu: DP-HDND, DP-LDSO, DP-LDPHONG, DP-LDHUYEN, BO-LD).",
        "Tiêu chí thành phần 8.1.1, khóa “survey.questions”: phiếu “BO-LD” đánh giá bộ chủ quản, không đánh giá địa "
        "phương, nên không tính vào điểm của tỉnh.",
        "Tiêu chí thành phần 8.1.2, khóa “survey.questions”: phiếu “DP-HDND” không có câu hỏi “c9_9”.",
    ]


def test_a_survey_line_without_questions_is_named_as_unmapped():
    framework = fw.parse_framework(FRAMEWORK.replace("            survey:\n              questions: [DP-HDND.c3_1]\n"
                                                     "              rule: share_top\n", ""))

    assert survey_mapping.unmapped_lines(framework) == [
        "Tiêu chí thành phần 8.1.2 (1 điểm) chưa gắn câu hỏi điều tra xã hội học (khóa “survey”), nên chưa tính được "
        "điểm."]


def test_the_mapping_goes_to_the_workbook_and_back_unchanged():
    framework = fw.parse_framework(FRAMEWORK)

    back = read_framework_workbook(framework_workbook(framework), "x.xlsx")

    assert fw.to_document(back) == fw.to_document(framework)
    assert back.line("8.1.2").survey.rule == "share_top"


def test_the_workbook_takes_questions_separated_by_commas_and_places_a_bad_rule_at_its_cell():
    rows = [list(row) + [None, None] for row in FRAMEWORK_ROWS["Tiêu chí"]]
    rows[-1][13:15] = ["DP-HDND.c2_1; DP-LDSO.c2_1", "Tỷ lệ câu trả lời ở hai mức điểm cao nhất × điểm tối đa"]
    good = read_framework_workbook(filled(framework_template_workbook(), {**FRAMEWORK_ROWS, "Tiêu chí": rows},
                                          {"Bộ tiêu chí!B1": "Bộ tiêu chí thử"}), "x.xlsx")
    assert good.line("1.2.3").survey == fw.SurveyMapping(questions=["DP-HDND.c2_1", "DP-LDSO.c2_1"], rule="share_top")

    rows[-1][14] = "trung bình"
    rows[2][13] = "DP-HDND.c1_1"
    with pytest.raises(fw.FrameworkError) as caught:
        read_framework_workbook(filled(framework_template_workbook(), {**FRAMEWORK_ROWS, "Tiêu chí": rows},
                                       {"Bộ tiêu chí!B1": "Bộ tiêu chí thử"}), "x.xlsx")
    problems = caught.value.problems
    assert any(p.startswith("Lĩnh vực 1 › tiêu chí 1.1 › tiêu chí thành phần 1.1.1 (trang tính “Tiêu chí”, dòng 4)")
               and "không dùng khóa survey" in p for p in problems), problems
    assert any(p.startswith("Lĩnh vực 1 › tiêu chí 1.2 › tiêu chí thành phần 1.2.3, khóa “survey.rule” (trang tính "
                            "“Tiêu chí”, dòng 9, cột O “Cách tính điểm điều tra XHH”)") for p in problems), problems


YES_NO_SET = """
format: 1
title: Bộ phiếu thử
label: Thử
forms:
  - code: DP-HDND
    title: Phiếu thử của đại biểu
    target: locality
    groups: [HDND]
    sections:
      - id: S1
        title: Phần 1
        questions:
          - id: c1
            kind: single
            text: Có kế hoạch cải cách hành chính không?
            options:
              - {value: "co", label: "Có", score: 1}
              - {value: "khong", label: "Không", score: 0}
"""


def test_share_top_on_a_question_with_two_levels_is_refused_since_every_answer_would_be_in_the_top_two():
    questions = q.parse_questionnaire(YES_NO_SET.encode(), "thu.yaml", known_groups=("HDND",))

    refused = survey_mapping.question_problem(questions, "DP-HDND", "c1", "share_top")

    assert "chỉ có 2 mức điểm" in refused and "ít nhất ba mức điểm" in refused
    assert survey_mapping.question_problem(questions, "DP-HDND", "c1", "mean_scaled") == ""
