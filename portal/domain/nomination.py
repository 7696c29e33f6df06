"""The document nominating a province's IT focal point (văn bản cử): check, store, find.

A province uploads it with the registration. What the file is comes from its
bytes (the browser's content type and the file name's extension are the
uploader's word, not proof): PDF, Word (.docx, or the older .doc) or an image
(JPEG, PNG), read by `filetype` as request attachments are.

Files are stored under PORTAL_UPLOAD_DIR (outside the web root, so no URL
reaches them but the download route behind its permission check), named by
their SHA-256, never by the name they were uploaded with.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath

import filetype
from sqlmodel import Session, col, select

from portal.domain import audit
from portal.domain.text import DISK_FULL_MESSAGE, clean
from portal.models import NominationDocument, Province, User, utcnow

log = logging.getLogger(__name__)


class NominationError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Kind:
    content_type: str
    extension: str
    label: str


PDF = Kind("application/pdf", ".pdf", "PDF")
DOCX = Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx", "Word")
DOC = Kind("application/msword", ".doc", "Word")
JPEG = Kind("image/jpeg", ".jpg", "ảnh JPEG")
PNG = Kind("image/png", ".png", "ảnh PNG")
ACCEPTED = "PDF, Word (.doc, .docx) hoặc ảnh chụp (.jpg, .png)"
_BY_MIME = {kind.content_type: kind for kind in (PDF, DOCX, DOC, JPEG, PNG)}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of .doc, but also of .xls and .msi
_WORD_STREAM = "WordDocument".encode("utf-16-le")


def detect(data: bytes) -> Kind | None:
    """The kind of document the bytes are, or None when they are none of the accepted kinds.

    `filetype` (as for request attachments) reads the signatures of PDF, .docx, JPEG and PNG; it knows a
    .doc only when the Word header sits at the usual offset, so an OLE container is also taken as Word
    when it holds a WordDocument stream (an .xls or .msi holds none).
    """
    guessed = filetype.guess(data)
    kind = _BY_MIME.get(guessed.mime) if guessed is not None else None
    if kind is None and data.startswith(_OLE) and _WORD_STREAM in data:
        kind = DOC
    return kind


def check(data: bytes, filename: str, max_bytes: int) -> Kind:
    """The kind of an uploaded nomination; raises NominationError with a Vietnamese message otherwise."""
    if not data:
        raise NominationError("Tệp văn bản cử trống. Vui lòng chọn lại tệp.")
    if len(data) > max_bytes:
        raise NominationError(f"Tệp văn bản cử lớn hơn {max_bytes // (1024 * 1024)} MB. "
                              "Vui lòng chọn tệp nhỏ hơn (ví dụ quét ở độ phân giải thấp hơn).")
    kind = detect(data)
    if kind is None:
        raise NominationError(f"Tệp “{clean(filename)[:100]}” không phải văn bản {ACCEPTED}. "
                              "Nội dung tệp được kiểm tra, không chỉ phần đuôi tên tệp.")
    return kind


def _write_whole(target: Path, data: bytes) -> None:
    """Write beside the target and rename: a crash or a full disk never leaves half a file under any name."""
    handle, draft = tempfile.mkstemp(dir=target.parent, prefix=".tai-len-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(draft, target)
    except BaseException:
        Path(draft).unlink(missing_ok=True)
        raise


def save(
    session: Session, actor: User, province: Province, filename: str, data: bytes, *, upload_dir: str,
    max_bytes: int, now: datetime | None = None,
) -> NominationDocument:
    """Check and store the nomination of the province's IT focal point; commits. Raises NominationError."""
    kind = check(data, filename, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    stored_name = f"van-ban-cu/{province.id}/{digest}{kind.extension}"
    target = Path(upload_dir) / stored_name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            _write_whole(target, data)
    except OSError as exc:
        log.error("cannot store a nomination document in %s: %s", upload_dir, exc)
        raise NominationError(DISK_FULL_MESSAGE) from exc
    stem = PurePath(clean(filename).replace("\\", "/")).stem[:120] or "van-ban-cu"
    document = NominationDocument(province_id=province.id, original_name=f"{stem}{kind.extension}",
                                  content_type=kind.content_type, size=len(data), sha256=digest,
                                  stored_name=stored_name, uploaded_by_id=actor.id, uploaded_at=now or utcnow())
    session.add(document)
    audit.record(session, actor, "Tải lên văn bản cử đầu mối CNTT", province_id=province.id,
                 detail=f"{document.original_name} ({kind.label}, {len(data)} byte)")
    session.commit()
    return document


def latest(session: Session, province_id: int) -> NominationDocument | None:
    """The province's newest nomination document."""
    return session.exec(select(NominationDocument).where(NominationDocument.province_id == province_id)
                        .order_by(col(NominationDocument.uploaded_at).desc(), col(NominationDocument.id).desc())
                        ).first()


def latest_by_province(session: Session) -> dict[int, NominationDocument]:
    """Each province's newest nomination document, for the ministry's table."""
    newest: dict[int, NominationDocument] = {}
    for document in session.exec(select(NominationDocument).order_by(col(NominationDocument.uploaded_at),
                                                                      col(NominationDocument.id))):
        newest[document.province_id] = document
    return newest


def stored_path(document: NominationDocument, upload_dir: str) -> Path | None:
    """Where the document's file is, when it is there (and inside the upload folder)."""
    root = Path(upload_dir).resolve()
    path = (root / document.stored_name).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path
