"""Each campaign's ministries and each province's departments in it: reading, seeding from the portal's seed
files, and copying into a new campaign.

A campaign has its own list of ministries (the 22 ministries and ministerial-level agencies of 2021, the 17 of
the government restructured in 2025) and its own department rows per province, each with its parent ministry
from that list. The rows are the campaign's: the ministry renames, re-parents or retires a department in one
campaign (portal/domain/departments.py) and the lists of another campaign, which point to their own rows, stay
as they were. A copied campaign starts from the source's rows; a campaign made from scratch from the seed of
its map's year.
"""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from portal.domain.text import fold
from portal.models import Campaign, CampaignMinistry, CampaignProvince, Department, DepartmentType, Ministry

# Which seed files describe the government of a map's time: ministries, department types and where each is.
SEEDS = {
    "2021": ("ministries-2021.csv", "department-types-2021.csv"),
    "2025": ("ministries-2025.csv", "department-types-2025.csv"),
}
# 2021: types a province has only in particular cases (the seed's file has no column saying where).
_NOT_EVERYWHERE_2021 = {"SVHTT", "SDL", "SQHKT"}
_ONLY_2021 = {"SQHKT": {"ha-noi", "ho-chi-minh"}}
# Departments particular to one province, each with its source; some replace a generic one.
PARTICULAR = {"2021": "province-departments-2021.csv"}


def ministries_of(session: Session, campaign_id: int) -> list[Ministry]:
    """The campaign's ministries and ministerial-level agencies, in the government's order."""
    return list(session.exec(select(Ministry).join(CampaignMinistry, CampaignMinistry.ministry_id == Ministry.id)
                             .where(CampaignMinistry.campaign_id == campaign_id)
                             .order_by(CampaignMinistry.position, Ministry.id)))


def in_campaign(session: Session, campaign_id: int, ministry_id: int | None) -> Ministry | None:
    """The ministry when it is on the campaign's list, else None."""
    if not ministry_id:
        return None
    return session.exec(select(Ministry).join(CampaignMinistry, CampaignMinistry.ministry_id == Ministry.id)
                        .where(CampaignMinistry.campaign_id == campaign_id, Ministry.id == ministry_id)).first()


def departments_of(session: Session, campaign_id: int, province_id: int, *,
                   with_retired: bool = False) -> list[tuple[Department, Ministry]]:
    """The province's departments in the campaign with their parent ministry, in the order they were added."""
    query = (select(Department, Ministry).join(Ministry, Ministry.id == Department.ministry_id)
             .where(Department.campaign_id == campaign_id, Department.province_id == province_id))
    if not with_retired:
        query = query.where(col(Department.retired_at).is_(None))
    return list(session.exec(query.order_by(Department.id)))


def active_departments(session: Session, campaign_id: int, province_id: int) -> list[Department]:
    """The departments a list of the campaign may name (not retired)."""
    return [d for d, _m in departments_of(session, campaign_id, province_id)]


# ---------------------------------------------------------------- seeding


def _read(name: str) -> list[dict[str, str]]:
    from portal.domain.reference import read_seed  # reference loads the maps through units, which calls here

    return read_seed(name)


def load_ministries(session: Session) -> int:
    """Every ministry of every seed list (2021's and 2025's), once; returns how many were added."""
    known = set(session.exec(select(Ministry.code)))
    added = 0
    for ministries_file, _types in SEEDS.values():
        for row in _read(ministries_file):
            if row["code"] not in known:
                session.add(Ministry(code=row["code"], name=row["name"], kind=row["kind"]))
                known.add(row["code"])
                added += 1
    session.flush()
    return added


def load_department_types(session: Session) -> int:
    """Every kind of department of every seed list, once (a code keeps its first parent); returns the added."""
    ministries = {m.code: m.id for m in session.exec(select(Ministry))}
    known = set(session.exec(select(DepartmentType.code)))
    added = 0
    for _ministries, types_file in SEEDS.values():
        for row in _read(types_file):
            if row["code"] in known:
                continue
            everywhere = row.get("provinces", "all" if row["code"] not in _NOT_EVERYWHERE_2021 else "") == "all"
            session.add(DepartmentType(code=row["code"], name=row["name"], note=row["note"],
                                       ministry_id=ministries[row["parent_ministry"]], seeded_everywhere=everywhere))
            known.add(row["code"])
            added += 1
    session.flush()
    return added


def localise_department_name(name: str, centrally_run: bool) -> str:
    """In centrally-run cities 'tỉnh' reads 'thành phố': 'Thanh tra tỉnh' -> 'Thanh tra thành phố'."""
    return re.sub(r"\btỉnh\b", "thành phố", name) if centrally_run else name


