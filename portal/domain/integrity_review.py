"""What the ministry's integrity page ("Kiểm tra can thiệp") shows, and what a province is shown of the decisions.

The ministry reads each flag's evidence as a person can check it: the rule in words, the forms involved (whose,
which form), times in the portal's time zone (dd/mm/yyyy HH:MM), a device as a short hash of its cookie, an
address as its /24 or /48 and a short hash. A province is shown only the decisions on its result that took
effect (voids and their reversals) with their reasons: never a flag, never evidence, never answers.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from portal.domain import integrity_decisions as decisions
from portal.domain import questionnaires
from portal.domain.integrity_rules import (
    BURST,
    CHANGED_THEN_ANSWERED,
    MANY_DEVICES,
    SAME_ANSWERS,
    SHARED_DEVICE,
    TOO_FAST,
)
from portal.models import (
    Campaign,
    FormProgress,
    IntegrityDecision,
    IntegrityFlag,
    Invitation,
    Ministry,
    Province,
    Respondent,
    RespondentGroup,
    User,
)

RULE_LABELS = {
    SHARED_DEVICE: "Một thiết bị nộp phiếu của nhiều người",
    BURST: "Nộp dồn dập",
    TOO_FAST: "Trả lời nhanh hơn thời gian đọc",
    SAME_ANSWERS: "Nhiều phiếu trả lời giống hệt nhau",
    MANY_DEVICES: "Một đường dẫn mở trên nhiều thiết bị",
    CHANGED_THEN_ANSWERED: "Trả lời ngay sau khi tỉnh sửa địa chỉ email",
}
SEVERITIES = ("high", "medium", "low")
SEVERITY_LABELS = {"high": "Cao", "medium": "Trung bình", "low": "Thấp"}
FLAG_STATE_LABELS = {"open": "Chưa xử lý", "dismissed": "Đã bỏ qua", "voided": "Đã hủy phiếu"}


def short_hash(value: str) -> str:
    """A short, stable stand-in for a device identifier or an address hash: enough to compare, nothing to reuse."""
    return hashlib.sha256(value.encode()).hexdigest()[:10] if value else ""


def moment_vn(value: str, tz_name: str) -> str:
    """An evidence time (ISO, UTC) as dd/mm/yyyy HH:MM in the portal's time zone; anything else as it is."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz_name)).strftime("%d/%m/%Y %H:%M")


@dataclass(frozen=True)
class EvidenceLine:
    label: str
    text: str


def _devices(value) -> str:
    if isinstance(value, list):
        return ", ".join(short_hash(str(d)) for d in value) or "(không có)"
    return str(value)


# The order a person reads evidence in: what and how many, when, then the device and the network.
_ORDER = ["by", "respondents", "forms", "form_code", "seconds", "floor_seconds", "questions", "submitted_at", "first",
          "last", "minutes", "hours", "forms_with_identical_answers", "device", "devices", "first_seen",
          "devices_reused", "address_prefix", "address_hash", "address_prefixes", "changes"]


