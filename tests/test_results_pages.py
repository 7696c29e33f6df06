"""The "Kết quả" pages: the ministry computes, reviews and publishes; before publication a province sees nothing of
any index, after it its own in detail and the public ranking; closing an appraisal recomputes the index.

The campaign is test_par_index's hand-worked one (Hà Nội and Đà Nẵng tied at 63,33%, Hải Phòng's survey voided).
"""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from portal.domain.operations import OperationError
from portal.models import Appraisal, AppraisalState, Assessment, IndexComputation
from tests import test_par_index as hand
from tests.support.accounts import HA_NOI, log_in
from tests.support.html import text_of
from tests.support.operations import finish_operations
from tests.test_par_index import DA_NANG, VOID_REASON

# The hand-worked campaign's fixtures, shared.
campaign, content, result, scored = hand.campaign, hand.content, hand.result, hand.scored


def _compute(app, client, campaign_id: int) -> None:
    """The ministry's button, then the worker's run."""
    assert client.post(f"/bo/ket-qua/{campaign_id}/tinh-lai").status_code == 303
    assert finish_operations(app) == 1


def test_before_publication_a_province_sees_no_index_at_all(app, session, scored, ministry_user, province_user):
    ministry = app.test_client()
    log_in(ministry, ministry_user)
    _compute(app, ministry, scored.id)
    province = app.test_client()
    log_in(province, province_user)

    for url in ("/ket-qua/", "/ket-qua/xep-hang", "/"):
        page = text_of(province.get(url).get_data(as_text=True))
        assert "63,33" not in page and "Hải Phòng" not in page and "Đà Nẵng" not in page
    assert "Bộ Nội vụ chưa công bố kết quả Chỉ số CCHC" in text_of(province.get("/ket-qua/").get_data(as_text=True))


def test_the_ministry_reviews_and_publishes_and_the_province_reads(app, session, scored, ministry_user,
                                                                   province_user):
    """Computing runs in the worker (a request only asks for it); the page then shows the stored computation."""
    ministry = app.test_client()
    log_in(ministry, ministry_user)
    assert "Kết quả" in text_of(ministry.get("/").get_data(as_text=True))
    assert scored.name in text_of(ministry.get("/bo/ket-qua/").get_data(as_text=True))
    _compute(app, ministry, scored.id)
    page = text_of(ministry.get(f"/bo/ket-qua/{scored.id}/").get_data(as_text=True))
    assert "Đang thẩm định (điểm tạm tính)" in page and "Chưa thẩm định (điểm tự chấm)" in page
    assert VOID_REASON in page and " 62 tỉnh, thành phố chưa có điểm thẩm định cuối cùng" in page
    latest = session.exec(select(IndexComputation)).one()

    refused = ministry.post(f"/bo/ket-qua/{scored.id}/cong-bo", data={"computation_id": str(latest.id)})
    assert refused.status_code == 409
    assert "Tôi biết … và vẫn công bố" in text_of(refused.get_data(as_text=True))
    assert ministry.post(f"/bo/ket-qua/{scored.id}/cong-bo", data={
        "computation_id": str(latest.id), "accept_provisional": "1"}).status_code == 303
    sheet = load_workbook(io.BytesIO(ministry.get(f"/bo/ket-qua/{scored.id}/xep-hang.xlsx").data)).active
    assert [row[1] for row in sheet.iter_rows(min_row=4, max_row=6, values_only=True)] == [
        "Thành phố Hà Nội", "Thành phố Đà Nẵng", "Thành phố Hải Phòng"]
    svg = ministry.get(f"/bo/ket-qua/{scored.id}/bieu-do.svg")
    assert svg.mimetype == "image/svg+xml" and "1. Thành phố Hà Nội" in svg.get_data(as_text=True)

    province = app.test_client()
    log_in(province, province_user)
    home = text_of(province.get("/").get_data(as_text=True))
    own = text_of(province.get("/ket-qua/").get_data(as_text=True))
    ranking = text_of(province.get("/ket-qua/xep-hang").get_data(as_text=True))

    assert "Xem Chỉ số của tỉnh" in home
    assert "Chỉ số: 63,33%" in own and "hạng 1" in own and "Hải Phòng" not in own
    assert "1.2.1 Báo cáo đúng hạn 2 1,5 0,5" in own  # the line: maximum, self points, appraised points
    assert "Kết quả điều tra xã hội học" in own and "2.1.2 Đánh giá của người trả lời phiếu" in own
    assert "Thành phố Hải Phòng" in ranking and "Thành phố Đà Nẵng" in ranking
    # Another province's voiding is shown as a fact in the public ranking, never with the ministry's reason.
    assert VOID_REASON not in province.get("/ket-qua/xep-hang").get_data(as_text=True)


def test_an_it_focal_account_has_no_results_pages(app, session, scored, it_focal_user):
    client = app.test_client()
    log_in(client, it_focal_user)

    assert client.get("/ket-qua/").status_code == 403
    assert client.get("/ket-qua/xep-hang").status_code == 403


