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

from portal.domain import campaign_departments, units
from portal.domain.text import clean, fold
from portal.models import (
    Campaign,
    CampaignProvince,
    District,
    PositionTitle,
    Province,
    RespondentGroup,
)

SEED = Path(str(resources.files("portal") / "seed"))


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


def load_reference_data(session: Session) -> dict[str, int]:
    """Insert every missing reference row; returns how many rows of each kind were added."""
    added = {
        "ministries": campaign_departments.load_ministries(session),
        "department_types": campaign_departments.load_department_types(session),
        "provinces": 0,
        "districts": 0,
    }
    added["provinces"], added["districts"] = _load_divisions(session)
    added["provinces_2025"], added["communes_2025"] = units.load_units_2025(session)
    added["departments"] = 0  # counted below, once the campaign they belong to is there
    campaign, added["campaigns"] = _load_campaign_2021(session)
    if session.exec(select(CampaignProvince.id).where(CampaignProvince.campaign_id == campaign.id)).first() is None:
        units.assign_map(session, campaign, units.MAP_2021)
    # The 2021 campaign's ministries and departments (assign_map gives them to a new map; a newer seed file's
    # rows reach an install made before it here).
    _links, added["departments"] = campaign_departments.seed(session, campaign, units.MAP_2021)
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


def load_groups(session: Session, campaign: Campaign) -> tuple[int, int]:
    """Give `campaign` the four 2021 respondent groups and their position titles, if it has none."""
    if session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id)).first():
        return 0, 0
    groups: dict[str, RespondentGroup] = {}
    for row in read_seed("respondent-groups-2021.csv"):
        forms = {f.strip() for f in row["forms"].split(";")}
        group = RespondentGroup(campaign_id=campaign.id, code=row["code"], number=int(row["priority"]),
                                name=row["name"], who=row["who"], answers_locality_form="locality" in forms,
                                answers_ministry_form="ministry" in forms)
        session.add(group)
        groups[group.code] = group
    session.flush()
    positions = 0
    for row in read_seed("positions-2021.csv"):
        session.add(PositionTitle(group_id=groups[row["group"]].id, title=row["title"],
                                  common_forms=row["common_forms"], note=row["note"]))
        positions += 1
    session.flush()
    return len(groups), positions
