"""A questionnaire set as an Excel workbook: the template, reading a filled one, and writing a stored version.

The sheets hold what the YAML file holds (docs/questionnaires.md): "Bộ phiếu" the set's title; "Phiếu" one
row per form, with a column per respondent group marked "x"; "Phần" the sections; "Câu hỏi" the questions;
"Phương án" each choice question's options with their scores; "Thang đo" option lists shared by several
questions. Reading builds the same dict a YAML file loads into and runs the same checks
(`questionnaires.check_content`), so a set stored from a workbook is the document its YAML would store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portal.domain import questionnaires as q
from portal.domain.authoring.workbooks import (
    Column,
    Locator,
    Place,
    WorkbookReader,
    add_fields,
    add_guide,
    add_table,
    new_workbook,
    workbook_bytes,
)

GUIDE = "Hướng dẫn"
SET, FORMS, SECTIONS, QUESTIONS, OPTIONS, SCALES = "Bộ phiếu", "Phiếu", "Phần", "Câu hỏi", "Phương án", "Thang đo"
GROUP_PREFIX = "Nhóm:"

SET_FIELDS = (
    Column("title", "Tiêu đề bộ phiếu", note="Bắt buộc. Ví dụ: Bộ phiếu khảo sát Chỉ số CCHC năm 2021."),
    Column("label", "Nhãn ngắn", required=False, note="Không bắt buộc. Ví dụ: Chính thức 2021."),
    Column("sample", "Bộ phiếu mẫu", "yesno", required=False,
           note="“Có” nếu đây chỉ là bộ phiếu chạy thử, không phải nội dung chính thức."),
)
FORM_COLUMNS = (
    Column("code", "Mã phiếu", "code", 14, note="Mã ngắn, không dấu, không trùng: ví dụ DP-HDND. Các trang "
                                                "Phần, Câu hỏi, Phương án ghi mã này để chỉ phiếu."),
    Column("title", "Tiêu đề phiếu", "text", 50),
    Column("target", "Đánh giá", "choice", 24, q.TARGET_LABELS,
           note="Đánh giá địa phương, hoặc Đánh giá bộ chủ quản (chỉ các nhóm lãnh đạo sở, phòng)."),
    Column("minutes", "Thời gian (phút)", "whole", 12, required=False, note="Từ 1 đến 120; để trống: 10 phút."),
    Column("intro", "Lời giới thiệu", "long", 60, required=False,
           note="Mỗi dòng trong ô (Alt+Enter) là một đoạn."),
)
SECTION_COLUMNS = (
    Column("form", "Mã phiếu", "code", 14),
    Column("id", "Mã phần", "code", 12, note="Bắt đầu bằng chữ cái, không dấu, không trùng trong phiếu: LV1."),
    Column("title", "Tiêu đề phần", "text", 50),
    Column("intro", "Lời dẫn", "long", 50, required=False),
)
QUESTION_COLUMNS = (
    Column("form", "Mã phiếu", "code", 14),
    Column("section", "Mã phần", "code", 12),
    Column("id", "Mã câu", "code", 12, note="Bắt đầu bằng chữ cái, không dấu, không trùng trong phiếu: c1_1."),
    Column("kind", "Loại câu hỏi", "choice", 14, q.KIND_LABELS),
    Column("text", "Nội dung câu hỏi", "text", 60),
    Column("required", "Bắt buộc trả lời", "yesno", 10, required=False, note="Để trống: Có."),
    Column("help", "Hướng dẫn trả lời", "long", 40, required=False),
    Column("scale", "Thang đo", "code", 14, required=False,
           note="Câu chọn một/chọn nhiều: tên một thang đo ở trang Thang đo, hoặc để trống và ghi các phương án "
                "ở trang Phương án."),
    Column("min", "Giá trị nhỏ nhất", "number", 10, required=False, note="Chỉ cho câu loại Số."),
    Column("max", "Giá trị lớn nhất", "number", 10, required=False, note="Chỉ cho câu loại Số."),
    Column("integer", "Chỉ nhận số nguyên", "yesno", 10, required=False, note="Chỉ cho câu loại Số; để trống: Có."),
    Column("max_length", "Số ký tự tối đa", "whole", 10, required=False,
           note="Chỉ cho câu loại Văn bản; để trống: 200."),
    Column("min_choices", "Chọn ít nhất", "whole", 10, required=False, note="Chỉ cho câu loại Chọn nhiều."),
    Column("max_choices", "Chọn nhiều nhất", "whole", 10, required=False, note="Chỉ cho câu loại Chọn nhiều."),
)
OPTION_COLUMNS = (
    Column("form", "Mã phiếu", "code", 14),
    Column("question", "Mã câu", "code", 12),
    Column("value", "Giá trị", "code", 10, note="Giá trị ghi nhận khi chọn: 1, 2, kb…; không trùng trong câu."),
    Column("label", "Nội dung phương án", "text", 50),
    Column("score", "Điểm", "number", 10, required=False, note="Để trống nếu phương án không tính điểm."),
)
SCALE_COLUMNS = (
    Column("scale", "Tên thang đo", "code", 16, note="Tên ngắn; câu hỏi ghi tên này ở cột Thang đo."),
    Column("value", "Giá trị", "code", 10),
    Column("label", "Nội dung phương án", "text", 50),
    Column("score", "Điểm", "number", 10, required=False),
)


def _guide(groups: Mapping[str, str]) -> list[str]:
    kinds = "; ".join(f"{label}" for label in q.KIND_LABELS.values())
    return [
        "# Hướng dẫn điền bảng tính bộ phiếu khảo sát",
        "Bảng tính này là một cách khác để viết tệp bộ phiếu: Cổng kiểm tra nó bằng đúng các quy tắc của tệp "
        "YAML. Nhập tại trang “Bộ phiếu khảo sát” (chọn tệp .xlsx ở ô “Tệp bộ phiếu”). Nếu có lỗi, mọi lỗi được "
        "liệt kê kèm trang tính, dòng và cột; không có gì được lưu cho đến khi cả tệp đúng.",
        "Muốn sửa bộ phiếu năm trước: tải bộ phiếu đó dạng .xlsx ở bảng “Các phiên bản đã nhập”, sửa rồi nhập lại "
        "thành phiên bản mới.",
        "# Các trang tính",
        f"{SET}: tiêu đề bộ phiếu (bắt buộc), nhãn ngắn, và “Có” ở “Bộ phiếu mẫu” nếu chỉ để chạy thử.",
        f"{FORMS}: mỗi dòng một phiếu. Đánh dấu “x” ở cột “{GROUP_PREFIX} …” của các nhóm đối tượng trả lời phiếu. "
        "Mỗi nhóm trả lời đúng một phiếu đánh giá địa phương; nhóm lãnh đạo sở và lãnh đạo phòng trả lời thêm "
        "đúng một phiếu đánh giá bộ chủ quản.",
        f"{SECTIONS}: mỗi dòng một phần của phiếu, theo thứ tự xuất hiện.",
        f"{QUESTIONS}: mỗi dòng một câu hỏi, theo thứ tự, ghi mã phiếu và mã phần của câu. Loại câu hỏi: {kinds}. "
        "Các cột Giá trị nhỏ nhất/lớn nhất, Chỉ nhận số nguyên dành cho câu loại Số; Số ký tự tối đa cho câu loại "
        "Văn bản; Chọn ít nhất/nhiều nhất cho câu Chọn nhiều: để trống ở các câu khác.",
        f"{OPTIONS}: các phương án của câu chọn một/chọn nhiều, theo thứ tự hiển thị, với điểm (để trống nếu "
        "không tính điểm). Mỗi câu lựa chọn có ít nhất 2 phương án.",
        f"{SCALES}: danh sách phương án dùng chung cho nhiều câu (ví dụ thang 5 mức); câu hỏi ghi tên thang ở cột "
        "“Thang đo” thay cho các dòng ở trang Phương án.",
        "# Lưu ý",
        "Mã (phiếu, phần, câu, giá trị) chỉ gồm chữ cái không dấu, chữ số, “_”, “-”, “.”. Không dùng công thức: "
        "ô có công thức bị từ chối. Không đổi tên các trang tính và tên cột; dòng trống được bỏ qua.",
        "# Các nhóm đối tượng của đợt khảo sát",
        *(f"{GROUP_PREFIX} {code}: {label}" for code, label in groups.items()),
    ]


def _groups(groups: Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    if groups is None:
        return {code: code for code in q.DEFAULT_GROUPS}
    return dict(groups) if isinstance(groups, Mapping) else {code: code for code in groups}


def _write(data: dict[str, Any], groups: dict[str, str]) -> bytes:
    # The campaign's groups, then any other group a stored version names (an older campaign's).
    codes = list(dict.fromkeys([*groups, *(g for f in data["forms"] for g in f["groups"])]))
    workbook = new_workbook()
    add_guide(workbook, GUIDE, _guide(groups))
    add_fields(workbook, SET, [(column, data.get(column.key)) for column in SET_FIELDS])
    group_columns = [Column(f"group:{code}", f"{GROUP_PREFIX} {code}", "mark", 12, note=groups.get(code, code))
                     for code in codes]
    add_table(workbook, FORMS, (*FORM_COLUMNS, *group_columns), [
        [f["code"], f["title"], f["target"], f["minutes"], f["intro"], *("x" if c in f["groups"] else None
                                                                          for c in codes)]
        for f in data["forms"]])
    add_table(workbook, SECTIONS, SECTION_COLUMNS, [
        [f["code"], s["id"], s["title"], s["intro"]] for f in data["forms"] for s in f["sections"]])
    questions = [(f, question) for f in data["forms"] for s in f["sections"] for question in s["questions"]]
    add_table(workbook, QUESTIONS, QUESTION_COLUMNS, [
        [f["code"], s["id"], x["id"], x["kind"], x["text"], x["required"], x.get("help"), x.get("scale"),
         x.get("min"), x.get("max"), x.get("integer"), x.get("max_length"), x.get("min_choices"),
         x.get("max_choices")]
        for f in data["forms"] for s in f["sections"] for x in s["questions"]])
    add_table(workbook, OPTIONS, OPTION_COLUMNS, [
        [f["code"], x["id"], o["value"], o["label"], o["score"]] for f, x in questions for o in x.get("options", ())])
    add_table(workbook, SCALES, SCALE_COLUMNS, [
        [name, o["value"], o["label"], o["score"]] for name, options in data.get("scales", {}).items()
        for o in options])
    return workbook_bytes(workbook)


def questionnaire_template_workbook(groups: Mapping[str, str] | Iterable[str] | None = None) -> bytes:
    """The empty template: the guide, the sheets with their headers and drop-downs, a column per group
    (`groups`: the campaign's codes with their labels; the 2021 groups when None)."""
    return _write({"title": "", "label": "", "sample": False, "forms": []}, _groups(groups))


def questionnaire_workbook(questionnaire: q.Questionnaire,
                           groups: Mapping[str, str] | Iterable[str] | None = None) -> bytes:
    """A stored set as the template filled in: reading it back gives the same document. Option lists that
    several questions share are written once, on the "Thang đo" sheet."""
    data = q.as_dict(questionnaire)
    data["scales"] = q.share_scales(data)
    return _write(data, _groups(groups))


# ---------------------------------------------------------------- reading


def read_questionnaire_workbook(
    data: bytes,
    filename: str = "",
    *,
    known_groups: Iterable[str] = q.DEFAULT_GROUPS,
    ministry_groups: Iterable[str] | None = None,
) -> q.Questionnaire:
    """Read and check a filled template; QuestionnaireError lists every problem with its sheet, row and
    column (the workbook's own shape first, then the same checks a YAML file gets)."""
    reader = WorkbookReader(data, filename, noun="bộ phiếu", error=q.QuestionnaireError, max_bytes=q.MAX_BYTES)
    try:
        content, locate = _content(reader)
    finally:
        reader.close()
    problems = list(reader.problems)
    questionnaire = None
    try:
        questionnaire = q.check_content(content, known_groups=known_groups, ministry_groups=ministry_groups,
                                        locate=locate)
    except q.QuestionnaireError as error:
        problems += error.problems
    if problems:
        first = problems[0]
        summary = first if len(problems) == 1 else (f"Bảng tính có {len(problems)} lỗi nên bộ phiếu chưa được nhập. "
                                                    f"Lỗi đầu tiên: {first}")
        raise q.QuestionnaireError(summary, problems)
    return questionnaire


def _content(reader: WorkbookReader) -> tuple[dict[str, Any], Locator]:
    """The sheets as the dict a YAML file loads into, and where each part of it came from."""
    locator = Locator()
    places = locator.places
    top, top_places = reader.fields(SET, SET_FIELDS)
    content: dict[str, Any] = {"format": q.FORMAT_VERSION, **top}
    places.update({(key,): place for key, place in top_places.items()})
    form_rows, _ = reader.table(FORMS, FORM_COLUMNS, extra=GROUP_PREFIX)
    section_rows, _ = reader.table(SECTIONS, SECTION_COLUMNS)
    question_rows, _ = reader.table(QUESTIONS, QUESTION_COLUMNS)
    option_rows, _ = reader.table(OPTIONS, OPTION_COLUMNS)
    scale_rows, _ = reader.table(SCALES, SCALE_COLUMNS)
    places[("forms",)] = Place(FORMS, 2)
    places[("scales",)] = Place(SCALES, 2)

    scales: dict[str, list[dict[str, Any]]] = {}
    for row in scale_rows:
        name = row.values.get("scale")
        if name is None:
            reader.report(row.places.get("scale"), "thiếu tên thang đo.")
            continue
        options = scales.setdefault(str(name), [])
        places.setdefault(("scales", str(name)), row.place)
        _option(row, options, ("scales", str(name)), places)
    if scales:
        content["scales"] = scales

    forms: list[dict[str, Any]] = []
    by_code: dict[str, dict[str, Any]] = {}
    form_paths: dict[str, tuple] = {}
    for row in form_rows:
        path = ("forms", len(forms))
        form = {key: value for key, value in row.values.items() if not key.startswith(GROUP_PREFIX)}
        groups = [key[len(GROUP_PREFIX):] for key, value in row.values.items()
                  if key.startswith(GROUP_PREFIX) and value is True]
        if groups:
            form["groups"] = groups
        group_places = [place for key, place in row.places.items() if key.startswith(GROUP_PREFIX)]
        places[path] = row.place
        places.update({(*path, key): place for key, place in row.places.items() if not key.startswith(GROUP_PREFIX)})
        if group_places:
            places[(*path, "groups")] = group_places[0]
            marked = [row.places[f"{GROUP_PREFIX}{g}"] for g in groups]
            places.update({(*path, "groups", i): place for i, place in enumerate(marked)})
        form["sections"] = []
        forms.append(form)
        code = str(form.get("code", ""))
        if code and code not in by_code:
            by_code[code], form_paths[code] = form, path
    content["forms"] = forms

    sections: dict[tuple[str, str], tuple[dict[str, Any], tuple]] = {}
    for row in section_rows:
        form = _parent(reader, row, "form", by_code, "phiếu", FORMS)
        if form is None:
            continue
        code = str(row.values["form"])
        path = (*form_paths[code], "sections", len(form["sections"]))
        section = {key: value for key, value in row.values.items() if key != "form"}
        section["questions"] = []
        form["sections"].append(section)
        places[path] = row.place
        places.update({(*path, key): place for key, place in row.places.items()})
        sections.setdefault((code, str(section.get("id", ""))), (section, path))

    questions: dict[tuple[str, str], tuple[dict[str, Any], tuple]] = {}
    for row in question_rows:
        if _parent(reader, row, "form", by_code, "phiếu", FORMS) is None:
            continue
        code, section_id = str(row.values["form"]), row.values.get("section")
        found = sections.get((code, str(section_id)))
        if found is None:
            reader.report(row.places.get("section", row.place),
                          f"phiếu “{code}” không có phần “{section_id}” ở trang tính “{SECTIONS}”."
                          if section_id is not None else "thiếu mã phần của câu hỏi.")
            continue
        section, section_path = found
        path = (*section_path, "questions", len(section["questions"]))
        question = {key: value for key, value in row.values.items() if key not in ("form", "section")}
        section["questions"].append(question)
        places[path] = row.place
        places.update({(*path, key): place for key, place in row.places.items()})
        questions.setdefault((code, str(question.get("id", ""))), (question, path))

    for row in option_rows:
        if _parent(reader, row, "form", by_code, "phiếu", FORMS) is None:
            continue
        code, question_id = str(row.values["form"]), row.values.get("question")
        found = questions.get((code, str(question_id)))
        if found is None:
            reader.report(row.places.get("question", row.place),
                          f"phiếu “{code}” không có câu “{question_id}” ở trang tính “{QUESTIONS}”."
                          if question_id is not None else "thiếu mã câu hỏi của phương án.")
            continue
        question, question_path = found
        options = question.setdefault("options", [])
        places.setdefault((*question_path, "options"), row.place)
        _option(row, options, (*question_path, "options"), places)
    return content, locator


def _option(row: Any, options: list[dict[str, Any]], path: tuple, places: dict) -> None:
    option_path = (*path, len(options))
    options.append({key: row.values[key] for key in ("value", "label", "score") if key in row.values})
    places[option_path] = row.place
    places.update({(*option_path, key): place for key, place in row.places.items()})


def _parent(reader: WorkbookReader, row: Any, key: str, known: dict, what: str, sheet: str) -> Any:
    """The item a row names in its `key` column, or None after reporting the row."""
    value = row.values.get(key)
    if value is None:
        reader.report(row.places.get(key, row.place), f"thiếu mã {what}.")
        return None
    item = known.get(str(value))
    if item is None:
        reader.report(row.places.get(key, row.place), f"không có {what} mã “{value}” ở trang tính “{sheet}”.")
    return item
