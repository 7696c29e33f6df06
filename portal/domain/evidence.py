"""Uploaded files (tài liệu): checked, stored by content hash, found again, collected when unused.

Every file the portal keeps (the IT focal point's nomination, a request's attachment,
the self-assessment's evidence) goes through here:

- `check` reads what a file is from its bytes (the name and the browser's content type are
  the uploader's word, not proof): PDF, Word (.doc, .docx), Excel (.xls, .xlsx),
  OpenDocument (.odt, .ods), PNG, JPEG. A zipped format (OOXML, ODF) is opened and
  inflated within a budget first, so a zip bomb is refused before anything else reads it.
- `store` writes the bytes under PORTAL_FILES_DIR as `sha256/<2 hex>/<sha256>`, outside the
  web root, by a temporary file and a rename (no half file ever has the final name), once
  per content (deduplicated), and adds a `StoredFile` row with the metadata; the caller
  links it to its own row and commits both together.
- `path_of` finds the file for a download (portal/downloads.py serves it as an attachment).
- `collect_garbage` removes rows no other row references and files no row names, safely
  while uploads go on, on this server or another sharing the folder (no in-process lock:
  renames and the database decide).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import secrets
import unicodedata
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePath

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from portal.domain.text import DISK_FULL_MESSAGE
from portal.models import StoredFile, User, utcnow

log = logging.getLogger(__name__)


class EvidenceError(ValueError):
    """A file refused or not stored; `message` says why, in Vietnamese, to the person who sent it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Kind:
    """A kind of file the portal accepts: its content type, its usual extensions (first: the one given), a label."""

    content_type: str
    extensions: tuple[str, ...]
    label: str

    @property
    def extension(self) -> str:
        return self.extensions[0]


PDF = Kind("application/pdf", (".pdf",), "PDF")
DOC = Kind("application/msword", (".doc",), "Word (.doc)")
DOCX = Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",), "Word (.docx)")
XLS = Kind("application/vnd.ms-excel", (".xls",), "Excel (.xls)")
XLSX = Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",), "Excel (.xlsx)")
ODT = Kind("application/vnd.oasis.opendocument.text", (".odt",), "OpenDocument (.odt)")
ODS = Kind("application/vnd.oasis.opendocument.spreadsheet", (".ods",), "OpenDocument (.ods)")
PNG = Kind("image/png", (".png",), "ảnh PNG")
JPEG = Kind("image/jpeg", (".jpg", ".jpeg"), "ảnh JPEG")
EVIDENCE_KINDS: tuple[Kind, ...] = (PDF, DOC, DOCX, XLS, XLSX, ODT, ODS, PNG, JPEG)
BY_CONTENT_TYPE = {kind.content_type: kind for kind in EVIDENCE_KINDS}

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of .doc and .xls, but also of .msi and others
_WORD_STREAM = "WordDocument".encode("utf-16-le")
_WORKBOOK_STREAMS = ("Workbook".encode("utf-16-le"), "Book\x00".encode("utf-16-le"))
_ODF_KINDS = {ODT.content_type.encode(): ODT, ODS.content_type.encode(): ODS}

# A document zip holds a few hundred parts at most; inflated it stays within this many times the limit.
_MAX_ZIP_ENTRIES = 5000
_MAX_UNPACKED_FACTOR = 20
_MAX_COMPRESSION_RATIO = 100  # for one part above 1 MiB: XML and images compress well, not a hundredfold
_RATIO_CHECK_FROM = 1 << 20
_INFLATE_CHUNK = 1 << 20
_MAX_NAME = 120  # characters of a cleaned name, before its extension
_WINDOWS_RESERVED = re.compile(r'[<>:"/\\|?*]')

STORE = "sha256"  # the store's own folder under PORTAL_FILES_DIR; anything else there is not ours
_HEX = re.compile(r"[0-9a-f]{64}")
_TEMP_PREFIX = ".tai-len-"
_GC_PREFIX = ".thu-hoi-"


def accepted_labels(accept: Collection[Kind] = EVIDENCE_KINDS) -> str:
    """The accepted kinds as a person reads them: "PDF, Word (.doc), ... hoặc ảnh JPEG"."""
    labels = [kind.label for kind in accept]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " hoặc " + labels[-1]


