"""The form's questions filled in from their cached markup read exactly as the template renders them."""

from __future__ import annotations

import random

import pytest

from portal import create_app
from portal.domain import questionnaires
from portal.domain.questionnaires import FormDef, Option, Question, Section
from portal.survey import fields

TRICKY = Section("s1", "Phần <1> & \"đặc biệt\"", "Giới thiệu", (
    Question("q1", "single", "Chọn một?", options=(Option("a&b", "A & B"), Option('"x"', "X"), Option("1", "Một"))),
    Question("q2", "multiple", "Chọn nhiều?", required=False, max_choices=2,
             options=(Option("m1", "M1"), Option("m<2>", "M2"), Option("m3", "M3"))),
    Question("q3", "number", "Bao nhiêu?", min=0, max=100),
    Question("q4", "number", "Tỷ lệ?", integer=False, help="Số thập phân"),
    Question("q5", "text", "Tên ngắn?", max_length=100),
    Question("q6", "text", "Ý kiến?", max_length=2000, required=False),
))
HANDMADE = FormDef("X-1", "Thử", "locality", ("LD_SO",), sections=(TRICKY,))


@pytest.fixture(scope="module")
def render_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fields")
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/unused.sqlite3"})


def sample_forms() -> list[FormDef]:
    return list(questionnaires.parse_questionnaire(questionnaires.sample_path().read_bytes()).forms)


def answers_for(form: FormDef, rng: random.Random) -> dict:
    """Values as a draft stores them, with odd ones too: text with markup, wrong types, missing answers."""
    values: dict = {}
    for q in form.questions:
        pick = rng.random()
        if pick < 0.2:
            continue  # not answered
        if q.kind == "single":
            values[q.id] = rng.choice([o.value for o in q.options] + ["không có", 3])
        elif q.kind == "multiple":
            values[q.id] = rng.choice([[o.value for o in q.options if rng.random() < 0.5], "m1", 7, None])
        elif q.kind == "number":
            values[q.id] = rng.choice([0, 12, 3.5, -1, "abc", None])
        else:
            values[q.id] = rng.choice(["Đúng <b>vậy</b> & \"rõ\"", "", "dòng 1\ndòng 2", "'"])
    return values


@pytest.mark.parametrize("form", [HANDMADE, *sample_forms()], ids=lambda f: f.code)
def test_cached_fields_filled_in_equal_the_template_for_any_answers(render_app, form):
    rng = random.Random(form.code)
    with render_app.test_request_context():
        for _ in range(40):
            values = answers_for(form, rng)
            expected = render_app.jinja_env.get_template(fields.TEMPLATE).render(
                form=form, values=values, errors={}, disabled=False)
            assert str(fields.form_fields(form, values, {})) == expected, values


def test_a_page_with_errors_renders_the_template_with_its_messages(render_app):
    with render_app.test_request_context():
        html = str(fields.form_fields(HANDMADE, {"q3": 500}, {"q3": "Phải từ 0 đến 100."}))
    assert 'class="q bad" id="q-q3"' in html and "Phải từ 0 đến 100." in html and 'value="500"' in html


def test_the_skeleton_is_made_once_per_form_and_shared_by_a_ministry_forms_copies(render_app):
    ministry_form = next(f for f in sample_forms() if f.target == "ministry")
    with render_app.test_request_context():
        first = fields.skeleton(ministry_form.for_ministry("Bộ Tài chính"))
        assert fields.skeleton(ministry_form.for_ministry("Bộ Y tế")) is first
