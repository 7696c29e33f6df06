"""The PAR Index and the ranking of a small campaign worked out by hand: a framework with every scoring kind,
three provinces with their appraisals in different states (closed, under way, never started), a voided survey
result, a tie, the change from the previous campaign, and a stored computation reproduced.

The framework (15 points inside the maximum; bonus and penalty outside it):

    area 1 (max 7)  1.1.1 yes_no 2 · 1.1.2 percentage 3 (≥100% → 3, ≥50% → 1,5; may be "không áp dụng")
                    · 1.1.3 bonus 1 · 1.2.1 deduction 2 (0,5 a case) · 1.2.2 penalty 1
    area 2 (max 8)  2.1.1 levels 2 (Tốt 2 / Đạt 1 / Chưa đạt 0) · 2.1.2 survey 4 · 2.2.1 survey 2

Hà Nội (appraisal closed): self 1.1.1 yes, 1.1.2 9/10, 1.1.3 bonus 1, 1.2.1 one case, 1.2.2 penalty 0,5, 2.1.1 Tốt;
round 1 puts 1.1.2 at 4/10 (0), round 2 finds three cases on 1.2.1 (0,5). Appraised: criterion 1.1 = 2+0+1 = 3,
criterion 1.2 = 0,5-0,5 = 0, area 1 = 3; area 2 = 2. Survey 3 + 1,5 = 4,5. Area 2 = 6,5; total 9,5/15 = 63,33%.

Đà Nẵng (round 1 under way, running figure): self 1.1.1 yes, 1.1.2 10/10, 1.2.1 no case, 2.1.1 Đạt; round 1 puts
1.1.2 at 5/10 (1,5). Area 1 = 2+1,5+2 = 5,5; area 2 = 1 + survey 2 + 1 = 4; total 9,5/15 = 63,33%: a tie with Hà Nội.

Hải Phòng (never appraised: its own points; survey voided): 1.1.1 no, 1.1.2 không áp dụng (the maximum drops to
12), 1.2.1 no case, 2.1.1 Đạt. Survey would be 4 + 2 but the result is voided: 0. Area 1 = 2, area 2 = 1; total
3/12 = 25%.

Every other province of the map: nothing scored, 0.

Ranks: Hà Nội and Đà Nẵng 1 (tie), Hải Phòng 3, the others 4. Area 1: Đà Nẵng 1, Hà Nội 2, Hải Phòng 3;
area 2: Hà Nội 1, Đà Nẵng 2, Hải Phòng 3.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from portal.domain import framework, par_index, ranking, results_publication, scoring
from portal.models import (
    Appraisal,
    AppraisalScore,
    AppraisalState,
    Assessment,
    AssessmentScore,
    AuditEntry,
    Campaign,
    IndexComputation,
    IntegrityDecision,
    Notice,
    ProvinceIndex,
)
from tests.support.accounts import HA_NOI, HAI_PHONG
from tests.support.results import HandResult

DA_NANG = 48
SECRET = "test-secret-key-that-is-long-enough-0123456789"
VOID_REASON = "Nhiều phiếu được trả lời từ cùng một thiết bị trong vài phút"

FRAMEWORK = """
format: 1
title: Bộ tiêu chí thử có đủ các loại chấm điểm
areas:
  - code: "1"
    title: Công tác chỉ đạo, điều hành
    criteria:
      - code: "1.1"
        title: Kế hoạch
        subcriteria:
          - {code: "1.1.1", title: Ban hành kế hoạch, points: 2, kind: yes_no}
          - code: "1.1.2"
            title: Tỷ lệ hoàn thành kế hoạch
            points: 3
            kind: percentage
            not_applicable: true
            numerator: Số nhiệm vụ hoàn thành
            denominator: Số nhiệm vụ
            bands: [{from: 100, points: 3}, {from: 50, points: 1.5}]
          - {code: "1.1.3", title: Sáng kiến, points: 1, kind: bonus}
      - code: "1.2"
        title: Báo cáo
        subcriteria:
          - {code: "1.2.1", title: Báo cáo đúng hạn, points: 2, kind: deduction, per_case: 0.5}
          - {code: "1.2.2", title: Vi phạm, points: 1, kind: penalty}
  - code: "2"
    title: Cải cách thủ tục hành chính
    criteria:
      - code: "2.1"
        title: Chất lượng
        subcriteria:
          - code: "2.1.1"
            title: Mức độ
            points: 2
            kind: levels
            levels: [{label: Tốt, points: 2}, {label: Đạt, points: 1}, {label: Chưa đạt, points: 0}]
          - code: "2.1.2"
            title: Đánh giá của người trả lời phiếu
            points: 4
            kind: survey
            source: survey
            survey: {questions: [DP-HDND.c2_1], rule: mean_scaled}
      - code: "2.2"
        title: Hài lòng
        subcriteria:
          - code: "2.2.1"
            title: Mức độ hài lòng
            points: 2
            kind: survey
            source: survey
            survey: {questions: [DP-HDND.c3_1], rule: share_top}
