"""A province's departments in a campaign: added by the province, edited by the ministry.

Provinces differ: Hà Nội has a Sở Du lịch and a Sở Văn hóa và Thể thao where most provinces have one
Sở Văn hóa, Thể thao và Du lịch. Within the current campaign a province adds the department its list needs,
choosing its parent ministry from the campaign's list (the parent decides the second form its leaders answer);
the ministry sees every such addition, and edits any province's departments of a campaign not yet closed: adds,
renames, changes the parent ministry, retires. Every change is audited and a draft list is checked again at once
so its rows pick the change up. A closed campaign's departments, like the rest of it, stay as they were.
The rows are per campaign (portal/domain/campaign_departments.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from portal.domain import audit, campaign_departments, lists
from portal.domain.campaigns import PastCampaign, require_current
from portal.domain.notices import post_system_notice
from portal.domain.text import clean, fold
from portal.models import (
    Campaign,
    CampaignMinistry,
    Department,
    DepartmentType,
    ListStatus,
    Ministry,
    MinistryNotice,
    Province,
    Respondent,
    RespondentList,
    User,
    utcnow,
)

NAME_LIMIT = 200


class DepartmentError(Exception):
    """A department cannot be added or changed as asked; `message` says why, in Vietnamese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def ministries(session: Session, campaign_id: int) -> list[Ministry]:
    """The campaign's ministries and ministerial-level agencies, in the government's order, to choose a parent from."""
    return campaign_departments.ministries_of(session, campaign_id)


def of_province(session: Session, campaign_id: int, province_id: int, *,
                with_retired: bool = False) -> list[tuple[Department, Ministry]]:
    """The province's departments in the campaign with their parent ministry, in the order they were added."""
    return campaign_departments.departments_of(session, campaign_id, province_id, with_retired=with_retired)


def guess_ministry(session: Session, name: str, campaign_id: int | None = None) -> int | None:
    """The parent ministry of a known department type with this name ("Sở Du lịch" → Bộ VHTTDL), when that
    ministry is on the campaign's list (any ministry without a campaign)."""
    wanted = fold(name)
    on_list = {m.id for m in ministries(session, campaign_id)} if campaign_id is not None else None
    for dtype in session.exec(select(DepartmentType).order_by(DepartmentType.id)):
        if fold(dtype.name) == wanted and (on_list is None or dtype.ministry_id in on_list):
            return dtype.ministry_id
    return None


def require_editable(session: Session, campaign_id: int) -> Campaign:
    """The campaign when the ministry may still change its departments: current or prepared, not closed or a
    template. Raises PastCampaign otherwise."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.is_template or campaign.closed_at is not None:
        raise PastCampaign(campaign)
    return campaign


def _checked(session: Session, campaign_id: int, province_id: int, name: str, ministry_id: int | None,
             keep_id: int | None = None) -> tuple[str, Ministry]:
    name = clean(name)
    if not name:
        raise DepartmentError("Vui lòng nhập tên sở, ngành (ví dụ: Sở Du lịch).")
    if len(name) > NAME_LIMIT:
        raise DepartmentError(f"Tên sở, ngành dài quá {NAME_LIMIT} ký tự.")
    ministry = campaign_departments.in_campaign(session, campaign_id, ministry_id)
    if ministry is None:
        raise DepartmentError("Vui lòng chọn bộ, ngành chủ quản trong danh sách: lãnh đạo sở sẽ trả lời phiếu "
                              "đánh giá bộ chủ quản đó.")
    for other in session.exec(select(Department).where(Department.campaign_id == campaign_id,
                                                       Department.province_id == province_id)):
        if other.id != keep_id and fold(other.name) == fold(name):
            retired = " (đã ngừng sử dụng)" if other.retired_at else ""
            raise DepartmentError(f"“{other.name}”{retired} đã có trong danh mục sở, ngành của tỉnh.")
    return name, ministry


def _recheck_draft(session: Session, campaign: Campaign | None, province: Province) -> None:
    """Check the province's unsent list again, so rows naming the department find it (or lose it)."""
    if campaign is None:
        return
    rlist = lists.list_for(session, campaign, province.id)
    if rlist is not None and rlist.status != ListStatus.SENT:
        lists.recheck(session, rlist, campaign, province, "Danh mục sở, ngành thay đổi")


