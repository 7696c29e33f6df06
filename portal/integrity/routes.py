"""Kiểm tra can thiệp: the ministry reads the integrity flags' evidence and decides, two administrators per decision."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.domain import index_recompute
from portal.domain import integrity_decisions as decisions
from portal.domain import integrity_review as review
from portal.extensions import db
from portal.models import IntegrityDecision
from portal.permissions import get_campaign_for_user, get_province_for_user, ministry_only

bp = Blueprint("integrity", __name__, url_prefix="/bo/kiem-tra-can-thiep")


@bp.before_request
@ministry_only
def _ministry_only() -> None:
    """Flags and their evidence are the ministry administrators' alone: 403 for every other role."""


def _two_person() -> bool:
    return current_app.config["PORTAL_INTEGRITY_TWO_PERSON"]


@bp.get("/")
def index():
    return render_template("integrity/index.html", campaigns=review.campaigns_with_counts(db.session))


@bp.get("/dot/<int:campaign_id>")
def campaign(campaign_id: int):
    item = get_campaign_for_user(db.session, current_user, campaign_id)
    return render_template("integrity/campaign.html", campaign=item,
                           rows=review.campaign_overview(db.session, item.id),
                           severities=review.SEVERITIES, severity_labels=review.SEVERITY_LABELS)


def _province_page(campaign_id: int, province_id: int, *, error: str | None = None, form=None,
                   ticked: tuple[str, set[str]] | None = None):
    item = get_campaign_for_user(db.session, current_user, campaign_id)
    province = get_province_for_user(db.session, current_user, province_id)
    flags, decision_views = review.province_review(db.session, item.id, province.id,
                                                   current_app.config["PORTAL_TIMEZONE"])
    return render_template(
        "integrity/province.html", campaign=item, province=province, flags=flags, decisions=decision_views,
        voided=decisions.is_province_voided(db.session, item.id, province.id), error=error, form=form or {},
        new_key=decisions.new_form_key, two_person=_two_person(), kinds=decisions.KIND_LABELS, ticked=ticked,
        pending=any(v.decision.state == decisions.PROPOSED for v in decision_views)), 422 if error else 200


@bp.get("/dot/<int:campaign_id>/tinh/<int:province_id>")
def province(campaign_id: int, province_id: int):
    return _province_page(campaign_id, province_id)


def _chosen_forms() -> list[tuple[int, str]]:
    """The forms ticked, "invitation id:form code" each; anything else is left out (and then refused as none)."""
    chosen = []
    for value in request.form.getlist("form"):
        invitation, _, code = value.partition(":")
        if invitation.isascii() and invitation.isdigit() and code and len(invitation) < 12:
            chosen.append((int(invitation), code))
    return chosen


def _done(message: str, campaign_id: int, province_id: int):
    flash(message, "success")
    return redirect(url_for("integrity.province", campaign_id=campaign_id, province_id=province_id) + "#quyet-dinh",
                    code=303)


def _effect_message(decision: IntegrityDecision, created: bool) -> str:
    if not created:
        return "Đề xuất này đã được gửi trước đó; không tạo thêm đề xuất mới."
    if decision.state == decisions.IN_EFFECT:
        return "Quyết định đã có hiệu lực (cấu hình không yêu cầu người thứ hai xác nhận)."
    return "Đã ghi đề xuất. Quyết định chỉ có hiệu lực khi một quản trị viên khác của Bộ xác nhận."


@bp.post("/dot/<int:campaign_id>/tinh/<int:province_id>/de-xuat")
def propose(campaign_id: int, province_id: int):
    item = get_campaign_for_user(db.session, current_user, campaign_id)
    province = get_province_for_user(db.session, current_user, province_id)
    flag_id = request.form.get("flag_id", "")
    try:
        outcome = decisions.propose(
            db.session, current_user, item, province.id, kind=request.form.get("kind", ""),
            reason=request.form.get("reason", ""), form_key=request.form.get("form_key", ""),
            flag_id=int(flag_id) if flag_id.isascii() and flag_id.isdigit() and len(flag_id) < 12 else None,
            forms=_chosen_forms(), two_person=_two_person())
    except decisions.DecisionError as problem:
        db.session.rollback()
        # The page again with what was typed and ticked, so nothing is lost.
        return _province_page(campaign_id, province_id, error=problem.message, form=request.form,
                              ticked=(flag_id, set(request.form.getlist("form"))))
    _index_follows(outcome.decision)
    return _done(_effect_message(outcome.decision, outcome.created), campaign_id, province_id)


def _index_follows(decision: IntegrityDecision) -> None:
    """A void (or its reversal) that took effect changes the survey points: the index follows, after the commit."""
    if decision.state == decisions.IN_EFFECT and decision.kind != decisions.DISMISS:
        index_recompute.recompute_after_change(db.session, decision.campaign_id,
                                               f"Quyết định kiểm tra can thiệp có hiệu lực (số {decision.id})")


def _decision(decision_id: int) -> IntegrityDecision:
    decision = db.session.get(IntegrityDecision, decision_id)
    if decision is None:
        abort(404)
    return decision


@bp.post("/quyet-dinh/<int:decision_id>/xac-nhan")
def confirm(decision_id: int):
    decision = _decision(decision_id)
    campaign_id, province_id = decision.campaign_id, decision.province_id
    try:
        decisions.confirm(db.session, current_user, decision)
    except decisions.DecisionError as problem:
        db.session.rollback()
        return _province_page(campaign_id, province_id, error=problem.message)
    _index_follows(decision)
    return _done("Đã xác nhận: quyết định có hiệu lực; tỉnh đã nhận được thông báo kèm lý do."
                 if decision.kind != decisions.DISMISS else "Đã xác nhận: cảnh báo được bỏ qua.",
                 campaign_id, province_id)


@bp.post("/quyet-dinh/<int:decision_id>/rut")
def withdraw(decision_id: int):
    decision = _decision(decision_id)
    campaign_id, province_id = decision.campaign_id, decision.province_id
    try:
        decisions.withdraw(db.session, current_user, decision)
    except decisions.DecisionError as problem:
        db.session.rollback()
        return _province_page(campaign_id, province_id, error=problem.message)
    return _done("Đã rút đề xuất; không có gì thay đổi.", campaign_id, province_id)


@bp.post("/quyet-dinh/<int:decision_id>/dao-nguoc")
def reverse(decision_id: int):
    decision = _decision(decision_id)
    campaign_id, province_id = decision.campaign_id, decision.province_id
    try:
        outcome = decisions.propose_reversal(db.session, current_user, decision, reason=request.form.get("reason", ""),
                                             form_key=request.form.get("form_key", ""), two_person=_two_person())
    except decisions.DecisionError as problem:
        db.session.rollback()
        return _province_page(campaign_id, province_id, error=problem.message,
                              form={**request.form, "reverses": str(decision_id)})
    _index_follows(outcome.decision)
    return _done(_effect_message(outcome.decision, outcome.created), campaign_id, province_id)