def test_closing_an_appraisal_recomputes_the_index(app, session, scored, ministry_user, clock):
    client = app.test_client()
    log_in(client, ministry_user)
    _compute(app, client, scored.id)
    appraisal = session.exec(select(Appraisal).where(Appraisal.province_id == DA_NANG)).one()
    appraisal.state = AppraisalState.ROUND2
    session.add(appraisal)
    session.commit()
    assessment_id = session.exec(select(Assessment.id).where(Assessment.province_id == DA_NANG)).one()

    assert client.post(f"/bo/tham-dinh/{assessment_id}/ket-thuc").status_code == 303
    page = text_of(client.get(f"/bo/ket-qua/{scored.id}/").get_data(as_text=True))
    assert "Đang tính lại Chỉ số" in page and "Tính lại Chỉ số" not in page.replace("Đang tính lại Chỉ số", "")
    first = session.exec(select(IndexComputation)).one()
    refused = client.post(f"/bo/ket-qua/{scored.id}/cong-bo",
                          data={"computation_id": str(first.id), "accept_provisional": "1"})
    assert refused.status_code == 409 and "đang được tính lại" in text_of(refused.get_data(as_text=True))
    state = f"/bo/ket-qua/{scored.id}/tinh-lai/trang-thai"
    assert client.get(state, headers={"HX-Request": "true"}).status_code == 204  # the page's poll: nothing yet
    assert finish_operations(app) == 1
    done = client.get(state, headers={"HX-Request": "true"})
    assert done.status_code == 200 and done.headers["HX-Refresh"] == "true"

    latest = session.exec(select(IndexComputation).order_by(IndexComputation.id.desc())).first()
    assert latest.trigger == "Đã kết thúc thẩm định: Thành phố Đà Nẵng" and latest.computed_by_id is None
    assert first.id != latest.id


def test_a_past_campaign_is_neither_recomputed_nor_published(app, session, scored, ministry_user):
    client = app.test_client()
    log_in(client, ministry_user)
    _compute(app, client, scored.id)
    scored.is_current = False
    session.add(scored)
    session.commit()

    response = client.post(f"/bo/ket-qua/{scored.id}/tinh-lai")

    assert response.status_code == 409 and "chỉ để xem" in text_of(response.get_data(as_text=True))
    assert client.post(f"/bo/ket-qua/{scored.id}/cong-bo", data={"computation_id": "1"}).status_code == 409
    assert len(session.exec(select(IndexComputation)).all()) == 1
    assert session.get(type(scored), scored.id).results_published_at is None


def test_a_recomputation_that_fails_says_why_on_the_page(app, session, scored, ministry_user):
    """The worker cannot compute without the framework (removed meanwhile): the ministry reads the reason."""
    from portal.models import FrameworkVersion

    client = app.test_client()
    log_in(client, ministry_user)
    assert client.post(f"/bo/ket-qua/{scored.id}/tinh-lai").status_code == 303
    for version in session.exec(select(FrameworkVersion)):
        version.is_current = False
        session.add(version)
    session.commit()
    with pytest.raises(OperationError):
        finish_operations(app)

    page = text_of(client.get(f"/bo/ket-qua/{scored.id}/").get_data(as_text=True))
    assert "không thành công: Đợt đánh giá chưa có bộ tiêu chí: chưa tính được Chỉ số." in page


def test_an_unexpected_failure_of_a_recomputation_is_told_in_vietnamese_without_the_programmers_text():
    from portal.domain import index_recompute
    from portal.models import Operation

    crashed = Operation(kind="index", last_error="TypeError: unsupported operand type(s) for +: 'int' and 'str'")
    refused = Operation(kind="index", last_error="Đợt đánh giá chưa có bộ tiêu chí: chưa tính được Chỉ số.")

    assert "TypeError" not in index_recompute.failure_text(crashed)
    assert index_recompute.failure_text(crashed).startswith("lỗi hệ thống khi tính")
    assert index_recompute.failure_text(refused) == refused.last_error


def test_the_ministry_reads_one_province_line_by_line_before_publishing(app, session, scored, ministry_user):
    client = app.test_client()
    log_in(client, ministry_user)
    before = text_of(client.get(f"/bo/ket-qua/{scored.id}/tinh/{HA_NOI}").get_data(as_text=True))
    assert "chưa tính lần nào" in before
    _compute(app, client, scored.id)

    ranking = client.get(f"/bo/ket-qua/{scored.id}/").get_data(as_text=True)
    page = text_of(client.get(f"/bo/ket-qua/{scored.id}/tinh/{HA_NOI}").get_data(as_text=True))

    assert f"/bo/ket-qua/{scored.id}/tinh/{HA_NOI}" in ranking  # each province's name leads to its page
    assert "Chỉ số: 63,33%" in page and "chưa công bố: tỉnh chưa thấy kết quả này" in page
    assert "1.2.1 Báo cáo đúng hạn 2 1,5 0,5" in page
    assert client.get(f"/bo/ket-qua/{scored.id}/tinh/999").status_code == 404
