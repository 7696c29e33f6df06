"""The appraisal (thẩm định): the appraisers' scores by round, the steps and their order, the explanation window's
deadline, what the province sees and when, the final appraised points.

The 2021 campaign is current (self-assessment deadline 15/02/2022) with the sample framework; Hà Nội scored three
lines and sent on 01/02/2022 09:00 (the clock).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from portal.domain import appraisal, assessment
from portal.domain import appraisal_explanations as explaining
from portal.models import Appraisal, AppraisalScore, AppraisalState, AuditEntry, Notice
from tests.support.accounts import HA_NOI, log_in
from tests.support.appraisal import sample_campaign, sent_assessment
from tests.support.html import text_of

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HCM = "Asia/Ho_Chi_Minh"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ROUND1_SECRET = "Nhận xét vòng 1 chưa công bố"
ROUND2_SECRET = "Nhận xét vòng 2 chưa công bố"


@pytest.fixture(autouse=True)
def files_dir(app_config, tmp_path):
    app_config["PORTAL_FILES_DIR"] = str(tmp_path / "tep")
    return tmp_path / "tep"


@pytest.fixture
def campaign(session, clock):
    return sample_campaign(session)


@pytest.fixture
def content(session, campaign):
    return assessment.framework_of(session, campaign)[1]


@pytest.fixture
def sent(session, campaign, province_user):
    """Hà Nội's assessment: 1.1.1 yes (1 point), 1.1.2 at 9/10 (0,5), 1.2.1 two late reports (0,5); sent."""
    return sent_assessment(session, campaign, HA_NOI, province_user, {
        "1.1.1": {"answer": "yes"}, "1.1.2": {"numerator": "9", "denominator": "10"}, "1.2.1": {"cases": "2"}},
        datetime(2022, 2, 1, 2, 0, tzinfo=TZ), decision_number="45/QĐ-UBND")


def appraise(session, user, row, campaign, content, code, round_=1, version=0, comment="", **figures):
    form = {**figures, "comment": comment, "version": str(version), "round": str(round_)}
    return appraisal.save_score(session, user, row, campaign, content.line(code), form, HCM)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 2) -> datetime:
    return datetime(2022, month, day, hour, minute, second, tzinfo=TZ)


def through_round1(session, ministry_user, sent, campaign, content, until="10/02/2022"):
    """Round 1 on two lines (1.1.1 refused: 0 point; 1.1.2 at 8/10: 0,5) and the explanation window opened."""
    assert appraise(session, ministry_user, sent, campaign, content, "1.1.1", answer="no", comment=ROUND1_SECRET).ok
    assert appraise(session, ministry_user, sent, campaign, content, "1.1.2", numerator="8", denominator="10").ok
    assert appraisal.open_explanation(session, ministry_user, sent, campaign, until, HCM) == {}


def actions(session) -> list[str]:
    session.expire_all()
    return [entry.action for entry in session.exec(select(AuditEntry).order_by(AuditEntry.id))]


# ---------------------------------------------------------------- the appraisers' scores


def test_an_appraised_score_is_computed_from_figures_as_the_province_s_and_audited(session, ministry_user, sent,
                                                                                     campaign, content):
    result = appraise(session, ministry_user, sent, campaign, content, "1.1.2", numerator="7", denominator="10",
                      comment="Thiếu báo cáo quý IV")

    assert result.ok and result.changed
    row = session.exec(select(AppraisalScore)).one()
    assert (row.round, row.line_code, row.points, row.comment) == (1, "1.1.2", 0.0, "Thiếu báo cáo quý IV")
    assert actions(session)[-2:] == ["Bắt đầu thẩm định", "Thẩm định vòng 1: chấm tiêu chí 1.1.2"]
    assert session.exec(select(Appraisal)).one().state == AppraisalState.ROUND1


def test_a_bad_figure_is_refused_in_vietnamese_and_nothing_saved(session, ministry_user, sent, campaign, content):
    result = appraise(session, ministry_user, sent, campaign, content, "1.1.2", numerator="12", denominator="10")

    assert "không được lớn hơn" in result.error
    assert session.exec(select(AppraisalScore)).all() == []


