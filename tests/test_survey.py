"""The respondent's side, through HTTP: the personal link, the forms, drafts, one submission, the deadline.

Every test launches the 2021 survey for a short Hà Nội list (two people of each group) with the clock
frozen on 01/02/2022, inside the response period that ends on 20/02/2022 at 23:59:59 +07.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from portal.domain import invitations
from portal.domain.invitations import masked_path, response_key
from portal.extensions import db
from portal.models import Answer, FormProgress, FormState, Invitation, OutboxMessage, RespondentGroup
from tests.support.accounts import log_in
from tests.support.database import count_rows
from tests.support.html import text_of
from tests.support.statements import count_round_trips, count_statements
from tests.support.survey import (
    AFTER_DEADLINE,
    FIRST_MOMENT_AFTER_DEADLINE,
    LAST_MOMENT_OF_DEADLINE,
    LaunchedSurvey,
    SentInvitation,
    complete_answers,
    first_half,
    form_def,
    form_states,
    form_values,
    launch_survey,
)

INVALID = "Đường liên kết không hợp lệ"
# Forms by name (the LD_SO and LD_PHONG people of the sample list work in Sở Nội vụ).
LOCALITY = "Phiếu đánh giá địa phương"
MINISTRY = "Phiếu đánh giá bộ chủ quản: Bộ Nội vụ"
CLOSED = "Đã hết hạn trả lời phiếu"
SECRET_TEXT = "ý-kiến-bí-mật-123"



@pytest.fixture
def survey(app, session, ministry_user, during_survey) -> LaunchedSurvey:
    return launch_survey(app, session, ministry_user)


def stored_answer(app, session: Session, person: SentInvitation, code: str) -> Answer | None:
    session.expire_all()
    key = response_key(person.invitation.id, code, app.config["SECRET_KEY"])
    return session.exec(select(Answer).where(Answer.response_key == key)).first()


def progress_of(session: Session, person: SentInvitation, code: str) -> FormProgress:
    session.expire_all()
    return session.exec(select(FormProgress).where(FormProgress.invitation_id == person.invitation.id,
                                                   FormProgress.form_code == code)).one()



def as_stored(raw: dict[str, list[str]], form) -> dict:
    """What the portal keeps for posted answers: one value for single/number/text, a list for multiple."""
    kinds = {q.id: q.kind for q in form.questions}
    return {qid: (values if kinds[qid] == "multiple" else int(values[0]) if kinds[qid] == "number" else values[0])
            for qid, values in raw.items()}


def save(client, person: SentInvitation, code: str, raw: dict, action: str = "save"):
    return client.post(person.form_url(code), data={**raw, "action": action})


def submit_completely(client, person: SentInvitation, code: str, raw: dict) -> None:
    assert save(client, person, code, raw, "submit").status_code == 200
    response = client.post(person.submit_url(code))
    assert response.status_code == 303


# ---------------------------------------------------------------- the respondent's page


def test_the_link_opens_the_respondents_page_with_each_form_and_its_state(app, client, session, survey):
    person = survey.of_group("LD_SO")
    locality, ministry = form_def(session, "DP-LDSO"), form_def(session, "BO-LD")

    first = client.get(person.url)

    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert f"Kính chào {person.respondent.full_name}" in page
    assert form_states(page) == {LOCALITY: "Chưa trả lời", MINISTRY: "Chưa trả lời"}
    assert "20/02/2022" in page

    save(client, person, "DP-LDSO", first_half(locality, complete_answers(locality)))
    assert form_states(client.get(person.url).get_data(as_text=True)) == {
        LOCALITY: "Đang trả lời", MINISTRY: "Chưa trả lời"}

    submit_completely(client, person, "BO-LD", complete_answers(ministry))
    assert form_states(client.get(person.url).get_data(as_text=True)) == {
        LOCALITY: "Đang trả lời", MINISTRY: "Đã nộp phiếu"}
    session.expire_all()
    assert session.get(Invitation, person.invitation.id).first_opened_at is not None


@pytest.mark.parametrize(("group", "forms"), [
    ("HDND", ["DP-HDND"]),
    ("LD_SO", ["DP-LDSO", "BO-LD"]),
    ("LD_PHONG", ["DP-LDPHONG", "BO-LD"]),
    ("LD_HUYEN", ["DP-LDHUYEN"]),
])
def test_groups_2_and_3_answer_the_locality_and_the_ministry_form_groups_1_and_4_the_locality_form_only(
        client, session, survey, group, forms):
    person = survey.of_group(group)

    page = client.get(person.url).get_data(as_text=True)

    assert list(form_states(page)) == [form_def(session, code).for_ministry("Bộ Nội vụ").name for code in forms]
    linked = re.findall(rf'href="/phieu/{re.escape(person.token)}/([^"/]+)"', page)
    assert linked == forms
    for code in forms:
        assert client.get(person.form_url(code)).status_code == 200
    # Another group's form is not theirs: the same page as any unknown link.
    others = {"DP-HDND", "DP-LDSO", "DP-LDPHONG", "DP-LDHUYEN", "BO-LD"} - set(forms)
    for code in others:
        response = client.get(person.form_url(code))
        assert response.status_code == 404
        assert INVALID in response.get_data(as_text=True)


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_every_form_page_weighs_under_14_kb_compressed_and_needs_no_javascript(client, survey, encoding):
    for person in (survey.of_group("HDND"), survey.of_group("LD_SO"), survey.of_group("LD_PHONG"),
                   survey.of_group("LD_HUYEN")):
        for code in person.form_codes:
            response = client.get(person.form_url(code), headers={"Accept-Encoding": encoding})

            assert response.status_code == 200
            assert response.headers["Content-Encoding"] == encoding
            assert len(response.get_data()) < 14 * 1024
            plain = client.get(person.form_url(code), headers={"Accept-Encoding": "identity"})
            assert "<script" not in plain.get_data(as_text=True)
            assert 'name="viewport" content="width=device-width' in plain.get_data(as_text=True)


def test_saving_half_then_coming_back_later_from_the_link_shows_the_saved_answers(app, session, survey):
    person = survey.of_group("LD_PHONG")
    form = form_def(session, "DP-LDPHONG")
    half = first_half(form, complete_answers(form))

    saved = save(app.test_client(), person, form.code, half)

    assert saved.status_code == 200
    assert "Đã lưu câu trả lời" in saved.get_data(as_text=True)
    later = app.test_client()  # another day, another browser: only the link
    page = later.get(person.form_url(form.code))
    assert page.status_code == 200
    assert form_values(page.get_data(as_text=True)) == half
    answer = stored_answer(app, session, person, form.code)
    assert answer is not None and not answer.submitted
    assert progress_of(session, person, form.code).state == FormState.IN_PROGRESS


def test_sending_with_required_answers_missing_shows_the_errors_and_keeps_the_answers(app, client, session, survey):
    person = survey.of_group("HDND")
    form = form_def(session, "DP-HDND")
    half = first_half(form, complete_answers(form))
    required_left = [q for q in form.questions if q.required and q.id not in half]

    response = save(client, person, form.code, half, "submit")

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f"Còn {len(required_left)} câu cần trả lời hoặc sửa" in page
    assert page.count('class="field-error"') == len(required_left)
    assert "Vui lòng chọn một phương án." in page
    assert form_values(page) == half
    assert "Xác nhận nộp phiếu" not in page
    assert progress_of(session, person, form.code).state == FormState.IN_PROGRESS
    assert not stored_answer(app, session, person, form.code).submitted


def test_a_complete_form_asks_once_for_confirmation_then_is_stored_and_thanked(app, client, session, survey):
    person = survey.of_group("LD_HUYEN")
    form = form_def(session, "DP-LDHUYEN")
    answers = complete_answers(form, text=SECRET_TEXT)

    asked = save(client, person, form.code, answers, "submit")

    assert asked.status_code == 200
    assert "Xác nhận nộp phiếu" in asked.get_data(as_text=True)
    assert f'action="{person.submit_url(form.code)}"' in asked.get_data(as_text=True)
    assert progress_of(session, person, form.code).state == FormState.IN_PROGRESS  # not yet sent

    confirmed = client.post(person.submit_url(form.code))

    assert confirmed.status_code == 303
    assert confirmed.headers["Location"].endswith(f"{person.form_url(form.code)}/cam-on")
    thanks = client.get(confirmed.headers["Location"])
    assert thanks.status_code == 200
    assert "Cảm ơn Ông/Bà" in thanks.get_data(as_text=True)
    assert "đã hoàn thành tất cả các phiếu" in thanks.get_data(as_text=True)
    answer = stored_answer(app, session, person, form.code)
    assert answer.submitted and answer.submitted_at is not None
    assert answer.form_code == form.code and answer.group_code == "LD_HUYEN"
    assert answer.questionnaire_version_id == person.invitation.questionnaire_version_id
    assert json.loads(answer.answers) == as_stored(answers, form)
    progress = progress_of(session, person, form.code)
    assert progress.state == FormState.SUBMITTED and progress.submitted_at is not None


def test_the_thanks_page_of_a_form_not_sent_yet_leads_back_to_the_form(client, session, survey):
    person = survey.of_group("HDND")

    response = client.get(f"{person.form_url('DP-HDND')}/cam-on")

    assert response.status_code == 303
    assert response.headers["Location"].endswith(person.form_url("DP-HDND"))


def test_a_submitted_form_cannot_be_changed_by_a_later_post_of_the_form_or_of_the_confirmation(
        app, client, session, survey):
    person = survey.of_group("LD_SO")
    form = form_def(session, "DP-LDSO")
    submit_completely(client, person, form.code, complete_answers(form))
    before = stored_answer(app, session, person, form.code)
    other = complete_answers(form, shift=2, text="đã đổi ý")

    for action in ("save", "submit"):
        response = save(client, person, form.code, other, action)
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/cam-on")
    again = client.post(person.submit_url(form.code))
    reopened = client.get(person.form_url(form.code))

    assert again.status_code == 303 and reopened.status_code == 303
    after = stored_answer(app, session, person, form.code)
    assert (after.answers, after.submitted_at, after.updated_at) == (before.answers, before.submitted_at,
                                                                      before.updated_at)
    submitted_at = progress_of(session, person, form.code).submitted_at
    # The answer keeps only the day, so its times cannot be matched to a person's form state.
    assert submitted_at.replace(hour=0, minute=0, second=0, microsecond=0) == before.submitted_at
    assert submitted_at != before.submitted_at


def test_two_confirmation_posts_make_one_submitted_answer(app, client, session, survey):
    person = survey.of_group("HDND")
    form = form_def(session, "DP-HDND")
    assert save(client, person, form.code, complete_answers(form), "submit").status_code == 200

    first = client.post(person.submit_url(form.code))
    second = client.post(person.submit_url(form.code))

    assert (first.status_code, second.status_code) == (303, 303)
    assert count_rows(session, Answer) == 1
    assert count_rows(session, Answer, Answer.submitted == True) == 1  # noqa: E712
    assert count_rows(session, FormProgress, FormProgress.state == FormState.SUBMITTED.value) == 1


def _at_once(app, calls: int, request) -> list[int]:
    """Run `request(client)` in `calls` threads released together; their status codes."""
    barrier = threading.Barrier(calls)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=10)
            statuses.append(request(client).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return statuses


def test_confirmations_posted_at_once_from_several_threads_make_one_submitted_answer(app, session, survey):
    person = survey.of_group("LD_PHONG")
    form = form_def(session, "BO-LD")
    assert save(app.test_client(), person, form.code, complete_answers(form), "submit").status_code == 200

    statuses = _at_once(app, 4, lambda client: client.post(person.submit_url(form.code)))

    assert statuses == [303] * 4
    assert count_rows(session, Answer) == 1
    assert count_rows(session, Answer, Answer.submitted == True) == 1  # noqa: E712
    assert count_rows(session, FormProgress, FormProgress.state == FormState.SUBMITTED.value) == 1


def test_a_double_click_on_the_first_save_makes_one_answer_and_no_error(app, session, survey):
    person = survey.of_group("LD_HUYEN")
    form = form_def(session, "DP-LDHUYEN")
    half = first_half(form, complete_answers(form))

    statuses = _at_once(app, 4, lambda client: save(client, person, form.code, half))

    assert statuses == [200] * 4
    assert count_rows(session, Answer) == 1
    assert form_values(app.test_client().get(person.form_url(form.code)).get_data(as_text=True)) == half


def test_a_draft_saved_from_a_stale_tab_after_submission_does_not_overwrite_the_submitted_answers(
        app, session, survey):
    person = survey.of_group("HDND")
    form = form_def(session, "DP-HDND")
    first_tab, second_tab = app.test_client(), app.test_client()
    assert first_tab.get(person.form_url(form.code)).status_code == 200
    submitted = complete_answers(form, text=SECRET_TEXT)
    submit_completely(second_tab, person, form.code, submitted)

    stale = save(first_tab, person, form.code, first_half(form, complete_answers(form, shift=3)))

    assert stale.status_code == 303
    assert stale.headers["Location"].endswith("/cam-on")
    answer = stored_answer(app, session, person, form.code)
    assert answer.submitted and json.loads(answer.answers) == as_stored(submitted, form)
    assert count_rows(session, Answer) == 1


# ---------------------------------------------------------------- the deadline


def test_forms_are_open_and_take_a_submission_until_the_last_moment_of_the_deadline_day(
        app, client, session, survey, during_survey):
    person = survey.of_group("HDND")
    form = form_def(session, "DP-HDND")
    during_survey.move_to(LAST_MOMENT_OF_DEADLINE, tick=False)

    assert client.get(person.form_url(form.code)).status_code == 200
    submit_completely(client, person, form.code, complete_answers(form))

    assert stored_answer(app, session, person, form.code).submitted
    during_survey.move_to(FIRST_MOMENT_AFTER_DEADLINE, tick=False)
    assert client.get(survey.of_group("HDND", 1).form_url(form.code)).status_code == 410  # a moment later: closed


def test_after_the_response_deadline_the_forms_are_closed_and_nothing_is_saved(app, client, session, survey,
                                                                               during_survey):
    person = survey.of_group("LD_SO")
    form = form_def(session, "DP-LDSO")
    complete = complete_answers(form)
    save(client, person, form.code, first_half(form, complete))
    before = stored_answer(app, session, person, form.code)
    during_survey.move_to(AFTER_DEADLINE, tick=False)

    opened = client.get(person.form_url(form.code))
    saved = save(client, person, form.code, complete)
    sent = save(client, person, form.code, complete, "submit")
    confirmed = client.post(person.submit_url(form.code))
    untouched = client.get(person.form_url("BO-LD"))

    for response in (opened, saved, sent, confirmed, untouched):
        assert response.status_code == 410
        text = text_of(response.get_data(as_text=True))
        assert CLOSED in text
        assert "23:59 ngày 20/02/2022" in text
    after = stored_answer(app, session, person, form.code)
    assert (after.answers, after.updated_at, after.submitted) == (before.answers, before.updated_at, False)
    assert stored_answer(app, session, person, "BO-LD") is None
    assert count_rows(session, FormProgress, FormProgress.state == FormState.SUBMITTED.value) == 0
    overview = client.get(person.url).get_data(as_text=True)
    assert CLOSED in overview and person.form_url(form.code) not in overview


# ---------------------------------------------------------------- forged links and guessing


def _forged(survey: LaunchedSurvey) -> dict[str, str]:
    person, other = survey.invitations[0], survey.invitations[1]
    ident, _, mac = person.token.partition(".")
    changed = person.token[:-1] + ("A" if person.token[-1] != "A" else "B")
    return {
        "last character changed": changed,
        "another id with a valid-looking mac": f"{other.invitation.id}.{mac}",
        "an unknown id": f"987654.{mac}",
        "the id alone": ident,
        "the mac alone": mac,
        "garbage": "khong-phai-duong-lien-ket",
        "a very long string": f"{ident}." + "A" * 5000,
        "a very long id": "9" * 3000 + f".{mac}",
        "a key from another server": invitations.link_token(person.invitation, "another-secret-key-" * 3),
    }


def test_a_forged_or_unknown_link_gets_the_same_invalid_link_page(client, survey):
    person = survey.of_group("LD_SO")
    bodies = set()

    for name, token in _forged(survey).items():
        for method, path in (("GET", f"/phieu/{token}"), ("GET", f"/phieu/{token}/DP-LDSO"),
                             ("POST", f"/phieu/{token}/DP-LDSO"), ("POST", f"/phieu/{token}/DP-LDSO/gui"),
                             ("GET", f"/phieu/{token}/DP-LDSO/cam-on")):
            response = client.open(path, method=method, data={"c1_1": "5", "action": "submit"})
            assert response.status_code == 404, (name, method, path)
            bodies.add(response.get_data())
    bodies.add(client.get(f"{person.url}/KHONG-CO").get_data())

    assert len(bodies) == 1
    assert INVALID in bodies.pop().decode()
    assert client.get(person.url).status_code == 200


@pytest.fixture
def guess_limit(app_config):
    app_config.update(RATELIMIT_ENABLED=True, PORTAL_LINK_GUESS_RATE="5 per minute")


def test_guessing_links_is_rate_limited_per_address_while_good_links_keep_working(guess_limit, app, survey):
    person = survey.of_group("HDND")
    guesser = app.test_client()
    wrong = list(_forged(survey).values())

    first_four = [guesser.get(f"/phieu/{token}").status_code for token in wrong[:4]]
    good_meanwhile = [guesser.get(person.url).status_code for _ in range(3)]  # good links never count
    fifth = guesser.get(f"/phieu/{wrong[4]}/DP-HDND")
    sixth = guesser.get(f"/phieu/{wrong[5]}")

    assert first_four == [404] * 4
    assert good_meanwhile == [200] * 3
    assert fifth.status_code == 404
    assert sixth.status_code == 429
    assert "Thao tác quá nhiều lần" in sixth.get_data(as_text=True)
    # The address that guessed is held back for the window, whatever it asks next: answering a good
    # link with 200 and a wrong one with 429 would keep the guessing going.
    assert guesser.get(person.url).status_code == 429
    colleague = app.test_client()
    office = {"REMOTE_ADDR": "203.0.113.7"}
    assert colleague.get(person.url, environ_base=office).status_code == 200
    assert colleague.get(person.form_url("DP-HDND"), environ_base=office).status_code == 200
    assert colleague.get(f"/phieu/{wrong[0]}", environ_base=office).status_code == 404


@pytest.mark.parametrize("ident", ["³", "١٢", "１", "²⁵", "\u0663"])
def test_tokens_with_non_ascii_digits_are_an_invalid_link_and_count_as_guesses(guess_limit, app, survey, ident):
    guesser = app.test_client()
    mac = survey.invitations[0].token.partition(".")[2]

    statuses = [guesser.get(f"/phieu/{ident}.{mac}").status_code for _ in range(5)]
    statuses.append(guesser.get(f"/phieu/{ident}.x/DP-HDND").status_code)

    assert statuses == [404] * 5 + [429]


# ---------------------------------------------------------------- re-sent invitations


def test_a_re_sent_invitation_carries_the_same_working_link(app, client, session, ministry_user, survey):
    person = survey.of_group("LD_PHONG")
    link = f"{app.config['PORTAL_BASE_URL']}{person.url}"

    delivered = session.get(Invitation, person.invitation.id)
    delivered.delivery_status = "sent"  # the first email went out; only then can another be queued
    session.add(delivered)
    session.commit()
    with app.app_context():
        invitations.resend(session, ministry_user, session.get(Invitation, person.invitation.id),
                           base_url=app.config["PORTAL_BASE_URL"], mail_domain=app.config["PORTAL_MAIL_DOMAIN"])

    emails = session.exec(select(OutboxMessage).where(OutboxMessage.invitation_id == person.invitation.id)
                          .order_by(OutboxMessage.id)).all()
    assert [m.kind for m in emails] == ["invitation", "invitation"]
    # Both hold the same link, masked: the worker puts the real one in as it sends them.
    masked = f"{app.config['PORTAL_BASE_URL']}{masked_path(person.invitation.id)}"
    assert all(masked in m.body_text and masked in m.body_html and link not in m.body_text + m.body_html
               for m in emails)
    with app.app_context():
        assert invitations.personal_links(session, [person.invitation.id]) == {
            person.invitation.id: (masked_path(person.invitation.id), person.url)}
    assert client.get(person.url).status_code == 200


# ---------------------------------------------------------------- answers apart from identities


def test_the_answer_table_holds_no_respondent_id_email_or_name(app, client, session, survey):
    columns = set(Answer.__table__.columns.keys())
    foreign = {fk.column.table.name for fk in Answer.__table__.foreign_keys}

    assert columns == {"id", "response_key", "campaign_id", "province_id", "group_code", "ministry_code", "form_code",
                       "questionnaire_version_id", "answers", "submitted", "updated_at", "submitted_at"}
    assert foreign == {"campaign", "province", "questionnaireversion"}
    person = survey.of_group("LD_SO")
    form = form_def(session, "DP-LDSO")
    submit_completely(client, person, form.code, complete_answers(form, text=SECRET_TEXT))
    row = stored_answer(app, session, person, form.code)
    stored = " ".join(str(getattr(row, name)) for name in columns)
    for identity in (person.respondent.full_name, person.respondent.email, person.respondent.phone, person.token,
                     person.token.partition(".")[2]):
        assert identity not in stored
    # Every column accounted for, so none can carry the invitation's or the respondent's id: the key is an
    # HMAC (64 hex digits, nothing readable around it, another secret gives another key) ...
    assert re.fullmatch(r"[0-9a-f]{64}", row.response_key)
    assert row.response_key != response_key(person.invitation.id, form.code, "another-secret-" + "x" * 40)
    # ... the other columns hold exactly what the results need ...
    assert (row.campaign_id, row.province_id, row.group_code, row.form_code, row.questionnaire_version_id,
            row.submitted) == (survey.campaign.id, survey.province.id, "LD_SO", form.code,
                               person.invitation.questionnaire_version_id, True)
    assert row.ministry_code is None or re.fullmatch(r"[A-Z_]+", row.ministry_code)
    # ... and the answers are the questions' answers, nothing else.
    posted = complete_answers(form, text=SECRET_TEXT)
    answers = json.loads(row.answers)
    assert set(answers) == set(posted)
    for question, value in answers.items():
        given = value if isinstance(value, list) else [value]
        assert [str(item) for item in given] == posted[question] or [float(item) for item in given] == [
            float(item) for item in posted[question]], question


def _links(html: str, base: str) -> list[str]:
    found = re.findall(r'(?:href|hx-get)="([^"#]+)', html)
    found += [m for tag in re.findall(r"<form\b[^>]*>", html) if 'method="post"' not in tag.lower()
              for m in re.findall(r'action="([^"#]+)', tag)]
    paths = []
    for target in found:
        absolute = urljoin(base, target.replace("&amp;", "&"))
        parts = urlsplit(absolute)
        if parts.netloc in {"", "localhost"} and parts.path.startswith("/"):
            paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths


def _readable(response) -> str:
    """The response as text; the text of every part of a spreadsheet download."""
    data = response.get_data()
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return " ".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return data.decode("utf-8", "replace")


@pytest.mark.parametrize("role", ["province_user", "it_focal_user"])
def test_the_province_reaches_no_answer_anywhere_and_sees_only_the_state(request, app, session, survey, role):
    person = survey.of_group("LD_SO")
    respondent = app.test_client()
    submit_completely(respondent, person, "DP-LDSO", complete_answers(form_def(session, "DP-LDSO"),
                                                                      text=SECRET_TEXT))
    save(respondent, person, "BO-LD", complete_answers(form_def(session, "BO-LD"), text=SECRET_TEXT + "-nhap"))
    user = request.getfixturevalue(role)
    staff = app.test_client()
    log_in(staff, user)
    seeds = ["/", "/thong-bao/", "/khao-sat/danh-sach/", "/khao-sat/danh-sach/ra-soat",
             "/khao-sat/danh-sach/xuat.xlsx", "/khao-sat/tien-do/"]
    group_ids = [str(g.id) for g in session.exec(select(RespondentGroup)
                                                  .where(RespondentGroup.campaign_id == survey.campaign.id))]
    for show in ("", "chua-xong", "chua-mo", "loi-gui", "da-xong", *group_ids):
        for sort in ("stt", "ten", "nhom", "trang-thai"):
            seeds.append(f"/khao-sat/tien-do/?loc={show}&xep={sort}&q=")
    seeds.append(f"/khao-sat/tien-do/?q={person.respondent.email}")
    seeds += [f"/khao-sat/danh-sach/nguoi/{p.respondent.id}{tail}" for p in survey.invitations for tail in ("", "/sua")]
    seeds += ["/doi-mat-khau", "/khao-sat/tien-do/?trang=2"]

    seen: set[str] = set()
    queue = deque(seeds)
    reached = 0
    while queue and len(seen) < 300:
        path = queue.popleft()
        if path in seen or path.startswith(("/dang-xuat", "/static", "/assets")):
            continue
        seen.add(path)
        for headers in ({}, {"HX-Request": "true"}, {"HX-Request": "true", "HX-Target": "progress-table"}):
            response = staff.get(path, headers=headers)
            assert response.status_code in {200, 204, 302, 303, 403, 404}, path
            body = _readable(response)
            assert SECRET_TEXT not in body, f"{path} {headers} shows an answer"
            if response.status_code == 200:
                reached += 1
                if not headers and response.mimetype == "text/html":
                    queue.extend(_links(body, f"http://localhost{path}"))

    assert reached > 20
    progress = staff.get(f"/khao-sat/tien-do/?q={person.respondent.email}").get_data(as_text=True)
    row = text_of(progress.split(f'id="p-{person.respondent.id}"', 1)[1].split("</tr>", 1)[0])
    assert f"{LOCALITY}: Đã nộp phiếu" in row and f"{MINISTRY}: Đang trả lời" in row
    # The survey pages behind the link are the respondent's; logging in gives the province nothing there.
    assert staff.get(f"/phieu/{person.invitation.id}").status_code == 404


def test_the_final_submit_of_an_incomplete_form_is_refused_naming_each_missing_question_and_keeps_the_draft(
        app, client, session, survey):
    person = survey.of_group("LD_SO")
    form = form_def(session, "DP-LDSO")
    half = first_half(form, complete_answers(form))
    save(client, person, form.code, half)
    missing = [q for q in form.questions if q.id not in half and q.required]
    assert missing

    response = client.post(person.submit_url(form.code))  # the confirmation posted without the form's own check

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for question in missing:
        assert f'href="#q-{question.id}"' in page or f'href="#f-{question.id}"' in page, question.id
    row = stored_answer(app, session, person, form.code)
    assert not row.submitted and row.submitted_at is None
    assert set(json.loads(row.answers)) == set(half)  # the draft kept as it was
    assert progress_of(session, person, form.code).state == FormState.IN_PROGRESS


# ---------------------------------------------------------------- what a respondent's request costs


def survey_requests(person: SentInvitation, form) -> list[tuple[str, str, dict | None]]:
    draft = {**first_half(form, complete_answers(form)), "action": "save"}
    return [("GET", person.url, None), ("GET", person.form_url(form.code), None),
            ("POST", person.form_url(form.code), draft), ("POST", person.form_url(form.code), draft),
            ("GET", person.form_url(form.code), None)]


def watch_survey_requests(app, client, session, survey, watch) -> tuple:
    """An LD_SO respondent's survey_requests, each under `watch()` (a counter of statements or round trips),
    after a first visit has parsed the questionnaire: (person, form, [(method, path, what was seen)])."""
    person = survey.of_group("LD_SO")
    form = form_def(session, person.form_codes[0])
    client.get(person.form_url(form.code))  # the questionnaire is parsed once per process, here
    seen_per_request = []
    for method, path, data in survey_requests(person, form):
        with app.app_context(), watch() as seen:
            response = client.open(path, method=method, data=data)
        assert response.status_code == 200, (method, path, response.status_code)
        seen_per_request.append((method, path, seen))
    return person, form, seen_per_request


def test_a_respondents_page_or_saved_draft_takes_one_or_two_statements(app, client, session, survey):
    _, _, seen = watch_survey_requests(app, client, session, survey, count_statements)
    counts = [(method, path, len(statements), [s[:60] for s in statements]) for method, path, statements in seen]

    # GET: the visit (invitation, person, campaign, extension, form states, saved answer in one SELECT) and
    # one integrity signal (an INSERT into formsignal, portal/domain/integrity.py).
    # POST: the visit, then the draft with its start mark and signal: on PostgreSQL one statement (WITH ...
    # INSERT INTO formsignal); on SQLite the draft, the start mark on the first save, and the signal.
    if session.get_bind().dialect.name == "postgresql":
        assert [c[2] for c in counts] == [2, 2, 2, 2, 2], counts
        assert all(c[3][-1].startswith(("INSERT INTO formsignal", "WITH saved")) for c in counts), counts
    else:
        assert [c[2] for c in counts] == [2, 2, 4, 3, 2], counts
        assert all(c[3][-1].startswith("INSERT INTO formsignal") for c in counts), counts


def test_on_postgresql_a_respondents_page_or_saved_draft_takes_two_round_trips(guess_limit, app, client, session,
                                                                               survey):
    """No BEGIN, COMMIT or liveness ping: the visit (with the address's count of wrong links) and one write.
    The link-guessing limit is on, as in production; its count costs no round trip of its own."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite's statements are calls in the process, not round trips")
    person, form, seen = watch_survey_requests(app, client, session, survey, count_round_trips)

    trips = [(method, len(lines), lines) for method, _path, lines in seen]
    assert [t[1] for t in trips] == [2, 2, 2, 2, 2], trips
    stored = stored_answer(app, session, person, form.code)
    assert stored is not None and not stored.submitted
    assert progress_of(session, person, form.code).state == FormState.IN_PROGRESS


