"""Khảo sát Chỉ số CCHC > Chi tiết tiến độ khảo sát: who has answered (never what), and chasing them."""

from __future__ import annotations

import hashlib

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from portal.domain import answers, integrity_review, invitations, progress, reminders
from portal.domain.campaigns import local_today
from portal.downloads import xlsx_download
from portal.extensions import db
from portal.models import Operation, Role
from portal.permissions import campaign_and_own_province, province_staff
from portal.polling import cached_etag, render_operation, uncached

bp = Blueprint("progress", __name__, url_prefix="/khao-sat/tien-do")


def _context():
    return campaign_and_own_province(db.session, current_user)


def render_progress(campaign, province, *, can_remind: bool, endpoint: str, **url_args):
    """The progress page of one province, or the fragment a filter or a poll asks for.

    Shared by the province's own page and the ministry's view of it. A poll
    (HTMX, target "progress-live") is answered 304 when nothing changed (ETag),
    before any table is built, and 286 (htmx: stop polling) once the response
    deadline has passed, changed or not.
    """
    tz = current_app.config["PORTAL_TIMEZONE"]
    args = {"query": request.args.get("q", ""), "show": request.args.get("loc", ""),
            "sort": request.args.get("xep", "stt")}
    target = request.htmx.target if request.htmx else None
    poll = progress.poll_state(db.session, campaign.id, province.id) if target == "progress-live" else None
    extension = poll.extension if poll else answers.province_extension(db.session, campaign.id, province.id)
    closed = answers.is_closed(campaign, tz, extension=extension)
    deadline = extension if extension and extension > campaign.response_deadline else campaign.response_deadline
    etag = None
    if poll is not None:
        key = f"{poll.fingerprint}|{extension}|{sorted(request.args.items(multi=True))}|{can_remind}|{closed}"
        etag = hashlib.sha256(key.encode()).hexdigest()[:24]
        held = cached_etag(etag)
        if held is not None and not closed:
            response = make_response("", 304)
            response.set_etag(held)
            return uncached(response)
    page = progress.respondent_page(db.session, campaign.id, province.id, **args,
                                    page=request.args.get("trang", 1, type=int))
    context = {"campaign": campaign, "province": province, "page": page, **args, "closed": closed,
               "days_left": (deadline - local_today(tz)).days, "deadline": deadline,
               "summary": progress.province_summary(db.session, campaign.id, province.id),
               "filters": progress.FILTERS, "sorts": progress.SORTS, "delivery_labels": progress.DELIVERY_LABELS,
               "form_labels": progress.FORM_STATE_LABELS, "can_remind": can_remind and not closed,
               "endpoint": endpoint, "url_args": url_args,
               "poll_seconds": current_app.config["PORTAL_PROGRESS_POLL_SECONDS"],
               "self_url": url_for(endpoint, **url_args, **request.args.to_dict())}
    if target == "progress-live":
        response = make_response(render_template("progress/_live.html", **context), 286 if closed else 200)
        response.set_etag(etag)
        return uncached(response)
    # Voids of the province's result that took effect, with their reasons: the page only, never the polls.
    context["integrity_decisions"] = integrity_review.for_province(db.session, campaign.id, province.id)
    return uncached(make_response(render_template("progress/index.html", **context)))


@bp.get("/")
@province_staff
def index():
    campaign, province = _context()
    return render_progress(campaign, province, can_remind=current_user.role == Role.PROVINCE,
                           endpoint="progress.index")


@bp.get("/chua-tra-loi.xlsx")
@province_staff
def export_unanswered():
    campaign, province = _context()
    data = progress.unanswered_export(db.session, campaign.id, province.id, province.name,
                                      current_app.config["PORTAL_TIMEZONE"])
    return xlsx_download(data, f"chua-tra-loi-{province.slug}.xlsx")


@bp.post("/don-doc")
@province_staff
def remind():
    if current_user.role != Role.PROVINCE:
        abort(403)
    campaign, province = _context()
    if request.form.get("all"):
        # Everyone: a list that can hold 20,000 people is reminded by the worker, followed on its own page.
        try:
            operation = reminders.start_remind_all(
                db.session, current_user, campaign, province.id, base_url=current_app.config["PORTAL_BASE_URL"],
                mail_domain=current_app.config["PORTAL_MAIL_DOMAIN"], tz_name=current_app.config["PORTAL_TIMEZONE"])
        except invitations.LaunchError as problem:
            flash(problem.message, "error")
            return redirect(url_for("progress.index"), code=303)
        return redirect(url_for("progress.remind_operation", operation_id=operation.id), code=303)
    chosen = [int(v) for v in request.form.getlist("invitation_id") if v.isascii() and v.isdigit()]
    if not chosen:
        flash("Chưa chọn người cần đôn đốc.", "error")
        return redirect(url_for("progress.index"), code=303)
    # Only this province's invitations are ever looked up: another province's id simply finds nothing.
    targets = progress.invitations_for_province(db.session, campaign.id, province.id, chosen)
    outcome = reminders.remind(db.session, current_user, targets, base_url=current_app.config["PORTAL_BASE_URL"],
                               mail_domain=current_app.config["PORTAL_MAIL_DOMAIN"],
                               tz_name=current_app.config["PORTAL_TIMEZONE"])
    message, level = reminders.reminder_summary(outcome)
    flash(message, level)
    if level == "error":
        return redirect(url_for("progress.index"), code=303)
    return redirect(request.referrer if request.referrer and "/khao-sat/tien-do" in request.referrer
                    else url_for("progress.index"), code=303)


@bp.get("/don-doc/<int:operation_id>")
@province_staff
def remind_operation(operation_id: int):
    """"Đôn đốc tất cả" under way, then what it did. Only the province's own operations are found."""
    campaign, province = _context()
    operation = db.session.get(Operation, operation_id)
    if operation is None or operation.kind != "remind" or operation.province_id != province.id:
        abort(404)
    return render_operation(operation, "progress/remind_operation.html", endpoint="progress.remind_operation",
                            summary=lambda op: reminders.reminder_summary(reminders.reminder_outcome(op)),
                            running_text="Đang gửi thư đôn đốc", failed_text="Việc gửi thư đôn đốc bị dừng.")
