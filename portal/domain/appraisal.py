"""The ministry's appraisal ("Thẩm định") of a province's self-assessment: two rounds of appraised scores, the
province's explanations (giải trình) in between, the close and the release, and the final appraised points.

The steps, each taken by the ministry and audited:

    vòng 1 (round1) ─ open the explanation window ─> giải trình (explaining) ─ after its deadline ─> vòng 2 (round2)
    ─ close ─> kết thúc (closed) ─ release ─> the province sees the final points

An appraiser enters on a line what the province enters (the figures, the yes/no, the level: the same form), and
the points come from the same scoring functions, so an appraised score is never outside the line's maximum and
is read the same way in every column. Each line saves on its own, with the same refusal as the province's saves
when another appraiser saved the line meanwhile (both values shown).

What the province sees: nothing of round 1 until the explanation window opens (which releases round 1 to it);
nothing of round 2 nor the final points until the ministry releases the closed appraisal. It explains line by
line (a text and new evidence files: portal/domain/appraisal_explanations.py) until the end of the window's last
day (portal time zone), refused after it even if nothing else ran, like the assessment's own lock.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from portal.domain import assessment as assessments
from portal.domain import audit, notices
from portal.domain import versioned_saves as versions
from portal.domain.campaigns import is_past
from portal.domain.dates import parse_date_vn
from portal.domain.framework import Framework, Line, format_points
from portal.domain.scoring import Entry, InputError, Totals, describe, read_figures, score, totals
from portal.domain.versioned_saves import Outcome, SaveResult, save_versioned
from portal.input_cleaning import storable
from portal.models import (
    Appraisal,
    AppraisalScore,
    AppraisalState,
    Assessment,
    Campaign,
    User,
    utcnow,
)

MAX_COMMENT = 4000
STATE_LABELS = {
    None: "Chưa thẩm định",
    AppraisalState.ROUND1: "Vòng 1: đang thẩm định",
    AppraisalState.EXPLAINING: "Tỉnh giải trình",
    AppraisalState.ROUND2: "Vòng 2: đang thẩm định",
    AppraisalState.CLOSED: "Đã kết thúc thẩm định",
}


class AppraisalRefused(Exception):
    """A step or a save refused; `message` says why, in Vietnamese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def state_label(appraisal: Appraisal | None) -> str:
    """The appraisal's state as both sides read it."""
    if appraisal is not None and appraisal.released_at is not None:
        return "Đã công bố kết quả thẩm định"
    return STATE_LABELS[appraisal.state if appraisal else None]


# ---------------------------------------------------------------- reading


def appraisal_for(session: Session, assessment: Assessment) -> Appraisal | None:
    return session.exec(select(Appraisal).where(Appraisal.assessment_id == assessment.id)).first()


def score_rows(session: Session, assessment: Assessment) -> dict[int, dict[str, AppraisalScore]]:
    """The appraisers' entries by round (1, 2) and line code."""
    found: dict[int, dict[str, AppraisalScore]] = {1: {}, 2: {}}
    for row in session.exec(select(AppraisalScore).where(AppraisalScore.assessment_id == assessment.id)):
        found[row.round][row.line_code] = row
    return found


def entry_of(row: AppraisalScore) -> Entry:
    return Entry(json.loads(row.figures), row.points, row.not_applicable)


def round1_released(appraisal: Appraisal | None) -> bool:
    """Whether the province may see round 1's scores and comments (from the opening of the explanation window)."""
    return appraisal is not None and appraisal.explanation_opened_at is not None


def released(appraisal: Appraisal | None) -> bool:
    """Whether the province may see round 2 and the final appraised points."""
    return appraisal is not None and appraisal.released_at is not None


def current_round(appraisal: Appraisal | None) -> int | None:
    """The round appraisers enter scores in now (1 before the explanation window, 2 after it); None otherwise."""
    if appraisal is None or appraisal.state == AppraisalState.ROUND1:
        return 1
    return 2 if appraisal.state == AppraisalState.ROUND2 else None