def megabytes(size: int) -> str:
    """A size in MB as Vietnamese writes it: 5 MB, 7,3 MB."""
    value = size / (1024 * 1024)
    text = f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
    return text.replace(".", ",") + " MB"


# ---------------------------------------------------------------- checking


def detect(data: bytes, max_unpacked_bytes: int) -> Kind | None:
    """The kind the bytes are, or None when none of EVIDENCE_KINDS.

    PDF, PNG and JPEG by their signatures (`filetype`); .doc and .xls by the streams of
    their OLE container (an .msi or another OLE file has neither); zipped formats by
    their parts, after `check_zip` (raises EvidenceError for a zip bomb or a damaged zip).
    """
    if data.startswith(b"PK\x03\x04"):
        return _zipped_kind(data, max_unpacked_bytes)
    if data.startswith(_OLE):
        if _WORD_STREAM in data:
            return DOC
        if any(stream in data for stream in _WORKBOOK_STREAMS):
            return XLS
        return None
    import filetype  # only an upload of evidence needs it

    guessed = filetype.guess(data)
    kind = BY_CONTENT_TYPE.get(guessed.mime) if guessed is not None else None
    return kind if kind in (PDF, PNG, JPEG) else None


def _zipped_kind(data: bytes, max_unpacked_bytes: int) -> Kind | None:
    names = check_zip(data, max_unpacked_bytes)
    if "[content_types].xml" in names:
        if "word/document.xml" in names:
            return DOCX
        if "xl/workbook.xml" in names:
            return XLSX
        return None
    if "mimetype" in names:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            declared = archive.read(names["mimetype"]).strip()  # a few bytes, inflated by check_zip already
        return _ODF_KINDS.get(declared)
    return None


def _zip_bomb(max_unpacked_bytes: int) -> EvidenceError:
    return EvidenceError(
        "Tệp có cấu trúc nén bất thường (khi giải nén vượt quá "
        f"{megabytes(max_unpacked_bytes)} hoặc có tỷ lệ nén bất thường) nên không thể nhận an toàn. "
        "Hãy mở tệp bằng Word, Excel hoặc LibreOffice, lưu thành tệp mới rồi tải lên lại.")


def _damaged() -> EvidenceError:
    return EvidenceError("Tệp bị hỏng hoặc chưa được tải lên hết nên không đọc được. Hãy mở tệp trên máy để "
                         "kiểm tra, lưu lại rồi tải lên lần nữa.")


