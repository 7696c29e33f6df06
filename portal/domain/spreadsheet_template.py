"""The .xlsx template of a province's respondent list: the list sheet with drop-downs (groups, units, positions),
example rows, the guide sheet and the choices sheet. Read back by portal/domain/spreadsheets.py.
Imported when a template is built, not with portal.domain.lists: openpyxl stays out of a web process until a
request needs it.

Pure module: no Flask, no database.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from portal.domain.spreadsheet_exports import styles
from portal.domain.spreadsheets import (
    CHOICES_SHEET,
    COLUMNS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    GUIDE_SHEET,
    HEADERS,
    LIST_SHEET,
    TEMPLATE_ROWS,
    _megabytes,
    _thousands,
)
from portal.domain.text import clean, fold

_EXAMPLE_FONT = Font(italic=True, color="808080")
_COLUMN_WIDTHS = {
    "stt": 8, "full_name": 28, "position": 30, "group": 38, "unit": 42, "email": 34, "phone": 16, "note": 26,
}
_CENTRAL_CITIES = ("ha noi", "ho chi minh", "hai phong", "da nang", "can tho")


def _locality(province_name: str) -> tuple[str, str]:
    """Return ("tỉnh" or "thành phố", short name): the five centrally-run
    cities say "thành phố" in unit names (HĐND thành phố Hà Nội)."""
    name = clean(province_name)
    folded = fold(name)
    for prefix in ("thanh pho ", "tp. ", "tp ", "tinh "):
        if folded.startswith(prefix):
            name = name[len(prefix):].strip()
            folded = folded[len(prefix):].strip()
            break
    word = "thành phố" if folded in _CENTRAL_CITIES else "tỉnh"
    return word, name


def _default_examples(
    province_name: str, groups: list[str], departments: list[str], districts: list[str],
    roles: TemplateRoles | None = None,
) -> list[dict[str, str]]:
    word, short = _locality(province_name)
    # Without the campaign's data, the groups are taken in the 2021 order (council, departments, …, districts).
    by_role = {0: roles.council, 1: roles.department, 3: roles.lower_unit} if roles else {}

    def group(index: int) -> str:
        if index in by_role:
            return by_role[index] or ""
        return groups[index] if index < len(groups) else (groups[0] if groups else "")

    examples = []
    if group(0):
        examples.append({
            "full_name": "Nguyễn Văn An", "position": f"Phó Chủ tịch HĐND {word}", "group": group(0),
            "unit": f"Hội đồng nhân dân {word} {short}".strip(), "email": "nvan@vidu.gov.vn",
            "phone": "0912345678", "note": "Dòng ví dụ, không nhập",
        })
    if group(1):
        examples.append({
            "full_name": "Trần Thị Bình", "position": "Phó Giám đốc", "group": group(1),
            "unit": departments[0] if departments else f"Sở Nội vụ {word} {short}".strip(),
            "email": "ttbinh@vidu.gov.vn", "phone": "0987654321", "note": "",
        })
    if districts and group(3):
        examples.append({
            "full_name": "Lê Văn Cường", "position": "Phó Chủ tịch UBND", "group": group(3),
            "unit": districts[0], "email": "lvcuong@vidu.gov.vn", "phone": "0901234567", "note": "",
        })
    return examples


@dataclass(frozen=True)
class TemplateRoles:
    """Which of the campaign's groups (by label) the template's examples and guide speak of, from the groups'
    data: the council group, a department group, a group naming lower-level units ("" when none), and each
    group's positions for the guide."""

    council: str = ""
    department: str = ""
    lower_unit: str = ""
    positions: dict[str, str] = field(default_factory=dict)


def _council_group(groups: list[str]) -> str:
    for name in groups:
        folded = fold(name)
        if "hoi dong nhan dan" in folded or "hdnd" in folded:
            return name
    return groups[0] if groups else "Đại biểu Hội đồng nhân dân cấp tỉnh"


