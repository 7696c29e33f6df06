"""Loading a campaign's reference data into the database as editable rows.

The facts come from the project's seed files (portal/seed/, copied from the
ministry's 2021 documents; the 63 provinces and their districts of the 2021 map,
kept from `vietnam-provinces` 0.6.0) and from the `vietnam-provinces` package
(the 2025 map: 34 provinces and their wards and communes; see domain/units.py).
Loading is idempotent and only inserts what is missing, so running it again never
undoes the ministry's edits.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from importlib import resources
from pathlib import Path

from sqlmodel import Session, select

from portal.domain import units
from portal.domain.text import clean, fold
from portal.models import (
    Campaign,
    CampaignProvince,
    Department,
    DepartmentType,
    District,
    Ministry,
    PositionTitle,
    Province,
    Respondent,
    RespondentGroup,
)

SEED = Path(str(resources.files("portal") / "seed"))

# Department types a province has only in particular cases; the ministry adds them where needed.
_NOT_EVERYWHERE = {"SVHTT", "SDL", "SQHKT"}
_SQHKT_PROVINCES = {"ha-noi", "ho-chi-minh"}


def read_seed(name: str) -> list[dict[str, str]]:
    """Rows of one seed CSV (UTF-8) as dicts."""
    with (SEED / name).open(encoding="utf-8", newline="") as handle:
        return [{k: clean(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def slugify(name: str) -> str:
    """'Bà Rịa - Vũng Tàu' -> 'ba-ria-vung-tau'."""
    return re.sub(r"[^a-z0-9]+", "-", fold(name)).strip("-")


def _district_type(name: str) -> str:
    for prefix, kind in (("Quận ", "quận"), ("Huyện ", "huyện"), ("Thị xã ", "thị xã"), ("Thành phố ", "thành phố")):
        if name.startswith(prefix):
            return kind
    return "huyện"


def localise_department_name(name: str, province: Province) -> str:
    """In centrally-run cities 'tỉnh' reads 'thành phố': 'Thanh tra tỉnh' -> 'Thanh tra thành phố'."""
    if province.is_centrally_run:
        return re.sub(r"\btỉnh\b", "thành phố", name)
    return name


def load_reference_data(session: Session) -> dict[str, int]:
    """Insert every missing reference row; returns how many rows of each kind were added."""
    added = {
        "ministries": _load_ministries(session),
        "department_types": _load_department_types(session),
        "provinces": 0,
        "districts": 0,
    }
    added["provinces"], added["districts"] = _load_divisions(session)
    added["provinces_2025"], added["communes_2025"] = units.load_units_2025(session)
    added["departments"] = _load_departments(session) + _load_province_departments(session)
    campaign, added["campaigns"] = _load_campaign_2021(session)
    if session.exec(select(CampaignProvince.id).where(CampaignProvince.campaign_id == campaign.id)).first() is None:
        units.assign_map(session, campaign, units.MAP_2021)
    added["groups"], added["positions"] = load_groups(session, campaign)
    session.commit()
    added["frameworks"] = _load_sample_framework(session, campaign)
    return added


def _load_sample_framework(session: Session, campaign: Campaign) -> int:
    """The sample criteria framework for the 2021 campaign (copied with it into a new campaign)."""
    from portal.domain import framework

    if framework.current_version(session, campaign) is not None:
        return 0
    framework.load_sample(session, campaign)
    return 1


def _load_ministries(session: Session) -> int:
    known = set(session.exec(select(Ministry.code)))
    rows = [Ministry(code=r["code"], name=r["name"], kind=r["kind"]) for r in read_seed("ministries-2021.csv")
            if r["code"] not in known]
    session.add_all(rows)
    session.flush()
    return len(rows)


def _load_department_types(session: Session) -> int:
    ministries = {m.code: m.id for m in session.exec(select(Ministry))}
    known = set(session.exec(select(DepartmentType.code)))
    rows = [
        DepartmentType(code=r["code"], name=r["name"], ministry_id=ministries[r["parent_ministry"]], note=r["note"],
                       seeded_everywhere=r["code"] not in _NOT_EVERYWHERE)
        for r in read_seed("department-types-2021.csv")
        if r["code"] not in known
    ]
    session.add_all(rows)
    session.flush()
    return len(rows)


def _load_divisions(session: Session) -> tuple[int, int]:
    """The 2021 map: 63 provinces and their districts (seed/divisions-2021.csv, see seed/README.md)."""
    rows = read_seed("divisions-2021.csv")
    known_provinces = set(session.exec(select(Province.id)))
    known_districts = set(session.exec(select(District.code).where(District.unit_map == units.MAP_2021)))
    provinces = districts = 0
    for row in rows:
        code = int(row["province_code"])
        if code not in known_provinces:
            name = row["province_name"]
            short = units.short_province_name(name)
            session.add(Province(id=code, name=name, short_name=short, slug=slugify(short),
                                 is_centrally_run=name.startswith("Thành phố ")))
            known_provinces.add(code)
            provinces += 1
    session.flush()
    for row in rows:
        code = int(row["unit_code"])
        if code in known_districts:
            continue
        session.add(District(province_id=int(row["province_code"]), name=row["unit_name"],
                             division_type=_district_type(row["unit_name"]), unit_map=units.MAP_2021, code=code))
        districts += 1
    session.flush()
    return provinces, districts


def _load_departments(session: Session) -> int:
    types = list(session.exec(select(DepartmentType).order_by(DepartmentType.id)))
    existing = {(d.province_id, d.department_type_id) for d in session.exec(select(Department))}
    replaced = {(r["province"], r["replaces"]) for r in read_seed("province-departments-2021.csv") if r["replaces"]}
    count = 0
    for province in session.exec(select(Province)):
        for dtype in types:
            wanted = dtype.seeded_everywhere or (dtype.code == "SQHKT" and province.slug in _SQHKT_PROVINCES)
            wanted = wanted and (province.slug, dtype.code) not in replaced
            if wanted and (province.id, dtype.id) not in existing:
                session.add(Department(province_id=province.id, department_type_id=dtype.id,
                                       ministry_id=dtype.ministry_id,
                                       name=localise_department_name(dtype.name, province)))
                count += 1
    session.flush()
    return count


def _load_province_departments(session: Session) -> int:
    """Departments particular to one province (seed/province-departments-2021.csv, each with its source).

    Where such a department replaces a generic one (Hà Nội's Sở Văn hóa và Thể thao and Sở Du lịch instead
    of one Sở Văn hóa, Thể thao và Du lịch), the generic one is removed, unless a list already names it.
    """
    ministries = {m.code: m.id for m in session.exec(select(Ministry))}
    types = {t.code: t.id for t in session.exec(select(DepartmentType))}
    provinces = {p.slug: p for p in session.exec(select(Province))}
    count = 0
    for row in read_seed("province-departments-2021.csv"):
        province = provinces.get(row["province"])
        if province is None:
            continue
        names = {fold(d.name): d for d in session.exec(select(Department)
                                                      .where(Department.province_id == province.id))}
        if fold(row["name"]) not in names:
            session.add(Department(province_id=province.id, ministry_id=ministries[row["parent_ministry"]],
                                   name=row["name"], source=row["source"]))
            count += 1
        replaced_type = types.get(row["replaces"])
        for department in names.values():
            if replaced_type and department.department_type_id == replaced_type:
                used = session.exec(select(Respondent.id).where(Respondent.department_id == department.id)).first()
                if used is None:
                    session.delete(department)
        session.flush()
    return count


def _campaign_facts() -> tuple[dict[str, str], dict[str, str]]:
    rows = read_seed("campaign-2021.csv")
    return {row["key"]: row["value"] for row in rows}, {row["key"]: row["source"] for row in rows}


def _load_campaign_2021(session: Session) -> tuple[Campaign, int]:
    facts, sources = _campaign_facts()
    year = int(facts["year"])
    campaign = session.exec(select(Campaign).where(Campaign.year == year, Campaign.is_demo == False)).first()  # noqa: E712
    if campaign is not None:
        return campaign, 0
    # Loaded as a template to copy, never as the current campaign: its dates passed long ago, and a fresh
    # install must ask the ministry to open its own campaign rather than put provinces to work on 2021.
    campaign = Campaign(
        year=year,
        name=f"Xác định Chỉ số CCHC năm {year} (đợt mẫu)",
        is_template=True,
        plan_ref=sources["year"].split(" (")[0],
        framework_ref=facts["framework"],
        guide_ref=facts["self_assessment_guide"],
        questionnaire_ref=facts["questionnaires"],
        it_focal_deadline=date.fromisoformat(facts["it_focal_point_deadline"]),
        list_deadline=date.fromisoformat(facts["respondent_list_deadline"]),
        self_assessment_deadline=date.fromisoformat(facts["self_assessment_deadline"]),
        response_deadline=date.fromisoformat(facts["survey_response_deadline"]),
    )
    session.add(campaign)
    session.flush()
    return campaign, 1


GROUP_SETS = ("2021", "2025")  # respondent-groups-<set>.csv and positions-<set>.csv in portal/seed


def load_groups(session: Session, campaign: Campaign, group_set: str = "2021") -> tuple[int, int]:
    """Give `campaign` a shipped set of respondent groups and their position titles, if it has none.

    "2021": council deputies, department leaders, division leaders, district leaders; "2025" (the 34-province
    map, no district level): the same with commune leaders (Lãnh đạo UBND cấp xã) as the fourth group.
    """
    if session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id)).first():
        return 0, 0
    groups: dict[str, RespondentGroup] = {}
    for row in read_seed(f"respondent-groups-{group_set}.csv"):
        forms = {f.strip() for f in row["forms"].split(";")}
        group = RespondentGroup(campaign_id=campaign.id, code=row["code"], number=int(row["priority"]),
                                name=row["name"], who=row["who"], unit_kind=row["unit_kind"],
                                council_priority=row["council"] == "yes", answers_locality_form="locality" in forms,
                                answers_ministry_form="ministry" in forms)
        session.add(group)
        groups[group.code] = group
    session.flush()
    positions = 0
    for row in read_seed(f"positions-{group_set}.csv"):
        session.add(PositionTitle(group_id=groups[row["group"]].id, title=row["title"],
                                  common_forms=row["common_forms"], note=row["note"]))
        positions += 1
    session.flush()
    return len(groups), positions
