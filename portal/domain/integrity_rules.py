"""Integrity rules: what in one province's signals points at interference, as flags the ministry can check.

Each rule is a pure function over the facts of one province's campaign (`ProvinceFacts`: its submitted forms
with their device, address hash and prefix, time spent, and a digest of the answers computed in memory; the
devices each link was opened from; the province's changes to respondents' addresses) and returns findings.
`check_province` gathers the facts, runs every rule and upserts one `IntegrityFlag` per finding.

What the rules never do: change an answer, or put an answer's value (or its digest, which a short form would
let anyone guess) in a flag's evidence; evidence names forms, times, devices, address hashes and counts.
A shared office address alone never raises a flag: officials of one department answer from one network.
The README ("Integrity rules") explains each rule and its PORTAL_INTEGRITY_* thresholds.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from portal.domain import questionnaires
from portal.domain.audit import ADDRESS_CHANGE
from portal.domain.integrity import OPENED, SAVED, SUBMITTED
from portal.domain.invitations import response_key
from portal.models import (
    Answer,
    AuditEntry,
    FormSignal,
    IntegrityFlag,
    IntegrityWatermark,
    Invitation,
    Respondent,
    utcnow,
)

SHARED_DEVICE, BURST, TOO_FAST = "shared_device", "burst", "too_fast"
SAME_ANSWERS, MANY_DEVICES, CHANGED_THEN_ANSWERED = "same_answers", "many_devices", "changed_then_answered"
RULES = (SHARED_DEVICE, BURST, TOO_FAST, SAME_ANSWERS, MANY_DEVICES, CHANGED_THEN_ANSWERED)
RECHECK_OVERLAP = timedelta(minutes=10)


@dataclass(frozen=True)
class Thresholds:
    """The rules' limits (PORTAL_INTEGRITY_* in config.py)."""

    device_respondents: int = 3  # respondents whose forms one device submits
    burst_forms: int = 10  # forms submitted within burst_minutes from one device or one address
    burst_minutes: int = 10
    seconds_per_question: int = 3  # the reading floor: questions × this
    same_answers: int = 5  # forms with the same answers, option for option
    same_answers_hours: int = 24
    link_devices: int = 4  # devices one personal link was opened from
    change_hours: int = 72  # an answer this soon after the province changed the respondent's address

    @classmethod
    def from_config(cls, config: Mapping) -> Thresholds:
        """The thresholds the portal's configuration sets."""
        return cls(device_respondents=config["PORTAL_INTEGRITY_DEVICE_RESPONDENTS"],
                   burst_forms=config["PORTAL_INTEGRITY_BURST_FORMS"],
                   burst_minutes=config["PORTAL_INTEGRITY_BURST_MINUTES"],
                   seconds_per_question=config["PORTAL_INTEGRITY_SECONDS_PER_QUESTION"],
                   same_answers=config["PORTAL_INTEGRITY_SAME_ANSWERS"],
                   same_answers_hours=config["PORTAL_INTEGRITY_SAME_ANSWERS_HOURS"],
                   link_devices=config["PORTAL_INTEGRITY_LINK_DEVICES"],
                   change_hours=config["PORTAL_INTEGRITY_CHANGE_HOURS"])


@dataclass(frozen=True)
class SubmittedForm:
    """One submitted form as the rules see it."""

    invitation_id: int
    form_code: str
    submitted_at: datetime
    device: str = ""
    address_hash: str = ""
    address_prefix: str = ""
    seconds: int | None = None  # time spent on the form, None when nothing says
    questions: int = 0
    answers_digest: str = ""  # in memory only: equal answers give equal digests; "" for an empty form


@dataclass
class ProvinceFacts:
    """What the rules read of one province in one campaign."""

    submitted: list[SubmittedForm] = field(default_factory=list)
    devices_by_invitation: dict[int, dict[str, datetime]] = field(default_factory=dict)  # device -> first seen
    address_changes: dict[int, list[tuple[int, datetime, str]]] = field(default_factory=dict)  # (audit id, at, by)