"""

# The council members' answers (scale 1..5, "kb" = không biết, without a score) to the two mapped questions.
ANSWERS = {
    # 2.1.2, mean of score / 5 over c2_1: (5 + 4 + 3 + 3) / 4 / 5 = 0,75 of 4 = 3; "kb" is not counted.
    # 2.2.1, share of c3_1 answers at the two top scores (4, 5): 3 of 4 = 0,75 of 2 = 1,5.
    HA_NOI: [{"c2_1": "5", "c3_1": "5"}, {"c2_1": "4", "c3_1": "4"}, {"c2_1": "3", "c3_1": "4"},
             {"c2_1": "3", "c3_1": "1"}, {"c2_1": "kb", "c3_1": "kb"}],
    # (2 + 3) / 2 / 5 = 0,5 of 4 = 2; one of two at the top: 0,5 of 2 = 1.
    DA_NANG: [{"c2_1": "2", "c3_1": "5"}, {"c2_1": "3", "c3_1": "2"}],
    # Would be 4 and 2, but the whole result is voided.
    HAI_PHONG: [{"c2_1": "5", "c3_1": "5"}],
}


def _score(session, content, assessment_id: int, province_id: int, code: str, figures: dict) -> AssessmentScore:
    entry = scoring.score(content.line(code), figures)
    row = AssessmentScore(assessment_id=assessment_id, province_id=province_id, line_code=code,
                          figures=json.dumps(figures), points=entry.points, not_applicable=entry.not_applicable)
    session.add(row)
    return row


def _appraised(session, content, assessment_id: int, province_id: int, code: str, round_: int, figures: dict):
    entry = scoring.score(content.line(code), figures)
    session.add(AppraisalScore(assessment_id=assessment_id, province_id=province_id, line_code=code, round=round_,
                               figures=json.dumps(figures), points=entry.points, not_applicable=entry.not_applicable))


def _assessment(session, campaign, province_id: int, lines: dict[str, dict], content) -> Assessment:
    row = Assessment(campaign_id=campaign.id, province_id=province_id, sent_at=datetime(2022, 2, 1, tzinfo=UTC))
    session.add(row)
    session.flush()
    for code, figures in lines.items():
        _score(session, content, row.id, province_id, code, figures)
    return row


@pytest.fixture
def result(app, session, ministry_user) -> HandResult:
    return HandResult.build(app, session, ministry_user, FRAMEWORK)


@pytest.fixture
def campaign(result):
    return result.campaign


@pytest.fixture
def content(session, campaign):
    return framework.load(framework.current_version(session, campaign))


@pytest.fixture
def scored(session, campaign, content, ministry_user, result):
    """The three provinces as the module's docstring says."""
    for province_id, forms in ANSWERS.items():
        for values in forms:
            result.answer(province_id, "HDND", "DP-HDND", values)
    ha_noi = _assessment(session, campaign, HA_NOI, {
        "1.1.1": {"answer": "yes"}, "1.1.2": {"numerator": 9, "denominator": 10}, "1.1.3": {"points": 1},
        "1.2.1": {"cases": 1}, "1.2.2": {"points": 0.5}, "2.1.1": {"level": 0}}, content)
    session.add(Appraisal(assessment_id=ha_noi.id, campaign_id=campaign.id, province_id=HA_NOI,
                          state=AppraisalState.CLOSED))
    _appraised(session, content, ha_noi.id, HA_NOI, "1.1.2", 1, {"numerator": 4, "denominator": 10})
    _appraised(session, content, ha_noi.id, HA_NOI, "1.2.1", 2, {"cases": 3})
    da_nang = _assessment(session, campaign, DA_NANG, {
        "1.1.1": {"answer": "yes"}, "1.1.2": {"numerator": 10, "denominator": 10}, "1.2.1": {"cases": 0},
        "2.1.1": {"level": 1}}, content)
    session.add(Appraisal(assessment_id=da_nang.id, campaign_id=campaign.id, province_id=DA_NANG))
    _appraised(session, content, da_nang.id, DA_NANG, "1.1.2", 1, {"numerator": 5, "denominator": 10})
    _assessment(session, campaign, HAI_PHONG, {
        "1.1.1": {"answer": "no"}, "1.1.2": {"answer": "na"}, "1.2.1": {"cases": 0}, "2.1.1": {"level": 1}}, content)
    session.add(IntegrityDecision(campaign_id=campaign.id, province_id=HAI_PHONG, kind="void_province",
                                  reason=VOID_REASON, form_key="void", proposed_by_id=ministry_user.id,
                                  state="in_effect"))
    session.commit()
    return campaign


