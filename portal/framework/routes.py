"""The ministry's framework pages: import a framework file, replace it until a province scores, preview it."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from portal import document_pages
from portal.domain import authoring, document_versions, framework
from portal.domain.scoring import totals
from portal.downloads import YAML, document_version_download, xlsx_download
from portal.extensions import db
from portal.models import Campaign

bp = document_pages.ministry_blueprint("framework", __name__, "/bo/bo-tieu-chi")


def _index_page(campaign: Campaign, error: document_versions.DocumentError | None = None, status: int = 200):
    rows = framework.versions(db.session, campaign)
    current, importers = document_pages.listing(rows)
    return render_template("framework/index.html", campaign=campaign, rows=rows, current=current,
                           content=framework.load(current) if current else None, importers=importers, error=error,
                           frozen_message=framework.FROZEN_MESSAGE, kinds=framework.KIND_LABELS,
                           max_size=f"{framework.MAX_BYTES // (1024 * 1024)} MB"), status


@bp.get("/")
def index():
    return _index_page(document_pages.campaign_or_404())


@bp.post("/nhap")
def upload():
    campaign = document_pages.campaign_or_404()
    try:
        data, filename = document_pages.read_upload(
            framework.MAX_BYTES, "Vui lòng chọn tệp bộ tiêu chí (.yaml hoặc .xlsx) trước khi bấm “Nhập bộ tiêu chí”.")
        version = framework.import_framework(db.session, current_user, campaign, data, filename)
    except document_versions.DocumentError as problem:
        db.session.rollback()
        return _index_page(campaign, problem, 422)
    flash(f"Đã nhập bộ tiêu chí “{version.title}” (phiên bản {version.version}); đây là bộ tiêu chí đang dùng.",
          "success")
    return redirect(url_for("framework.index"), code=303)


@bp.post("/nap-mau")
def load_sample():
    campaign = document_pages.campaign_or_404()
    if framework.current_version(db.session, campaign) is not None:
        flash("Đợt đánh giá đã có bộ tiêu chí nên không nạp bộ tiêu chí mẫu.", "warning")
        return redirect(url_for("framework.index"), code=303)
    version = framework.load_sample(db.session, campaign, current_user)
    flash(f"Đã nạp bộ tiêu chí mẫu (phiên bản {version.version}). Đây là bộ tiêu chí MẪU, không phải nội dung "
          "chính thức: hãy nhập bộ tiêu chí chính thức trước khi các tỉnh chấm điểm.", "warning")
    return redirect(url_for("framework.index"), code=303)


@bp.get("/xem")
def preview():
    campaign = document_pages.campaign_or_404()
    number = request.args.get("phien-ban", type=int)
    row = (framework.version_by_number(db.session, campaign, number) if number
           else framework.current_version(db.session, campaign))
    if row is None and not number:
        return _index_page(campaign)  # nothing imported yet: the page that says so and offers the import
    if row is None:
        abort(404)
    content = framework.load(row)
    return render_template("framework/preview.html", row=row, content=content, sums=totals(content, {}),
                           kinds=framework.KIND_LABELS)


@bp.get("/phien-ban-<int:framework_number>.yaml")
def download(framework_number: int):
    row = framework.version_by_number(db.session, document_pages.campaign_or_404(), framework_number)
    if row is None:
        abort(404)
    return document_version_download(row, framework.to_yaml(framework.load(row)),
                                     f"bo-tieu-chi-phien-ban-{row.version}.yaml")


@bp.get("/phien-ban-<int:framework_number>.xlsx")
def download_workbook(framework_number: int):
    row = framework.version_by_number(db.session, document_pages.campaign_or_404(), framework_number)
    if row is None:
        abort(404)
    return xlsx_download(authoring.framework_workbook(framework.load(row)), f"bo-tieu-chi-phien-ban-{row.version}.xlsx")


@bp.get("/mau-bang-tinh.xlsx")
def template_workbook():
    document_pages.campaign_or_404()
    return xlsx_download(authoring.framework_template_workbook(), "mau-bo-tieu-chi.xlsx")


@bp.get("/bo-tieu-chi-mau.yaml")
def sample_file():
    return send_file(framework.sample_path(), mimetype=YAML, as_attachment=True,
                     download_name="bo-tieu-chi-mau.yaml")


@bp.app_template_filter("points")
def points_filter(value: float | None) -> str:
    """Points as Vietnamese write them: 0,5; 12; 7,25."""
    return "" if value is None else framework.format_points(value)


bp.add_app_template_global(framework.KIND_LABELS, "kind_labels")
