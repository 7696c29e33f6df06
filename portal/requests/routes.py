"""Đề nghị: a province (or its IT focal point) asks the ministry; the ministry answers."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.domain import lists, requests
from portal.domain.campaigns import require_current
from portal.domain.dates import parse_date_vn
from portal.downloads import stored_file_download
from portal.emails import queue_for_ministry
from portal.extensions import db
from portal.models import Province, Role
from portal.permissions import campaign_and_own_province, get_request_for_user, ministry_only, province_staff

bp = Blueprint("requests", __name__, url_prefix="/de-nghi")


def _files_dir() -> str:
    return current_app.config["PORTAL_FILES_DIR"]


def _tz() -> str:
    return current_app.config["PORTAL_TIMEZONE"]


@bp.get("/")
def index():
    if current_user.role == Role.MINISTRY:
        status = request.args.get("trang-thai", "open")
        return render_template("requests/ministry.html", rows=requests.for_ministry(db.session, status=status),
                               status=status, kinds=requests.KIND_LABELS, statuses=requests.STATUS_LABELS)
    _campaign, province = campaign_and_own_province(db.session, current_user)
    return render_template("requests/index.html", province=province,
                           rows=requests.for_province(db.session, province.id),
                           kinds=requests.KIND_LABELS, statuses=requests.STATUS_LABELS)


@bp.route("/moi", methods=["GET", "POST"])
@province_staff
def new():
    campaign, province = campaign_and_own_province(db.session, current_user)
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        try:
            outcome = requests.submit(
                db.session, current_user, campaign, province, kind=request.form.get("kind", ""),
                reason=request.form.get("reason", ""), wanted_until=parse_date_vn(request.form.get("wanted_until", "")),
                form_key=request.form.get("form_key", ""),
                upload=requests.Upload(upload.filename or "", upload.read()) if upload and upload.filename else None,
                files_dir=_files_dir(), max_bytes=current_app.config["MAX_CONTENT_LENGTH"], tz_name=_tz())
        except requests.RequestError as problem:
            db.session.rollback()
            error = problem.message
        else:
            if outcome.created:
                if queue_for_ministry(db.session, "request-received",
                                      {"province": province, "item": outcome.request,
                                       "kind": requests.KIND_LABELS[outcome.request.kind]}, province_id=province.id):
                    db.session.commit()
                flash("Đã gửi đề nghị đến Bộ Nội vụ. Khi Bộ trả lời, tỉnh sẽ nhận được thông báo.", "success")
            return redirect(url_for("requests.detail", request_id=outcome.request.id), code=303)
    rlist = lists.list_for(db.session, campaign, province.id)
    return render_template("requests/new.html", province=province, campaign=campaign, error=error,
                           form=request.form if request.method == "POST" else {"kind": request.args.get("loai", "")},
                           form_key=request.form.get("form_key") or requests.new_form_key(),
                           kinds=requests.KIND_LABELS, extensions=requests.EXTENSIONS,
                           list_deadline=lists.deadline_of(rlist, campaign),
                           response_deadline=lists.response_deadline_of(rlist, campaign),
                           allowed=requests.ALLOWED_TYPES.values(),
                           max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)), 422 if error else 200


def _detail(item, *, error: str | None = None, form=None):
    return render_template("requests/detail.html", item=item, province=db.session.get(Province, item.province_id),
                           author=requests.author_of(db.session, item), kinds=requests.KIND_LABELS,
                           attachment=requests.attachment_of(db.session, item),
                           statuses=requests.STATUS_LABELS, extensions=requests.EXTENSIONS, error=error,
                           form=form or {}), 422 if error else 200


@bp.get("/<int:request_id>")
def detail(request_id: int):
    return _detail(get_request_for_user(db.session, current_user, request_id))


@bp.get("/<int:request_id>/tep")
def attachment(request_id: int):
    item = get_request_for_user(db.session, current_user, request_id)
    return stored_file_download(requests.attachment_of(db.session, item))


@bp.post("/<int:request_id>/tra-loi")
@ministry_only
def answer(request_id: int):
    item = get_request_for_user(db.session, current_user, request_id)
    require_current(db.session, item.campaign_id)  # a past year's request stays as it was answered
    text = request.form.get("answer", "")
    until = parse_date_vn(request.form.get("until", "")) if request.form.get("until") else None
    try:
        if request.form.get("until") and until is None:
            raise requests.RequestError("Ngày không hợp lệ; hãy nhập theo dạng dd/mm/yyyy.")
        requests.answer(db.session, current_user, item, request.form.get("decision", ""), text, until=until,
                        tz_name=_tz())
    except requests.RequestError as problem:
        db.session.rollback()
        # The page again with what was typed, so nothing is lost.
        return _detail(get_request_for_user(db.session, current_user, request_id), error=problem.message,
                       form=request.form)
    flash("Đã trả lời đề nghị; địa phương đã nhận được thông báo.", "success")
    return redirect(url_for("requests.detail", request_id=request_id), code=303)
