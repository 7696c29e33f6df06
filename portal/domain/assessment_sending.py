"""Approval and sending of a province's self-assessment, and the ministry's return for correction.

The province uploads its approved report (Báo cáo tự đánh giá) and records the decision approving it
(number, date, signer); then "Gửi kết quả tự đánh giá" shows a summary, asks for a confirmation, and locks
and stamps the assessment (who, when; audited). Sending follows the deadline like every save: refused once
it passed, unless the ministry's exception runs. The ministry may return a sent assessment with a reason
(audited; the province gets a notice): it opens again until the deadline or the exception.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, select

from portal.domain import assessment as assessments
from portal.domain import assessment_evidence, audit, evidence, notices
from portal.domain.assessment import AssessmentClosed
from portal.domain.campaigns import local_today
from portal.domain.dates import parse_date_vn
from portal.domain.framework import Framework
from portal.domain.scoring import totals
from portal.input_cleaning import storable
from portal.models import Appraisal, Assessment, Campaign, User, utcnow

REPORT_KINDS = (evidence.PDF, evidence.DOC, evidence.DOCX, evidence.ODT)
MAX_TEXT = 200


class SendingRefused(Exception):
    """A send refused for a reason the province can fix; `message` in Vietnamese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Summary:
    """What the province is about to send: the total, the lines not scored, the lines missing evidence."""

    score: float
    maximum: float
    to_answer: int
    not_scored: list[str]
    missing_evidence: list[str]


def summary(session: Session, assessment: Assessment, content: Framework) -> Summary:
    """The sending summary of an assessment (codes in the framework's order)."""
    entries = assessments.entries(assessments.score_rows(session, assessment))
    sums = totals(content, entries).overall
    not_scored = [line.code for area in content.areas for criterion in area.criteria
                  for line in criterion.subcriteria if line.needs_input and line.code not in entries]
    counts = assessment_evidence.counts_of(assessment_evidence.files_by_line(session, assessment))
    return Summary(sums.score, sums.maximum, sums.to_answer, not_scored,
                   assessment_evidence.missing_evidence(content, entries, counts))


def approval_missing(assessment: Assessment) -> list[str]:
    """What the approval still lacks, as a person reads it (empty: ready to send)."""
    missing = []
    if assessment.report_file_id is None:
        missing.append("báo cáo tự đánh giá đã phê duyệt")
    if not assessment.decision_number:
        missing.append("số quyết định phê duyệt")
    if assessment.decision_date is None:
        missing.append("ngày quyết định")
    if not assessment.decision_signer:
        missing.append("người ký quyết định")
    return missing


def _clean(text: str) -> str:
    return storable(unicodedata.normalize("NFC", " ".join((text or "").split())))


def save_approval(session: Session, user: User, assessment: Assessment, campaign: Campaign, *, number: str,
                  day: str, signer: str, report: tuple[str, bytes] | None, files_dir: str | Path, max_bytes: int,
                  tz_name: str, now: datetime | None = None) -> dict[str, str]:
    """Record the approval: the decision's number, date and signer, and the approved report when one is given.

    Returns the errors by field (nothing saved when any). Raises AssessmentClosed after the deadline or once sent.
    """
    if not assessments.is_open(assessment, campaign, tz_name, now):
        raise AssessmentClosed(assessments.closed_message(assessment, campaign))
    errors: dict[str, str] = {}
    number, signer = _clean(number), _clean(signer)
    decided: date | None = parse_date_vn(day or "")
    if not number:
        errors["number"] = "Vui lòng nhập số quyết định phê duyệt (ví dụ 123/QĐ-UBND)."
    elif len(number) > MAX_TEXT:
        errors["number"] = f"Số quyết định dài quá {MAX_TEXT} ký tự."
    if decided is None:
        errors["day"] = "Ngày quyết định: vui lòng nhập ngày theo dạng dd/mm/yyyy."
    elif decided > local_today(tz_name, now):  # the officer's today, not UTC's (from 17:00 UTC they differ)
        errors["day"] = "Ngày quyết định không thể sau hôm nay."
    if not signer:
        errors["signer"] = "Vui lòng nhập người ký quyết định (họ tên, chức vụ)."
    elif len(signer) > MAX_TEXT:
        errors["signer"] = f"Người ký dài quá {MAX_TEXT} ký tự."
    stored = None
    if report is not None and not errors:
        try:
            stored = evidence.store(session, report[1], report[0], files_dir=files_dir, max_bytes=max_bytes,
                                    uploaded_by=user, accept=REPORT_KINDS, what="Báo cáo tự đánh giá", now=now)
        except evidence.EvidenceError as problem:
            errors["report"] = problem.message
    elif report is None and assessment.report_file_id is None:
        errors["report"] = "Vui lòng tải lên báo cáo tự đánh giá đã phê duyệt (PDF hoặc Word)."
    if errors:
        return errors
    assessment.decision_number, assessment.decision_date, assessment.decision_signer = number, decided, signer
    if stored is not None:
        assessment.report_file_id = stored.id
    session.add(assessment)
    audit.record(session, user, "Phê duyệt báo cáo tự đánh giá", province_id=assessment.province_id,
                 detail=f"Quyết định số {number} ngày {decided:%d/%m/%Y}, người ký: {signer}"
                 + (f"; báo cáo “{stored.original_name}”" if stored else ""))
    session.commit()
    return {}


