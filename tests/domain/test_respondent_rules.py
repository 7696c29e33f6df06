"""Tests for the respondent-list rules (portal.domain.respondent_rules)."""

from __future__ import annotations

import time
import unicodedata

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.domain import respondent_rules as rr
from portal.domain.respondent_rules import (
    CheckedRow,
    Dropped,
    GroupRef,
    ListCheck,
    PositionRef,
    Problem,
    ProvinceRefs,
    RowInput,
    check_list,
    default_groups_2021,
    is_blank,
    is_council_group,
    parse_common_forms,
)
from portal.domain.unit_rules import DepartmentRef, DistrictRef

# --------------------------------------------------------------------------------------
# Fixtures: two real provinces, built the way the seed code builds them
# --------------------------------------------------------------------------------------

MINISTRIES = {
    "BNV": "Bộ Nội vụ",
    "BTP": "Bộ Tư pháp",
    "BKHDT": "Bộ Kế hoạch và Đầu tư",
    "BTC": "Bộ Tài chính",
    "BCT": "Bộ Công Thương",
    "BNNPTNT": "Bộ Nông nghiệp và Phát triển nông thôn",
    "BGTVT": "Bộ Giao thông vận tải",
    "BXD": "Bộ Xây dựng",
    "BTNMT": "Bộ Tài nguyên và Môi trường",
    "BTTTT": "Bộ Thông tin và Truyền thông",
    "BLDTBXH": "Bộ Lao động - Thương binh và Xã hội",
    "BVHTTDL": "Bộ Văn hóa, Thể thao và Du lịch",
    "BKHCN": "Bộ Khoa học và Công nghệ",
    "BGDDT": "Bộ Giáo dục và Đào tạo",
    "BYT": "Bộ Y tế",
    "TTCP": "Thanh tra Chính phủ",
    "VPCP": "Văn phòng Chính phủ",
    "BNG": "Bộ Ngoại giao",
    "UBDT": "Ủy ban Dân tộc",
}

# department-types-2021.csv: (code, name, parent ministry)
DEPARTMENT_TYPES = (
    ("SNV", "Sở Nội vụ", "BNV"),
    ("STP", "Sở Tư pháp", "BTP"),
    ("SKHDT", "Sở Kế hoạch và Đầu tư", "BKHDT"),
    ("STC", "Sở Tài chính", "BTC"),
    ("SCT", "Sở Công Thương", "BCT"),
    ("SNNPTNT", "Sở Nông nghiệp và Phát triển nông thôn", "BNNPTNT"),
    ("SGTVT", "Sở Giao thông vận tải", "BGTVT"),
    ("SXD", "Sở Xây dựng", "BXD"),
    ("STNMT", "Sở Tài nguyên và Môi trường", "BTNMT"),
    ("STTTT", "Sở Thông tin và Truyền thông", "BTTTT"),
    ("SLDTBXH", "Sở Lao động - Thương binh và Xã hội", "BLDTBXH"),
    ("SVHTTDL", "Sở Văn hóa, Thể thao và Du lịch", "BVHTTDL"),
    ("SVHTT", "Sở Văn hóa và Thể thao", "BVHTTDL"),
    ("SDL", "Sở Du lịch", "BVHTTDL"),
    ("SKHCN", "Sở Khoa học và Công nghệ", "BKHCN"),
    ("SGDDT", "Sở Giáo dục và Đào tạo", "BGDDT"),
    ("SYT", "Sở Y tế", "BYT"),
    ("TTT", "Thanh tra tỉnh", "TTCP"),
    ("VPUBND", "Văn phòng Ủy ban nhân dân tỉnh", "VPCP"),
    ("SNGV", "Sở Ngoại vụ", "BNG"),
    ("BDT", "Ban Dân tộc", "UBDT"),
    ("SQHKT", "Sở Quy hoạch - Kiến trúc", "BXD"),
)


def make_departments(first_id: int, codes: list[str], city: bool) -> tuple[DepartmentRef, ...]:
    """Departments of one province from the type list, "tỉnh" read "thành phố" in a city."""
    types = {code: (name, ministry) for code, name, ministry in DEPARTMENT_TYPES}
    departments = []
    for offset, code in enumerate(codes):
        name, ministry = types[code]
        if city:
            name = name.replace(" tỉnh", " thành phố")
        departments.append(DepartmentRef(first_id + offset, name, ministry, MINISTRIES[ministry]))
    return tuple(departments)


HANOI_CODES = [
    "SNV",
    "STP",
    "SKHDT",
    "STC",
    "SCT",
    "SNNPTNT",
    "SGTVT",
    "SXD",
    "STNMT",
    "STTTT",
    "SLDTBXH",
    "SVHTT",
    "SDL",
    "SKHCN",
    "SGDDT",
    "SYT",
    "TTT",
    "VPUBND",
    "SNGV",
    "BDT",
    "SQHKT",
]
QUANG_NINH_CODES = [
    "SNV",
    "STP",
    "SKHDT",
    "STC",
    "SCT",
    "SNNPTNT",
    "SGTVT",
    "SXD",
    "STNMT",
    "STTTT",
    "SLDTBXH",
    "SVHTTDL",
    "SKHCN",
    "SGDDT",
    "SYT",
    "TTT",
    "VPUBND",
    "SNGV",
    "BDT",
]

HANOI = ProvinceRefs(
    province_name="Thành phố Hà Nội",
    is_centrally_run_city=True,
    groups=default_groups_2021(),
    departments=make_departments(101, HANOI_CODES, city=True),
    districts=(
        DistrictRef(1001, "Quận Ba Đình"),
        DistrictRef(1002, "Quận Hoàn Kiếm"),
        DistrictRef(1003, "Quận Cầu Giấy"),
        DistrictRef(1004, "Huyện Đông Anh"),
        DistrictRef(1005, "Huyện Gia Lâm"),
        DistrictRef(1006, "Thị xã Sơn Tây"),
    ),
)

QUANG_NINH = ProvinceRefs(
    province_name="Tỉnh Quảng Ninh",
    is_centrally_run_city=False,
    groups=default_groups_2021(),
    departments=make_departments(201, QUANG_NINH_CODES, city=False),
    districts=(
        DistrictRef(2001, "Thành phố Hạ Long"),
        DistrictRef(2002, "Thành phố Móng Cái"),
        DistrictRef(2003, "Thị xã Quảng Yên"),
        DistrictRef(2004, "Huyện Vân Đồn"),
        DistrictRef(2005, "Huyện Cô Tô"),
    ),
)

# Hà Tĩnh has both a town and a district called Kỳ Anh, and a provincial city named like the province.
HA_TINH = ProvinceRefs(
    province_name="Tỉnh Hà Tĩnh",
    is_centrally_run_city=False,
    groups=default_groups_2021(),
    departments=make_departments(301, ["SNV", "STC", "TTT", "VPUBND"], city=False),
    districts=(
        DistrictRef(3001, "Thành phố Hà Tĩnh"),
        DistrictRef(3002, "Thị xã Kỳ Anh"),
        DistrictRef(3003, "Huyện Kỳ Anh"),
        DistrictRef(3004, "Thị xã Hồng Lĩnh"),
    ),
)

# Thành phố Hồ Chí Minh: a district-level "Thành phố Thủ Đức" inside a centrally-run city.
HCM = ProvinceRefs(
    province_name="Thành phố Hồ Chí Minh",
    is_centrally_run_city=True,
    groups=default_groups_2021(),
    departments=make_departments(401, ["SNV", "STC", "TTT", "VPUBND", "SQHKT"], city=True),
    districts=(
        DistrictRef(4001, "Quận 1"),
        DistrictRef(4002, "Quận 10"),
        DistrictRef(4003, "Thành phố Thủ Đức"),
        DistrictRef(4004, "Huyện Củ Chi"),
    ),
)


def dept_id(refs: ProvinceRefs, name: str) -> int:
    return next(d.id for d in refs.departments if d.name == name)


def district_id(refs: ProvinceRefs, name: str) -> int:
    return next(d.id for d in refs.districts if d.name == name)


DEFAULTS = {
    1: {"position": "Đại biểu HĐND thành phố", "unit": "HĐND thành phố"},
    2: {"position": "Giám đốc", "unit": "Sở Tài chính"},
    3: {"position": "Trưởng phòng Tổ chức cán bộ", "unit": "Sở Tài chính"},
    4: {"position": "Chủ tịch UBND", "unit": "Huyện Đông Anh"},
}


def letters(number: int) -> str:
    """12 -> "Bc": a made-up given name without digits."""
    return "".join("abcdeghikl"[int(d)] for d in str(number)).capitalize()


def row(number: int, group: str | int = 2, key: int | None = None, **values: str) -> RowInput:
    """A valid row of `group` unless `values` override cells."""
    base = {
        "full_name": f"Nguyễn Văn {letters(number)}",
        "group": str(group),
        "email": f"nguoi{number}@hanoi.gov.vn",
        "phone": "",
        "note": "",
        **DEFAULTS.get(int(group) if str(group).isdigit() else 2, DEFAULTS[2]),
    }
    base.update(values)
    return RowInput(key=number * 10 if key is None else key, number=number, values=base)


def only(result: ListCheck) -> CheckedRow:
    assert len(result.rows) == 1, result
    return result.rows[0]


def messages(result: ListCheck) -> list[str]:
    return [p.message for p in result.problems]


# --------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------


