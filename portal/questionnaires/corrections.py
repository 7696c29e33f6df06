"""The ministry corrects a form of the questionnaire set in the browser, and compares two versions in words."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import document_pages
from portal.domain import document_corrections, document_diff, questionnaire_corrections, questionnaires
from portal.domain.questionnaires import QuestionnaireError
from portal.extensions import db
from portal.models import Campaign

bp = document_pages.ministry_blueprint("questionnaire_corrections", __name__, "/bo/phieu-khao-sat")


def _editor(campaign: Campaign, form_code: str, state: dict | None = None, status: int = 200):
    """The editor of one form of the current version: the whole page, or (HTMX) the editor alone."""
    row = questionnaires.current_version(db.session, campaign)
    form = questionnaires.load(row).form(form_code) if row else None
    if form is None:
        abort(404)
    template = "questionnaire_corrections/_editor.html" if request.htmx else "questionnaire_corrections/edit.html"
    return render_template(template, row=row, form=form, state=state or {}, kinds=questionnaires.KIND_LABELS,
                           frozen_message=questionnaire_corrections.FROZEN_MESSAGE,
                           saved=request.args.get("da-luu", "")), status


@bp.get("/sua/<form_code>")
def edit(form_code: str):
    return _editor(document_pages.campaign_or_404(), form_code)


def _base() -> int | None:
    return request.form.get("base", type=int)


def _fields() -> dict[str, str]:
    return {key: value for key, value in request.form.items() if key not in ("csrf_token", "base")}


def _answer(campaign: Campaign, form_code: str, question_id: str, correction):
    """Run one correction and answer: the editor again (HTMX, or a refused plain form) or a redirect to it."""
    try:
        outcome = correction()
    except questionnaire_corrections.QuestionNotFound:
        db.session.rollback()
        abort(404)
    except QuestionnaireError as problem:
        db.session.rollback()
        state = {"question_id": question_id, "error": problem, "submitted": _fields()}
        return _editor(campaign, form_code, state, document_corrections.status_of(problem))
    message = (f"Đã lưu phiên bản {outcome.version.version} của bộ phiếu: " + "; ".join(outcome.changes) + "."
               if outcome.changed else "Không có gì thay đổi (có thể nội dung này đã được lưu).")
    if request.htmx:
        return _editor(campaign, form_code, {"question_id": question_id, "saved": message})
    flash(message, "success" if outcome.changed else "info")
    return redirect(url_for("questionnaire_corrections.edit", form_code=form_code, **{"da-luu": question_id})
                    + f"#cau-{question_id}", code=303)


@bp.post("/sua/<form_code>/cau/<question_id>")
def save_question(form_code: str, question_id: str):
    campaign = document_pages.campaign_or_404()
    return _answer(campaign, form_code, question_id, lambda: questionnaire_corrections.edit_question(
        db.session, current_user, campaign, _base(), form_code, question_id, _fields()))


@bp.post("/sua/<form_code>/cau/<question_id>/vi-tri")
def move_question(form_code: str, question_id: str):
    campaign = document_pages.campaign_or_404()
    position = request.form.get("vi_tri", type=int)
    if position is None:
        return _editor(campaign, form_code, {"question_id": question_id, "error": QuestionnaireError(
            "Chưa chọn vị trí mới cho câu hỏi.")}, 422)
    return _answer(campaign, form_code, question_id, lambda: questionnaire_corrections.move_question(
        db.session, current_user, campaign, _base(), form_code, question_id, position))


@bp.get("/so-sanh")
def compare():
    rows = questionnaires.versions(db.session, document_pages.campaign_or_404())
    older, newer, changes = document_pages.compared(rows, questionnaires.load, document_diff.questionnaire_changes)
    return render_template("questionnaire_corrections/compare.html", rows=rows, older=older, newer=newer,
                           changes=changes)
