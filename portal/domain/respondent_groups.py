"""A campaign's respondent groups and their position titles, edited by the ministry while the campaign is
being prepared ("Nhóm đối tượng khảo sát").

Groups are the campaign's data: number, code (what questionnaire files name the group by), name, who, unit
kind (portal/domain/group_kinds.py), the council flag and the forms it answers; positions are titles with the
forms people write them in. Edits are refused once they could change the meaning of something already done:
a template (copied, never edited), a closed campaign, a campaign whose survey was launched, or one where a
province has already entered people under these groups. Every change is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, col, select

from portal.domain import audit, group_kinds, questionnaires
from portal.domain.text import clean
from portal.models import Campaign, CampaignProvince, PositionTitle, Respondent, RespondentGroup, RespondentList, User

_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,19}$")
MAX_GROUPS = 12
MAX_POSITIONS = 40

TEMPLATE_REFUSAL = ("Đợt mẫu chỉ để sao chép: hãy bấm “Sao chép thành đợt mới” rồi sửa nhóm đối tượng của đợt "
                    "mới.")
CLOSED_REFUSAL = "Đợt đánh giá đã kết thúc: nhóm đối tượng và chức danh chỉ xem, không sửa được."
LAUNCHED_REFUSAL = ("Khảo sát của đợt đã được phát hành: nhóm đối tượng và chức danh không sửa được nữa (người "
                    "được khảo sát đã nhận phiếu theo các nhóm này).")
LISTED_REFUSAL = ("Đã có tỉnh, thành phố nhập danh sách theo các nhóm đối tượng này: không sửa được nữa, để danh "
                  "sách đã nhập không bị đổi nghĩa.")


class GroupEditError(Exception):
    """An edit refused as a whole; `message` is one Vietnamese sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def default_group_set(session: Session, campaign: Campaign) -> str:
    """The shipped groups that fit the campaign's map: "2025" (commune leaders) on a map of communes."""
    kinds = set(session.exec(select(CampaignProvince.unit_kind).where(CampaignProvince.campaign_id == campaign.id)))
    return "2025" if group_kinds.COMMUNE in kinds else "2021"


def groups_of(session: Session, campaign: Campaign) -> list[RespondentGroup]:
    """The campaign's groups in the ministry's order."""
    return list(session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id)
                             .order_by(RespondentGroup.number, RespondentGroup.id)))


def positions_by_group(session: Session, groups: list[RespondentGroup]) -> dict[int, list[PositionTitle]]:
    """Each group's position titles, in the order they were added."""
    found: dict[int, list[PositionTitle]] = {g.id: [] for g in groups}
    for title in session.exec(select(PositionTitle).where(col(PositionTitle.group_id).in_(list(found)))
                              .order_by(PositionTitle.id)):
        found[title.group_id].append(title)
    return found


def edit_refusal(session: Session, campaign: Campaign) -> str:
    """Why the campaign's groups cannot be edited now ("" when they can)."""
    if campaign.is_template:
        return TEMPLATE_REFUSAL
    if campaign.closed_at is not None:
        return CLOSED_REFUSAL
    lists = select(RespondentList.id).where(RespondentList.campaign_id == campaign.id)
    if session.exec(lists.where((col(RespondentList.launched_at).is_not(None))
                                | (col(RespondentList.launch_operation_id).is_not(None)))).first():
        return LAUNCHED_REFUSAL
    if session.exec(select(Respondent.id).join(RespondentGroup, RespondentGroup.id == Respondent.group_id)
                    .where(RespondentGroup.campaign_id == campaign.id).limit(1)).first():
        return LISTED_REFUSAL
    return ""


def _require_editable(session: Session, campaign: Campaign) -> None:
    reason = edit_refusal(session, campaign)
    if reason:
        raise GroupEditError(reason)


def _map_kinds(session: Session, campaign: Campaign) -> set[str]:
    return {k for k in session.exec(select(CampaignProvince.unit_kind)
                                    .where(CampaignProvince.campaign_id == campaign.id)) if k}


@dataclass(frozen=True)
class GroupValues:
    number: int
    code: str
    name: str
    who: str
    unit_kind: str
    council_priority: bool
    answers_locality_form: bool
    answers_ministry_form: bool


