"""The ministry's pages: provinces and their accounts, notices, the campaign, the audit log."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from portal.domain import accounts, audit, campaign_admin, notices, overview
from portal.domain.campaigns import DEADLINE_LABELS, current_campaign
from portal.extensions import db
from portal.models import Department, District, Province, User
from portal.permissions import get_province_for_user, ministry_only

bp = Blueprint("ministry", __name__, url_prefix="/bo")


@bp.before_request
@ministry_only
def _ministry_only() -> None:
    """Every page here is the ministry's."""


@bp.get("/tinh-thanh")
def provinces():
    return render_template("ministry/provinces.html", rows=overview.province_accounts(db.session))


@bp.get("/tinh-thanh/<int:province_id>")
def province(province_id: int):
    item = get_province_for_user(db.session, current_user, province_id)
    users = db.session.exec(select(User).where(User.province_id == item.id).order_by(User.role)).all()
    districts = db.session.exec(select(District).where(District.province_id == item.id).order_by(District.id)).all()
    departments = db.session.exec(select(Department).where(Department.province_id == item.id)
                                  .order_by(Department.id)).all()
    return render_template("ministry/province.html", province=item, users=users, districts=districts,
                           departments=departments, entries=audit.entries(db.session, province_id=item.id, limit=20))


@bp.post("/tinh-thanh/<int:province_id>/cap-lai-mat-khau/<int:user_id>")
def reset_password(province_id: int, user_id: int):
    item = get_province_for_user(db.session, current_user, province_id)
    user = db.session.get(User, user_id)
    if user is None or user.province_id != item.id:
        return render_template("errors/error.html", status=404, title="Không tìm thấy tài khoản",
                               message="Tài khoản này không thuộc tỉnh, thành phố đã chọn."), 404
    password = accounts.reset_password(db.session, current_user, user)
    return render_template("ministry/password_reset.html", province=item, user=user, password=password)


@bp.route("/thong-bao", methods=["GET", "POST"], endpoint="notices")
def notices_page():
    all_provinces = db.session.exec(select(Province).where(Province.is_active).order_by(Province.name)).all()
    error = None
    if request.method == "POST":
        audience = request.form.get("audience", "all")
        chosen = [int(v) for v in request.form.getlist("province_ids") if v.isdigit()]
        try:
            notice = notices.post_notice(db.session, current_user, request.form.get("title", ""),
                                         request.form.get("body", ""),
                                         province_ids=None if audience == "all" else chosen)
        except notices.NoticeError as problem:
            error = problem.message
        else:
            flash(f"Đã gửi thông báo “{notice.title}”.", "success")
            return redirect(url_for("ministry.notices"))
    return render_template("ministry/notices.html", provinces=all_provinces, error=error, form=request.form,
                           sent=notices.sent_notices(db.session)), 422 if error else 200


@bp.route("/chien-dich", methods=["GET", "POST"])
def campaign():
    item = current_campaign(db.session)
    errors: dict[str, str] = {}
    if item is not None and request.method == "POST":
        errors = campaign_admin.update_deadlines(db.session, current_user, item, request.form.to_dict())
        if not errors:
            flash("Đã lưu các mốc thời hạn.", "success")
            return redirect(url_for("ministry.campaign"))
    return render_template("ministry/campaign.html", campaign=item, labels=DEADLINE_LABELS, errors=errors,
                           form=request.form, tz=current_app.config["PORTAL_TIMEZONE"]), 422 if errors else 200


@bp.get("/nhat-ky")
def audit_log():
    return render_template("ministry/audit.html", entries=audit.entries(db.session, limit=500))
