"""The file store (portal/domain/evidence.py): what is refused and why, storing by content hash once and
whole, downloads as attachments, collecting unused files safely, and the move of earlier files into it."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from openpyxl import Workbook
from sqlalchemy import text
from sqlmodel import Session, select

from portal.database import ROOT, alembic_config, upgrade_schema
from portal.domain import evidence
from portal.domain.reference import load_reference_data
from portal.extensions import make_engine
from portal.models import NominationDocument, Province, ProvinceRequest, Role, StoredFile, utcnow
from tests.support.accounts import HA_NOI, log_in, make_user
from tests.support.database import create_postgres_database, drop_postgres_database

MB = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200
DOC = OLE + "WordDocument".encode("utf-16-le") + b"\x00" * 64
XLS = OLE + "Workbook".encode("utf-16-le") + b"\x00" * 64
MSI = OLE + "SummaryInformation".encode("utf-16-le") + b"\x00" * 64


def zipped(parts: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, content in parts.items():
            archive.writestr(name, content, compress_type=zipfile.ZIP_STORED if name == "mimetype" else method)
    return buffer.getvalue()


def xlsx() -> bytes:
    book = Workbook()
    book.active["A1"] = "Tiêu chí 1.1"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


DOCX = zipped({"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>",
               "word/document.xml": b"<w:document/>"})
ODT = zipped({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office:document/>"})
ODS = zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<office:document/>"})


# ---------------------------------------------------------------- what a file is, and what is refused


@pytest.mark.parametrize(("data", "kind"), [
    (PDF, evidence.PDF), (DOC, evidence.DOC), (DOCX, evidence.DOCX), (XLS, evidence.XLS), (xlsx(), evidence.XLSX),
    (ODT, evidence.ODT), (ODS, evidence.ODS), (PNG, evidence.PNG), (JPEG, evidence.JPEG)])
def test_each_accepted_kind_is_read_from_its_bytes_whatever_the_name(data, kind):
    assert evidence.check(data, "tai-lieu.txt", MB) == kind


@pytest.mark.parametrize("data", [
    b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>", b"MZ\x90\x00 an executable", MSI,
    zipped({"readme.txt": b"a plain zip"}), zipped({"[Content_Types].xml": b"<Types/>", "ppt/presentation.xml": b""}),
    b"plain text that says %PDF later"])
def test_an_html_page_named_pdf_and_other_kinds_are_refused_with_the_kinds_named(data):
    with pytest.raises(evidence.EvidenceError) as refused:
        evidence.check(data, "bao-cao.pdf", MB)

    assert refused.value.message == (
        "Tệp “bao-cao.pdf” không phải PDF, Word (.doc), Word (.docx), Excel (.xls), Excel (.xlsx), OpenDocument "
        "(.odt), OpenDocument (.ods), ảnh PNG hoặc ảnh JPEG. Nội dung tệp đã được kiểm tra, không chỉ phần đuôi "
        "tên tệp.")


def test_a_kind_the_feature_does_not_take_is_refused_with_its_own_list():
    with pytest.raises(evidence.EvidenceError, match="không phải PDF hoặc ảnh PNG"):
        evidence.check(DOCX, "cong-van.docx", MB, accept=(evidence.PDF, evidence.PNG))


def test_an_empty_file_is_refused():
    with pytest.raises(evidence.EvidenceError, match="Tệp “trong.pdf” trống \\(0 byte\\)"):
        evidence.check(b"", "trong.pdf", MB)


def test_a_file_over_the_limit_is_refused_with_its_size_and_the_limit_stated():
    with pytest.raises(evidence.EvidenceError) as refused:
        evidence.check(PDF + b"\0" * (int(2.5 * MB)), "scan.pdf", 2 * MB, what="Tài liệu kiểm chứng")

    assert refused.value.message.startswith("Tài liệu kiểm chứng “scan.pdf” có dung lượng 2,5 MB, vượt giới hạn 2 MB "
                                            "cho mỗi tệp.")


def test_a_zip_bomb_in_a_word_file_is_refused_before_anything_reads_it():
    bomb = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\0" * (30 * MB)})
    assert len(bomb) < MB

    with pytest.raises(evidence.EvidenceError, match="cấu trúc nén bất thường"):
        evidence.check(bomb, "bao-cao.docx", MB)


def test_many_parts_that_together_inflate_past_the_budget_are_refused():
    # Each part under the ratio check (1 MiB), together past 20 × the 1 MB limit.
    parts = {f"word/media/image{i}.png": os.urandom(64) + b"\0" * (MB - 100) for i in range(25)}
    bomb = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>", **parts})

    with pytest.raises(evidence.EvidenceError, match="vượt quá 20 MB"):
        evidence.check(bomb, "bao-cao.docx", MB)


def test_a_part_whose_header_lies_about_its_size_is_never_inflated_past_it():
    honest = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\0" * (4 * MB)})
    lying = bytearray(honest)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := lying.find(signature, start)) != -1:
            name_length = struct.unpack("<H", lying[start + (26 if signature == b"PK\x03\x04" else 28):][:2])[0]
            if b"document" in lying[start:start + 46 + name_length]:
                struct.pack_into("<I", lying, start + offset, 1000)  # says 1,000 bytes; inflates to 4 MB
            start += 4

    with pytest.raises(evidence.EvidenceError, match="bị hỏng"):
        evidence.check(bytes(lying), "bao-cao.docx", 10 * MB)


@pytest.mark.parametrize(("given", "kind", "cleaned"), [
    ("C:\\Users\\Sở Nội vụ\\Desktop\\Báo cáo tự đánh giá.pdf", evidence.PDF, "Báo cáo tự đánh giá.pdf"),
    ("../../etc/passwd", evidence.PDF, "passwd.pdf"),
    ("bao\x00cao\r\n\x1bđợt 1.docx", evidence.DOCX, "bao cao đợt 1.docx"),
    ("hoa-don\u202efdp.exe", evidence.PDF, "hoa-don fdp.pdf"),  # a right-to-left override hid ".exe"
    ("ke-hoach.pdf", evidence.DOCX, "ke-hoach.docx"),  # the name follows the bytes
    ("ANH CHUP.JPEG", evidence.JPEG, "ANH CHUP.jpeg"),
    ("...", evidence.PNG, "tep.png"),
    ('a<b>:c"d|e?f*.pdf', evidence.PDF, "a_b__c_d_e_f_.pdf"),
    ("Quyết định " + "rất dài " * 40 + ".pdf", evidence.PDF, ("Quyết định " + "rất dài " * 40)[:120].rstrip() + ".pdf"),
])
def test_names_lose_folders_control_characters_and_excess_length(given, kind, cleaned):
    assert evidence.clean_name(given, kind) == cleaned


# ---------------------------------------------------------------- storing


def test_the_same_bytes_are_stored_once_for_two_uploads_with_their_own_names(session, province_user, tmp_path):
    first = evidence.store(session, PDF, "Quyết định.pdf", files_dir=tmp_path, max_bytes=MB, uploaded_by=province_user)
    second = evidence.store(session, PDF, "ban sao.pdf", files_dir=tmp_path, max_bytes=MB, uploaded_by=None)
    session.commit()

    assert first.id != second.id and first.sha256 == second.sha256
    assert (first.original_name, second.original_name) == ("Quyết định.pdf", "ban sao.pdf")
    assert (first.size, first.content_type, first.uploaded_by_id) == (len(PDF), "application/pdf", province_user.id)
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert files == [evidence.blob_path(tmp_path, first.sha256)] == [evidence.path_of(second, tmp_path)]
    assert files[0].read_bytes() == PDF
    assert files[0].relative_to(tmp_path).parts == ("sha256", first.sha256[:2], first.sha256)


def test_a_refused_file_writes_nothing_and_adds_no_row(session, tmp_path):
    with pytest.raises(evidence.EvidenceError):
        evidence.store(session, b"<html></html>", "x.pdf", files_dir=tmp_path, max_bytes=MB, uploaded_by=None)

    assert not any(tmp_path.iterdir())
    assert session.exec(select(StoredFile)).all() == []


def test_a_crash_between_writing_and_renaming_leaves_no_file_under_its_name(tmp_path):
    # A real process killed (SIGKILL: no cleanup runs) at the moment of the rename.
    script = textwrap.dedent(f"""
        import os, signal
        from portal.domain import evidence
        os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
        evidence.write_blob({str(tmp_path)!r}, {PDF!r})
    """)
    died = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=60)

    assert died.returncode == -9, died.stderr.decode()[-2000:]
    digest = evidence.hashlib.sha256(PDF).hexdigest()
    assert not evidence.blob_path(tmp_path, digest).exists()
    [temporary] = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert temporary.name.startswith(".tai-len-") and temporary.read_bytes() == PDF  # whole, but never visible
    stored = StoredFile(sha256=digest, size=len(PDF), content_type="application/pdf", original_name="a.pdf")
    assert evidence.path_of(stored, tmp_path) is None
    assert evidence.write_blob(tmp_path, PDF) == digest  # the next upload writes it whole
    assert evidence.blob_path(tmp_path, digest).read_bytes() == PDF


# ---------------------------------------------------------------- collecting unused files


def age(path: Path, hours: float) -> None:
    moment = (utcnow() - timedelta(hours=hours)).timestamp()
    os.utime(path, (moment, moment))


def stored_long_ago(session: Session, folder: Path, data: bytes, name: str, **links) -> StoredFile:
    stored = evidence.store(session, data, name, files_dir=folder, max_bytes=MB, uploaded_by=None,
                            now=utcnow() - timedelta(days=3))
    age(evidence.blob_path(folder, stored.sha256), 72)
    return stored


def test_collecting_removes_rows_and_files_nothing_references_and_keeps_the_rest(session, province_user, tmp_path):
    province = session.get(Province, HA_NOI)
    kept = stored_long_ago(session, tmp_path, PDF, "van-ban-cu.pdf")
    session.add(NominationDocument(province_id=province.id, file_id=kept.id))
    orphan = stored_long_ago(session, tmp_path, PNG, "anh-bo-di.png")
    same_as_kept = stored_long_ago(session, tmp_path, PDF, "ban-sao-bo-di.pdf")  # its bytes are still used
    young = evidence.store(session, DOCX, "moi-tai.docx", files_dir=tmp_path, max_bytes=MB, uploaded_by=None)
    session.commit()
    stale = evidence.blob_path(tmp_path, "ab" * 32).with_name(".tai-len-abababab-0011")
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half")
    age(stale, 72)
    ids = (kept.id, orphan.id, same_as_kept.id, young.id)

    collected = evidence.collect_garbage(session, tmp_path, min_age=timedelta(days=1))

    assert (collected.rows, collected.files, collected.bytes, collected.temporaries) == (2, 1, len(PNG), 1)
    session.expire_all()
    assert [row.id for row in session.exec(select(StoredFile).order_by(StoredFile.id))] == [ids[0], ids[3]]
    assert evidence.blob_path(tmp_path, kept.sha256).read_bytes() == PDF
    assert evidence.blob_path(tmp_path, young.sha256).read_bytes() == DOCX
    assert not evidence.blob_path(tmp_path, orphan.sha256).exists() and not stale.exists()
    assert evidence.collect_garbage(session, tmp_path, min_age=timedelta(days=1)) == evidence.Collected()


def test_a_file_an_upload_claims_while_it_is_being_collected_is_put_back(session, app, tmp_path, monkeypatch):
    orphan = stored_long_ago(session, tmp_path, PNG, "anh.png")
    session.delete(orphan)
    session.commit()
    real_rename = os.rename

    def rename_then_upload(source, target):
        # The moment after the collector set the file aside: another server stores the same bytes and commits.
        real_rename(source, target)
        from portal.extensions import db

        with app.app_context(), db.new_session() as other:
            evidence.store(other, PNG, "lai.png", files_dir=tmp_path, max_bytes=MB, uploaded_by=None,
                           now=utcnow() - timedelta(days=2))
            other.commit()

    monkeypatch.setattr(evidence.os, "rename", rename_then_upload)

    collected = evidence.collect_garbage(session, tmp_path, min_age=timedelta(days=1))

    assert collected.files == 0
    assert evidence.blob_path(tmp_path, orphan.sha256).read_bytes() == PNG
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [orphan.sha256]


def test_the_command_collects_with_the_configured_age(app, runner, session, tmp_path):
    app.config["PORTAL_FILES_DIR"] = str(tmp_path)
    orphan = stored_long_ago(session, tmp_path, PNG, "anh.png")
    session.commit()

    kept = runner.invoke(args=["portal", "collect-files", "--min-age-hours", "100"])
    assert "Đã xóa 0 bản ghi" in kept.output and evidence.blob_path(tmp_path, orphan.sha256).exists()

    removed = runner.invoke(args=["portal", "collect-files"])

    assert "Đã xóa 1 bản ghi tệp không còn dùng, 1 tệp" in removed.output
    assert not evidence.blob_path(tmp_path, orphan.sha256).exists()


# ---------------------------------------------------------------- downloads


@pytest.fixture
def files_config(app_config, tmp_path):
    app_config["PORTAL_FILES_DIR"] = str(tmp_path / "tep")
    return app_config


def test_a_download_is_an_attachment_under_its_vietnamese_name_never_sniffed_or_run(
        files_config, client, session, province_user):
    log_in(client, province_user)
    client.post("/dau-moi-cntt/dang-ky", content_type="multipart/form-data", data={
        "full_name": "Trần Minh Đức", "position": "Phó Giám đốc", "phone": "0912345678", "email": "duc@hanoi.gov.vn",
        "nomination": (io.BytesIO(PDF), "../../Quyết định cử.pdf")})
    [document] = session.exec(select(NominationDocument)).all()

    response = client.get(f"/dau-moi-cntt/van-ban-cu/{document.id}")

    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Quyet dinh cu.pdf\"; "
        "filename*=UTF-8''Quy%E1%BA%BFt%20%C4%91%E1%BB%8Bnh%20c%E1%BB%AD.pdf")
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["Cache-Control"] == "private, no-store"


def test_a_download_whose_file_is_gone_is_a_404(files_config, client, session, province_user):
    log_in(client, province_user)
    stored = StoredFile(sha256="", size=10, content_type="application/pdf", original_name="mat.pdf")
    session.add(stored)
    session.flush()
    session.add(NominationDocument(province_id=HA_NOI, file_id=stored.id))
    session.commit()
    [document] = session.exec(select(NominationDocument)).all()

    assert client.get(f"/dau-moi-cntt/van-ban-cu/{document.id}").status_code == 404


# ---------------------------------------------------------------- the move of earlier files


@pytest.fixture
def empty_database_url(app_config, request, tmp_path):
    if app_config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'before.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = create_postgres_database(server)
    yield url
    drop_postgres_database(server, url)


def test_the_upgrade_moves_earlier_files_and_their_rows_into_the_store(empty_database_url, tmp_path):
    folders = {"files": str(tmp_path / "tep"), "legacy_uploads": str(tmp_path / "uploads"),
               "legacy_request_files": str(tmp_path / "request-files")}
    (tmp_path / "uploads" / "van-ban-cu" / "1").mkdir(parents=True)
    digest = evidence.hashlib.sha256(PDF).hexdigest()
    (tmp_path / "uploads" / "van-ban-cu" / "1" / f"{digest}.pdf").write_bytes(PDF)
    (tmp_path / "request-files").mkdir()
    (tmp_path / "request-files" / "a1b2c3").write_bytes(PNG)
    engine = make_engine(empty_database_url)
    try:
        # Reference data and the account are made by today's code on today's schema (the loaders follow the
        # models, which later migrations change); then the schema goes back to before the file store.
        upgrade_schema(engine, folders)
        with Session(engine) as session:
            load_reference_data(session)
            user_id = make_user(session, "ha-noi", Role.PROVINCE, HA_NOI).id
        cfg = alembic_config(empty_database_url)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, ScriptDirectory.from_config(cfg).get_revision("evidence_files").down_revision)
        with Session(engine) as session:
            campaign_id = session.execute(text("SELECT min(id) FROM campaign")).scalar_one()
            session.execute(text(
                "INSERT INTO nominationdocument (province_id, original_name, content_type, size, sha256, stored_name, "
                "uploaded_by_id, uploaded_at) VALUES (1, 'Quyết định cử.pdf', 'application/pdf', :size, :sha, :name, "
                ":user, '2022-01-05 02:00:00')"),
                {"size": len(PDF), "sha": digest, "name": f"van-ban-cu/1/{digest}.pdf", "user": user_id})
            for key, name, size in (("a1b2c3", "Ảnh chụp lỗi.png", len(PNG)), ("ffff00", "Đã mất.pdf", 99)):
                session.execute(text(
                    "INSERT INTO provincerequest (campaign_id, province_id, author_id, form_key, kind, reason, "
                    "file_name, file_key, file_type, file_size, status, answer, created_at) VALUES (:c, 1, :u, :k, "
                    "'technical', 'Lỗi', :n, :k, :t, :s, 'open', '', '2022-01-06 03:00:00')"),
                    {"c": campaign_id, "u": user_id, "k": key, "n": name, "s": size,
                            "t": "image/png" if key == "a1b2c3" else "application/pdf"})
            session.commit()

        upgrade_schema(engine, folders)

        with Session(engine) as session:
            [document] = session.exec(select(NominationDocument)).all()
            moved = session.get(StoredFile, document.file_id)
            assert (moved.original_name, moved.content_type, moved.size, moved.sha256, moved.uploaded_by_id) == (
                "Quyết định cử.pdf", "application/pdf", len(PDF), digest, user_id)
            assert evidence.path_of(moved, folders["files"]).read_bytes() == PDF
            picture, lost = [session.get(StoredFile, item.file_id) for item in
                             session.exec(select(ProvinceRequest).order_by(ProvinceRequest.id))]
            assert (picture.original_name, picture.content_type, picture.uploaded_by_id) == (
                "Ảnh chụp lỗi.png", "image/png", user_id)
            assert evidence.path_of(picture, folders["files"]).read_bytes() == PNG
            assert (lost.original_name, lost.size, lost.sha256) == ("Đã mất.pdf", 99, "")  # known, not found
            assert evidence.path_of(lost, folders["files"]) is None
        assert (tmp_path / "request-files" / "a1b2c3").exists()  # copied, not moved: nothing lost on a failed upgrade
    finally:
        engine.dispose()


def test_the_two_earlier_folder_variables_still_name_the_files_folder(monkeypatch, tmp_path):
    from config import file_dirs

    monkeypatch.delenv("PORTAL_FILES_DIR", raising=False)
    monkeypatch.setenv("PORTAL_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("PORTAL_REQUEST_FILES_DIR", str(tmp_path / "req"))
    assert file_dirs(tmp_path) == {"files": str(tmp_path / "uploads"), "legacy_uploads": str(tmp_path / "uploads"),
                                   "legacy_request_files": str(tmp_path / "req")}
    monkeypatch.setenv("PORTAL_FILES_DIR", str(tmp_path / "tep"))
    assert file_dirs(tmp_path)["files"] == str(tmp_path / "tep")
    monkeypatch.delenv("PORTAL_UPLOAD_DIR")
    monkeypatch.delenv("PORTAL_REQUEST_FILES_DIR")
    monkeypatch.delenv("PORTAL_FILES_DIR")
    assert file_dirs(tmp_path)["files"] == str(tmp_path / "files")