def check_group(session: Session, campaign: Campaign, values: dict[str, str],
                group: RespondentGroup | None) -> tuple[GroupValues | None, dict[str, str]]:
    """Read a group's form; returns the values, or the errors by field (Vietnamese, complete sentences)."""
    errors: dict[str, str] = {}
    others = [g for g in groups_of(session, campaign) if group is None or g.id != group.id]
    number_text = clean(values.get("number", ""))
    number = int(number_text) if number_text.isascii() and number_text.isdigit() and len(number_text) < 3 else 0
    if not 1 <= number <= 20:
        errors["number"] = "Số thứ tự nhóm: vui lòng nhập một số từ 1 đến 20."
    elif any(g.number == number for g in others):
        errors["number"] = f"Đã có nhóm số {number}; mỗi nhóm một số thứ tự riêng."
    code = group.code if group is not None else clean(values.get("code", "")).upper()
    if group is None:
        if not _CODE.match(code):
            errors["code"] = ("Mã nhóm: chữ in hoa không dấu, chữ số hoặc dấu gạch dưới, bắt đầu bằng chữ, tối đa 20 "
                              "ký tự, ví dụ LD_XA (là mã bộ phiếu ghi trong mục “groups”).")
        elif any(g.code == code for g in others):
            errors["code"] = f"Đã có nhóm mã {code}."
    name = clean(values.get("name", ""))[:200]
    if not name:
        errors["name"] = "Vui lòng nhập tên nhóm, ví dụ “Lãnh đạo UBND cấp xã”."
    who = clean(values.get("who", ""))[:500]
    unit_kind = clean(values.get("unit_kind", ""))
    if unit_kind not in group_kinds.UNIT_KINDS:
        errors["unit_kind"] = "Vui lòng chọn đơn vị mà người thuộc nhóm ghi."
    elif unit_kind in group_kinds.LOWER_UNIT_KINDS:
        kinds = _map_kinds(session, campaign)
        if kinds and unit_kind not in kinds:
            have = " và ".join(group_kinds.UNIT_KIND_LABELS[k].split(" (")[0].lower() for k in sorted(kinds))
            errors["unit_kind"] = (f"Bản đồ hành chính của đợt có {have}, không có "
                                   f"{group_kinds.UNIT_KIND_LABELS[unit_kind].split(' (')[0].lower()}; hãy chọn "
                                   "đúng loại đơn vị cấp dưới của bản đồ.")
    council = values.get("council_priority") in ("1", "on", "true")
    if council:
        holder = next((g for g in others if g.council_priority), None)
        if holder is not None:
            errors["council_priority"] = (f"Nhóm {holder.label} đã là nhóm được ưu tiên khi trùng người; mỗi đợt chỉ "
                                          "một nhóm như vậy.")
    locality = values.get("answers_locality_form") in ("1", "on", "true")
    ministry = values.get("answers_ministry_form") in ("1", "on", "true")
    if not (locality or ministry):
        errors["forms"] = "Nhóm cần trả lời ít nhất một phiếu: phiếu đánh giá địa phương hoặc bộ chủ quản."
    if group is None and len(others) >= MAX_GROUPS:
        errors["code"] = f"Một đợt có tối đa {MAX_GROUPS} nhóm đối tượng."
    if errors:
        return None, errors
    return GroupValues(number, code, name, who, unit_kind, council, locality, ministry), {}


def _describe(group: RespondentGroup) -> str:
    forms = [label for flag, label in ((group.answers_locality_form, "phiếu địa phương"),
                                       (group.answers_ministry_form, "phiếu bộ chủ quản")) if flag]
    council = ", ưu tiên khi trùng người" if group.council_priority else ""
    return (f"{group.code} – {group.label}; đơn vị: {group_kinds.UNIT_KIND_LABELS[group.unit_kind]}{council}; "
            f"{' và '.join(forms)}")


