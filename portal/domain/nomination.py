"""The document nominating a province's IT focal point (văn bản cử): check, store, find.

A province uploads it with the registration: PDF, Word (.doc, .docx) or a scan
(JPEG, PNG), checked from its bytes and kept in the file store like every upload
(portal/domain/evidence.py); the newest one counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from portal.domain import audit, evidence
from portal.models import NominationDocument, Province, StoredFile, User

ACCEPTED_KINDS = (evidence.PDF, evidence.DOC, evidence.DOCX, evidence.JPEG, evidence.PNG)
ACCEPTED = "PDF, Word (.doc, .docx) hoặc ảnh chụp (.jpg, .png)"
WHAT = "Tệp văn bản cử"

NominationError = evidence.EvidenceError


@dataclass(frozen=True)
class Nomination:
    """A nomination document with its file's metadata, as the pages show it."""

    document: NominationDocument
    file: StoredFile

    @property
    def id(self) -> int:
        assert self.document.id is not None
        return self.document.id

    @property
    def province_id(self) -> int:
        return self.document.province_id

    @property
    def original_name(self) -> str:
        return self.file.original_name

    @property
    def uploaded_at(self) -> datetime:
        return self.file.uploaded_at


def check(data: bytes, filename: str, max_bytes: int) -> evidence.Kind:
    """The kind of an uploaded nomination; raises NominationError with a Vietnamese message otherwise."""
    return evidence.check(data, filename, max_bytes, accept=ACCEPTED_KINDS, what=WHAT)


def save(
    session: Session, actor: User, province: Province, filename: str, data: bytes, *, files_dir: str,
    max_bytes: int, now: datetime | None = None,
) -> Nomination:
    """Check and store the nomination of the province's IT focal point; commits. Raises NominationError."""
    stored = evidence.store(session, data, filename, files_dir=files_dir, max_bytes=max_bytes, uploaded_by=actor,
                            accept=ACCEPTED_KINDS, what=WHAT, now=now)
    assert stored.id is not None
    document = NominationDocument(province_id=province.id, file_id=stored.id)
    session.add(document)
    kind = evidence.BY_CONTENT_TYPE[stored.content_type]
    audit.record(session, actor, "Tải lên văn bản cử đầu mối CNTT", province_id=province.id,
                 detail=f"{stored.original_name} ({kind.label}, {stored.size} byte)")
    session.commit()
    return Nomination(document, stored)


def _with_files():
    return (select(NominationDocument, StoredFile).join(StoredFile, col(StoredFile.id) == NominationDocument.file_id)
            .order_by(col(StoredFile.uploaded_at), col(NominationDocument.id)))


def latest(session: Session, province_id: int) -> Nomination | None:
    """The province's newest nomination document."""
    found = None
    for document, stored in session.exec(_with_files().where(NominationDocument.province_id == province_id)):
        found = Nomination(document, stored)
    return found


def latest_by_province(session: Session) -> dict[int, Nomination]:
    """Each province's newest nomination document, for the ministry's table."""
    return {document.province_id: Nomination(document, stored) for document, stored in session.exec(_with_files())}