def refusal(assessment: Assessment, campaign: Campaign, tz_name: str, now: datetime | None = None) -> str:
    """Why the ministry cannot appraise this assessment now (empty: it can).

    An assessment is appraised once the province sent it, or once its deadline passed unsent (the ministry
    appraises what was entered): either way the self-assessment no longer changes.
    """
    if not campaign.is_current:
        return "Đợt đánh giá này đã kết thúc: kết quả thẩm định chỉ còn để xem."
    if assessment.sent_at is None and assessments.is_open(assessment, campaign, tz_name, now):
        return "Tỉnh chưa gửi kết quả tự đánh giá và hạn tự đánh giá chưa qua: chưa thẩm định được."
    return ""


# ---------------------------------------------------------------- the appraisers' scores


def clean_text(value: str) -> str:
    value = storable(unicodedata.normalize("NFC", value or "")).replace("\r\n", "\n").replace("\u200b", "")
    return value.strip()


def _start(session: Session, actor: User, assessment: Assessment, campaign: Campaign) -> Appraisal:
    """The appraisal of the assessment, begun by its first appraised score (audited)."""
    found = appraisal_for(session, assessment)
    if found is not None:
        return found
    row = Appraisal(assessment_id=assessment.id, campaign_id=campaign.id, province_id=assessment.province_id)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # another appraiser's first save came first
        session.rollback()
        return appraisal_for(session, assessment)
    audit.record(session, actor, "Bắt đầu thẩm định", province_id=assessment.province_id, detail=campaign.name)
    return row


def save_score(session: Session, actor: User, assessment: Assessment, campaign: Campaign, line: Line,
               form: dict[str, str], tz_name: str, now: datetime | None = None) -> SaveResult:
    """Save an appraiser's entry on one line in the current round: the figures (as the province enters them), a
    comment, the version it was based on and the round the form was shown for.

    Raises AppraisalRefused when the assessment cannot be appraised or the round has moved on. A bad figure gives
    `error`, a stale version `conflict` with both values; nothing is saved then. Audited.
    """
    problem = refusal(assessment, campaign, tz_name, now)
    if problem:
        raise AppraisalRefused(problem)
    if not line.needs_input:
        raise AppraisalRefused(f"Tiêu chí {line.code} lấy điểm từ điều tra xã hội học, không thẩm định tại đây.")
    appraisal = appraisal_for(session, assessment)
    round_ = current_round(appraisal)
    if round_ is None or form.get("round", "") != str(round_):
        raise AppraisalRefused(f"Không nhận điểm: thẩm định đang ở bước “{state_label(appraisal)}”. "
                               "Vui lòng tải lại trang.")
    result = SaveResult(submitted=dict(form))
    comment = clean_text(form.get("comment", ""))
    if len(comment) > MAX_COMMENT:
        result.error = f"Nhận xét dài quá {MAX_COMMENT} ký tự; vui lòng rút gọn."
        return result
    based_on = versions.based_on(form)
    if based_on is None:
        result.error = versions.MISSING_VERSION
        return result
    try:
        entry = score(line, read_figures(line, form))
    except InputError as bad:
        result.error = str(bad)
        return result
    moment = now or utcnow()
    _start(session, actor, assessment, campaign)
    row = _score_row(session, assessment, line, round_)
    values = {"figures": json.dumps(entry.figures, ensure_ascii=False, sort_keys=True), "points": entry.points,
              "not_applicable": entry.not_applicable, "comment": comment, "updated_at": moment,
              "updated_by_id": actor.id}
    old = (describe(line, entry_of(row)) + (f" · nhận xét: “{row.comment}”" if row.comment else "") if row
           else "(chưa thẩm định)")
    outcome, row = save_versioned(session, row, based_on, values, new_row=AppraisalScore, compared=(
        "figures", "comment"), keys={"assessment_id": assessment.id, "province_id": assessment.province_id,
                                     "line_code": line.code, "round": round_})
    if outcome == Outcome.STALE:
        return _conflict(session, assessment, line, round_, entry, comment, result)
    if outcome == Outcome.UNCHANGED:
        session.commit()  # the appraisal itself may have begun with this save
        result.row = row
        return result
    new = describe(line, entry) + (f" · nhận xét: “{comment}”" if comment else "")
    audit.record(session, actor, f"Thẩm định vòng {round_}: chấm tiêu chí {line.code}",
                 province_id=assessment.province_id, detail=f"{old} → {new}"[:4000])
    session.commit()
    result.row, result.changed = row, True
    return result


