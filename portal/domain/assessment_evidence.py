"""Evidence files (tài liệu kiểm chứng) on the lines of a province's self-assessment.

The files themselves go through the one file store (portal/domain/evidence.py: checked from their bytes,
stored by content hash, served as attachments); this module links them to a line, keeps each upload and
removal in the line's change trail, and tells which scored lines still lack the evidence they expect.
Uploads and removals follow the same lock as scores: refused once the deadline (or the exception) passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from portal.domain import evidence, text
from portal.domain.assessment import AssessmentClosed, closed_message, is_open
from portal.domain.framework import Framework, Line
from portal.domain.scoring import Entry
from portal.models import Assessment, AssessmentEvidence, Campaign, ScoreChange, StoredFile, User, utcnow

MAX_FILES_PER_LINE = 20  # a line's evidence is a few documents; more is a mistake (or an attack on the page)


def files_by_line(session: Session, assessment: Assessment) -> dict[str, list[tuple[AssessmentEvidence, StoredFile]]]:
    """The assessment's evidence files by line code, oldest first (one query)."""
    found: dict[str, list[tuple[AssessmentEvidence, StoredFile]]] = {}
    for link, stored in session.exec(
            select(AssessmentEvidence, StoredFile).join(StoredFile, StoredFile.id == AssessmentEvidence.file_id)
            .where(AssessmentEvidence.assessment_id == assessment.id)
            .order_by(col(AssessmentEvidence.added_at), col(AssessmentEvidence.id))):
        found.setdefault(link.line_code, []).append((link, stored))
    return found


def lacks_evidence(line: Line, entry: Entry | None, file_count: int) -> bool:
    """A line that expects evidence, has a score (not "không áp dụng") and no file: "thiếu tài liệu kiểm chứng"."""
    return bool(line.evidence) and line.needs_input and entry is not None and not entry.not_applicable \
        and file_count == 0


def missing_evidence(content: Framework, entries: Mapping[str, Entry], counts: Mapping[str, int]) -> list[str]:
    """The codes of the lines "thiếu tài liệu kiểm chứng", in the framework's order."""
    return [line.code for area in content.areas for criterion in area.criteria for line in criterion.subcriteria
            if lacks_evidence(line, entries.get(line.code), counts.get(line.code, 0))]


def counts_of(files: Mapping[str, Iterable]) -> dict[str, int]:
    return {code: len(list(items)) for code, items in files.items()}


def _trail(session: Session, user: User, assessment: Assessment, line: Line, old: str, new: str,
           moment: datetime) -> None:
    session.add(ScoreChange(assessment_id=assessment.id, line_code=line.code, province_id=assessment.province_id,
                            at=moment, actor_id=user.id, actor_name=user.full_name or user.username,
                            old_value=old, new_value=new))


def add(session: Session, user: User, assessment: Assessment, campaign: Campaign, line: Line, filename: str,
        data: bytes, *, files_dir: str | Path, max_bytes: int, tz_name: str,
        now: datetime | None = None) -> AssessmentEvidence:
    """Check and store one evidence file on a line, and note it in the line's trail (committed).

    Raises AssessmentClosed after the deadline and evidence.EvidenceError (a Vietnamese `message`) for a
    refused file; nothing is saved then.
    """
    if not is_open(assessment, campaign, tz_name, now):
        raise AssessmentClosed(closed_message(assessment, campaign))
    if not line.needs_input:
        raise evidence.EvidenceError(f"Tiêu chí {line.code} lấy điểm từ điều tra xã hội học, không nhận tài liệu.")
    already = len(session.exec(select(AssessmentEvidence.id).where(
        AssessmentEvidence.assessment_id == assessment.id, AssessmentEvidence.line_code == line.code)).all())
    if already >= MAX_FILES_PER_LINE:
        raise evidence.EvidenceError(f"Tiêu chí {line.code} đã có {already} tài liệu, tối đa {MAX_FILES_PER_LINE}; "
                                     "hãy gộp hoặc xóa bớt trước khi tải thêm.")
    moment = now or utcnow()
    stored = evidence.store(session, data, filename, files_dir=files_dir, max_bytes=max_bytes, uploaded_by=user,
                            what="Tài liệu kiểm chứng", now=moment)
    link = AssessmentEvidence(assessment_id=assessment.id, province_id=assessment.province_id, line_code=line.code,
                              file_id=stored.id, added_at=moment, added_by_id=user.id)
    session.add(link)
    _trail(session, user, assessment, line, "", f"Tải lên tài liệu kiểm chứng “{stored.original_name}” "
           f"({text.size_vn(stored.size)})", moment)
    session.commit()
    return link


def remove(session: Session, user: User, assessment: Assessment, campaign: Campaign, line: Line,
           link: AssessmentEvidence, *, tz_name: str, now: datetime | None = None) -> str:
    """Take an evidence file off its line (before the lock only), noted in the line's trail; returns its name.

    The file itself stays in the store until nothing references it (the store's collection removes it).
    """
    if not is_open(assessment, campaign, tz_name, now):
        raise AssessmentClosed(closed_message(assessment, campaign))
    stored = session.get(StoredFile, link.file_id)
    name = stored.original_name if stored else ""
    session.delete(link)
    _trail(session, user, assessment, line, f"Tài liệu kiểm chứng “{name}”", f"Xóa tài liệu kiểm chứng “{name}”",
           now or utcnow())
    session.commit()
    return name