def evidence_lines(rule: str, evidence: dict, tz_name: str,
                   form_names: Mapping[str, str] | None = None) -> list[EvidenceLine]:
    """A flag's evidence as labelled lines a person reads (a form by its name, from `form_names`, not by the
    file's code); a key no formatter knows is shown as it is."""
    def at(value: str) -> str:
        return moment_vn(value, tz_name)

    simple = {
        "respondents": ("Số người có phiếu do thiết bị này nộp", str),
        "forms": ("Số phiếu", str),
        "first": ("Phiếu đầu tiên nộp lúc", at),
        "last": ("Phiếu cuối cùng nộp lúc", at),
        "submitted_at": ("Nộp lúc", at),
        "by": ("Dồn dập theo", lambda v: "một thiết bị" if v == "device" else "một địa chỉ mạng"),
        "device": ("Thiết bị (mã rút gọn)", lambda v: short_hash(str(v))),
        "address_hash": ("Địa chỉ mạng (mã rút gọn)", lambda v: short_hash(str(v))),
        "address_prefix": ("Dải địa chỉ mạng", str),
        "address_prefixes": ("Các dải địa chỉ mạng", lambda v: ", ".join(v) or "(không có)"),
        "minutes": ("Trong vòng (phút)", str),
        "hours": ("Trong vòng (giờ)", str),
        "devices_reused": ("Thiết bị nộp phiếu cho nhiều người", _devices),
        "forms_with_identical_answers": ("Số phiếu trả lời giống hệt nhau", str),
        "seconds": ("Thời gian làm phiếu (giây)", str),
        "floor_seconds": ("Thời gian đọc tối thiểu (giây)", str),
        "questions": ("Số câu hỏi của phiếu", str),
        "form_code": ("Phiếu", lambda v: (form_names or {}).get(v, v)),
        "devices": ("Thiết bị (mã rút gọn)" if rule != SAME_ANSWERS else "Số thiết bị khác nhau", _devices),
    }
    lines = []
    for key, value in sorted(evidence.items(), key=lambda item: _ORDER.index(item[0]) if item[0] in _ORDER else 99):
        if key in simple:
            label, show = simple[key]
            lines.append(EvidenceLine(label, show(value)))
        elif key == "first_seen" and rule == MANY_DEVICES:
            devices = evidence.get("devices", [])
            lines.append(EvidenceLine("Lần đầu mở trên từng thiết bị", "; ".join(
                f"{short_hash(str(d))}: {at(t)}" for d, t in zip(devices, value, strict=False))))
        elif key == "changes":
            for change in value:
                lines.append(EvidenceLine("Sửa địa chỉ email rồi trả lời", (
                    f"{at(change.get('changed_at', ''))} tài khoản “{change.get('changed_by', '')}” sửa địa chỉ "
                    f"(nhật ký số {change.get('audit_entry', '')}); phiếu nộp lúc {at(change.get('submitted_at', ''))} "
                    f"từ thiết bị {short_hash(str(change.get('device', '')))}")))
        else:
            lines.append(EvidenceLine(key, json.dumps(value, ensure_ascii=False)))
    return lines


@dataclass(frozen=True)
class FormRef:
    """One form involved in a flag, as the ministry identifies it."""

    invitation_id: int
    form_code: str
    form_name: str  # as people call it: "Phiếu đánh giá bộ chủ quản: Bộ Tài chính", never the file's code
    who: str
    group: str
    submitted: bool
    voided: bool
    pending: bool

    @property
    def value(self) -> str:
        return f"{self.invitation_id}:{self.form_code}"


@dataclass
class FlagView:
    flag: IntegrityFlag
    rule_label: str
    severity_label: str
    state_label: str
    lines: list[EvidenceLine]
    forms: list[FormRef]
    pending: bool  # a proposal on this flag waits for its confirmation


@dataclass
class DecisionView:
    decision: IntegrityDecision
    label: str
    state_label: str
    proposer: str
    decider: str
    reversed_by: IntegrityDecision | None = None  # the reversal in effect, or waiting
    can_reverse: bool = False


@dataclass
class ProvinceRow:
    province: Province
    counts: dict[str, int] = field(default_factory=dict)  # open flags by severity
    flags: int = 0
    open_flags: int = 0
    pending: int = 0
    voided: bool = False
    voided_forms: int = 0


def _name(user: User | None) -> str:
    return (user.full_name or user.username) if user else ""


