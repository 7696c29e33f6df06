"""Thẩm định: the ministry's page of one province's appraisal (three columns per line: self, round 1, round 2; the
current round's form; the steps), and the province's page (what has been released to it; its explanations)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.domain import appraisal as appraisals
from portal.domain import appraisal_explanations as explaining
from portal.domain import assessment as assessments
from portal.domain import assessment_evidence, evidence, index_recompute
from portal.domain.scoring import totals
from portal.domain.text import size_vn
from portal.downloads import stored_file_download
from portal.extensions import db
from portal.models import Assessment, Campaign, Province, Role, StoredFile
from portal.permissions import (
    current_campaign_or_refuse,
    get_appraisal_evidence_for_user,
    get_assessment_for_user,
    ministry_only,
    own_province,
    roles_required,
)

bp = Blueprint("appraisal", __name__, url_prefix="/tham-dinh")
ministry_bp = Blueprint("appraisal_ministry", __name__, url_prefix="/bo/tham-dinh")
LINE_FIELDS = ("answer", "numerator", "denominator", "cases", "level", "points", "comment", "version", "round")


@bp.before_request
@roles_required(Role.PROVINCE, Role.MINISTRY)
def _province_or_ministry() -> None:
    """The province reads what was released to it and explains; the IT focal point has no part."""


@ministry_bp.before_request
@ministry_only
def _ministry_only() -> None:
    """The appraisers' page, their scores and the steps."""


def _tz() -> str:
    return current_app.config["PORTAL_TIMEZONE"]


def _context(assessment: Assessment, *, line_state: dict | None = None) -> dict:
    """Everything a page or a line shows; what the province may not see yet is left out here, not in the template."""
    campaign = db.session.get(Campaign, assessment.campaign_id)
    found = assessments.framework_of(db.session, campaign)
    if found is None:
        abort(404)
    version, content = found
    ministry = current_user.role == Role.MINISTRY
    appraisal = appraisals.appraisal_for(db.session, assessment)
    show1 = ministry or appraisals.round1_released(appraisal)
    show2 = ministry or appraisals.released(appraisal)
    self_rows = assessments.score_rows(db.session, assessment)
    self_entries = assessments.entries(self_rows)
    rounds = appraisals.score_rows(db.session, assessment) if show1 else {1: {}, 2: {}}
    if not show2:
        rounds[2] = {}
    round1 = {code: appraisals.entry_of(row) for code, row in rounds[1].items()}
    round2 = {code: appraisals.entry_of(row) for code, row in rounds[2].items()}
    after1, _ = appraisals.combine(self_entries, round1, {})
    final, sources = appraisals.combine(self_entries, round1, round2)
    refusal = appraisals.refusal(assessment, campaign, _tz())
    wanted = request.args.get("linh-vuc", "")
    if line_state is not None:
        wanted = content.area_of(line_state["line"].code).code
    return dict(
        assessment=assessment, campaign=campaign, content=content, version=version, appraisal=appraisal,
        province=db.session.get(Province, assessment.province_id), ministry=ministry, show1=show1, show2=show2,
        self_rows=self_rows, self_entries=self_entries, self_files=assessment_evidence.files_by_line(
            db.session, assessment), rounds=rounds, sources=sources if show2 else {},
        explanations=explaining.explanations(db.session, assessment) if show1 else {},
        explanation_files=explaining.files_by_line(db.session, assessment) if show1 else {},
        round_entries={1: round1, 2: round2}, final_entries=final, self_totals=totals(content, self_entries),
        round1_totals=totals(content, after1),
        final_totals=totals(content, final), refusal=refusal,
        round=appraisals.current_round(appraisal) if ministry and not refusal else None,
        can_explain=not ministry and explaining.explanation_open(appraisal, campaign, _tz()),
        explanation_closed=explaining.explanation_closed_message(appraisal, campaign),
        state=appraisals.state_label(appraisal), open_area=content.area(wanted) or content.areas[0],
        line_state=line_state or {}, max_upload=current_app.config["MAX_CONTENT_LENGTH"], size_vn=size_vn,
        accepted=evidence.accepted_labels())


def _page(assessment: Assessment, *, status: int = 200, line_state: dict | None = None, errors: dict | None = None,
          refused: str = ""):
    campaign = db.session.get(Campaign, assessment.campaign_id)
    if assessments.framework_of(db.session, campaign) is None:  # nothing to appraise before the framework
        return render_template("assessment/no_framework.html", campaign=campaign,
                               province=db.session.get(Province, assessment.province_id)), status
    context = _context(assessment, line_state=line_state)
    template = "appraisal/ministry.html" if context["ministry"] else "appraisal/province.html"
    return render_template(template, errors=errors or {}, refused=refused, values=request.form, **context), status


