"""The province's explanations (giải trình) during an appraisal's explanation window: a text per line and new
evidence files, taken until the end of the window's last day (portal time zone), checked on every save like the
assessment's own lock; two officers saving the same line meet the same refusal as the assessment's saves.
(The window itself is opened by the ministry: portal/domain/appraisal.py.)
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from portal.domain import audit, evidence, text
from portal.domain import versioned_saves as versions
from portal.domain.appraisal import MAX_COMMENT, AppraisalRefused, appraisal_for, clean_text
from portal.domain.campaigns import is_past
from portal.domain.framework import Line
from portal.domain.versioned_saves import Outcome, SaveResult, save_versioned
from portal.models import (
    Appraisal,
    AppraisalEvidence,
    AppraisalExplanation,
    AppraisalState,
    Assessment,
    Campaign,
    StoredFile,
    User,
    utcnow,
)

MAX_FILES_PER_LINE = 20


def explanations(session: Session, assessment: Assessment) -> dict[str, AppraisalExplanation]:
    return {row.line_code: row for row in session.exec(
        select(AppraisalExplanation).where(AppraisalExplanation.assessment_id == assessment.id))}


def files_by_line(session: Session, assessment: Assessment) -> dict[str, list[tuple[AppraisalEvidence, StoredFile]]]:
    """The files the province added with its explanations, by line code, oldest first (one query)."""
    found: dict[str, list[tuple[AppraisalEvidence, StoredFile]]] = {}
    for link, stored in session.exec(
            select(AppraisalEvidence, StoredFile).join(StoredFile, StoredFile.id == AppraisalEvidence.file_id)
            .where(AppraisalEvidence.assessment_id == assessment.id)
            .order_by(col(AppraisalEvidence.added_at), col(AppraisalEvidence.id))):
        found.setdefault(link.line_code, []).append((link, stored))
    return found



def explanation_open(appraisal: Appraisal | None, campaign: Campaign, tz_name: str,
                     now: datetime | None = None) -> bool:
    """Whether the province may explain now: the window is open and its last day has not passed."""
    return (campaign.is_current and appraisal is not None and appraisal.state == AppraisalState.EXPLAINING
            and not is_past(appraisal.explanation_until, tz_name, now))


def explanation_closed_message(appraisal: Appraisal | None, campaign: Campaign) -> str:
    if not campaign.is_current:
        return "Đợt đánh giá này đã kết thúc: kết quả thẩm định chỉ còn để xem."
    if appraisal is None or appraisal.explanation_opened_at is None:
        return "Bộ Nội vụ chưa gửi kết quả thẩm định vòng 1 để tỉnh giải trình."
    return (f"Đã hết hạn giải trình (23:59 ngày {appraisal.explanation_until:%d/%m/%Y}, giờ Việt Nam): "
            "Cổng không nhận thêm giải trình.")


def _check_explaining(session: Session, assessment: Assessment, campaign: Campaign, tz_name: str,
                      now: datetime | None) -> Appraisal:
    appraisal = appraisal_for(session, assessment)
    if not explanation_open(appraisal, campaign, tz_name, now):
        raise AppraisalRefused(explanation_closed_message(appraisal, campaign))
    return appraisal


def _explanation_row(session: Session, assessment: Assessment, line: Line) -> AppraisalExplanation | None:
    return session.exec(select(AppraisalExplanation).where(AppraisalExplanation.assessment_id == assessment.id,
                                                          AppraisalExplanation.line_code == line.code)).first()


def save_explanation(session: Session, user: User, assessment: Assessment, campaign: Campaign, line: Line,
                     form: dict[str, str], tz_name: str, now: datetime | None = None) -> SaveResult:
    """Save the province's explanation of one line (text, the version it was based on); refused after the window's
    deadline (AppraisalRefused) and, when another officer saved meanwhile, with both texts (`conflict`)."""
    _check_explaining(session, assessment, campaign, tz_name, now)
    result = SaveResult(submitted=dict(form))
    explanation = clean_text(form.get("explanation", ""))
    if len(explanation) > MAX_COMMENT:
        result.error = f"Phần giải trình dài quá {MAX_COMMENT} ký tự; vui lòng rút gọn."
        return result
    based_on = versions.based_on(form)
    if based_on is None:
        result.error = versions.MISSING_VERSION
        return result
    values = {"text": explanation, "updated_at": now or utcnow(), "updated_by_id": user.id}
    outcome, row = save_versioned(session, _explanation_row(session, assessment, line), based_on, values,
                                  new_row=AppraisalExplanation, compared=("text",), keys={
                                      "assessment_id": assessment.id, "province_id": assessment.province_id,
                                      "line_code": line.code})
    if outcome == Outcome.UNCHANGED:
        result.row = row
        return result
    if outcome == Outcome.STALE:
        current = _explanation_row(session, assessment, line)
        if current is None:
            result.error = versions.STALE_FORM
            return result
        result.conflict = versions.Conflict(
            theirs=current.text, theirs_explanation="", theirs_by=versions.author_name(session, current),
            theirs_at=current.updated_at, yours=explanation, yours_explanation="", version=current.version)
        return result
    audit.record(session, user, f"Giải trình tiêu chí {line.code}", province_id=assessment.province_id,
                 detail=explanation[:2000] or "(xóa giải trình)")
    session.commit()
    session.refresh(row)
    result.row, result.changed = row, True
    return result


def add_evidence(session: Session, user: User, assessment: Assessment, campaign: Campaign, line: Line,
                 filename: str, data: bytes, *, files_dir: str | Path, max_bytes: int, tz_name: str,
                 now: datetime | None = None) -> AppraisalEvidence:
    """Store a new evidence file with the line's explanation (the one file store: checked from its bytes, kept by
    content hash, served as an attachment). Refused after the window's deadline; audited (committed)."""
    _check_explaining(session, assessment, campaign, tz_name, now)
    already = len(session.exec(select(AppraisalEvidence.id).where(
        AppraisalEvidence.assessment_id == assessment.id, AppraisalEvidence.line_code == line.code)).all())
    if already >= MAX_FILES_PER_LINE:
        raise evidence.EvidenceError(f"Tiêu chí {line.code} đã có {already} tài liệu giải trình, tối đa "
                                     f"{MAX_FILES_PER_LINE}.")
    moment = now or utcnow()
    stored = evidence.store(session, data, filename, files_dir=files_dir, max_bytes=max_bytes, uploaded_by=user,
                            what="Tài liệu kiểm chứng bổ sung", now=moment)
    link = AppraisalEvidence(assessment_id=assessment.id, province_id=assessment.province_id, line_code=line.code,
                             file_id=stored.id, added_at=moment, added_by_id=user.id)
    session.add(link)
    audit.record(session, user, f"Giải trình tiêu chí {line.code}: tải lên tài liệu",
                 province_id=assessment.province_id,
                 detail=f"“{stored.original_name}” ({text.size_vn(stored.size)})")
    session.commit()
    return link
