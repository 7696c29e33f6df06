"""The framework file: the shipped sample, and every problem reported with its place, in Vietnamese."""

from __future__ import annotations

import pytest

from portal.domain.framework import FrameworkError, from_document, parse_framework, sample_path, to_document

GOOD = """\
format: 1
title: Bộ tiêu chí thử
areas:
  - code: 1
    title: Công tác chỉ đạo, điều hành
    points: 3
    criteria:
      - code: "1.1"
        title: Kế hoạch CCHC
        subcriteria:
          - code: "1.1.1"
            title: Ban hành kế hoạch đúng hạn
            kind: yes_no
            points: 1
          - code: "1.1.2"
            title: Mức độ hoàn thành
            kind: percentage
            points: 2
            numerator: Số nhiệm vụ hoàn thành
            denominator: Tổng số nhiệm vụ
            bands:
              - {from: 100, points: 2}
              - {from: 80, points: 1}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(FrameworkError) as caught:
        parse_framework(text.encode(), "bo-tieu-chi.yaml")
    return caught.value.problems


def test_the_sample_has_eight_areas_37_criteria_88_lines_and_100_points_and_says_it_is_a_sample():
    framework = parse_framework(sample_path().read_bytes(), sample_path().name)

    assert framework.counts == (8, 37, 88)
    assert framework.maximum == 100.0
    assert framework.sample is True and "MẪU" in framework.title
    assert {line.kind for _, _, line in framework.lines()} == {"yes_no", "percentage", "deduction", "levels",
                                                                "survey", "bonus", "penalty"}


def test_a_good_file_reads_and_survives_storage():
    framework = parse_framework(GOOD, "x.yaml")

    assert framework.areas[0].code == "1"  # an unquoted number is read as the code's text
    assert from_document(to_document(framework)) == framework


def test_a_missing_key_is_named_with_its_place_and_line():
    text = GOOD.replace("            kind: yes_no\n", "")

    assert problems_of(text) == ["Lĩnh vực 1 › tiêu chí 1.1 › tiêu chí thành phần 1.1.1, khóa “kind” (dòng 11): "
                                 "thiếu khóa này (bắt buộc)."]


def test_a_misspelt_key_and_a_bad_number_are_each_reported():
    text = GOOD.replace("            points: 1\n", "            diem: 1\n            points: một\n")

    assert problems_of(text) == [
        "Lĩnh vực 1 › tiêu chí 1.1 › tiêu chí thành phần 1.1.1, khóa “points” (dòng 15): phải là một số "
        "(đang ghi “một”).",
        "Lĩnh vực 1 › tiêu chí 1.1 › tiêu chí thành phần 1.1.1, khóa “diem” (dòng 14): khóa này không có trong "
        "định dạng bộ tiêu chí (có thể viết sai tên khóa).",
    ]


def test_an_unknown_kind_lists_the_kinds_there_are():
    [problem] = problems_of(GOOD.replace("kind: yes_no", "kind: co_khong"))

    assert problem.startswith("Lĩnh vực 1 › tiêu chí 1.1 › tiêu chí thành phần 1.1.1, khóa “kind” (dòng 13): "
                              "phải là một trong các cách chấm yes_no (Có / Không); percentage (Tỷ lệ hoàn "
                              "thành)")


def test_a_kind_without_its_parameters_is_refused_in_vietnamese():
    [problem] = problems_of(GOOD.replace("            numerator: Số nhiệm vụ hoàn thành\n", ""))

    assert problem == ("Lĩnh vực 1 › tiêu chí 1.1 › tiêu chí thành phần 1.1.2 (dòng 15): loại “percentage” "
                       "(Tỷ lệ hoàn thành) cần khóa numerator (tử số).")


def test_a_band_above_the_maximum_and_sums_that_disagree_are_refused():
    text = GOOD.replace("{from: 100, points: 2}", "{from: 100, points: 3}").replace("points: 3\n    criteria",
                                                                                    "points: 4\n    criteria")

    problems = problems_of(text)

    assert "có mức cho 3 điểm, vượt điểm tối đa 2" in problems[0]


def test_an_area_whose_points_are_not_its_criteria_sum_is_refused():
    [problem] = problems_of(GOOD.replace("points: 3\n    criteria", "points: 5\n    criteria"))

    assert problem == "Lĩnh vực 1, khóa “points” (dòng 6): điểm tối đa ghi 5 nhưng tổng điểm các tiêu chí là 3."


def test_a_broken_yaml_file_says_where():
    with pytest.raises(FrameworkError, match="lỗi cú pháp ở dòng"):
        parse_framework(GOOD.replace("title: Kế hoạch CCHC", "title: Kế hoạch: CCHC"), "x.yaml")


def test_a_spreadsheet_is_not_a_framework():
    with pytest.raises(FrameworkError, match="không phải tệp văn bản YAML"):
        parse_framework(b"PK\x03\x04rest", "bo-tieu-chi.xlsx")