def _by_province(rows):
    return {row.province_id: row for row in rows}


def test_the_index_of_each_province_is_the_one_worked_out_by_hand(session, scored):
    rows, _ = par_index.compute(session, scored, SECRET)
    found = _by_province(rows)
    ha_noi, da_nang, hai_phong = found[HA_NOI], found[DA_NANG], found[HAI_PHONG]

    assert (ha_noi.basis, ha_noi.appraised, ha_noi.survey, ha_noi.total, ha_noi.maximum, ha_noi.percent) == (
        "closed", 5.0, 4.5, 9.5, 15.0, 63.3333)
    assert {code: (a.appraised, a.survey, a.total, a.maximum) for code, a in ha_noi.areas.items()} == {
        "1": (3.0, 0.0, 3.0, 7.0), "2": (2.0, 4.5, 6.5, 8.0)}
    assert (da_nang.basis, da_nang.appraised, da_nang.survey, da_nang.total, da_nang.percent) == (
        "appraising", 6.5, 3.0, 9.5, 63.3333)
    assert {code: a.total for code, a in da_nang.areas.items()} == {"1": 5.5, "2": 4.0}
    assert (hai_phong.basis, hai_phong.appraised, hai_phong.survey, hai_phong.total, hai_phong.maximum,
            hai_phong.percent) == ("not_appraised", 3.0, 0.0, 3.0, 12.0, 25.0)
    assert hai_phong.voided_reason == VOID_REASON
    others = [row for row in rows if row.province_id not in (HA_NOI, DA_NANG, HAI_PHONG)]
    assert others and {(row.basis, row.total) for row in others} == {("not_assessed", 0.0)}


def test_the_sums_follow_the_framework_totals_rules(session, scored, content):
    """The index sums in whole units (fast); scoring.totals, with fractions, is the rule they must equal."""
    rows, _ = par_index.compute(session, scored, SECRET)
    for row in rows[:3]:
        entries = {code: scoring.Entry({}, line["points"], line["na"]) for code, line in row.lines.items()
                   if line["points"] is not None or line["na"]}
        rule = scoring.totals(content, entries)
        assert (row.total, row.maximum) == (rule.overall.score, rule.overall.maximum)
        assert {code: area.total for code, area in row.areas.items()} == {
            code: area.score for code, area in rule.areas.items()}


def test_every_line_keeps_the_self_and_the_counted_points(session, scored):
    ha_noi = _by_province(par_index.compute(session, scored, SECRET)[0])[HA_NOI]

    assert ha_noi.lines["1.1.2"] == {"self": 1.5, "points": 0.0, "na": False}
    assert ha_noi.lines["1.2.1"] == {"self": 1.5, "points": 0.5, "na": False}
    assert ha_noi.lines["1.2.2"] == {"self": -0.5, "points": -0.5, "na": False}
    assert ha_noi.lines["2.1.2"] == {"self": None, "points": 3.0, "na": False}


def test_ties_share_a_rank_and_the_next_rank_skips(session, scored):
    rows, _ = par_index.compute(session, scored, SECRET)
    found = _by_province(rows)

    assert [row.province_id for row in rows[:3]] == [HA_NOI, DA_NANG, HAI_PHONG]  # a shared rank: by code
    assert (found[HA_NOI].rank, found[DA_NANG].rank, found[HAI_PHONG].rank) == (1, 1, 3)
    assert {row.rank for row in rows[3:]} == {4}
    assert [found[p].areas["1"].rank for p in (DA_NANG, HA_NOI, HAI_PHONG)] == [1, 2, 3]
    assert [found[p].areas["2"].rank for p in (HA_NOI, DA_NANG, HAI_PHONG)] == [1, 2, 3]


