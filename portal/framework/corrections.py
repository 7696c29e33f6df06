"""The ministry corrects the framework's lines in the browser, and compares two versions in words."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import document_pages
from portal.domain import document_corrections, document_diff, framework, framework_corrections
from portal.domain.framework import FrameworkError
from portal.extensions import db
from portal.models import Campaign

bp = document_pages.ministry_blueprint("framework_corrections", __name__, "/bo/bo-tieu-chi")


def _editor(campaign: Campaign, state: dict | None = None, status: int = 200):
    """The editor of the current version: the whole page, or (HTMX) the editor alone."""
    row = framework.current_version(db.session, campaign)
    if row is None:
        return render_template("framework_corrections/edit.html", row=None, content=None), 200
    template = "framework_corrections/_editor.html" if request.htmx else "framework_corrections/edit.html"
    return render_template(template, row=row, content=framework.load(row), state=state or {},
                           frozen_message=framework_corrections.FROZEN_MESSAGE), status


@bp.get("/sua")
def edit():
    return _editor(document_pages.campaign_or_404())


@bp.post("/sua")
def save():
    campaign = document_pages.campaign_or_404()
    fields = {key: value for key, value in request.form.items() if key not in ("csrf_token", "base")}
    try:
        outcome = framework_corrections.correct_lines(db.session, current_user, campaign,
                                                      request.form.get("base", type=int), fields)
    except FrameworkError as problem:
        db.session.rollback()
        return _editor(campaign, {"error": problem, "submitted": fields}, document_corrections.status_of(problem))
    message = (f"Đã lưu phiên bản {outcome.version.version} của bộ tiêu chí: " + "; ".join(outcome.changes) + "."
               if outcome.changed else "Không có gì thay đổi (có thể các sửa đổi này đã được lưu).")
    if request.htmx:
        return _editor(campaign, {"saved": message})
    flash(message, "success" if outcome.changed else "info")
    return redirect(url_for("framework_corrections.edit"), code=303)


@bp.get("/so-sanh")
def compare():
    rows = framework.versions(db.session, document_pages.campaign_or_404())
    older, newer, changes = document_pages.compared(rows, framework.load, document_diff.framework_changes)
    return render_template("framework_corrections/compare.html", rows=rows, older=older, newer=newer, changes=changes)
bp.add_app_template_global(document_corrections.SOURCE, "correction_source")
