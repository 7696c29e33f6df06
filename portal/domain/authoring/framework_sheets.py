"""The criteria framework as an Excel workbook: the template, reading a filled one, writing a stored version.

The sheets follow the annex of the ministry's decision: "Bộ tiêu chí" the title, the sample mark and the
total; "Tiêu chí" one row per area (lĩnh vực), criterion (tiêu chí) and line (tiêu chí thành phần) in order,
each under the row of the level above it, with the line's kind and parameters; "Mức điểm" the bands of a
percentage line and the levels of a levels line. Reading builds the dict a YAML file loads into and checks
it with the same pydantic schema (`framework.check_content`), each problem placed at its cell.
"""

from __future__ import annotations

from typing import Any

from portal.domain import framework as fw
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

GUIDE, SET, LINES, BANDS = "Hướng dẫn", "Bộ tiêu chí", "Tiêu chí", "Mức điểm"
LEVELS = {"area": "Lĩnh vực", "criterion": "Tiêu chí", "line": "Tiêu chí thành phần"}

SET_FIELDS = (
    Column("title", "Tiêu đề bộ tiêu chí", note="Bắt buộc. Ví dụ: Bộ tiêu chí xác định Chỉ số CCHC cấp tỉnh."),
    Column("sample", "Bộ tiêu chí mẫu", "yesno", required=False,
           note="“Có” nếu chỉ để chạy thử, không phải nội dung chính thức."),
    Column("total", "Tổng điểm", "number", required=False,
           note="Không bắt buộc; nếu ghi, phải bằng tổng điểm tối đa các lĩnh vực."),
)
LINE_COLUMNS = (
    Column("level", "Cấp", "choice", 18, LEVELS, note="Lĩnh vực, Tiêu chí hoặc Tiêu chí thành phần. Mỗi dòng "
                                                     "thuộc dòng cấp trên gần nhất phía trên nó."),
    Column("code", "Mã", "code", 10, note="Ví dụ 1, 1.1, 1.1.1: mã tiêu chí bắt đầu bằng mã lĩnh vực và dấu chấm."),
    Column("title", "Nội dung", "text", 60),
    Column("points", "Điểm tối đa", "number", 10,
           note="Bắt buộc ở tiêu chí thành phần; ở lĩnh vực, tiêu chí không bắt buộc (nếu ghi, phải bằng tổng "
                "điểm các dòng cấp dưới)."),
    Column("kind", "Cách chấm", "choice", 24, fw.KIND_LABELS, note="Chỉ cho tiêu chí thành phần."),
    Column("source", "Nguồn điểm", "choice", 18, fw.SOURCE_LABELS, required=False,
           note="Để trống: Tự đánh giá. Cách chấm “Điểm từ kết quả điều tra xã hội học” dùng nguồn Điều tra xã "
                "hội học."),
    Column("not_applicable", "Cho phép “Không áp dụng”", "yesno", 12, required=False,
           note="Chỉ cho cách chấm Có / Không và Tỷ lệ hoàn thành."),
    Column("evidence", "Tài liệu kiểm chứng", "long", 40, required=False),
    Column("guide", "Hướng dẫn chấm", "long", 40, required=False),
    Column("numerator", "Tử số", "text", 24, required=False, note="Chỉ cho cách chấm Tỷ lệ hoàn thành."),
    Column("denominator", "Mẫu số", "text", 24, required=False, note="Chỉ cho cách chấm Tỷ lệ hoàn thành."),
    Column("per_case", "Điểm trừ mỗi trường hợp", "number", 12, required=False,
           note="Chỉ cho cách chấm Trừ điểm theo số trường hợp."),
    Column("cases_label", "Tên trường hợp", "text", 24, required=False,
           note="Chỉ cho cách chấm Trừ điểm theo số trường hợp, ví dụ: Số văn bản ban hành trái quy định."),
    Column("survey_questions", "Câu hỏi điều tra XHH", "text", 40, required=False,
           note="Chỉ cho cách chấm Điểm từ kết quả điều tra xã hội học: các câu hỏi “mã phiếu.mã câu hỏi”, cách "
                "nhau bằng dấu phẩy, ví dụ: DP-HDND.c2_1, DP-LDSO.c2_1."),
    Column("survey_rule", "Cách tính điểm điều tra XHH", "choice", 30, fw.SURVEY_RULES, required=False,
           note="Để trống: điểm trung bình / điểm cao nhất × điểm tối đa."),
)
BAND_COLUMNS = (
    Column("line", "Mã tiêu chí thành phần", "code", 14),
    Column("from", "Tỷ lệ từ (%)", "number", 12, required=False,
           note="Cách chấm Tỷ lệ hoàn thành: từ tỷ lệ này trở lên được số điểm ở cột Điểm."),
    Column("label", "Tên mức", "text", 50, required=False, note="Cách chấm Chọn mức đánh giá: tên mức."),
    Column("points", "Điểm", "number", 10),
)
_LINE_KEYS = [c.key for c in LINE_COLUMNS if c.key != "level"]
_SURVEY_KEYS = {"survey_questions": "questions", "survey_rule": "rule"}