def test_default_groups_mirror_the_2021_reference_files() -> None:
    groups = default_groups_2021()

    assert [(g.code, g.number, g.answers_ministry_form) for g in groups] == [
        ("HDND", 1, False),
        ("LD_SO", 2, True),
        ("LD_PHONG", 3, True),
        ("LD_HUYEN", 4, False),
    ]
    assert [g.name for g in groups] == [
        "Đại biểu Hội đồng nhân dân cấp tỉnh",
        "Lãnh đạo cấp sở",
        "Lãnh đạo cấp phòng thuộc sở",
        "Lãnh đạo UBND cấp huyện",
    ]
    assert groups[0].positions == (PositionRef("Đại biểu HĐND tỉnh", ()),)
    assert groups[1].positions[0] == PositionRef(
        "Giám đốc Sở", ("Giám đốc", "GĐ", "Quyền Giám đốc", "Q. Giám đốc")
    )
    assert len(groups[1].positions) == 8 and len(groups[2].positions) == 8 and len(groups[3].positions) == 2
    assert is_council_group(groups[0]) and not any(is_council_group(g) for g in groups[1:])


def test_common_forms_split_on_semicolons_and_descriptions_give_no_alias() -> None:
    assert parse_common_forms(" PTP; Phó phòng ;Phó Trưởng phòng …; ") == (
        "PTP",
        "Phó phòng",
        "Phó Trưởng phòng …",
    )
    assert parse_common_forms("any title: a deputy often lists a main job (Giám đốc Sở …)") == ()
    assert parse_common_forms("") == ()


def test_blank_row_is_recognised_for_importers() -> None:
    assert is_blank(RowInput(1, 5, {"full_name": " ", "email": "\u00a0", "phone": ""}))
    assert not is_blank(RowInput(1, 5, {"full_name": "", "note": "x"}))


# --------------------------------------------------------------------------------------
# A clean list
# --------------------------------------------------------------------------------------


def test_clean_row_of_each_group_passes_with_normalised_fields() -> None:
    rows = [
        row(1, 1, full_name="Lê Thị Hoa", email="hoa@hanoi.gov.vn"),
        row(2, 2, full_name="Trần Văn Bình", email="binh@hanoi.gov.vn", unit="Sở Y tế", phone="0912 345 678"),
        row(3, 3, full_name="Phạm Thu Hà", email="ha@hanoi.gov.vn", unit="Sở Y tế", position="Phó phòng"),
        row(4, 4, full_name="Đỗ Minh Đức", email="duc@hanoi.gov.vn", unit="UBND huyện Đông Anh"),
    ]

    result = check_list(rows, HANOI)

    assert result.problems == [] and result.dropped == [] and result.notices == []
    assert result.error_count == 0
    assert result.counts_by_group() == {"HDND": 1, "LD_SO": 1, "LD_PHONG": 1, "LD_HUYEN": 1}
    council, director, division, chair = result.rows
    assert council == CheckedRow(
        key=10,
        number=1,
        full_name="Lê Thị Hoa",
        position="Đại biểu HĐND thành phố",
        group_code="HDND",
        department_id=None,
        district_id=None,
        unit="HĐND thành phố",
        email="hoa@hanoi.gov.vn",
        phone="",
        note="",
        ministry_code=None,
        answers_ministry_form=False,
        problems=[],
    )
    assert (director.group_code, director.department_id, director.unit, director.ministry_code) == (
        "LD_SO",
        dept_id(HANOI, "Sở Y tế"),
        "Sở Y tế",
        "BYT",
    )
    assert director.answers_ministry_form and director.phone == "0912345678"
    assert (division.group_code, division.ministry_code, division.answers_ministry_form) == (
        "LD_PHONG",
        "BYT",
        True,
    )
    assert (
        chair.group_code,
        chair.district_id,
        chair.unit,
        chair.ministry_code,
        chair.answers_ministry_form,
    ) == ("LD_HUYEN", district_id(HANOI, "Huyện Đông Anh"), "Huyện Đông Anh", None, False)


def test_empty_list_gives_zero_counts_for_every_group() -> None:
    result = check_list([], QUANG_NINH)

    assert result.rows == [] and result.error_count == 0
    assert result.counts_by_group() == {"HDND": 0, "LD_SO": 0, "LD_PHONG": 0, "LD_HUYEN": 0}


# --------------------------------------------------------------------------------------
# Required cells
# --------------------------------------------------------------------------------------


def test_blank_row_gets_every_required_error_in_column_order() -> None:
    blank = RowInput(key=7, number=9, values={k: "" for k in rr.COLUMNS})

    result = check_list([blank], HANOI)

    assert messages(result) == [
        "Dòng 9, cột Họ và tên: chưa ghi họ và tên.",
        "Dòng 9, cột Chức vụ: chưa ghi chức vụ.",
        "Dòng 9, cột Nhóm đối tượng: chưa ghi nhóm đối tượng; ghi một trong các nhóm: "
        "1 – Đại biểu Hội đồng nhân dân cấp tỉnh; 2 – Lãnh đạo cấp sở; 3 – Lãnh đạo cấp phòng thuộc sở; "
        "4 – Lãnh đạo UBND cấp huyện.",
        "Dòng 9, cột Email công vụ: chưa ghi email công vụ.",
    ]
    assert [p.column for p in result.problems] == ["Họ và tên", "Chức vụ", "Nhóm đối tượng", "Email công vụ"]
    assert result.error_count == 4 and only(result).group_code is None


def test_missing_value_keys_are_treated_as_empty_cells() -> None:
    result = check_list([RowInput(key=1, number=2, values={"full_name": "Lê Văn Tám"})], HANOI)

    assert [p.column for p in result.problems] == ["Chức vụ", "Nhóm đối tượng", "Email công vụ"]


def test_unit_is_required_for_groups_2_3_4_but_optional_for_council() -> None:
    rows = [row(1, 1, unit=""), row(2, 2, unit=""), row(3, 3, unit=" "), row(4, 4, unit="\u00a0")]

    result = check_list(rows, HANOI)

    assert messages(result) == [
        "Dòng 2, cột Cơ quan/đơn vị: chưa ghi cơ quan/đơn vị (bắt buộc với nhóm 2 (Lãnh đạo cấp sở)).",
        "Dòng 3, cột Cơ quan/đơn vị: chưa ghi cơ quan/đơn vị "
        "(bắt buộc với nhóm 3 (Lãnh đạo cấp phòng thuộc sở)).",
        "Dòng 4, cột Cơ quan/đơn vị: chưa ghi cơ quan/đơn vị "
        "(bắt buộc với nhóm 4 (Lãnh đạo UBND cấp huyện)).",
    ]


def test_errors_in_one_row_never_stop_the_checks_of_that_row_or_others() -> None:
    rows = [
        row(1, 2, full_name="Nguyễn 2", email="a@@b", phone="12", position="Trưởng phòng", unit="Sở Du lịch"),
        row(2, 4),
    ]

    result = check_list(rows, QUANG_NINH)

    assert [p.column for p in result.rows[0].problems] == [
        "Họ và tên",
        "Chức vụ",
        "Cơ quan/đơn vị",
        "Email công vụ",
        "Số điện thoại",
    ]
    assert [p.column for p in result.rows[1].problems] == ["Cơ quan/đơn vị"]
    assert result.error_count == 6


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------


def test_name_in_capitals_is_written_with_capital_initials() -> None:
    result = check_list([row(1, full_name="  NGUYỄN   VĂN ĐỨC ")], HANOI)

    assert only(result).full_name == "Nguyễn Văn Đức" and result.problems == []


def test_name_is_not_recased_otherwise_only_spaces_collapsed() -> None:
    result = check_list([row(1, full_name="nguyễn\u00a0 thị  mai "), row(2, full_name="Lê văn Luyện")], HANOI)

    assert [r.full_name for r in result.rows] == ["nguyễn thị mai", "Lê văn Luyện"]


def test_decomposed_name_is_stored_precomposed() -> None:
    decomposed = unicodedata.normalize("NFD", "Trần Thị Ngọc Ánh")

    result = check_list([row(1, full_name=decomposed)], HANOI)

    assert only(result).full_name == "Trần Thị Ngọc Ánh"
    assert unicodedata.is_normalized("NFC", only(result).full_name)


def test_name_with_digits_is_an_error() -> None:
    result = check_list([row(5, full_name="Nguyễn Văn A2")], HANOI)

    assert messages(result) == ["Dòng 5, cột Họ và tên: họ và tên “Nguyễn Văn A2” có ký tự không hợp lệ: 2."]


def test_name_garbled_by_a_legacy_encoding_is_an_error_with_a_hint() -> None:
    result = check_list([row(5, full_name="NguyÔn V¨n Hïng")], HANOI)

    assert messages(result) == [
        "Dòng 5, cột Họ và tên: họ và tên “NguyÔn V¨n Hïng” có ký tự không hợp lệ: ¨ (có thể tệp dùng "
        "bảng mã cũ TCVN3 hoặc VNI; hãy chuyển sang Unicode)."
    ]


# --------------------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Nguyen.Van.A@HaNoi.Gov.VN ", "nguyen.van.a@hanoi.gov.vn"),
        ("mailto:hoa.lt@quangninh.gov.vn", "hoa.lt@quangninh.gov.vn"),
        ("<hoa.lt@quangninh.gov.vn>", "hoa.lt@quangninh.gov.vn"),
        ("Lê Thị Hoa <HOA.LT@quangninh.gov.vn>", "hoa.lt@quangninh.gov.vn"),
        ("hoa.lt@quangninh.gov.vn;", "hoa.lt@quangninh.gov.vn"),
        ("hoalt1975@gmail.com", "hoalt1975@gmail.com"),
    ],
)
def test_email_is_trimmed_lowercased_and_unwrapped(typed: str, stored: str) -> None:
    result = check_list([row(1, email=typed)], HANOI)

    assert only(result).email == stored and result.problems == []