def test_competition_ranks_compare_to_two_decimals():
    assert par_index.competition_ranks({1: 80.004, 2: 80.0, 3: 79.5, 4: 81}) == {4: 1, 1: 2, 2: 2, 3: 4}


def test_a_voided_province_gets_zero_survey_points_with_the_reason(session, scored):
    hai_phong = _by_province(par_index.compute(session, scored, SECRET)[0])[HAI_PHONG]

    assert hai_phong.survey == 0.0
    assert hai_phong.lines["2.1.2"]["points"] == 0.0 and hai_phong.lines["2.2.1"]["points"] == 0.0
    assert hai_phong.voided_reason == VOID_REASON


def test_the_stored_inputs_reproduce_the_figure_and_a_change_shows(session, scored, ministry_user):
    computation = par_index.recompute(session, scored, SECRET, actor=ministry_user, trigger="thử")
    stored = _by_province(par_index.stored_rows(session, computation))
    inputs = json.loads(computation.inputs)

    assert stored[HA_NOI].total == 9.5 and stored[HA_NOI].areas["2"].total == 6.5
    assert inputs["framework_version_id"] == framework.current_version(session, scored).id
    assert [row[0] for row in inputs["appraisals"]] == [HA_NOI, DA_NANG]
    assert inputs["voided"] == [session.exec(select(IntegrityDecision.id)).one()]
    assert par_index.compare(session, computation, SECRET).same
    # Pressing the button again with nothing changed stores nothing new.
    assert par_index.recompute(session, scored, SECRET, actor=ministry_user, trigger="thử").id == computation.id

    late = session.exec(select(AppraisalScore).where(AppraisalScore.province_id == DA_NANG)).one()
    late.figures, late.points = json.dumps({"numerator": 10, "denominator": 10}), 3.0
    late.updated_at = late.updated_at + timedelta(minutes=5)
    session.add(late)
    session.commit()
    comparison = par_index.compare(session, computation, SECRET)

    assert not comparison.same
    assert comparison.changed_inputs == ["thẩm định"]
    assert ("Thành phố Đà Nẵng", 9.5, 11.0) in comparison.changed_provinces
    # The page compares two stored computations, the published one and the latest, without recomputing.
    later = par_index.recompute(session, scored, SECRET, actor=None, trigger="thử")
    assert par_index.difference(session, computation, later) == comparison


def test_the_change_from_the_previous_campaign_counts_only_provinces_ranked_then(session, scored, ministry_user):
    """The previous year's campaign (this one was copied from none) published a ranking without Đà Nẵng."""
    previous = Campaign(year=scored.year - 1, name="Đợt trước", it_focal_deadline=scored.it_focal_deadline,
                        list_deadline=scored.list_deadline, self_assessment_deadline=scored.self_assessment_deadline,
                        response_deadline=scored.response_deadline,
                        results_published_at=datetime(2021, 6, 1, tzinfo=UTC))
    session.add(previous)
    session.flush()
    earlier = IndexComputation(campaign_id=previous.id, published_at=previous.results_published_at)
    session.add(earlier)
    session.flush()
    session.add_all([ProvinceIndex(computation_id=earlier.id, campaign_id=previous.id, province_id=HA_NOI, rank=3),
                     ProvinceIndex(computation_id=earlier.id, campaign_id=previous.id, province_id=HAI_PHONG,
                                   rank=1)])
    session.commit()
    rows = _by_province(par_index.compute(session, scored, SECRET)[0])
    before = ranking.rank_changes(session, scored)

    assert ranking.change_of(before, rows[HA_NOI]) == 2
    assert ranking.change_of(before, rows[HAI_PHONG]) == -2
    assert ranking.change_of(before, rows[DA_NANG]) is None
    assert [ranking.change_label(c) for c in (2, -2, 0, None)] == ["tăng 2 bậc", "giảm 2 bậc", "không đổi", "–"]