def test_on_postgresql_the_thanks_page_takes_one_round_trip(app, client, session, survey):
    """After a submission: the visit's statement alone, without BEGIN or ROLLBACK (the page only reads)."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite's statements are calls in the process, not round trips")
    person = survey.of_group("LD_SO")
    form = form_def(session, person.form_codes[0])
    submit_completely(client, person, form.code, complete_answers(form))
    thanks = person.form_url(form.code) + "/cam-on"
    assert client.get(thanks).status_code == 200
    with app.app_context(), count_round_trips() as seen:
        response = client.get(thanks)
    assert response.status_code == 200
    assert len(seen) == 1, seen


def test_on_postgresql_a_staff_request_that_rolls_back_leaves_the_respondents_prepared_statements_alone(
        app, client, session, survey, ministry_user):
    """The respondent's visit and signal are prepared on the server and their plans kept; psycopg follows a
    ROLLBACK with DEALLOCATE ALL on any connection where it prepared a statement. Staff requests end in
    ROLLBACK, so they must never get a connection holding those statements: one more round trip for them, and
    a respondent's next page planning its statements again."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite prepares nothing on a server")
    person = survey.of_group("LD_SO")
    page = person.form_url(person.form_codes[0])
    assert client.get(page).status_code == 200  # prepares the visit and the signal
    staff = app.test_client()
    log_in(staff, ministry_user)

    # No app context around the requests: each ends its own, and with it its session (the staff's ROLLBACK).
    with count_round_trips() as staff_trips:
        assert staff.get("/").status_code == 200
    with count_round_trips() as respondent_trips:
        assert client.get(page).status_code == 200

    assert any("ROLLBACK" in trip for trip in staff_trips), staff_trips  # the staff request did roll back
    assert not any("DEALLOCATE" in trip for trip in staff_trips + respondent_trips), (staff_trips, respondent_trips)
    assert len(respondent_trips) == 2, respondent_trips  # its statements executed as prepared: no Parse trip
    with app.app_context(), db.autocommit_engine.connect() as connection:
        kept = connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any("INSERT INTO formsignal" in statement for statement in kept), kept
    assert any("FROM invitation" in statement for statement in kept), kept