def test_invalid_email_message_names_row_column_and_address() -> None:
    result = check_list([row(12, email="nguyen.van.a@@hanoi.gov.vn")], HANOI)

    assert result.problems == [
        Problem(
            12,
            "Email công vụ",
            "Dòng 12, cột Email công vụ: địa chỉ “nguyen.van.a@@hanoi.gov.vn” không hợp lệ "
            "(có nhiều hơn một dấu @).",
            "error",
        )
    ]


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("nguyenvana.hanoi.gov.vn", " (thiếu dấu @)"),
        ("nguyen van a@hanoi.gov.vn", " (có khoảng trắng)"),
        ("nguyễnvăna@hanoi.gov.vn", " (có chữ có dấu hoặc ký tự ngoài bảng chữ cái tiếng Anh)"),
        ("nguyenvana@hanoi", " (tên miền sau dấu @ không đầy đủ)"),
        ("nguyen..a@hanoi.gov.vn", " (có hai dấu chấm liền nhau)"),
        ("a@server.local", ""),
    ],
)
def test_invalid_email_explains_the_common_mistakes(typed: str, reason: str) -> None:
    result = check_list([row(3, email=typed)], HANOI)

    assert messages(result) == [f"Dòng 3, cột Email công vụ: địa chỉ “{typed}” không hợp lệ{reason}."]


def test_cell_with_two_email_addresses_is_an_error() -> None:
    result = check_list([row(3, email="a@hanoi.gov.vn; b@gmail.com")], HANOI)

    assert messages(result) == [
        "Dòng 3, cột Email công vụ: ô có nhiều địa chỉ (“a@hanoi.gov.vn; b@gmail.com”); "
        "chỉ ghi một hộp thư công vụ."
    ]


@pytest.mark.parametrize(
    "email",
    [
        "a@hanoi.gov.vn",
        "a.b-c_d+e@sub.domain.vn",
        "x@a-b.com",
        "x@a--b.com",
        "x@ab--cd.com",
        "x@xn--abc.vn",
        "x@1.2.3.4",
        "x@123.vn",
        "x@domain.c",
        "x@domain.123",
        "x@localhost",
        "x@a.test",
        "x@a.onion",
        "x@a.arpa",
        "x@a.invalid",
        ".x@a.vn",
        "x.@a.vn",
        "x..y@a.vn",
        "x@-a.vn",
        "x@a-.vn",
        "x@a..vn",
        "x@.a.vn",
        "a" * 64 + "@a.vn",
        "a" * 65 + "@a.vn",
        "x@" + "a" * 63 + ".vn",
        "x@" + "a" * 64 + ".vn",
        "x@" + ".".join(["abcdefghi"] * 25) + ".vn",
        "o'neil@a.vn",
        "x!#$%&*/=?^`{|}~@a.vn",
        "x@a.vn.",
    ],
)
def test_fast_email_check_agrees_with_email_validator(email: str) -> None:
    try:
        validate_email(email, check_deliverability=False, allow_smtputf8=False)
        expected = True
    except EmailNotValidError:
        expected = False

    assert rr._email_syntax_ok(email) is expected


# --------------------------------------------------------------------------------------
# Phone
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0912 345 678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("0912-345-678", "0912345678"),
        ("(024) 3825 1234", "02438251234"),
        ("0203.3835.123", "02033835123"),
        ("+84 912 345 678", "0912345678"),
        ("+84 (0) 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0084 912 345 678", "0912345678"),
        ("+1 202 555 0143", "+12025550143"),
        ("\u00a00912345678\u00a0", "0912345678"),
        ("", ""),
    ],
)
def test_phone_is_normalised_to_digits(typed: str, stored: str) -> None:
    result = check_list([row(1, phone=typed)], HANOI)

    assert only(result).phone == stored and result.problems == []


@pytest.mark.parametrize(
    ("typed", "fixed"),
    [
        ("912345678", "0912345678"),
        ("912345678.0", "0912345678"),
        ("9.12345678E+8", "0912345678"),
        ("2438251234", "02438251234"),
    ],
)
def test_phone_that_lost_its_leading_zero_gets_it_back_with_a_notice(typed: str, fixed: str) -> None:
    result = check_list([row(7, phone=typed)], HANOI)

    expected = Problem(
        7,
        "Số điện thoại",
        f"Dòng 7, cột Số điện thoại: số “{typed}” bị mất số 0 ở đầu (ô kiểu số trong bảng tính), "
        f"đã sửa thành “{fixed}”.",
        "notice",
    )
    assert only(result).phone == fixed
    assert only(result).problems == [expected] and result.notices == [expected]
    assert result.error_count == 0


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (
            "12345",
            "số “12345” không hợp lệ (số trong nước gồm 10 chữ số (di động) hoặc 11 chữ số (cố định), "
            "bắt đầu bằng 0)",
        ),
        (
            "091234567",
            "số “091234567” không hợp lệ (số trong nước gồm 10 chữ số (di động) hoặc 11 chữ số "
            "(cố định), bắt đầu bằng 0)",
        ),
        (
            "091234567890",
            "số “091234567890” không hợp lệ (số trong nước gồm 10 chữ số (di động) hoặc 11 chữ số "
            "(cố định), bắt đầu bằng 0)",
        ),
        ("01234567890", "số “01234567890” là đầu số di động 11 số cũ (đã đổi sang 10 số từ năm 2018)"),
        ("+84 12345", "số “+84 12345” không hợp lệ (sau +84 cần 9 hoặc 10 chữ số)"),
        ("0912 345 678 (cơ quan)", "số “0912 345 678 (cơ quan)” có ký tự không phải chữ số"),
        ("0912345678 / 0987654321", "ô có nhiều số (“0912345678 / 0987654321”); chỉ ghi một số điện thoại"),
        # A lone digit once stopped the whole check (it read the second digit of a one-digit number).
        ("0", "số “0” không hợp lệ (số trong nước gồm 10 chữ số (di động) hoặc 11 chữ số (cố định), bắt đầu bằng 0)"),
        # Read as a number, this one would have a billion digits: it is refused as typed, at once.
        ("9e999999999", "số “9e999999999” có ký tự không phải chữ số"),
    ],
)
def test_invalid_phone_is_an_error_and_kept_as_typed(typed: str, message: str) -> None:
    result = check_list([row(8, phone=typed)], HANOI)

    assert messages(result) == [f"Dòng 8, cột Số điện thoại: {message}."]
    assert only(result).phone == typed


# --------------------------------------------------------------------------------------
# Group
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("1", "HDND"),
        ("1.0", "HDND"),
        ("Nhóm 1", "HDND"),
        ("nhom 1", "HDND"),
        ("N1", "HDND"),
        ("I", "HDND"),
        ("1. Đại biểu HĐND cấp tỉnh", "HDND"),
        ("HĐND", "HDND"),
        ("HDND", "HDND"),
        ("Đại biểu HĐND", "HDND"),
        ("đại biểu hội đồng nhân dân thành phố", "HDND"),
        ("Dai bieu", "HDND"),
        ("2", "LD_SO"),
        ("Nhóm 2: Lãnh đạo cấp sở", "LD_SO"),
        ("LD_SO", "LD_SO"),
        ("ld so", "LD_SO"),
        ("Lãnh đạo cấp sở", "LD_SO"),
        ("LÃNH ĐẠO SỞ", "LD_SO"),
        ("LĐ sở", "LD_SO"),
        ("3", "LD_PHONG"),
        ("lanh dao cap phong", "LD_PHONG"),
        ("Lãnh đạo phòng thuộc sở", "LD_PHONG"),
        ("III", "LD_PHONG"),
        ("4", "LD_HUYEN"),
        ("Lãnh đạo UBND cấp huyện", "LD_HUYEN"),
        ("Lãnh đạo quận", "LD_HUYEN"),
        ("LĐ UBND thị xã", "LD_HUYEN"),
        ("UBND huyện", "LD_HUYEN"),
        (unicodedata.normalize("NFD", "Lãnh đạo cấp phòng"), "LD_PHONG"),
    ],
)
def test_group_is_read_from_number_code_or_name(typed: str, code: str) -> None:
    position = {
        "HDND": "Đại biểu",
        "LD_SO": "Giám đốc",
        "LD_PHONG": "Trưởng phòng",
        "LD_HUYEN": "Chủ tịch UBND",
    }
    unit = "Quận Ba Đình" if code == "LD_HUYEN" else "Sở Tài chính"

    result = check_list([row(1, typed, position=position[code], unit=unit)], HANOI)

    assert only(result).group_code == code and result.problems == []


def test_unknown_group_is_an_error_listing_the_four_groups() -> None:
    result = check_list([row(4, "Cán bộ")], HANOI)

    assert messages(result) == [
        "Dòng 4, cột Nhóm đối tượng: không nhận ra nhóm “Cán bộ”; ghi một trong các nhóm: "
        "1 – Đại biểu Hội đồng nhân dân cấp tỉnh; 2 – Lãnh đạo cấp sở; 3 – Lãnh đạo cấp phòng thuộc sở; "
        "4 – Lãnh đạo UBND cấp huyện."
    ]
    assert only(result).group_code is None and only(result).answers_ministry_form is False


def test_group_number_out_of_range_is_an_error() -> None:
    result = check_list([row(4, "Nhóm 5")], HANOI)

    assert messages(result)[0].startswith(
        "Dòng 4, cột Nhóm đối tượng: không có nhóm số 5 (“Nhóm 5”); ghi một"
    )


@pytest.mark.parametrize("typed", ["9" * 5000, "Nhóm " + "1" * 4400, "1234567890"])
def test_a_group_number_too_long_to_be_a_group_is_refused_with_a_message(typed: str) -> None:
    typed_row = row(4)
    typed_row.values["group"] = typed  # past row()'s own reading of the number
    result = check_list([typed_row], HANOI)

    assert messages(result)[0].startswith("Dòng 4, cột Nhóm đối tượng: không nhận ra nhóm")


def test_group_number_contradicting_the_group_name_is_an_error() -> None:
    result = check_list([row(4, "1. Lãnh đạo cấp sở")], HANOI)

    assert messages(result)[0].startswith(
        "Dòng 4, cột Nhóm đối tượng: “1. Lãnh đạo cấp sở” không rõ: số 1 là nhóm 1 (Đại biểu HĐND), "
        "còn tên là nhóm 2 (Lãnh đạo cấp sở); ghi một trong các nhóm: 1 – "
    )


