"""The red-team suite: scripted interference against the integrity rules, and the table of what they caught.

    python -m bench.redteam              # through a throwaway SQLite database (~20 s); the README shows the table
    python -m bench.redteam --facts-only # the rules over the scenarios' facts alone (a second)

Each scenario is one province's campaign: an honest background of respondents (one office address for
most, their own phones for the rest, a device each, some opening their link on a phone and a computer,
human reading times, varied answers, and a department meeting where fifteen colleagues answer within ten
minutes from the office network), with one kind of interference mixed in. `scenarios()` scripts them as the
rules' facts (portal/domain/integrity_rules.py, `ProvinceFacts`); `through_the_database` plays them through
the portal's domain functions (list sent, survey launched, signals recorded as the survey pages record
them, drafts saved and forms submitted, addresses corrected and audited) and lets the rules read the
database as the worker does. Nothing leaves the process but a temporary SQLite file.

The table: the rules each scenario should raise, the rules raised, and over its forms the true flag rate
(interfered forms flagged / interfered forms) and the false flag rate (honest forms flagged / honest forms).
The same scenarios drive tests/test_integrity_rules.py.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from portal.domain import integrity_rules as rules
from portal.domain.integrity import address_hash, address_prefix, new_device_id

SECRET = "red-team"  # the addresses' hashes only need one key within a run
START = datetime(2022, 2, 7, 1, 30)  # a Monday, 08:30 in Việt Nam (UTC+7)
OFFICE = "203.0.113.57"
LOCAL_FORM, MINISTRY_FORM = "PHIEU_DP", "PHIEU_BO"
QUESTIONS = {LOCAL_FORM: 20, MINISTRY_FORM: 15}
OPTIONS = 5


@dataclass
class Scenario:
    """One province's facts and which forms were interfered with, and the rules that should see it."""

    name: str
    expected: set[str]
    facts: rules.ProvinceFacts = field(default_factory=rules.ProvinceFacts)
    interfered: set[tuple[int, str]] = field(default_factory=set)
    next_invitation: int = 1
    addresses: dict[tuple[int, str], str] = field(default_factory=dict)  # the network address of each form

    def forms(self) -> set[tuple[int, str]]:
        return {(f.invitation_id, f.form_code) for f in self.facts.submitted}


def _answers(rng: random.Random, code: str) -> str:
    return json.dumps({f"q{n}": str(rng.randrange(1, OPTIONS + 1)) for n in range(QUESTIONS[code])})


def _submit(scenario: Scenario, invitation: int, code: str, at: datetime, *, device: str, address: str,
            seconds: int, answers: str) -> None:
    scenario.facts.devices_by_invitation.setdefault(invitation, {}).setdefault(device, at - timedelta(
        seconds=seconds))
    scenario.addresses[(invitation, code)] = address
    scenario.facts.submitted.append(rules.SubmittedForm(
        invitation, code, at, device, address_hash(address, SECRET), address_prefix(address), seconds,
        QUESTIONS[code], rules.answers_digest(answers)))


def _person(scenario: Scenario) -> int:
    scenario.next_invitation += 1
    return scenario.next_invitation - 1


def honest(scenario: Scenario, rng: random.Random, people: int) -> Scenario:
    """People answering on their own: the office network for two in three, a phone for the rest, a device
    each (one in five also opens the link on a second device), ten working days, 3 to 25 minutes a form,
    their own answers; fifteen of them answer together in a department meeting."""
    meeting = set(rng.sample(range(people), min(15, people)))
    meeting_start = START + timedelta(days=2, hours=1)
    for n in range(people):
        invitation = _person(scenario)
        device = new_device_id()
        address = OFFICE if rng.random() < 0.67 else f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if rng.random() < 0.2:
            scenario.facts.devices_by_invitation.setdefault(invitation, {})[new_device_id()] = START
        codes = [LOCAL_FORM] + ([MINISTRY_FORM] if rng.random() < 0.3 else [])
        for code in codes:
            if n in meeting:
                at, address = meeting_start + timedelta(seconds=rng.randrange(600)), OFFICE
            else:
                at = START + timedelta(days=rng.randrange(10), minutes=rng.randrange(9 * 60))
            _submit(scenario, invitation, code, at, device=device, address=address,
                    seconds=rng.randrange(180, 1500), answers=_answers(rng, code))
    return scenario


