"""A province's notices ("Thông báo"): read them, mark them read."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from portal.domain import notices
from portal.extensions import db
from portal.permissions import get_notice_for_user, province_staff

bp = Blueprint("notices", __name__, url_prefix="/thong-bao")


@bp.get("/")
@province_staff
def index():
    return render_template("notices/index.html", items=notices.notices_for(db.session, current_user))


@bp.post("/<int:notice_id>/da-doc")
@province_staff
def mark_read(notice_id: int):
    notice = get_notice_for_user(db.session, current_user, notice_id)
    notices.mark_read(db.session, current_user, [notice])
    if request.htmx:
        return render_template("notices/_notice.html", notice=notice, was_read=True,
                               unread_notices=notices.unread_count(db.session, current_user), oob=True)
    return redirect(url_for("notices.index") + f"#notice-{notice.id}")


@bp.post("/da-doc-tat-ca")
@province_staff
def mark_all_read():
    notices.mark_all_read(db.session, current_user)
    return redirect(url_for("notices.index"))
