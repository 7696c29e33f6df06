"""Evidence files (tài liệu kiểm chứng) on the lines of a self-assessment: upload (HTMX and plain form), refusals
through the line's route, the download's headers, removal before the lock only, the line's change trail and the
state "thiếu tài liệu kiểm chứng" with the tree's count.

The 2021 campaign is current (deadline 15/02/2022) with the sample framework; tests run on 01/02/2022. Line 1.1.1
of the sample expects evidence ("Kế hoạch CCHC năm của UBND tỉnh") and is a yes/no line.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from portal.domain import assessment, evidence, framework
from portal.domain.campaigns import current_campaign
from portal.models import AssessmentEvidence, ScoreChange, StoredFile
from tests.support.accounts import HA_NOI, log_in
from tests.support.html import text_of as _text

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HTMX = {"HX-Request": "true"}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
LINE = "1.1.1"
MISSING = "Thiếu tài liệu kiểm chứng"


@pytest.fixture(autouse=True)
def files_dir(app_config, tmp_path) -> Path:
    folder = tmp_path / "tep"
    app_config["PORTAL_FILES_DIR"] = str(folder)
    return folder


@pytest.fixture
def hanoi(session, clock, province_user):
    campaign = current_campaign(session)
    framework.load_sample(session, campaign)
    return assessment.get_or_create(session, campaign, HA_NOI)


def text_of(response) -> str:
    return _text(response.get_data(as_text=True))


def upload(client, row, data: bytes, name: str, *, code: str = LINE, headers=None):
    return client.post(f"/tu-danh-gia/{row.id}/dong/{code}/tai-lieu", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", headers=headers or {})


def links(session, row) -> list[AssessmentEvidence]:
    session.expire_all()
    return list(session.exec(select(AssessmentEvidence).where(AssessmentEvidence.assessment_id == row.id)))


def trail(session, row, code: str = LINE) -> list[str]:
    session.expire_all()
    return [change.new_value for change in session.exec(
        select(ScoreChange).where(ScoreChange.assessment_id == row.id, ScoreChange.line_code == code)
        .order_by(ScoreChange.id))]


def test_an_upload_with_htmx_returns_the_line_with_its_file_and_notes_it_in_the_trail(client, session,
                                                                                     province_user, hanoi):
    log_in(client, province_user)

    response = upload(client, hanoi, PDF, "Kế hoạch CCHC 2021.pdf", headers=HTMX)

    page = text_of(response)
    assert response.status_code == 200, page
    assert "Đã tải lên “Kế hoạch CCHC 2021.pdf”." in page
    [link] = links(session, hanoi)
    assert (link.line_code, link.province_id, link.added_by_id) == (LINE, HA_NOI, province_user.id)
    assert f"/tu-danh-gia/{hanoi.id}/tai-lieu/{link.id}" in response.get_data(as_text=True)
    assert trail(session, hanoi) == ["Tải lên tài liệu kiểm chứng “Kế hoạch CCHC 2021.pdf” (1 KB)"]
    history = text_of(client.get(f"/tu-danh-gia/{hanoi.id}/dong/{LINE}/lich-su", headers=HTMX))
    assert "Tải lên tài liệu kiểm chứng “Kế hoạch CCHC 2021.pdf”" in history


def test_a_plain_form_upload_redirects_back_to_the_line(client, session, province_user, hanoi):
    log_in(client, province_user)

    response = upload(client, hanoi, PDF, "ke-hoach.pdf")

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/tu-danh-gia/{hanoi.id}?linh-vuc=1#dong-1-1-1")
    assert len(links(session, hanoi)) == 1
    assert "Đã tải lên tài liệu kiểm chứng “ke-hoach.pdf” cho tiêu chí 1.1.1." in text_of(
        client.get(response.headers["Location"]))


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"<html><script>alert(1)</script></html>", "ke-hoach.pdf", "Nội dung tệp đã được kiểm tra"),
    (b"", "trong.pdf", "trống"),
])
def test_a_refused_file_is_told_in_vietnamese_on_the_line_and_saves_nothing(client, session, province_user, hanoi,
                                                                            files_dir, data, name, message):
    log_in(client, province_user)

    response = upload(client, hanoi, data, name, headers=HTMX)

    assert response.status_code == 422
    assert message in text_of(response)
    assert 'id="dong-1-1-1"' in response.get_data(as_text=True)
    assert links(session, hanoi) == [] and trail(session, hanoi) == []
    assert not files_dir.exists() or not any(path.is_file() for path in files_dir.rglob("*"))


def test_a_file_over_the_limit_is_refused_with_the_limit_stated(client, app, session, province_user, hanoi):
    log_in(client, province_user)
    limit = app.config["MAX_CONTENT_LENGTH"]

    response = upload(client, hanoi, PDF + b"\0" * limit, "lon.pdf")

    assert response.status_code == 413
    assert "5 MB" in text_of(response)
    assert links(session, hanoi) == []


def test_a_name_with_folders_keeps_only_the_file_name(client, session, province_user, hanoi):
    log_in(client, province_user)

    upload(client, hanoi, PDF, "..\\..\\C:\\Windows\\..\\../etc/Quyết định.pdf", headers=HTMX)

    [link] = links(session, hanoi)
    assert session.get(StoredFile, link.file_id).original_name == "Quyết định.pdf"


def test_the_download_is_an_attachment_under_its_own_name_never_inline(client, session, province_user,
                                                                       ministry_user, hanoi):
    log_in(client, province_user)
    upload(client, hanoi, PDF, "Quyết định phê duyệt.pdf", headers=HTMX)
    [link] = links(session, hanoi)

    for user in (province_user, ministry_user):
        log_in(client, user)
        response = client.get(f"/tu-danh-gia/{hanoi.id}/tai-lieu/{link.id}")
        assert response.status_code == 200
        assert response.data == PDF
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["Content-Disposition"] == (
            "attachment; filename=\"Quyet dinh phe duyet.pdf\"; "
            "filename*=UTF-8''Quy%E1%BA%BFt%20%C4%91%E1%BB%8Bnh%20ph%C3%AA%20duy%E1%BB%87t.pdf")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "sandbox"


def test_an_evidence_file_named_under_another_assessment_is_not_found(client, session, province_user, hanoi):
    log_in(client, province_user)
    upload(client, hanoi, PDF, "a.pdf", headers=HTMX)
    [link] = links(session, hanoi)
    campaign = current_campaign(session)
    other = assessment.get_or_create(session, campaign, HA_NOI + 1)

    assert client.get(f"/tu-danh-gia/{other.id}/tai-lieu/{link.id}").status_code == 404


def test_a_scored_line_without_its_evidence_is_marked_and_counted_until_a_file_comes(client, session,
                                                                                   province_user, hanoi):
    log_in(client, province_user)
    saved = client.post(f"/tu-danh-gia/{hanoi.id}/dong/{LINE}", data={"version": "0", "answer": "yes"},
                        headers=HTMX)
    assert MISSING in text_of(saved)
    assert "1 tiêu chí thành phần thiếu tài liệu kiểm chứng" in text_of(saved)
    assert "1 tiêu chí thành phần thiếu tài liệu kiểm chứng" in text_of(client.get("/tu-danh-gia/"))

    uploaded = upload(client, hanoi, PDF, "ke-hoach.pdf", headers=HTMX)

    assert MISSING not in text_of(uploaded)
    assert "thiếu tài liệu kiểm chứng" not in text_of(client.get("/tu-danh-gia/"))


def test_removal_takes_the_file_off_the_line_and_notes_it(client, session, province_user, hanoi):
    log_in(client, province_user)
    client.post(f"/tu-danh-gia/{hanoi.id}/dong/{LINE}", data={"version": "0", "answer": "yes"})
    upload(client, hanoi, PDF, "ke-hoach.pdf", headers=HTMX)
    [link] = links(session, hanoi)

    response = client.post(f"/tu-danh-gia/{hanoi.id}/tai-lieu/{link.id}/xoa", headers=HTMX)

    assert response.status_code == 200
    assert "Đã xóa “ke-hoach.pdf”." in text_of(response)
    assert MISSING in text_of(response)
    assert links(session, hanoi) == []
    assert trail(session, hanoi)[-1] == "Xóa tài liệu kiểm chứng “ke-hoach.pdf”"


def test_after_the_deadline_uploads_and_removals_are_refused_and_the_ministry_cannot_upload(
        client, session, clock, province_user, ministry_user, hanoi):
    log_in(client, province_user)
    upload(client, hanoi, PDF, "ke-hoach.pdf", headers=HTMX)
    [link] = links(session, hanoi)
    clock.move_to(datetime(2022, 2, 16, 0, 0, 0, tzinfo=TZ), tick=False)
    log_in(client, province_user)  # a fresh login: the old session's absolute lifetime has run out

    refused = upload(client, hanoi, PDF + b"%", "them.pdf", headers=HTMX)
    assert refused.status_code == 409
    assert "Cổng đã tự khóa" in text_of(refused)
    assert client.post(f"/tu-danh-gia/{hanoi.id}/tai-lieu/{link.id}/xoa").status_code == 409
    assert [row.id for row in links(session, hanoi)] == [link.id]
    page = client.get("/tu-danh-gia/").get_data(as_text=True)
    assert "ke-hoach.pdf" in page and "Tải lên tài liệu kiểm chứng" not in page

    log_in(client, ministry_user)
    assert upload(client, hanoi, PDF, "bo.pdf").status_code == 403


def test_a_stored_evidence_file_is_kept_by_the_collection_while_its_line_names_it(client, app, session,
                                                                                  province_user, hanoi, files_dir):
    log_in(client, province_user)
    upload(client, hanoi, PDF, "ke-hoach.pdf", headers=HTMX)
    [link] = links(session, hanoi)
    stored = session.get(StoredFile, link.file_id)

    evidence.collect_garbage(session, files_dir, min_age=timedelta(0))

    assert evidence.path_of(stored, files_dir) is not None