def check_zip(data: bytes, max_unpacked_bytes: int) -> dict[str, str]:
    """Check that a zip is whole and cannot blow up in memory; return its part names (lower case → as stored).

    The same rules as the list upload's (portal/domain/spreadsheets.py), for any zipped
    document: declared sizes and ratios first, then every part inflated in chunks
    against a running budget, since a lying header can declare a small size for a
    stream that inflates to gigabytes (zipfile stops at the declared size and then
    fails the CRC, so the budget holds whatever the header says).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except Exception:  # zipfile raises many kinds (BadZipFile, NotImplementedError, ...) for damage
        raise _damaged() from None
    if len(entries) > _MAX_ZIP_ENTRIES or sum(entry.file_size for entry in entries) > max_unpacked_bytes:
        raise _zip_bomb(max_unpacked_bytes)
    for entry in entries:
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _damaged()  # office programs deflate; bzip2 or lzma would inflate unbounded in one call
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > _RATIO_CHECK_FROM and ratio > _MAX_COMPRESSION_RATIO:
            raise _zip_bomb(max_unpacked_bytes)
    budget = max_unpacked_bytes
    try:
        for entry in entries:
            if entry.flag_bits & 0x1:  # zip-level encryption: no office program writes it
                raise _damaged()
            with archive.open(entry) as part:
                while chunk := part.read(_INFLATE_CHUNK):
                    budget -= len(chunk)
                    if budget < 0:
                        raise _zip_bomb(max_unpacked_bytes)
    except EvidenceError:
        raise
    except Exception:  # a bad CRC, a truncated stream, an unknown compression
        raise _damaged() from None
    return {entry.filename.lower().lstrip("/"): entry.filename for entry in entries}


def check(
    data: bytes, filename: str, max_bytes: int, *, accept: Collection[Kind] = EVIDENCE_KINDS, what: str = "Tệp",
) -> Kind:
    """The kind of an uploaded file; raises EvidenceError with a Vietnamese message naming the problem.

    `what` names the file in messages ("Tệp văn bản cử", "Tệp đính kèm"). Refused: an empty
    file, one over `max_bytes` (the limit is said), a zip bomb, and anything whose bytes are
    none of `accept`, whatever its name says (an HTML page named .pdf).
    """
    name = clean_name(filename)
    if not data:
        raise EvidenceError(f"{what} “{name}” trống (0 byte). Vui lòng chọn lại tệp.")
    if len(data) > max_bytes:
        raise EvidenceError(f"{what} “{name}” có dung lượng {megabytes(len(data))}, vượt giới hạn "
                            f"{megabytes(max_bytes)} cho mỗi tệp. Vui lòng chọn tệp nhỏ hơn (ví dụ quét ở độ "
                            "phân giải thấp hơn hoặc tách thành nhiều tệp).")
    kind = detect(data, max_bytes * _MAX_UNPACKED_FACTOR)
    if kind is None or kind not in accept:
        raise EvidenceError(f"{what} “{name}” không phải {accepted_labels(accept)}. Nội dung tệp đã được kiểm "
                            "tra, không chỉ phần đuôi tên tệp.")
    return kind


def clean_name(filename: str, kind: Kind | None = None) -> str:
    """The name a file is shown and downloaded under: its last path part, printable, at most 120 characters.

    Folders ("C:\\Users\\...\\", "../"), control and bidi characters, characters Windows
    cannot save and leading dots go; with `kind`, the name ends with the kind's extension
    (a Word file named .pdf is downloaded as .docx).
    """
    text = unicodedata.normalize("NFC", filename or "")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in text)
    text = PurePath(text.replace("\\", "/")).name if "/" in text or "\\" in text else text
    text = _WINDOWS_RESERVED.sub("_", " ".join(text.split())).strip(" .")
    stem, dot, extension = text.rpartition(".")
    if not dot:
        stem, extension = text, ""
    if kind is not None:
        given = f".{extension.lower()}" if extension else ""
        extension = (given if given in kind.extensions else kind.extension)[1:]
    stem = stem[:_MAX_NAME].rstrip(" .") or "tep"
    return f"{stem}.{extension[:10]}" if extension else stem


# ---------------------------------------------------------------- storing


def blob_path(files_dir: str | Path, sha256: str) -> Path:
    """Where the content with this hash lives (whether or not it is there)."""
    return Path(files_dir) / STORE / sha256[:2] / sha256


def _fsync_dir(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename is still atomic
    finally:
        os.close(handle)


def write_blob(files_dir: str | Path, data: bytes) -> str:
    """Put the bytes in the store once and return their SHA-256; raises OSError when the disk refuses.

    Written to a temporary name in the same folder, flushed to disk, then renamed: a crash
    or a full disk leaves at most a temporary file (removed by `collect_garbage`), never a
    half file under a hash name. Content already there is not written again; its time is
    refreshed, which tells `collect_garbage` it is in use again.
    """
    digest = hashlib.sha256(data).hexdigest()
    target = blob_path(files_dir, digest)
    try:
        if target.stat().st_size == len(data):
            os.utime(target)
            return digest
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f"{_TEMP_PREFIX}{digest[:16]}-{secrets.token_hex(8)}"
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        # Two servers storing the same content at once both rename; the bytes are the same either way.
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return digest


def store(
    session: Session, data: bytes, filename: str, *, files_dir: str | Path, max_bytes: int,
    uploaded_by: User | None, accept: Collection[Kind] = EVIDENCE_KINDS, what: str = "Tệp",
    now: datetime | None = None,
) -> StoredFile:
    """Check the file, write it to the store and add its `StoredFile` row to the session (flushed, not committed).

    The caller links the row to its own (a nomination, a request, a line's evidence) and
    commits both in one transaction; if that transaction is rolled back, the file stays
    unreferenced and `collect_garbage` removes it later. Raises EvidenceError for a refused
    file and, with DISK_FULL_MESSAGE, when the disk refuses to write.
    """
    kind = check(data, filename, max_bytes, accept=accept, what=what)
    try:
        digest = write_blob(files_dir, data)
    except OSError as exc:
        log.error("cannot store a file in %s: %s", files_dir, exc)
        raise EvidenceError(DISK_FULL_MESSAGE) from exc
    stored = StoredFile(sha256=digest, size=len(data), content_type=kind.content_type,
                        original_name=clean_name(filename, kind),
                        uploaded_by_id=uploaded_by.id if uploaded_by is not None else None,
                        uploaded_at=now or utcnow())
    session.add(stored)
    session.flush()
    return stored


def path_of(stored: StoredFile, files_dir: str | Path) -> Path | None:
    """The file of a stored row, or None when it is not on disk (lost before the move to this store)."""
    if not _HEX.fullmatch(stored.sha256 or ""):
        return None
    path = blob_path(files_dir, stored.sha256)
    return path if path.is_file() else None


# ---------------------------------------------------------------- garbage collection


@dataclass
class Collected:
    """What one collection removed."""

    rows: int = 0
    files: int = 0
    bytes: int = 0
    temporaries: int = 0


def _references() -> list:
    """Every column of every table that points at storedfile.id (found in the models, so new features count)."""
    columns = []
    for table in SQLModel.metadata.tables.values():
        for key in table.foreign_keys:
            if key.column.table.name == StoredFile.__tablename__:
                columns.append(key.parent)
    return columns


def _unreferenced_rows(cutoff: datetime):
    condition = StoredFile.uploaded_at < cutoff
    for column in _references():
        condition = condition & ~exists().where(column == StoredFile.id)
    return condition


def _referenced(session: Session, digest: str) -> bool:
    return session.execute(select(StoredFile.id).where(StoredFile.sha256 == digest).limit(1)).first() is not None


def _store_files(files_dir: Path) -> Iterator[Path]:
    root = files_dir / STORE
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if folder.is_dir():
            yield from sorted(folder.iterdir())


def collect_garbage(
    session: Session, files_dir: str | Path, *, min_age: timedelta = timedelta(days=1), now: datetime | None = None,
) -> Collected:
    """Remove stored rows nothing references and files no row names, older than `min_age`; commits.

    Safe beside uploads, here or on another server sharing the folder: a file is first
    renamed aside, then kept if it was touched since (an upload found it and is about to
    reference it) or if a row names it by then, and only otherwise deleted. Temporary
    files older than `min_age` (a crash between writing and renaming) go too.
    """
    now = now or utcnow()
    cutoff = now - min_age
    result = Collected()
    try:
        removed = session.execute(delete(StoredFile).where(_unreferenced_rows(cutoff)))
        session.commit()
        result.rows = removed.rowcount or 0
    except IntegrityError:
        # A reference appeared while deleting (the database refused): keep everything this time.
        session.rollback()
    oldest = cutoff.timestamp()
    for path in _store_files(Path(files_dir)):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if path.name.startswith(_TEMP_PREFIX):
            if stat.st_mtime < oldest:
                path.unlink(missing_ok=True)
                result.temporaries += 1
            continue
        if path.name.startswith(_GC_PREFIX):  # left aside by a collection that stopped half way
            digest = path.name[len(_GC_PREFIX):len(_GC_PREFIX) + 64]
            _finish_aside(session, path, digest, oldest, result)
            continue
        if not _HEX.fullmatch(path.name) or stat.st_mtime >= oldest or _referenced(session, path.name):
            continue
        aside = path.with_name(f"{_GC_PREFIX}{path.name}-{secrets.token_hex(4)}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            continue  # another collector took it
        _finish_aside(session, aside, path.name, oldest, result)
    session.rollback()  # end the read transaction the checks opened
    return result


def _finish_aside(session: Session, aside: Path, digest: str, oldest: float, result: Collected) -> None:
    """Delete a file set aside, or put it back when an upload touched it or a row names it meanwhile."""
    session.rollback()  # see rows committed since (PostgreSQL's snapshot is per statement, SQLite's per read)
    try:
        stat = aside.stat()
    except FileNotFoundError:
        return
    if not _HEX.fullmatch(digest):
        return
    if stat.st_mtime >= oldest or _referenced(session, digest):
        os.replace(aside, blob_path(aside.parent.parent.parent, digest))
        return
    aside.unlink(missing_ok=True)
    result.files += 1
    result.bytes += stat.st_size
