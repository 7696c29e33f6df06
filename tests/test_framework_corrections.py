"""The ministry corrects the framework's lines in the browser until the first score freezes it: wording and maximum
points in one save (points may move between lines), checked as an import, one version per change."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal.domain import document_corrections, framework, framework_corrections
from portal.domain.campaigns import current_campaign
from portal.models import AuditEntry, FrameworkVersion
from tests.support.accounts import log_in
from tests.support.html import form_fields, text_of

EDIT = "/bo/bo-tieu-chi/sua"


@pytest.fixture
def sample(session, ministry_user):
    return framework.load_sample(session, current_campaign(session), ministry_user)


def numbers(session) -> list[int]:
    session.expire_all()
    return [row.version for row in session.exec(select(FrameworkVersion).order_by(FrameworkVersion.version))]


def content(session) -> framework.Framework:
    session.expire_all()
    return framework.load(framework.current_version(session, current_campaign(session)))


def page_form(session, **changes: str) -> dict[str, str]:
    """Every field of the page as it is filled (points written the Vietnamese way), with `changes`."""
    current = content(session)
    row = framework.current_version(session, current_campaign(session))
    fields = {"base": str(row.version), "tong": framework.format_points(current.total)}
    for _, _, line in current.lines():
        fields[f"ten_{line.code}"] = line.title
        fields[f"diem_{line.code}"] = framework.format_points(line.points)
    return {**fields, **changes}


def test_the_page_lists_every_line_with_labelled_fields(client, ministry_user, sample):
    log_in(client, ministry_user)

    html = client.get(EDIT).get_data(as_text=True)

    assert form_fields(html).unlabelled() == []
    assert html.count('name="diem_') == 88 and "Lưu các sửa đổi" in text_of(html)


def test_points_move_between_two_lines_in_one_version_and_the_criteria_and_areas_follow(client, ministry_user, session,
                                                                                      sample):
    log_in(client, ministry_user)
    data = page_form(session, **{"diem_1.1.1": "1,5", "diem_1.5.1": "0,5",
                                 "ten_1.1.1": "Ban hành kế hoạch CCHC năm đúng thời hạn quy định"})

    response = client.post(EDIT, data=data)
    again = client.post(EDIT, data=data)

    assert response.status_code == again.status_code == 303
    assert numbers(session) == [1, 2]
    corrected = content(session)
    assert corrected.maximum == 100 and corrected.total == 100
    assert (corrected.line("1.1.1").points, corrected.line("1.5.1").points) == (1.5, 0.5)
    assert corrected.areas[0].criteria[0].points == 2.5 and corrected.areas[0].points == 8
    assert corrected.line("1.1.1").title == "Ban hành kế hoạch CCHC năm đúng thời hạn quy định"
    row = framework.current_version(session, current_campaign(session))
    assert (row.imported_by_id, row.source_name) == (ministry_user.id, document_corrections.SOURCE)
    [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "Sửa bộ tiêu chí tự đánh giá")).all()
    assert "Tiêu chí thành phần 1.1.1: điểm tối đa 1 → 1,5" in audit.detail
    assert "Tiêu chí 1.1: điểm tối đa 2 → 2,5" in audit.detail
    compared = text_of(client.get("/bo/bo-tieu-chi/so-sanh?tu=1&den=2").get_data(as_text=True))
    assert "Tiêu chí thành phần 1.5.1: điểm tối đa 1 → 0,5" in compared
    assert "Lĩnh vực 1" not in compared  # the area's maximum did not change


@pytest.mark.parametrize(("changes", "message"), [
    ({"diem_1.1.1": "1,5"}, "Bộ tiêu chí, khóa “total”: tổng điểm ghi 100 nhưng tổng điểm các lĩnh vực là 100,5."),
    ({"diem_1.1.2": "0,5", "diem_1.1.1": "1,5"}, "có mức cho 1 điểm, vượt điểm tối đa 0,5"),
    ({"diem_1.1.1": "một"}, "Tiêu chí thành phần 1.1.1: điểm phải là một số không âm"),
    ({"ten_1.1.1": " "}, "Lĩnh vực 1 › tiêu chí 1.1 › tiêu chí thành phần 1.1.1, khóa “title”: không được để trống."),
])
def test_a_correction_that_breaks_the_framework_is_refused_and_what_was_typed_stays(client, ministry_user, session,
                                                                                    sample, changes, message):
    log_in(client, ministry_user)

    response = client.post(EDIT, data=page_form(session, **changes, **{"ten_8.1.1": "Gõ dở"}),
                           headers={"HX-Request": "true"})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.startswith('<div id="editor">')
    assert message in text_of(html) and "Gõ dở" in html
    assert numbers(session) == [1]


def test_the_declared_total_is_corrected_with_the_lines(client, ministry_user, session, sample):
    log_in(client, ministry_user)

    response = client.post(EDIT, data=page_form(session, **{"diem_1.1.1": "1,5", "tong": "100,5"}),
                           headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "Bộ tiêu chí: tổng điểm ghi 100 → 100,5" in text_of(response.get_data(as_text=True))
    assert content(session).total == 100.5


def test_after_the_first_score_froze_the_framework_corrections_are_refused(client, ministry_user, session, sample):
    framework.freeze(session, sample)
    session.commit()
    log_in(client, ministry_user)

    page = text_of(client.get(EDIT).get_data(as_text=True))
    response = client.post(EDIT, data=page_form(session, **{"ten_1.1.1": "Sửa sau khi khóa"}))

    assert framework_corrections.FROZEN_MESSAGE in page and "Lưu các sửa đổi" not in page
    assert response.status_code == 422
    assert framework_corrections.FROZEN_MESSAGE in text_of(response.get_data(as_text=True))
    assert numbers(session) == [1]


def test_a_colleagues_correction_of_another_line_meanwhile_is_kept(session, ministry_user, sample):
    campaign = current_campaign(session)
    framework_corrections.correct_lines(session, ministry_user, campaign, 1, {"ten_1.1.1": "Của người thứ nhất"})

    stale = framework_corrections.correct_lines(session, ministry_user, campaign, 1,
                                                {"ten_1.1.1": framework.load(sample).line("1.1.1").title,
                                                 "ten_1.1.2": "Của người thứ hai"})

    assert stale.version.version == 3
    assert (content(session).line("1.1.1").title, content(session).line("1.1.2").title) == (
        "Của người thứ nhất", "Của người thứ hai")
    with pytest.raises(framework.FrameworkError, match="vừa được sửa"):
        framework_corrections.correct_lines(session, ministry_user, campaign, 1, {"ten_1.1.1": "Của người thứ ba"})


def test_without_a_framework_the_page_says_so(client, ministry_user):
    log_in(client, ministry_user)

    response = client.get(EDIT)

    assert response.status_code == 200
    assert "chưa có bộ tiêu chí để sửa" in text_of(response.get_data(as_text=True))
    assert "Chưa có phiên bản bộ tiêu chí nào." in text_of(client.get("/bo/bo-tieu-chi/so-sanh").get_data(
        as_text=True))
