"""Tự đánh giá, chấm điểm: the province's tree of lines, each line saved on its own; the ministry's overview,
its read of each province's assessment and the exception to the lock."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.domain import appraisal_overview, assessment_evidence, assessment_sending, evidence
from portal.domain import assessment as assessments
from portal.domain.scoring import describe, totals
from portal.domain.text import size_vn
from portal.downloads import stored_file_download, xlsx_download
from portal.emails import queue_for_ministry
from portal.extensions import db
from portal.models import Assessment, Campaign, Province, Role, StoredFile, User
from portal.permissions import (
    current_campaign_or_refuse,
    get_assessment_for_user,
    get_evidence_for_user,
    ministry_only,
    own_province,
    roles_required,
)

bp = Blueprint("assessment", __name__, url_prefix="/tu-danh-gia")
ministry_bp = Blueprint("assessment_ministry", __name__, url_prefix="/bo/tu-danh-gia")
ALL_AREAS = "tat-ca"


@bp.before_request
@roles_required(Role.PROVINCE, Role.MINISTRY)
def _province_or_ministry() -> None:
    """The province scores its own assessment; the ministry reads every one. The IT focal point has no part."""


@ministry_bp.before_request
@ministry_only
def _ministry_only() -> None:
    """The ministry's overview and exceptions."""


@bp.app_template_global("describe_entry")
def describe_entry(line, entry) -> str:
    return describe(line, entry)


def _tz() -> str:
    return current_app.config["PORTAL_TIMEZONE"]


def _framework_or_404(campaign: Campaign):
    found = assessments.framework_of(db.session, campaign)
    if found is None:
        abort(404)
    return found


def _page(assessment: Assessment, campaign: Campaign, *, status: int = 200, line_state: dict | None = None):
    """The tree with one area open (or all with ?linh-vuc=tat-ca); `line_state` shows one line's refusal."""
    found = assessments.framework_of(db.session, campaign)
    province = db.session.get(Province, assessment.province_id)
    if found is None:
        return render_template("assessment/no_framework.html", campaign=campaign, province=province), status
    version, content = found
    rows = assessments.score_rows(db.session, assessment)
    entries = assessments.entries(rows)
    sums = totals(content, entries)
    wanted = request.args.get("linh-vuc", "")
    if line_state is not None:
        wanted = content.area_of(line_state["line"].code).code
    areas = content.areas if wanted == ALL_AREAS else [content.area(wanted) or content.areas[0]]
    context = dict(assessment=assessment, campaign=campaign, province=province, content=content, version=version,
                   rows=rows, entries=entries, totals=sums, open_areas=areas, all_open=wanted == ALL_AREAS,
                   editable=_editable(assessment, campaign), closed=_closed(assessment, campaign),
                   deadline=assessments.deadline_of(assessment, campaign), line_state=line_state or {},
                   sent_by=_person(assessment.sent_by_id),
                   **_evidence_context(assessment, content, entries))
    if request.htmx and request.htmx.target == "area":
        return render_template("assessment/_area.html", **context), status
    return render_template("assessment/page.html", **context), status


def _evidence_context(assessment: Assessment, content, entries) -> dict:
    """The lines' evidence files and which scored lines still lack theirs (for the lines and the summary)."""
    files = assessment_evidence.files_by_line(db.session, assessment)
    return dict(files=files, missing=assessment_evidence.missing_evidence(
        content, entries, assessment_evidence.counts_of(files)),
        max_upload=current_app.config["MAX_CONTENT_LENGTH"], size_vn=size_vn,
        accepted=evidence.accepted_labels())


