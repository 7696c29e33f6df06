"""The ministry's questionnaire pages: import a set of forms, replace it until launch, preview each form."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from portal import document_pages
from portal.domain import authoring, document_versions, questionnaires
from portal.downloads import YAML, document_version_download, xlsx_download
from portal.extensions import db
from portal.models import Campaign

bp = document_pages.ministry_blueprint("questionnaires", __name__, "/bo/phieu-khao-sat")


def _index_page(campaign: Campaign, error: document_versions.DocumentError | None = None, status: int = 200):
    rows = questionnaires.versions(db.session, campaign)
    current, importers = document_pages.listing(rows)
    return render_template(
        "questionnaires/index.html", campaign=campaign, rows=rows, current=current,
        questionnaire=questionnaires.load(current) if current else None, importers=importers,
        groups=questionnaires.group_labels(db.session, campaign), error=error,
        targets=questionnaires.TARGET_LABELS, frozen_message=questionnaires.FROZEN_MESSAGE,
        max_size=f"{questionnaires.MAX_BYTES // (1024 * 1024)} MB",
    ), status


@bp.get("/")
def index():
    return _index_page(document_pages.campaign_or_404())


@bp.post("/nhap")
def upload():
    campaign = document_pages.campaign_or_404()
    try:
        data, filename = document_pages.read_upload(
            questionnaires.MAX_BYTES, "Vui lòng chọn tệp bộ phiếu (.yaml hoặc .xlsx) trước khi bấm “Nhập bộ phiếu”.")
        version = questionnaires.import_questionnaire(db.session, current_user, campaign, data, filename)
    except document_versions.DocumentError as problem:
        db.session.rollback()
        return _index_page(campaign, problem, 422)
    flash(f"Đã nhập bộ phiếu “{version.title}” (phiên bản {version.version}); đây là bộ phiếu đang dùng.", "success")
    return redirect(url_for("questionnaires.index"), code=303)


@bp.post("/nap-mau")
def load_sample():
    campaign = document_pages.campaign_or_404()
    if questionnaires.current_version(db.session, campaign) is not None:
        flash("Đợt khảo sát đã có bộ phiếu nên không nạp bộ phiếu mẫu.", "warning")
        return redirect(url_for("questionnaires.index"), code=303)
    try:
        version = questionnaires.load_sample(db.session, campaign, current_user)
    except questionnaires.QuestionnaireError as problem:
        db.session.rollback()
        return _index_page(campaign, problem, 422)
    flash(f"Đã nạp bộ phiếu mẫu (phiên bản {version.version}). Đây là PHIẾU MẪU, không phải nội dung chính thức: "
          "hãy nhập bộ phiếu chính thức trước khi phát hành khảo sát.", "warning")
    return redirect(url_for("questionnaires.index"), code=303)


@bp.get("/phien-ban-<int:number>.yaml")
def download(number: int):
    row = questionnaires.version_by_number(db.session, document_pages.campaign_or_404(), number)
    if row is None:
        abort(404)
    return document_version_download(row, questionnaires.to_yaml(questionnaires.load(row)),
                                     f"bo-phieu-phien-ban-{row.version}.yaml")


@bp.get("/phien-ban-<int:number>.xlsx")
def download_workbook(number: int):
    campaign = document_pages.campaign_or_404()
    row = questionnaires.version_by_number(db.session, campaign, number)
    if row is None:
        abort(404)
    data = authoring.questionnaire_workbook(questionnaires.load(row), questionnaires.group_labels(db.session, campaign))
    return xlsx_download(data, f"bo-phieu-phien-ban-{row.version}.xlsx")


@bp.get("/mau-bang-tinh.xlsx")
def template_workbook():
    campaign = document_pages.campaign_or_404()
    groups = questionnaires.group_labels(db.session, campaign) or None
    return xlsx_download(authoring.questionnaire_template_workbook(groups), "mau-bo-phieu.xlsx")


@bp.get("/bo-phieu-mau.yaml")
def sample_file():
    return send_file(questionnaires.sample_path(), mimetype=YAML, as_attachment=True,
                     download_name="bo-phieu-mau-2021.yaml")


@bp.get("/xem/<form_code>")
def preview(form_code: str):
    campaign = document_pages.campaign_or_404()
    number = request.args.get("phien-ban", type=int)
    row = (questionnaires.version_by_number(db.session, campaign, number) if number
           else questionnaires.current_version(db.session, campaign))
    if row is None:
        abort(404)
    form = questionnaires.load(row).form(form_code)
    if form is None:
        abort(404)
    # A ministry form names the respondent's own ministry; the preview shows where that name goes.
    return render_template("questionnaires/preview.html", row=row, form=form.for_ministry("Bộ …"), campaign=campaign,
                           groups=questionnaires.group_labels(db.session, campaign),
                           targets=questionnaires.TARGET_LABELS)