def seed(session: Session, campaign: Campaign, key: str) -> tuple[int, int]:
    """Give the campaign the ministries and departments of the seed for map `key` ("2021", "2025"), where missing.

    Idempotent: a second run adds only what a newer seed file has. Returns (ministries linked, departments added).
    """
    ministries_file, types_file = SEEDS[key]
    load_ministries(session)
    load_department_types(session)
    by_code = {m.code: m for m in session.exec(select(Ministry))}
    linked = set(session.exec(select(CampaignMinistry.ministry_id).where(CampaignMinistry.campaign_id == campaign.id)))
    links = 0
    # The list is given once: a ministry the ministry took off the list is not put back by a later init-db.
    for position, row in enumerate(_read(ministries_file) if not linked else [], start=1):
        ministry = by_code[row["code"]]
        if ministry.id not in linked:
            session.add(CampaignMinistry(campaign_id=campaign.id, ministry_id=ministry.id, position=position))
            links += 1
    types = {t.code: t for t in session.exec(select(DepartmentType))}
    wanted: list[tuple[DepartmentType, set[str] | None]] = []  # (type, the province slugs, or None: every one)
    for row in _read(types_file):
        dtype = types[row["code"]]
        if "provinces" in row:
            where = row["provinces"]
            if where:
                wanted.append((dtype, None if where == "all" else set(where.split(";"))))
        elif row["code"] not in _NOT_EVERYWHERE_2021:
            wanted.append((dtype, None))
        elif row["code"] in _ONLY_2021:
            wanted.append((dtype, _ONLY_2021[row["code"]]))
    from portal.models import Province

    slugs = {p.id: p.slug for p in session.exec(select(Province))}
    entries = list(session.exec(select(CampaignProvince).where(CampaignProvince.campaign_id == campaign.id)))
    present = list(session.exec(select(Department).where(Department.campaign_id == campaign.id)))
    existing = {(d.province_id, d.department_type_id) for d in present}
    # A particular department is known by its name or its source: one the ministry renamed is not added again.
    names = {(d.province_id, fold(d.name)) for d in present} | {(d.province_id, d.source) for d in present if d.source}
    particular = _read(PARTICULAR[key]) if key in PARTICULAR else []
    replaced = {(r["province"], types[r["replaces"]].id) for r in particular if r["replaces"] in types}
    ministry_ids = {code: m.id for code, m in by_code.items()}
    added = 0
    # Generic departments first, then the province's particular ones: the order the template lists them in.
    for entry in entries:
        slug = slugs.get(entry.province_id)
        for dtype, where in wanted:
            if where is not None and slug not in where:
                continue
            if (entry.province_id, dtype.id) in existing or (slug, dtype.id) in replaced:
                continue
            name = localise_department_name(dtype.name, entry.name.startswith("Thành phố "))
            if (entry.province_id, fold(name)) in names:
                continue
            session.add(Department(campaign_id=campaign.id, province_id=entry.province_id, department_type_id=dtype.id,
                                   ministry_id=dtype.ministry_id, name=name))
            names.add((entry.province_id, fold(name)))
            added += 1
        for row in particular:
            if row["province"] == slug and not {(entry.province_id, fold(row["name"])),
                                                (entry.province_id, row["source"])} & names:
                session.add(Department(campaign_id=campaign.id, province_id=entry.province_id,
                                       ministry_id=ministry_ids[row["parent_ministry"]], name=row["name"],
                                       source=row["source"]))
                names.add((entry.province_id, fold(row["name"])))
                added += 1
    session.flush()
    return links, added


def copy(session: Session, source: Campaign, campaign: Campaign) -> tuple[int, int]:
    """Give `campaign` the source's ministries and the departments (not retired) of the provinces on its map.

    Returns (ministries, departments) copied. Where the new campaign already has a ministry or a department of
    that name, it is kept as it is.
    """
    have = set(session.exec(select(CampaignMinistry.ministry_id).where(CampaignMinistry.campaign_id == campaign.id)))
    links = 0
    for link in session.exec(select(CampaignMinistry).where(CampaignMinistry.campaign_id == source.id)
                             .order_by(CampaignMinistry.position)):
        if link.ministry_id not in have:
            session.add(CampaignMinistry(campaign_id=campaign.id, ministry_id=link.ministry_id, position=link.position))
            links += 1
    on_map = set(session.exec(select(CampaignProvince.province_id).where(CampaignProvince.campaign_id == campaign.id)))
    names = {(d.province_id, d.name) for d in session.exec(select(Department)
                                                           .where(Department.campaign_id == campaign.id))}
    count = 0
    for department in session.exec(select(Department).where(Department.campaign_id == source.id,
                                                            col(Department.retired_at).is_(None))
                                   .order_by(Department.id)):
        if department.province_id not in on_map or (department.province_id, department.name) in names:
            continue
        session.add(Department(campaign_id=campaign.id, province_id=department.province_id,
                               department_type_id=department.department_type_id, ministry_id=department.ministry_id,
                               name=department.name, source=department.source, added_by_id=department.added_by_id,
                               added_at=department.added_at))
        count += 1
    session.flush()
    return links, count
