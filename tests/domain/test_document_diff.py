"""The difference between two versions in Vietnamese words: questions by their number, framework parts by code."""

from __future__ import annotations

import json
from dataclasses import replace

from portal.domain import document_diff, questionnaires
from portal.domain.framework import Framework, parse_framework, sample_path
from portal.domain.questionnaires import Option, parse_questionnaire

SET = """\
format: 1
title: Bộ phiếu thử
forms:
  - code: DP
    title: Phiếu đánh giá địa phương thử
    target: locality
    groups: [HDND, LD_SO, LD_PHONG, LD_HUYEN]
    sections:
      - id: A
        title: Phần A
        questions:
          - {id: c1, kind: text, text: Câu một}
          - id: c2
            kind: single
            text: Câu hai
            options:
              - {value: "1", label: Kém, score: 1}
              - {value: "2", label: Tốt, score: 2}
          - {id: c3, kind: number, text: Câu ba, min: 0, max: 10}
  - code: BO
    title: Phiếu đánh giá bộ thử
    target: ministry
    groups: [LD_SO, LD_PHONG]
    sections:
      - id: B
        title: Phần B
        questions:
          - {id: b1, kind: text, text: Câu của bộ}
"""


def _one_form(text: str):
    """The set with its ministry form left out: changes read without the form's name."""
    questionnaire = parse_questionnaire(text, "x.yaml")
    return replace(questionnaire, forms=questionnaire.forms[:1])


def _with_questions(questionnaire, questions):
    form = questionnaire.forms[0]
    section = replace(form.sections[0], questions=tuple(questions))
    return replace(questionnaire, forms=(replace(form, sections=(section,)), *questionnaire.forms[1:]))


def test_the_same_version_has_no_changes():
    questionnaire = parse_questionnaire(SET, "x.yaml")

    assert document_diff.questionnaire_changes(questionnaire, questionnaire) == []


def test_wording_option_labels_scores_and_added_options_read_as_sentences_numbered_as_the_respondent_sees():
    old = _one_form(SET)
    c1, c2, c3 = old.forms[0].questions
    c2_new = replace(c2, text="Câu hai, viết lại", options=(
        replace(c2.options[0], label="Rất kém"), replace(c2.options[1], score=2.5), Option("kb", "Không biết")))

    changes = document_diff.questionnaire_changes(old, _with_questions(old, [c1, c2_new, replace(c3, max=20)]))

    assert changes == [
        "Câu 2: sửa nội dung “Câu hai” → “Câu hai, viết lại”",
        "Câu 2: sửa phương án “Kém” → “Rất kém”",
        "Câu 2: điểm của phương án “Tốt” 2 → 2,5",
        "Câu 2: thêm phương án “Không biết” (không tính điểm)",
        "Câu 3: giá trị lớn nhất 10 → 20",
    ]


def test_a_moved_question_is_named_once_with_its_old_number_and_removed_ones_with_theirs():
    old = _one_form(SET)
    c1, c2, c3 = old.forms[0].questions

    assert document_diff.questionnaire_changes(old, _with_questions(old, [c1, c3, c2])) == [
        "Câu 2: chuyển chỗ (trước là câu 3) “Câu ba”"]
    assert document_diff.questionnaire_changes(old, _with_questions(old, [c1, c3])) == [
        "Câu 2 (phiên bản cũ): bỏ câu hỏi “Câu hai”"]
    assert document_diff.questionnaire_changes(_with_questions(old, [c1, c3]), old) == [
        "Câu 2: thêm câu hỏi “Câu hai”"]


def test_in_a_set_of_several_forms_each_change_names_its_form():
    old = parse_questionnaire(SET, "x.yaml")
    form = old.forms[1]
    question = replace(form.questions[0], required=False, help="Ghi ngắn gọn")
    new = replace(old, forms=(old.forms[0], replace(form, sections=(replace(form.sections[0],
                                                                            questions=(question,)),))))

    assert document_diff.questionnaire_changes(old, new) == [
        "Phiếu đánh giá bộ chủ quản (Mã trong tệp: BO) › Câu 1: sửa hướng dẫn (trống) → “Ghi ngắn gọn”",
        "Phiếu đánh giá bộ chủ quản (Mã trong tệp: BO) › Câu 1: chuyển thành câu không bắt buộc",
    ]


def test_a_long_wording_is_cut_in_the_sentence():
    old = _one_form(SET)
    c1, c2, c3 = old.forms[0].questions

    [change] = document_diff.questionnaire_changes(old, _with_questions(old, [replace(c1, text="x" * 300), c2, c3]))

    assert change.endswith("→ “" + "x" * (document_diff.QUOTE_LIMIT - 1) + "…”")


def _framework_with(change) -> Framework:
    content = json.loads(parse_framework(sample_path().read_bytes()).model_dump_json(by_alias=True,
                                                                                     exclude_none=True))
    change(content)
    return Framework.model_validate(content)


def test_framework_changes_name_the_line_its_criterion_and_area_with_points_as_vietnamese_write_them():
    old = parse_framework(sample_path().read_bytes())

    def change(content):
        criterion = content["areas"][1]["criteria"][0]
        line = criterion["subcriteria"][0]
        line["points"] += 0.5
        line["title"] = "Tiêu đề mới"
        criterion["points"] += 0.5
        content["areas"][1]["points"] += 0.5
        content["total"] += 0.5

    new = _framework_with(change)
    line = new.areas[1].criteria[0].subcriteria[0]
    old_line = old.line(line.code)

    assert document_diff.framework_changes(old, new) == [
        "Bộ tiêu chí: tổng điểm ghi 100 → 100,5",
        "Bộ tiêu chí: tổng điểm tối đa 100 → 100,5",
        f"Lĩnh vực 2: điểm tối đa {document_diff.format_points(new.areas[1].maximum - 0.5)} → "
        f"{document_diff.format_points(new.areas[1].maximum)}",
        f"Tiêu chí 2.1: điểm tối đa {document_diff.format_points(new.areas[1].criteria[0].maximum - 0.5)} → "
        f"{document_diff.format_points(new.areas[1].criteria[0].maximum)}",
        f"Tiêu chí thành phần {line.code}: sửa nội dung “{old_line.title}” → “Tiêu đề mới”",
        f"Tiêu chí thành phần {line.code}: điểm tối đa {document_diff.format_points(old_line.points)} → "
        f"{document_diff.format_points(line.points)}",
    ]


def test_framework_lines_added_removed_and_moved():
    old = parse_framework(sample_path().read_bytes())

    def change(content):
        lines = content["areas"][0]["criteria"][0]["subcriteria"]
        lines.reverse()

    assert document_diff.framework_changes(old, _framework_with(change)) == ["Tiêu chí thành phần 1.1.2: chuyển chỗ"]
    assert document_diff.framework_changes(old, old) == []


def test_the_stored_questionnaire_and_its_check_agree():
    """The corrections check a document built in memory by the import's checks: a checked set passes as is."""
    questionnaire = parse_questionnaire(SET, "x.yaml")

    assert questionnaires.check_content(json.loads(questionnaires.to_document(questionnaire))) == questionnaire