@dataclass(frozen=True)
class Finding:
    """A rule's finding: the forms involved, how serious, and the evidence a person can check."""

    rule: str
    severity: str
    forms: tuple[tuple[int, str], ...]
    evidence: dict

    @property
    def invitation_ids(self) -> list[int]:
        return sorted({invitation for invitation, _ in self.forms})


def _iso(moment: datetime) -> str:
    """A moment in UTC as evidence shows it (the ministry's page shows it in giờ Việt Nam)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _forms(items: Iterable[SubmittedForm]) -> tuple[tuple[int, str], ...]:
    return tuple(sorted({(s.invitation_id, s.form_code) for s in items}))


def _span(items: list[SubmittedForm]) -> dict:
    times = sorted(s.submitted_at for s in items)
    return {"first": _iso(times[0]), "last": _iso(times[-1])}


# ---------------------------------------------------------------- the rules


def shared_device(facts: ProvinceFacts, limits: Thresholds) -> list[Finding]:
    """One device submitted the forms of `device_respondents` or more different respondents."""
    by_device: dict[str, list[SubmittedForm]] = defaultdict(list)
    for form in facts.submitted:
        if form.device:
            by_device[form.device].append(form)
    findings = []
    for device, forms in sorted(by_device.items()):
        people = {f.invitation_id for f in forms}
        if len(people) >= limits.device_respondents:
            severity = "high" if len(people) >= 2 * limits.device_respondents else "medium"
            findings.append(Finding(SHARED_DEVICE, severity, _forms(forms), {
                "device": device, "respondents": len(people), "forms": len(forms), **_span(forms),
                "address_prefixes": sorted({f.address_prefix for f in forms if f.address_prefix})}))
    return findings


def _bursts(forms: list[SubmittedForm], size: int, window: timedelta) -> list[list[SubmittedForm]]:
    """Runs of forms where `size` of them fall within `window`: each maximal run once."""
    forms = sorted(forms, key=lambda f: f.submitted_at)
    runs: list[list[SubmittedForm]] = []
    for start in range(len(forms) - size + 1):
        if forms[start + size - 1].submitted_at - forms[start].submitted_at > window:
            continue
        chunk = forms[start:start + size]
        if runs and runs[-1][-1].submitted_at >= chunk[0].submitted_at:
            runs[-1].extend(f for f in chunk if f not in runs[-1])
        else:
            runs.append(list(chunk))
    return runs


def burst(facts: ProvinceFacts, limits: Thresholds) -> list[Finding]:
    """`burst_forms` or more forms within `burst_minutes` from one device, or from one address when that
    burst also has a device used by several respondents or forms with the same answers (an office network
    alone explains many forms from one address)."""
    window = timedelta(minutes=limits.burst_minutes)
    findings = []
    by_device: dict[str, list[SubmittedForm]] = defaultdict(list)
    by_address: dict[str, list[SubmittedForm]] = defaultdict(list)
    for form in facts.submitted:
        if form.device:
            by_device[form.device].append(form)
        if form.address_hash:
            by_address[form.address_hash].append(form)
    for device, forms in sorted(by_device.items()):
        for run in _bursts(forms, limits.burst_forms, window):
            findings.append(Finding(BURST, "high", _forms(run), {
                "by": "device", "device": device, "forms": len(run), "minutes": limits.burst_minutes,
                **_span(run)}))
    for address, forms in sorted(by_address.items()):
        for run in _bursts(forms, limits.burst_forms, window):
            people_by_device: dict[str, set[int]] = defaultdict(set)
            for f in run:
                if f.device:
                    people_by_device[f.device].add(f.invitation_id)
            reused = sorted(d for d, people in people_by_device.items() if len(people) > 1)
            digests = defaultdict(int)
            for f in run:
                if f.answers_digest:
                    digests[(f.form_code, f.answers_digest)] += 1
            identical = sum(n for n in digests.values() if n > 1)
            if not reused and not identical:
                continue
            findings.append(Finding(BURST, "high", _forms(run), {
                "by": "address", "address_hash": address, "address_prefix": run[0].address_prefix,
                "forms": len(run), "minutes": limits.burst_minutes, **_span(run),
                "devices_reused": reused, "forms_with_identical_answers": identical}))
    return findings


def too_fast(facts: ProvinceFacts, limits: Thresholds) -> list[Finding]:
    """A form submitted in less time than its questions take to read (questions × seconds_per_question)."""
    findings = []
    for form in facts.submitted:
        floor = form.questions * limits.seconds_per_question
        if form.seconds is None or not floor or form.seconds >= floor:
            continue
        severity = "high" if form.seconds * 3 < floor else "medium"
        findings.append(Finding(TOO_FAST, severity, _forms([form]), {
            "seconds": form.seconds, "floor_seconds": floor, "questions": form.questions,
            "submitted_at": _iso(form.submitted_at), "device": form.device, "address_prefix": form.address_prefix}))
    return findings


def same_answers(facts: ProvinceFacts, limits: Thresholds) -> list[Finding]:
    """`same_answers` or more respondents' forms with the same answers, option for option, within
    `same_answers_hours`. The evidence counts the forms; it never says what the answers were."""
    groups: dict[tuple[str, str], list[SubmittedForm]] = defaultdict(list)
    for form in facts.submitted:
        if form.answers_digest:
            groups[(form.form_code, form.answers_digest)].append(form)
    window = timedelta(hours=limits.same_answers_hours)
    findings = []
    for (code, _), forms in sorted(groups.items()):
        for run in _bursts(forms, limits.same_answers, window):
            if len({f.invitation_id for f in run}) < limits.same_answers:
                continue
            findings.append(Finding(SAME_ANSWERS, "high", _forms(run), {
                "form_code": code, "forms": len(run), "hours": limits.same_answers_hours, **_span(run),
                "devices": len({f.device for f in run if f.device}),
                "address_prefixes": sorted({f.address_prefix for f in run if f.address_prefix})}))
    return findings


def many_devices(facts: ProvinceFacts, limits: Thresholds) -> list[Finding]:
    """One personal link opened from `link_devices` or more devices (a phone and an office computer are two)."""
    findings = []
    for invitation, devices in sorted(facts.devices_by_invitation.items()):
        if len(devices) >= limits.link_devices:
            findings.append(Finding(MANY_DEVICES, "medium", ((invitation, ""),), {
                "devices": sorted(devices), "first_seen": [_iso(at) for _, at in sorted(devices.items())]}))
    return findings


def changed_then_answered(facts: ProvinceFacts, limits: Thresholds) -> list[Finding]:
    """Forms submitted within `change_hours` after the province changed that respondent's address, from a
    device that also submitted another respondent's form (an honest correction, answered by its owner on
    their own device, raises nothing)."""
    people_by_device: dict[str, set[int]] = defaultdict(set)
    for form in facts.submitted:
        if form.device:
            people_by_device[form.device].add(form.invitation_id)
    window = timedelta(hours=limits.change_hours)
    involved: list[SubmittedForm] = []
    changes: list[dict] = []
    for form in facts.submitted:
        recent = [c for c in facts.address_changes.get(form.invitation_id, [])
                  if timedelta(0) <= form.submitted_at - c[1] <= window]
        if recent and form.device and len(people_by_device[form.device]) > 1:
            involved.append(form)
            changes.extend({"invitation": form.invitation_id, "audit_entry": audit_id, "changed_at": _iso(at),
                            "changed_by": by, "submitted_at": _iso(form.submitted_at), "device": form.device}
                           for audit_id, at, by in recent)
    if not involved:
        return []
    unique = [dict(t) for t in sorted({tuple(sorted(c.items())) for c in changes})]
    return [Finding(CHANGED_THEN_ANSWERED, "high", _forms(involved), {
        "forms": len(involved), "changes": unique,
        "devices": sorted({f.device for f in involved})})]


ALL_RULES = (shared_device, burst, too_fast, same_answers, many_devices, changed_then_answered)


def run_rules(facts: ProvinceFacts, limits: Thresholds) -> list[Finding]:
    """Every rule's findings over one province's facts."""
    return [finding for rule in ALL_RULES for finding in rule(facts, limits)]


# ---------------------------------------------------------------- facts from the database


def answers_digest(answers_json: str) -> str:
    """Equal answers, option for option, give equal digests (kept in memory, never stored)."""
    values = json.loads(answers_json or "{}")
    if not values:
        return ""
    return hashlib.sha256(json.dumps(values, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def province_facts(session: Session, campaign_id: int, province_id: int, secret: str) -> ProvinceFacts:
    """Read what the rules need of one province: its signals, its submitted forms' answers as digests
    (found through their HMAC keys, as the survey pages find them) and its address changes."""
    signals = list(session.exec(select(FormSignal).where(FormSignal.campaign_id == campaign_id,
                                                         FormSignal.province_id == province_id)
                                .order_by(FormSignal.at, FormSignal.id)))
    facts = ProvinceFacts()
    by_form: dict[tuple[int, str], list[FormSignal]] = defaultdict(list)
    for signal in signals:
        if signal.device:
            facts.devices_by_invitation.setdefault(signal.invitation_id, {}).setdefault(signal.device, signal.at)
        by_form[(signal.invitation_id, signal.form_code)].append(signal)
    invitations = {i.id: i for i in session.exec(select(Invitation).where(
        Invitation.campaign_id == campaign_id, Invitation.province_id == province_id))}
    questions: dict[tuple[int, str], int] = {}
    for version_id in {i.questionnaire_version_id for i in invitations.values()}:
        for form in questionnaires.load_frozen(session, version_id).forms:
            questions[(version_id, form.code)] = len(form.questions)
    submitted_keys = {}
    for (invitation_id, code), items in by_form.items():
        if code and any(s.event == SUBMITTED for s in items) and invitation_id in invitations:
            submitted_keys[response_key(invitation_id, code, secret)] = (invitation_id, code)
    digests = {}
    keys = list(submitted_keys)
    for start in range(0, len(keys), 500):
        for key, values in session.exec(select(Answer.response_key, Answer.answers).where(
                col(Answer.response_key).in_(keys[start:start + 500]), Answer.submitted == True)):  # noqa: E712
            digests[submitted_keys[key]] = answers_digest(values)
    for invitation_id, code in sorted(submitted_keys.values()):
        items = by_form[(invitation_id, code)]
        sent = next(s for s in items if s.event == SUBMITTED)
        opened = next((s for s in items if s.event == OPENED), None)
        on_page = sum(s.seconds_on_page or 0 for s in items if s.event in (SAVED, SUBMITTED) and s.at <= sent.at)
        span = int((sent.at - opened.at).total_seconds()) if opened else None
        # The larger of the two: a rule flags too little time, so the doubt goes to the respondent.
        known = [x for x in (on_page or None, span) if x is not None]
        seconds = max(known) if known else None
        invitation = invitations[invitation_id]
        facts.submitted.append(SubmittedForm(
            invitation_id, code, sent.at, sent.device, sent.address_hash, sent.address_prefix, seconds,
            questions.get((invitation.questionnaire_version_id, code), 0), digests.get((invitation_id, code), "")))
    facts.address_changes = _address_changes(session, province_id, invitations)
    return facts


def _address_changes(session: Session, province_id: int,
                     invitations: Mapping[int, Invitation]) -> dict[int, list[tuple[int, datetime, str]]]:
    """The audited changes of each invitation's respondent's address, linked by the entry's respondent column.

    Entries written before that column existed name no respondent: for those alone the audit line is read,
    which ends at the new address (the person's current one)."""
    entries = list(session.exec(select(AuditEntry).where(AuditEntry.province_id == province_id,
                                                         AuditEntry.action == ADDRESS_CHANGE)))
    if not entries:
        return {}
    by_person = {i.respondent_id: i.id for i in invitations.values() if i.respondent_id}
    changes: dict[int, list[tuple[int, datetime, str]]] = {}
    for entry in entries:
        if entry.subject_respondent_id in by_person:
            changes.setdefault(by_person[entry.subject_respondent_id], []).append(
                (entry.id, entry.at, entry.actor_name))
    older = [e for e in entries if e.subject_respondent_id is None]
    if older:
        people = {p.id: p for p in session.exec(select(Respondent).where(col(Respondent.id).in_(list(by_person))))}
        for respondent_id, invitation_id in by_person.items():
            person = people.get(respondent_id)
            if not person or not person.email:
                continue
            marks = (f"→ “{person.email}”", f"→ {person.email}")
            found = [(e.id, e.at, e.actor_name) for e in older if any(m in e.detail for m in marks)]
            if found:
                changes.setdefault(invitation_id, []).extend(found)
    return {invitation: sorted(found) for invitation, found in changes.items()}


# ---------------------------------------------------------------- flags


def involved_key(rule: str, forms: Iterable[tuple[int, str]]) -> str:
    """The flag's identity beside its rule and province: the set of forms involved."""
    return hashlib.sha256(json.dumps([rule, sorted(forms)]).encode()).hexdigest()[:32]


def save_findings(session: Session, campaign_id: int, province_id: int, findings: list[Finding],
                  now: datetime | None = None) -> int:
    """Upsert one flag per finding (rule + province + involved forms); a finding whose forms include those
    of an open flag of the same rule (a burst that grew) updates that flag. Returns how many flags are new."""
    now = now or utcnow()
    existing = list(session.exec(select(IntegrityFlag).where(IntegrityFlag.campaign_id == campaign_id,
                                                             IntegrityFlag.province_id == province_id)))
    new = 0
    for finding in findings:
        key = involved_key(finding.rule, finding.forms)
        forms = {tuple(f) for f in finding.forms}
        flag = next((f for f in existing if f.rule == finding.rule and f.involved_key == key), None) or next(
            (f for f in existing if f.rule == finding.rule and f.state == "open"
             and {tuple(x) for x in json.loads(f.forms)} <= forms), None)
        if flag is None:
            flag = IntegrityFlag(rule=finding.rule, campaign_id=campaign_id, province_id=province_id,
                                 severity=finding.severity, involved_key=key, created_at=now)
            existing.append(flag)
            new += 1
        flag.involved_key = key
        flag.severity = finding.severity
        flag.invitation_ids = json.dumps(finding.invitation_ids)
        flag.forms = json.dumps([list(f) for f in finding.forms])
        flag.evidence = json.dumps(finding.evidence, ensure_ascii=False, sort_keys=True)
        flag.updated_at = now
        session.add(flag)
    session.commit()
    return new


def check_province(session: Session, campaign_id: int, province_id: int, secret: str, limits: Thresholds,
                   now: datetime | None = None) -> int:
    """Run every rule over one province's campaign and keep the flags; returns how many flags are new."""
    findings = run_rules(province_facts(session, campaign_id, province_id, secret), limits)
    return save_findings(session, campaign_id, province_id, findings, now)


def check_campaigns(session: Session, secret: str, limits: Thresholds, campaign_id: int | None = None) -> int:
    """Run the rules over every province with submitted forms (of one campaign, or all); returns new flags."""
    query = select(FormSignal.campaign_id, FormSignal.province_id).where(FormSignal.event == SUBMITTED).distinct()
    if campaign_id is not None:
        query = query.where(FormSignal.campaign_id == campaign_id)
    return sum(check_province(session, c, p, secret, limits) for c, p in sorted(session.exec(query)))


def check_new_submissions(session: Session, secret: str, limits: Thresholds) -> int:
    """The worker's run: the provinces with forms submitted since the last run, then the mark moves on."""
    mark = session.exec(select(IntegrityWatermark)).first() or IntegrityWatermark()
    last = session.exec(select(func.max(FormSignal.id))).one() or 0
    # Ids are handed out before commit: a signal committed after the last run may carry a smaller id than the
    # mark, so the provinces with submissions in the few minutes before the last run are checked again too.
    recent = mark.checked_at - RECHECK_OVERLAP if mark.id else None
    news = col(FormSignal.id) > mark.last_signal_id
    pairs = sorted(session.exec(select(FormSignal.campaign_id, FormSignal.province_id).where(
        FormSignal.event == SUBMITTED, or_(news, col(FormSignal.at) >= recent) if recent else news).distinct()))
    new = sum(check_province(session, c, p, secret, limits) for c, p in pairs)
    mark.last_signal_id = max(mark.last_signal_id, last)
    mark.checked_at = utcnow()
    session.add(mark)
    session.commit()
    return new
