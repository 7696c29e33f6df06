"""The survey-results pages' figures worked out by hand: rates per group, answers per question, the minimum-answers
rule, voided forms counted nowhere, the parent ministries' aggregation; the ministry's pages and their isolation."""

from __future__ import annotations

import pytest

from portal.domain import framework, survey_report
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in
from tests.support.html import text_of
from tests.support.results import HandResult

DA_NANG = 48


@pytest.fixture
def result(app, session, ministry_user) -> HandResult:
    """Hà Nội: three HĐND forms counted, one voided; one leaders' form; "bộ chủ quản" forms from Hà Nội and Hải
    Phòng about the Ministry of Finance (three) and one about the Ministry of Justice; Đà Nẵng voided whole."""
    result = HandResult.build(app, session, ministry_user)
    result.answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "5", "c3_1": "4"})
    result.answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "3", "c3_1": "2"})
    result.answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "kb", "c3_1": "5"})
    result.voided_answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "1", "c3_1": "1"}, invitation_id=987654)
    result.answer(HA_NOI, "LD_SO", "DP-LDSO", {"c2_1": "4"})
    result.answer(HA_NOI, "LD_SO", "BO-LD", {"b1_1": "4", "b6_1": "5"}, ministry="BTC")
    result.answer(HAI_PHONG, "LD_SO", "BO-LD", {"b1_1": "2", "b6_1": "kb"}, ministry="BTC")
    result.answer(HAI_PHONG, "LD_PHONG", "BO-LD", {"b1_1": "3"}, ministry="BTC")
    result.answer(HAI_PHONG, "LD_PHONG", "BO-LD", {"b1_1": "5"}, ministry="BTP")
    result.answer(DA_NANG, "LD_SO", "BO-LD", {"b1_1": "1"}, ministry="BTC")
    result.void_province(DA_NANG)
    return result


def _question(questions, form_code: str, question_id: str):
    return next(q for q in questions if (q.form_code, q.question.id) == (form_code, question_id))


def test_a_province_shows_each_group_its_answers_and_hides_a_group_below_the_minimum(session, result):
    survey = survey_report.province_survey_results(session, result.campaign.id, HA_NOI, result.secret, 3)

    groups = {group.code: group for group in survey.groups}
    council = groups["HDND"]
    assert (council.rate.counted, council.rate.voided, council.too_few) == (3, 1, False)
    quality = _question(council.questions, "DP-HDND", "c2_1")
    assert quality.answered == 3
    assert [(o.value, o.count) for o in quality.options] == [("1", 0), ("2", 0), ("3", 1), ("4", 0), ("5", 1),
                                                               ("kb", 1)]
    assert (quality.mean, quality.scored) == (4.0, 2)  # (5 + 3) / 2: "không biết" has no score
    assert round(quality.options[2].percent, 2) == 33.33
    # Two forms of the leaders' group (one locality, one ministry form) are fewer than 3: no figure at all.
    assert groups["LD_SO"].too_few and groups["LD_SO"].questions == []
    assert survey.total.voided == 1 and not survey.voided_province
    assert {line.code: line.points for line in survey.lines} == {"8.1.1": 1.6, "8.1.2": 0.67}
    assert survey.lines[1].questions == ["câu c3_1, phiếu đánh giá địa phương của " + groups["HDND"].name]
    assert survey.problems == []
    # Line 8.1.1 pools the council's c2_1 with the leaders' (hidden) c2_1: its points less the council's figures
    # would give the leaders' answers away, so the council's c2_1 is held back too; c3_1 feeds a council-only line.
    assert quality.shielded and quality.too_few
    assert not _question(council.questions, "DP-HDND", "c3_1").too_few


def test_a_voided_province_counts_nothing_and_says_so(session, result):
    survey = survey_report.province_survey_results(session, result.campaign.id, DA_NANG, result.secret, 1)

    assert survey.voided_province
    assert survey.total.counted == 0 and survey.total.voided == 1
    assert all(group.questions == [] for group in survey.groups)
    assert {line.points for line in survey.lines} == {0.0}


def test_a_province_outside_the_campaign_is_not_found(session, result):
    with pytest.raises(LookupError):
        survey_report.province_survey_results(session, result.campaign.id, 999, result.secret, 1)


def test_parent_ministries_aggregate_every_provinces_forms_and_hide_a_small_one(session, result):
    ministries = survey_report.ministry_results(session, result.campaign.id, result.secret, 3)

    by_code = {m.code: m for m in ministries}
    assert set(by_code) == {"BTC", "BTP"}  # Đà Nẵng's form about BTC is voided with its province
    finance = by_code["BTC"]
    assert (finance.name, finance.forms, finance.too_few) == ("Bộ Tài chính", 3, False)
    timely = _question(finance.questions, "BO-LD", "b1_1")
    assert (timely.answered, timely.scored, timely.mean) == (3, 3, 3.0)  # (4 + 2 + 3) / 3
    satisfied = _question(finance.questions, "BO-LD", "b6_1")
    assert (satisfied.answered, satisfied.too_few) == (2, True)  # two answers to this question: not reported
    assert by_code["BTP"].too_few and by_code["BTP"].questions == []