def send(session: Session, user: User, assessment: Assessment, campaign: Campaign, *, confirmed: bool,
         tz_name: str, now: datetime | None = None) -> None:
    """Send the assessment to the ministry: locked and stamped (who, when), audited (committed).

    Raises AssessmentClosed after the deadline (unless an exception runs) or when already sent, and
    SendingRefused without the approval or the confirmation. The caller tells the ministry.
    """
    if not assessments.is_open(assessment, campaign, tz_name, now):
        raise AssessmentClosed(assessments.closed_message(assessment, campaign))
    missing = approval_missing(assessment)
    if missing:
        raise SendingRefused("Chưa gửi được: còn thiếu " + ", ".join(missing) + ". Vui lòng hoàn tất phần phê duyệt.")
    if not confirmed:
        raise SendingRefused("Vui lòng đánh dấu xác nhận trước khi gửi kết quả tự đánh giá.")
    moment = now or utcnow()
    # Conditional, so two officers pressing "Gửi" at once send once.
    done = session.exec(update(Assessment).where(Assessment.id == assessment.id, Assessment.sent_at.is_(None))
                        .values(sent_at=moment, sent_by_id=user.id).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.rollback()
        session.refresh(assessment)
        raise AssessmentClosed(assessments.closed_message(assessment, campaign))
    audit.record(session, user, "Gửi kết quả tự đánh giá", province_id=assessment.province_id,
                 detail=f"{campaign.name}: quyết định số {assessment.decision_number} "
                        f"ngày {assessment.decision_date:%d/%m/%Y}")
    session.commit()
    session.refresh(assessment)


def return_for_correction(session: Session, actor: User, assessment: Assessment, campaign: Campaign,
                          reason_text: str, now: datetime | None = None) -> dict[str, str]:
    """The ministry returns a sent assessment with a reason (audited; the province gets a notice).

    It opens again for saves until the deadline or the exception. Returns the errors by field.
    """
    reason = storable(unicodedata.normalize("NFC", (reason_text or "").strip()))[:2000]
    if assessment.sent_at is None:
        return {"reason": "Tỉnh chưa gửi kết quả tự đánh giá, không có gì để trả lại."}
    if session.exec(select(Appraisal.id).where(Appraisal.assessment_id == assessment.id)).first() is not None:
        # The appraisers' scores stand on the sent values: changing those under them would void the appraisal.
        return {"reason": "Bộ Nội vụ đã bắt đầu thẩm định kết quả này, không trả lại được nữa."}
    if not reason:
        return {"reason": "Vui lòng ghi lý do trả lại để tỉnh biết cần chỉnh sửa gì."}
    moment = now or utcnow()
    assessment.sent_at, assessment.sent_by_id = None, None
    assessment.returned_at, assessment.returned_by_id, assessment.return_reason = moment, actor.id, reason
    session.add(assessment)
    audit.record(session, actor, "Trả lại kết quả tự đánh giá để chỉnh sửa", province_id=assessment.province_id,
                 detail=f"{campaign.name}: mở lại để tỉnh chỉnh sửa và gửi lại", reason=reason)
    notices.post_system_notice(
        session, assessment.province_id, "Bộ Nội vụ trả lại kết quả tự đánh giá để chỉnh sửa",
        f"Lý do: {reason}\nTỉnh chỉnh sửa rồi gửi lại kết quả tự đánh giá trước hạn "
        f"23:59 ngày {assessments.deadline_of(assessment, campaign):%d/%m/%Y} (giờ Việt Nam).", commit=False)
    session.commit()
    return {}