def test_publication_needs_the_ministry_to_know_what_it_publishes(session, scored, ministry_user, result):
    first = par_index.recompute(session, scored, SECRET, actor=ministry_user, trigger="thử")

    with pytest.raises(results_publication.PublicationRefused, match="Còn 62 tỉnh, thành phố chưa có điểm"):
        results_publication.publish(session, ministry_user, scored, first.id, accept_provisional=False,
                                    republish=False)
    results_publication.publish(session, ministry_user, scored, first.id, accept_provisional=True, republish=False)
    results_publication.publish(session, ministry_user, scored, first.id, accept_provisional=True, republish=False)

    assert results_publication.published_computation(session, scored).id == first.id
    assert [e.action for e in session.exec(select(AuditEntry).where(AuditEntry.action.like("Công bố%")))] == [
        "Công bố kết quả Chỉ số CCHC"]
    assert session.exec(select(Notice).where(Notice.title.like("Bộ Nội vụ công bố kết quả Chỉ số CCHC%"))).one()

    result.answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "5", "c3_1": "5"})  # a form submitted late
    second = par_index.recompute(session, scored, SECRET, actor=ministry_user, trigger="thử")
    with pytest.raises(results_publication.PublicationRefused, match="Công bố lại"):
        results_publication.publish(session, ministry_user, scored, second.id, accept_provisional=True,
                                    republish=False)
    with pytest.raises(results_publication.PublicationRefused, match="Không tìm thấy"):
        results_publication.publish(session, ministry_user, scored, second.id + 1000, accept_provisional=True,
                                    republish=True)
    assert results_publication.published_computation(session, scored).id == first.id

    results_publication.publish(session, ministry_user, scored, second.id, accept_provisional=True, republish=True)

    assert results_publication.published_computation(session, scored).id == second.id
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "Công bố lại kết quả Chỉ số CCHC")).one()
    # A page opened before a recomputation publishes nothing: the ministry reviews what it publishes.
    result.answer(DA_NANG, "HDND", "DP-HDND", {"c2_1": "5", "c3_1": "5"})
    third = par_index.recompute(session, scored, SECRET, actor=ministry_user, trigger="Bộ Nội vụ tính lại")
    result.answer(DA_NANG, "HDND", "DP-HDND", {"c2_1": "1", "c3_1": "1"})
    fourth = par_index.recompute(session, scored, SECRET, actor=ministry_user, trigger="thử")
    with pytest.raises(results_publication.PublicationRefused, match="vừa được tính lại"):
        results_publication.publish(session, ministry_user, scored, third.id, accept_provisional=True, republish=True)
    assert fourth.id > third.id and results_publication.published_computation(session, scored).id == second.id


def test_the_export_and_the_chart_hold_the_ranking(session, scored, content):
    import io

    from openpyxl import load_workbook

    rows, _ = par_index.compute(session, scored, SECRET)
    sheet = load_workbook(io.BytesIO(ranking.ranking_xlsx(scored, content, rows, {}))).active
    values = list(sheet.iter_rows(values_only=True))

    assert values[2][:7] == ("Hạng", "Tỉnh, thành phố", "Chỉ số (%)", "Tổng điểm", "Điểm tối đa", "Điểm thẩm định",
                             "Điểm điều tra XHH")
    assert values[3][:4] == (1, "Thành phố Hà Nội", 63.3333, 9.5)
    assert values[5][0] == 3 and values[5][-1] == VOID_REASON
    rows[0].name = "<script>alert(1)</script>"
    svg = ranking.ranking_svg(rows, "Chỉ số")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<rect") == len(rows)


def test_a_draft_self_assessment_counts_for_nothing_until_it_is_sent_or_locked(session, scored, content):
    row = session.exec(select(Assessment).where(Assessment.province_id == HAI_PHONG)).one()
    row.sent_at = None
    session.add(row)
    session.commit()

    draft = _by_province(par_index.compute(session, scored, SECRET)[0])[HAI_PHONG]
    assert (draft.basis, draft.appraised) == ("not_assessed", 0.0)

    row.locked_at = datetime(2022, 3, 1, tzinfo=UTC)  # the deadline locked it as it stood
    session.add(row)
    session.commit()
    locked = _by_province(par_index.compute(session, scored, SECRET)[0])[HAI_PHONG]
    assert locked.basis == "not_appraised" and locked.appraised > 0