def test_the_national_table_has_every_province_with_counted_and_voided_forms(session, result):
    table = survey_report.national_results(session, result.campaign, result.secret)

    rows = {row.province_id: row for row in table.rows}
    assert len(rows) == 63
    assert (rows[HA_NOI].total.counted, rows[HA_NOI].total.voided, rows[HA_NOI].points) == (5, 1, 2.27)
    assert rows[DA_NANG].voided_province and rows[DA_NANG].total.voided == 1
    assert (table.total.counted, table.total.voided) == (8, 2)
    assert table.survey_maximum == 3.0


def test_the_ministry_reads_the_pages_and_a_small_group_shows_too_few(app, client, session, ministry_user, result):
    app.config["PORTAL_RESULTS_MIN_ANSWERS"] = 3
    log_in(client, ministry_user)
    campaign_id = result.campaign.id

    national = client.get(f"/bo/ket-qua/{campaign_id}/khao-sat/")
    assert national.status_code == 200
    assert "2 phiếu bị hủy, không được tính" in text_of(national.get_data(as_text=True))

    page = client.get(f"/bo/ket-qua/{campaign_id}/khao-sat/tinh/{HA_NOI}")
    text = text_of(page.get_data(as_text=True))
    assert page.status_code == 200
    assert "Quá ít phiếu để báo cáo" in text
    assert "điểm trung bình 3,67 / 5" in text  # the council's c3_1: (4 + 2 + 5) / 3
    assert "điểm trung bình 4 / 5" not in text  # its c2_1, pooled with the hidden leaders' group, is held back
    assert "1 phiếu đã bị hủy" in text
    assert "Không báo cáo riêng" in text
    assert client.get(f"/bo/ket-qua/{campaign_id}/khao-sat/tinh/999").status_code == 404

    ministries = client.get(f"/bo/ket-qua/{campaign_id}/khao-sat/bo-chu-quan")
    assert "Bộ Tài chính" in text_of(ministries.get_data(as_text=True))
    export = client.get(f"/bo/ket-qua/{campaign_id}/khao-sat/bo-chu-quan.xlsx")
    assert export.status_code == 200 and export.data.startswith(b"PK")
    assert "Kết quả" in text_of(client.get("/bo/ket-qua/khao-sat/").get_data(as_text=True))


@pytest.mark.parametrize("role", ["province_user", "it_focal_user"])
def test_provinces_and_it_focal_points_reach_no_survey_results_page(request, app, client, session, result, role):
    log_in(client, request.getfixturevalue(role))
    campaign_id = result.campaign.id
    for path in ("/bo/ket-qua/khao-sat/", f"/bo/ket-qua/{campaign_id}/khao-sat/",
                 f"/bo/ket-qua/{campaign_id}/khao-sat/tinh/{HA_NOI}", f"/bo/ket-qua/{campaign_id}/khao-sat/bo-chu-quan",
                 f"/bo/ket-qua/{campaign_id}/khao-sat/bo-chu-quan.xlsx",
                 f"/bo/ket-qua/{campaign_id}/khao-sat/du-lieu.xlsx", f"/bo/ket-qua/{campaign_id}/khao-sat/du-lieu.csv"):
        assert client.get(path).status_code == 403, path


def test_forms_answered_through_the_survey_pages_are_counted_against_the_forms_expected(app, session, ministry_user,
                                                                                         during_survey):
    """The real path: a launched list, a leader of a department answering both forms as the survey pages store them."""
    from tests.support.survey import answer, complete_answers, form_def, launch_survey

    survey = launch_survey(app, session, ministry_user, HA_NOI, per_group=1)
    framework.load_sample(session, survey.campaign)  # its 2.4.2 counts c2_1 of three forms, checked on import
    leader = survey.of_group("LD_SO")
    locality = form_def(session, "DP-LDSO")
    raw = complete_answers(locality)
    raw["c2_1"] = ["4"]
    answer(app, session, leader, "DP-LDSO", raw=raw)
    answer(app, session, leader, "BO-LD")
    secret = app.config["SECRET_KEY"]

    survey_result = survey_report.province_survey_results(session, survey.campaign.id, HA_NOI, secret, 1)

    groups = {group.code: group for group in survey_result.groups}
    assert (groups["LD_SO"].rate.expected, groups["LD_SO"].rate.counted) == (2, 2)  # both of the leader's forms
    assert groups["LD_SO"].rate.percent == 100.0
    assert groups["HDND"].rate.expected == 1 and groups["HDND"].rate.counted == 0
    quality = _question(groups["LD_SO"].questions, "DP-LDSO", "c2_1")
    assert [(o.value, o.count) for o in quality.options if o.count] == [("4", 1)]
    # The sample framework's 2.4.2 (mean_scaled over c2_1 of three forms, 0.5 points): 4/5 of 0.5 = 0.4.
    assert next(line.points for line in survey_result.lines if line.code == "2.4.2") == 0.4