def one_device_for_ten(rng: random.Random, people: int) -> Scenario:
    """One officer's computer answers for ten people, at a human pace, with varied answers."""
    scenario = honest(Scenario("Một thiết bị trả lời thay 10 người", {rules.SHARED_DEVICE}), rng, people)
    device = new_device_id()
    for n in range(10):
        invitation = _person(scenario)
        _submit(scenario, invitation, LOCAL_FORM, START + timedelta(days=3, minutes=20 * n), device=device,
                address=OFFICE, seconds=rng.randrange(300, 600), answers=_answers(rng, LOCAL_FORM))
        scenario.interfered.add((invitation, LOCAL_FORM))
    return scenario


def twenty_identical_in_five_minutes(rng: random.Random, people: int) -> Scenario:
    """Twenty forms sent within five minutes from the office network, each from a fresh browser (cookies
    cleared), all with the same answers option for option."""
    scenario = honest(Scenario("20 phiếu trong 5 phút, trả lời giống hệt",
                               {rules.BURST, rules.SAME_ANSWERS}), rng, people)
    answers = _answers(rng, LOCAL_FORM)
    for n in range(20):
        invitation = _person(scenario)
        _submit(scenario, invitation, LOCAL_FORM, START + timedelta(days=4, seconds=15 * n), device=new_device_id(),
                address=OFFICE, seconds=rng.randrange(200, 400), answers=answers)
        scenario.interfered.add((invitation, LOCAL_FORM))
    return scenario


def fifteen_seconds(rng: random.Random, people: int) -> Scenario:
    """One form of twenty questions finished in fifteen seconds."""
    scenario = honest(Scenario("Một phiếu xong trong 15 giây", {rules.TOO_FAST}), rng, people)
    invitation = _person(scenario)
    _submit(scenario, invitation, LOCAL_FORM, START + timedelta(days=5), device=new_device_id(), address=OFFICE,
            seconds=15, answers=_answers(rng, LOCAL_FORM))
    scenario.interfered.add((invitation, LOCAL_FORM))
    return scenario


def redirected_addresses(rng: random.Random, people: int) -> Scenario:
    """An officer changes six respondents' addresses to his own mailbox, then answers their links from his
    computer the next morning."""
    scenario = honest(Scenario("Cán bộ đổi địa chỉ email về mình rồi trả lời",
                               {rules.CHANGED_THEN_ANSWERED, rules.SHARED_DEVICE}), rng, people)
    device = new_device_id()
    for n in range(6):
        invitation = _person(scenario)
        changed = START + timedelta(days=1, hours=7, minutes=n)
        scenario.facts.address_changes[invitation] = [(1000 + n, changed, "Cán bộ tỉnh")]
        _submit(scenario, invitation, LOCAL_FORM, changed + timedelta(hours=16, minutes=12 * n), device=device,
                address=OFFICE, seconds=rng.randrange(240, 500), answers=_answers(rng, LOCAL_FORM))
        scenario.interfered.add((invitation, LOCAL_FORM))
    return scenario


def forwarded_link(rng: random.Random, people: int) -> Scenario:
    """One personal link passed round an office and opened on five devices before it is answered."""
    scenario = honest(Scenario("Một đường dẫn mở trên 5 thiết bị", {rules.MANY_DEVICES}), rng, people)
    invitation = _person(scenario)
    for n in range(4):
        scenario.facts.devices_by_invitation.setdefault(invitation, {})[new_device_id()] = START + timedelta(
            hours=n)
    _submit(scenario, invitation, LOCAL_FORM, START + timedelta(days=1), device=new_device_id(), address=OFFICE,
            seconds=600, answers=_answers(rng, LOCAL_FORM))
    scenario.interfered.add((invitation, LOCAL_FORM))
    return scenario


def scenarios(seed: int = 13, honest_people: int = 300, background: int = 60) -> list[Scenario]:
    """The honest province, then each interference inside an otherwise honest province."""
    rng = random.Random(seed)
    return [honest(Scenario("Tỉnh trung thực", set()), rng, honest_people),
            one_device_for_ten(rng, background), twenty_identical_in_five_minutes(rng, background),
            fifteen_seconds(rng, background), redirected_addresses(rng, background), forwarded_link(rng, background)]


