"""Each campaign's map: the provinces it assesses and their lower-level units.

A map is a set of provinces (CampaignProvince rows of one campaign), each with the kind of its lower-level
units and the named set of units they come from (District rows of one `unit_map`):

- the 2021 map: 63 provinces and their 696 districts (portal/seed/divisions-2021.csv, kept from
  `vietnam-provinces` 0.6.0, since the package no longer carries them);
- the 2025 map: 34 provinces and their 3,321 wards, communes and special zones, read from the installed
  `vietnam-provinces` 2025.10.x.

Units are shared by the campaigns on the same map (3,321 rows are loaded once, not per campaign); what is
per campaign is which provinces it assesses, how it names them and which unit set each one uses. Nothing
here assumes the ministry organises the campaign: a province's own index would be a campaign whose map has
that one province.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from portal.domain import campaign_departments
from portal.models import Campaign, CampaignProvince, District, Province

MAP_2021 = "2021"
MAP_2025 = "2025"

UNIT_KIND_DISTRICT = "district"
UNIT_KIND_COMMUNE = "commune"


@dataclass(frozen=True)
class UnitKind:
    """How a kind of lower-level unit reads in the portal's messages."""

    code: str
    label: str  # "quận, huyện, thị xã": coverage warnings, the map pages (the list check words its own)


UNIT_KINDS = {
    UNIT_KIND_DISTRICT: UnitKind(UNIT_KIND_DISTRICT, "quận, huyện, thị xã"),
    UNIT_KIND_COMMUNE: UnitKind(UNIT_KIND_COMMUNE, "xã, phường, đặc khu"),
}


@dataclass(frozen=True)
class MapChoice:
    """A map the ministry can start a campaign on."""

    key: str
    label: str
    unit_kind: str


MAPS = {
    MAP_2021: MapChoice(MAP_2021, "Bản đồ hành chính trước 01/7/2025: 63 tỉnh, thành phố và các quận, huyện",
                        UNIT_KIND_DISTRICT),
    MAP_2025: MapChoice(MAP_2025, "Bản đồ hành chính từ 01/7/2025: 34 tỉnh, thành phố và các xã, phường, đặc khu",
                        UNIT_KIND_COMMUNE),
}