def test_group_word_shared_by_several_groups_asks_for_the_number() -> None:
    result = check_list([row(4, "Lãnh đạo")], HANOI)

    assert messages(result) == [
        "Dòng 4, cột Nhóm đối tượng: “Lãnh đạo” có thể là nhóm 2 (Lãnh đạo cấp sở), "
        "nhóm 3 (Lãnh đạo cấp phòng thuộc sở), nhóm 4 (Lãnh đạo UBND cấp huyện); ghi rõ số nhóm."
    ]


# --------------------------------------------------------------------------------------
# Position fits group
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "unit"),
    [
        ("Giám đốc", "Sở Tài chính"),
        ("Giám đốc Sở Tài chính", "Sở Tài chính"),
        ("GĐ", "Sở Tài chính"),
        ("Phó Giám đốc", "Sở Tài chính"),
        ("PHÓ GIÁM ĐỐC SỞ", "Sở Tài chính"),
        ("PGĐ", "Sở Tài chính"),
        ("P.GĐ", "Sở Tài chính"),
        ("Phó GĐ", "Sở Tài chính"),
        ("Quyền Giám đốc", "Sở Tài chính"),
        ("Q. Giám đốc", "Sở Tài chính"),
        ("Phó Giám đốc phụ trách", "Sở Tài chính"),
        ("Phó Giám đốc thường trực", "Sở Y tế"),
        ("Chánh Thanh tra", "Thanh tra thành phố"),
        ("Chánh Thanh tra thành phố", "Thanh tra thành phố"),
        ("Phó Chánh Thanh tra", "Thanh tra TP"),
        ("Chánh Thanh tra TP", "Thanh tra thành phố"),
        ("Chánh Văn phòng UBND thành phố", "Văn phòng UBND thành phố"),
        ("Chánh VP UBND", "VP UBND TP"),
        ("Phó Chánh Văn phòng", "Văn phòng Ủy ban nhân dân thành phố Hà Nội"),
        ("Chánh Văn phòng", "VP UBND thành phố"),
        ("Trưởng ban", "Ban Dân tộc"),
        ("Phó Trưởng ban", "Ban Dân tộc thành phố"),
        (unicodedata.normalize("NFD", "Phó Giám đốc"), "Sở Y Tế"),
    ],
)
def test_director_level_positions_fit_group_2(position: str, unit: str) -> None:
    result = check_list([row(1, 2, position=position, unit=unit)], HANOI)

    assert result.problems == []


@pytest.mark.parametrize(
    ("position", "unit"),
    [
        ("Trưởng phòng", "Sở Tài chính"),
        ("Trưởng phòng Tổ chức cán bộ", "Sở Tài chính"),
        ("TP", "Sở Y tế"),
        ("TP. Kế hoạch", "Sở Y tế"),
        ("Phó Trưởng phòng Ngân sách", "Sở Tài chính"),
        ("Phó phòng", "Sở Y tế"),
        ("PTP", "Sở Y tế"),
        ("Phó TP", "Sở Y tế"),
        ("Quyền Trưởng phòng", "Sở Y tế"),
        ("Chánh Văn phòng", "Sở Tài chính"),
        ("Phó Chánh Văn phòng Sở", "Sở Tài chính"),
        ("Chánh Thanh tra", "Sở Tài chính"),
        ("Chánh Thanh tra Sở", "Sở Y tế"),
        ("Phó Chánh Thanh tra", "Sở Y tế"),
        ("Chi cục trưởng", "Sở Nông nghiệp và PTNT"),
        ("Chi cục trưởng Chi cục Kiểm lâm", "Sở NN&PTNT"),
        ("Phó Chi cục trưởng Chi cục Thủy lợi", "Sở NN và PTNT"),
        ("Trưởng phòng Thanh tra 1", "Thanh tra thành phố"),
        ("Trưởng phòng Tổng hợp", "Văn phòng UBND TP"),
        ("Giám đốc Trung tâm Công nghệ thông tin", "Sở TT&TT"),
        ("Phó Giám đốc Bệnh viện Đa khoa", "Sở Y tế"),
        ("Trưởng ban Quản lý dự án", "Sở Xây dựng"),
        ("Phó Trưởng ban Quản lý dự án đầu tư xây dựng", "Sở Giao thông vận tải"),
    ],
)
def test_division_level_positions_fit_group_3(position: str, unit: str) -> None:
    result = check_list([row(1, 3, position=position, unit=unit)], HANOI)

    assert result.problems == []


@pytest.mark.parametrize(
    ("position", "unit"),
    [
        ("Chủ tịch UBND", "Huyện Đông Anh"),
        ("Chủ tịch UBND huyện", "UBND huyện Đông Anh"),
        ("Chủ tịch Ủy ban nhân dân quận", "Quận Ba Đình"),
        ("Phó Chủ tịch UBND quận Hoàn Kiếm", "Q. Hoàn Kiếm"),
        ("PCT UBND", "Thị xã Sơn Tây"),
        ("CT UBND", "TX. Sơn Tây"),
        ("P.CT UBND", "Gia Lâm"),
        ("Phó Chủ tịch Thường trực UBND huyện", "H. Gia Lâm"),
        ("Phó Chủ tịch", "UBND quận Cầu Giấy"),
        ("Chủ tịch", "Quận Cầu Giấy"),
    ],
)
def test_district_leader_positions_fit_group_4(position: str, unit: str) -> None:
    result = check_list([row(1, 4, position=position, unit=unit)], HANOI)

    assert result.problems == []


# Hà Nội on the 2025 map: wards, communes (and elsewhere special zones) instead of districts.
HANOI_2025 = ProvinceRefs(
    province_name="Thành phố Hà Nội",
    is_centrally_run_city=True,
    groups=default_groups_2021(),
    departments=HANOI.departments,
    districts=(
        DistrictRef(5001, "Phường Hoàn Kiếm"),
        DistrictRef(5002, "Phường Ba Đình"),
        DistrictRef(5003, "Xã Sóc Sơn"),
        DistrictRef(5004, "Xã Đông Anh"),
    ),
    unit_kind="commune",
)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("Phường Hoàn Kiếm", "Phường Hoàn Kiếm"),
        ("UBND phường Ba Đình", "Phường Ba Đình"),
        ("P. Hoàn Kiếm", "Phường Hoàn Kiếm"),
        ("Ủy ban nhân dân xã Sóc Sơn", "Xã Sóc Sơn"),
        ("Sóc Sơn", "Xã Sóc Sơn"),
        ("UBND xã Đông Anh, TP Hà Nội", "Xã Đông Anh"),
    ],
)
def test_on_the_2025_map_a_leader_s_unit_is_a_ward_or_commune(unit: str, expected: str) -> None:
    checked = only(check_list([row(1, 4, position="Chủ tịch UBND", unit=unit)], HANOI_2025))

    assert (checked.unit, checked.district_id, checked.problems) == (expected, district_id(HANOI_2025, expected), [])


def test_on_the_2025_map_a_district_is_no_unit_of_the_fourth_group() -> None:
    result = check_list([row(1, 4, position="Chủ tịch UBND", unit="Quận Cầu Giấy")], HANOI_2025)

    assert messages(result) == ["Dòng 1, cột Cơ quan/đơn vị: “Quận Cầu Giấy” không phải xã, phường hoặc đặc khu "
                                "thuộc thành phố Hà Nội."]


def test_bare_vice_chair_with_an_unknown_district_reports_only_the_unit() -> None:
    result = check_list([row(1, 4, position="Phó Chủ tịch", unit="Huyện Hoành Bồ")], QUANG_NINH)

    assert [p.column for p in result.problems] == ["Cơ quan/đơn vị"]


def test_council_deputy_may_list_any_title() -> None:
    rows = [
        row(1, 1, position="Phó Chủ tịch HĐND thành phố"),
        row(2, 1, position="Giám đốc Bệnh viện Bạch Mai", unit=""),
        row(3, 1, position="Trưởng phòng", unit="Sở Du lịch"),
    ]

    result = check_list(rows, HANOI)

    assert result.problems == []
    assert [r.unit for r in result.rows] == ["HĐND thành phố", "", "Sở Du lịch"]
    assert [r.department_id for r in result.rows] == [None, None, None]


def test_division_head_listed_as_director_is_an_error_suggesting_group_3() -> None:
    result = check_list([row(5, 2, position="Trưởng phòng Tổ chức")], HANOI)

    assert messages(result) == [
        "Dòng 5, cột Chức vụ: chức vụ “Trưởng phòng Tổ chức” thuộc nhóm 3 (Lãnh đạo cấp phòng thuộc sở), "
        "không thuộc nhóm 2 (Lãnh đạo cấp sở)."
    ]


def test_deputy_director_listed_as_division_leader_is_an_error_suggesting_group_2() -> None:
    result = check_list([row(5, 3, position="Phó Giám đốc")], HANOI)

    assert messages(result) == [
        "Dòng 5, cột Chức vụ: chức vụ “Phó Giám đốc” thuộc nhóm 2 (Lãnh đạo cấp sở), "
        "không thuộc nhóm 3 (Lãnh đạo cấp phòng thuộc sở)."
    ]


