"""Tự đánh giá, chấm điểm: line saves (HTMX and plain forms), stale saves, the lock at the end of the deadline day
(giờ Việt Nam) with and without the worker, the ministry's exception, each line's audit trail, the frozen framework.

The 2021 campaign is current (self-assessment deadline 15/02/2022) with the sample framework; tests run on
01/02/2022 unless they travel.
"""

from __future__ import annotations

import gzip
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from portal.domain import assessment, framework
from portal.domain.campaigns import current_campaign
from portal.models import Assessment, AssessmentScore, AuditEntry, FrameworkVersion, Notice, ScoreChange
from tests.support.accounts import HA_NOI, log_in
from tests.support.html import text_of

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LAST_SECOND = datetime(2022, 2, 15, 23, 59, 59, tzinfo=TZ)
FIRST_SECOND_AFTER = datetime(2022, 2, 16, 0, 0, 0, tzinfo=TZ)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def hanoi(session, clock, province_user):
    """Hà Nội's assessment on the sample framework."""
    campaign = current_campaign(session)
    framework.load_sample(session, campaign)
    return assessment.get_or_create(session, campaign, HA_NOI)


def save(client, row: Assessment, code: str, *, version: int = 0, headers=None, **fields):
    return client.post(f"/tu-danh-gia/{row.id}/dong/{code}", data={"version": str(version), **fields},
                       headers=headers or {})


def stored(session, row: Assessment, code: str) -> AssessmentScore | None:
    session.expire_all()
    return session.exec(select(AssessmentScore).where(AssessmentScore.assessment_id == row.id,
                                                      AssessmentScore.line_code == code)).first()


# ---------------------------------------------------------------- the page


def test_the_province_page_opens_one_area_with_its_lines_and_the_progress(client, province_user, hanoi):
    log_in(client, province_user)

    html = client.get("/tu-danh-gia/").get_data(as_text=True)

    text = text_of(html)
    assert "Tự đánh giá, chấm điểm: Thành phố Hà Nội" in text
    assert "Tổng điểm tự chấm: 0/100 điểm · Đã chấm 0/75 tiêu chí thành phần (0%)" in text
    assert 'id="dong-1-1-1"' in html and 'id="dong-2-1-1"' not in html  # one area open at a time
    assert "Hạn hoàn thành nhập điểm: 23:59 ngày 15/02/2022 (giờ Việt Nam)" in text


def test_the_whole_tree_of_88_lines_stays_under_30_kb_compressed(client, province_user, hanoi):
    log_in(client, province_user)

    body = client.get(f"/tu-danh-gia/{hanoi.id}?linh-vuc=tat-ca").get_data()

    assert body.count(b'<article class="line"') == 88
    assert len(gzip.compress(body)) < 30 * 1024


def test_an_area_link_answers_htmx_with_the_area_alone(client, province_user, hanoi):
    log_in(client, province_user)

    response = client.get(f"/tu-danh-gia/{hanoi.id}?linh-vuc=3", headers={**HTMX, "HX-Target": "area"})

    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="area">') and 'id="dong-3-1-1"' in html and "<html" not in html


def test_the_province_home_page_links_to_the_assessment(client, province_user, hanoi):
    log_in(client, province_user)

    html = client.get("/").get_data(as_text=True)

    assert 'href="/tu-danh-gia/"' in html and "Mở trang “Tự đánh giá, chấm điểm”" in html


def test_the_it_focal_point_has_no_part_in_the_assessment(client, it_focal_user, hanoi):
    log_in(client, it_focal_user)

    assert client.get("/tu-danh-gia/").status_code == 403


# ---------------------------------------------------------------- saving a line


def test_a_line_saved_with_htmx_returns_the_line_and_the_totals_it_changes(client, session, province_user, hanoi):
    log_in(client, province_user)

    response = save(client, hanoi, "1.1.2", numerator="45", denominator="50", explanation="Đạt 45/50 nhiệm vụ",
                    headers=HTMX)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Đã chấm: 0,5 điểm" in html
    assert '<span class="muted" id="tc-1-1" hx-swap-oob="true">0,5/2 điểm</span>' in html
    assert "Đã chấm 1/75 tiêu chí thành phần (1%)" in text_of(html)
    row = stored(session, hanoi, "1.1.2")
    assert (row.points, row.version, row.explanation) == (0.5, 1, "Đạt 45/50 nhiệm vụ")


def test_a_plain_form_save_redirects_back_to_the_line(client, session, province_user, hanoi):
    log_in(client, province_user)

    response = save(client, hanoi, "4.2.1", answer="yes")

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/tu-danh-gia/{hanoi.id}?linh-vuc=4#dong-4-2-1")
    assert stored(session, hanoi, "4.2.1").points == 1.0