def campaign_overview(session: Session, campaign_id: int) -> list[ProvinceRow]:
    """The provinces with flags or decisions in the campaign, most open high-severity flags first."""
    rows: dict[int, ProvinceRow] = {}
    provinces = {p.id: p for p in session.exec(select(Province))}
    for flag in session.exec(select(IntegrityFlag).where(IntegrityFlag.campaign_id == campaign_id)):
        row = rows.setdefault(flag.province_id, ProvinceRow(provinces[flag.province_id]))
        row.flags += 1
        if flag.state == "open":
            row.open_flags += 1
            row.counts[flag.severity] = row.counts.get(flag.severity, 0) + 1
    for decision in session.exec(select(IntegrityDecision).where(IntegrityDecision.campaign_id == campaign_id)):
        row = rows.setdefault(decision.province_id, ProvinceRow(provinces[decision.province_id]))
        row.pending += decision.state == decisions.PROPOSED
        if decision.state == decisions.IN_EFFECT and decision.kind == decisions.VOID_PROVINCE:
            row.voided = True
        if decision.state == decisions.IN_EFFECT and decision.kind == decisions.VOID_FORMS:
            row.voided_forms += len(decisions.forms_of(decision))
    return sorted(rows.values(), key=lambda r: (-r.pending, -r.counts.get("high", 0), -r.open_flags,
                                                r.province.name))


def campaigns_with_counts(session: Session) -> list[tuple[Campaign, int, int]]:
    """Every campaign that is not a template, newest first, with its open flags and proposals waiting."""
    open_flags = Counter(session.exec(select(IntegrityFlag.campaign_id).where(IntegrityFlag.state == "open")))
    waiting = Counter(session.exec(select(IntegrityDecision.campaign_id).where(
        IntegrityDecision.state == decisions.PROPOSED)))
    campaigns = session.exec(select(Campaign).where(Campaign.is_template == False)  # noqa: E712
                             .order_by(col(Campaign.year).desc(), col(Campaign.id).desc()))
    return [(c, open_flags[c.id], waiting[c.id]) for c in campaigns]


@dataclass(frozen=True)
class _Person:
    who: str
    group: str
    form_names: dict[str, str]


def _people(session: Session, invitation_ids: set[int]) -> dict[int, _Person]:
    """For each invitation: who (name, position, unit), their group, and their forms' names, as the ministry's
    lists and progress pages show them."""
    if not invitation_ids:
        return {}
    rows = session.exec(select(Invitation, Respondent, RespondentGroup, Ministry.name)
                        .join(Respondent, Respondent.id == Invitation.respondent_id, isouter=True)
                        .join(RespondentGroup, RespondentGroup.id == Respondent.group_id, isouter=True)
                        .join(Ministry, Ministry.id == Respondent.ministry_id, isouter=True)
                        .where(col(Invitation.id).in_(invitation_ids)))
    targets: dict[int, dict[str, str]] = {}
    people = {}
    for invitation, person, group, ministry in rows:
        version = invitation.questionnaire_version_id
        if version not in targets:
            targets[version] = {f.code: f.target for f in questionnaires.load_frozen(session, version).forms}
        names = {code: questionnaires.form_name(target, ministry or "") for code, target in targets[version].items()}
        if person is None:
            people[invitation.id] = _Person("(người đã được rút khỏi danh sách)", "", names)
            continue
        who = ", ".join(part for part in (person.full_name, person.position, person.unit) if part)
        people[invitation.id] = _Person(who, group.label if group else "", names)
    return people


