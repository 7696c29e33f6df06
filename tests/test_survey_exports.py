"""The anonymised analysis export: one row per counted form, no identifying column, no order that follows submission
(or storage); CSV with a BOM for Excel, .xlsx written row by row; and the framework import refusing survey questions
the campaign's questionnaire set cannot score."""

from __future__ import annotations

import csv
import io
from random import Random

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from portal.domain import framework as fw
from portal.domain import survey_exports
from portal.models import Answer
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in
from tests.support.results import FRAMEWORK, HandResult

FORMS = 30


@pytest.fixture
def submitted_in_order(app, session, ministry_user) -> tuple[HandResult, list[Answer]]:
    """Thirty HĐND forms submitted one after another, the n-th answering "n" to the number question c1_3; a draft
    and a voided form that must not appear."""
    result = HandResult.build(app, session, ministry_user)
    rows = [result.answer(HA_NOI if n % 2 else HAI_PHONG, "HDND", "DP-HDND", {"c1_3": n, "c2_1": "4",
                                                                              "c8_2": "=1+1 góp ý"})
            for n in range(FORMS)]
    result.answer(HA_NOI, "HDND", "DP-HDND", {"c1_3": 99}, submitted=False)
    result.voided_answer(HA_NOI, "HDND", "DP-HDND", {"c1_3": 98}, invitation_id=55555)
    return result, rows


def _csv(result: HandResult, session, rng=None) -> list[list[str]]:
    out = io.BytesIO()
    survey_exports.write_analysis_csv(session, result.campaign, result.secret, out, rng=rng)
    data = out.getvalue()
    assert data.startswith("\ufeff".encode())  # UTF-8 with a BOM: Excel reads the diacritics
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_export_has_one_row_per_counted_form_and_no_identifying_column(session, submitted_in_order):
    result, rows = submitted_in_order

    header, *lines = _csv(result, session)

    assert header[:5] == survey_exports.FIXED_HEADERS
    assert all("." in name for name in header[5:])  # the rest are "form code.question id"
    assert not any(word in name.lower() for name in header for word in survey_exports.FORBIDDEN)
    assert len(lines) == FORMS  # neither the draft nor the voided form
    number = header.index("DP-HDND.c1_3")
    assert sorted(int(line[number]) for line in lines) == list(range(FORMS))
    assert {line[0] for line in lines} == {"Thành phố Hà Nội", "Thành phố Hải Phòng"}
    text = "\n".join(",".join(line) for line in lines)
    for row in rows:  # no answer id and no response key anywhere
        assert row.id not in text and row.response_key not in text
    assert lines[0][header.index("DP-HDND.c8_2")] == "'=1+1 góp ý"  # a formula-looking answer stays text


def test_the_export_order_follows_neither_submission_nor_storage(session, submitted_in_order):
    result, _rows = submitted_in_order
    stored = [json_number(a) for a in session.exec(select(Answer).where(Answer.submitted == True)  # noqa: E712
                                                   .order_by(Answer.id)) if json_number(a) < FORMS]

    header, *lines = _csv(result, session)
    order = [int(line[header.index("DP-HDND.c1_3")]) for line in lines]

    # Shuffled with SystemRandom: the chance that 30 rows come out in one given order is 1/30! (about 4e-33).
    assert order != list(range(FORMS))
    assert order != stored
    # With a seeded generator the shuffle is reproducible, and still not the submission order.
    seeded = [int(line[number]) for number in [header.index("DP-HDND.c1_3")] for line in
              _csv(result, session, Random(2021))[1:]]
    assert seeded == [int(line[header.index("DP-HDND.c1_3")]) for line in _csv(result, session, Random(2021))[1:]]
    assert seeded != list(range(FORMS))


def json_number(answer: Answer) -> int:
    import json

    return int(json.loads(answer.answers).get("c1_3", 999))


def test_the_workbook_export_is_read_back_by_excel_tools(app, client, session, ministry_user, submitted_in_order):
    result, _ = submitted_in_order
    log_in(client, ministry_user)

    response = client.get(f"/bo/ket-qua/{result.campaign.id}/khao-sat/du-lieu.xlsx")
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    rows = list(book["Dữ liệu phiếu"].iter_rows(values_only=True))

    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert list(rows[0][:5]) == survey_exports.FIXED_HEADERS and len(rows) == FORMS + 1
    csv_response = client.get(f"/bo/ket-qua/{result.campaign.id}/khao-sat/du-lieu.csv")
    assert csv_response.status_code == 200 and csv_response.data.startswith("\ufeff".encode())


def test_a_framework_naming_questions_the_questionnaire_set_cannot_score_is_refused(app, session, ministry_user):
    result = HandResult.build(app, session, ministry_user)
    before = fw.current_version(session, result.campaign).version

    with pytest.raises(fw.FrameworkError) as caught:
        fw.import_framework(session, ministry_user, result.campaign,
                            FRAMEWORK.replace("[DP-HDND.c3_1]", "[DP-HDND.c8_2]").encode(), "tieu-chi.yaml")

    assert caught.value.problems == [
        "Tiêu chí thành phần 8.1.2, khóa “survey.questions”: câu hỏi “DP-HDND.c8_2” không phải câu hỏi chọn một có "
        "điểm cho các phương án, nên không tính được điểm."]
    assert "không có gì được lưu" in caught.value.message
    assert fw.current_version(session, result.campaign).version == before