def test_chief_inspector_is_group_2_in_the_provincial_inspectorate_and_group_3_in_a_department() -> None:
    rows = [
        row(1, 2, position="Chánh Thanh tra", unit="Thanh tra tỉnh"),
        row(2, 3, position="Chánh Thanh tra", unit="Sở Y tế"),
        row(3, 3, position="Chánh Thanh tra", unit="Thanh tra tỉnh Quảng Ninh"),
        row(4, 2, position="Phó Chánh Thanh tra", unit="Sở Y tế"),
    ]

    result = check_list(rows, QUANG_NINH)

    assert messages(result) == [
        "Dòng 3, cột Chức vụ: chức vụ “Chánh Thanh tra” thuộc nhóm 2 (Lãnh đạo cấp sở), "
        "không thuộc nhóm 3 (Lãnh đạo cấp phòng thuộc sở).",
        "Dòng 4, cột Chức vụ: chức vụ “Phó Chánh Thanh tra” thuộc nhóm 3 (Lãnh đạo cấp phòng thuộc sở), "
        "không thuộc nhóm 2 (Lãnh đạo cấp sở).",
    ]
    assert [r.department_id for r in result.rows] == [dept_id(QUANG_NINH, "Thanh tra tỉnh")] * 1 + [
        dept_id(QUANG_NINH, "Sở Y tế"),
        dept_id(QUANG_NINH, "Thanh tra tỉnh"),
        dept_id(QUANG_NINH, "Sở Y tế"),
    ]
    assert [r.ministry_code for r in result.rows] == ["TTCP", "BYT", "TTCP", "BYT"]


def test_chief_of_office_is_group_2_in_the_peoples_committee_office_and_group_3_in_a_department() -> None:
    rows = [
        row(1, 2, position="Chánh Văn phòng", unit="Văn phòng UBND tỉnh"),
        row(2, 2, position="Chánh Văn phòng", unit="Sở Tài chính"),
    ]

    result = check_list(rows, QUANG_NINH)

    assert messages(result) == [
        "Dòng 2, cột Chức vụ: chức vụ “Chánh Văn phòng” thuộc nhóm 3 (Lãnh đạo cấp phòng thuộc sở), "
        "không thuộc nhóm 2 (Lãnh đạo cấp sở)."
    ]
    assert result.rows[0].ministry_code == "VPCP"


def test_chief_inspector_with_unknown_unit_reports_only_the_unit() -> None:
    result = check_list(
        [row(1, 3, position="Chánh Thanh tra", unit="Sở Văn hóa, Thể thao và Du lịch")], HANOI
    )

    assert [p.column for p in result.problems] == ["Cơ quan/đơn vị"]


def test_vice_chair_of_a_council_is_not_a_district_leader() -> None:
    result = check_list([row(6, 4, position="Phó Chủ tịch HĐND huyện", unit="Huyện Đông Anh")], HANOI)

    assert messages(result) == [
        "Dòng 6, cột Chức vụ: chức vụ “Phó Chủ tịch HĐND huyện” không phải chức vụ của nhóm 4 "
        "(Lãnh đạo UBND cấp huyện); nhóm này gồm: Chủ tịch UBND huyện, Phó Chủ tịch UBND huyện "
        "và tương đương."
    ]


@pytest.mark.parametrize(
    ("refs", "position", "unit", "fits"),
    [
        (QUANG_NINH, "Phó Chủ tịch UBND tỉnh", "Thành phố Hạ Long", False),
        (QUANG_NINH, "Phó Chủ tịch UBND tỉnh Quảng Ninh", "Thành phố Hạ Long", False),
        (QUANG_NINH, "Phó Chủ tịch UBND thành phố", "Thành phố Hạ Long", True),
        (QUANG_NINH, "Chủ tịch UBND TP Hạ Long", "TP Hạ Long", True),
        (HANOI, "Phó Chủ tịch UBND thành phố", "Quận Ba Đình", False),
        (HANOI, "Phó Chủ tịch UBND thành phố Hà Nội", "Quận Ba Đình", False),
        (HCM, "Phó Chủ tịch UBND thành phố Thủ Đức", "Thành phố Thủ Đức", True),
        (HCM, "Chủ tịch UBND Quận 1", "Q.1", True),
        (HCM, "Phó Chủ tịch UBND TP", "TP Thủ Đức", False),
        (HCM, "Chủ tịch UBND TP.HCM", "UBND Thành phố Thủ Đức", False),
    ],
)
def test_province_level_chair_is_not_a_district_leader(
    refs: ProvinceRefs, position: str, unit: str, fits: bool
) -> None:
    result = check_list([row(1, 4, position=position, unit=unit)], refs)

    assert [p.column for p in result.problems] == ([] if fits else ["Chức vụ"])
    assert only(result).district_id is not None


def test_position_fitting_no_group_is_an_error_listing_the_groups_positions() -> None:
    result = check_list([row(2, 3, position="Chuyên viên", unit="Sở Tài chính")], HANOI)

    assert messages(result) == [
        "Dòng 2, cột Chức vụ: chức vụ “Chuyên viên” không phải chức vụ của nhóm 3 (Lãnh đạo cấp phòng thuộc "
        "sở); nhóm này gồm: Trưởng phòng, Phó Trưởng phòng, Chánh Văn phòng Sở, Phó Chánh Văn phòng Sở, "
        "Chánh Thanh tra Sở, Phó Chánh Thanh tra Sở, Chi cục trưởng, Phó Chi cục trưởng và tương đương."
    ]


def test_district_chair_listed_as_director_suggests_group_4() -> None:
    result = check_list([row(2, 2, position="Chủ tịch UBND huyện Đông Anh", unit="Sở Tài chính")], HANOI)

    assert messages(result) == [
        "Dòng 2, cột Chức vụ: chức vụ “Chủ tịch UBND huyện Đông Anh” thuộc nhóm 4 (Lãnh đạo UBND cấp huyện), "
        "không thuộc nhóm 2 (Lãnh đạo cấp sở)."
    ]


# --------------------------------------------------------------------------------------
# Unit: departments
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "official"),
    [
        ("Sở Tài chính", "Sở Tài chính"),
        ("  sở  tài chính ", "Sở Tài chính"),
        ("SO TAI CHINH", "Sở Tài chính"),
        ("Tài chính", "Sở Tài chính"),
        ("Sở Tài chính Hà Nội", "Sở Tài chính"),
        ("Sở Tài chính thành phố Hà Nội", "Sở Tài chính"),
        ("Sở Y Tế", "Sở Y tế"),
        (unicodedata.normalize("NFD", "Sở Y tế"), "Sở Y tế"),
        ("Sở\u00a0Y tế ", "Sở Y tế"),
        ("Sở KH&ĐT", "Sở Kế hoạch và Đầu tư"),
        ("Sở KHĐT", "Sở Kế hoạch và Đầu tư"),
        ("Sở KH-ĐT", "Sở Kế hoạch và Đầu tư"),
        ("Sở NN&PTNT", "Sở Nông nghiệp và Phát triển nông thôn"),
        ("Sở Nông nghiệp và PTNT", "Sở Nông nghiệp và Phát triển nông thôn"),
        ("Sở LĐTBXH", "Sở Lao động - Thương binh và Xã hội"),
        ("Sở LĐ-TB&XH", "Sở Lao động - Thương binh và Xã hội"),
        ("Sở Lao động Thương binh và Xã hội", "Sở Lao động - Thương binh và Xã hội"),
        ("Sở TT&TT", "Sở Thông tin và Truyền thông"),
        ("Sở TTTT", "Sở Thông tin và Truyền thông"),
        ("Sở GD&ĐT", "Sở Giáo dục và Đào tạo"),
        ("Sở GDĐT", "Sở Giáo dục và Đào tạo"),
        ("Sở TN&MT", "Sở Tài nguyên và Môi trường"),
        ("Sở TNMT", "Sở Tài nguyên và Môi trường"),
        ("Sở GTVT", "Sở Giao thông vận tải"),
        ("Sở KH&CN", "Sở Khoa học và Công nghệ"),
        ("Sở VH&TT", "Sở Văn hóa và Thể thao"),
        ("Sở QH-KT", "Sở Quy hoạch - Kiến trúc"),
        ("Thanh tra thành phố", "Thanh tra thành phố"),
        ("Thanh tra TP", "Thanh tra thành phố"),
        ("Thanh tra TP. Hà Nội", "Thanh tra thành phố"),
        ("Thanh tra tỉnh", "Thanh tra thành phố"),
        ("Văn phòng UBND thành phố", "Văn phòng Ủy ban nhân dân thành phố"),
        ("VP UBND TP", "Văn phòng Ủy ban nhân dân thành phố"),
        ("Văn phòng Ủy ban nhân dân TP Hà Nội", "Văn phòng Ủy ban nhân dân thành phố"),
        ("Ban Dân tộc", "Ban Dân tộc"),
        ("Phòng Tổ chức - Sở Tài chính", "Sở Tài chính"),
        ("Sở Tài chính - Phòng Ngân sách", "Sở Tài chính"),
        ("Phòng Ngân sách, Sở Tài chính", "Sở Tài chính"),
        ("Phòng Tổ chức cán bộ Sở Y tế", "Sở Y tế"),
        ("Phòng Kế hoạch - Tài chính, Sở Y tế", "Sở Y tế"),
        ("Văn phòng Sở KH&ĐT", "Sở Kế hoạch và Đầu tư"),
        ("Thanh tra Sở Y tế", "Sở Y tế"),
        ("Phòng Thanh tra 1 - Thanh tra thành phố", "Thanh tra thành phố"),
        ("Phòng Tổng hợp, VP UBND TP", "Văn phòng Ủy ban nhân dân thành phố"),
        ("Chi cục Kiểm lâm - Sở NN&PTNT", "Sở Nông nghiệp và Phát triển nông thôn"),
    ],
)
def test_department_is_found_however_it_is_written(typed: str, official: str) -> None:
    result = check_list([row(1, 3, position="Trưởng phòng", unit=typed)], HANOI)

    checked = only(result)
    assert result.problems == []
    assert (checked.unit, checked.department_id) == (official, dept_id(HANOI, official))