def test_a_respondents_page_looks_for_no_login(app, client, session, survey, monkeypatch):
    """No session, remember cookie or request loader is consulted: a respondent is nobody to Flask-Login."""
    from portal.extensions import login_manager

    looked: list[bool] = []
    monkeypatch.setattr(login_manager, "_load_user", lambda: looked.append(True))
    person = survey.of_group("LD_SO")
    for method, path, data in survey_requests(person, form_def(session, person.form_codes[0])):
        assert client.open(path, method=method, data=data).status_code == 200
    assert looked == []


@pytest.mark.parametrize("staff_cookie", [False, True], ids=["no cookie", "a staff session in the same browser"])
def test_respondent_pages_write_no_session_cookie(client, session, survey, ministry_user, staff_cookie):
    if staff_cookie:
        log_in(client, ministry_user)
        with client.session_transaction() as sess:
            sess.permanent = True  # as a real login makes it: refreshed on every response of the portal
    person = survey.of_group("LD_SO")
    form = form_def(session, person.form_codes[0])

    # The one cookie of the survey pages is the browser's random device identifier (integrity signals), set
    # once for /phieu/ only; it is not a session and is never refreshed.
    cookies = []
    for method, path, data in survey_requests(person, form) + [("POST", person.submit_url(form.code), None)]:
        response = client.open(path, method=method, data=data)
        assert response.status_code in {200, 303, 422}, (method, path, response.status_code)
        cookies += response.headers.getlist("Set-Cookie")
        assert "Cookie" not in response.headers.get("Vary", ""), (method, path)
    assert len(cookies) == 1 and cookies[0].startswith("cchc_thiet_bi=") and "Path=/phieu/" in cookies[0], cookies