def add_department(
    session: Session, user: User, province: Province, campaign: Campaign, name: str,
    ministry_id: int | None, *, now: datetime | None = None,
) -> Department:
    """The province adds a department to its list of departments in the current campaign (PastCampaign for any
    other), tells the ministry, checks the draft again."""
    require_current(session, campaign.id)
    name, ministry = _checked(session, campaign.id, province.id, name, ministry_id)
    now = now or utcnow()
    department = Department(campaign_id=campaign.id, province_id=province.id, ministry_id=ministry.id, name=name,
                            source=f"Tỉnh bổ sung ({user.username})", added_by_id=user.id, added_at=now)
    session.add(department)
    session.flush()
    audit.record(session, user, "Thêm sở, ngành vào danh mục của tỉnh", province_id=province.id,
                 detail=f"{name} (bộ chủ quản: {ministry.name}; {campaign.name})")
    session.add(MinistryNotice(title=f"{province.name} thêm “{name}” vào danh mục sở, ngành",
                               body=f"Bộ chủ quản: {ministry.name}. Xem và sửa ở trang “Sở, ngành do tỉnh bổ sung”.",
                               province_id=province.id, created_at=now))
    _recheck_draft(session, campaign, province)
    session.commit()
    return department


def ministry_adds_department(session: Session, actor: User, campaign: Campaign, province: Province, name: str,
                             ministry_id: int | None, reason: str = "") -> Department:
    """The ministry adds a department to a province's list in a campaign not yet closed; audited, the province told."""
    require_editable(session, campaign.id)
    name, ministry = _checked(session, campaign.id, province.id, name, ministry_id)
    department = Department(campaign_id=campaign.id, province_id=province.id, ministry_id=ministry.id, name=name,
                            source="Bộ Nội vụ bổ sung", added_at=utcnow())
    session.add(department)
    session.flush()
    audit.record(session, actor, "Bộ Nội vụ thêm sở, ngành của tỉnh", province_id=province.id,
                 detail=f"{name} (bộ chủ quản: {ministry.name}; {campaign.name})", reason=clean(reason))
    _recheck_draft(session, _current_or_none(campaign), province)
    session.commit()
    _tell(session, campaign, province, "Bộ Nội vụ thêm một sở, ngành vào danh mục của tỉnh",
          f"{name} (bộ chủ quản: {ministry.name}).", reason)
    return department


def retire_department(session: Session, actor: User, department: Department, reason: str = "") -> None:
    """The ministry retires a department (merged away, dissolved) in a campaign not yet closed: lists of that
    campaign may no longer name it; people already listed under it are flagged by the draft's check."""
    campaign = require_editable(session, department.campaign_id)
    if department.retired_at is not None:
        raise DepartmentError(f"“{department.name}” đã ngừng sử dụng từ trước.")
    province = session.get(Province, department.province_id)
    assert province is not None
    department.retired_at = utcnow()
    session.add(department)
    audit.record(session, actor, "Ngừng sử dụng sở, ngành của tỉnh", province_id=province.id,
                 detail=f"{department.name} ({campaign.name})", reason=clean(reason))
    _recheck_draft(session, _current_or_none(campaign), province)
    session.commit()
    _tell(session, campaign, province, "Bộ Nội vụ ngừng sử dụng một sở, ngành trong danh mục của tỉnh",
          f"{department.name}: danh sách đối tượng khảo sát không dùng tên này nữa.", reason)


def _current_or_none(campaign: Campaign) -> Campaign | None:
    """Only the current campaign has lists being drafted."""
    return campaign if campaign.is_current else None


def _tell(session: Session, campaign: Campaign, province: Province, title: str, body: str, reason: str) -> None:
    """A notice to the province about a change of the current campaign (a prepared one has no one working on it)."""
    if not campaign.is_current:
        return
    if clean(reason):
        body += f"\nLý do: {clean(reason)}"
    post_system_notice(session, province.id, title, body)