def test_department_gives_the_parent_ministry_for_the_second_form() -> None:
    rows = [
        row(1, 2, unit="Sở LĐ-TB&XH"),
        row(2, 3, position="Trưởng phòng", unit="Văn phòng UBND tỉnh"),
        row(3, 2, position="Trưởng ban", unit="Ban Dân tộc tỉnh"),
    ]

    result = check_list(rows, QUANG_NINH)

    assert [(r.ministry_code, r.answers_ministry_form) for r in result.rows] == [
        ("BLDTBXH", True),
        ("VPCP", True),
        ("UBDT", True),
    ]


def test_unknown_department_is_an_error_naming_the_province() -> None:
    rows = [
        row(1, 2, unit="Sở Du lịch"),
        row(2, 3, position="Trưởng phòng", unit="Phòng Nội vụ huyện Vân Đồn"),
        row(3, 2, unit="Sở Quy hoạch - Kiến trúc"),
    ]

    result = check_list(rows, QUANG_NINH)

    assert messages(result) == [
        "Dòng 1, cột Cơ quan/đơn vị: “Sở Du lịch” chưa có trong danh mục sở, ngành của "
        "tỉnh Quảng Ninh; nếu tỉnh có cơ quan này, hãy thêm vào danh mục.",
        "Dòng 2, cột Cơ quan/đơn vị: “Phòng Nội vụ huyện Vân Đồn” không phải sở hoặc cơ quan tương đương của "
        "tỉnh Quảng Ninh.",
        "Dòng 3, cột Cơ quan/đơn vị: “Sở Quy hoạch - Kiến trúc” chưa có trong danh mục sở, ngành của "
        "tỉnh Quảng Ninh; nếu tỉnh có cơ quan này, hãy thêm vào danh mục.",
    ]
    assert [(r.unit, r.department_id, r.ministry_code) for r in result.rows] == [
        ("Sở Du lịch", None, None),
        ("Phòng Nội vụ huyện Vân Đồn", None, None),
        ("Sở Quy hoạch - Kiến trúc", None, None),
    ]


def test_district_level_division_is_not_a_department() -> None:
    result = check_list(
        [row(1, 3, position="Trưởng phòng", unit="Phòng Tài chính - Kế hoạch huyện Đông Anh")], HANOI
    )

    assert [p.column for p in result.problems] == ["Cơ quan/đơn vị"]


def test_province_level_bodies_that_are_not_departments_are_errors() -> None:
    result = check_list([row(1, 3, position="Trưởng phòng", unit="Văn phòng HĐND thành phố")], HANOI)

    assert messages(result) == [
        "Dòng 1, cột Cơ quan/đơn vị: “Văn phòng HĐND thành phố” không phải sở hoặc cơ quan tương đương của "
        "thành phố Hà Nội."
    ]


def test_unit_naming_two_departments_is_an_error_listing_them() -> None:
    result = check_list([row(1, 3, position="Trưởng phòng", unit="Sở Tài chính - Sở Y tế")], HANOI)

    assert messages(result) == [
        "Dòng 1, cột Cơ quan/đơn vị: “Sở Tài chính - Sở Y tế” khớp với nhiều cơ quan: Sở Tài chính, Sở Y tế; "
        "ghi rõ một cơ quan."
    ]


def test_department_aliases_from_the_database_are_used() -> None:
    refs = ProvinceRefs(
        "Tỉnh Quảng Ninh",
        False,
        default_groups_2021(),
        (
            DepartmentRef(
                1, "Sở Văn hóa, Thể thao và Du lịch", "BVHTTDL", MINISTRIES["BVHTTDL"], ("Sở Văn hóa",)
            ),
        ),
        (),
    )

    result = check_list([row(1, 2, unit="sở văn hoá"), row(2, 2, unit="Sở VH, TT&DL")], refs)

    assert result.problems == [] and [r.department_id for r in result.rows] == [1, 1]


# --------------------------------------------------------------------------------------
# Unit: districts
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refs", "typed", "official"),
    [
        (HANOI, "Huyện Đông Anh", "Huyện Đông Anh"),
        (HANOI, "UBND huyện Đông Anh", "Huyện Đông Anh"),
        (HANOI, "Ủy ban nhân dân huyện Đông Anh", "Huyện Đông Anh"),
        (HANOI, "Đông Anh", "Huyện Đông Anh"),
        (HANOI, "H. Đông Anh", "Huyện Đông Anh"),
        (HANOI, "huyen dong anh", "Huyện Đông Anh"),
        (HANOI, "Q. Ba Đình", "Quận Ba Đình"),
        (HANOI, "quận  ba đình ", "Quận Ba Đình"),
        (HANOI, "Quận Ba Đình, TP Hà Nội", "Quận Ba Đình"),
        (HANOI, "TX. Sơn Tây", "Thị xã Sơn Tây"),
        (HANOI, "UBND thị xã Sơn Tây", "Thị xã Sơn Tây"),
        (HANOI, unicodedata.normalize("NFD", "Quận Hoàn Kiếm"), "Quận Hoàn Kiếm"),
        (QUANG_NINH, "TP. Hạ Long", "Thành phố Hạ Long"),
        (QUANG_NINH, "UBND Thành phố Hạ Long", "Thành phố Hạ Long"),
        (QUANG_NINH, "Hạ Long", "Thành phố Hạ Long"),
        (QUANG_NINH, "Huyện Vân Đồn - tỉnh Quảng Ninh", "Huyện Vân Đồn"),
        (QUANG_NINH, "TX Quảng Yên", "Thị xã Quảng Yên"),
        (HCM, "Quận 1", "Quận 1"),
        (HCM, "quận 1", "Quận 1"),
        (HCM, "Q.1", "Quận 1"),
        (HCM, "Q1", "Quận 1"),
        (HCM, "Quận 01", "Quận 1"),
        (HCM, "UBND Quận 10", "Quận 10"),
        (HCM, "TP Thủ Đức", "Thành phố Thủ Đức"),
        (HCM, "UBND thành phố Thủ Đức", "Thành phố Thủ Đức"),
        (HA_TINH, "Thành phố Hà Tĩnh", "Thành phố Hà Tĩnh"),
        (HA_TINH, "UBND TP Hà Tĩnh", "Thành phố Hà Tĩnh"),
        (HA_TINH, "Thị xã Kỳ Anh", "Thị xã Kỳ Anh"),
        (HA_TINH, "huyện Kỳ Anh", "Huyện Kỳ Anh"),
    ],
)
def test_district_is_found_however_it_is_written(refs: ProvinceRefs, typed: str, official: str) -> None:
    result = check_list([row(1, 4, unit=typed)], refs)

    checked = only(result)
    assert result.problems == []
    assert (checked.unit, checked.district_id, checked.department_id) == (
        official,
        district_id(refs, official),
        None,
    )


def test_district_of_another_province_is_an_error() -> None:
    rows = [row(1, 4, unit="Huyện Gia Lâm"), row(2, 4, unit="Quận 1")]

    result = check_list(rows, QUANG_NINH)

    assert messages(result) == [
        "Dòng 1, cột Cơ quan/đơn vị: “Huyện Gia Lâm” không phải quận, huyện, thị xã hoặc thành phố thuộc "
        "tỉnh Quảng Ninh.",
        "Dòng 2, cột Cơ quan/đơn vị: “Quận 1” không phải quận, huyện, thị xã hoặc thành phố thuộc "
        "tỉnh Quảng Ninh.",
    ]
    assert [r.district_id for r in result.rows] == [None, None]


def test_the_centrally_run_city_itself_is_not_a_district() -> None:
    rows = [row(1, 4, unit="UBND thành phố"), row(2, 4, unit="Thành phố Hồ Chí Minh")]

    result = check_list(rows, HCM)

    assert [p.message for p in result.problems] == [
        "Dòng 1, cột Cơ quan/đơn vị: “UBND thành phố” không phải quận, huyện, thị xã hoặc thành phố thuộc "
        "thành phố Hồ Chí Minh.",
        "Dòng 2, cột Cơ quan/đơn vị: “Thành phố Hồ Chí Minh” không phải quận, huyện, thị xã hoặc thành phố "
        "thuộc thành phố Hồ Chí Minh.",
    ]


def test_district_name_shared_by_two_units_is_an_error_listing_the_candidates() -> None:
    result = check_list([row(3, 4, unit="UBND Kỳ Anh")], HA_TINH)

    assert messages(result) == [
        "Dòng 3, cột Cơ quan/đơn vị: “UBND Kỳ Anh” khớp với nhiều đơn vị: Thị xã Kỳ Anh, Huyện Kỳ Anh; "
        "ghi rõ tên đầy đủ."
    ]


def test_district_written_with_its_former_kind_is_accepted_with_a_notice() -> None:
    result = check_list([row(3, 4, unit="Huyện Quảng Yên")], QUANG_NINH)

    checked = only(result)
    assert checked.district_id == district_id(QUANG_NINH, "Thị xã Quảng Yên") and result.error_count == 0
    assert result.notices == [
        Problem(
            3,
            "Cơ quan/đơn vị",
            "Dòng 3, cột Cơ quan/đơn vị: “Huyện Quảng Yên” được hiểu là Thị xã Quảng Yên.",
            "notice",
        )
    ]


# --------------------------------------------------------------------------------------
# Duplicates and the overlap rule
# --------------------------------------------------------------------------------------