def build_template(
    *,
    province_name: str,
    groups: list[str],
    departments: list[str],
    districts: list[str],
    examples: list[dict[str, str]] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    roles: TemplateRoles | None = None,
) -> bytes:
    """Build the .xlsx template a province fills in.

    Sheets: "Hướng dẫn" (instructions), "Danh sách" (header, frozen, with
    example rows whose STT says "Ví dụ", drop-downs for the group and the unit
    on the first `TEMPLATE_ROWS` rows) and the hidden "Danh mục" holding the
    drop-down lists (an inline list is limited to 255 characters). The unit
    drop-down accepts other text too: council deputies write where they work.
    `examples` are dicts keyed like `COLUMNS`; by default they are made up
    from the given lists, with the groups `roles` names (by default the 2021 order).
    """
    workbook = Workbook()
    guide = workbook.active
    guide.title = GUIDE_SHEET
    sheet = workbook.create_sheet(LIST_SHEET)
    choices = workbook.create_sheet(CHOICES_SHEET)
    choices.sheet_state = "hidden"

    _write_guide(guide, province_name=province_name, groups=groups, max_rows=max_rows, max_bytes=max_bytes,
                 roles=roles)

    keys = [key for key, _ in COLUMNS]
    for column, (key, name) in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=column, value=name)
        cell.font = styles().header_font
        cell.fill = styles().header_fill
        cell.border = styles().border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = _COLUMN_WIDTHS[key]
        if key == "phone":
            # Text format keeps the leading 0 of phone numbers typed in.
            sheet.column_dimensions[letter].number_format = "@"
    sheet.row_dimensions[1].height = 30
    sheet.freeze_panes = "A2"

    if examples is None:
        examples = _default_examples(province_name, groups, departments, districts, roles)
    for offset, example in enumerate(examples):
        for column, key in enumerate(keys, start=1):
            value = "Ví dụ" if key == "stt" else clean(example.get(key, ""))
            cell = sheet.cell(row=2 + offset, column=column, value=value)
            cell.font = _EXAMPLE_FONT
            cell.data_type = "s"
            cell.number_format = "@"

    last_row = 1 + TEMPLATE_ROWS
    group_column = get_column_letter(keys.index("group") + 1)
    unit_column = get_column_letter(keys.index("unit") + 1)
    choices["A1"] = HEADERS["group"]
    choices["B1"] = HEADERS["unit"]
    choices["A1"].font = choices["B1"].font = styles().header_font
    units = [clean(name) for name in [*departments, *districts] if clean(name)]
    for index, name in enumerate(groups, start=2):
        choices.cell(row=index, column=1, value=clean(name)).data_type = "s"
    for index, name in enumerate(units, start=2):
        choices.cell(row=index, column=2, value=name).data_type = "s"
    choices.column_dimensions["A"].width = 45
    choices.column_dimensions["B"].width = 60

    if groups:
        workbook.defined_names["DanhMucNhom"] = DefinedName(
            "DanhMucNhom", attr_text=f"'{CHOICES_SHEET}'!$A$2:$A${len(groups) + 1}"
        )
        group_rule = DataValidation(
            type="list", formula1="DanhMucNhom", allow_blank=True, showErrorMessage=True, errorStyle="stop",
            errorTitle="Nhóm đối tượng", error="Hãy chọn một nhóm trong danh sách thả xuống.",
            showInputMessage=True, promptTitle="Nhóm đối tượng",
            prompt="Chọn một nhóm đối tượng trong danh sách thả xuống.",
        )
        group_rule.add(f"{group_column}2:{group_column}{last_row}")
        sheet.add_data_validation(group_rule)
    if units:
        workbook.defined_names["DanhMucDonVi"] = DefinedName(
            "DanhMucDonVi", attr_text=f"'{CHOICES_SHEET}'!$B$2:$B${len(units) + 1}"
        )
        unit_rule = DataValidation(
            type="list", formula1="DanhMucDonVi", allow_blank=True, showErrorMessage=False,
            showInputMessage=True, promptTitle="Cơ quan/đơn vị",
            prompt="Chọn trong danh sách hoặc tự ghi tên cơ quan, đơn vị (đại biểu HĐND ghi nơi công tác).",
        )
        unit_rule.add(f"{unit_column}2:{unit_column}{last_row}")
        sheet.add_data_validation(unit_rule)

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_guide(
    guide: Worksheet, *, province_name: str, groups: list[str], max_rows: int, max_bytes: int,
    roles: TemplateRoles | None = None,
) -> None:
    word, _ = _locality(province_name)
    council = roles.council if roles else _council_group(groups)
    positions = roles.positions if roles else {}
    # The lower-level leaders' title as the campaign lists it ("Phó Chủ tịch UBND xã/phường" from 2025).
    lower_titles = positions.get(roles.lower_unit, "").split(", ") if roles else []
    lower_title = lower_titles[-1] if lower_titles and lower_titles[-1] else "Phó Chủ tịch UBND huyện"
    lines: list[tuple[str, str, str]] = [  # (style, column A, column B)
        ("title", "HƯỚNG DẪN NHẬP DANH SÁCH ĐỐI TƯỢNG KHẢO SÁT CHỈ SỐ CẢI CÁCH HÀNH CHÍNH", ""),
        ("subtitle", f"Địa phương: {clean(province_name)}", ""),
        ("", "", ""),
        ("section", "1. Cách nhập", ""),
        ("", "", f"Nhập danh sách ở trang tính “{LIST_SHEET}”, mỗi người một dòng, bắt đầu từ dòng ngay dưới "
                 "dòng tiêu đề. Không đổi tên, không xóa các cột tiêu đề."),
        ("", "", "Các dòng có ô STT ghi “Ví dụ” là dòng mẫu: hệ thống tự bỏ qua khi đọc tệp, có thể để "
                 "nguyên hoặc xóa đi. Dòng trống cũng được bỏ qua."),
        ("", "", "Không nhập công thức; mỗi ô chỉ ghi một thông tin."),
        ("", "", ""),
        ("section", "2. Ý nghĩa các cột", ""),
        ("column", HEADERS["stt"], "Số thứ tự: 1, 2, 3…"),
        ("column", HEADERS["full_name"], "Họ và tên đầy đủ, có dấu. Ví dụ: Nguyễn Văn An."),
        ("column", HEADERS["position"], f"Chức vụ hiện tại, ví dụ: Giám đốc Sở, Phó Trưởng phòng, {lower_title}. "
                                         "Đại biểu HĐND ghi chức vụ chính đang đảm nhiệm."),
        ("column", HEADERS["group"], "Chọn trong danh sách thả xuống một trong các nhóm đối tượng ở mục 3."),
        ("column", HEADERS["unit"], "Chọn cơ quan, đơn vị công tác trong danh sách thả xuống. Đại biểu HĐND "
                                     "có thể tự ghi nơi công tác nếu không có trong danh sách."),
        ("column", HEADERS["email"], "Địa chỉ hộp thư công vụ của chính người được khảo sát; phiếu khảo sát "
                                      "được gửi tới địa chỉ này."),
        ("column", HEADERS["phone"], "Số điện thoại di động, ví dụ 0912345678 (cột đã định dạng văn bản để "
                                      "giữ số 0 ở đầu)."),
        ("column", HEADERS["note"], "Thông tin thêm, nếu có."),
        ("", "", ""),
        ("section", "3. Nhóm đối tượng khảo sát", ""),
        *[("", "", f"{number}. {clean(name)}" + (f" (chức vụ: {positions[name]})" if positions.get(name) else ""))
          for number, name in enumerate(groups, start=1)],
        *([("", "", f"Người vừa là đại biểu HĐND {word} vừa thuộc nhóm khác (ví dụ Giám đốc Sở là đại biểu "
                    f"HĐND) chỉ ghi một lần, ở nhóm “{clean(council)}”.")] if council else []),
        ("", "", "Khảo sát toàn bộ những người thuộc các nhóm trên, không chọn mẫu."),
        ("", "", ""),
        ("section", "4. Tệp được chấp nhận", ""),
        ("", "", "Tệp Excel .xlsx (nên dùng chính tệp mẫu này) hoặc tệp .csv (UTF-8, UTF-16 hoặc "
                 "Windows-1258; phân cách bằng dấu phẩy, chấm phẩy hoặc tab)."),
        ("", "", "Tệp Excel 97–2003 (.xls) cần mở bằng Excel và lưu lại dưới dạng .xlsx. Tệp đặt mật khẩu "
                 "phải gỡ mật khẩu trước khi tải lên."),
        ("", "", f"Dung lượng tối đa {_megabytes(max_bytes)} MB; mỗi tệp tối đa {_thousands(max_rows)} dòng "
                 "dữ liệu."),
        ("", "", "Sau khi tải lên, kiểm tra lại danh sách trên Cổng trước khi bấm “Gửi danh sách”."),
    ]
    for row, (style, label, text) in enumerate(lines, start=1):
        first = guide.cell(row=row, column=1, value=label or None)
        second = guide.cell(row=row, column=2, value=text or None)
        second.alignment = Alignment(wrap_text=True, vertical="top")
        first.alignment = Alignment(vertical="top", wrap_text=style == "column")
        if style == "title":
            first.font = Font(bold=True, size=14, color="1F4E79")
        elif style in ("subtitle", "section", "column"):
            first.font = Font(bold=True)
    guide.column_dimensions["A"].width = 24
    guide.column_dimensions["B"].width = 100
