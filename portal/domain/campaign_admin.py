"""The ministry's campaigns ("Đợt đánh giá"): the list, a new one from scratch or copied from a past one, the
current one; and the edits to the current campaign: its deadlines (in order, provinces told) and its contact."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select, update

from portal.domain import accounts, audit, campaign_departments, framework, units
from portal.domain.campaigns import DEADLINE_LABELS, current_campaign
from portal.domain.dates import parse_date_vn
from portal.domain.notices import post_notice
from portal.domain.text import clean
from portal.models import (
    Campaign,
    CampaignProvince,
    Department,
    ListStatus,
    PositionTitle,
    QuestionnaireVersion,
    ReminderSchedule,
    RespondentGroup,
    RespondentList,
    Role,
    User,
    utcnow,
)

# The survey's deadlines follow one another: the IT focal point is registered before the list is due
# (it receives the delivery errors of the invitations), and the list before the answers. The
# self-assessment runs on its own track.
ORDERED_DEADLINES = ("it_focal_deadline", "list_deadline", "response_deadline")

SHORT_LABELS = {
    "it_focal_deadline": "hạn đăng ký đầu mối CNTT",
    "list_deadline": "hạn gửi danh sách",
    "self_assessment_deadline": "hạn tự đánh giá, chấm điểm",
    "response_deadline": "hạn trả lời phiếu",
}


def check_order(days: dict[str, date]) -> dict[str, str]:
    """Errors by field for deadlines out of order (IT focal ≤ list ≤ responses); {} when in order."""
    errors: dict[str, str] = {}
    for earlier, later in zip(ORDERED_DEADLINES, ORDERED_DEADLINES[1:], strict=False):
        if days[later] < days[earlier]:
            errors[later] = (f"{DEADLINE_LABELS[later]}: {SHORT_LABELS[later]} ({days[later]:%d/%m/%Y}) không được "
                             f"trước {SHORT_LABELS[earlier]} ({days[earlier]:%d/%m/%Y}).")
    return errors


def update_deadlines(session: Session, actor: User, campaign: Campaign, values: dict[str, str]) -> dict[str, str]:
    """Set the deadlines from dd/mm/yyyy texts; returns errors by field (nothing saved when any).

    Every change is audited and posted as a notice to the provinces it concerns (see `_concerned`).
    """
    errors: dict[str, str] = {}
    parsed = {}
    for key, label in DEADLINE_LABELS.items():
        day = parse_date_vn(values.get(key, ""))
        if day is None:
            errors[key] = f"{label}: vui lòng nhập ngày theo dạng dd/mm/yyyy."
        else:
            parsed[key] = day
    if errors:
        return errors
    errors = check_order(parsed)
    if errors:
        return errors
    changes: dict[str, tuple[date, date]] = {}
    for key, day in parsed.items():
        old = getattr(campaign, key)
        if old != day:
            changes[key] = (old, day)
            setattr(campaign, key, day)
    if changes:
        session.add(campaign)
        audit.record(session, actor, "Sửa mốc thời hạn", detail="; ".join(
            f"{DEADLINE_LABELS[k]}: {old:%d/%m/%Y} → {new:%d/%m/%Y}" for k, (old, new) in changes.items()))
    session.commit()
    if changes:
        _tell_provinces(session, actor, campaign, changes)
    return {}


def _concerned(session: Session, campaign: Campaign, key: str) -> set[int]:
    """The provinces a deadline still matters to: those that have not done what it asks yet, or everyone."""
    active = units.province_ids(session, campaign)
    if key == "it_focal_deadline":
        registered = set(session.exec(select(User.province_id).where(User.role == Role.IT_FOCAL.value,
                                                                     User.registered_at.is_not(None))))
        return active - registered
    if key == "list_deadline":
        sent = set(session.exec(select(RespondentList.province_id).where(
            RespondentList.campaign_id == campaign.id, RespondentList.status == ListStatus.SENT.value)))
        return active - sent
    return active


def _tell_provinces(session: Session, actor: User, campaign: Campaign, changes: dict[str, tuple[date, date]]) -> None:
    """One notice per set of provinces concerned by the same changes."""
    lines_for: dict[int, list[str]] = {}
    for key, (old, new) in changes.items():
        line = (f"{DEADLINE_LABELS[key]}: {old:%d/%m/%Y} → {new:%d/%m/%Y} "
                "(hết 23:59 ngày đó, giờ Việt Nam).")
        for province_id in _concerned(session, campaign, key):
            lines_for.setdefault(province_id, []).append(line)
    groups: dict[tuple[str, ...], list[int]] = {}
    for province_id, lines in lines_for.items():
        groups.setdefault(tuple(lines), []).append(province_id)
    for lines, province_ids in groups.items():
        post_notice(session, actor, f"Bộ Nội vụ thay đổi mốc thời hạn của {campaign.name}"[:200],
                    "\n".join(lines), province_ids=sorted(province_ids))


CONTACT_FIELDS = ("contact_name", "contact_unit", "contact_phone", "contact_email")
_PHONE = re.compile(r"^[0-9 +().\-]{6,30}$")


def _check_contact(values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The contact's fields cleaned, and errors by field."""
    cleaned = {key: clean(values.get(key, ""))[:200] for key in CONTACT_FIELDS}
    errors: dict[str, str] = {}
    if not cleaned["contact_name"]:
        errors["contact_name"] = "Vui lòng nhập họ tên người liên hệ."
    if not cleaned["contact_unit"]:
        errors["contact_unit"] = "Vui lòng nhập đơn vị của người liên hệ."
    if not cleaned["contact_phone"] and not cleaned["contact_email"]:
        errors["contact_phone"] = "Vui lòng nhập ít nhất số điện thoại hoặc email để liên hệ."
    if cleaned["contact_phone"] and not _PHONE.match(cleaned["contact_phone"]):
        errors["contact_phone"] = "Số điện thoại chỉ gồm chữ số, dấu cách và các dấu + ( ) . -"
    if cleaned["contact_email"]:
        try:
            cleaned["contact_email"] = validate_email(cleaned["contact_email"],
                                                      check_deliverability=False).normalized
        except EmailNotValidError:
            errors["contact_email"] = "Địa chỉ email không hợp lệ."
    return cleaned, errors


