"""Questionnaire files: the shipped sample, every rule the checker enforces, answers and scores."""

from __future__ import annotations

import json
import unicodedata

import pytest

from portal.domain.answer_checks import check_answers
from portal.domain.questionnaires import (
    MAX_BYTES,
    QuestionnaireError,
    forms_for,
    from_document,
    parse_questionnaire,
    sample_path,
    to_document,
    to_yaml,
)

BASE = """\
title: Bộ phiếu thử
label: Thử
forms:
  - code: DP
    title: Phiếu địa phương
    target: locality
    groups: [HDND, LD_SO, LD_PHONG, LD_HUYEN]
    sections:
      - id: A
        title: Phần A
        questions:
          - id: q1
            kind: single
            text: Công khai thủ tục hành chính
            options:
              - {value: "1", label: Kém, score: 1}
              - {value: "2", label: Tốt, score: 2}
              - {value: kb, label: Không biết, score: null}
          - id: q2
            kind: multiple
            text: Hạn chế chủ yếu
            max_choices: 2
            options:
              - {value: a, label: Giao diện, score: 0.5}
              - {value: b, label: Lỗi hệ thống, score: 1}
              - {value: c, label: Thiếu hướng dẫn}
          - id: q3
            kind: number
            text: Số cuộc giám sát
            min: 0
            max: 100
          - id: q4
            kind: text
            text: Kiến nghị
            required: false
            max_length: 20
  - code: BO
    title: Phiếu bộ chủ quản
    target: ministry
    groups: [LD_SO, LD_PHONG]
    sections:
      - id: B
        title: Phần B
        questions:
          - id: b1
            kind: single
            text: Hướng dẫn của bộ
            options: [{value: a, label: Tốt}, {value: b, label: Chưa tốt}]
"""


def parse(text: str, filename: str = "bo-phieu.yaml", **kwargs):
    return parse_questionnaire(text.encode("utf-8"), filename, **kwargs)


def problems_of(text: str, filename: str = "bo-phieu.yaml", **kwargs) -> list[str]:
    with pytest.raises(QuestionnaireError) as caught:
        parse(text, filename, **kwargs)
    assert caught.value.problems, "a refusal always lists its problems"
    return caught.value.problems