def test_council_member_also_listed_as_director_keeps_council_role_only() -> None:
    rows = [
        row(
            3,
            2,
            full_name="Nguyễn Văn Hải",
            email="hai.nv@quangninh.gov.vn",
            unit="Sở Tài chính",
            phone="0912345678",
        ),
        row(
            4,
            2,
            full_name="Trần Thị Lan",
            email="lan.tt@quangninh.gov.vn",
            unit="Sở Tài chính",
            position="Phó Giám đốc",
        ),
        row(
            15,
            1,
            full_name="NGUYỄN VĂN HẢI",
            email="Hai.NV@quangninh.gov.vn",
            position="Giám đốc Sở Tài chính",
            unit="Sở Tài chính",
        ),
    ]

    result = check_list(rows, QUANG_NINH)

    message = (
        "Dòng 3: Nguyễn Văn Hải (nhóm 2 (Lãnh đạo cấp sở)) cũng là đại biểu ở dòng 15; "
        "mỗi người chỉ khảo sát một lần, giữ ở nhóm 1 (Đại biểu HĐND) theo quy định, đã bỏ dòng 3. "
        "Đã chuyển số điện thoại “0912345678” từ dòng 3 sang dòng 15."
    )
    assert [r.number for r in result.rows] == [4, 15]
    assert result.dropped == [Dropped(key=30, number=3, kept_key=150, kept_number=15, message=message)]
    assert result.notices == [Problem(3, None, message, "notice")]
    kept = result.rows[1]
    assert (kept.group_code, kept.full_name, kept.phone, kept.answers_ministry_form, kept.ministry_code) == (
        "HDND",
        "Nguyễn Văn Hải",
        "0912345678",
        False,
        None,
    )
    assert result.counts_by_group() == {"HDND": 1, "LD_SO": 1, "LD_PHONG": 0, "LD_HUYEN": 0}
    assert result.error_count == 0


def test_council_member_found_by_name_and_phone_keeps_council_row_and_notes_the_other_email() -> None:
    rows = [
        row(
            1,
            1,
            full_name="Lê Minh Tuấn",
            email="tuanlm@gmail.com",
            unit="UBND huyện Vân Đồn",
            position="Chủ tịch UBND huyện Vân Đồn",
            phone="0912345678",
        ),
        row(
            2,
            4,
            full_name="Lê Minh Tuấn",
            email="tuanlm@quangninh.gov.vn",
            unit="Huyện Vân Đồn",
            position="Chủ tịch UBND",
            phone="+84 912 345 678",
        ),
    ]

    result = check_list(rows, QUANG_NINH)

    assert [r.number for r in result.rows] == [1]
    assert result.dropped[0].message == (
        "Dòng 2: Lê Minh Tuấn (nhóm 4 (Lãnh đạo UBND cấp huyện)) cũng là đại biểu ở dòng 1; mỗi người chỉ "
        "khảo sát một lần, giữ ở nhóm 1 (Đại biểu HĐND) theo quy định, đã bỏ dòng 2. Email ở dòng 2 "
        "(“tuanlm@quangninh.gov.vn”) khác email ở dòng 1 (“tuanlm@gmail.com”); hãy kiểm tra hộp thư công vụ "
        "của người này."
    )


def test_two_deputies_with_one_name_in_one_council_are_both_kept_with_a_warning() -> None:
    rows = [
        row(2, 1, full_name="Vũ Thanh Mai", email="mai.vt@hanoi.gov.vn", phone="0911111111",
            unit="HĐND thành phố Hà Nội", position="Đại biểu HĐND"),
        row(3, 1, full_name="Vũ Thanh Mai", email="vtmai@hanoi.gov.vn", phone="0922222222",
            unit="HĐND thành phố Hà Nội", position="Đại biểu HĐND"),
    ]

    result = check_list(rows, HANOI)

    assert [r.number for r in result.rows] == [2, 3] and result.dropped == []
    assert result.error_count == 0
    assert [(p.number, p.level) for p in result.problems] == [(2, "warning"), (3, "warning")]
    assert result.rows[0].problems[0].message == (
        "Dòng 2, cột Họ và tên: cùng họ tên và cơ quan/đơn vị với dòng 3 nhưng khác email và số điện thoại, "
        "nên được giữ là hai người khác nhau. Nếu đúng là một người, hãy xóa dòng thừa."
    )
    key = result.rows[0].namesake_key
    assert key and key == result.rows[1].namesake_key

    dismissed = check_list(rows, HANOI, dismissed_namesakes=frozenset({key}))

    assert [r.number for r in dismissed.rows] == [2, 3] and dismissed.problems == []
    assert dismissed.rows[0].namesake_key is None


def test_a_dismissed_namesake_warning_returns_when_a_contact_changes() -> None:
    rows = [row(2, 2, full_name="Vũ Thanh Mai", unit="Sở Y tế", email="a@hanoi.gov.vn"),
            row(3, 2, full_name="Vũ Thanh Mai", unit="Sở Y tế", email="b@hanoi.gov.vn", position="Phó Giám đốc")]
    key = check_list(rows, HANOI).rows[0].namesake_key
    assert key
    changed = [rows[0], row(3, 2, full_name="Vũ Thanh Mai", unit="Sở Y tế", email="c@hanoi.gov.vn",
                            position="Phó Giám đốc")]

    result = check_list(changed, HANOI, dismissed_namesakes=frozenset({key}))

    assert [p.level for p in result.problems] == ["warning", "warning"]


def test_a_formula_cell_is_shown_as_the_file_holds_it_and_flagged() -> None:
    cached = RowInput(2, 2, {**row(2).values, "full_name": "Nguyễn Văn An"},
                      formulas={"full_name": "=PROPER(K2)"})
    bare = RowInput(3, 3, {**row(3).values, "full_name": "=K3&L3"}, formulas={"full_name": "=K3&L3"})

    result = check_list([cached, bare], HANOI)

    first, second = result.rows
    assert (first.full_name, first.has_errors) == ("Nguyễn Văn An", False)
    assert [p.message for p in first.problems] == [
        "Dòng 2, cột Họ và tên: ô là công thức “=PROPER(K2)” trong tệp; cổng không tính công thức, đang hiện "
        "giá trị lưu kèm trong tệp (“Nguyễn Văn An”). Hãy kiểm tra rồi nhập lại giá trị thật."
    ]
    assert second.full_name == "=K3&L3" and second.has_errors
    assert "ô là công thức “=K3&L3” trong tệp, không có giá trị lưu kèm" in " ".join(
        p.message for p in second.problems)


def test_same_person_twice_in_the_same_group_keeps_the_first_row() -> None:
    rows = [
        row(2, 3, full_name="Phạm Thu Hà", email="ha.pt@hanoi.gov.vn", unit="Sở Y tế", position="Phó phòng"),
        row(
            8,
            3,
            full_name=unicodedata.normalize("NFD", "Phạm Thu Hà "),
            email=" HA.PT@hanoi.gov.vn",
            unit="Sở Y tế",
            position="Phó Trưởng phòng",
            phone="0987654321",
        ),
    ]

    result = check_list(rows, HANOI)

    message = (
        "Dòng 8: Phạm Thu Hà trùng với dòng 2 (cùng email) trong nhóm 3 (Lãnh đạo cấp phòng thuộc sở); "
        "đã bỏ dòng 8, giữ dòng 2. Đã chuyển số điện thoại “0987654321” từ dòng 8 sang dòng 2."
    )
    assert [r.number for r in result.rows] == [2]
    assert result.dropped == [Dropped(80, 8, 20, 2, message)]
    assert only(result).phone == "0987654321" and only(result).position == "Phó phòng"


def test_same_name_and_phone_with_another_email_is_merged_and_the_notice_says_so() -> None:
    rows = [
        row(
            2, 2, full_name="Vũ Đức Thắng", email="thang.vd@hanoi.gov.vn", unit="Sở KH&ĐT", phone="0911111111"
        ),
        row(
            5,
            2,
            full_name="Vu Duc Thang",
            email="vuducthang@gmail.com",
            unit="Sở Kế hoạch và Đầu tư",
            phone="+84 911 111 111",
        ),
    ]

    result = check_list(rows, HANOI)

    assert [r.number for r in result.rows] == [2]
    assert only(result).phone == "0911111111"
    assert result.dropped[0].message == (
        "Dòng 5: Vũ Đức Thắng trùng với dòng 2 (cùng họ tên và số điện thoại) "
        "trong nhóm 2 (Lãnh đạo cấp sở); "
        "đã bỏ dòng 5, giữ dòng 2. Email ở dòng 5 (“vuducthang@gmail.com”) khác email ở dòng 2 "
        "(“thang.vd@hanoi.gov.vn”); hãy kiểm tra hộp thư công vụ của người này."
    )


def test_same_person_in_division_and_director_groups_keeps_the_director_row() -> None:
    rows = [
        row(
            1,
            3,
            full_name="Hoàng Văn Nam",
            email="nam.hv@hanoi.gov.vn",
            position="Trưởng phòng",
            unit="Sở Y tế",
        ),
        row(
            2,
            2,
            full_name="Hoàng Văn Nam",
            email="nam.hv@hanoi.gov.vn",
            position="Phó Giám đốc",
            unit="Sở Y tế",
        ),
    ]

    result = check_list(rows, HANOI)

    assert [(r.number, r.group_code) for r in result.rows] == [(2, "LD_SO")]
    assert result.dropped == [
        Dropped(
            10,
            1,
            20,
            2,
            "Dòng 1: Hoàng Văn Nam (nhóm 3 (Lãnh đạo cấp phòng thuộc sở)) cũng có ở dòng 2 (nhóm 2 (Lãnh đạo "
            "cấp sở)); mỗi người chỉ khảo sát một lần, giữ ở nhóm xếp trước (nhóm 2 (Lãnh đạo cấp sở)), "
            "đã bỏ dòng 1.",
        )
    ]


def test_same_person_in_three_groups_is_kept_once_in_the_council() -> None:
    rows = [
        row(1, 4, full_name="Đinh Thị Yến", email="yen@hanoi.gov.vn"),
        row(2, 3, full_name="Đinh Thị Yến", email="yen@hanoi.gov.vn"),
        row(3, 1, full_name="Đinh Thị Yến", email="yen@hanoi.gov.vn"),
        row(4, 1, full_name="Đinh Thị Yến", email="yen@hanoi.gov.vn"),
    ]

    result = check_list(rows, HANOI)

    assert [(r.number, r.group_code) for r in result.rows] == [(3, "HDND")]
    assert [(d.number, d.kept_number) for d in result.dropped] == [(1, 3), (2, 3), (4, 3)]
    assert [p.number for p in result.notices] == [1, 2, 4]


