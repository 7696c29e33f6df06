"""The demo's self-assessments, each at another step: Hà Nội half-way, Hải Phòng sent, Đà Nẵng appraised and released.

Every step goes through the same domain functions a person's clicks call (saves, approval, sending, the appraisal's
rounds), so the demo shows what the portal really stores. Safe to run again: a province that scored anything is
left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from portal.domain import appraisal, assessment, assessment_sending, framework
from portal.domain import appraisal_explanations as explaining
from portal.domain.campaigns import local_today
from portal.models import Campaign, Province, User, utcnow

DEMO_REPORT = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
_FIGURES = {"yes_no": {"answer": "yes"}, "percentage": {"numerator": "46", "denominator": "50"},
            "deduction": {"cases": "1"}, "levels": {"level": "1"}, "bonus": {"points": "0"},
            "penalty": {"points": "0"}}


def build(session: Session, campaign: Campaign, admin: User | None, *, tz_name: str, files_dir: str | Path | None,
          max_bytes: int = 10 * 1024 * 1024) -> list[str]:
    """The three demo assessments (the sent and appraised ones only with a file store for their reports)."""
    done = []
    version = framework.load_sample(session, campaign, admin)
    content = framework.load(version)
    scored = _score(session, campaign, "ha-noi", version, content, tz_name, half=True)
    if scored:
        done.append(f"{scored[0]}: tự đánh giá được nửa chừng ({scored[1]} tiêu chí thành phần đã chấm)")
    if files_dir is None or admin is None:
        return done
    for slug, appraise in (("hai-phong", False), ("da-nang", True)):
        scored = _score(session, campaign, slug, version, content, tz_name, half=False)
        if not scored:
            continue
        row, account = scored[2], scored[3]
        errors = assessment_sending.save_approval(
            session, account, row, campaign, number="12/QĐ-UBND",
            day=f"{local_today(tz_name) - timedelta(days=1):%d/%m/%Y}",
            signer="Chủ tịch UBND (chạy thử)", report=("Báo cáo tự đánh giá (chạy thử).pdf", DEMO_REPORT),
            files_dir=files_dir, max_bytes=max_bytes, tz_name=tz_name)
        assert not errors, errors
        assessment_sending.send(session, account, row, campaign, confirmed=True, tz_name=tz_name)
        if not appraise:
            done.append(f"{scored[0]}: đã gửi kết quả tự đánh giá ({scored[1]} tiêu chí thành phần)")
            continue
        _appraise(session, admin, account, row, campaign, content, tz_name)
        done.append(f"{scored[0]}: đã gửi, đã thẩm định hai vòng và công bố kết quả cho tỉnh")
    return done


def _score(session: Session, campaign: Campaign, slug: str, version, content, tz_name: str, *, half: bool):
    """Score the lines the province enters (the first half, or all) with figures of each kind."""
    province = session.exec(select(Province).where(Province.slug == slug)).first()
    account = session.exec(select(User).where(User.username == slug)).first()
    if province is None or account is None:
        return None
    row = assessment.get_or_create(session, campaign, province.id)
    if assessment.score_rows(session, row):
        return None
    lines = [line for _, _, line in content.lines() if line.needs_input]
    count = 0
    for line in lines[: len(lines) // 2] if half else lines:
        form = {**_FIGURES[line.kind], "version": "0",
                "explanation": "Số liệu chạy thử." if line.kind == "percentage" else ""}
        if assessment.save_line(session, account, row, campaign, version, content, line, form, tz_name).ok:
            count += 1
    return province.name, count, row, account


def _appraise(session: Session, admin: User, account: User, row, campaign: Campaign, content, tz_name: str) -> None:
    """Round 1 takes points off two lines; the province explained one within a window that has now ended; round 2
    gives that one back; closed and released. The window is set in the past (`now`) so the demo need not wait."""
    now = utcnow()
    first, second = [line for _, _, line in content.lines() if line.kind == "yes_no"][:2]
    earlier: datetime = now - timedelta(days=5)
    for line, comment in ((first, "Chưa có văn bản chứng minh ban hành đúng hạn."),
                          (second, "Tài liệu kiểm chứng không khớp với nội dung tiêu chí.")):
        assert appraisal.save_score(session, admin, row, campaign, line, {"answer": "no", "comment": comment,
                                                                          "version": "0", "round": "1"},
                                    tz_name, now=earlier).ok
    until = local_today(tz_name, earlier) + timedelta(days=2)
    assert appraisal.open_explanation(session, admin, row, campaign, f"{until:%d/%m/%Y}", tz_name, now=earlier) == {}
    assert explaining.save_explanation(session, account, row, campaign, first,
                                      {"explanation": "Kế hoạch ban hành đúng hạn; công văn số 15 kèm theo.",
                                       "version": "0"}, tz_name, now=earlier + timedelta(days=1)).ok
    appraisal.start_round2(session, admin, row, campaign, tz_name, now=now)
    assert appraisal.save_score(session, admin, row, campaign, first, {
        "answer": "yes", "comment": "Chấp nhận giải trình.", "version": "0", "round": "2"}, tz_name, now=now).ok
    appraisal.close(session, admin, row, campaign, tz_name, now=now)
    appraisal.release(session, admin, row, campaign, tz_name, now=now)