def short_province_name(name: str) -> str:
    """'Thành phố Hà Nội' -> 'Hà Nội'; 'Tỉnh Quảng Ninh' -> 'Quảng Ninh'."""
    for prefix in ("Thành phố ", "Tỉnh "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


# ---------------------------------------------------------------- loading the maps' units


def load_units_2025(session: Session) -> tuple[int, int]:
    """Load the 2025 map's provinces and wards/communes from `vietnam-provinces`, if not loaded yet.

    A province code the portal does not know yet gets a Province row (slug from the package's codename:
    also its account's user name). Returns (provinces added, units added). One bulk insert: 3,321 rows.
    """
    from portal.domain.text import clean

    if session.exec(select(District.id).where(District.unit_map == MAP_2025)).first() is not None:
        return 0, 0
    known = set(session.exec(select(Province.id)))
    slugs = set(session.exec(select(Province.slug)))
    provinces_added = 0
    rows: list[dict] = []
    for item in _package_2025():
        name = _full_province_name_2025(item)
        if item["code"] not in known:
            slug = item["codename"].replace("_", "-")
            session.add(Province(id=item["code"], name=name, short_name=short_province_name(name),
                                 slug=slug if slug not in slugs else f"{slug}-{item['code']}",
                                 is_centrally_run=item["division_type"] == "thành phố trung ương"))
            provinces_added += 1
        for ward in item["wards"]:
            rows.append({"province_id": item["code"], "name": clean(ward["name"]),
                         "division_type": ward["division_type"], "unit_map": MAP_2025, "code": ward["code"]})
    session.flush()
    session.execute(insert(District), rows)
    session.flush()
    return provinces_added, len(rows)


def _package_2025() -> list[dict]:
    import vietnam_provinces

    return json.loads(Path(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH).read_text(encoding="utf-8"))


def _full_province_name_2025(item: dict) -> str:
    from portal.domain.text import clean

    name = clean(item["name"])
    if name.startswith(("Thành phố ", "Tỉnh ")):
        return name
    return f"Tỉnh {name}" if item["division_type"] == "tỉnh" else name


# ---------------------------------------------------------------- a campaign's map


def assign_map(session: Session, campaign: Campaign, key: str) -> int:
    """Give `campaign` the whole of map `key` ("2021" or "2025"); returns how many provinces it assesses.

    The campaign must have no map yet. The 2021 map is the portal's 63 provinces as loaded from the seed;
    the 2025 map the package's 34, named as the package names them.
    """
    if key == MAP_2025:
        load_units_2025(session)
        names = {item["code"]: _full_province_name_2025(item) for item in _package_2025()}
        rows = [CampaignProvince(campaign_id=campaign.id, province_id=code, name=name,
                                 short_name=short_province_name(name), unit_map=MAP_2025, unit_kind=UNIT_KIND_COMMUNE)
                for code, name in names.items()]
    elif key == MAP_2021:
        in_map = set(session.exec(select(District.province_id).where(District.unit_map == MAP_2021)))
        rows = [CampaignProvince(campaign_id=campaign.id, province_id=p.id, name=p.name, short_name=p.short_name,
                                 unit_map=MAP_2021, unit_kind=UNIT_KIND_DISTRICT)
                for p in session.exec(select(Province).order_by(Province.id)) if p.id in in_map]
    else:
        raise ValueError(f"unknown map {key!r}")
    session.add_all(rows)
    session.flush()
    # The ministries and departments of the map's time come with it (editable afterwards, per campaign).
    campaign_departments.seed(session, campaign, key)
    return len(rows)


def copy_map(session: Session, source: Campaign, campaign: Campaign) -> int:
    """Give `campaign` the same map as `source` (its provinces, names and units, its ministries and the provinces'
    departments); returns the provinces."""
    rows = [CampaignProvince(campaign_id=campaign.id, province_id=r.province_id, name=r.name,
                             short_name=r.short_name, unit_map=r.unit_map, unit_kind=r.unit_kind)
            for r in map_rows(session, source)]
    session.add_all(rows)
    session.flush()
    campaign_departments.copy(session, source, campaign)
    return len(rows)


def map_rows(session: Session, campaign: Campaign) -> list[CampaignProvince]:
    """The campaign's provinces in code order.

    A campaign made by hand without a map (never through the portal's pages) counts as on the 2021 map, as
    every campaign before maps was; its rows are built, not saved.
    """
    rows = list(session.exec(select(CampaignProvince).where(CampaignProvince.campaign_id == campaign.id)
                             .order_by(CampaignProvince.province_id)))
    if rows:
        return rows
    return [CampaignProvince(campaign_id=campaign.id, province_id=p.id, name=p.name, short_name=p.short_name,
                             unit_map=MAP_2021, unit_kind=UNIT_KIND_DISTRICT)
            for p in session.exec(select(Province).where(Province.is_active).order_by(Province.id))]


def province_ids(session: Session, campaign: Campaign) -> set[int]:
    """The ids of the provinces the campaign assesses."""
    return {r.province_id for r in map_rows(session, campaign)}


def provinces_of(session: Session, campaign: Campaign) -> list[Province]:
    """The provinces the campaign assesses, in code order: the rows of national tables and notices."""
    ids = province_ids(session, campaign)
    return [p for p in session.exec(select(Province).order_by(Province.id)) if p.id in ids]


def map_entry(session: Session, campaign: Campaign, province_id: int) -> CampaignProvince | None:
    """The province as the campaign's map has it, or None when the campaign does not assess it.

    One indexed lookup: every request of a province's work asks it.
    """
    entry = session.exec(select(CampaignProvince).where(CampaignProvince.campaign_id == campaign.id,
                                                        CampaignProvince.province_id == province_id)).first()
    if entry is not None:
        return entry
    if session.exec(select(CampaignProvince.id).where(CampaignProvince.campaign_id == campaign.id)).first():
        return None
    return next((r for r in map_rows(session, campaign) if r.province_id == province_id), None)


def units_of(session: Session, campaign: Campaign, province_id: int) -> list[District]:
    """The province's lower-level units in the campaign's map (none when it does not assess the province)."""
    entry = map_entry(session, campaign, province_id)
    if entry is None or not entry.unit_map:
        return []
    return list(session.exec(select(District).where(District.province_id == province_id,
                                                    District.unit_map == entry.unit_map)
                             .order_by(District.code)))


def unit_kind_of(session: Session, campaign: Campaign, province_id: int) -> UnitKind | None:
    """The kind of the province's lower-level units in the campaign's map."""
    entry = map_entry(session, campaign, province_id)
    return UNIT_KINDS.get(entry.unit_kind) if entry is not None else None


@dataclass(frozen=True)
class MapLine:
    entry: CampaignProvince
    units: int
    by_type: dict[str, int]  # "xã" -> 2621 …


@dataclass(frozen=True)
class MapSummary:
    """What the ministry reads of a campaign's map."""

    lines: list[MapLine]
    units: int
    by_type: dict[str, int]
    kinds: list[str]  # labels of the unit kinds in use

    @property
    def provinces(self) -> int:
        return len(self.lines)


def summary(session: Session, campaign: Campaign) -> MapSummary:
    """The campaign's provinces with how many lower-level units of each type each has."""
    rows = map_rows(session, campaign)
    maps = {r.unit_map for r in rows if r.unit_map}
    counts: dict[tuple[str, int, str], int] = {}
    if maps:
        for unit_map, province_id, division_type, count in session.exec(
                select(District.unit_map, District.province_id, District.division_type, func.count())
                .where(col(District.unit_map).in_(maps))
                .group_by(District.unit_map, District.province_id, District.division_type)):
            counts[(unit_map, province_id, division_type)] = count
    lines = []
    total: dict[str, int] = {}
    for row in rows:
        by_type = {t: n for (m, p, t), n in sorted(counts.items()) if m == row.unit_map and p == row.province_id}
        for kind, n in by_type.items():
            total[kind] = total.get(kind, 0) + n
        lines.append(MapLine(row, sum(by_type.values()), by_type))
    kinds = sorted({UNIT_KINDS[r.unit_kind].label for r in rows if r.unit_kind in UNIT_KINDS})
    return MapSummary(lines, sum(total.values()), total, kinds)


def map_label(session: Session, campaign: Campaign) -> str:
    """"34 tỉnh, thành phố; 3.321 xã, phường, đặc khu": one line for the campaign list."""
    info = summary(session, campaign)
    units = f"{info.units:,}".replace(",", ".")
    return f"{info.provinces} tỉnh, thành phố; {units} {' / '.join(info.kinds) or 'đơn vị cấp dưới'}"