def test_notices_collect_row_and_merge_messages_in_row_order() -> None:
    rows = [
        row(4, 2, full_name="Hà Văn Quý", email="quy@hanoi.gov.vn", phone="912345678"),
        row(2, 1, full_name="Hà Văn Quý", email="quy@hanoi.gov.vn"),
        row(3, 3, phone="987654321"),
    ]

    result = check_list(rows, HANOI)

    # The repaired phone of the dropped row 4 travels with the merge notice.
    assert [(p.number, p.column) for p in result.notices] == [(3, "Số điện thoại"), (4, None)]
    assert result.notices[1].message.endswith("Đã chuyển số điện thoại “0912345678” từ dòng 4 sang dòng 2.")
    assert [r.number for r in result.rows] == [2, 3]
    assert result.rows[0].phone == "0912345678" and result.rows[0].problems == []
    assert result.problems == result.rows[1].problems and result.error_count == 0


def test_one_email_for_two_different_people_is_an_error_on_both_rows_without_merge() -> None:
    rows = [
        row(5, 2, full_name="Nguyễn Văn An", email="sotc@hanoi.gov.vn"),
        row(9, 3, full_name="Trần Thị Bình", email="SoTC@hanoi.gov.vn"),
    ]

    result = check_list(rows, HANOI)

    assert [r.number for r in result.rows] == [5, 9] and result.dropped == []
    assert messages(result) == [
        "Dòng 5, cột Email công vụ: địa chỉ “sotc@hanoi.gov.vn” cũng được ghi cho người khác: dòng 9 "
        "(Trần Thị Bình); mỗi người cần một hộp thư công vụ riêng.",
        "Dòng 9, cột Email công vụ: địa chỉ “sotc@hanoi.gov.vn” cũng được ghi cho người khác: dòng 5 "
        "(Nguyễn Văn An); mỗi người cần một hộp thư công vụ riêng.",
    ]
    assert result.error_count == 2


def test_namesakes_in_different_units_with_their_own_mailboxes_are_two_people() -> None:
    rows = [
        row(1, 3, full_name="Nguyễn Văn Hùng", email="hung1@hanoi.gov.vn", unit="Sở Y tế"),
        row(2, 3, full_name="Nguyễn Văn Hùng", email="hung2@hanoi.gov.vn", unit="Sở Tài chính"),
        row(3, 1, full_name="Nguyễn Văn Hùng", email="hung3@hanoi.gov.vn", unit=""),
    ]

    result = check_list(rows, HANOI)

    assert [r.number for r in result.rows] == [1, 2, 3] and result.dropped == [] and result.problems == []


def test_rows_without_a_valid_group_are_not_merged() -> None:
    rows = [
        row(1, "x", email="a@hanoi.gov.vn"),
        row(2, "x", email="a@hanoi.gov.vn", full_name="Nguyễn Văn B"),
    ]

    result = check_list(rows, HANOI)

    assert [r.number for r in result.rows] == [1, 2] and result.dropped == []


def test_email_shared_after_merge_reports_the_kept_rows() -> None:
    rows = [
        row(1, 2, full_name="Ngô Văn Sơn", email="son@hanoi.gov.vn"),
        row(2, 1, full_name="Ngô Văn Sơn", email="son@hanoi.gov.vn"),
        row(3, 3, full_name="Bùi Thị Thu", email="son@hanoi.gov.vn"),
    ]

    result = check_list(rows, HANOI)

    assert [r.number for r in result.rows] == [2, 3]
    assert [p.message for p in result.rows[0].problems] == [
        "Dòng 2, cột Email công vụ: địa chỉ “son@hanoi.gov.vn” cũng được ghi cho người khác: dòng 3 "
        "(Bùi Thị Thu); mỗi người cần một hộp thư công vụ riêng."
    ]


# --------------------------------------------------------------------------------------
# Robustness and speed
# --------------------------------------------------------------------------------------


def test_refs_built_with_lists_instead_of_tuples_still_work() -> None:
    groups = [
        GroupRef(g.code, g.number, g.name, g.answers_ministry_form, list(g.positions))  # type: ignore[arg-type]
        for g in default_groups_2021()
    ]
    refs = ProvinceRefs(
        "Tỉnh Quảng Ninh",
        False,
        groups,
        list(QUANG_NINH.departments),  # type: ignore[arg-type]
        list(QUANG_NINH.districts),
    )  # type: ignore[arg-type]

    result = check_list([row(1, 2, unit="Sở Y tế")], refs)

    assert result.problems == [] and only(result).ministry_code == "BYT"


def test_groups_from_the_database_with_other_codes_and_numbers_work() -> None:
    groups = (
        GroupRef("DB", 10, "Đại biểu Hội đồng nhân dân cấp tỉnh", False, ()),
        GroupRef("SO", 20, "Lãnh đạo cấp sở", True, (PositionRef("Giám đốc Sở", ("Giám đốc",)),)),
    )
    refs = ProvinceRefs("Tỉnh Quảng Ninh", False, groups, QUANG_NINH.departments, ())
    rows = [
        row(1, "20", unit="Sở Y tế", full_name="Lý Văn Ba", email="ba@quangninh.gov.vn"),
        row(2, "Đại biểu HĐND", full_name="Lý Văn Ba", email="ba@quangninh.gov.vn"),
    ]

    result = check_list(rows, refs)

    assert [(r.number, r.group_code) for r in result.rows] == [(2, "DB")]
    assert result.counts_by_group() == {"DB": 1, "SO": 0}


def test_group_without_positions_takes_any_title_and_a_district_group_is_known_by_its_name() -> None:
    groups = (GroupRef("HUYEN", 4, "Lãnh đạo UBND cấp huyện", False, ()),)
    refs = ProvinceRefs("Tỉnh Quảng Ninh", False, groups, QUANG_NINH.departments, QUANG_NINH.districts)
    rows = [row(1, "4", position="Ủy viên", unit="Huyện Vân Đồn"), row(2, "4", unit="Sở Y tế")]

    result = check_list(rows, refs)

    assert result.rows[0].problems == [] and result.rows[0].district_id == 2004
    assert [p.column for p in result.rows[1].problems] == ["Cơ quan/đơn vị"]


def generated_rows(count: int) -> list[RowInput]:
    """A realistic big list: every group, messy spellings, some duplicates and some errors."""
    units2 = [
        "Sở Tài chính",
        "Sở KH&ĐT",
        "sở y tế",
        "Thanh tra TP",
        "VP UBND TP",
        "Sở LĐ-TB&XH",
        "Sở NN&PTNT",
    ]
    positions2 = ["Giám đốc", "Phó Giám đốc", "PGĐ", "Phó Giám đốc Sở"]
    positions3 = ["Trưởng phòng Tổ chức", "Phó phòng", "TP", "Chi cục trưởng", "Phó Chánh Văn phòng"]
    districts = ["Quận Ba Đình", "UBND huyện Đông Anh", "Q. Hoàn Kiếm", "TX Sơn Tây", "Gia Lâm"]
    rows = []
    for i in range(1, count + 1):
        group = (1, 2, 3, 3, 3, 4)[i % 6]
        values = {
            "full_name": f"Nguyễn Văn {letters(i % 4000)}" if i % 97 else f"TRẦN THỊ {letters(i).upper()}",
            "group": ("1", "Lãnh đạo cấp sở", "Nhóm 3", "3", "lanh dao cap phong", "4")[i % 6],
            "email": f"nguoi{i % 4500}@hanoi.gov.vn" if i % 53 else f"nguoi{i}@@hanoi.gov.vn",
            "phone": ("0912345678", "912 345 678", "", "+84 24 3825 1234")[i % 4],
            "note": "",
        }
        if group == 1:
            values |= {"position": "Đại biểu HĐND", "unit": units2[i % len(units2)]}
        elif group == 2:
            values |= {"position": positions2[i % len(positions2)], "unit": units2[i % len(units2)]}
        elif group == 3:
            values |= {
                "position": positions3[i % len(positions3)],
                "unit": f"Phòng {i % 7} - {units2[i % 5]}",
            }
        else:
            values |= {"position": "Phó Chủ tịch UBND", "unit": districts[i % len(districts)]}
        rows.append(RowInput(key=i, number=i + 1, values=values))
    return rows


def test_five_thousand_rows_are_checked_completely() -> None:
    rows = generated_rows(5000)

    started = time.perf_counter()
    result = check_list(rows, HANOI)
    elapsed = time.perf_counter() - started
    print(f"\n5,000 rows checked in {elapsed * 1000:.0f} ms")

    assert len(result.rows) + len(result.dropped) == 5000
    assert {r.key for r in result.rows}.isdisjoint({d.key for d in result.dropped})
    assert all(r.group_code for r in result.rows)
    assert result.error_count > 0 and len(result.dropped) > 0
    assert sum(result.counts_by_group().values()) == len(result.rows)

    started = time.perf_counter()
    again = check_list(rows, HANOI)
    print(f"5,000 rows re-checked in {(time.perf_counter() - started) * 1000:.0f} ms")
    assert again == result


_ADDRESS_PART = st.text(alphabet="abcxyz019._+-", min_size=1, max_size=70)
_LABEL = st.text(alphabet="abz09-", min_size=1, max_size=66)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(local=_ADDRESS_PART, labels=st.lists(_LABEL, min_size=1, max_size=3),
       tld=st.sampled_from(["vn", "com", "gov", "org", "net", "edu", "info", "int", "local", "test", "x1"]))
def test_the_quick_address_check_agrees_with_email_validator(local, labels, tld):
    address = f"{local}@{'.'.join([*labels, tld])}"
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=False)
        expected = True
    except EmailNotValidError:
        expected = False
    assert rr._email_syntax_ok.__wrapped__(address) is expected