def _guide() -> list[str]:
    return [
        "# Hướng dẫn điền bảng tính bộ tiêu chí tự đánh giá",
        "Bảng tính này là một cách khác để viết tệp bộ tiêu chí: Cổng kiểm tra nó bằng đúng các quy tắc của tệp "
        "YAML. Nhập tại trang “Bộ tiêu chí tự đánh giá” (chọn tệp .xlsx). Nếu có lỗi, mọi lỗi được liệt kê kèm "
        "trang tính, dòng và cột; không có gì được lưu cho đến khi cả tệp đúng.",
        "Muốn sửa bộ tiêu chí năm trước: tải phiên bản đó dạng .xlsx, sửa rồi nhập lại thành phiên bản mới.",
        "# Các trang tính",
        f"{SET}: tiêu đề (bắt buộc), “Có” ở “Bộ tiêu chí mẫu” nếu chỉ để chạy thử, và tổng điểm (không bắt buộc).",
        f"{LINES}: các lĩnh vực, tiêu chí và tiêu chí thành phần theo thứ tự của phụ lục; mỗi dòng thuộc dòng cấp "
        "trên gần nhất phía trên nó. Chỉ tiêu chí thành phần có cách chấm và các cột tham số.",
        "Cách chấm: " + "; ".join(f"{label}" for label in fw.KIND_LABELS.values()) + ". Điểm thưởng và Điểm trừ "
        "không tính vào điểm tối đa.",
        f"{BANDS}: với cách chấm Tỷ lệ hoàn thành, mỗi dòng một mức tỷ lệ (Tỷ lệ từ (%) và Điểm); với cách chấm "
        "Chọn mức đánh giá, mỗi dòng một mức (Tên mức và Điểm), theo thứ tự hiển thị.",
        "# Lưu ý",
        "Mã chỉ gồm chữ số, chữ cái không dấu và dấu chấm, mỗi mã dùng một lần. Số thập phân viết 0,5 hoặc 0.5. "
        "Không dùng công thức: ô có công thức bị từ chối. Không đổi tên các trang tính và tên cột; dòng trống "
        "được bỏ qua.",
    ]


def _write(content: dict[str, Any]) -> bytes:
    workbook = new_workbook()
    add_guide(workbook, GUIDE, _guide())
    add_fields(workbook, SET, [(column, content.get(column.key)) for column in SET_FIELDS])
    rows: list[list[Any]] = []
    bands: list[list[Any]] = []
    for area in content["areas"]:
        rows.append(["area", area["code"], area["title"], area.get("points")] + [None] * (len(_LINE_KEYS) - 3))
        for criterion in area["criteria"]:
            rows.append(["criterion", criterion["code"], criterion["title"], criterion.get("points")]
                        + [None] * (len(_LINE_KEYS) - 3))
            for line in criterion["subcriteria"]:
                survey = line.get("survey") or {}
                flat = {**line, "survey_questions": ", ".join(survey["questions"]) if survey else None,
                        "survey_rule": survey.get("rule")}
                rows.append(["line", *(flat.get(key) for key in _LINE_KEYS)])
                bands += [[line["code"], band["from"], None, band["points"]] for band in line.get("bands", ())]
                bands += [[line["code"], None, level["label"], level["points"]] for level in line.get("levels", ())]
    add_table(workbook, LINES, LINE_COLUMNS, rows)
    add_table(workbook, BANDS, BAND_COLUMNS, bands)
    return workbook_bytes(workbook)


def framework_template_workbook() -> bytes:
    """The empty template: the guide, the sheets with their headers and drop-downs."""
    return _write({"title": "", "sample": False, "areas": []})


def framework_workbook(framework: fw.Framework) -> bytes:
    """A stored framework as the template filled in: reading it back gives the same document."""
    return _write(framework.model_dump(by_alias=True, exclude_none=True))