def update_contact(session: Session, actor: User, campaign: Campaign, values: dict[str, str]) -> dict[str, str]:
    """Set the campaign's contact (name, unit, phone, email); returns errors by field (nothing saved when any)."""
    cleaned, errors = _check_contact(values)
    if errors:
        return errors
    changed = [key for key in CONTACT_FIELDS if getattr(campaign, key) != cleaned[key]]
    for key in changed:
        setattr(campaign, key, cleaned[key])
    if changed:
        session.add(campaign)
        audit.record(session, actor, "Sửa người liên hệ của đợt đánh giá",
                     detail=", ".join(cleaned[k] for k in CONTACT_FIELDS if cleaned[k]))
    session.commit()
    return {}


# ---------------------------------------------------------------- the list of campaigns, new ones, the current one

STATE_LABELS = {
    "current": "Đang diễn ra (hiện hành)",
    "prepared": "Đã tạo, chưa mở",
    "past": "Đã kết thúc (chỉ xem)",
    "template": "Đợt mẫu (để sao chép)",
}


def state_of(campaign: Campaign) -> str:
    """current | prepared (created, never opened) | past (was current, replaced) | template."""
    if campaign.is_template:
        return "template"
    if campaign.is_current:
        return "current"
    return "past" if campaign.closed_at is not None else "prepared"


@dataclass(frozen=True)
class CampaignRow:
    campaign: Campaign
    state: str
    copied_from: Campaign | None

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


def all_campaigns(session: Session) -> list[CampaignRow]:
    """Every campaign, newest year first (the current one first within its year), with its state."""
    campaigns = list(session.exec(select(Campaign).order_by(col(Campaign.year).desc(),
                                                             col(Campaign.is_current).desc(), col(Campaign.id).desc())))
    by_id = {c.id: c for c in campaigns}
    return [CampaignRow(c, state_of(c), by_id.get(c.copied_from_id)) for c in campaigns]