def _person(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return (user.full_name or user.username) if user else ""


def _editable(assessment: Assessment, campaign: Campaign) -> bool:
    return (current_user.role == Role.PROVINCE
            and assessments.is_open(assessment, campaign, _tz()))


def _closed(assessment: Assessment, campaign: Campaign) -> str:
    return "" if assessments.is_open(assessment, campaign, _tz()) else assessments.closed_message(assessment, campaign)


@bp.get("/")
def index():
    if current_user.role == Role.MINISTRY:
        return redirect(url_for("assessment_ministry.overview"))
    campaign = current_campaign_or_refuse(db.session)
    province = own_province(db.session, current_user)
    return _page(assessments.get_or_create(db.session, campaign, province.id), campaign)


@bp.get("/<int:assessment_id>")
def view(assessment_id: int):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    return _page(assessment, db.session.get(Campaign, assessment.campaign_id))


@bp.post("/<int:assessment_id>/dong/<line_code>")
@roles_required(Role.PROVINCE)
def save_line(assessment_id: int, line_code: str):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign = db.session.get(Campaign, assessment.campaign_id)
    version, content = _framework_or_404(campaign)
    line = content.line(line_code)
    if line is None or not line.needs_input:
        abort(404)
    form = {key: request.form.get(key, "") for key in
            ("answer", "numerator", "denominator", "cases", "level", "points", "explanation", "version")}
    try:
        result = assessments.save_line(db.session, current_user, assessment, campaign, version, content, line, form,
                                       _tz())
    except assessments.AssessmentClosed as closed:
        db.session.rollback()
        return _line_response(assessment, campaign, content, line, {"line": line, "error": closed.message,
                                                                     "submitted": form}, 409)
    if result.ok:
        if request.htmx:
            return _line_response(assessment, campaign, content, line, {"line": line, "saved": result.changed})
        flash(f"Đã lưu tiêu chí {line.code}." if result.changed else f"Tiêu chí {line.code} không có gì thay đổi.",
              "success")
        area = content.area_of(line.code)
        return redirect(url_for("assessment.view", assessment_id=assessment.id, **{"linh-vuc": area.code})
                        + f"#dong-{line.code.replace('.', '-')}", code=303)
    state = {"line": line, "error": result.error, "conflict": result.conflict, "submitted": form}
    return _line_response(assessment, campaign, content, line, state, 409 if result.conflict else 422)


def _line_response(assessment: Assessment, campaign: Campaign, content, line, state: dict, status: int = 200):
    """The line alone with the totals it changes (HTMX), or the whole page around it (a plain form)."""
    if not request.htmx:
        return _page(assessment, campaign, status=status, line_state=state)
    rows = assessments.score_rows(db.session, assessment)
    entries = assessments.entries(rows)
    area = content.area_of(line.code)
    criterion = next(c for c in area.criteria if any(item.code == line.code for item in c.subcriteria))
    return render_template("assessment/_line_saved.html", assessment=assessment, campaign=campaign, content=content,
                           line=line, criterion=criterion, area=area, rows=rows, entries=entries,
                           totals=totals(content, entries), editable=_editable(assessment, campaign),
                           line_state=state, **_evidence_context(assessment, content, entries)), status


def _line_of(assessment: Assessment, line_code: str):
    campaign = db.session.get(Campaign, assessment.campaign_id)
    _, content = _framework_or_404(campaign)
    line = content.line(line_code)
    if line is None:
        abort(404)
    return campaign, content, line


def _back_to_line(assessment: Assessment, content, line):
    area = content.area_of(line.code)
    return redirect(url_for("assessment.view", assessment_id=assessment.id, **{"linh-vuc": area.code})
                    + f"#dong-{line.code.replace('.', '-')}", code=303)


@bp.post("/<int:assessment_id>/dong/<line_code>/tai-lieu")
@roles_required(Role.PROVINCE)
def upload_evidence(assessment_id: int, line_code: str):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign, content, line = _line_of(assessment, line_code)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise evidence.EvidenceError("Vui lòng chọn một tệp tài liệu kiểm chứng để tải lên.")
        link = assessment_evidence.add(
            db.session, current_user, assessment, campaign, line, upload.filename, upload.read(),
            files_dir=current_app.config["PORTAL_FILES_DIR"], max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
            tz_name=_tz())
    except (assessments.AssessmentClosed, evidence.EvidenceError) as refused:
        db.session.rollback()
        status = 409 if isinstance(refused, assessments.AssessmentClosed) else 422
        return _line_response(assessment, campaign, content, line, {"line": line, "error": refused.message}, status)
    name = db.session.get(StoredFile, link.file_id).original_name
    if request.htmx:
        return _line_response(assessment, campaign, content, line, {"line": line, "notice": f"Đã tải lên “{name}”."})
    flash(f"Đã tải lên tài liệu kiểm chứng “{name}” cho tiêu chí {line.code}.", "success")
    return _back_to_line(assessment, content, line)


@bp.get("/<int:assessment_id>/tai-lieu/<int:evidence_id>")
def download_evidence(assessment_id: int, evidence_id: int):
    _, link = get_evidence_for_user(db.session, current_user, assessment_id, evidence_id)
    return stored_file_download(db.session.get(StoredFile, link.file_id))


@bp.post("/<int:assessment_id>/tai-lieu/<int:evidence_id>/xoa")
@roles_required(Role.PROVINCE)
def remove_evidence(assessment_id: int, evidence_id: int):
    assessment, link = get_evidence_for_user(db.session, current_user, assessment_id, evidence_id)
    campaign, content, line = _line_of(assessment, link.line_code)
    try:
        name = assessment_evidence.remove(db.session, current_user, assessment, campaign, line, link, tz_name=_tz())
    except assessments.AssessmentClosed as closed:
        db.session.rollback()
        return _line_response(assessment, campaign, content, line, {"line": line, "error": closed.message}, 409)
    if request.htmx:
        return _line_response(assessment, campaign, content, line, {"line": line, "notice": f"Đã xóa “{name}”."})
    flash(f"Đã xóa tài liệu kiểm chứng “{name}” của tiêu chí {line.code}.", "success")
    return _back_to_line(assessment, content, line)


# ---------------------------------------------------------------- approval and sending


def _sending_page(assessment: Assessment, *, errors: dict | None = None, values: dict | None = None,
                  refusal: str = "", status: int = 200):
    campaign = db.session.get(Campaign, assessment.campaign_id)
    _, content = _framework_or_404(campaign)
    return render_template(
        "assessment/send.html", assessment=assessment, campaign=campaign, content=content,
        province=db.session.get(Province, assessment.province_id),
        summary=assessment_sending.summary(db.session, assessment, content),
        approval_missing=assessment_sending.approval_missing(assessment),
        report=db.session.get(StoredFile, assessment.report_file_id) if assessment.report_file_id else None,
        editable=_editable(assessment, campaign), closed=_closed(assessment, campaign),
        deadline=assessments.deadline_of(assessment, campaign), errors=errors or {}, values=values or {},
        refusal=refusal, max_upload=current_app.config["MAX_CONTENT_LENGTH"],
        size_vn=size_vn), status


@bp.get("/<int:assessment_id>/gui")
def sending(assessment_id: int):
    return _sending_page(get_assessment_for_user(db.session, current_user, assessment_id))


@bp.post("/<int:assessment_id>/phe-duyet")
@roles_required(Role.PROVINCE)
def save_approval(assessment_id: int):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign = db.session.get(Campaign, assessment.campaign_id)
    values = {key: request.form.get(key, "") for key in ("number", "day", "signer")}
    upload = request.files.get("report")
    report = (upload.filename, upload.read()) if upload is not None and upload.filename else None
    try:
        errors = assessment_sending.save_approval(
            db.session, current_user, assessment, campaign, report=report,
            files_dir=current_app.config["PORTAL_FILES_DIR"], max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
            tz_name=_tz(), **values)
    except assessments.AssessmentClosed as closed:
        db.session.rollback()
        return _sending_page(assessment, values=values, refusal=closed.message, status=409)
    if errors:
        db.session.rollback()
        return _sending_page(assessment, errors=errors, values=values, status=422)
    flash("Đã lưu phần phê duyệt báo cáo tự đánh giá.", "success")
    return redirect(url_for("assessment.sending", assessment_id=assessment.id), code=303)


@bp.post("/<int:assessment_id>/gui")
@roles_required(Role.PROVINCE)
def send(assessment_id: int):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign = db.session.get(Campaign, assessment.campaign_id)
    try:
        assessment_sending.send(db.session, current_user, assessment, campaign,
                                confirmed=request.form.get("confirm") == "1", tz_name=_tz())
    except (assessments.AssessmentClosed, assessment_sending.SendingRefused) as refused:
        db.session.rollback()
        status = 409 if isinstance(refused, assessments.AssessmentClosed) else 422
        return _sending_page(assessment, refusal=refused.message, status=status)
    province = db.session.get(Province, assessment.province_id)
    told = queue_for_ministry(db.session, "assessment-sent", {"province": province, "assessment": assessment,
                                                              "campaign": campaign}, province_id=province.id)
    if told:
        db.session.commit()
    flash("Đã gửi kết quả tự đánh giá đến Bộ Nội vụ; kết quả đã khóa."
          + (" Bộ Nội vụ đã được báo qua thư." if told else ""), "success")
    return redirect(url_for("assessment.view", assessment_id=assessment.id), code=303)


@bp.get("/<int:assessment_id>/bao-cao")
def download_report(assessment_id: int):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    if assessment.report_file_id is None:
        abort(404)
    return stored_file_download(db.session.get(StoredFile, assessment.report_file_id))


@bp.get("/<int:assessment_id>/dong/<line_code>/lich-su")
def line_history(assessment_id: int, line_code: str):
    assessment = get_assessment_for_user(db.session, current_user, assessment_id)
    campaign = db.session.get(Campaign, assessment.campaign_id)
    _, content = _framework_or_404(campaign)
    line = content.line(line_code)
    if line is None:
        abort(404)
    changes = assessments.history(db.session, assessment, line.code)
    template = "assessment/_history.html" if request.htmx else "assessment/history.html"
    return render_template(template, assessment=assessment, campaign=campaign, line=line, changes=changes,
                           province=db.session.get(Province, assessment.province_id),
                           area=content.area_of(line.code))


# ---------------------------------------------------------------- the ministry


@ministry_bp.get("/")
def overview():
    campaign = current_campaign_or_refuse(db.session)
    found = assessments.framework_of(db.session, campaign)
    rows = appraisal_overview.overview(db.session, campaign, found[1], _tz()) if found else []
    return render_template("assessment/ministry_index.html", campaign=campaign, rows=rows, has_framework=bool(found),
                           tz=_tz())


@ministry_bp.get("/xuat.xlsx")
def overview_export():
    campaign = current_campaign_or_refuse(db.session)
    found = assessments.framework_of(db.session, campaign)
    rows = appraisal_overview.overview(db.session, campaign, found[1], _tz()) if found else []
    return xlsx_download(appraisal_overview.overview_xlsx(rows, campaign, _tz()),
                         f"tu-danh-gia-tham-dinh-{campaign.year}.xlsx")


@ministry_bp.get("/<int:province_id>/ngoai-le")
def exception_form(province_id: int):
    campaign = current_campaign_or_refuse(db.session)
    province = db.session.get(Province, province_id) or abort(404)
    assessment = assessments.assessment_for(db.session, campaign, province.id)
    return render_template("assessment/exception.html", campaign=campaign, province=province, assessment=assessment,
                           errors={}, values={})


@ministry_bp.post("/<int:province_id>/ngoai-le")
def grant_exception(province_id: int):
    campaign = current_campaign_or_refuse(db.session)
    province = db.session.get(Province, province_id) or abort(404)
    assessment = assessments.get_or_create(db.session, campaign, province.id)
    values = {"until": request.form.get("until", ""), "reason": request.form.get("reason", "")}
    errors = assessments.grant_exception(db.session, current_user, assessment, campaign, values["until"],
                                         values["reason"], _tz())
    if errors:
        db.session.rollback()
        return render_template("assessment/exception.html", campaign=campaign, province=province,
                               assessment=assessment, errors=errors, values=values), 422
    flash(f"Đã cho phép {province.name} tự đánh giá đến hết ngày {assessment.exception_until:%d/%m/%Y}; "
          "tỉnh đã được thông báo.", "success")
    return redirect(url_for("assessment_ministry.overview"), code=303)


@ministry_bp.get("/<int:province_id>/tra-lai")
def return_form(province_id: int):
    campaign = current_campaign_or_refuse(db.session)
    province = db.session.get(Province, province_id) or abort(404)
    assessment = assessments.assessment_for(db.session, campaign, province.id)
    return render_template("assessment/return.html", campaign=campaign, province=province, assessment=assessment,
                           errors={}, values={})


@ministry_bp.post("/<int:province_id>/tra-lai")
def return_assessment(province_id: int):
    campaign = current_campaign_or_refuse(db.session)
    province = db.session.get(Province, province_id) or abort(404)
    assessment = assessments.assessment_for(db.session, campaign, province.id) or abort(404)
    values = {"reason": request.form.get("reason", "")}
    errors = assessment_sending.return_for_correction(db.session, current_user, assessment, campaign,
                                                      values["reason"])
    if errors:
        db.session.rollback()
        return render_template("assessment/return.html", campaign=campaign, province=province,
                               assessment=assessment, errors=errors, values=values), 422
    flash(f"Đã trả lại kết quả tự đánh giá của {province.name} để chỉnh sửa; tỉnh đã được thông báo.", "success")
    return redirect(url_for("assessment_ministry.overview"), code=303)