def _line_response(assessment: Assessment, line, state: dict, status: int = 200):
    """The line with the totals it changes (HTMX), or the whole page around it (a plain form)."""
    if not request.htmx:
        return _page(assessment, status=status, line_state=state)
    context = _context(assessment, line_state=state)
    return render_template("appraisal/_line_saved.html", line=line, **context), status


def _back_to_line(endpoint: str, assessment: Assessment, content, line):
    area = content.area_of(line.code)
    return redirect(url_for(endpoint, assessment_id=assessment.id, **{"linh-vuc": area.code})
                    + f"#td-{line.code.replace('.', '-')}", code=303)


def _line_of(assessment: Assessment, line_code: str):
    campaign = db.session.get(Campaign, assessment.campaign_id)
    found = assessments.framework_of(db.session, campaign)
    line = found[1].line(line_code) if found else None
    if line is None or not line.needs_input:
        abort(404)
    return campaign, found[1], line


# ---------------------------------------------------------------- the province


@bp.get("/")
def index():
    if current_user.role == Role.MINISTRY:
        return redirect(url_for("assessment_ministry.overview"))
    campaign = current_campaign_or_refuse(db.session)
    province = own_province(db.session, current_user)
    return _page(assessments.get_or_create(db.session, campaign, province.id))


@bp.get("/<int:assessment_id>")
def view(assessment_id: int):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    if current_user.role == Role.MINISTRY:
        return redirect(url_for("appraisal_ministry.appraise", assessment_id=assessment.id, **request.args))
    return _page(assessment)


@bp.post("/<int:assessment_id>/dong/<line_code>")
@roles_required(Role.PROVINCE)
def save_explanation(assessment_id: int, line_code: str):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign, content, line = _line_of(assessment, line_code)
    form = {key: request.form.get(key, "") for key in ("explanation", "version")}
    try:
        result = explaining.save_explanation(db.session, current_user, assessment, campaign, line, form, _tz())
    except appraisals.AppraisalRefused as refused:
        db.session.rollback()
        return _line_response(assessment, line, {"line": line, "error": refused.message, "submitted": form}, 409)
    if result.ok:
        if request.htmx:
            return _line_response(assessment, line, {"line": line, "saved": result.changed})
        flash(f"Đã lưu giải trình tiêu chí {line.code}." if result.changed
              else f"Giải trình tiêu chí {line.code} không có gì thay đổi.", "success")
        return _back_to_line("appraisal.view", assessment, content, line)
    state = {"line": line, "error": result.error, "conflict": result.conflict, "submitted": form}
    return _line_response(assessment, line, state, 409 if result.conflict else 422)


@bp.post("/<int:assessment_id>/dong/<line_code>/tai-lieu")
@roles_required(Role.PROVINCE)
def upload_evidence(assessment_id: int, line_code: str):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign, content, line = _line_of(assessment, line_code)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise evidence.EvidenceError("Vui lòng chọn một tệp tài liệu kiểm chứng để tải lên.")
        link = explaining.add_evidence(
            db.session, current_user, assessment, campaign, line, upload.filename, upload.read(),
            files_dir=current_app.config["PORTAL_FILES_DIR"], max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
            tz_name=_tz())
    except (appraisals.AppraisalRefused, evidence.EvidenceError) as refused:
        db.session.rollback()
        status = 409 if isinstance(refused, appraisals.AppraisalRefused) else 422
        return _line_response(assessment, line, {"line": line, "error": refused.message}, status)
    name = db.session.get(StoredFile, link.file_id).original_name
    if request.htmx:
        return _line_response(assessment, line, {"line": line, "notice": f"Đã tải lên “{name}”."})
    flash(f"Đã tải lên tài liệu giải trình “{name}” cho tiêu chí {line.code}.", "success")
    return _back_to_line("appraisal.view", assessment, content, line)


@bp.get("/<int:assessment_id>/tai-lieu/<int:appraisal_evidence_id>")
def download_evidence(assessment_id: int, appraisal_evidence_id: int):
    _, link = get_appraisal_evidence_for_user(db.session, current_user, assessment_id, appraisal_evidence_id)
    return stored_file_download(db.session.get(StoredFile, link.file_id))


# ---------------------------------------------------------------- the ministry


@ministry_bp.get("/<int:assessment_id>")
def appraise(assessment_id: int):
    return _page(get_assessment_for_user(db.session, current_user, assessment_id))


