"""A province's own departments: those the reference data lacks, added by the province, corrected by the ministry.

Provinces differ: Hà Nội has a Sở Du lịch and a Sở Văn hóa và Thể thao where most provinces have one
Sở Văn hóa, Thể thao và Du lịch. A province adds the department its list needs, choosing its parent
ministry (which decides the second form its leaders answer); the ministry sees every such addition and
may correct its name or ministry. Both are audited; a draft list is checked again at once so its rows
pick the department up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, select

from portal.domain import audit, lists
from portal.domain.notices import post_system_notice
from portal.domain.text import clean, fold
from portal.models import (
    Campaign,
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


def ministries(session: Session) -> list[Ministry]:
    """Ministries and ministerial-level agencies, in the reference order, to choose a parent from."""
    return list(session.exec(select(Ministry).order_by(Ministry.id)))


def of_province(session: Session, province_id: int) -> list[tuple[Department, Ministry]]:
    """The province's departments with their parent ministry, in the reference order."""
    return list(session.exec(select(Department, Ministry).join(Ministry, Ministry.id == Department.ministry_id)
                             .where(Department.province_id == province_id).order_by(Department.id)))


def guess_ministry(session: Session, name: str) -> int | None:
    """The parent ministry of a known department type with this name ("Sở Du lịch" → Bộ VHTTDL), if any."""
    wanted = fold(name)
    for dtype in session.exec(select(DepartmentType)):
        if fold(dtype.name) == wanted:
            return dtype.ministry_id
    return None


def _checked(session: Session, province_id: int, name: str, ministry_id: int | None,
             keep_id: int | None = None) -> tuple[str, Ministry]:
    name = clean(name)
    if not name:
        raise DepartmentError("Vui lòng nhập tên sở, ngành (ví dụ: Sở Du lịch).")
    if len(name) > NAME_LIMIT:
        raise DepartmentError(f"Tên sở, ngành dài quá {NAME_LIMIT} ký tự.")
    ministry = session.get(Ministry, ministry_id) if ministry_id else None
    if ministry is None:
        raise DepartmentError("Vui lòng chọn bộ, ngành chủ quản trong danh sách: lãnh đạo sở sẽ trả lời phiếu "
                              "đánh giá bộ chủ quản đó.")
    for other in session.exec(select(Department).where(Department.province_id == province_id)):
        if other.id != keep_id and fold(other.name) == fold(name):
            raise DepartmentError(f"“{other.name}” đã có trong danh mục sở, ngành của tỉnh.")
    return name, ministry


def _recheck_draft(session: Session, campaign: Campaign | None, province: Province) -> None:
    """Check the province's unsent list again, so rows naming the department find it (or lose it)."""
    if campaign is None:
        return
    rlist = lists.list_for(session, campaign, province.id)
    if rlist is not None and rlist.status != ListStatus.SENT:
        lists.recheck(session, rlist, campaign, province, "Danh mục sở, ngành thay đổi")


def add_department(
    session: Session, user: User, province: Province, campaign: Campaign | None, name: str,
    ministry_id: int | None, *, now: datetime | None = None,
) -> Department:
    """Add a department to the province's list of departments, tell the ministry, check the draft again."""
    name, ministry = _checked(session, province.id, name, ministry_id)
    now = now or utcnow()
    department = Department(province_id=province.id, ministry_id=ministry.id, name=name,
                            source=f"Tỉnh bổ sung ({user.username})", added_by_id=user.id, added_at=now)
    session.add(department)
    session.flush()
    audit.record(session, user, "Thêm sở, ngành vào danh mục của tỉnh", province_id=province.id,
                 detail=f"{name} (bộ chủ quản: {ministry.name})")
    session.add(MinistryNotice(title=f"{province.name} thêm “{name}” vào danh mục sở, ngành",
                               body=f"Bộ chủ quản: {ministry.name}. Xem và sửa ở trang “Sở, ngành do tỉnh bổ sung”.",
                               province_id=province.id, created_at=now))
    _recheck_draft(session, campaign, province)
    session.commit()
    return department


@dataclass
class Addition:
    department: Department
    province: Province
    ministry: Ministry
    added_by: User | None
    people: int  # rows of lists that name it


def additions(session: Session, *, province_id: int | None = None) -> list[Addition]:
    """Every department a province added, newest first, for the ministry to review."""
    query = (select(Department, Province, Ministry, User)
             .join(Province, Province.id == Department.province_id)
             .join(Ministry, Ministry.id == Department.ministry_id)
             .join(User, User.id == Department.added_by_id, isouter=True)
             .where(Department.added_by_id.is_not(None)))
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
    session: Session, actor: User, department: Department, campaign: Campaign | None, name: str,
    ministry_id: int | None, reason: str = "",
) -> None:
    """The ministry corrects a department a province added: its name or parent ministry.

    People already listed under it follow: their unit reads the new name and, for those answering the
    second form, their ministry changes with it. The province is told; the change is audited.
    """
    province = session.get(Province, department.province_id)
    assert province is not None
    old_name, old_ministry = department.name, session.get(Ministry, department.ministry_id)
    name, ministry = _checked(session, department.province_id, name, ministry_id, keep_id=department.id)
    if name == old_name and ministry.id == department.ministry_id:
        raise DepartmentError("Không có gì thay đổi: tên và bộ chủ quản vẫn như cũ.")
    department.name = name
    department.ministry_id = ministry.id
    session.add(department)
    # Only the current campaign's list follows: a past year's list stays as it was sent.
    current_lists = select(RespondentList.id).where(RespondentList.province_id == province.id,
                                                    RespondentList.campaign_id == (campaign.id if campaign else -1))
    session.exec(update(Respondent).where(Respondent.department_id == department.id,
                                          Respondent.list_id.in_(current_lists)).values(unit=name))
    session.exec(update(Respondent).where(Respondent.department_id == department.id,
                                          Respondent.list_id.in_(current_lists),
                                          Respondent.answers_ministry_form == True)  # noqa: E712
                 .values(ministry_id=ministry.id))
    session.exec(update(RespondentList).where(RespondentList.id.in_(current_lists))
                 .values(version=RespondentList.version + 1))
    old = f"{old_name} ({old_ministry.name if old_ministry else '?'})"
    audit.record(session, actor, "Sửa sở, ngành do tỉnh bổ sung", province_id=province.id,
                 detail=f"{old} → {name} ({ministry.name})", reason=clean(reason))
    _recheck_draft(session, campaign, province)
    session.commit()
    body = f"Trước: {old}. Nay: {name} (bộ chủ quản: {ministry.name})."
    if clean(reason):
        body += f"\nLý do: {clean(reason)}"
    post_system_notice(session, province.id, "Bộ Nội vụ sửa một sở, ngành trong danh mục của tỉnh", body)