def test_not_applicable_leaves_the_maximum(client, session, province_user, hanoi):
    log_in(client, province_user)

    save(client, hanoi, "1.3.2", answer="na")

    html = client.get(f"/tu-danh-gia/{hanoi.id}?linh-vuc=1").get_data(as_text=True)
    assert "Tổng điểm tự chấm: 0/99 điểm" in text_of(html)
    assert stored(session, hanoi, "1.3.2").not_applicable


def test_a_bad_figure_is_refused_in_vietnamese_and_keeps_the_saved_value(client, session, province_user, hanoi):
    log_in(client, province_user)
    save(client, hanoi, "1.1.2", numerator="45", denominator="50")

    response = save(client, hanoi, "1.1.2", version=1, numerator="60", denominator="50")

    assert response.status_code == 422
    assert ("“Số nhiệm vụ đã hoàn thành” (60) không được lớn hơn “Tổng số nhiệm vụ trong kế hoạch” (50)."
            in text_of(response.get_data(as_text=True)))
    assert 'value="60"' in response.get_data(as_text=True)  # what was typed is shown again
    row = stored(session, hanoi, "1.1.2")
    assert (row.figures, row.version) == ('{"denominator": 50.0, "numerator": 45.0}', 1)


def test_a_save_based_on_a_stale_version_is_refused_with_both_values(client, session, province_user, hanoi):
    log_in(client, province_user)
    save(client, hanoi, "1.2.1", cases="1", explanation="Một báo cáo chậm")  # officer A, on version 0

    response = save(client, hanoi, "1.2.1", cases="3", headers=HTMX)  # officer B, whose page showed version 0

    text = text_of(response.get_data(as_text=True))
    assert response.status_code == 409
    assert "Giá trị đang lưu: 1 trường hợp → 0,75 điểm; giải trình: “Một báo cáo chậm”." in text
    assert "Giá trị bạn nhập: 3 trường hợp → 0,25 điểm." in text
    assert 'name="version" value="1"' in response.get_data(as_text=True)  # saving again overwrites, knowingly
    assert stored(session, hanoi, "1.2.1").points == 0.75


def test_two_officers_saving_the_same_version_at_once_one_wins_and_one_is_told(session, province_user, hanoi):
    campaign = current_campaign(session)
    version, content = assessment.framework_of(session, campaign)
    line = content.line("1.2.1")
    assessment.save_line(session, province_user, hanoi, campaign, version, content, line,
                         {"cases": "0", "version": "0"}, "Asia/Ho_Chi_Minh")

    first = assessment.save_line(session, province_user, hanoi, campaign, version, content, line,
                                 {"cases": "1", "version": "1"}, "Asia/Ho_Chi_Minh")
    second = assessment.save_line(session, province_user, hanoi, campaign, version, content, line,
                                  {"cases": "2", "version": "1"}, "Asia/Ho_Chi_Minh")

    assert first.ok and second.conflict is not None
    assert second.conflict.theirs == "1 trường hợp → 0,75 điểm"
    assert stored(session, hanoi, "1.2.1").version == 2


# ---------------------------------------------------------------- the audit trail


def test_every_change_is_in_the_line_history_for_the_province_and_the_ministry(client, session, province_user,
                                                                              ministry_user, hanoi):
    log_in(client, province_user)
    save(client, hanoi, "1.1.1", answer="no")
    save(client, hanoi, "1.1.1", version=1, answer="yes", explanation="Kế hoạch số 12/KH-UBND")
    save(client, hanoi, "1.1.1", version=2, answer="yes", explanation="Kế hoạch số 12/KH-UBND")  # no change

    changes = session.exec(select(ScoreChange).order_by(ScoreChange.id)).all()
    assert [(c.actor_name, c.old_value, c.new_value) for c in changes] == [
        ("ha-noi", "(chưa chấm)", "Không → 0 điểm"),
        ("ha-noi", "Không → 0 điểm", "Có → 1 điểm · giải trình: “Kế hoạch số 12/KH-UBND”"),
    ]
    for user in (province_user, ministry_user):
        log_in(client, user)
        text = text_of(client.get(f"/tu-danh-gia/{hanoi.id}/dong/1.1.1/lich-su").get_data(as_text=True))
        assert "09:00 01/02/2022 ha-noi Không → 0 điểm Có → 1 điểm · giải trình: “Kế hoạch số 12/KH-UBND”" in text


