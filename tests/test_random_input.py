"""Random and hostile input (hypothesis) to the list import, the list edit and the answer posts.

Whatever is sent: never a 500; nothing stored that PostgreSQL or a page cannot hold (no NUL, no markup shown
as markup); never a row lost (a refused import or edit leaves what was saved, an accepted import keeps every
row it counted). Example counts stay modest so the file runs in well under a minute per backend.
"""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from portal.models import Answer, Respondent, RespondentList
from tests.support.accounts import HA_NOI, log_in
from tests.support.respondent_files import GROUP_2, csv_text, realistic_rows, xlsx_bytes
from tests.support.survey import DURING_SURVEY, LIST_SENT_AT, complete_answers, form_def, launch_survey

PROBE = "<x-probe>"  # a tag no page has: seen raw, the page would render markup it was given
HOSTILE = [
    PROBE, "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "\x00", "Nguyễn\x00Văn An",
    "=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", "'; DROP TABLE respondent; --", "\u202egnp.exe",
    "\ufeff", "\u200b", "a" * 3000, "\r\n", "{{ 7 * 7 }}", "../../etc/passwd", "%00", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "Nguyễn Văn An", "an.nv@hanoi.gov.vn", GROUP_2, "Sở Tài chính", "Giám đốc", "0912345678", "",
]
cells = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40),
                  st.lists(st.sampled_from(HOSTILE), min_size=2, max_size=3).map("".join))
PROPERTIES = settings(max_examples=12, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FIELDS = ("full_name", "position", "group", "unit", "email", "phone", "note")


@pytest.fixture
def list_period(time_machine):
    time_machine.move_to(LIST_SENT_AT, tick=False)


@pytest.fixture
def province(app, session, province_user, list_period):
    client = app.test_client()
    log_in(client, province_user)
    assert upload(client, xlsx_bytes(realistic_rows(3)), "danh-sach.xlsx").status_code == 303
    return client


def upload(client, data: bytes, name: str):
    return client.post("/khao-sat/danh-sach/tai-len", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def stored_people(session) -> list[Respondent]:
    session.expire_all()
    return list(session.exec(select(Respondent).where(Respondent.province_id == HA_NOI).order_by(Respondent.id)))


def snapshot(people: list[Respondent]) -> list[tuple]:
    return [(p.id, p.full_name, p.position, p.unit, p.email, p.phone, p.note) for p in people]


def assert_clean(values: list[str]) -> None:
    for value in values:
        assert "\x00" not in value, value


def assert_shown_escaped(client, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert PROBE not in body and "<script>alert(1)" not in body and "<img src=x" not in body


@PROPERTIES
@given(rows=st.lists(st.lists(cells, min_size=8, max_size=8), min_size=1, max_size=6),
       as_csv=st.booleans())
def test_an_uploaded_list_of_anything_is_read_or_refused_with_a_message_and_loses_nothing(
        province, session, rows, as_csv):
    before = snapshot(stored_people(session))
    if as_csv:
        data, name = csv_text(rows).encode("utf-8-sig"), "danh-sach.csv"
    else:
        # A workbook cannot hold control characters (openpyxl refuses them): those go through the CSV path.
        data, name = xlsx_bytes([[c for c in row] for row in rows]) if not any(
            any(ord(ch) < 32 and ch not in "\t\n\r" for ch in c) for row in rows for c in row) else \
            csv_text(rows).encode("utf-8-sig"), "danh-sach.xlsx"

    response = upload(province, data, name)

    assert response.status_code in (303, 422), response.status_code
    people = stored_people(session)
    if response.status_code == 422:
        assert "Vui lòng" in response.get_data(as_text=True) or "không" in response.get_data(as_text=True)
        assert snapshot(people) == before  # refused: what was saved stays
    else:
        rlist = session.exec(select(RespondentList).where(RespondentList.province_id == HA_NOI)).one()
        kept = session.exec(select(func.count()).select_from(Respondent)
                            .where(Respondent.list_id == rlist.id)).one()
        assert kept == len(people) and kept <= len(rows)
        review = province.get("/khao-sat/danh-sach/ra-soat").get_data(as_text=True)
        assert f"Đã nhập {kept} người" in review  # the count the province is told is the count stored
    assert_clean([value for p in people for value in (p.full_name, p.position, p.unit, p.email, p.phone, p.note)])
    assert_shown_escaped(province, "/khao-sat/danh-sach/ra-soat")
    upload(province, xlsx_bytes(realistic_rows(3)), "danh-sach.xlsx")  # back to the saved list for the next example


@PROPERTIES
@given(values=st.fixed_dictionaries({name: cells for name in FIELDS}), htmx=st.booleans())
def test_a_row_edited_with_anything_is_saved_or_refused_and_the_row_is_never_lost(province, session, values, htmx):
    people = stored_people(session)
    target = people[0]

    response = province.post(f"/khao-sat/danh-sach/nguoi/{target.id}", data=values,
                             headers={"HX-Request": "true"} if htmx else {})

    assert response.status_code < 500, response.status_code
    after = stored_people(session)
    assert [p.id for p in after] == [p.id for p in people]  # no row lost, none added
    assert_clean([value for p in after for value in (p.full_name, p.position, p.unit, p.email, p.phone, p.note)])
    assert_shown_escaped(province, "/khao-sat/danh-sach/ra-soat")


@pytest.fixture
def respondent(app, session, ministry_user, time_machine):
    time_machine.move_to(DURING_SURVEY, tick=False)
    survey = launch_survey(app, session, ministry_user, per_group=1)
    person = survey.of_group("LD_SO")
    form = form_def(session, "DP-LDSO")
    client = app.test_client()
    saved = complete_answers(form)
    assert client.post(person.form_url(form.code), data={**saved, "action": "save"}).status_code == 200
    return client, person, form


@settings(PROPERTIES, max_examples=20)
@given(data=st.data(), action=st.sampled_from(["save", "save", "submit", "", "<x-probe>"]))
def test_answers_of_anything_are_saved_or_refused_and_the_saved_answers_are_never_lost(
        session, respondent, data, action):
    client, person, form = respondent
    ids = [q.id for q in form.questions]
    posted = data.draw(st.dictionaries(st.sampled_from(ids), st.lists(cells, min_size=1, max_size=3), min_size=1,
                                       max_size=len(ids)))
    posted.update(data.draw(st.dictionaries(cells, st.lists(cells, min_size=1, max_size=2), max_size=2)))
    for question in form.questions:  # free text is where markup would get through: always some
        if question.kind == "text":
            posted[question.id] = data.draw(st.lists(st.one_of(st.just(PROBE), cells), min_size=1, max_size=2))
    session.expire_all()
    before = session.exec(select(Answer)).one()

    response = client.post(person.form_url(form.code), data={**posted, "action": action})

    assert response.status_code < 500, response.status_code
    session.expire_all()
    after = session.exec(select(Answer)).one()  # still one row: the saved answers are never dropped
    stored = json.loads(after.answers)
    assert set(stored) <= set(ids)  # only the form's questions
    assert set(json.loads(before.answers)) <= set(stored) or response.status_code >= 400 or not after.submitted
    assert_clean([json.dumps(stored, ensure_ascii=False)])
    assert PROBE not in response.get_data(as_text=True)
    if not after.submitted:
        assert_shown_escaped(client, person.form_url(form.code))