def province_review(session: Session, campaign_id: int, province_id: int,
                    tz_name: str) -> tuple[list[FlagView], list[DecisionView]]:
    """The province's flags (open first, then by severity) with their evidence, and every decision, newest
    first, each with who proposed and who confirmed or withdrew it."""
    flags = list(session.exec(select(IntegrityFlag).where(IntegrityFlag.campaign_id == campaign_id,
                                                          IntegrityFlag.province_id == province_id)))
    all_decisions = list(session.exec(select(IntegrityDecision).where(
        IntegrityDecision.campaign_id == campaign_id, IntegrityDecision.province_id == province_id)
        .order_by(col(IntegrityDecision.proposed_at).desc(), col(IntegrityDecision.id).desc())))
    voided = decisions.voided_forms(session, campaign_id, province_id)
    waiting = {f for d in all_decisions if d.state == decisions.PROPOSED and d.kind == decisions.VOID_FORMS
               for f in decisions.forms_of(d)}
    pending_flags = {d.flag_id for d in all_decisions if d.state == decisions.PROPOSED and d.flag_id}
    forms_by_flag = {f.id: [(int(i), str(c)) for i, c in json.loads(f.forms)] for f in flags}
    people = _people(session, {i for forms in forms_by_flag.values() for i, _ in forms})
    nobody = _Person("", "", {})
    # A form named in evidence (same answers) by the name the province's forms go by, without a ministry's name.
    generic = {code: name.split(":")[0] for person in people.values() for code, name in person.form_names.items()}
    submitted = {(p.invitation_id, p.form_code) for p in session.exec(select(FormProgress).where(
        col(FormProgress.invitation_id).in_(list(people)), FormProgress.state == "submitted"))} if people else set()
    severity_rank = {s: n for n, s in enumerate(SEVERITIES)}
    views = []
    for flag in sorted(flags, key=lambda f: (f.state != "open", severity_rank.get(f.severity, 9), f.id)):
        forms = [FormRef(i, c, people.get(i, nobody).form_names.get(c, "(đường dẫn cá nhân)" if not c else c),
                         people.get(i, nobody).who, people.get(i, nobody).group, submitted=(i, c) in submitted,
                         voided=(i, c) in voided, pending=(i, c) in waiting) for i, c in forms_by_flag[flag.id]]
        views.append(FlagView(flag, RULE_LABELS.get(flag.rule, flag.rule),
                              SEVERITY_LABELS.get(flag.severity, flag.severity),
                              FLAG_STATE_LABELS.get(flag.state, flag.state),
                              evidence_lines(flag.rule, json.loads(flag.evidence), tz_name, generic), forms,
                              flag.id in pending_flags))
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(
        {d.proposed_by_id for d in all_decisions} | {d.decided_by_id for d in all_decisions if d.decided_by_id})))}
    reversals = defaultdict(list)
    for d in all_decisions:
        if d.reverses_id and d.state in (decisions.PROPOSED, decisions.IN_EFFECT):
            reversals[d.reverses_id].append(d)
    decision_views = [DecisionView(d, decisions.label_of(session, d), decisions.STATE_LABELS[d.state],
                                   _name(users.get(d.proposed_by_id)), _name(users.get(d.decided_by_id)),
                                   (reversals.get(d.id) or [None])[0],
                                   d.kind != decisions.REVERSE and d.state == decisions.IN_EFFECT
                                   and not reversals.get(d.id))
                      for d in all_decisions]
    return views, decision_views


@dataclass(frozen=True)
class ProvinceDecision:
    """A decision on the province's result as the province reads it."""

    title: str
    reason: str
    at: datetime
    reversed_at: datetime | None = None
    reversal_reason: str = ""


def for_province(session: Session, campaign_id: int, province_id: int) -> list[ProvinceDecision]:
    """The voids of the province's survey result that took effect, newest first, each with its reversal if
    any: what was decided and why, and nothing of the evidence."""
    rows = list(session.exec(select(IntegrityDecision).where(
        IntegrityDecision.campaign_id == campaign_id, IntegrityDecision.province_id == province_id,
        col(IntegrityDecision.state).in_([decisions.IN_EFFECT, decisions.REVERSED]))))
    reversals = {d.reverses_id: d for d in rows if d.kind == decisions.REVERSE}
    shown = []
    for d in rows:
        if d.kind not in (decisions.VOID_FORMS, decisions.VOID_PROVINCE) or d.decided_at is None:
            continue
        title = ("Bộ Nội vụ hủy toàn bộ kết quả khảo sát của tỉnh" if d.kind == decisions.VOID_PROVINCE
                 else f"Bộ Nội vụ hủy {len(decisions.forms_of(d))} phiếu khảo sát của tỉnh")
        reversal = reversals.get(d.id)
        shown.append(ProvinceDecision(title, d.reason, d.decided_at,
                                      reversal.decided_at if reversal else None, reversal.reason if reversal else ""))
    return sorted(shown, key=lambda s: s.at, reverse=True)
