"""Integrity rules: each raises on its red-team scenario with the right evidence, none on an honest province,
no answer value in any evidence, re-running adds no flag, and a flag never touches an answer.

The scenario tests run the rules over bench/redteam.py's provinces (no database); the survey tests answer
through the real survey pages, one browser (test client, its own device cookie) per device, and read the
flags the CLI and the worker's job keep.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import select

from bench import redteam
from portal import jobs
from portal.domain import delivery, integrity_rules
from portal.domain import integrity_rules as rules
from portal.models import Answer, FormSignal, IntegrityFlag, IntegrityWatermark, utcnow
from tests.support.survey import complete_answers, form_def, launch_survey

STAMP = re.compile(r'name="_shown" value="([^"]+)"')
OFFICE = "203.0.113.57"
OWN_WORDS = "Ý kiến riêng của người trả lời số"


# ---------------------------------------------------------------- the red-team scenarios, rule by rule


@pytest.fixture(scope="module")
def outcomes():
    return {s.name: (s, rules.run_rules(s.facts, rules.Thresholds())) for s in redteam.scenarios()}


def test_the_honest_province_of_hundreds_of_respondents_raises_no_flag(outcomes):
    scenario, findings = outcomes["Tỉnh trung thực"]
    assert len(scenario.facts.submitted) > 300
    assert findings == []


def test_fifteen_colleagues_answering_together_from_the_office_network_raise_nothing():
    scenario = redteam.honest(redteam.Scenario("meeting", set()), random.Random(1), 15)
    office = scenario.facts.submitted[0]
    scenario.facts.submitted = [
        replace(form, submitted_at=redteam.START + timedelta(seconds=20 * n), address_hash=office.address_hash,
                address_prefix=office.address_prefix) for n, form in enumerate(scenario.facts.submitted)]

    assert len(scenario.facts.submitted) >= 15
    assert rules.run_rules(scenario.facts, rules.Thresholds()) == []


def test_one_device_answering_for_ten_people_is_flagged_with_that_device(outcomes):
    scenario, findings = outcomes["Một thiết bị trả lời thay 10 người"]
    [flag] = [f for f in findings if f.rule == rules.SHARED_DEVICE]
    assert set(flag.forms) == scenario.interfered
    assert flag.evidence["respondents"] == 10 and flag.severity == "high"
    assert flag.evidence["device"] == {f.device for f in scenario.facts.submitted
                                       if (f.invitation_id, f.form_code) in scenario.interfered}.pop()


def test_twenty_identical_forms_in_five_minutes_are_a_burst_and_the_same_answers(outcomes):
    scenario, findings = outcomes["20 phiếu trong 5 phút, trả lời giống hệt"]
    burst = next(f for f in findings if f.rule == rules.BURST)
    same = next(f for f in findings if f.rule == rules.SAME_ANSWERS)
    assert set(burst.forms) == set(same.forms) == scenario.interfered
    assert burst.evidence["by"] == "address" and burst.evidence["forms_with_identical_answers"] == 20
    assert burst.evidence["address_prefix"] == "203.0.113.0/24"
    assert same.evidence["forms"] == 20 and same.evidence["devices"] == 20
    assert "digest" not in json.dumps(same.evidence)


def test_a_form_finished_in_fifteen_seconds_is_too_fast_for_its_twenty_questions(outcomes):
    scenario, findings = outcomes["Một phiếu xong trong 15 giây"]
    [flag] = findings
    assert (flag.rule, set(flag.forms)) == (rules.TOO_FAST, scenario.interfered)
    assert (flag.evidence["seconds"], flag.evidence["floor_seconds"], flag.evidence["questions"]) == (15, 60, 20)


def test_an_officer_redirecting_addresses_to_himself_and_answering_is_flagged_with_the_audit_entries(outcomes):
    scenario, findings = outcomes["Cán bộ đổi địa chỉ email về mình rồi trả lời"]
    [flag] = [f for f in findings if f.rule == rules.CHANGED_THEN_ANSWERED]
    assert set(flag.forms) == scenario.interfered
    assert sorted(c["audit_entry"] for c in flag.evidence["changes"]) == list(range(1000, 1006))
    assert {c["changed_by"] for c in flag.evidence["changes"]} == {"Cán bộ tỉnh"}


def test_a_link_opened_on_five_devices_is_flagged(outcomes):
    scenario, findings = outcomes["Một đường dẫn mở trên 5 thiết bị"]
    [flag] = findings
    assert flag.rule == rules.MANY_DEVICES and len(flag.evidence["devices"]) == 5


def test_the_red_team_command_prints_every_scenario_caught_and_no_honest_form_flagged(capsys):
    assert redteam.main(["--facts-only"]) == 0
    printed = capsys.readouterr().out
    assert "| **Tổng / total** | | | 38/38 (100%) | 0/785 (0%) |" in printed


def test_the_red_team_scenarios_played_through_a_database_are_caught_the_same(tmp_path):
    outcomes = redteam.through_the_database(redteam.scenarios(honest_people=40, background=12),
                                            f"sqlite:///{tmp_path / 'redteam.sqlite3'}")
    assert [(o.name, o.caught, o.interfered_flagged == o.interfered) for o in outcomes] == [
        (s.name, True, True) for s in redteam.scenarios(honest_people=1, background=1)]


# ---------------------------------------------------------------- through the survey pages and the database


def _answer(client, clock, person, code, *, seconds, raw, address=OFFICE) -> None:
    environ = {"REMOTE_ADDR": address}
    client.get(person.url, environ_base=environ)
    page = client.get(person.form_url(code), environ_base=environ).get_data(as_text=True)
    clock.shift(timedelta(seconds=seconds))
    confirm = client.post(person.form_url(code), environ_base=environ,
                          data={**raw, "action": "submit", "_shown": STAMP.search(page)[1]})
    sent = client.post(person.submit_url(code), environ_base=environ,
                       data={"_shown": STAMP.search(confirm.get_data(as_text=True))[1]})
    assert sent.status_code == 303


def _flags(session) -> list[IntegrityFlag]:
    session.expire_all()
    return list(session.exec(select(IntegrityFlag).order_by(IntegrityFlag.rule, IntegrityFlag.id)))


def test_one_browser_answering_for_three_people_is_flagged_once_and_no_answer_reaches_the_evidence(
        app, session, runner, ministry_user, during_survey):
    survey = launch_survey(app, session, ministry_user, per_group=2)
    people = [p for p in survey.invitations if p.group_code == "LD_SO"] + \
             [p for p in survey.invitations if p.group_code == "LD_PHONG"]
    officer = app.test_client()
    for n, person in enumerate(people[:3]):
        form = form_def(session, person.form_codes[0])
        _answer(officer, during_survey, person, form.code, seconds=5,
                raw=complete_answers(form, text=f"{OWN_WORDS} {n}", shift=n))
    for n, person in enumerate(people[3:], start=3):
        form = form_def(session, person.form_codes[0])
        _answer(app.test_client(), during_survey, person, form.code, seconds=400,
                raw=complete_answers(form, text=f"{OWN_WORDS} {n}", shift=n))
    answers_before = sorted((a.id, a.answers) for a in session.exec(select(Answer)))

    assert runner.invoke(args=["portal", "integrity-check"]).exit_code == 0
    flags = _flags(session)
    again = runner.invoke(args=["portal", "integrity-check", "--campaign", str(survey.campaign.id)])
    assert jobs.check_integrity(app) == 0

    assert "0 cảnh báo mới" in again.output
    assert [(f.id, f.updated_at >= f.created_at) for f in _flags(session)] == [(f.id, True) for f in flags]
    officer_people = sorted(p.invitation.id for p in people[:3])
    device = officer.get_cookie("cchc_thiet_bi", path="/phieu/").value
    shared = [f for f in flags if f.rule == rules.SHARED_DEVICE]
    assert [(json.loads(f.invitation_ids), json.loads(f.evidence)["device"], f.province_id) for f in shared] == [
        (officer_people, device, survey.province.id)]
    fast = sorted(json.loads(f.invitation_ids)[0] for f in flags if f.rule == rules.TOO_FAST)
    assert fast == officer_people
    assert {f.rule for f in flags} == {rules.SHARED_DEVICE, rules.TOO_FAST}
    assert all(f.state == "open" for f in flags)
    every_evidence = " ".join(f.evidence + f.forms for f in flags)
    assert OWN_WORDS not in every_evidence
    # A flag never changes an answer.
    assert sorted((a.id, a.answers) for a in session.exec(select(Answer))) == answers_before


def test_answers_sent_soon_after_the_address_was_changed_from_one_browser_are_flagged_with_the_audit(
        app, session, ministry_user, during_survey):
    survey = launch_survey(app, session, ministry_user, per_group=1)
    people = survey.invitations[:2]
    # Two mailboxes the officer reads (the list refuses one address for two people).
    for n, person in enumerate(people):
        delivery.correct_address(session, ministry_user, person.invitation, f"can.bo.tinh.{n}@example.vn",
                                 base_url="http://localhost", mail_domain="localhost")
    during_survey.shift(timedelta(hours=20))
    officer = app.test_client()
    for person in people:
        form = form_def(session, person.form_codes[0])
        _answer(officer, during_survey, person, form.code, seconds=600, raw=complete_answers(form))

    new = integrity_rules.check_new_submissions(session, app.config["SECRET_KEY"], rules.Thresholds())

    flags = {f.rule: f for f in _flags(session)}
    assert new == 1 and set(flags) == {rules.CHANGED_THEN_ANSWERED}
    evidence = json.loads(flags[rules.CHANGED_THEN_ANSWERED].evidence)
    assert sorted(c["invitation"] for c in evidence["changes"]) == sorted(p.invitation.id for p in people)
    assert evidence["devices"] == [officer.get_cookie("cchc_thiet_bi", path="/phieu/").value]
    # The worker's next run looks only at what came since: nothing new, nothing repeated.
    assert integrity_rules.check_new_submissions(session, app.config["SECRET_KEY"], rules.Thresholds()) == 0
    assert len(_flags(session)) == 1


def test_a_submission_committed_after_the_last_run_under_a_smaller_id_is_still_checked(
        app, session, ministry_user, during_survey):
    survey = launch_survey(app, session, ministry_user, per_group=1)
    officer = app.test_client()
    for n, person in enumerate(survey.invitations[:3]):
        form = form_def(session, person.form_codes[0])
        _answer(officer, during_survey, person, form.code, seconds=600, raw=complete_answers(form, shift=n))
    # The last run moved its mark past these signals' ids while their transaction had not committed yet.
    highest = max(s.id for s in session.exec(select(FormSignal)))
    session.add(IntegrityWatermark(last_signal_id=highest, checked_at=utcnow()))
    session.commit()

    assert integrity_rules.check_new_submissions(session, app.config["SECRET_KEY"], rules.Thresholds()) == 1
    assert [f.rule for f in _flags(session)] == [rules.SHARED_DEVICE]


def test_an_address_change_is_linked_to_its_respondent_by_the_audit_columns_not_by_its_wording(
        app, session, ministry_user, during_survey):
    from portal.domain import audit
    from portal.models import AuditEntry

    survey = launch_survey(app, session, ministry_user, per_group=1)
    person = survey.invitations[0]
    first_address = person.respondent.email
    # Changed twice: the first entry's text no longer ends at the person's current address.
    for n in range(2):
        delivery.correct_address(session, ministry_user, person.invitation, f"hop.thu.{n}@example.vn",
                                 base_url="http://localhost", mail_domain="localhost")

    entries = list(session.exec(select(AuditEntry).where(AuditEntry.action == audit.ADDRESS_CHANGE)
                                .order_by(AuditEntry.id)))
    facts = rules.province_facts(session, survey.campaign.id, survey.province.id, app.config["SECRET_KEY"])

    assert [(e.subject_respondent_id, e.old_email_hash, e.new_email_hash) for e in entries] == [
        (person.respondent.id, audit.email_hash(first_address), audit.email_hash("hop.thu.0@example.vn")),
        (person.respondent.id, audit.email_hash("hop.thu.0@example.vn"), audit.email_hash("HOP.THU.1@example.vn"))]
    assert [change[0] for change in facts.address_changes[person.invitation.id]] == [e.id for e in entries]