@dataclass
class Addition:
    department: Department
    province: Province
    ministry: Ministry
    added_by: User | None
    people: int  # rows of lists that name it


def additions(session: Session, campaign_id: int, *, province_id: int | None = None) -> list[Addition]:
    """Every department a province added in the campaign, newest first, for the ministry to review."""
    query = (select(Department, Province, Ministry, User)
             .join(Province, Province.id == Department.province_id)
             .join(Ministry, Ministry.id == Department.ministry_id)
             .join(User, User.id == Department.added_by_id, isouter=True)
             .where(Department.campaign_id == campaign_id, col(Department.added_by_id).is_not(None)))
    if province_id:
        query = query.where(Department.province_id == province_id)
    rows = session.exec(query.order_by(Department.added_at.desc(), Department.id.desc())).all()
    counts: dict[int, int] = {}
    ids = [d.id for d, *_ in rows]
    if ids:
        for department_id in session.exec(select(Respondent.department_id)
                                          .where(Respondent.department_id.in_(ids))):
            counts[department_id] = counts.get(department_id, 0) + 1
    return [Addition(d, p, m, u, counts.get(d.id, 0)) for d, p, m, u in rows]


def correct_department(
    session: Session, actor: User, department: Department, name: str, ministry_id: int | None, reason: str = "",
) -> None:
    """The ministry renames a department or changes its parent ministry, in a campaign not yet closed.

    People listed under it in that campaign follow: their unit reads the new name and, for those answering the
    second form, their ministry changes with it. The province is told; the change is audited. Another campaign's
    row of the same department, and so its lists, stays as it was.
    """
    campaign = require_editable(session, department.campaign_id)
    province = session.get(Province, department.province_id)
    assert province is not None
    old_name, old_ministry = department.name, session.get(Ministry, department.ministry_id)
    name, ministry = _checked(session, campaign.id, department.province_id, name, ministry_id, keep_id=department.id)
    if name == old_name and ministry.id == department.ministry_id:
        raise DepartmentError("Không có gì thay đổi: tên và bộ chủ quản vẫn như cũ.")
    department.name = name
    department.ministry_id = ministry.id
    session.add(department)
    lists_of_campaign = select(RespondentList.id).where(RespondentList.province_id == province.id,
                                                        RespondentList.campaign_id == campaign.id)
    session.exec(update(Respondent).where(Respondent.department_id == department.id,
                                          Respondent.list_id.in_(lists_of_campaign)).values(unit=name))
    session.exec(update(Respondent).where(Respondent.department_id == department.id,
                                          Respondent.list_id.in_(lists_of_campaign),
                                          Respondent.answers_ministry_form == True)  # noqa: E712
                 .values(ministry_id=ministry.id))
    session.exec(update(RespondentList).where(RespondentList.id.in_(lists_of_campaign))
                 .values(version=RespondentList.version + 1))
    old = f"{old_name} ({old_ministry.name if old_ministry else '?'})"
    action = "Sửa sở, ngành do tỉnh bổ sung" if department.added_by_id else "Sửa sở, ngành của tỉnh"
    audit.record(session, actor, action, province_id=province.id,
                 detail=f"{old} → {name} ({ministry.name})", reason=clean(reason))
    _recheck_draft(session, _current_or_none(campaign), province)
    session.commit()
    _tell(session, campaign, province, "Bộ Nội vụ sửa một sở, ngành trong danh mục của tỉnh",
          f"Trước: {old}. Nay: {name} (bộ chủ quản: {ministry.name}).", reason)


@dataclass(frozen=True)
class ProvinceCount:
    active: int = 0
    retired: int = 0
    added: int = 0  # by the province itself


def counts_by_province(session: Session, campaign_id: int) -> dict[int, ProvinceCount]:
    """How many departments each province has in the campaign (in use, retired, added by the province)."""
    counts: dict[int, list[int]] = {}
    for province_id, retired_at, added_by_id in session.exec(
            select(Department.province_id, Department.retired_at, Department.added_by_id)
            .where(Department.campaign_id == campaign_id)):
        row = counts.setdefault(province_id, [0, 0, 0])
        row[1 if retired_at else 0] += 1
        row[2] += 1 if added_by_id else 0
    return {province_id: ProvinceCount(*row) for province_id, row in counts.items()}