@ministry_bp.post("/<int:assessment_id>/dong/<line_code>")
def save_score(assessment_id: int, line_code: str):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign, content, line = _line_of(assessment, line_code)
    form = {key: request.form.get(key, "") for key in LINE_FIELDS}
    try:
        result = appraisals.save_score(db.session, current_user, assessment, campaign, line, form, _tz())
    except appraisals.AppraisalRefused as refused:
        db.session.rollback()
        return _line_response(assessment, line, {"line": line, "error": refused.message, "submitted": form}, 409)
    if result.ok:
        if request.htmx:
            return _line_response(assessment, line, {"line": line, "saved": result.changed})
        flash(f"Đã lưu điểm thẩm định tiêu chí {line.code}." if result.changed
              else f"Điểm thẩm định tiêu chí {line.code} không có gì thay đổi.", "success")
        return _back_to_line("appraisal_ministry.appraise", assessment, content, line)
    state = {"line": line, "error": result.error, "conflict": result.conflict, "submitted": form}
    return _line_response(assessment, line, state, 409 if result.conflict else 422)


def _step(assessment_id: int, step, done: str):
    """One of the steps (round 2, close, release): refused with its reason on the page, or done and said so."""
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign = db.session.get(Campaign, assessment.campaign_id)
    try:
        step(db.session, current_user, assessment, campaign, _tz())
    except appraisals.AppraisalRefused as refused:
        db.session.rollback()
        return _page(assessment, status=409, refused=refused.message)
    if step in (appraisals.close, appraisals.release):
        # The index reads the final appraised points: it follows the close, after the step's own commit.
        province = db.session.get(Province, assessment.province_id)
        index_recompute.recompute_after_change(db.session, campaign.id, f"{done.split(';')[0]}: {province.name}")
    flash(done, "success")
    return redirect(url_for("appraisal_ministry.appraise", assessment_id=assessment.id), code=303)


@ministry_bp.post("/<int:assessment_id>/giai-trinh")
def open_explanation(assessment_id: int):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign = db.session.get(Campaign, assessment.campaign_id)
    try:
        errors = appraisals.open_explanation(db.session, current_user, assessment, campaign,
                                             request.form.get("deadline", ""), _tz())
    except appraisals.AppraisalRefused as refused:
        db.session.rollback()
        return _page(assessment, status=409, refused=refused.message)
    if errors:
        db.session.rollback()
        return _page(assessment, status=422, errors=errors)
    flash("Đã gửi kết quả thẩm định vòng 1 để tỉnh giải trình; tỉnh đã được thông báo.", "success")
    return redirect(url_for("appraisal_ministry.appraise", assessment_id=assessment.id), code=303)


@ministry_bp.post("/<int:assessment_id>/gia-han-giai-trinh")
def extend_explanation(assessment_id: int):
    """A later explanation deadline: the steps' card again (HTMX) or the page (a plain form)."""
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign = db.session.get(Campaign, assessment.campaign_id)
    refused, errors = "", {}
    try:
        errors = appraisals.extend_explanation(db.session, current_user, assessment, campaign,
                                               request.form.get("until", ""), _tz())
    except appraisals.AppraisalRefused as problem:
        refused = problem.message
    if refused or errors:
        db.session.rollback()
        status = 409 if refused else 422
        if not request.htmx:
            return _page(assessment, status=status, errors=errors, refused=refused)
        return render_template("appraisal/_steps_saved.html", errors=errors, refused=refused, values=request.form,
                               **_context(assessment)), status
    until = appraisals.appraisal_for(db.session, assessment).explanation_until
    done = f"Đã gia hạn giải trình đến 23:59 ngày {until:%d/%m/%Y}; tỉnh đã được thông báo."
    if request.htmx:
        return render_template("appraisal/_steps_saved.html", errors={}, refused="", values={}, step_done=done,
                               **_context(assessment))
    flash(done, "success")
    return redirect(url_for("appraisal_ministry.appraise", assessment_id=assessment.id), code=303)


@ministry_bp.post("/<int:assessment_id>/vong-2")
def start_round2(assessment_id: int):
    return _step(assessment_id, appraisals.start_round2, "Đã bắt đầu thẩm định vòng 2.")


@ministry_bp.post("/<int:assessment_id>/ket-thuc")
def close(assessment_id: int):
    return _step(assessment_id, appraisals.close,
                 "Đã kết thúc thẩm định; kết quả chưa hiện với tỉnh cho đến khi công bố.")


@ministry_bp.post("/<int:assessment_id>/cong-bo")
def release(assessment_id: int):
    return _step(assessment_id, appraisals.release, "Đã công bố kết quả thẩm định cho tỉnh; tỉnh đã được thông báo.")