def read_framework_workbook(data: bytes, filename: str = "") -> fw.Framework:
    """Read and check a filled template; FrameworkError lists every problem with its sheet, row and column
    (the workbook's own shape first, then the same schema a YAML file is checked by)."""
    reader = WorkbookReader(data, filename, noun="bộ tiêu chí", error=fw.FrameworkError, max_bytes=fw.MAX_BYTES)
    try:
        content, locate = _content(reader)
    finally:
        reader.close()
    problems = list(reader.problems)
    framework = None
    try:
        framework = fw.check_content(content, locate)
    except fw.FrameworkError as error:
        problems += error.problems
    if problems:
        raise fw.FrameworkError(f"Bảng tính bộ tiêu chí có {len(problems)} lỗi; không có gì được lưu. Sửa các lỗi "
                                "sau rồi nhập lại:", problems)
    return framework


def _content(reader: WorkbookReader) -> tuple[dict[str, Any], Locator]:
    """The sheets as the dict a YAML file loads into, and where each part of it came from."""
    locator = Locator()
    places = locator.places
    top, top_places = reader.fields(SET, SET_FIELDS)
    content: dict[str, Any] = {"format": fw.FORMAT_VERSION, **top, "areas": []}
    places.update({(key,): place for key, place in top_places.items()})
    places[()] = places[("format",)] = top_places.get("title") or Place(SET, 1)
    places[("areas",)] = Place(LINES, 2)
    rows, _ = reader.table(LINES, LINE_COLUMNS)
    band_rows, _ = reader.table(BANDS, BAND_COLUMNS)

    area = criterion = None
    area_path: tuple = ()
    criterion_path: tuple = ()
    lines: dict[str, tuple[dict[str, Any], tuple]] = {}
    for row in rows:
        level = row.values.get("level")
        item = {key: value for key, value in row.values.items() if key != "level"}
        if level == "area":
            area_path = ("areas", len(content["areas"]))
            area, criterion = {**item, "criteria": []}, None
            content["areas"].append(area)
            path = area_path
        elif level == "criterion":
            if area is None:
                reader.report(row.places.get("level"), "tiêu chí phải nằm dưới một dòng lĩnh vực.")
                continue
            criterion_path = (*area_path, "criteria", len(area["criteria"]))
            criterion = {**item, "subcriteria": []}
            area["criteria"].append(criterion)
            path = criterion_path
        elif level == "line":
            if criterion is None:
                reader.report(row.places.get("level"), "tiêu chí thành phần phải nằm dưới một dòng tiêu chí.")
                continue
            path = (*criterion_path, "subcriteria", len(criterion["subcriteria"]))
            _survey_block(item, row.places, path, places)
            criterion["subcriteria"].append(item)
            lines.setdefault(str(item.get("code", "")), (item, path))
        else:
            reader.report(row.places.get("level", row.place),
                          f"cột “Cấp” phải là {', '.join(LEVELS.values())}"
                          + (f", không phải “{level}”." if level is not None else " (đang để trống)."))
            continue
        places[path] = row.place
        places.update({(*path, key): place for key, place in row.places.items() if key not in _SURVEY_KEYS})

    for row in band_rows:
        code = row.values.get("line")
        found = lines.get(str(code)) if code is not None else None
        if found is None:
            reader.report(row.places.get("line", row.place),
                          f"không có tiêu chí thành phần mã “{code}” ở trang tính “{LINES}”." if code is not None
                          else "thiếu mã tiêu chí thành phần.")
            continue
        line, line_path = found
        has_from, has_label = "from" in row.values, "label" in row.values
        if has_from == has_label:
            reader.report(row.places.get("from", row.place), "ghi “Tỷ lệ từ (%)” (cách chấm Tỷ lệ hoàn thành) hoặc "
                                                             "“Tên mức” (cách chấm Chọn mức đánh giá), không ghi cả "
                                                             "hai hay bỏ trống cả hai.")
            continue
        key = "bands" if has_from else "levels"
        entries = line.setdefault(key, [])
        path = (*line_path, key, len(entries))
        places.setdefault((*line_path, key), row.place)
        entries.append({k: v for k, v in row.values.items() if k in ("from", "label", "points")})
        places[path] = row.place
        places.update({(*path, k): place for k, place in row.places.items()})
    return content, locator


def _survey_block(item: dict[str, Any], cells: dict[str, Place], path: tuple, places: dict) -> None:
    """A line's two survey columns as the `survey` block a YAML file writes, each part placed at its cell."""
    values = {key: item.pop(column) for column, key in _SURVEY_KEYS.items() if column in item}
    if not values:
        return
    questions = values.get("questions")
    if isinstance(questions, str):
        values["questions"] = [part.strip() for part in questions.replace(";", ",").split(",") if part.strip()]
    elif questions is None:
        values["questions"] = []
    item["survey"] = values
    for column, key in _SURVEY_KEYS.items():
        cell = cells.get(column) or cells.get("survey_questions")
        if cell is not None:
            places[(*path, "survey", key)] = cell
            places[(*path, "survey")] = places.get((*path, "survey"), cell)
