"""Signals recorded for integrity, kept apart: what a respondent's visit leaves for the integrity rules.

A respondent opens the link, the form, saves, confirms and submits through HTTP from an office address;
each step leaves a signal tied to the invitation (never to the answer), with the browser's random device
identifier, its user agent, the address only hashed and cut to its /24, and how long the page was open.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from portal.domain import integrity
from portal.models import Campaign, FormSignal
from tests.support.html import text_of
from tests.support.survey import DURING_SURVEY, complete_answers, form_def, launch_survey

OFFICE = "203.0.113.57"
BROWSER = "Mozilla/5.0 (Linux; Android 10; SM-A105F) Chrome/118.0 Mobile Safari/537.36"
STAMP = re.compile(r'name="_shown" value="([^"]+)"')


def test_a_visit_leaves_its_signals_tied_to_the_invitation_with_the_device_and_the_time_on_the_page(
        app, client, session, ministry_user, during_survey):
    person = launch_survey(app, session, ministry_user, per_group=1).of_group("LD_SO")
    form = form_def(session, person.form_codes[0])
    environ = {"REMOTE_ADDR": OFFICE}
    headers = {"User-Agent": BROWSER}

    overview = client.get(person.url, environ_base=environ, headers=headers)
    page = client.get(person.form_url(form.code), environ_base=environ, headers=headers).get_data(as_text=True)
    during_survey.move_to(DURING_SURVEY + timedelta(seconds=95))
    confirm = client.post(person.form_url(form.code), environ_base=environ, headers=headers,
                          data={**complete_answers(form), "action": "submit", "_shown": STAMP.search(page)[1]})
    during_survey.move_to(DURING_SURVEY + timedelta(seconds=104))
    sent = client.post(person.submit_url(form.code), environ_base=environ, headers=headers,
                       data={"_shown": STAMP.search(confirm.get_data(as_text=True))[1]})

    assert sent.status_code == 303
    assert "Để phát hiện việc trả lời thay hoặc can thiệp vào khảo sát, cổng ghi lại" in text_of(
        overview.get_data(as_text=True))
    cookie = overview.headers["Set-Cookie"]
    assert cookie.startswith(f"cchc_thiet_bi={client.get_cookie('cchc_thiet_bi', path='/phieu/').value};")
    assert "HttpOnly" in cookie and "Path=/phieu/" in cookie and "SameSite=Lax" in cookie
    signals = integrity.signals_of(session, person.invitation.id)
    assert [(s.event, s.form_code, s.seconds_on_page) for s in signals] == [
        ("opened", "", None), ("opened", form.code, None), ("saved", form.code, 95), ("submitted", form.code, 9)]
    device = client.get_cookie("cchc_thiet_bi", path="/phieu/").value
    assert {(s.device, s.user_agent, s.address_prefix, s.province_id) for s in signals} == {
        (device, BROWSER, "203.0.113.0/24", person.invitation.province_id)}
    assert {s.address_hash for s in signals} == {integrity.address_hash(OFFICE, app.config["SECRET_KEY"])}
    assert OFFICE not in signals[0].address_hash and len(signals[0].address_hash) == 32
    # Kept apart: nothing in the table reaches an answer.
    assert {fk.column.table.name for fk in FormSignal.__table__.foreign_keys} == {"invitation", "campaign",
                                                                                  "province"}


def test_another_browser_is_another_device_and_a_forged_page_stamp_gives_no_time(app, session, ministry_user,
                                                                                during_survey):
    person = launch_survey(app, session, ministry_user, per_group=1).of_group("LD_SO")
    form = form_def(session, person.form_codes[0])
    first, second = app.test_client(), app.test_client()
    first.get(person.url)
    second.set_cookie("cchc_thiet_bi", "not-one-of-ours", path="/phieu/")
    second.post(person.form_url(form.code), data={"action": "save", "_shown": "shown.AAAAAA.forged"})

    signals = integrity.signals_of(session, person.invitation.id)
    assert len({s.device for s in signals}) == 2
    assert all(integrity.is_device_id(s.device) for s in signals)
    assert signals[-1].seconds_on_page is None


def test_network_prefixes_are_cut_to_24_and_48_bits():
    assert integrity.address_prefix("2001:db8:abcd:12:1::7") == "2001:db8:abcd::/48"
    assert integrity.address_prefix("::ffff:198.51.100.9") == "198.51.100.0/24"
    assert integrity.address_prefix("không phải địa chỉ") == ""


def test_signals_are_deleted_the_configured_time_after_their_campaign_closes(app, session, ministry_user,
                                                                           during_survey):
    person = launch_survey(app, session, ministry_user, per_group=1).of_group("LD_SO")
    app.test_client().get(person.url)
    campaign = session.get(Campaign, person.invitation.campaign_id)

    assert integrity.forget_closed_campaigns(session, 180) == 0  # the campaign is open
    campaign.closed_at = DURING_SURVEY - timedelta(days=179)
    session.add(campaign)
    session.commit()
    assert integrity.forget_closed_campaigns(session, 180, now=DURING_SURVEY) == 0
    assert integrity.forget_closed_campaigns(session, 180, now=DURING_SURVEY + timedelta(days=2)) == 1
    assert session.exec(select(FormSignal)).all() == []
