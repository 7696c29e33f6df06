"""Nhóm đối tượng khảo sát: the ministry reads and edits a campaign's respondent groups and position titles
while the campaign is being prepared (portal/domain/respondent_groups.py). Plain forms that post and redirect;
with htmx, a group's card is swapped in place."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.campaigns.routes import bp
from portal.domain import campaign_admin, group_kinds, respondent_groups
from portal.extensions import db
from portal.models import Campaign, RespondentGroup
from portal.permissions import get_campaign_for_user, get_group_for_user, ministry_only


def _page(campaign: Campaign, *, status: int = 200, errors: dict | None = None, error_for: str = "",
          form: dict | None = None):
    groups = respondent_groups.groups_of(db.session, campaign)
    return render_template(
        "campaigns/groups.html", campaign=campaign, groups=groups,
        positions=respondent_groups.positions_by_group(db.session, groups),
        refusal=respondent_groups.edit_refusal(db.session, campaign), kinds=group_kinds.UNIT_KIND_LABELS,
        state_label=campaign_admin.STATE_LABELS[campaign_admin.state_of(campaign)],
        questionnaire_problems=respondent_groups.questionnaire_problems(db.session, campaign),
        errors=errors or {}, error_for=error_for, form=form or {}), status


def _card(campaign: Campaign, group: RespondentGroup, *, status: int = 200, errors: dict | None = None,
          error_for: str = "", form: dict | None = None):
    return render_template(
        "campaigns/_group.html", campaign=campaign, group=group,
        titles=respondent_groups.positions_by_group(db.session, [group])[group.id],
        refusal=respondent_groups.edit_refusal(db.session, campaign), kinds=group_kinds.UNIT_KIND_LABELS,
        errors=errors or {}, error_for=error_for, form=form or {}), status


def _done(campaign: Campaign, group: RespondentGroup | None, message: str):
    """After a change: the group's card again for htmx, otherwise back to the page at the group."""
    db.session.refresh(campaign)
    if request.htmx and group is not None:
        return _card(campaign, group)
    flash(message, "success")
    anchor = f"#nhom-{group.id}" if group is not None else ""
    return redirect(url_for("campaigns.groups", campaign_id=campaign.id) + anchor, code=303)


def _refused(campaign: Campaign, group: RespondentGroup | None, problem: respondent_groups.GroupEditError):
    db.session.rollback()
    if request.htmx and group is not None:
        return _card(campaign, group, status=409, errors={"refusal": problem.message}, error_for=f"nhom-{group.id}")
    flash(problem.message, "error")
    return redirect(url_for("campaigns.groups", campaign_id=campaign.id), code=303)


def _invalid(campaign: Campaign, group: RespondentGroup | None, errors: dict, error_for: str):
    db.session.rollback()
    if request.htmx and group is not None:
        return _card(campaign, group, status=422, errors=errors, error_for=error_for, form=request.form)
    return _page(campaign, status=422, errors=errors, error_for=error_for, form=request.form)


@bp.get("/bo/dot-danh-gia/<int:campaign_id>/nhom-doi-tuong")
@ministry_only
def groups(campaign_id: int):
    return _page(get_campaign_for_user(db.session, current_user, campaign_id))


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/nhom-doi-tuong")
@ministry_only
def add_group(campaign_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    try:
        group, errors = respondent_groups.save_group(db.session, current_user, campaign, request.form.to_dict())
    except respondent_groups.GroupEditError as problem:
        return _refused(campaign, None, problem)
    if group is None:
        return _invalid(campaign, None, errors, "nhom-moi")
    flash(f"Đã thêm nhóm {group.label}. Hãy thêm các chức danh của nhóm.", "success")
    return redirect(url_for("campaigns.groups", campaign_id=campaign.id) + f"#nhom-{group.id}", code=303)


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/nhom-doi-tuong/<int:group_id>")
@ministry_only
def save_group(campaign_id: int, group_id: int):
    campaign, group, _ = get_group_for_user(db.session, current_user, campaign_id, group_id)
    try:
        saved, errors = respondent_groups.save_group(db.session, current_user, campaign, request.form.to_dict(),
                                                     group)
    except respondent_groups.GroupEditError as problem:
        return _refused(campaign, group, problem)
    if saved is None:
        return _invalid(campaign, group, errors, f"nhom-{group.id}")
    return _done(campaign, saved, f"Đã lưu nhóm {saved.label}.")


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/nhom-doi-tuong/<int:group_id>/xoa")
@ministry_only
def delete_group(campaign_id: int, group_id: int):
    campaign, group, _ = get_group_for_user(db.session, current_user, campaign_id, group_id)
    label = group.label
    try:
        respondent_groups.delete_group(db.session, current_user, campaign, group)
    except respondent_groups.GroupEditError as problem:
        return _refused(campaign, group, problem)
    if request.htmx:
        return ""  # the card disappears
    return _done(campaign, None, f"Đã xóa nhóm {label}.")


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/nhom-doi-tuong/<int:group_id>/chuc-danh")
@ministry_only
def add_position(campaign_id: int, group_id: int):
    campaign, group, _ = get_group_for_user(db.session, current_user, campaign_id, group_id)
    try:
        errors = respondent_groups.save_position(db.session, current_user, campaign, group, request.form.to_dict())
    except respondent_groups.GroupEditError as problem:
        return _refused(campaign, group, problem)
    if errors:
        return _invalid(campaign, group, errors, f"chuc-danh-moi-{group.id}")
    return _done(campaign, group, f"Đã thêm chức danh vào nhóm {group.label}.")


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/nhom-doi-tuong/<int:group_id>/chuc-danh/<int:position_id>")
@ministry_only
def save_position(campaign_id: int, group_id: int, position_id: int):
    campaign, group, position = get_group_for_user(db.session, current_user, campaign_id, group_id, position_id)
    try:
        errors = respondent_groups.save_position(db.session, current_user, campaign, group, request.form.to_dict(),
                                                 position)
    except respondent_groups.GroupEditError as problem:
        return _refused(campaign, group, problem)
    if errors:
        return _invalid(campaign, group, errors, f"chuc-danh-{position_id}")
    return _done(campaign, group, f"Đã lưu chức danh của nhóm {group.label}.")


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/nhom-doi-tuong/<int:group_id>/chuc-danh/<int:position_id>/xoa")
@ministry_only
def delete_position(campaign_id: int, group_id: int, position_id: int):
    campaign, group, position = get_group_for_user(db.session, current_user, campaign_id, group_id, position_id)
    try:
        respondent_groups.delete_position(db.session, current_user, campaign, group, position)
    except respondent_groups.GroupEditError as problem:
        return _refused(campaign, group, problem)
    return _done(campaign, group, f"Đã xóa chức danh khỏi nhóm {group.label}.")
