"""The ministry corrects the questionnaire set in the browser: each kind of correction makes one version, a broken
one or one after the launch is refused with nothing stored, a form posted twice makes one version."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from portal.domain import document_corrections, questionnaire_corrections, questionnaires
from portal.domain.campaigns import current_campaign
from portal.models import AuditEntry, QuestionnaireVersion
from tests.support.accounts import log_in
from tests.support.html import form_fields, text_of

EDIT = "/bo/phieu-khao-sat/sua/DP-HDND"
SAVE = EDIT + "/cau/c1_1"
MOVE = EDIT + "/cau/c1_1/vi-tri"
WORDING = "Sự quan tâm, chỉ đạo của lãnh đạo UBND cấp tỉnh đối với công tác cải cách hành chính"


@pytest.fixture
def sample(session, ministry_user):
    return questionnaires.load_sample(session, current_campaign(session), ministry_user)


def current(session) -> questionnaires.Questionnaire:
    session.expire_all()
    return questionnaires.load(questionnaires.current_version(session, current_campaign(session)))


def numbers(session) -> list[int]:
    session.expire_all()
    return [row.version for row in session.exec(select(QuestionnaireVersion).order_by(QuestionnaireVersion.version))]


def question_form(**changes) -> dict[str, str]:
    """The correction form of c1_1 as the page fills it, with `changes`."""
    labels = {"1": "Rất kém", "2": "Kém", "3": "Trung bình", "4": "Tốt", "5": "Rất tốt",
              "kb": "Không biết / không có ý kiến"}
    form = {"base": "1", "noi_dung": WORDING, "huong_dan": ""}
    for value, label in labels.items():
        form[f"phuong_an_{value}"] = label
        form[f"diem_{value}"] = "" if value == "kb" else value
    return {**form, **changes}


def test_the_page_offers_each_question_with_labelled_fields(client, ministry_user, sample):
    log_in(client, ministry_user)

    response = client.get(EDIT)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert form_fields(html).unlabelled() == []
    page = text_of(html)
    assert "Sửa phiếu: Phiếu đánh giá địa phương" in page and "Câu 17" in page
    assert "Lưu câu 1" in page and "Chuyển xuống câu 1" in page and not re.search(r"Chuyển lên câu 1(?!\d)", page)


def test_wording_option_labels_and_scores_make_one_new_version_with_who_and_when(client, ministry_user, session,
                                                                                 sample):
    log_in(client, ministry_user)

    response = client.post(SAVE, data=question_form(noi_dung=WORDING + " năm 2021", phuong_an_5="Rất tốt, rõ ràng",
                                                    diem_4="4,5"))

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/bo/phieu-khao-sat/sua/DP-HDND?da-luu=c1_1#cau-c1_1")
    assert numbers(session) == [1, 2]
    question = current(session).form("DP-HDND").question("c1_1")
    assert question.text == WORDING + " năm 2021"
    assert [(o.label, o.score) for o in question.options][3:5] == [("Tốt", 4.5), ("Rất tốt, rõ ràng", 5)]
    # Only this form's question changed: the other forms sharing the scale keep it.
    assert current(session).form("DP-LDSO").question("c1_1").options[3].score == 4
    row = questionnaires.current_version(session, current_campaign(session))
    assert (row.imported_by_id, row.source_name) == (ministry_user.id, document_corrections.SOURCE)
    [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "Sửa bộ phiếu khảo sát")).all()
    assert "phiên bản 2" in audit.detail and "Câu 1: sửa nội dung" in audit.detail
    assert "Câu 1: điểm của phương án “Tốt” 4 → 4,5" in audit.detail
    page = text_of(client.get(response.headers["Location"]).get_data(as_text=True))
    assert ("Đã lưu phiên bản 2 của bộ phiếu: Phiếu đánh giá địa phương (Mã trong tệp: DP-HDND) › Câu 1: "
            "sửa nội dung") in page


def test_a_form_posted_twice_makes_one_version(client, ministry_user, session, sample):
    log_in(client, ministry_user)
    data = question_form(noi_dung="Câu hỏi đã sửa")

    client.post(SAVE, data=data)
    again = client.post(SAVE, data=data, headers={"HX-Request": "true"})

    assert again.status_code == 200
    assert "Không có gì thay đổi" in text_of(again.get_data(as_text=True))
    assert numbers(session) == [1, 2]


def test_moving_a_question_with_htmx_answers_with_the_editor_and_the_same_move_twice_moves_once(
        client, ministry_user, session, sample):
    log_in(client, ministry_user)

    moved = client.post(MOVE, data={"base": "1", "vi_tri": "2"}, headers={"HX-Request": "true"})
    twice = client.post(MOVE, data={"base": "1", "vi_tri": "2"}, headers={"HX-Request": "true"})

    assert moved.status_code == twice.status_code == 200
    html = moved.get_data(as_text=True)
    assert html.startswith('<div id="editor">') and "<html" not in html
    assert 'name="base" value="2"' in html
    assert "Câu 1: chuyển chỗ (trước là câu 2)" in text_of(html)
    assert [q.id for q in current(session).form("DP-HDND").sections[0].questions] == ["c1_2", "c1_1", "c1_3"]
    assert numbers(session) == [1, 2]
    back = client.post(EDIT + "/cau/c1_1/vi-tri", data={"base": "2", "vi_tri": "1"})
    assert back.status_code == 303
    assert [q.id for q in current(session).form("DP-HDND").sections[0].questions] == ["c1_1", "c1_2", "c1_3"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"noi_dung": "   "}, "câu “c1_1”: thiếu “text” (nội dung câu hỏi)."),
    ({"phuong_an_3": ""}, "phương án thứ 3: thiếu “label” (nội dung phương án)."),
    ({"diem_2": "hai"}, "Điểm của phương án “Kém” phải là một số (ví dụ 3 hoặc 2,5)"),
])
def test_a_correction_that_breaks_the_set_is_refused_with_the_import_message_and_nothing_stored(
        client, ministry_user, session, sample, changes, message):
    log_in(client, ministry_user)

    response = client.post(SAVE, data=question_form(**changes, huong_dan="Gõ dở"))

    assert response.status_code == 422
    page = text_of(response.get_data(as_text=True))
    assert message in page and "Không có gì được lưu." in page
    assert "Gõ dở" in page  # what was typed is shown again
    assert numbers(session) == [1]


def test_after_the_launch_froze_the_set_corrections_are_refused(client, ministry_user, session, sample):
    questionnaires.freeze(session, sample)
    session.commit()
    log_in(client, ministry_user)

    page = client.get(EDIT).get_data(as_text=True)
    response = client.post(SAVE, data=question_form(noi_dung="Sửa sau khi phát hành"))
    moved = client.post(MOVE, data={"base": "1", "vi_tri": "2"})

    assert questionnaire_corrections.FROZEN_MESSAGE in text_of(page) and "Lưu câu 1" not in page
    assert response.status_code == moved.status_code == 422
    assert questionnaire_corrections.FROZEN_MESSAGE in text_of(response.get_data(as_text=True))
    assert numbers(session) == [1]
    assert "Sửa" not in text_of(client.get("/bo/phieu-khao-sat/").get_data(as_text=True)).split("Tải bộ phiếu")[0]


def test_a_page_opened_before_a_colleague_corrected_the_same_question_is_refused_another_question_goes_through(
        session, ministry_user, sample):
    campaign = current_campaign(session)
    questionnaire_corrections.edit_question(session, ministry_user, campaign, 1, "DP-HDND", "c1_1",
                                            {"noi_dung": "Bản của người thứ nhất"})

    with pytest.raises(questionnaires.QuestionnaireError, match="vừa được sửa"):
        questionnaire_corrections.edit_question(session, ministry_user, campaign, 1, "DP-HDND", "c1_1",
                                                {"noi_dung": "Bản của người thứ hai"})
    session.rollback()
    other = questionnaire_corrections.edit_question(session, ministry_user, campaign, 1, "DP-HDND", "c1_2",
                                                    {"noi_dung": "Câu hai đã sửa"})

    assert other.version.version == 3
    form = current(session).form("DP-HDND")
    assert (form.question("c1_1").text, form.question("c1_2").text) == ("Bản của người thứ nhất", "Câu hai đã sửa")


def test_an_unknown_question_is_404_and_the_pages_are_the_ministrys(client, ministry_user, province_user, sample):
    log_in(client, ministry_user)
    assert client.post(EDIT + "/cau/khong-co", data=question_form()).status_code == 404
    assert client.get("/bo/phieu-khao-sat/sua/KHONG-CO").status_code == 404
    log_in(client, province_user)
    assert client.get(EDIT).status_code == 403
    assert client.post(SAVE, data=question_form(noi_dung="x")).status_code == 403


def test_the_versions_compare_in_words(client, ministry_user, session, sample):
    log_in(client, ministry_user)
    client.post(SAVE, data=question_form(phuong_an_1="Rất kém cỏi"))

    page = text_of(client.get("/bo/phieu-khao-sat/so-sanh?tu=1&den=2").get_data(as_text=True))
    listing = client.get("/bo/phieu-khao-sat/").get_data(as_text=True)

    assert "Phiên bản 1 → 2: 1 thay đổi" in page
    assert "Phiếu đánh giá địa phương (Mã trong tệp: DP-HDND) › Câu 1: sửa phương án “Rất kém” → “Rất kém cỏi”" in page
    assert "/bo/phieu-khao-sat/so-sanh?tu=1&amp;den=2" in listing and document_corrections.SOURCE in listing
    assert client.get("/bo/phieu-khao-sat/so-sanh?den=7").status_code == 404


def test_the_preview_is_the_respondents_page(client, ministry_user, sample):
    log_in(client, ministry_user)

    html = client.get("/bo/phieu-khao-sat/xem/BO-LD").get_data(as_text=True)

    assert '<body class="survey">' in html and "Bản xem trước" in text_of(html)
    assert "<h1>Phiếu đánh giá bộ chủ quản: Bộ …</h1>" in html
    assert "Lưu, trả lời tiếp sau" in html and "<form" not in html.split("</header>")[1]


def test_the_same_correction_posted_twice_at_once_makes_one_version(app, session, ministry_user, sample):
    from portal.extensions import db
    from portal.models import Campaign, User
    from tests.support.threads import race

    campaign_id = current_campaign(session).id

    def post():
        with app.app_context(), db.new_session() as own:
            outcome = questionnaire_corrections.edit_question(
                own, own.get(User, ministry_user.id), own.get(Campaign, campaign_id), 1, "DP-HDND", "c1_1",
                {"noi_dung": "Cùng một sửa đổi, gửi hai lần"})
            return outcome.version.version, outcome.changed

    outcomes = race(post, post)

    assert sorted(outcomes) == [(2, False), (2, True)]
    assert numbers(session) == [1, 2]


def test_a_stale_page_is_answered_409_with_the_message_and_the_typed_wording(client, ministry_user, session, sample):
    log_in(client, ministry_user)
    client.post(SAVE, data=question_form(noi_dung="Bản của người thứ nhất"))

    response = client.post(SAVE, data=question_form(noi_dung="Bản của người thứ hai"), headers={"HX-Request": "true"})

    assert response.status_code == 409
    page = text_of(response.get_data(as_text=True))
    assert "Chưa lưu: phần này của bộ phiếu vừa được sửa (phiên bản 2)" in page and "Bản của người thứ hai" in page
    assert current(session).form("DP-HDND").question("c1_1").text == "Bản của người thứ nhất"
