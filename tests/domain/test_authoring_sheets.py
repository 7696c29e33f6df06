"""The questionnaire set and the framework as workbooks: templates, round trips both ways, every problem at its
cell, hostile files (portal/domain/authoring)."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from portal.domain import framework as fw
from portal.domain import questionnaires as q
from portal.domain.authoring import (
    framework_template_workbook,
    framework_workbook,
    is_workbook,
    questionnaire_template_workbook,
    questionnaire_workbook,
    read_framework_workbook,
    read_questionnaire_workbook,
)

GROUPS = {"HDND": "1. Đại biểu HĐND tỉnh", "LD_SO": "2. Lãnh đạo cấp sở", "LD_PHONG": "3. Lãnh đạo cấp phòng",
          "LD_HUYEN": "4. Lãnh đạo cấp huyện"}
DATA_SHEETS = ("Bộ phiếu", "Phiếu", "Phần", "Câu hỏi", "Phương án", "Thang đo")
FRAMEWORK_SHEETS = ("Bộ tiêu chí", "Tiêu chí", "Mức điểm")

# A small set, as a person fills the template: every value the export writes is typed, so that the export
# of what is stored gives back the very same cells.
SET_ROWS = {
    "Phiếu": [["DP", "Phiếu đánh giá địa phương", "Đánh giá địa phương", 15, "Xin chào.\nCảm ơn ông/bà.",
               "x", "x", "x", "x"],
              ["BO", "Phiếu về bộ", "Đánh giá bộ chủ quản", 10, None, None, "x", "x", None]],
    "Phần": [["DP", "A", "Chỉ đạo, điều hành", None], ["BO", "B", "Bộ chủ quản", "Đánh giá chung"]],
    "Câu hỏi": [
        ["DP", "A", "q1", "Chọn một", "Mức độ công khai kế hoạch CCHC?", "Có", None, "thang_1",
         None, None, None, None, None, None],
        ["DP", "A", "q2", "Chọn nhiều", "Khó khăn gặp phải?", "Không", "Chọn tối đa 2", None,
         None, None, None, None, 1, 2],
        ["DP", "A", "q3", "Số", "Số văn bản đã ban hành?", "Có", None, None, 0, 100, "Có", None, None, None],
        ["DP", "A", "q4", "Văn bản", "Góp ý khác", "Không", None, None, None, None, None, 500, None, None],
        ["BO", "B", "b1", "Chọn một", "=Bộ chỉ đạo tốt?", "Có", None, "thang_1", None, None, None, None, None, None],
    ],
    "Phương án": [["DP", "q2", "giao_dien", "Giao diện khó dùng", None], ["DP", "q2", "cham", "Xử lý chậm", None],
                  ["DP", "q2", "khac", "Khác", None]],
    "Thang đo": [["thang_1", "1", "Kém", 1], ["thang_1", "2", "Trung bình", 2.5],
                 ["thang_1", "kb", "Không biết", None]],
}
SET_YAML = """
title: Bộ phiếu thử
scales:
  muc:
    - {value: "1", label: Kém, score: 1}
    - {value: "2", label: Trung bình, score: 2.5}
    - {value: kb, label: Không biết}
forms:
  - code: DP
    title: Phiếu đánh giá địa phương
    target: locality
    groups: [LD_HUYEN, HDND, LD_SO, LD_PHONG]
    minutes: 15
    intro: |
      Xin chào.
      Cảm ơn ông/bà.
    sections:
      - id: A
        title: Chỉ đạo, điều hành
        questions:
          - {id: q1, kind: single, text: "Mức độ công khai kế hoạch CCHC?", scale: muc}
          - id: q2
            kind: multiple
            text: Khó khăn gặp phải?
            required: false
            help: Chọn tối đa 2
            max_choices: 2
            options:
              - {value: giao_dien, label: Giao diện khó dùng}
              - {value: cham, label: Xử lý chậm}
              - {value: khac, label: Khác}
          - {id: q3, kind: number, text: "Số văn bản đã ban hành?", min: 0, max: 100}
          - {id: q4, kind: text, text: Góp ý khác, required: false, max_length: 500}
  - code: BO
    title: Phiếu về bộ
    target: ministry
    groups: [LD_SO, LD_PHONG]
    sections:
      - id: B
        title: Bộ chủ quản
        intro: Đánh giá chung
        questions:
          - {id: b1, kind: single, text: "=Bộ chỉ đạo tốt?", scale: muc}