def test_a_save_on_a_stale_version_is_refused_with_both_values(session, ministry_user, sent, campaign, content):
    assert appraise(session, ministry_user, sent, campaign, content, "1.1.1", answer="no", comment="Thiếu").ok

    late = appraise(session, ministry_user, sent, campaign, content, "1.1.1", version=0, answer="yes")

    assert late.conflict is not None
    assert late.conflict.theirs == "Không → 0 điểm" and late.conflict.theirs_explanation == "Thiếu"
    assert late.conflict.yours == "Có → 1 điểm" and late.conflict.version == 1
    assert session.exec(select(AppraisalScore)).one().points == 0.0


def test_an_assessment_neither_sent_nor_past_its_deadline_is_not_appraised(session, ministry_user, sent, campaign,
                                                                           content, clock):
    sent.sent_at = None
    session.add(sent)
    session.commit()

    with pytest.raises(appraisal.AppraisalRefused, match="chưa gửi"):
        appraise(session, ministry_user, sent, campaign, content, "1.1.1", answer="no")
    clock.move_to(at(16, 0, 0, 1), tick=False)  # locked unsent: what was entered is appraised
    assert appraise(session, ministry_user, sent, campaign, content, "1.1.1", answer="no").ok


def test_the_ministry_cannot_return_an_assessment_once_its_appraisal_began(session, ministry_user, sent, campaign,
                                                                           content):
    from portal.domain import assessment_sending

    assert appraise(session, ministry_user, sent, campaign, content, "1.1.1", answer="no").ok

    errors = assessment_sending.return_for_correction(session, ministry_user, sent, campaign, "Sửa lại")

    assert "đã bắt đầu thẩm định" in errors["reason"]


def test_an_appraised_assessment_locked_unsent_gets_no_exception_that_would_reopen_it(session, ministry_user, sent,
                                                                                     campaign, content, clock):
    sent.sent_at = None
    session.add(sent)
    session.commit()
    clock.move_to(at(16, 9), tick=False)
    assert appraise(session, ministry_user, sent, campaign, content, "1.1.1", answer="no").ok

    errors = assessment.grant_exception(session, ministry_user, sent, campaign, "20/02/2022", "Sự cố", HCM)

    assert "đã bắt đầu thẩm định" in errors["until"]
    assert sent.exception_until is None


# ---------------------------------------------------------------- the steps


def test_the_rounds_go_in_order_each_step_audited_and_the_province_told(session, ministry_user, province_user,
                                                                        sent, campaign, content, clock):
    with pytest.raises(appraisal.AppraisalRefused):
        appraisal.close(session, ministry_user, sent, campaign, HCM)
    assert appraisal.open_explanation(session, ministry_user, sent, campaign, "10/02/2022", HCM) == {
        "deadline": "Chưa có tiêu chí nào được thẩm định ở vòng 1."}

    through_round1(session, ministry_user, sent, campaign, content)
    with pytest.raises(appraisal.AppraisalRefused, match="Không nhận điểm"):  # round 1 is over
        appraise(session, ministry_user, sent, campaign, content, "1.1.1", answer="yes")
    with pytest.raises(appraisal.AppraisalRefused, match="10/02/2022"):  # the province still explains
        appraisal.start_round2(session, ministry_user, sent, campaign, HCM)
    clock.move_to(at(11, 0, 0, 1), tick=False)
    appraisal.start_round2(session, ministry_user, sent, campaign, HCM)
    assert appraise(session, ministry_user, sent, campaign, content, "1.1.1", round_=2, answer="yes").ok
    appraisal.close(session, ministry_user, sent, campaign, HCM)
    with pytest.raises(appraisal.AppraisalRefused):
        appraise(session, ministry_user, sent, campaign, content, "1.1.2", round_=2, answer="yes")
    appraisal.release(session, ministry_user, sent, campaign, HCM)

    steps = [a for a in actions(session) if not a.startswith("Thẩm định vòng")]
    assert steps[-5:] == ["Bắt đầu thẩm định", "Thẩm định: mở giải trình", "Thẩm định: bắt đầu vòng 2",
                          "Kết thúc thẩm định", "Công bố kết quả thẩm định cho tỉnh"]
    titles = [n.title for n in session.exec(select(Notice).order_by(Notice.id))]
    assert titles == ["Bộ Nội vụ gửi kết quả thẩm định vòng 1 để tỉnh giải trình",
                      "Bộ Nội vụ công bố kết quả thẩm định"]
    row = session.exec(select(Appraisal)).one()
    assert row.state == AppraisalState.CLOSED and row.released_at is not None


