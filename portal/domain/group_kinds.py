"""What unit a respondent group names, as campaign data (pure: no database, no Flask).

Every rule that used to recognise the 2021 groups by their codes (HDND, LD_SO, LD_PHONG, LD_HUYEN) reads the
group's unit kind and its council flag instead, so a campaign whose fourth group is commune leaders, or a
province's own index of its departments and communes, needs no code change:

* ``council``: deputies of a council; the position is free text (a deputy lists a main job) and the unit is
  optional free text.
* ``department``: the unit must be one of the province's departments (or equivalent agencies).
* ``division``: a division inside a department; the unit is the department. "Giám đốc Trung tâm …" of a
  department's unit counts here.
* ``district`` / ``commune``: the unit must be a lower-level unit of the province in the campaign's map
  (districts before 1 July 2025, wards and communes after).
* ``none``: no unit to check; the unit is optional free text.

The council flag (``council_priority``) is separate: the group whose row is kept when one person is listed in
two groups.
"""

from __future__ import annotations

from collections.abc import Iterable

from portal.domain.text import fold

COUNCIL, DEPARTMENT, DIVISION = "council", "department", "division"
DISTRICT, COMMUNE, NONE = "district", "commune", "none"

#: unit kind -> how the ministry's page names it
UNIT_KIND_LABELS: dict[str, str] = {
    COUNCIL: "Hội đồng nhân dân (đơn vị ghi tự do)",
    DEPARTMENT: "Sở, ngành của tỉnh",
    DIVISION: "Phòng thuộc sở (đơn vị là sở)",
    DISTRICT: "Quận, huyện (bản đồ trước 01/7/2025)",
    COMMUNE: "Xã, phường, đặc khu (bản đồ từ 01/7/2025)",
    NONE: "Không gắn đơn vị (ghi tự do)",
}
UNIT_KINDS: tuple[str, ...] = tuple(UNIT_KIND_LABELS)

#: kinds whose unit is a lower-level unit of the campaign's map
LOWER_UNIT_KINDS = frozenset({DISTRICT, COMMUNE})
#: kinds whose unit is a department of the province
DEPARTMENT_KINDS = frozenset({DEPARTMENT, DIVISION})


def is_council_name(name: str) -> bool:
    """True when a group's name says it is the People's Council's deputies."""
    folded = fold(name)
    return "hoi dong nhan dan" in folded or "hdnd" in folded.split()


def infer_unit_kind(name: str, title_keys: Iterable[tuple[str, ...]]) -> str:
    """The unit kind of a group given without one (hand-built rules input, rows older than the data).

    `title_keys` are the group's position titles as the rules' position keys ("Chủ tịch UBND huyện" reads
    ("ct", "ubnd", "huyen")). The council by its name; the group listing "Chủ tịch UBND …" names a lower-level
    unit (by the group's name when it lists no positions); the one listing "Trưởng phòng" a division.
    """
    if is_council_name(name):
        return COUNCIL
    keys = list(title_keys)
    words = fold(name).split()
    if any(key[:2] == ("ct", "ubnd") for key in keys) or (not keys and "huyen" in words):
        return COMMUNE if ("xa" in words or "phuong" in words) and "huyen" not in words else DISTRICT
    if any(key == ("tp",) for key in keys):
        return DIVISION
    return DEPARTMENT