def save_group(session: Session, actor: User, campaign: Campaign, values: dict[str, str],
               group: RespondentGroup | None = None) -> tuple[RespondentGroup | None, dict[str, str]]:
    """Add a group (`group` None) or change one; committed and audited. Returns the group or the errors."""
    _require_editable(session, campaign)
    checked, errors = check_group(session, campaign, values, group)
    if checked is None:
        return None, errors
    before = _describe(group) if group is not None else ""
    if group is None:
        group = RespondentGroup(campaign_id=campaign.id, code=checked.code, number=checked.number, name=checked.name)
    for key in ("number", "name", "who", "unit_kind", "council_priority", "answers_locality_form",
                "answers_ministry_form"):
        setattr(group, key, getattr(checked, key))
    session.add(group)
    session.flush()
    after = _describe(group)
    if before != after:
        action = "Sửa nhóm đối tượng" if before else "Thêm nhóm đối tượng"
        audit.record(session, actor, action,
                     detail=f"{campaign.name}: {before + ' → ' if before else ''}{after}")
    session.commit()
    return group, {}


def delete_group(session: Session, actor: User, campaign: Campaign, group: RespondentGroup) -> None:
    """Remove a group and its positions (committed, audited)."""
    _require_editable(session, campaign)
    titles = list(session.exec(select(PositionTitle).where(PositionTitle.group_id == group.id)))
    for title in titles:
        session.delete(title)
    session.flush()
    audit.record(session, actor, "Xóa nhóm đối tượng",
                 detail=f"{campaign.name}: {_describe(group)}; {len(titles)} chức danh")
    session.delete(group)
    session.commit()


def check_position(session: Session, group: RespondentGroup, values: dict[str, str],
                   position: PositionTitle | None) -> tuple[tuple[str, str, str] | None, dict[str, str]]:
    """Read a position's form: (title, common forms, note) or the errors by field."""
    errors: dict[str, str] = {}
    title = clean(values.get("title", ""))[:200]
    forms = "; ".join(f for f in (clean(part) for part in values.get("common_forms", "").split(";")) if f)[:1000]
    note = clean(values.get("note", ""))[:300]
    existing = [p for p in session.exec(select(PositionTitle).where(PositionTitle.group_id == group.id))
                if position is None or p.id != position.id]
    if not title:
        errors["title"] = "Vui lòng nhập chức danh, ví dụ “Chủ tịch UBND xã/phường”."
    elif any(clean(p.title).casefold() == title.casefold() for p in existing):
        errors["title"] = f"Nhóm đã có chức danh “{title}”."
    elif position is None and len(existing) >= MAX_POSITIONS:
        errors["title"] = f"Một nhóm có tối đa {MAX_POSITIONS} chức danh."
    if errors:
        return None, errors
    return (title, forms, note), {}


def save_position(session: Session, actor: User, campaign: Campaign, group: RespondentGroup,
                  values: dict[str, str], position: PositionTitle | None = None) -> dict[str, str]:
    """Add a position title to the group, or change one; committed and audited. Returns the errors."""
    _require_editable(session, campaign)
    checked, errors = check_position(session, group, values, position)
    if checked is None:
        return errors
    title, forms, note = checked
    before = f"{position.title} ({position.common_forms})" if position is not None else ""
    if position is None:
        position = PositionTitle(group_id=group.id, title=title)
    position.title, position.common_forms, position.note = title, forms, note
    session.add(position)
    after = f"{title} ({forms})"
    if before != after:
        audit.record(session, actor, "Sửa chức danh" if before else "Thêm chức danh",
                     detail=f"{campaign.name}, nhóm {group.label}: {before + ' → ' if before else ''}{after}")
    session.commit()
    return {}


def delete_position(session: Session, actor: User, campaign: Campaign, group: RespondentGroup,
                    position: PositionTitle) -> None:
    """Remove a position title from the group (committed, audited)."""
    _require_editable(session, campaign)
    audit.record(session, actor, "Xóa chức danh", detail=f"{campaign.name}, nhóm {group.label}: {position.title}")
    session.delete(position)
    session.commit()


def questionnaire_problems(session: Session, campaign: Campaign) -> list[str]:
    """What the current questionnaire lacks for the groups as they now are (shown on the groups page)."""
    return questionnaires.problems_with_groups(session, campaign)