def test_a_step_posted_twice_is_taken_once(session, ministry_user, sent, campaign, content, clock):
    through_round1(session, ministry_user, sent, campaign, content)
    assert appraisal.open_explanation(session, ministry_user, sent, campaign, "10/02/2022", HCM) == {}
    clock.move_to(at(11, 8), tick=False)
    for _ in range(2):
        appraisal.start_round2(session, ministry_user, sent, campaign, HCM)
        appraisal.close(session, ministry_user, sent, campaign, HCM)
        appraisal.release(session, ministry_user, sent, campaign, HCM)

    done = actions(session)
    assert [done.count(a) for a in ("Thẩm định: mở giải trình", "Thẩm định: bắt đầu vòng 2", "Kết thúc thẩm định",
                                    "Công bố kết quả thẩm định cho tỉnh")] == [1, 1, 1, 1]
    assert len(session.exec(select(Notice)).all()) == 2


def test_an_explanation_deadline_in_the_past_or_unreadable_is_refused(session, ministry_user, sent, campaign,
                                                                       content):
    assert appraise(session, ministry_user, sent, campaign, content, "1.1.1", answer="no").ok

    assert "dd/mm/yyyy" in appraisal.open_explanation(session, ministry_user, sent, campaign, "31/02/2022",
                                                      HCM)["deadline"]
    assert "đã qua" in appraisal.open_explanation(session, ministry_user, sent, campaign, "31/01/2022",
                                                  HCM)["deadline"]
    assert session.exec(select(Appraisal)).one().state == AppraisalState.ROUND1


# ---------------------------------------------------------------- the explanation window


def test_explanations_are_taken_until_the_last_second_of_the_deadline_day_in_vietnam(
        session, ministry_user, province_user, sent, campaign, content, clock, files_dir):
    through_round1(session, ministry_user, sent, campaign, content)
    line = content.line("1.1.1")

    clock.move_to(at(10, 23, 59, 59), tick=False)
    saved = explaining.save_explanation(session, province_user, sent, campaign, line,
                                       {"explanation": "Đã ban hành kế hoạch, xem văn bản kèm", "version": "0"}, HCM)
    link = explaining.add_evidence(session, province_user, sent, campaign, line, "Kế hoạch.pdf", PDF,
                                  files_dir=files_dir, max_bytes=10_000,
                                  tz_name=HCM)
    clock.move_to(at(11, 0, 0, 0), tick=False)  # 00:00:00 on 11/02 in Hà Nội (17:00 UTC the day before)
    with pytest.raises(appraisal.AppraisalRefused, match="Đã hết hạn giải trình"):
        explaining.save_explanation(session, province_user, sent, campaign, line,
                                   {"explanation": "Sửa sau hạn", "version": "1"}, HCM)
    with pytest.raises(appraisal.AppraisalRefused):
        explaining.add_evidence(session, province_user, sent, campaign, line, "Muộn.pdf", PDF,
                               files_dir=files_dir, max_bytes=10_000, tz_name=HCM)

    assert saved.ok and link.line_code == "1.1.1"
    assert explaining.explanations(session, sent)["1.1.1"].text == "Đã ban hành kế hoạch, xem văn bản kèm"
    assert [name for _, stored in explaining.files_by_line(session, sent)["1.1.1"]
            for name in [stored.original_name]] == ["Kế hoạch.pdf"]


def test_an_explanation_before_the_window_opens_is_refused(session, province_user, sent, campaign, content):
    with pytest.raises(appraisal.AppraisalRefused, match="chưa gửi kết quả thẩm định vòng 1"):
        explaining.save_explanation(session, province_user, sent, campaign, content.line("1.1.1"),
                                   {"explanation": "Sớm", "version": "0"}, HCM)