def closed_campaigns(session: Session) -> list[Campaign]:
    """Campaigns the ministry has closed (replaced as current), newest first: readable, never editable."""
    return list(session.exec(select(Campaign).where(col(Campaign.closed_at).is_not(None))
                             .order_by(col(Campaign.year).desc(), col(Campaign.id).desc())))


def templates(session: Session) -> list[Campaign]:
    """Campaigns kept to be copied (the 2021 one a fresh install loads)."""
    return list(session.exec(select(Campaign).where(Campaign.is_template == True)  # noqa: E712
                             .order_by(col(Campaign.year).desc())))


NEW_FIELDS = ("year", "name", "plan_ref", *DEADLINE_LABELS, *CONTACT_FIELDS)


def _shift_year(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year without one
        return day.replace(year=day.year + years, day=28)


def new_campaign_form(source: Campaign | None, today: date) -> dict[str, str]:
    """The values the creation form opens with: a copy moves the source's dates on by whole years."""
    if source is None:
        year = today.year
        return {"year": str(year), "name": f"Xác định Chỉ số CCHC năm {year}", "plan_ref": "",
                **{key: "" for key in DEADLINE_LABELS}, **{key: "" for key in CONTACT_FIELDS}}
    year = max(today.year, source.year + 1)
    years = year - source.year
    return {"year": str(year), "name": f"Xác định Chỉ số CCHC năm {year}", "plan_ref": "",
            **{key: f"{_shift_year(getattr(source, key), years):%d/%m/%Y}" for key in DEADLINE_LABELS},
            **{key: getattr(source, key) for key in CONTACT_FIELDS}}


@dataclass(frozen=True)
class Created:
    campaign: Campaign | None
    errors: dict[str, str]


def create_campaign(session: Session, actor: User, values: dict[str, str], *,
                    source: Campaign | None = None) -> Created:
    """A new campaign (not current yet) from the form's values, from scratch or copied from `source`.

    A copy carries the source's respondent groups and positions, its current questionnaire and criteria
    framework (each as version 1 of the new campaign, same content, not frozen) and its reminder days (moved
    with the response deadline);
    never its lists, invitations, answers, requests, notices or scores. From scratch, the campaign gets the
    portal's default respondent groups and positions (those of 2021) and no questionnaire yet.
    Returns the errors by field and nothing saved when any.
    """
    errors: dict[str, str] = {}
    year_text = clean(values.get("year", ""))
    year = int(year_text) if year_text.isascii() and year_text.isdigit() else 0
    if not 2000 <= year <= 2100:
        errors["year"] = "Năm đánh giá: vui lòng nhập năm gồm 4 chữ số, ví dụ 2026."
    name = clean(values.get("name", ""))[:200]
    if not name:
        errors["name"] = "Vui lòng nhập tên đợt đánh giá, ví dụ “Xác định Chỉ số CCHC năm 2026”."
    plan_ref = clean(values.get("plan_ref", ""))[:300]
    days: dict[str, date] = {}
    for key, label in DEADLINE_LABELS.items():
        day = parse_date_vn(clean(values.get(key, "")))
        if day is None:
            errors[key] = f"{label}: vui lòng nhập ngày theo dạng dd/mm/yyyy."
        else:
            days[key] = day
    if len(days) == len(DEADLINE_LABELS):
        errors.update(check_order(days))
    contact = {key: clean(values.get(key, ""))[:200] for key in CONTACT_FIELDS}
    if any(contact.values()):
        contact, contact_errors = _check_contact(values)
        errors.update(contact_errors)
    map_key = clean(values.get("ban_do", "")) or units.MAP_2021
    map_source: Campaign | None = None
    if source is None:
        if map_key.startswith("dot-") and map_key[4:].isascii() and map_key[4:].isdigit() and len(map_key) < 14:
            map_source = session.get(Campaign, int(map_key[4:]))
        if map_source is None and map_key not in units.MAPS:
            errors["ban_do"] = "Vui lòng chọn bản đồ hành chính của đợt: năm 2021, năm 2025 hoặc của một đợt đã có."
    if not errors and session.exec(select(Campaign.id).where(
            Campaign.year == year, Campaign.is_template == False, Campaign.is_demo == False)).first():  # noqa: E712
        errors["year"] = f"Đã có đợt đánh giá năm {year}; mỗi năm chỉ một đợt."
    if errors:
        return Created(None, errors)
    campaign = Campaign(year=year, name=name, plan_ref=plan_ref, created_at=utcnow(),
                        copied_from_id=source.id if source else None, **days, **contact)
    if source is not None:
        campaign.framework_ref, campaign.guide_ref = source.framework_ref, source.guide_ref
        campaign.questionnaire_ref = source.questionnaire_ref
    session.add(campaign)
    session.flush()
    if source is None:
        from portal.domain.reference import load_groups  # the seed's groups: reference imports the models only

        load_groups(session, campaign)
        if map_source is not None:
            provinces = units.copy_map(session, map_source, campaign)
            detail = f"tạo mới, bản đồ của {map_source.name}: {provinces} tỉnh, thành phố"
        else:
            provinces = units.assign_map(session, campaign, map_key)
            detail = f"tạo mới, bản đồ {map_key}: {provinces} tỉnh, thành phố"
    else:
        detail = f"sao chép từ {source.name}: " + _copy_from(session, actor, source, campaign)
    audit.record(session, actor, "Tạo đợt đánh giá", detail=f"{campaign.name} ({detail})")
    session.commit()
    return Created(campaign, {})


def _copy_from(session: Session, actor: User, source: Campaign, campaign: Campaign) -> str:
    """Copy what a new year reuses; returns what was carried, for the audit log."""
    groups = list(session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == source.id)
                               .order_by(RespondentGroup.number)))
    positions = 0
    for group in groups:
        copy = RespondentGroup(campaign_id=campaign.id, code=group.code, number=group.number, name=group.name,
                               who=group.who, answers_locality_form=group.answers_locality_form,
                               answers_ministry_form=group.answers_ministry_form)
        session.add(copy)
        session.flush()
        for title in session.exec(select(PositionTitle).where(PositionTitle.group_id == group.id)
                                  .order_by(PositionTitle.id)):
            session.add(PositionTitle(group_id=copy.id, title=title.title, common_forms=title.common_forms,
                                      note=title.note))
            positions += 1
    carried = [f"{len(groups)} nhóm đối tượng", f"{positions} chức danh"]
    version = session.exec(select(QuestionnaireVersion).where(
        QuestionnaireVersion.campaign_id == source.id, QuestionnaireVersion.is_current == True)  # noqa: E712
        .order_by(col(QuestionnaireVersion.version).desc())).first()
    if version is not None:
        session.add(QuestionnaireVersion(
            campaign_id=campaign.id, version=1, title=version.title, source_name=version.source_name,
            document=version.document, is_sample=version.is_sample, is_current=True, imported_by_id=actor.id))
        carried.append(f"bộ phiếu “{version.title}” (phiên bản {version.version} → 1)")
    criteria = framework.copy_current(session, source, campaign, actor)
    if criteria:
        carried.append(criteria)
    # Reminder days keep their distance from the response deadline.
    shift = campaign.response_deadline - source.response_deadline
    reminders = 0
    for item in session.exec(select(ReminderSchedule).where(ReminderSchedule.campaign_id == source.id)
                             .order_by(ReminderSchedule.send_on)):
        session.add(ReminderSchedule(campaign_id=campaign.id, send_on=item.send_on + shift, created_by_id=actor.id))
        reminders += 1
    carried.append(f"{reminders} ngày nhắc tự động")
    carried.append(f"bản đồ hành chính: {units.copy_map(session, source, campaign)} tỉnh, thành phố")
    ministries = len(campaign_departments.ministries_of(session, campaign.id))
    departments = session.exec(select(func.count()).select_from(Department)
                               .where(Department.campaign_id == campaign.id)).one()
    carried.append(f"{ministries} bộ, ngành và {departments} sở, ngành của các tỉnh")
    session.flush()
    return ", ".join(carried)