def _score_row(session: Session, assessment: Assessment, line: Line, round_: int) -> AppraisalScore | None:
    return session.exec(select(AppraisalScore).where(AppraisalScore.assessment_id == assessment.id,
                                                     AppraisalScore.line_code == line.code,
                                                     AppraisalScore.round == round_)).first()


def _conflict(session: Session, assessment: Assessment, line: Line, round_: int, entry: Entry, comment: str,
              result: SaveResult) -> SaveResult:
    current = _score_row(session, assessment, line, round_)
    if current is None:  # the version came from a form of another round: nothing to show but a reload
        result.error = versions.STALE_FORM
        return result
    result.conflict = versions.Conflict(
        theirs=describe(line, entry_of(current)), theirs_explanation=current.comment,
        theirs_by=versions.author_name(session, current), theirs_at=current.updated_at,
        yours=describe(line, entry), yours_explanation=comment, version=current.version)
    return result


# ---------------------------------------------------------------- the steps


def _step(session: Session, appraisal: Appraisal, expected: str, **values) -> bool:
    """Move the appraisal on from `expected`, conditionally: two appraisers pressing the same button move it once."""
    done = session.exec(update(Appraisal).where(Appraisal.id == appraisal.id, Appraisal.state == expected,
                                                Appraisal.version == appraisal.version)
                        .values(version=Appraisal.version + 1, **values).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.rollback()
        return False
    session.refresh(appraisal)
    return True


def _require(session: Session, assessment: Assessment, campaign: Campaign, tz_name: str,
             now: datetime | None) -> Appraisal | None:
    problem = refusal(assessment, campaign, tz_name, now)
    if problem:
        raise AppraisalRefused(problem)
    return appraisal_for(session, assessment)


def open_explanation(session: Session, actor: User, assessment: Assessment, campaign: Campaign, until_text: str,
                     tz_name: str, now: datetime | None = None) -> dict[str, str]:
    """End round 1: release its scores and comments to the province, which explains until the end of `until`
    (portal time zone). Audited; the province gets a notice. Returns the errors by field (nothing done when any).

    Posted again once done (a double click), it does nothing more.
    """
    appraisal = _require(session, assessment, campaign, tz_name, now)
    if appraisal is not None and appraisal.state != AppraisalState.ROUND1:
        return {} if appraisal.explanation_opened_at else {"deadline": "Thẩm định không còn ở vòng 1."}
    until = parse_date_vn(until_text or "")
    if until is None:
        return {"deadline": "Hạn giải trình: vui lòng nhập ngày theo dạng dd/mm/yyyy."}
    if is_past(until, tz_name, now):
        return {"deadline": "Hạn giải trình đã qua; vui lòng chọn một ngày từ hôm nay trở đi."}
    if appraisal is None or not session.exec(select(AppraisalScore.id).where(
            AppraisalScore.assessment_id == assessment.id, AppraisalScore.round == 1)).first():
        return {"deadline": "Chưa có tiêu chí nào được thẩm định ở vòng 1."}
    moment = now or utcnow()
    if not _step(session, appraisal, AppraisalState.ROUND1, state=AppraisalState.EXPLAINING,
                 explanation_until=until, explanation_opened_at=moment):
        return {}
    _record_and_tell(session, actor, assessment, "Thẩm định: mở giải trình",
                     f"{campaign.name}: kết quả vòng 1 gửi tỉnh; hạn giải trình 23:59 ngày {until:%d/%m/%Y}",
                     "Bộ Nội vụ gửi kết quả thẩm định vòng 1 để tỉnh giải trình",
                     f"Tỉnh xem điểm và nhận xét thẩm định vòng 1 ở mục “Thẩm định”, giải trình từng tiêu chí (kèm tài "
                     f"liệu kiểm chứng bổ sung nếu có) trước 23:59 ngày {until:%d/%m/%Y} (giờ Việt Nam).")
    return {}


def _record_and_tell(session: Session, actor: User, assessment: Assessment, action: str, detail: str, title: str,
                     body: str) -> None:
    """Audit a step and post its notice to the province, in one commit."""
    audit.record(session, actor, action, province_id=assessment.province_id, detail=detail)
    notices.post_system_notice(session, assessment.province_id, title, body, commit=False)
    session.commit()


def extend_explanation(session: Session, actor: User, assessment: Assessment, campaign: Campaign, until_text: str,
                       tz_name: str, now: datetime | None = None) -> dict[str, str]:
    """Move the explanation window's deadline to the end of a later day `until` (portal time zone), also after the
    window closed as long as round 2 has not started. Audited; the province gets a notice. Returns the errors by
    field (nothing done when any); raises AppraisalRefused when there is no window to extend.

    Posted again with the deadline it already has (a double click), it does nothing more.
    """
    appraisal = _require(session, assessment, campaign, tz_name, now)
    if appraisal is None or appraisal.explanation_opened_at is None:
        raise AppraisalRefused("Chưa mở giải trình: chưa có hạn giải trình để gia hạn.")
    if appraisal.state != AppraisalState.EXPLAINING:
        raise AppraisalRefused(f"Không gia hạn giải trình được nữa: thẩm định đang ở bước “{state_label(appraisal)}”.")
    until = parse_date_vn(until_text or "")
    before = appraisal.explanation_until
    if until is None:
        return {"until": "Hạn giải trình mới: vui lòng nhập ngày theo dạng dd/mm/yyyy."}
    if until == before:
        return {}
    if until < before:
        return {"until": f"Hạn giải trình mới phải sau hạn hiện tại (ngày {before:%d/%m/%Y})."}
    if is_past(until, tz_name, now):
        return {"until": "Hạn giải trình mới đã qua; vui lòng chọn một ngày từ hôm nay trở đi."}
    if not _step(session, appraisal, AppraisalState.EXPLAINING, explanation_until=until):
        # Another appraiser moved the appraisal meanwhile (round 2, or another extension): nothing done.
        session.refresh(appraisal)
        if appraisal.explanation_until == until:
            return {}
        return {"until": "Thẩm định vừa được người khác thay đổi; vui lòng tải lại trang rồi gia hạn lại."}
    _record_and_tell(session, actor, assessment, "Thẩm định: gia hạn giải trình",
                     f"{campaign.name}: hạn giải trình từ 23:59 ngày {before:%d/%m/%Y} đến 23:59 ngày {until:%d/%m/%Y}",
                     "Bộ Nội vụ gia hạn giải trình kết quả thẩm định vòng 1",
                     f"Tỉnh được giải trình từng tiêu chí (kèm tài liệu kiểm chứng bổ sung nếu có) đến hết 23:59 ngày "
                     f"{until:%d/%m/%Y} (giờ Việt Nam) ở mục “Thẩm định”.")
    return {}


def start_round2(session: Session, actor: User, assessment: Assessment, campaign: Campaign, tz_name: str,
                 now: datetime | None = None) -> None:
    """Begin round 2 once the explanation window's last day has passed (audited). Idempotent once done."""
    appraisal = _require(session, assessment, campaign, tz_name, now)
    if appraisal is not None and appraisal.state in (AppraisalState.ROUND2, AppraisalState.CLOSED):
        return
    if appraisal is None or appraisal.state != AppraisalState.EXPLAINING:
        raise AppraisalRefused("Vòng 2 bắt đầu sau khi tỉnh giải trình kết quả vòng 1.")
    if not is_past(appraisal.explanation_until, tz_name, now):
        raise AppraisalRefused(f"Tỉnh còn được giải trình đến hết ngày {appraisal.explanation_until:%d/%m/%Y}: "
                               "vòng 2 bắt đầu sau hạn đó.")
    if _step(session, appraisal, AppraisalState.EXPLAINING, state=AppraisalState.ROUND2, round2_at=now or utcnow()):
        audit.record(session, actor, "Thẩm định: bắt đầu vòng 2", province_id=assessment.province_id,
                     detail=campaign.name)
        session.commit()


def close(session: Session, actor: User, assessment: Assessment, campaign: Campaign, tz_name: str,
          now: datetime | None = None) -> None:
    """End the appraisal after round 2 (audited): no score changes any more. Idempotent once done."""
    appraisal = _require(session, assessment, campaign, tz_name, now)
    if appraisal is not None and appraisal.state == AppraisalState.CLOSED:
        return
    if appraisal is None or appraisal.state != AppraisalState.ROUND2:
        raise AppraisalRefused("Kết thúc thẩm định sau vòng 2.")
    if _step(session, appraisal, AppraisalState.ROUND2, state=AppraisalState.CLOSED, closed_at=now or utcnow()):
        appraised = final_points(session, assessment, _content(session, campaign)).totals.overall
        audit.record(session, actor, "Kết thúc thẩm định", province_id=assessment.province_id,
                     detail=f"{campaign.name}: điểm thẩm định {format_points(appraised.score)}/"
                            f"{format_points(appraised.maximum)}")
        session.commit()


def release(session: Session, actor: User, assessment: Assessment, campaign: Campaign, tz_name: str,
            now: datetime | None = None) -> None:
    """Show the closed appraisal's result to the province (audited; the province gets a notice). Idempotent."""
    appraisal = _require(session, assessment, campaign, tz_name, now)
    if appraisal is None or appraisal.state != AppraisalState.CLOSED:
        raise AppraisalRefused("Chỉ công bố kết quả cho tỉnh sau khi kết thúc thẩm định.")
    if appraisal.released_at is not None:
        return
    if _step(session, appraisal, AppraisalState.CLOSED, released_at=now or utcnow()):
        _record_and_tell(session, actor, assessment, "Công bố kết quả thẩm định cho tỉnh", campaign.name,
                         "Bộ Nội vụ công bố kết quả thẩm định",
                         "Tỉnh xem điểm thẩm định cuối cùng của từng tiêu chí ở mục “Thẩm định”.")


def _content(session: Session, campaign: Campaign) -> Framework:
    found = assessments.framework_of(session, campaign)
    if found is None:
        raise AppraisalRefused("Đợt đánh giá chưa có bộ tiêu chí.")
    return found[1]

# ---------------------------------------------------------------- the final appraised points


@dataclass(frozen=True)
class FinalAppraisal:
    """The appraised points of every line, where each comes from, and the totals per criterion, area and overall."""

    entries: dict[str, Entry]
    sources: dict[str, str]  # line code -> "round2" | "round1" | "self"
    totals: Totals


def combine(self_entries: dict[str, Entry], round1: dict[str, Entry], round2: dict[str, Entry]
            ) -> tuple[dict[str, Entry], dict[str, str]]:
    """Each line's appraised entry: round 2's where given, else round 1's, else the province's own score.

    Appraisers enter only the lines they change; a line they leave alone keeps the score before it (round 1's,
    or the province's when neither round touched it). A line nobody scored stays unscored (0 points).
    """
    entries: dict[str, Entry] = {}
    sources: dict[str, str] = {}
    for source, found in (("self", self_entries), ("round1", round1), ("round2", round2)):
        for code, entry in found.items():
            entries[code], sources[code] = entry, source
    return entries, sources


def final_points(session: Session, assessment: Assessment, content: Framework) -> FinalAppraisal:
    """The final appraised points of a closed appraisal, per line and totalled per criterion, area and overall
    (the same totals as the self-assessment: "không áp dụng" leaves the maximum, bonus and penalty lines add and
    take, a criterion never below 0). Survey lines stay empty here; the results fill them.

    Raises AppraisalRefused while the appraisal is not closed. (The ministry's overview shows the running
    figure with `combine` before that.)
    """
    appraisal = appraisal_for(session, assessment)
    if appraisal is None or appraisal.state != AppraisalState.CLOSED:
        raise AppraisalRefused("Thẩm định chưa kết thúc: chưa có điểm thẩm định cuối cùng.")
    rows = score_rows(session, assessment)
    entries, sources = combine(assessments.entries(assessments.score_rows(session, assessment)),
                               {code: entry_of(row) for code, row in rows[1].items()},
                               {code: entry_of(row) for code, row in rows[2].items()})
    return FinalAppraisal(entries, sources, totals(content, entries))
