"""How a form reads to its respondent: its name (naming the ministry evaluated), its intro, the error banner.

The 2021 survey is launched for a short Hà Nội list with the clock frozen on 01/02/2022.
"""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from portal.models import Ministry, OutboxMessage, Respondent
from tests.support.accounts import log_in
from tests.support.html import text_of
from tests.support.survey import DURING_SURVEY, LaunchedSurvey, complete_answers, first_half, form_def, launch_survey


@pytest.fixture
def survey(app, session, ministry_user, time_machine) -> LaunchedSurvey:
    time_machine.move_to(DURING_SURVEY, tick=False)
    return launch_survey(app, session, ministry_user)


def intro_markup(html: str) -> str:
    match = re.search(r'<details class="intro">.*?</details>', html, re.S)
    assert match, "the page shows no intro"
    return match.group(0)


# ---------------------------------------------------------------- which ministry


def test_the_ministry_form_names_the_ministry_in_its_title_the_overview_and_the_invitation(client, session, survey):
    person = survey.of_group("LD_SO")  # works in Sở Nội vụ: evaluates Bộ Nội vụ

    overview = text_of(client.get(person.url).get_data(as_text=True))
    form = client.get(person.form_url("BO-LD")).get_data(as_text=True)
    invitation = session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id)).one()

    assert "Phiếu đánh giá địa phương" in overview
    assert "Phiếu đánh giá bộ chủ quản: Bộ Nội vụ" in overview
    assert "<h1>Phiếu đánh giá bộ chủ quản: Bộ Nội vụ</h1>" in form
    assert "<title>Phiếu đánh giá bộ chủ quản: Bộ Nội vụ · Chỉ số CCHC</title>" in form
    assert "- Phiếu đánh giá bộ chủ quản: Bộ Nội vụ (khoảng 8 phút)" in invitation.body_text
    assert "<li>Phiếu đánh giá bộ chủ quản: Bộ Nội vụ (khoảng 8 phút)</li>" in invitation.body_html
    assert "- Phiếu đánh giá địa phương (khoảng 10 phút)" in invitation.body_text


def test_a_respondent_of_another_ministry_sees_that_ministry_named(app, client, session, survey):
    from portal.domain import invitations

    person = survey.of_group("LD_PHONG")
    finance = session.exec(select(Ministry).where(Ministry.name == "Bộ Tài chính")).one()
    respondent = session.get(Respondent, person.respondent.id)
    respondent.ministry_id = finance.id
    session.add(respondent)
    invitation = session.get(type(person.invitation), person.invitation.id)
    invitation.delivery_status = "sent"  # the first email went out: only then is another queued
    session.add(invitation)
    session.commit()
    with app.app_context():
        invitations.resend(session, None, session.get(type(person.invitation), person.invitation.id),
                           base_url="http://localhost", mail_domain="localhost")

    resent = session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id)
                          .order_by(OutboxMessage.id.desc())).first()
    assert "Phiếu đánh giá bộ chủ quản: Bộ Tài chính" in resent.body_text
    assert "<h1>Phiếu đánh giá bộ chủ quản: Bộ Tài chính</h1>" in client.get(person.form_url("BO-LD")).get_data(
        as_text=True)
    assert "Phiếu đánh giá bộ chủ quản: Bộ Tài chính" in text_of(client.get(person.url).get_data(as_text=True))


def test_the_respondent_never_sees_a_form_code(client, survey):
    person = survey.of_group("LD_SO")

    for url in (person.url, person.form_url("DP-LDSO"), person.form_url("BO-LD")):
        page = text_of(client.get(url).get_data(as_text=True))
        assert "DP-LDSO" not in page and "BO-LD" not in page


# ---------------------------------------------------------------- one intro renderer


@pytest.mark.parametrize("code", ["DP-HDND", "BO-LD"])
def test_the_live_form_and_the_ministry_preview_render_the_intro_alike(client, session, ministry_user, survey, code):
    person = survey.of_group("LD_SO" if code == "BO-LD" else "HDND")
    form = form_def(session, code)

    live = intro_markup(client.get(person.form_url(code)).get_data(as_text=True))
    log_in(client, ministry_user)
    preview = intro_markup(client.get(f"/bo/phieu-khao-sat/xem/{code}").get_data(as_text=True))

    assert live == preview
    paragraphs = re.findall(r"<p>(.*?)</p>", live, re.S)
    assert len(paragraphs) == len(form.intro.strip().splitlines()) == 3
    assert paragraphs[0].startswith("PHIẾU MẪU – không phải nội dung chính thức")


# ---------------------------------------------------------------- the error banner


def test_a_refused_final_submit_links_to_each_question_still_to_answer(client, session, survey):
    person = survey.of_group("HDND")
    form = form_def(session, "DP-HDND")
    answered = first_half(form, complete_answers(form))

    response = client.post(person.form_url("DP-HDND"), data={**answered, "action": "submit"})

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    banner = re.search(r'<div class="msg msg-error" role="alert" id="loi">(.*?)</div>', page, re.S).group(1)
    missing = [(number, q) for number, q in enumerate(form.questions, start=1)
               if q.required and q.id not in answered]
    assert missing
    links = re.findall(r'<a href="#(q-[^"]+)">Câu (\d+)</a>', banner)
    assert links == [(f"q-{q.id}", str(number)) for number, q in missing]
    assert f"Còn {len(missing)} câu cần trả lời hoặc sửa:" in text_of(banner)
    for target, _number in links:
        assert f'id="{target}"' in page