"""

FRAMEWORK_ROWS = {
    "Tiêu chí": [
        ["Lĩnh vực", "1", "Công tác chỉ đạo", 5.5] + [None] * 9,
        ["Tiêu chí", "1.1", "Kế hoạch CCHC", 3] + [None] * 9,
        ["Tiêu chí thành phần", "1.1.1", "Ban hành kế hoạch đúng hạn", 1, "Có / Không", "Tự đánh giá", "Có",
         "Kế hoạch CCHC năm", None, None, None, None, None],
        ["Tiêu chí thành phần", "1.1.2", "Mức độ hoàn thành kế hoạch", 2, "Tỷ lệ hoàn thành", "Tự đánh giá", "Không",
         None, "Chấm theo báo cáo năm", "Số nhiệm vụ hoàn thành", "Tổng số nhiệm vụ", None, None],
        ["Tiêu chí", "1.2", "Kiểm tra CCHC", None] + [None] * 9,
        ["Tiêu chí thành phần", "1.2.1", "Chất lượng kiểm tra", 1, "Chọn mức đánh giá", "Tự đánh giá", "Không",
         None, None, None, None, None, None],
        ["Tiêu chí thành phần", "1.2.2", "Văn bản trái quy định", 1, "Trừ điểm theo số trường hợp", "Tự đánh giá",
         "Không", None, None, None, None, 0.25, "Số văn bản"],
        ["Tiêu chí thành phần", "1.2.3", "Hài lòng của người dân", 0.5, "Điểm từ kết quả điều tra xã hội học",
         "Điều tra xã hội học", "Không", None, None, None, None, None, None],
    ],
    "Mức điểm": [["1.1.2", 100, None, 2], ["1.1.2", 80, None, 1], ["1.2.1", None, "Tốt", 1],
                 ["1.2.1", None, "Khá", 0.5]],
}


def filled(template: bytes, rows: dict[str, list[list]], fields: dict[str, str] | None = None) -> bytes:
    """The template filled with openpyxl, as a person fills it in Excel."""
    book = load_workbook(io.BytesIO(template))
    for sheet, values in rows.items():
        for row in values:
            book[sheet].append(row)
            for cell in book[sheet][book[sheet].max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type, cell.quotePrefix = "s", True  # typed as text, as Excel keeps '=…
    for cell, value in (fields or {}).items():
        sheet, ref = cell.split("!")
        book[sheet][ref] = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def small_set(changes: dict[str, list[list]] | None = None, fields: dict[str, str] | None = None) -> bytes:
    rows = {sheet: [list(row) for row in values] for sheet, values in SET_ROWS.items()}
    rows.update(changes or {})
    return filled(questionnaire_template_workbook(GROUPS), rows, {"Bộ phiếu!B1": "Bộ phiếu thử", **(fields or {})})


def small_framework(changes: dict[str, list[list]] | None = None, fields: dict[str, object] | None = None) -> bytes:
    rows = {sheet: [list(row) for row in values] for sheet, values in FRAMEWORK_ROWS.items()}
    rows.update(changes or {})
    return filled(framework_template_workbook(), rows, {"Bộ tiêu chí!B1": "Bộ tiêu chí thử", **(fields or {})})


def cells(data: bytes, sheets: tuple[str, ...]) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(data))
    found = {}
    for name in sheets:
        rows = [tuple(row) for row in book[name].iter_rows(values_only=True)]
        found[name] = [row for row in rows if any(value is not None for value in row)]
    return found


def read_set(data: bytes) -> q.Questionnaire:
    return read_questionnaire_workbook(data, "bo-phieu.xlsx", known_groups=tuple(GROUPS))


def set_problems(data: bytes) -> list[str]:
    with pytest.raises(q.QuestionnaireError) as caught:
        read_set(data)
    return caught.value.problems


def framework_problems(data: bytes) -> list[str]:
    with pytest.raises(fw.FrameworkError) as caught:
        read_framework_workbook(data, "bo-tieu-chi.xlsx")
    return caught.value.problems


# ---------------------------------------------------------------- templates


def test_the_questionnaire_template_has_its_sheets_a_vietnamese_guide_and_drop_downs():
    book = load_workbook(io.BytesIO(questionnaire_template_workbook(GROUPS)))

    assert book.sheetnames == ["Hướng dẫn", *DATA_SHEETS]
    assert "Hướng dẫn điền bảng tính bộ phiếu khảo sát" in book["Hướng dẫn"]["A1"].value
    assert [c.value for c in book["Phiếu"][1]][-4:] == ["Nhóm: HDND", "Nhóm: LD_SO", "Nhóm: LD_PHONG", "Nhóm: LD_HUYEN"]
    lists = {str(v.sqref).split(":")[0]: v.formula1 for v in book["Câu hỏi"].data_validations.dataValidation}
    assert lists["D2"] == '"Chọn một,Chọn nhiều,Số,Văn bản"' and lists["F2"] == '"Có,Không"'
    targets = [v.formula1 for v in book["Phiếu"].data_validations.dataValidation]
    assert '"Đánh giá địa phương,Đánh giá bộ chủ quản"' in targets and '"x"' in targets


def test_the_framework_template_offers_levels_kinds_and_sources_as_drop_downs():
    book = load_workbook(io.BytesIO(framework_template_workbook()))

    assert book.sheetnames == ["Hướng dẫn", *FRAMEWORK_SHEETS]
    lists = [v.formula1 for v in book["Tiêu chí"].data_validations.dataValidation]
    assert '"Lĩnh vực,Tiêu chí,Tiêu chí thành phần"' in lists
    assert '"' + ",".join(fw.KIND_LABELS.values()) + '"' in lists
    assert all("," not in label for label in [*fw.KIND_LABELS.values(), *q.KIND_LABELS.values(),
                                               *q.TARGET_LABELS.values(), *fw.SOURCE_LABELS.values()])


def test_workbooks_are_told_from_yaml_by_their_bytes():
    assert is_workbook(framework_template_workbook())
    assert not is_workbook(q.sample_path().read_bytes())


# ---------------------------------------------------------------- round trips


def test_the_sample_set_goes_yaml_to_workbook_and_back_to_the_identical_document():
    sample = q.parse_questionnaire(q.sample_path().read_bytes(), "mau.yaml")

    back = read_questionnaire_workbook(questionnaire_workbook(sample, GROUPS))

    assert q.to_document(back) == q.to_document(sample)


def test_the_sample_framework_goes_yaml_to_workbook_and_back_to_the_identical_document():
    sample = fw.parse_framework(fw.sample_path().read_bytes(), "mau.yaml")

    back = read_framework_workbook(framework_workbook(sample))

    assert fw.to_document(back) == fw.to_document(sample)


def test_a_filled_template_stores_what_the_same_set_in_yaml_stores():
    from_sheet = read_set(small_set())

    assert q.to_document(from_sheet) == q.to_document(q.parse_questionnaire(SET_YAML, known_groups=tuple(GROUPS)))
    assert from_sheet.form("BO").questions[0].text == "=Bộ chỉ đạo tốt?"  # text, never a formula


def test_a_filled_template_read_and_exported_gives_back_the_same_cells():
    data = small_set()

    exported = questionnaire_workbook(read_set(data), GROUPS)

    assert cells(exported, DATA_SHEETS) == cells(data, DATA_SHEETS)
    assert load_workbook(io.BytesIO(exported))["Câu hỏi"]["E6"].data_type == "s"


def test_a_filled_framework_template_read_and_exported_gives_back_the_same_cells():
    data = small_framework()

    framework = read_framework_workbook(data)

    assert framework.counts == (1, 2, 5)
    assert framework.line("1.1.2").bands[1].from_percent == 80
    assert cells(framework_workbook(framework), FRAMEWORK_SHEETS) == cells(data, FRAMEWORK_SHEETS)


# ---------------------------------------------------------------- problems at their cells


def test_each_problem_of_a_set_names_its_sheet_row_and_column():
    rows = {**SET_ROWS}
    rows["Câu hỏi"] = [list(row) for row in SET_ROWS["Câu hỏi"]]
    rows["Câu hỏi"][2][3] = "Ngày tháng"  # row 4: an unknown kind
    rows["Câu hỏi"][3][4] = None  # row 5: no text
    rows["Câu hỏi"][4][5] = "Có lẽ"  # row 6: required neither Có nor Không
    rows["Câu hỏi"].append(["DP", "Z", "q9", "Số", "Câu lạc", "Có"] + [None] * 8)  # row 7: unknown section
    rows["Phương án"] = [*SET_ROWS["Phương án"], ["DP", "q2", "khac", "Khác nữa", None],
                         ["DP", "q1", "x", "Không", "cao"]]

    problems = set_problems(small_set(rows))

    assert problems == [
        "Trang tính “Câu hỏi”, dòng 6, cột F “Bắt buộc trả lời”: phải là “Có” hoặc “Không”, không phải “Có lẽ”.",
        "Trang tính “Câu hỏi”, dòng 7, cột B “Mã phần”: phiếu “DP” không có phần “Z” ở trang tính “Phần”.",
        "Phiếu “DP” › phần “A” › câu “q1” (trang tính “Câu hỏi”, dòng 2, cột H “Thang đo”): chỉ dùng một trong "
        "hai: “options” hoặc “scale”.",
        "Phiếu “DP” › phần “A” › câu “q2” (trang tính “Phương án”, dòng 2): giá trị phương án bị trùng: khac.",
        "Phiếu “DP” › phần “A” › câu “q3” (trang tính “Câu hỏi”, dòng 4, cột D “Loại câu hỏi”): loại câu hỏi "
        "“Ngày tháng” không được hỗ trợ (single: chọn một; multiple: chọn nhiều; number: số; text: văn bản).",
        "Phiếu “DP” › phần “A” › câu “q4” (trang tính “Câu hỏi”, dòng 5, cột E “Nội dung câu hỏi”): thiếu “text” "
        "(nội dung câu hỏi).",
    ]


def test_groups_forms_and_columns_are_checked_at_their_cells():
    forms = [list(row) for row in SET_ROWS["Phiếu"]]
    forms[1][5] = "x"  # HDND on the ministry form
    forms[0][2] = "Bộ"
    problems = set_problems(small_set({"Phiếu": forms}, {"Phiếu!O1": "Ghi chú", "Phần!F3": "lạc"}))

    assert "Trang tính “Phiếu”, dòng 1, cột O “Ghi chú”: cột này không có trong mẫu" in problems[0]
    assert problems[1].startswith("Trang tính “Phần”, dòng 3, cột F: ô có nội dung nhưng cột không có tên")
    assert ("Phiếu “DP” (trang tính “Phiếu”, dòng 2, cột C “Đánh giá”): “target” phải là locality (đánh giá địa "
            "phương) hoặc ministry (đánh giá bộ chủ quản), không phải “Bộ”.") in problems
    assert ("Phiếu “BO” (trang tính “Phiếu”, dòng 3, cột F “Nhóm: HDND”): nhóm “HDND” không trả lời phiếu đánh giá "
            "bộ chủ quản (chỉ các nhóm LD_SO, LD_PHONG).") in problems


def test_a_formula_and_a_date_are_refused_at_their_cells_never_evaluated():
    data = small_set(fields={"Thang đo!D2": "=1+1", "Phiếu!D2": "=SUM(1,2)"})
    book = load_workbook(io.BytesIO(data))
    book["Câu hỏi"]["E2"].value = __import__("datetime").date(2021, 5, 1)
    buffer = io.BytesIO()
    book.save(buffer)

    problems = set_problems(buffer.getvalue())

    assert problems[:3] == [
        "Trang tính “Phiếu”, dòng 2, cột D “Thời gian (phút)”: ô có công thức “=SUM(1,2)”; hãy nhập giá trị trực "
        "tiếp (có thể sao chép rồi Dán đặc biệt › Giá trị).",
        "Trang tính “Câu hỏi”, dòng 2, cột E “Nội dung câu hỏi”: ô đang ở dạng ngày giờ; hãy định dạng ô là Văn bản "
        "(Text) rồi nhập lại.",
        "Trang tính “Thang đo”, dòng 2, cột D “Điểm”: ô có công thức “=1+1”; hãy nhập giá trị trực tiếp (có thể sao "
        "chép rồi Dán đặc biệt › Giá trị).",
    ]


def test_a_missing_sheet_and_a_missing_column_are_named():
    book = load_workbook(io.BytesIO(small_set()))
    del book["Thang đo"]
    book["Phương án"]["D1"] = None
    buffer = io.BytesIO()
    book.save(buffer)

    problems = set_problems(buffer.getvalue())

    assert "Trang tính “Phương án”, dòng 1: thiếu cột “Nội dung phương án”." in problems
    assert "Thiếu trang tính “Thang đo” của mẫu bộ phiếu." in problems


def test_each_problem_of_a_framework_names_its_sheet_row_and_column():
    rows = [list(row) for row in FRAMEWORK_ROWS["Tiêu chí"]]
    rows[0][3] = 6  # the area's points disagree with its criteria
    rows[2][4] = "Có hoặc không"  # an unknown kind
    rows[3][3] = "hai"  # points that are not a number
    rows.insert(0, ["Tiêu chí", "0.1", "Lạc", None] + [None] * 9)  # a criterion before any area
    bands = [*FRAMEWORK_ROWS["Mức điểm"], ["1.1.2", 50, "Trung bình", 1], ["9.9.9", 10, None, 1],
             ["1.2.1", None, "Xuất sắc", 3]]

    problems = framework_problems(small_framework({"Tiêu chí": rows, "Mức điểm": bands}))

    assert problems[:3] == [
        "Trang tính “Tiêu chí”, dòng 2, cột A “Cấp”: tiêu chí phải nằm dưới một dòng lĩnh vực.",
        "Trang tính “Mức điểm”, dòng 6, cột B “Tỷ lệ từ (%)”: ghi “Tỷ lệ từ (%)” (cách chấm Tỷ lệ hoàn thành) hoặc "
        "“Tên mức” (cách chấm Chọn mức đánh giá), không ghi cả hai hay bỏ trống cả hai.",
        "Trang tính “Mức điểm”, dòng 7, cột A “Mã tiêu chí thành phần”: không có tiêu chí thành phần mã “9.9.9” ở "
        "trang tính “Tiêu chí”.",
    ]
    assert problems[3].startswith("Lĩnh vực 1 › tiêu chí 1.1 › tiêu chí thành phần 1.1.1, khóa “kind” (trang tính "
                                  "“Tiêu chí”, dòng 5, cột E “Cách chấm”): phải là một trong các cách chấm")
    assert ("Lĩnh vực 1 › tiêu chí 1.1 › tiêu chí thành phần 1.1.2, khóa “points” (trang tính “Tiêu chí”, dòng 6, "
            "cột D “Điểm tối đa”): phải là một số (đang ghi “hai”).") in problems
    assert ("Lĩnh vực 1 › tiêu chí 1.2 › tiêu chí thành phần 1.2.1 (trang tính “Tiêu chí”, dòng 8): có mức cho 3 "
            "điểm, vượt điểm tối đa 1.") in problems


def test_sums_and_codes_across_the_framework_are_placed_at_their_cells():
    rows = [list(row) for row in FRAMEWORK_ROWS["Tiêu chí"]]
    rows[0][3] = 6
    rows[6][1] = "1.1.1"  # a code used twice, and not under its criterion

    problems = framework_problems(small_framework({"Tiêu chí": rows}, {"Bộ tiêu chí!B3": 7}))

    assert problems == [
        "Lĩnh vực 1 › tiêu chí 1.2 › tiêu chí thành phần 1.1.1, khóa “code” (trang tính “Tiêu chí”, dòng 8, cột B "
        "“Mã”): mã “1.1.1” (tiêu chí thành phần) bị trùng; mỗi mã chỉ dùng một lần.",
        "Lĩnh vực 1 › tiêu chí 1.2 › tiêu chí thành phần 1.1.1, khóa “code” (trang tính “Tiêu chí”, dòng 8, cột B "
        "“Mã”): mã phải bắt đầu bằng mã tiêu chí “1.2.”.",
        "Lĩnh vực 1, khóa “points” (trang tính “Tiêu chí”, dòng 2, cột D “Điểm tối đa”): điểm tối đa ghi 6 nhưng "
        "tổng điểm các tiêu chí là 5,5.",
        "Phần đầu tệp, khóa “total” (trang tính “Bộ tiêu chí”, dòng 3, cột B “Tổng điểm”): tổng điểm ghi 7 nhưng "
        "tổng điểm các lĩnh vực là 5,5.",
    ]


# ---------------------------------------------------------------- hostile files


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def refusal(data: bytes) -> str:
    with pytest.raises(q.QuestionnaireError) as caught:
        read_questionnaire_workbook(data, "bo-phieu.xlsx")
    return caught.value.message


CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


@pytest.mark.parametrize("data, says", [
    (CFB + "Workbook".encode("utf-16-le") + bytes(100), "Excel 97–2003 (.xls) chưa được hỗ trợ"),
    (CFB + "EncryptedPackage".encode("utf-16-le") + bytes(100), "gỡ mật khẩu"),
    (zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}),
     "không phải bảng tính Excel (.xlsx) hoặc CSV (đây là văn bản Word). Hãy nhập bảng tính mẫu bộ phiếu (.xlsx)"),
    (questionnaire_template_workbook()[:3000], "bị hỏng"),
    (zip_of({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": bytes(60 * 1024 * 1024)}),
     "cấu trúc nén bất thường"),
    (zip_of({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml":
             b'<worksheet><sheetData><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>'}),
     "Tệp “bo-phieu.xlsx”: "),
])
def test_hostile_workbooks_are_refused_in_vietnamese_with_the_list_uploads_guards(data, says):
    message = refusal(data)

    assert says in message
    assert "danh sách" not in message


def test_a_workbook_over_the_size_limit_is_refused_before_it_is_opened():
    assert "quá lớn" in refusal(b"PK\x03\x04" + bytes(q.MAX_BYTES))


def test_the_import_tells_a_workbook_from_yaml_by_content_whatever_its_name():
    workbook = small_set()
    utf16 = "title: Bộ phiếu\n".encode("utf-16")

    assert q.parse_file(workbook, "bo-phieu.yaml", known_groups=tuple(GROUPS)).title == "Bộ phiếu thử"
    with pytest.raises(q.QuestionnaireError, match="UTF-16"):
        q.parse_file(utf16, "bo-phieu.xlsx")
    assert fw.parse_file(small_framework(), "bo-tieu-chi.yaml").counts == (1, 2, 5)


def test_an_empty_workbook_says_what_is_missing():
    empty = Workbook()
    buffer = io.BytesIO()
    empty.save(buffer)

    problems = set_problems(buffer.getvalue())

    assert problems[0] == "Thiếu trang tính “Bộ phiếu” của mẫu bộ phiếu."


def test_rows_naming_a_form_question_or_line_that_does_not_exist_are_named_at_their_cell():
    problems = set_problems(small_set({
        "Phần": [*SET_ROWS["Phần"], ["XX", "C", "Phần lạc", None]],
        "Phương án": [*SET_ROWS["Phương án"], ["DP", "q7", "1", "Có", None]],
        "Thang đo": [*SET_ROWS["Thang đo"], [None, "3", "Tốt", 3]],
    }))

    assert problems == [
        "Trang tính “Thang đo”, dòng 5, cột A “Tên thang đo”: thiếu tên thang đo.",
        "Trang tính “Phần”, dòng 4, cột A “Mã phiếu”: không có phiếu mã “XX” ở trang tính “Phiếu”.",
        "Trang tính “Phương án”, dòng 5, cột B “Mã câu”: phiếu “DP” không có câu “q7” ở trang tính “Câu hỏi”.",
    ]
    rows = [["Tiêu chí thành phần", "1.0.1", "Lạc", 1, "Có / Không"] + [None] * 8,
            ["Cấp 4", "9", "Lạc"] + [None] * 10]
    assert framework_problems(small_framework({"Tiêu chí": [*rows, *FRAMEWORK_ROWS["Tiêu chí"]]}))[:2] == [
        "Trang tính “Tiêu chí”, dòng 2, cột A “Cấp”: tiêu chí thành phần phải nằm dưới một dòng tiêu chí.",
        "Trang tính “Tiêu chí”, dòng 3, cột A “Cấp”: cột “Cấp” phải là Lĩnh vực, Tiêu chí, Tiêu chí thành phần, "
        "không phải “Cấp 4”.",
    ]


def test_a_version_naming_a_group_the_campaign_lacks_exports_a_column_for_it():
    sample = q.parse_questionnaire(q.sample_path().read_bytes(), "mau.yaml")
    book = load_workbook(io.BytesIO(questionnaire_workbook(sample, {"HDND": "1. HĐND"})))

    headers = [cell.value for cell in book["Phiếu"][1]]

    assert headers[-4:] == ["Nhóm: HDND", "Nhóm: LD_SO", "Nhóm: LD_PHONG", "Nhóm: LD_HUYEN"]