@dataclass(frozen=True)
class Outcome:
    name: str
    expected: set[str]
    raised: set[str]
    interfered_flagged: int
    interfered: int
    honest_flagged: int
    honest: int

    @property
    def caught(self) -> bool:
        return self.expected <= self.raised and not self.honest_flagged


def evaluate(scenario: Scenario, limits: rules.Thresholds | None = None) -> Outcome:
    """Run every rule over the scenario and count the forms flagged among the interfered and the honest."""
    findings = rules.run_rules(scenario.facts, limits or rules.Thresholds())
    flagged = {form for finding in findings for form in finding.forms}
    # A link's flag (many devices) names the invitation with no form: it covers every form of that link.
    whole_links = {invitation for invitation, code in flagged if not code}
    forms = scenario.forms()
    interfered = {f for f in forms if f in scenario.interfered}
    honest_forms = forms - interfered
    hit = {f for f in forms if f in flagged or f[0] in whole_links}
    return Outcome(scenario.name, scenario.expected, {f.rule for f in findings}, len(interfered & hit),
                   len(interfered), len(honest_forms & hit), len(honest_forms))


def table(outcomes: list[Outcome]) -> str:
    """The outcomes as a Markdown table, totals last."""
    def rate(part: int, whole: int) -> str:
        return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "–"

    lines = ["| Kịch bản / scenario | Quy tắc cần bắt / expected | Quy tắc đã bắt / raised | "
             "Tỷ lệ bắt đúng / true flags | Tỷ lệ bắt nhầm / false flags |",
             "|---|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| {o.name} | {', '.join(sorted(o.expected)) or '(không)'} | "
                     f"{', '.join(sorted(o.raised)) or '(không)'} | {rate(o.interfered_flagged, o.interfered)} | "
                     f"{rate(o.honest_flagged, o.honest)} |")
    caught = rate(sum(o.interfered_flagged for o in outcomes), sum(o.interfered for o in outcomes))
    wrong = rate(sum(o.honest_flagged for o in outcomes), sum(o.honest for o in outcomes))
    lines.append(f"| **Tổng / total** | | | {caught} | {wrong} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- the same scenarios through the database


def _raw_answers(rng: random.Random, form) -> dict[str, list[str]]:
    """Answers to every question of a real form as the browser posts them, drawn from `rng`."""
    raw: dict[str, list[str]] = {}
    for question in form.questions:
        if question.kind in ("single", "multiple"):
            raw[question.id] = [rng.choice(question.options).value]
        elif question.kind == "number":
            low = int(question.min or 0)
            high = int(question.max) if question.max is not None else low + 100
            raw[question.id] = [str(rng.randint(low, high))]
        else:
            raw[question.id] = [rng.choice(["Không có ý kiến.", "Cần rút ngắn thời gian giải quyết hồ sơ.",
                                            "Thái độ phục vụ tốt.", "Nên công khai thêm thủ tục.", ""])]
    return raw


def through_the_database(chosen: list[Scenario], database_url: str) -> list[Outcome]:
    """Play the scenarios into a throwaway database through the portal's own domain functions: each
    scenario's people as a province's list, sent and launched; each visit as the survey pages record it
    (signals with device, address and page times; the draft saved and the form submitted with the answers);
    each address change through the IT focal point's correction. Then the rules read the database as the
    worker does, flags are kept, and a second run must add none."""
    from datetime import UTC

    from sqlmodel import Session, select

    from portal import create_app
    from portal.domain import accounts, answers, delivery, integrity
    from portal.domain.integrity import OPENED, SAVED, SUBMITTED
    from portal.models import Invitation, Province, Role, User, utcnow
    from tests.support.big_list import generated_rows
    from tests.support.database import PreparedDatabase
    from tests.support.survey import (
        current_campaign,
        form_def,
        launch,
        load_questionnaire,
        open_by_the_real_clock,
        send_list,
        sent_invitations,
    )

    database = PreparedDatabase(database_url)
    secret = "red-team-secret-key-0123456789abcdef0123456789abcdef"
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secret, "RATELIMIT_ENABLED": False,
                      "PORTAL_BASE_URL": "http://127.0.0.1"})
    tz_name, browser = app.config["PORTAL_TIMEZONE"], "Mozilla/5.0 (Linux; Android 10) Chrome/118.0 Mobile"
    outcomes = []
    with app.app_context(), Session(database.engine) as session:
        ministry, _ = accounts.create_user(session, "bonoivu", Role.MINISTRY, password="RedTeam2021cchc",
                                           must_change_password=False)
        session.commit()
        ministry = session.get(User, ministry.id)
        campaign = open_by_the_real_clock(app, session)
        provinces = list(session.exec(select(Province.id).order_by(Province.id).limit(len(chosen))))
        for province_id, scenario in zip(provinces, chosen, strict=True):
            send_list(session, province_id, rows=generated_rows(session, province_id, scenario.next_invitation - 1),
                      now=utcnow())
        load_questionnaire(session, ministry)
        launch(app, session, ministry, provinces)
        campaign = current_campaign(session)
        forms: dict[str, object] = {}
        shift = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=1) - START.replace(tzinfo=UTC)
        for province_id, scenario in zip(provinces, chosen, strict=True):
            people = sent_invitations(app, session, province_id)
            real: dict[tuple[int, str], tuple[int, str]] = {}
            for number in sorted(scenario.facts.address_changes):
                delivery.correct_address(session, ministry, session.get(Invitation, people[number - 1].invitation.id),
                                         f"can.bo.{province_id}.{number}@example.vn", base_url="http://127.0.0.1",
                                         mail_domain="127.0.0.1")
            for number, devices in scenario.facts.devices_by_invitation.items():
                invitation = session.get(Invitation, people[number - 1].invitation.id)
                for device, seen in devices.items():
                    integrity.record(session, invitation, OPENED, device=device, user_agent=browser,
                                     address=OFFICE, secret=secret, now=seen.replace(tzinfo=UTC) + shift)
            for fact in sorted(scenario.facts.submitted, key=lambda f: f.submitted_at):
                person = people[fact.invitation_id - 1]
                codes = person.form_codes
                if fact.form_code == MINISTRY_FORM and len(codes) < 2:
                    continue
                code = codes[0] if fact.form_code == LOCAL_FORM else codes[1]
                form = forms.setdefault(code, form_def(session, code))
                invitation = session.get(Invitation, person.invitation.id)
                at = fact.submitted_at.replace(tzinfo=UTC) + shift
                seconds = fact.seconds or 0
                address = scenario.addresses[(fact.invitation_id, fact.form_code)]
                seen = {"device": fact.device, "user_agent": browser, "address": address, "secret": secret}
                integrity.record(session, invitation, OPENED, form_code=code, now=at - timedelta(seconds=seconds),
                                 **seen)
                answers.save_draft(session, invitation, campaign, form,
                                   _raw_answers(random.Random(fact.answers_digest), form), tz_name=tz_name,
                                   secret=secret, now=at - timedelta(seconds=min(seconds, 5)))
                integrity.record(session, invitation, SAVED, form_code=code, seconds=max(seconds - 5, 0),
                                 now=at - timedelta(seconds=min(seconds, 5)), **seen)
                assert answers.submit(session, invitation, campaign, form, tz_name=tz_name, secret=secret,
                                      now=at).submitted
                integrity.record(session, invitation, SUBMITTED, form_code=code, seconds=min(seconds, 5), now=at,
                                 **seen)
                session.commit()
                real[(fact.invitation_id, fact.form_code)] = (invitation.id, code)
            played = Scenario(scenario.name, scenario.expected,
                              rules.province_facts(session, campaign.id, province_id, secret),
                              {real[f] for f in scenario.interfered if f in real})
            outcomes.append(evaluate(played))
        limits = rules.Thresholds()
        kept = rules.check_campaigns(session, secret, limits, campaign.id)
        assert kept and rules.check_campaigns(session, secret, limits, campaign.id) == 0, "a re-run added flags"
        evidence = " ".join(e for e in session.exec(select(rules.IntegrityFlag.evidence)))
        assert "Thái độ phục vụ tốt" not in evidence, "an answer reached the evidence"
    return outcomes


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile
    import time
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--facts-only", action="store_true",
                        help="run the rules over the scenarios' facts alone, without a database (a second)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.facts_only:
        outcomes = [evaluate(s) for s in scenarios()]
    else:
        with tempfile.TemporaryDirectory(prefix="cchc-redteam-") as folder:
            outcomes = through_the_database(scenarios(), f"sqlite:///{Path(folder) / 'redteam.sqlite3'}")
    print(table(outcomes))
    print(f"\n{time.monotonic() - started:.0f} s")
    return 0 if all(o.caught for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
