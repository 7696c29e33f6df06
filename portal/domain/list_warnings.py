"""What looks incomplete in a province's respondent list before it is sent: warnings, never a block (the officer
confirms them or fixes the list). Each unit a group covers should have someone of it; addresses should be
official mailboxes; look-alike rows should be confirmed as different people.
"""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlmodel import Session, select

from portal.domain import campaign_departments, group_kinds, units
from portal.domain.lists import campaign_groups
from portal.models import Campaign, Province, Respondent, RespondentList

# Free mail services: the dispatch asks for each person's official mailbox (hộp thư công vụ) instead.
PUBLIC_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.com.vn", "ymail.com", "rocketmail.com", "hotmail.com",
    "outlook.com", "outlook.com.vn", "live.com", "msn.com", "icloud.com", "me.com", "aol.com", "mail.ru",
    "yandex.com", "zoho.com", "proton.me", "protonmail.com", "gmx.com",
})


def _names(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" và {len(items) - limit} nơi khác" if len(items) > limit else "")


def send_warnings(session: Session, rlist: RespondentList, campaign: Campaign, province: Province) -> list[str]:
    """What looks incomplete before sending (never a block: the officer confirms or fixes).

    An empty group; a department of the province with no director or deputy (a group whose unit
    kind is "department"); a district or commune with no chair or vice-chair (a group whose unit is a
    lower-level unit of the map);
    addresses at free mail services rather than official mailboxes; look-alike rows (same name and
    unit) not yet confirmed as different people.
    """
    groups = campaign_groups(session, campaign)
    where = Respondent.list_id == rlist.id
    warnings = []
    per_group = dict(session.exec(select(Respondent.group_id, func.count()).where(where)
                                  .group_by(Respondent.group_id)).all())
    for group in groups:
        if not per_group.get(group.id):
            warnings.append(f"Nhóm {group.number} ({group.name}) chưa có ai.")
    # Each unit the group covers should have someone of it: (group, unit rows, the person's unit column, text).
    kind = units.unit_kind_of(session, campaign, province.id)
    coverage = []
    for group in groups:
        if not per_group.get(group.id):
            continue  # an empty group is already said above
        if group.unit_kind == group_kinds.DEPARTMENT:
            departments = campaign_departments.active_departments(session, campaign.id, province.id)
            coverage.append((group, departments, Respondent.department_id,
                             "sở, ngành chưa có giám đốc hoặc phó giám đốc"))
        elif group.unit_kind in group_kinds.LOWER_UNIT_KINDS:
            coverage.append((group, units.units_of(session, campaign, province.id), Respondent.district_id,
                             f"{kind.label if kind else 'đơn vị cấp dưới'} chưa có chủ tịch hoặc phó chủ tịch UBND"))
    for group, unit_rows, column, text in coverage:
        covered = set(session.exec(select(column).where(where, Respondent.group_id == group.id)))
        missing = [u.name for u in unit_rows if u.id not in covered]
        if missing:
            warnings.append(f"{len(missing)} {text} (nhóm {group.number}): {_names(missing)}.")
    private = [(number, email.rpartition("@")[2]) for number, email in session.exec(
        select(Respondent.row_number, Respondent.email).where(where).order_by(Respondent.row_number))
        if email.rpartition("@")[2] in PUBLIC_MAIL_DOMAINS]
    if private:
        domains = ", ".join(sorted({domain for _, domain in private}))
        rows = _names([str(number) for number, _ in private], limit=20)
        warnings.append(f"{len(private)} địa chỉ ngoài hộp thư công vụ ({domains}): dòng {rows}. Công văn đề nghị "
                        "dùng hộp thư công vụ.")
    # Look-alike rows the officer has not yet confirmed as different people (a dismissed pair loses its
    # warning at the recheck, so what is left here is still undecided).
    namesakes = [number for number, problems in session.exec(
        select(Respondent.row_number, Respondent.problems).where(where).order_by(Respondent.row_number))
        if any(p.get("namesake_key") for p in json.loads(problems or "[]"))]
    if namesakes:
        warnings.append(f"{len(namesakes)} dòng trùng họ tên và cơ quan/đơn vị chưa được xác nhận là những người "
                        f"khác nhau: dòng {_names([str(n) for n in namesakes], limit=20)}. Nếu là một người, "
                        "hãy xóa dòng thừa; nếu là hai người, bấm “Đây là những người khác nhau”.")
    return warnings