def changed(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


@pytest.fixture(scope="module")
def sample():
    return parse_questionnaire(sample_path().read_bytes(), sample_path().name)


@pytest.fixture(scope="module")
def form():
    return parse(BASE).form("DP")


# ---------------------------------------------------------------- the shipped sample


def test_sample_parses_and_is_marked_as_a_sample_everywhere(sample):
    assert sample.is_sample
    assert "PHIẾU MẪU" in sample.title
    for form in sample.forms:
        assert form.title.startswith("PHIẾU MẪU")
        assert "không phải nội dung chính thức của Quyết định 1218/QĐ-BNV" in form.intro


def test_sample_has_one_locality_form_per_group_and_one_ministry_form_for_groups_2_and_3(sample):
    assert {g: [f.code for f in forms_for(sample, g)] for g in ("HDND", "LD_SO", "LD_PHONG", "LD_HUYEN")} == {
        "HDND": ["DP-HDND"], "LD_SO": ["DP-LDSO", "BO-LD"], "LD_PHONG": ["DP-LDPHONG", "BO-LD"],
        "LD_HUYEN": ["DP-LDHUYEN"],
    }
    ministry = sample.form("BO-LD")
    assert ministry.target == "ministry" and 8 <= len(ministry.questions) <= 12


def test_each_locality_form_covers_the_eight_areas_in_under_ten_minutes(sample):
    for form in sample.forms:
        assert len(form.questions) <= 20 and form.minutes <= 10
        if form.target == "locality":
            assert [s.id for s in form.sections] == [f"LV{n}" for n in range(1, 9)]
            assert all(1 <= len(s.questions) <= 3 for s in form.sections)


def test_sample_uses_every_kind_and_scored_likert_scales(sample):
    questions = [q for f in sample.forms for q in f.questions]
    assert {q.kind for q in questions} == {"single", "multiple", "number", "text"}
    likert = [q for q in questions if q.kind == "single"]
    assert len(likert) > len(questions) / 2
    for q in likert:
        assert [o.score for o in q.options] == [1, 2, 3, 4, 5, None]
        assert q.options[-1].label == "Không biết / không có ý kiến"


def test_sample_round_trips_through_the_stored_document_and_the_yaml_download(sample):
    document = to_document(sample)
    assert from_document(document) == sample
    assert from_document(document) is from_document(document)  # cached: loaded on every respondent page
    assert parse(to_yaml(sample)) == sample
    assert json.loads(document)["sample"] is True


def test_the_stored_json_document_can_be_imported_as_a_file(sample):
    assert parse(to_document(sample), "bo-phieu.json") == sample


# ---------------------------------------------------------------- the base file and its defaults


def test_defaults_are_filled_in():
    questionnaire = parse(BASE)
    form = questionnaire.form("DP")
    q1, q2, q3, q4 = form.questions
    assert (questionnaire.title, questionnaire.label, questionnaire.is_sample) == ("Bộ phiếu thử", "Thử", False)
    assert form.minutes == 10 and form.intro == ""
    assert q1.required and [o.value for o in q1.options] == ["1", "2", "kb"]
    assert (q2.min_choices, q2.max_choices) == (1, 2)
    assert (q3.min, q3.max, q3.integer) == (0, 100, True)
    assert (q4.required, q4.max_length, q4.multiline) == (False, 20, False)


def test_custom_groups_replace_the_2021_ones():
    text = BASE.replace("[HDND, LD_SO, LD_PHONG, LD_HUYEN]", "[HDND, LD_SO, LD_PHONG]")
    assert parse(text, known_groups=("HDND", "LD_SO", "LD_PHONG")).form("DP").groups == ("HDND", "LD_SO", "LD_PHONG")


def test_text_is_normalised_to_precomposed_letters():
    decomposed = unicodedata.normalize("NFD", "Công khai thủ tục")  # typed with combining marks
    questionnaire = parse(BASE.replace("Công khai thủ tục hành chính", decomposed))
    assert questionnaire.form("DP").questions[0].text == "Công khai thủ tục"


def test_a_byte_order_mark_is_accepted():
    assert parse_questionnaire(b"\xef\xbb\xbf" + BASE.encode("utf-8"), "a.yaml").title == "Bộ phiếu thử"


def test_scales_are_shared_by_name():
    text = changed("""            options:
              - {value: "1", label: Kém, score: 1}
              - {value: "2", label: Tốt, score: 2}
              - {value: kb, label: Không biết, score: null}
""", "            scale: muc_do\n").replace("forms:\n", "scales:\n  muc_do:\n    - {value: '1', label: Kém, score: 1}\n"
                                            "    - {value: '2', label: Tốt, score: 2}\nforms:\n", 1)
    assert [o.label for o in parse(text).form("DP").questions[0].options] == ["Kém", "Tốt"]


# ---------------------------------------------------------------- every rule, with its place in the file


def test_missing_keys_are_named():
    problems = problems_of(changed("            text: Số cuộc giám sát\n", ""))
    assert problems == ["Phiếu “DP” › phần “A” › câu “q3” (dòng 27): thiếu “text” (nội dung câu hỏi)."]
    assert problems_of(BASE.replace("title: Bộ phiếu thử\n", "", 1)) == ["Dòng 1: thiếu “title” (tiêu đề)."]


def test_unknown_kind_is_reported_with_form_section_question_and_line():
    assert problems_of(changed("kind: number", "kind: date")) == [
        "Phiếu “DP” › phần “A” › câu “q3” (dòng 28): loại câu hỏi “date” không được hỗ trợ (single: chọn một; "
        "multiple: chọn nhiều; number: số; text: văn bản)."]


def test_question_ids_are_unique_within_a_form_across_sections():
    text = changed("          - id: q4\n", "          - id: q1\n")
    assert problems_of(text) == ["Phiếu “DP” › phần “A” › câu “q1” (dòng 32): mã câu hỏi trùng với một câu khác "
                                 "trong cùng phiếu."]
    # The same id in another form is fine.
    assert parse(BASE.replace("- id: b1", "- id: q1")).form("BO").questions[0].id == "q1"


def test_form_codes_are_unique():
    problems = problems_of(changed("  - code: BO\n", "  - code: dp\n"))
    assert problems[0] == "Phiếu “dp” (dòng 37): mã phiếu trùng với phiếu thứ 1."


def test_a_choice_question_needs_two_options_with_unique_values():
    one = changed("""              - {value: "2", label: Tốt, score: 2}
              - {value: kb, label: Không biết, score: null}
""", "")
    assert problems_of(one) == ["Phiếu “DP” › phần “A” › câu “q1” (dòng 16): câu hỏi lựa chọn cần ít nhất 2 phương án."]
    same = changed('{value: "2", label: Tốt', '{value: "1", label: Tốt')
    assert problems_of(same) == ["Phiếu “DP” › phần “A” › câu “q1” (dòng 16): giá trị phương án bị trùng: 1."]


def test_scores_must_be_numbers():
    assert problems_of(changed("score: 2}", "score: cao}")) == [
        "Phiếu “DP” › phần “A” › câu “q1” › phương án thứ 2 (dòng 17): “score” phải là một số, không phải “cao”."]


def test_number_bounds_must_be_in_order():
    assert problems_of(changed("max: 100", "max: -1")) == [
        "Phiếu “DP” › phần “A” › câu “q3” (dòng 30): “min” (0) lớn hơn “max” (-1)."]


def test_choice_limits_must_fit_the_options():
    assert problems_of(changed("max_choices: 2", "max_choices: 5")) == [
        "Phiếu “DP” › phần “A” › câu “q2” (dòng 22): “max_choices” (5) lớn hơn số phương án (3)."]


def test_keys_of_another_kind_are_refused():
    assert problems_of(changed("max: 100", "max: 100\n            max_length: 5")) == [
        "Phiếu “DP” › phần “A” › câu “q3” (dòng 32): khóa “max_length” không dùng cho câu hỏi loại number."]


def test_a_misspelt_key_gets_a_suggestion():
    assert problems_of(changed("required: false", "reqired: false")) == [
        "Phiếu “DP” › phần “A” › câu “q4” (dòng 35): khóa “reqired” không được hỗ trợ. Có phải là “required”?"]


def test_unknown_group_codes_are_refused():
    problems = problems_of(changed("[HDND, LD_SO, LD_PHONG, LD_HUYEN]", "[HDND, LD_SO, LD_PHONG, LD_XA]"))
    assert problems[0] == ("Phiếu “DP” (dòng 7): nhóm đối tượng “LD_XA” không có trong đợt khảo sát (các mã nhóm: "
                           "HDND, LD_SO, LD_PHONG, LD_HUYEN).")
    assert "Bộ phiếu: nhóm đối tượng “LD_HUYEN” chưa có phiếu đánh giá địa phương." in problems


def test_target_must_be_locality_or_ministry():
    assert problems_of(changed("target: ministry", "target: bo")) == [
        "Phiếu “BO” (dòng 39): “target” phải là locality (đánh giá địa phương) hoặc ministry (đánh giá bộ chủ quản), "
        "không phải “bo”."]


def test_only_groups_2_and_3_answer_a_ministry_form():
    assert problems_of(changed("groups: [LD_SO, LD_PHONG]", "groups: [LD_SO, LD_PHONG, HDND]")) == [
        "Phiếu “BO” (dòng 40): nhóm “HDND” không trả lời phiếu đánh giá bộ chủ quản (chỉ các nhóm LD_SO, LD_PHONG)."]


def test_every_group_has_exactly_one_locality_form():
    second = BASE + """\
  - code: DP2
    title: Phiếu địa phương thứ hai
    target: locality
    groups: [HDND]
    sections:
      - id: C
        title: Phần C
        questions:
          - {id: c1, kind: text, text: Ý kiến}
"""
    assert problems_of(second) == ["Bộ phiếu: nhóm đối tượng “HDND” có 2 phiếu đánh giá địa phương (DP, DP2); "
                                   "mỗi nhóm chỉ trả lời một phiếu."]
    missing = changed("[HDND, LD_SO, LD_PHONG, LD_HUYEN]", "[HDND, LD_SO, LD_PHONG]")
    assert problems_of(missing) == ["Bộ phiếu: nhóm đối tượng “LD_HUYEN” chưa có phiếu đánh giá địa phương."]


def test_groups_2_and_3_have_exactly_one_ministry_form():
    assert problems_of(changed("groups: [LD_SO, LD_PHONG]", "groups: [LD_SO]")) == [
        "Bộ phiếu: nhóm đối tượng “LD_PHONG” chưa có phiếu đánh giá bộ chủ quản."]


def test_every_problem_is_reported_not_only_the_first():
    text = changed("kind: number", "kind: date").replace("score: 2}", "score: cao}").replace("target: ministry",
                                                                                             "target: bo")
    with pytest.raises(QuestionnaireError) as caught:
        parse(text)
    assert len(caught.value.problems) == 3
    assert caught.value.message.startswith("Tệp có 3 lỗi nên bộ phiếu chưa được nhập. Lỗi đầu tiên: Phiếu “DP”")


def test_unquoted_yes_no_values_get_a_hint():
    problems = problems_of(changed("{value: a, label: Tốt}", "{value: yes, label: Tốt}"))
    assert problems == ["Phiếu “BO” › phần “B” › câu “b1” › phương án thứ 1 (dòng 48): “value” “True” không hợp lệ: "
                        "dùng chữ cái không dấu, chữ số, “_”, “-”, “.” (tối đa 40 ký tự); đặt yes/no/true/false "
                        "trong dấu ngoặc kép."]


def test_question_ids_cannot_clash_with_the_page_fields():
    assert "câu thứ 1 (dòng 12): “id” “_save” không hợp lệ" in problems_of(changed("- id: q1", "- id: _save"))[0]
    assert problems_of(changed("- id: q1", "- id: action")) == [
        "Phiếu “DP” › phần “A” › câu thứ 1 (dòng 12): “id” “action” trùng tên dành riêng cho trang trả lời phiếu "
        "(action, confirm, csrf_token, token); hãy đặt mã khác."]
    assert "“id” “csrf_token” trùng tên dành riêng" in problems_of(changed("- id: q1", "- id: csrf_token"))[0]


def test_a_key_written_twice_is_reported():
    assert problems_of(changed("            min: 0\n", "            min: 0\n            min: 5\n")) == [
        "Dòng 31: khóa “min” đã có ở dòng 30 trong cùng một mục; hãy giữ một."]


# ---------------------------------------------------------------- files that are not questionnaires


def test_a_yaml_syntax_error_names_the_line():
    message = problems_of(changed("            text: Kiến nghị\n", "            text: Kiến nghị: ý kiến\n"))[0]
    assert message.startswith("Tệp YAML bị lỗi cú pháp ở dòng 34, cột 28: dấu “:” không đúng chỗ")


def test_tabs_for_indentation_are_explained():
    message = problems_of(BASE.replace("    title: Phiếu địa phương", "\ttitle: Phiếu địa phương", 1))[0]
    assert message.startswith("Tệp YAML bị lỗi cú pháp ở dòng 5")
    assert "Tab" in message


def test_a_file_that_is_not_a_mapping_is_refused():
    assert problems_of("- một\n- hai\n") == [
        "Tệp phải là một bảng khóa (các dòng “khóa: giá trị”), không phải một danh sách."]
    with pytest.raises(QuestionnaireError, match="bắt đầu bằng “title:” và “forms:”"):
        parse("chỉ là một dòng chữ")


def test_json_files_are_read_as_yaml_and_broken_json_is_named_as_such():
    assert problems_of('{"title": "Bộ phiếu", "forms": [', "bo-phieu.json")[0].startswith(
        "Tệp JSON bị lỗi cú pháp ở dòng 1")
    assert problems_of("[1, 2, 3]", "x.json") == [
        "Tệp phải là một bảng khóa (các dòng “khóa: giá trị”), không phải một danh sách."]


@pytest.mark.parametrize(("data", "expected"), [
    (b"PK\x03\x04\x14\x00\x06\x00", "là một tệp nén hoặc tệp Excel/Word (.xlsx, .docx, .zip), không phải tệp văn bản"),
    (b"%PDF-1.7\n%\xe2\xe3", "là một tệp PDF"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "là một tệp nhị phân"),
    ("title: Bộ phiếu".encode("utf-16"), "được lưu bằng mã UTF-16"),
    (b"title: Vi\xeat Nam\n", "không phải văn bản UTF-8 (ký tự lạ ở dòng 1)"),
    (b"", "rỗng"),
    (b"  \n\n", "rỗng"),
    ("# chỉ có chú thích\n".encode(), "Tệp rỗng."),
])
def test_binary_and_wrongly_encoded_files_get_a_plain_message(data, expected):
    with pytest.raises(QuestionnaireError) as caught:
        parse_questionnaire(data, "bo-phieu.yaml")
    assert expected in caught.value.message


def test_a_file_of_another_type_is_refused_by_its_name():
    assert problems_of(BASE, "bo-phieu.docx") == [
        "Tệp “bo-phieu.docx” không phải tệp YAML. Bộ phiếu phải là tệp .yaml hoặc .yml."]


def test_a_file_over_the_size_limit_is_refused():
    with pytest.raises(QuestionnaireError, match="quá lớn"):
        parse_questionnaire(BASE.encode() + b"#" * MAX_BYTES, "to.yaml")


def test_python_tags_are_never_executed():
    with pytest.raises(QuestionnaireError, match="có thẻ"):
        parse("title: !!python/object/apply:os.system ['echo hacked']\nforms: []\n")


def test_aliases_cannot_blow_a_file_up():
    forms = "\n".join(f"  - *f{i % 3}" for i in range(30))
    problems = problems_of(BASE.replace("  - code: DP\n", "  - &f0\n    code: DP\n", 1).replace(
        "  - code: BO\n", "  - &f1\n    code: BO\n", 1) + "  - &f2\n    code: X\n" + forms + "\n")
    assert any("tối đa 20" in p for p in problems)


def test_a_file_with_endless_problems_stops_at_a_hundred():
    question = "          - &q {id: x, kind: single, text: C, options: [{value: a, label: A}, {value: b, label: B}]}\n"
    text = ("title: t\nforms:\n  - code: A\n    title: t\n    target: locality\n    groups: [HDND]\n"
            "    sections:\n      - &s\n        id: S\n        title: T\n        questions:\n" + question
            + "          - *q\n" * 149 + "      - *s\n" * 39)
    with pytest.raises(QuestionnaireError) as caught:
        parse(text)
    assert caught.value.message.startswith("Tệp có hơn 100 lỗi nên bộ phiếu chưa được nhập.")
    assert len(caught.value.problems) == 101
    assert caught.value.problems[-1] == "Đã dừng kiểm tra sau 100 lỗi; hãy sửa các lỗi trên rồi nhập lại."


def test_a_form_has_at_most_150_questions():
    questions = "".join(f"          - {{id: x{i}, kind: text, text: Câu {i}}}\n" for i in range(151))
    text = ("title: t\nforms:\n  - code: A\n    title: t\n    target: locality\n    groups: [HDND]\n"
            "    sections:\n      - id: S\n        title: T\n        questions:\n" + questions)
    assert problems_of(text, known_groups=("HDND",), ministry_groups=()) == [
        "Phiếu “A” (dòng 8): phiếu có hơn 150 câu hỏi; tối đa 150."]


# ---------------------------------------------------------------- answers


def test_single_choice_answers(form):
    assert check_answers(form, {"q1": ["2"]}, final=False) == ({"q1": "2"}, {})
    assert check_answers(form, {"q1": ["9"]}, final=False) == ({}, {"q1": "Phương án không hợp lệ."})
    assert check_answers(form, {"q1": ["1", "2"]}, final=False) == ({}, {"q1": "Chỉ được chọn một phương án."})


def test_multiple_choice_answers_keep_the_form_order(form):
    assert check_answers(form, {"q2": ["b", "a"]}, final=False) == ({"q2": ["a", "b"]}, {})
    assert check_answers(form, {"q2": ["a", "z"]}, final=False) == ({}, {"q2": "Phương án không hợp lệ."})
    assert check_answers(form, {"q2": ["a", "b", "c"]}, final=False) == (
        {}, {"q2": "Chỉ được chọn tối đa 2 phương án."})


def test_number_answers(form):
    assert check_answers(form, {"q3": [" 12 "]}, final=False) == ({"q3": 12}, {})
    assert check_answers(form, {"q3": ["101"]}, final=False) == ({}, {"q3": "Giá trị phải từ 0 đến 100."})
    assert check_answers(form, {"q3": ["-1"]}, final=False) == ({}, {"q3": "Giá trị phải từ 0 đến 100."})
    assert check_answers(form, {"q3": ["mười"]}, final=False) == ({}, {"q3": "Giá trị phải là một số."})
    assert check_answers(form, {"q3": ["nan"]}, final=False) == ({}, {"q3": "Giá trị phải là một số."})
    assert check_answers(form, {"q3": ["2,5"]}, final=False)[1] == {
        "q3": "Vui lòng nhập số nguyên (chỉ gồm chữ số, không dùng dấu chấm hay dấu phẩy)."}
    assert check_answers(form, {"q3": ["1", "2"]}, final=False) == ({}, {"q3": "Câu trả lời không hợp lệ."})


def test_decimal_numbers_take_a_comma_or_a_point():
    form = parse(changed("max: 100", "max: 100\n            integer: false")).form("DP")
    assert check_answers(form, {"q3": ["2,5"]}, final=True)[0]["q3"] == 2.5
    assert check_answers(form, {"q3": ["2.5"]}, final=True)[0]["q3"] == 2.5
    assert check_answers(form, {"q3": ["3"]}, final=True)[0]["q3"] == 3


def test_text_answers_are_cleaned_and_limited(form):
    assert check_answers(form, {"q4": ["  Cải\u00a0cách   nhanh\u200b hơn "]}, final=False) == (
        {"q4": "Cải cách nhanh hơn"}, {})
    assert check_answers(form, {"q4": ["x" * 21]}, final=False) == (
        {}, {"q4": "Câu trả lời dài quá 20 ký tự (hiện có 21 ký tự)."})


def test_long_text_answers_keep_their_lines():
    form = parse(changed("max_length: 20", "max_length: 500")).form("DP")
    assert form.question("q4").multiline
    assert check_answers(form, {"q4": ["Thứ nhất \r\n\r\n\r\nThứ hai\x00"]}, final=True)[0] == {
        "q4": "Thứ nhất\n\nThứ hai"}


def test_a_draft_may_leave_required_questions_empty_but_sending_may_not(form):
    assert check_answers(form, {"csrf_token": ["x"], "q1": [""]}, final=False) == ({}, {})
    assert check_answers(form, {}, final=True) == ({}, {
        "q1": "Vui lòng chọn một phương án.",
        "q2": "Vui lòng chọn ít nhất một phương án.",
        "q3": "Vui lòng nhập một số.",
    })


def test_a_draft_keeps_valid_answers_and_drops_invalid_ones(form):
    assert check_answers(form, {"q1": ["2"], "q2": ["x"], "q3": ["7"]}, final=False) == (
        {"q1": "2", "q3": 7}, {"q2": "Phương án không hợp lệ."})


def test_saved_values_pass_the_check_again(form):
    values, errors = check_answers(form, {"q1": ["kb"], "q2": ["a"], "q3": ["0"], "q4": ["Ổn"]}, final=True)
    assert errors == {}
    again = {k: v if isinstance(v, list) else [str(v)] for k, v in values.items()}
    assert check_answers(form, again, final=True) == (values, {})


def test_minimum_choices_apply_when_sending():
    form = parse(changed("max_choices: 2", "min_choices: 2\n            max_choices: 2")).form("DP")
    assert check_answers(form, {"q2": ["a"]}, final=False) == ({"q2": ["a"]}, {})
    assert check_answers(form, {"q2": ["a"]}, final=True)[1]["q2"] == "Vui lòng chọn ít nhất 2 phương án."
