"""The IT focal point's nomination document (văn bản cử): uploaded with the registration, checked by its bytes,
stored outside the web root, downloaded as an attachment by the ministry and the province only."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlmodel import select

from portal.domain import evidence, nomination
from portal.models import AuditEntry, NominationDocument, StoredFile, User
from tests.support.accounts import HA_NOI, log_in

REGISTER = "/dau-moi-cntt/dang-ky"
GOOD = {"full_name": "Trần Minh Đức", "position": "Phó Giám đốc Trung tâm CNTT, Sở TT&TT",
        "phone": "0912 345 678", "email": "duc.tm@hanoi.gov.vn"}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200 + "WordDocument".encode("utf-16-le") + b"\x00" * 64
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200 + "Workbook".encode("utf-16-le") + b"\x00" * 64


def zipped(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


DOCX = zipped("[Content_Types].xml", "word/document.xml", "_rels/.rels")
XLSX = zipped("[Content_Types].xml", "xl/workbook.xml")


@pytest.fixture
def app_config(app_config, tmp_path):
    return {**app_config, "PORTAL_FILES_DIR": str(tmp_path / "tep"), "MAX_CONTENT_LENGTH": 1024 * 1024}


def register(client, data: bytes | None, filename: str = "Quyết định cử đầu mối.pdf", **changes):
    form = {**GOOD, **changes}
    if data is not None:
        form["nomination"] = (io.BytesIO(data), filename)
    return client.post(REGISTER, data=form, content_type="multipart/form-data")


@pytest.mark.parametrize(("data", "kind"), [(PDF, evidence.PDF), (DOCX, evidence.DOCX), (DOC, evidence.DOC),
                                            (JPEG, evidence.JPEG), (PNG, evidence.PNG)])
def test_the_kind_comes_from_the_bytes(data, kind):
    assert nomination.check(data, "van-ban-cu.pdf", 1024 * 1024) == kind


@pytest.mark.parametrize("data", [XLSX, XLS, b"MZ\x90\x00 an executable", b"<html><script>alert(1)</script>",
                                  b"PK\x03\x04 not really a zip", b"plain text"])
def test_anything_else_is_refused_whatever_its_name(data):
    with pytest.raises(nomination.NominationError, match="(không phải PDF, Word)|(bị hỏng)"):
        nomination.check(data, "van-ban-cu.pdf", 1024 * 1024)


def test_a_file_over_the_limit_is_refused_with_the_limit_named():
    with pytest.raises(nomination.NominationError, match="vượt giới hạn 1 MB"):
        nomination.check(PDF + b"\x00" * (1024 * 1024), "van-ban-cu.pdf", 1024 * 1024)


def test_the_registration_stores_the_nomination_outside_the_web_root(app, client, session, province_user):
    log_in(client, province_user)

    response = register(client, PDF)

    assert response.status_code == 200  # the one-time password page
    [document] = session.exec(select(NominationDocument)).all()
    file = session.get(StoredFile, document.file_id)
    assert (document.province_id, file.content_type, file.size) == (HA_NOI, "application/pdf", len(PDF))
    assert file.original_name == "Quyết định cử đầu mối.pdf"
    stored = evidence.path_of(file, app.config["PORTAL_FILES_DIR"])
    assert stored.read_bytes() == PDF
    assert "Quyết định" not in str(stored)  # never the uploaded name in the path
    static = Path(app.static_folder or "static").resolve()
    assert static not in stored.resolve().parents
    [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "Tải lên văn bản cử đầu mối CNTT")).all()
    assert entry.province_id == HA_NOI
    page = client.get(REGISTER).get_data(as_text=True)
    assert f'href="/dau-moi-cntt/van-ban-cu/{document.id}"' in page and "Quyết định cử đầu mối.pdf" in page


def test_a_word_file_named_pdf_is_stored_and_served_as_word(client, session, province_user):
    log_in(client, province_user)
    register(client, DOCX, filename="cu-dau-moi.pdf")

    [document] = session.exec(select(NominationDocument)).all()
    response = client.get(f"/dau-moi-cntt/van-ban-cu/{document.id}")

    assert session.get(StoredFile, document.file_id).original_name == "cu-dau-moi.docx"
    assert response.headers["Content-Type"] == evidence.DOCX.content_type
    assert response.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(("data", "filename"), [(XLSX, "van-ban.docx"), (b"<html>hi</html>", "van-ban.pdf"),
                                                (b"", "trong.pdf")])
def test_a_wrong_file_refuses_the_form_and_saves_nothing(client, session, province_user, data, filename, app):
    log_in(client, province_user)

    response = register(client, data, filename=filename)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="nomination-error"' in page and ("không phải PDF" in page or "trống" in page)
    assert 'value="Trần Minh Đức"' in page  # what was typed stays
    assert session.exec(select(User).where(User.username == "ha-noi-cntt")).first() is None
    assert session.exec(select(NominationDocument)).all() == []
    assert not Path(app.config["PORTAL_FILES_DIR"]).exists() or not any(Path(app.config["PORTAL_FILES_DIR"])
                                                                        .rglob("*"))


def test_a_later_wrong_file_keeps_the_document_already_saved(client, session, province_user):
    log_in(client, province_user)
    register(client, PDF)

    response = register(client, XLSX, filename="moi.docx", full_name="Tên Khác")

    assert response.status_code == 422
    session.expire_all()
    assert [f.content_type for f in session.exec(select(StoredFile))] == ["application/pdf"]
    assert session.exec(select(User).where(User.username == "ha-noi-cntt")).one().full_name == "Trần Minh Đức"


def test_an_upload_over_the_request_limit_gets_the_size_page(client, province_user):
    log_in(client, province_user)

    response = register(client, PDF + b"\x00" * (2 * 1024 * 1024))

    assert response.status_code == 413
    assert "Tệp quá lớn" in response.get_data(as_text=True)


def test_the_ministry_and_the_province_download_it_as_an_attachment(client, session, province_user, ministry_user,
                                                                     it_focal_user):
    log_in(client, province_user)
    register(client, PNG, filename="anh-chup.png")
    [document] = session.exec(select(NominationDocument)).all()
    url = f"/dau-moi-cntt/van-ban-cu/{document.id}"

    own = client.get(url)
    log_in(client, ministry_user)
    ministry = client.get(url)
    table = client.get("/bo/dau-moi-cntt").get_data(as_text=True)
    log_in(client, it_focal_user)
    focal = client.get(url)

    for response in (own, ministry):
        assert response.status_code == 200 and response.data == PNG
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["Content-Disposition"] == ("attachment; filename=\"anh-chup.png\"; "
                                                           "filename*=UTF-8''anh-chup.png")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response.headers["Cache-Control"]
    assert f'href="{url}"' in table
    assert focal.status_code == 403


def test_another_province_cannot_download_it(client, session, province_user, other_province_user):
    log_in(client, province_user)
    register(client, PDF)
    [document] = session.exec(select(NominationDocument)).all()
    log_in(client, other_province_user)

    response = client.get(f"/dau-moi-cntt/van-ban-cu/{document.id}")

    assert response.status_code == 404 and response.data != PDF