def test_two_officers_explaining_the_same_line_one_is_told(session, ministry_user, province_user, sent, campaign,
                                                           content):
    through_round1(session, ministry_user, sent, campaign, content)
    line = content.line("1.1.1")
    assert explaining.save_explanation(session, province_user, sent, campaign, line,
                                      {"explanation": "Bản của A", "version": "0"}, HCM).ok

    late = explaining.save_explanation(session, province_user, sent, campaign, line,
                                      {"explanation": "Bản của B", "version": "0"}, HCM)

    assert late.conflict.theirs == "Bản của A" and late.conflict.yours == "Bản của B"


# ---------------------------------------------------------------- the final points


def test_final_points_take_round_two_then_round_one_then_the_self_score(session, ministry_user, sent, campaign,
                                                                        content, clock):
    through_round1(session, ministry_user, sent, campaign, content)  # 1.1.1 → 0, 1.1.2 → 0,5 (8/10)
    with pytest.raises(appraisal.AppraisalRefused):
        appraisal.final_points(session, sent, content)
    clock.move_to(at(11, 8), tick=False)
    appraisal.start_round2(session, ministry_user, sent, campaign, HCM)
    assert appraise(session, ministry_user, sent, campaign, content, "1.1.1", round_=2, answer="yes").ok
    appraisal.close(session, ministry_user, sent, campaign, HCM)

    final = appraisal.final_points(session, sent, content)

    assert {code: final.entries[code].points for code in ("1.1.1", "1.1.2", "1.2.1")} == {
        "1.1.1": 1.0, "1.1.2": 0.5, "1.2.1": 0.5}
    assert {code: final.sources[code] for code in ("1.1.1", "1.1.2", "1.2.1")} == {
        "1.1.1": "round2", "1.1.2": "round1", "1.2.1": "self"}
    assert (final.totals.criteria["1.1"].score, final.totals.criteria["1.2"].score) == (1.5, 0.5)
    assert final.totals.overall.score == 2.0


def test_combine_keeps_a_not_applicable_appraisal_out_of_the_maximum(content):
    from portal.domain.scoring import Entry, totals

    entries, _ = appraisal.combine({"1.1.1": Entry({"answer": "yes"}, 1.0)}, {"1.1.1": Entry({"answer": "na"}, None,
                                                                                          True)}, {})

    assert totals(content, entries).criteria["1.1"].maximum == totals(content, {}).criteria["1.1"].maximum - 1


# ---------------------------------------------------------------- what the province sees


def test_the_province_sees_round_one_only_once_released_and_round_two_only_after_the_release(
        client, session, ministry_user, province_user, sent, campaign, content, clock):
    assert appraise(session, ministry_user, sent, campaign, content, "1.1.1", answer="no", comment=ROUND1_SECRET).ok
    log_in(client, province_user)
    hidden = text_of(client.get(f"/tham-dinh/{sent.id}").get_data(as_text=True))
    assert "Vòng 1: đang thẩm định" in hidden and ROUND1_SECRET not in hidden

    assert appraisal.open_explanation(session, ministry_user, sent, campaign, "10/02/2022", HCM) == {}
    shown = text_of(client.get(f"/tham-dinh/{sent.id}").get_data(as_text=True))
    assert ROUND1_SECRET in shown and "Không → 0 điểm" in shown and "Lưu giải trình" in shown

    clock.move_to(at(11, 8), tick=False)
    appraisal.start_round2(session, ministry_user, sent, campaign, HCM)
    assert appraise(session, ministry_user, sent, campaign, content, "1.1.1", round_=2, answer="yes",
                    comment=ROUND2_SECRET).ok
    appraisal.close(session, ministry_user, sent, campaign, HCM)
    log_in(client, province_user)  # ten days later: a fresh login
    closed = text_of(client.get(f"/tham-dinh/{sent.id}").get_data(as_text=True))
    assert "Đã kết thúc thẩm định" in closed and ROUND2_SECRET not in closed
    assert "điểm thẩm định:" not in closed.lower()

    appraisal.release(session, ministry_user, sent, campaign, HCM)
    final = text_of(client.get(f"/tham-dinh/{sent.id}").get_data(as_text=True))
    assert ROUND2_SECRET in final and "điểm thẩm định: 2/100 điểm" in final