class CampaignSwitchError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def switch_current(session: Session, campaign: Campaign, now: datetime | None = None) -> Campaign | None:
    """Make `campaign` the only current one (in the caller's transaction); returns the one it replaced.

    The others are cleared by one UPDATE before this one is set, so the unique index on the current flag
    never sees two at once; the replaced campaign is closed: readable, never editable again.
    """
    previous = current_campaign(session)
    if previous is not None and previous.id == campaign.id:
        return None
    session.exec(update(Campaign).where(col(Campaign.is_current) == True, Campaign.id != campaign.id)  # noqa: E712
                 .values(is_current=False, closed_at=now or utcnow()))
    session.flush()
    campaign.is_current = True
    session.add(campaign)
    session.flush()
    if previous is not None:
        session.refresh(previous)
    return previous


def make_current(session: Session, actor: User, campaign: Campaign, *, confirmed: bool) -> Campaign | None:
    """The ministry opens `campaign`: it becomes the one provinces work on; the previous one is closed.

    Refused (CampaignSwitchError) for a template, for a campaign already closed, and without the
    confirmation, since closing the running campaign cannot be undone. Audited and posted to every province.
    Returns the campaign it replaced.
    """
    if campaign.is_template:
        raise CampaignSwitchError("Đợt mẫu chỉ dùng để sao chép, không chọn làm đợt hiện hành được. "
                                  "Hãy tạo đợt mới bằng cách sao chép đợt mẫu.")
    if campaign.is_current:
        raise CampaignSwitchError(f"“{campaign.name}” đã là đợt hiện hành.")
    if campaign.closed_at is not None:
        raise CampaignSwitchError(f"“{campaign.name}” đã kết thúc nên không mở lại được; dữ liệu của đợt "
                                  "này chỉ để xem.")
    if not confirmed:
        raise CampaignSwitchError("Vui lòng đánh dấu ô xác nhận: đợt đang diễn ra sẽ chuyển sang chỉ xem, "
                                  "không sửa được nữa.")
    try:
        previous = switch_current(session, campaign)
    except IntegrityError as clash:
        # Another ministry officer opened a campaign at the same moment: the unique index on the current
        # flag refused the second one. Nothing of this attempt is kept.
        session.rollback()
        raise CampaignSwitchError("Một cán bộ khác vừa chọn đợt hiện hành cùng lúc. Vui lòng tải lại trang, "
                                  "xem đợt nào đang là đợt hiện hành rồi chọn lại nếu cần.") from clash
    audit.record(session, actor, "Chọn đợt đánh giá hiện hành", detail=campaign.name
                 + (f" (thay {previous.name}, chuyển sang chỉ xem)" if previous else ""))
    post_notice(session, actor, f"Bộ Nội vụ mở {campaign.name}"[:200],
                "Các tỉnh, thành phố làm việc trên đợt đánh giá này từ hôm nay. "
                f"Hạn gửi danh sách đối tượng khảo sát: {campaign.list_deadline:%d/%m/%Y} "
                "(hết 23:59 ngày đó, giờ Việt Nam)."
                + (f" Dữ liệu của {previous.name} vẫn xem được, không sửa được." if previous else ""),
                commit=False)
    session.commit()
    return previous


def provision_map_accounts(session: Session, campaign: Campaign) -> list[accounts.ProvisionedAccount]:
    """Accounts for the provinces new to the portal's maps, each with a one-time password.

    Run when the ministry creates a campaign or makes one current. A province is new when no other campaign's
    map has it and it has no account yet; it can log in from then on. (The 2025 map keeps the codes of the 34
    provinces that continue, which have accounts since the 2021 map, so it adds none; a province left out of
    a map keeps its account, to read its past campaigns.) The other provinces' accounts come from
    `flask portal provision-provinces`. Returns the new accounts only.
    """
    have = set(session.exec(select(User.province_id).where(User.role == Role.PROVINCE.value)))
    elsewhere = set(session.exec(select(CampaignProvince.province_id)
                                 .where(CampaignProvince.campaign_id != campaign.id)))
    missing = [p for p in units.provinces_of(session, campaign) if p.id not in have and p.id not in elsewhere]
    if not missing:
        return []
    return [row for row in accounts.provision_provinces(session, provinces=missing) if row.password]
