"""The IT focal point: the province's delivery errors, address corrections, re-sends; and its registration."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.domain import delivery, invitations, it_focal, kept_aside, nomination
from portal.downloads import stored_file_download, xlsx_download
from portal.extensions import db
from portal.models import Role, StoredFile
from portal.permissions import (
    campaign_and_own_province,
    get_kept_message_for_user,
    get_nomination_for_user,
    own_province,
    province_only,
    province_staff,
    roles_required,
)

bp = Blueprint("delivery", __name__, url_prefix="/dau-moi-cntt")
it_focal_only = roles_required(Role.IT_FOCAL)
staff_or_ministry = roles_required(Role.MINISTRY, Role.PROVINCE, Role.IT_FOCAL)


def _context():
    return campaign_and_own_province(db.session, current_user)


def _invitation(campaign_id: int, province_id: int, invitation_id: int):
    """An invitation on the province's error list; 404 for any other (another province's, or one delivered)."""
    invitation = delivery.get_error_in_province(db.session, campaign_id, province_id, invitation_id)
    if invitation is None:
        abort(404)
    return invitation


def _mail_settings() -> dict[str, str]:
    return {"base_url": current_app.config["PORTAL_BASE_URL"], "mail_domain": current_app.config["PORTAL_MAIL_DOMAIN"]}


@bp.get("/loi-gui")
@province_staff
def errors():
    campaign, province = _context()
    rows = delivery.errors_for_province(db.session, campaign.id, province.id)
    return render_template("delivery/errors.html", campaign=campaign, province=province, rows=rows,
                           can_fix=current_user.role == Role.IT_FOCAL)


@bp.get("/loi-gui.xlsx")
@province_staff
def export():
    campaign, province = _context()
    data = delivery.export_errors(delivery.errors_for_province(db.session, campaign.id, province.id), province.name,
                                  current_app.config["PORTAL_TIMEZONE"])
    return xlsx_download(data, f"loi-gui-thu-{province.slug}.xlsx")


@bp.get("/thu-de-rieng")
@staff_or_ministry
def kept():
    """Messages of the bounce mailbox kept aside: the ministry sees all, a province its own only."""
    province = None if current_user.role == Role.MINISTRY else own_province(db.session, current_user)
    rows = kept_aside.kept_messages(db.session, province.id if province else None)
    return render_template("delivery/kept.html", province=province, rows=rows, labels=kept_aside.KIND_LABELS)


@bp.get("/thu-de-rieng/<int:message_id>")
@staff_or_ministry
def kept_message(message_id: int):
    message = get_kept_message_for_user(db.session, current_user, message_id)
    return render_template("delivery/kept_message.html", message=message, view=kept_aside.readable(message),
                           labels=kept_aside.KIND_LABELS, limit=kept_aside.DISPLAY_LIMIT)


@bp.post("/loi-gui/<int:invitation_id>/sua")
@it_focal_only
def correct(invitation_id: int):
    campaign, province = _context()
    invitation = _invitation(campaign.id, province.id, invitation_id)
    try:
        email = delivery.correct_address(db.session, current_user, invitation, request.form.get("email", ""),
                                         **_mail_settings())
    except delivery.DeliveryError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        flash(f"Đã sửa địa chỉ thành {email} và gửi lại thư mời.", "success")
    return redirect(url_for("delivery.errors"), code=303)


@bp.post("/loi-gui/<int:invitation_id>/gui-lai")
@it_focal_only
def resend(invitation_id: int):
    campaign, province = _context()
    invitation = _invitation(campaign.id, province.id, invitation_id)
    if invitations.resend(db.session, current_user, invitation, **_mail_settings()):
        flash("Đã đưa thư mời vào hàng đợi gửi lại.", "success")
    else:
        db.session.rollback()
        flash("Thư mời này đã ở hàng đợi gửi lại; không gửi thêm thư. Dòng này rời danh sách khi thư được "
              "gửi thành công.", "info")
    return redirect(url_for("delivery.errors"), code=303)


@bp.route("/dang-ky", methods=["GET", "POST"])
@province_only
def register():
    campaign, province = _context()
    focal = it_focal.focal_point(db.session, province.id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        upload = request.files.get("nomination")
        document = (upload.filename, upload.read()) if upload is not None and upload.filename else None
        registration, errors = it_focal.register(db.session, current_user, province, request.form.to_dict(),
                                                 document=document, files_dir=current_app.config["PORTAL_FILES_DIR"],
                                                 max_bytes=current_app.config["MAX_CONTENT_LENGTH"])
        if registration is not None:
            if registration.password:
                return render_template("delivery/registered.html", province=province, user=registration.user,
                                       password=registration.password)
            flash("Đã cập nhật thông tin đầu mối CNTT." + (" Đã lưu văn bản cử." if document else ""), "success")
            return redirect(url_for("delivery.register"), code=303)
    return render_template("delivery/register.html", campaign=campaign, province=province, focal=focal,
                           document=nomination.latest(db.session, province.id), accepted=nomination.ACCEPTED,
                           max_upload_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
                           errors=errors, form=request.form), 422 if errors else 200


@bp.get("/van-ban-cu/<int:document_id>")
@roles_required(Role.MINISTRY, Role.PROVINCE)
def nomination_file(document_id: int):
    """The nomination document, always as an attachment with the type read from its bytes."""
    document = get_nomination_for_user(db.session, current_user, document_id)
    return stored_file_download(db.session.get(StoredFile, document.file_id))