def test_the_ministry_reads_a_province_assessment_without_inputs(client, session, province_user, ministry_user,
                                                                hanoi):
    log_in(client, province_user)
    save(client, hanoi, "1.1.1", answer="yes")
    log_in(client, ministry_user)

    html = client.get(f"/tu-danh-gia/{hanoi.id}").get_data(as_text=True)

    assert "Có → 1 điểm" in html and 'name="answer"' not in html
    assert save(client, hanoi, "1.1.1", version=1, answer="no").status_code == 403


# ---------------------------------------------------------------- the lock


def test_a_save_in_the_last_second_of_the_deadline_day_is_accepted(client, session, clock, province_user, hanoi):
    clock.move_to(LAST_SECOND, tick=False)
    log_in(client, province_user)

    assert save(client, hanoi, "1.1.1", answer="yes").status_code == 303


def test_a_save_one_second_after_midnight_is_refused_though_the_worker_never_ran(client, session, clock,
                                                                                province_user, hanoi):
    log_in(client, province_user)
    save(client, hanoi, "1.1.1", answer="no")
    clock.move_to(FIRST_SECOND_AFTER, tick=False)
    log_in(client, province_user)  # a fresh login: the old session's absolute lifetime has run out

    response = save(client, hanoi, "1.1.1", version=1, answer="yes", headers=HTMX)

    assert response.status_code == 409
    assert "Đã hết hạn tự đánh giá (23:59 ngày 15/02/2022, giờ Việt Nam)" in response.get_data(as_text=True)
    assert stored(session, hanoi, "1.1.1").points == 0.0
    assert session.get(Assessment, hanoi.id).locked_at is None  # the worker did not run: the save checked itself
    page = client.get("/tu-danh-gia/").get_data(as_text=True)
    assert 'name="answer"' not in page and "Cổng đã tự khóa" in page


def test_the_worker_records_the_lock_of_every_assessment_once_the_day_has_ended(session, clock, hanoi):
    clock.move_to(LAST_SECOND, tick=False)
    assert assessment.lock_due(session, "Asia/Ho_Chi_Minh") == 0

    clock.move_to(FIRST_SECOND_AFTER, tick=False)
    locked = assessment.lock_due(session, "Asia/Ho_Chi_Minh")

    session.expire_all()
    assert locked == len(session.exec(select(Assessment)).all()) > 1  # every province, begun or not
    assert session.get(Assessment, hanoi.id).locked_at == FIRST_SECOND_AFTER
    assert assessment.lock_due(session, "Asia/Ho_Chi_Minh") == 0  # once
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "Khóa kết quả tự đánh giá",
                                                 AuditEntry.province_id == HA_NOI)).one()


def test_the_ministry_exception_reopens_one_province_until_its_day(client, session, clock, province_user,
                                                                  other_province_user, ministry_user, hanoi):
    clock.move_to(datetime(2022, 2, 16, 9, 0, tzinfo=TZ), tick=False)
    assessment.lock_due(session, "Asia/Ho_Chi_Minh")
    log_in(client, ministry_user)

    response = client.post(f"/bo/tu-danh-gia/{HA_NOI}/ngoai-le", data={"until": "18/02/2022",
                                                                      "reason": "Mất điện diện rộng"})

    assert response.status_code == 303
    session.expire_all()
    row = session.get(Assessment, hanoi.id)
    assert (row.exception_until, row.locked_at) == (date(2022, 2, 18), None)
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "Cho phép ngoại lệ hạn tự đánh giá")).one() \
        .reason == "Mất điện diện rộng"
    assert session.exec(select(Notice).where(Notice.title == "Bộ Nội vụ cho phép ngoại lệ hạn tự đánh giá")).one()
    log_in(client, province_user)
    assert "Bộ Nội vụ cho phép chấm điểm đến hết ngày 18/02/2022" in text_of(
        client.get("/tu-danh-gia/").get_data(as_text=True))
    assert save(client, hanoi, "1.1.1", answer="yes").status_code == 303
    other = assessment.get_or_create(session, current_campaign(session), other_province_user.province_id)
    log_in(client, other_province_user)
    assert save(client, other, "1.1.1", answer="yes").status_code == 409  # only Hà Nội was let in
    clock.move_to(datetime(2022, 2, 19, 0, 0, 0, tzinfo=TZ), tick=False)
    log_in(client, province_user)
    assert save(client, hanoi, "1.1.1", version=1, answer="no").status_code == 409
    assert assessment.lock_due(session, "Asia/Ho_Chi_Minh") == 1