def test_the_appraisal_page_of_the_ministry_saves_a_line_with_htmx_and_as_a_plain_form(client, session, ministry_user,
                                                                                      sent):
    log_in(client, ministry_user)
    page = client.get(f"/bo/tham-dinh/{sent.id}")
    assert page.status_code == 200 and "Lưu điểm thẩm định" in page.get_data(as_text=True)

    fragment = client.post(f"/bo/tham-dinh/{sent.id}/dong/1.1.1", data={"answer": "no", "version": "0", "round": "1"},
                           headers={"HX-Request": "true"})
    plain = client.post(f"/bo/tham-dinh/{sent.id}/dong/1.2.1", data={"cases": "4", "version": "0", "round": "1"})
    stale = client.post(f"/bo/tham-dinh/{sent.id}/dong/1.1.1", data={"answer": "yes", "version": "0", "round": "1"})

    assert fragment.status_code == 200
    assert 'id="td-1-1-1"' in fragment.get_data(as_text=True) and 'id="tong-td" class="summary" hx-swap-oob' in \
        fragment.get_data(as_text=True)
    assert plain.status_code == 303 and plain.headers["Location"].endswith("#td-1-2-1")
    assert stale.status_code == 409 and "Giá trị đang lưu: Không → 0 điểm" in text_of(stale.get_data(as_text=True))


def test_the_province_cannot_score_and_another_province_reads_nothing(client, session, ministry_user,
                                                                       other_province_user, sent, campaign, content):
    through_round1(session, ministry_user, sent, campaign, content)
    log_in(client, other_province_user)

    assert client.get(f"/tham-dinh/{sent.id}").status_code == 404
    assert client.post(f"/tham-dinh/{sent.id}/dong/1.1.1", data={"explanation": "x", "version": "0"}).status_code == 404
    assert client.post(f"/bo/tham-dinh/{sent.id}/dong/1.1.1", data={"answer": "yes", "version": "1",
                                                                    "round": "1"}).status_code == 403


def test_the_province_explains_with_htmx_and_a_plain_form_and_adds_a_checked_file(client, session, ministry_user,
                                                                                  province_user, sent, campaign,
                                                                                  content):
    import io

    through_round1(session, ministry_user, sent, campaign, content)
    log_in(client, province_user)

    fragment = client.post(f"/tham-dinh/{sent.id}/dong/1.1.1", data={"explanation": "Đúng hạn", "version": "0"},
                           headers={"HX-Request": "true"})
    plain = client.post(f"/tham-dinh/{sent.id}/dong/1.1.1", data={"explanation": "Đúng hạn, có văn bản",
                                                                   "version": "1"})
    html = client.post(f"/tham-dinh/{sent.id}/dong/1.1.1/tai-lieu", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(b"<html><script>x</script></html>"), "ke-hoach.pdf")})
    good = client.post(f"/tham-dinh/{sent.id}/dong/1.1.1/tai-lieu", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(PDF), "../../Công văn.pdf")}, headers={"HX-Request": "true"})

    assert fragment.status_code == 200 and "Đã lưu giải trình tiêu chí 1.1.1." in fragment.get_data(as_text=True)
    assert plain.status_code == 303 and plain.headers["Location"].endswith("#td-1-1-1")
    assert html.status_code == 422
    assert good.status_code == 200 and "Đã tải lên “Công văn.pdf”." in good.get_data(as_text=True)
    (link, stored), = explaining.files_by_line(session, sent)["1.1.1"]
    download = client.get(f"/tham-dinh/{sent.id}/tai-lieu/{link.id}")
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith("attachment")
    assert explaining.explanations(session, sent)["1.1.1"].text == "Đúng hạn, có văn bản"


def test_the_it_focal_point_has_no_part_in_the_appraisal(client, it_focal_user, sent):
    log_in(client, it_focal_user)

    assert client.get("/tham-dinh/").status_code == 403
    assert client.get(f"/tham-dinh/{sent.id}").status_code == 403
