"""The ministry's questionnaire pages: import, replace, preview, download; nobody else may use them."""

from __future__ import annotations

import gzip
import io
import re

import pytest
import yaml
from flask import render_template
from sqlmodel import select

from portal.domain import questionnaires
from portal.domain.campaigns import current_campaign
from portal.models import AuditEntry, QuestionnaireVersion
from tests.support.accounts import log_in
from tests.support.html import form_fields, text_of

URL = "/bo/phieu-khao-sat/"
SAMPLE = questionnaires.sample_path().read_bytes()
# The sample made "official": another title, no sample flag.
OFFICIAL = (SAMPLE.decode("utf-8")
            .replace('title: "PHIẾU MẪU – Bộ phiếu khảo sát', 'title: "Bộ phiếu khảo sát chính thức', 1)
            .replace("sample: true", "sample: false", 1).encode("utf-8"))
BROKEN = (SAMPLE.decode("utf-8")
          .replace("kind: number", "kind: date", 1)
          .replace("groups: [LD_SO, LD_PHONG]", "groups: [LD_SO, LD_PHONG, HDND]", 1)
          .replace("max_choices: 3", "max_choices: 9", 1).encode("utf-8"))


def upload(client, data: bytes, name: str = "bo-phieu.yaml"):
    return client.post(URL + "nhap", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def stored(session) -> list[tuple[int, bool, bool]]:
    session.expire_all()
    rows = session.exec(select(QuestionnaireVersion).order_by(QuestionnaireVersion.version)).all()
    return [(row.version, row.is_current, row.is_sample) for row in rows]


def test_ministry_imports_a_file_and_each_import_makes_a_new_current_version(client, ministry_user, session):
    log_in(client, ministry_user)
    empty = client.get(URL)
    assert empty.status_code == 200
    assert "Chưa có bộ phiếu" in text_of(empty.get_data(as_text=True))
    assert form_fields(empty.get_data(as_text=True)).unlabelled() == []

    first = upload(client, SAMPLE, "phieu-mau.yaml")
    assert first.status_code == 303, first.get_data(as_text=True)[:2000]
    assert stored(session) == [(1, True, True)]
    page = text_of(client.get(URL).get_data(as_text=True))
    assert "Đã nhập bộ phiếu “PHIẾU MẪU – Bộ phiếu khảo sát xác định Chỉ số CCHC năm 2021” (phiên bản 1)" in page
    assert "Bộ phiếu đang dùng: phiên bản 1" in page and "Đây là bộ phiếu MẪU" in page
    assert "DP-HDND" in page and "BO-LD 2. Lãnh đạo cấp sở 3. Lãnh đạo cấp phòng thuộc sở" not in page
    assert "Đánh giá bộ chủ quản 2. Lãnh đạo cấp sở 3. Lãnh đạo cấp phòng thuộc sở 11" in page

    second = upload(client, OFFICIAL, "bo-phieu-1218.yml")
    assert second.status_code == 303
    assert stored(session) == [(1, False, True), (2, True, False)]
    page = text_of(client.get(URL).get_data(as_text=True))
    assert "Bộ phiếu đang dùng: phiên bản 2" in page and "Đã thay thế" in page and "bo-phieu-1218.yml" in page
    assert "Đây là bộ phiếu MẪU" not in page
    actions = session.exec(select(AuditEntry.detail).where(AuditEntry.action == "Nhập bộ phiếu khảo sát")).all()
    assert len(actions) == 2


def test_the_sample_button_loads_the_sample_once(client, ministry_user, session):
    log_in(client, ministry_user)
    assert client.post(URL + "nap-mau").status_code == 303
    assert client.post(URL + "nap-mau").status_code == 303
    assert stored(session) == [(1, True, True)]
    page = text_of(client.get(URL).get_data(as_text=True))
    assert "Đợt khảo sát đã có bộ phiếu nên không nạp bộ phiếu mẫu." in page
    assert "Nạp bộ phiếu mẫu" not in page


def test_a_broken_file_lists_every_problem_and_saves_nothing(client, ministry_user, session):
    log_in(client, ministry_user)
    upload(client, SAMPLE)
    response = upload(client, BROKEN, "sai.yaml")
    assert response.status_code == 422
    page = text_of(response.get_data(as_text=True))
    assert "Tệp có 3 lỗi nên bộ phiếu chưa được nhập." in page
    assert "Phiếu “DP-HDND” › phần “LV1” › câu “c1_3” (dòng 57): loại câu hỏi “date” không được hỗ trợ" in page
    assert "Phiếu “BO-LD” (dòng 494): nhóm “HDND” không trả lời phiếu đánh giá bộ chủ quản" in page
    assert "Phiếu “DP-HDND” › phần “LV7” › câu “c7_2” (dòng 128): “max_choices” (9) lớn hơn số phương án (6)." in page
    assert "Không có gì được lưu; bộ phiếu đang dùng được giữ nguyên." in page
    assert stored(session) == [(1, True, True)]


@pytest.mark.parametrize(("data", "name", "message"), [
    # Read as a workbook (told by its bytes), and refused as a damaged one.
    (b"PK\x03\x04\x14\x00\x06\x00", "bo-phieu.xlsx", "Tệp “bo-phieu.xlsx”: Tệp bảng tính bị hỏng"),
    (b"title: [", "bo-phieu.yaml", "Tệp YAML bị lỗi cú pháp ở dòng 1"),
    (b"- a\n- b\n", "bo-phieu.yaml", "Tệp phải là một bảng khóa"),
])
def test_files_that_are_not_questionnaires_are_refused_plainly(client, ministry_user, session, data, name, message):
    log_in(client, ministry_user)
    response = upload(client, data, name)
    assert response.status_code == 422
    assert message in text_of(response.get_data(as_text=True))
    assert stored(session) == []


def test_posting_without_a_file_asks_for_one(client, ministry_user):
    log_in(client, ministry_user)
    response = client.post(URL + "nhap", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Vui lòng chọn tệp bộ phiếu (.yaml hoặc .xlsx)" in text_of(response.get_data(as_text=True))


def test_a_frozen_version_cannot_be_replaced(client, ministry_user, session):
    campaign = current_campaign(session)
    version = questionnaires.load_sample(session, campaign, ministry_user)
    questionnaires.freeze(session, version)
    session.commit()
    assert version.frozen_at is not None
    log_in(client, ministry_user)
    page = text_of(client.get(URL).get_data(as_text=True))
    assert "bộ phiếu này đã được khóa và không thể thay thế" in page and "Nhập bộ phiếu" not in page
    response = upload(client, OFFICIAL)
    assert response.status_code == 422
    assert "Bộ phiếu đã được phát hành nên không thể thay thế." in text_of(response.get_data(as_text=True))
    assert stored(session) == [(1, True, True)]


def test_preview_shows_a_form_as_the_respondent_will_see_it_read_only(client, ministry_user, session):
    questionnaires.load_sample(session, current_campaign(session), ministry_user)
    form = questionnaires.load(questionnaires.current_version(session, current_campaign(session))).form("DP-HDND")
    log_in(client, ministry_user)
    response = client.get(URL + "xem/DP-HDND")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = text_of(html)
    assert "PHIẾU MẪU – Phiếu số 1" in page and "17 câu hỏi · khoảng 10 phút" in page
    assert "1. Sự quan tâm, chỉ đạo của lãnh đạo UBND cấp tỉnh đối với công tác cải cách hành chính *" in page
    assert html.count("<fieldset") == len(form.questions) == len(re.findall(r"<fieldset[^>]* disabled[ >]", html))
    fields = form_fields(html)
    assert fields.unlabelled() == []
    ids = {q.id for q in form.questions}
    assert {(f.tag, f.type) for f in fields.fields if f.name in ids} == {
        ("input", "radio"), ("input", "checkbox"), ("input", "number"), ("textarea", "text")}
    assert '<input type="number" id="f-c1_3" name="c1_3" min="0" max="50" value="">' in html
    assert 'maxlength="1000"' in html
    assert client.get(URL + "xem/BO-LD?phien-ban=1").status_code == 200
    assert client.get(URL + "xem/KHONG-CO").status_code == 404
    assert client.get(URL + "xem/DP-HDND?phien-ban=9").status_code == 404


def test_the_current_version_and_the_sample_can_be_downloaded(client, ministry_user, session):
    log_in(client, ministry_user)
    upload(client, OFFICIAL, "chinh-thuc.yaml")
    response = client.get(URL + "phien-ban-1.yaml")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="bo-phieu-phien-ban-1.yaml"'
    text = response.get_data(as_text=True)
    assert text.startswith("# Bộ phiếu khảo sát chính thức")
    assert yaml.safe_load(text)["title"].startswith("Bộ phiếu khảo sát chính thức")
    again = questionnaires.parse_questionnaire(response.data, "lai.yaml")
    assert again == questionnaires.load(questionnaires.current_version(session, current_campaign(session)))
    assert client.get(URL + "phien-ban-2.yaml").status_code == 404
    sample = client.get(URL + "bo-phieu-mau.yaml")
    assert sample.status_code == 200 and sample.data == SAMPLE


@pytest.mark.parametrize("who", ["province_user", "it_focal_user"])
def test_province_accounts_cannot_use_the_pages(client, request, session, who):
    user = request.getfixturevalue(who)
    log_in(client, user)
    for path in ("", "xem/DP-HDND", "phien-ban-1.yaml", "bo-phieu-mau.yaml"):
        assert client.get(URL + path).status_code == 403, path
    assert upload(client, SAMPLE).status_code == 403
    assert client.post(URL + "nap-mau").status_code == 403
    assert stored(session) == []


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dang-nhap?next=/bo/phieu-khao-sat/")


def test_the_form_partial_is_small_enough_for_a_phone(app):
    questionnaire = questionnaires.parse_questionnaire(SAMPLE, "mau.yaml")
    largest = max(questionnaire.forms, key=lambda f: len(f.questions))
    with app.test_request_context():
        html = render_template("questionnaires/_form_fields.html", form=largest, values={}, errors={}, disabled=False)
    assert len(re.findall(r"<fieldset", html)) == len(largest.questions) == 18
    assert len(gzip.compress(html.encode("utf-8"))) < 5 * 1024  # the whole respondent page must stay under 14 KB


def test_the_form_partial_shows_saved_answers_and_errors(app):
    questionnaire = questionnaires.parse_questionnaire(SAMPLE, "mau.yaml")
    form = questionnaire.form("DP-LDPHONG")
    values = {"c1_1": "4", "c7_2": ["van_ban", "chu_ky_so"], "c7_3": 80, "c8_2": "Số hóa hồ sơ"}
    with app.test_request_context():
        html = render_template("questionnaires/_form_fields.html", form=form, values=values,
                               errors={"c1_2": "Vui lòng chọn một phương án."}, disabled=False)
    assert '<input type="radio" name="c1_1" value="4" checked>' in html
    assert '<input type="checkbox" name="c7_2" value="van_ban" checked>' in html
    assert '<input type="checkbox" name="c7_2" value="mot_cua">' in html
    assert 'value="80"' in html and 'value="Số hóa hồ sơ"' in html
    assert '<fieldset class="q bad" id="q-c1_2" aria-describedby="e-c1_2">' in html
    assert '<p class="field-error" id="e-c1_2">Vui lòng chọn một phương án.</p>' in html
    assert " disabled" not in html


def test_loading_the_sample_is_idempotent_and_a_replaced_version_cannot_be_frozen(ministry_user, session):
    campaign = current_campaign(session)
    first = questionnaires.load_sample(session, campaign)
    assert questionnaires.load_sample(session, campaign).id == first.id
    assert first.imported_by_id is None and first.source_name == "questionnaires-2021-sample.yaml"
    second = questionnaires.import_questionnaire(session, ministry_user, campaign, OFFICIAL, "chinh-thuc.yaml")
    session.refresh(first)
    with pytest.raises(questionnaires.QuestionnaireError, match="vừa được thay thế"):
        questionnaires.freeze(session, first)
    session.rollback()
    questionnaires.freeze(session, second)
    session.commit()
    assert questionnaires.current_version(session, campaign).frozen_at is not None
    assert stored(session) == [(1, False, True), (2, True, False)]