def test_an_exception_before_the_common_deadline_is_refused_with_a_reason(client, session, ministry_user, hanoi):
    log_in(client, ministry_user)

    response = client.post(f"/bo/tu-danh-gia/{HA_NOI}/ngoai-le", data={"until": "10/02/2022", "reason": ""})

    text = text_of(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Ngày hết hạn ngoại lệ phải sau hạn chung 15/02/2022." in text
    assert "Vui lòng ghi lý do cho phép ngoại lệ" in text
    assert session.get(Assessment, hanoi.id).exception_until is None


# ---------------------------------------------------------------- the framework pages


def test_the_framework_freezes_when_the_first_province_saves_a_score(client, session, province_user, ministry_user,
                                                                    hanoi):
    log_in(client, ministry_user)
    sample = framework.sample_path().read_bytes()
    replaced = client.post("/bo/bo-tieu-chi/nhap", data={"file": (__import__("io").BytesIO(sample), "moi.yaml")})
    assert replaced.status_code == 303  # nobody has scored yet: it can be replaced
    log_in(client, province_user)
    save(client, hanoi, "1.1.1", answer="yes")
    log_in(client, ministry_user)

    response = client.post("/bo/bo-tieu-chi/nhap", data={"file": (__import__("io").BytesIO(sample), "moi.yaml")})

    assert response.status_code == 422
    assert framework.FROZEN_MESSAGE in response.get_data(as_text=True)
    current = framework.current_version(session, current_campaign(session))
    assert current.version == 2 and current.frozen_at is not None
    assert len(session.exec(select(FrameworkVersion)).all()) == 2


def test_an_import_with_problems_lists_each_in_vietnamese_and_saves_nothing(client, session, ministry_user, hanoi):
    log_in(client, ministry_user)
    bad = framework.sample_path().read_text(encoding="utf-8").replace("kind: yes_no", "kind: co_khong", 1)

    response = client.post("/bo/bo-tieu-chi/nhap", data={"file": (__import__("io").BytesIO(bad.encode()), "x.yaml")})

    text = text_of(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Tệp bộ tiêu chí có 1 lỗi; không có gì được lưu." in text
    assert re.search(r"Lĩnh vực 1 › tiêu chí 1\.1 › tiêu chí thành phần 1\.1\.1, khóa “kind” \(dòng \d+\): "
                     r"phải là một trong các cách chấm yes_no \(Có / Không\)", text)
    assert len(session.exec(select(FrameworkVersion)).all()) == 1


def test_the_preview_shows_the_tree_as_a_province_will_see_it(client, session, ministry_user, hanoi):
    log_in(client, ministry_user)

    html = client.get("/bo/bo-tieu-chi/xem").get_data(as_text=True)

    # The fields a province fills, each line's disabled and in no form: nothing can be typed or sent.
    assert html.count('<article class="line"') == 88 and 'name="answer"' in html
    assert "<form" not in html.split("<main")[1] and html.count('<fieldset class="preview" disabled>') == len(
        [line for line in framework.load(framework.current_version(session, current_campaign(session))).lines()
         if line[2].needs_input])
    assert "Bộ tiêu chí mẫu" in html


def test_two_officers_racing_on_one_line_one_save_lands_and_the_other_is_told(app, session, province_user, hanoi):
    """Real concurrent saves (threads, own sessions): the first save of a line (an insert) and a later one
    (a conditional update), each raced by two officers based on the same version."""
    from portal.extensions import db
    from portal.models import User
    from tests.support.threads import race

    def officer(cases: str, based_on: int):
        def call():
            with app.app_context(), db.new_session() as own:
                campaign = current_campaign(own)
                version, content = assessment.framework_of(own, campaign)
                result = assessment.save_line(own, own.get(User, province_user.id), own.get(Assessment, hanoi.id),
                                              campaign, version, content, content.line("1.2.1"),
                                              {"cases": cases, "version": str(based_on)}, "Asia/Ho_Chi_Minh")
                return result.ok, result.conflict is not None
        return call

    for based_on, (mine, theirs) in ((0, ("1", "2")), (1, ("3", "4"))):
        outcomes = race(officer(mine, based_on), officer(theirs, based_on))
        assert sorted(outcomes) == [(False, True), (True, False)], based_on

    row = stored(session, hanoi, "1.2.1")
    assert row.version == 2
    assert len(session.exec(select(ScoreChange).where(ScoreChange.score_id == row.id)).all()) == 2


def test_a_version_downloaded_as_yaml_imports_again_as_the_same_framework(client, session, ministry_user, hanoi):
    log_in(client, ministry_user)

    downloaded = client.get("/bo/bo-tieu-chi/phien-ban-1.yaml")

    assert downloaded.headers["Content-Disposition"] == 'attachment; filename="bo-tieu-chi-phien-ban-1.yaml"'
    again = framework.parse_framework(downloaded.get_data(), "bo-tieu-chi-phien-ban-1.yaml")
    assert again == framework.parse_framework(framework.sample_path().read_bytes())