# ---------------------------------------------------------------- the campaign's list of ministries

KINDS = {"bo": "Bộ", "co_quan_ngang_bo": "Cơ quan ngang bộ"}


def add_ministry(session: Session, actor: User, campaign: Campaign, name: str, kind: str) -> Ministry:
    """Put a ministry on the campaign's list (a campaign not yet closed), at its end; audited.

    A ministry the portal already knows by that name (another campaign's) is the same row: its answers are
    counted under one code across the years. Otherwise a new one is made, with a code of its own.
    """
    require_editable(session, campaign.id)
    name = clean(name)
    if not name:
        raise DepartmentError("Vui lòng nhập tên bộ, cơ quan ngang bộ (ví dụ: Bộ Nông nghiệp và Môi trường).")
    if len(name) > NAME_LIMIT:
        raise DepartmentError(f"Tên bộ, cơ quan ngang bộ dài quá {NAME_LIMIT} ký tự.")
    if kind not in KINDS:
        raise DepartmentError("Vui lòng chọn: bộ hay cơ quan ngang bộ.")
    on_list = ministries(session, campaign.id)
    if any(fold(m.name) == fold(name) for m in on_list):
        raise DepartmentError(f"“{name}” đã có trong danh sách bộ, ngành của đợt này.")
    ministry = next((m for m in session.exec(select(Ministry)) if fold(m.name) == fold(name)), None)
    if ministry is None:
        ministry = Ministry(code=_new_code(session, name), name=name, kind=kind)
        session.add(ministry)
        session.flush()
    position = max((link.position for link in session.exec(
        select(CampaignMinistry).where(CampaignMinistry.campaign_id == campaign.id))), default=0) + 1
    session.add(CampaignMinistry(campaign_id=campaign.id, ministry_id=ministry.id, position=position))
    audit.record(session, actor, "Thêm bộ, ngành vào danh sách của đợt", detail=f"{ministry.name} ({campaign.name})")
    session.commit()
    return ministry


def _new_code(session: Session, name: str) -> str:
    """"Bộ Nông nghiệp và Môi trường" -> "BNNVMT" (the initials), made unique with a number when taken."""
    initials = "".join(word[0] for word in fold(name).split() if word[0].isalnum()).upper()[:12] or "BO"
    taken = set(session.exec(select(Ministry.code)))
    code, number = initials, 2
    while code in taken:
        code, number = f"{initials}{number}", number + 1
    return code


def remove_ministry(session: Session, actor: User, campaign: Campaign, ministry_id: int) -> Ministry:
    """Take a ministry off the campaign's list (merged away); refused while a department of the campaign in use
    answers to it. Audited; the ministry itself stays, for the campaigns that have it."""
    require_editable(session, campaign.id)
    link = session.exec(select(CampaignMinistry).where(CampaignMinistry.campaign_id == campaign.id,
                                                       CampaignMinistry.ministry_id == ministry_id)).first()
    ministry = session.get(Ministry, ministry_id)
    if link is None or ministry is None:
        raise DepartmentError("Bộ, ngành này không có trong danh sách của đợt.")
    used = session.exec(select(func.count()).select_from(Department).where(
        Department.campaign_id == campaign.id, Department.ministry_id == ministry_id,
        col(Department.retired_at).is_(None))).one()
    if used:
        raise DepartmentError(f"Còn {used} sở, ngành của các tỉnh thuộc “{ministry.name}”: đổi bộ chủ quản của "
                              "các sở, ngành đó (hoặc ngừng sử dụng) trước khi bỏ bộ, ngành này khỏi danh sách.")
    session.delete(link)
    audit.record(session, actor, "Bỏ bộ, ngành khỏi danh sách của đợt", detail=f"{ministry.name} ({campaign.name})")
    session.commit()
    return ministry
