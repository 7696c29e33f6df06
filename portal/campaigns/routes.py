"""Đợt đánh giá: the ministry's list of campaigns, a new one (from scratch or copied), the current one; and
every campaign's lists and progress read-only (/dot/<id>/…), for the ministry and each province."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.domain import campaign_admin, delivery, departments, lists, national, progress, units
from portal.domain.campaigns import DEADLINE_LABELS, local_today
from portal.extensions import db
from portal.models import Campaign, Department, Province, Role
from portal.permissions import (
    get_campaign_for_user,
    get_province_for_user,
    ministry_only,
    roles_required,
)

bp = Blueprint("campaigns", __name__)

CONTACT_LABELS = {"contact_name": "Họ và tên người liên hệ", "contact_unit": "Đơn vị",
                  "contact_phone": "Số điện thoại", "contact_email": "Email"}


def _tz() -> str:
    return current_app.config["PORTAL_TIMEZONE"]


@bp.get("/bo/dot-danh-gia")
@ministry_only
def index():
    rows = campaign_admin.all_campaigns(db.session)
    return render_template("campaigns/index.html", rows=rows,
                           maps={row.campaign.id: units.map_label(db.session, row.campaign) for row in rows})


def _source() -> Campaign | None:
    raw = request.values.get("tu", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        return None
    return db.session.get(Campaign, int(raw))


@bp.route("/bo/dot-danh-gia/moi", methods=["GET", "POST"])
@ministry_only
def new():
    source = _source()
    choices = {"maps": units.MAPS, "campaigns": [row.campaign for row in campaign_admin.all_campaigns(db.session)],
               "labels": DEADLINE_LABELS, "contact_labels": CONTACT_LABELS}
    if request.method == "POST":
        created = campaign_admin.create_campaign(db.session, current_user, request.form.to_dict(), source=source)
        if created.campaign is not None:
            flash(f"Đã tạo “{created.campaign.name}”. Kiểm tra lại rồi bấm “Chọn làm đợt hiện hành” để các tỉnh, "
                  "thành phố bắt đầu làm việc trên đợt này.", "success")
            return _accounts_or(created.campaign, url_for("campaigns.index") + f"#dot-{created.campaign.id}")
        db.session.rollback()
        return render_template("campaigns/new.html", source=source, form=request.form, errors=created.errors,
                               **choices), 422
    form = campaign_admin.new_campaign_form(source, local_today(_tz()))
    return render_template("campaigns/new.html", source=source, form=form, errors={}, **choices)


def _accounts_or(campaign: Campaign, target: str):
    """The printable sheet of the accounts just made for provinces new to the map, or on to `target`."""
    sheet = campaign_admin.provision_map_accounts(db.session, campaign)
    if not sheet:
        return redirect(target, code=303)
    return render_template("campaigns/accounts.html", campaign=campaign, sheet=sheet, next_url=target,
                           login_url=current_app.config["PORTAL_BASE_URL"] + "/dang-nhap")


@bp.get("/bo/dot-danh-gia/<int:campaign_id>/ban-do")
@ministry_only
def campaign_map(campaign_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    return render_template("campaigns/map.html", campaign=campaign, summary=units.summary(db.session, campaign),
                           kinds=units.UNIT_KINDS)


@bp.get("/bo/dot-danh-gia/<int:campaign_id>/ban-do/<int:province_id>")
@ministry_only
def campaign_map_province(campaign_id: int, province_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    entry = units.map_entry(db.session, campaign, province_id)
    if entry is None:
        abort(404)
    return render_template("campaigns/map_province.html", campaign=campaign, entry=entry,
                           kind=units.UNIT_KINDS.get(entry.unit_kind),
                           rows=units.units_of(db.session, campaign, province_id))


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/hien-hanh")
@ministry_only
def make_current(campaign_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    try:
        previous = campaign_admin.make_current(db.session, current_user, campaign,
                                               confirmed=bool(request.form.get("xac_nhan")))
    except campaign_admin.CampaignSwitchError as problem:
        db.session.rollback()
        flash(problem.message, "error")
        return redirect(url_for("campaigns.index") + f"#dot-{campaign_id}", code=303)
    flash(f"“{campaign.name}” là đợt đánh giá hiện hành; các tỉnh, thành phố đã được thông báo."
          + (f" “{previous.name}” chuyển sang chỉ xem." if previous else ""), "success")
    return _accounts_or(campaign, url_for("campaigns.index"))


# ---------------------------------------------------------------- the campaign's ministries and departments


def _editable(campaign: Campaign) -> bool:
    return not campaign.is_template and campaign.closed_at is None


@bp.get("/bo/dot-danh-gia/<int:campaign_id>/so-nganh")
@ministry_only
def campaign_departments(campaign_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    return render_template("campaigns/departments.html", campaign=campaign, editable=_editable(campaign),
                           ministries=departments.ministries(db.session, campaign.id),
                           counts=departments.counts_by_province(db.session, campaign.id),
                           entries=units.map_rows(db.session, campaign))


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/so-nganh/bo-nganh")
@ministry_only
def add_ministry(campaign_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    try:
        added = departments.add_ministry(db.session, current_user, campaign, request.form.get("ten_bo", ""),
                                         request.form.get("loai", ""))
    except departments.DepartmentError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        flash(f"Đã thêm “{added.name}” vào danh sách bộ, ngành của đợt.", "success")
    return redirect(url_for("campaigns.campaign_departments", campaign_id=campaign_id) + "#bo-nganh", code=303)


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/so-nganh/bo-nganh/<int:ministry_id>/bo")
@ministry_only
def remove_ministry(campaign_id: int, ministry_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    try:
        removed = departments.remove_ministry(db.session, current_user, campaign, ministry_id)
    except departments.DepartmentError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        flash(f"Đã bỏ “{removed.name}” khỏi danh sách bộ, ngành của đợt.", "success")
    return redirect(url_for("campaigns.campaign_departments", campaign_id=campaign_id) + "#bo-nganh", code=303)


def _map_entry(campaign: Campaign, province_id: int):
    entry = units.map_entry(db.session, campaign, province_id)
    if entry is None:
        abort(404)
    return entry


def _province_departments_page(campaign: Campaign, entry, *, error: str = "", form=None):
    return render_template(
        "campaigns/province_departments.html", campaign=campaign, entry=entry, editable=_editable(campaign),
        rows=departments.of_province(db.session, campaign.id, entry.province_id, with_retired=True),
        ministries=departments.ministries(db.session, campaign.id), error=error, form=form or {},
    ), 422 if error else 200


@bp.route("/bo/dot-danh-gia/<int:campaign_id>/so-nganh/<int:province_id>", methods=["GET", "POST"])
@ministry_only
def province_departments(campaign_id: int, province_id: int):
    """A province's departments in the campaign; the ministry adds one here (POST)."""
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    entry = _map_entry(campaign, province_id)
    if request.method == "POST":
        province = db.session.get(Province, province_id)
        try:
            added = departments.ministry_adds_department(db.session, current_user, campaign, province,
                                                         request.form.get("ten", ""), request.form.get("bo", type=int),
                                                         request.form.get("ly_do", ""))
        except departments.DepartmentError as problem:
            db.session.rollback()
            return _province_departments_page(campaign, entry, error=problem.message, form=request.form)
        flash(f"Đã thêm “{added.name}” vào danh mục sở, ngành của {entry.name}.", "success")
        return redirect(url_for("campaigns.province_departments", campaign_id=campaign.id,
                                province_id=province_id) + f"#d-{added.id}", code=303)
    return _province_departments_page(campaign, entry)


def _department(campaign_id: int, province_id: int, department_id: int) -> Department:
    """The department when it is that province's in that campaign; 404 otherwise."""
    get_campaign_for_user(db.session, current_user, campaign_id)
    department = db.session.get(Department, department_id)
    if department is None or department.campaign_id != campaign_id or department.province_id != province_id:
        abort(404)
    return department


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/so-nganh/<int:province_id>/<int:department_id>")
@ministry_only
def edit_department(campaign_id: int, province_id: int, department_id: int):
    """Rename a department or change its parent ministry."""
    department = _department(campaign_id, province_id, department_id)
    try:
        departments.correct_department(db.session, current_user, department, request.form.get("ten", ""),
                                       request.form.get("bo", type=int), request.form.get("ly_do", ""))
    except departments.DepartmentError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        flash(f"Đã lưu “{department.name}”.", "success")
    return redirect(url_for("campaigns.province_departments", campaign_id=campaign_id, province_id=province_id)
                    + f"#d-{department_id}", code=303)


@bp.post("/bo/dot-danh-gia/<int:campaign_id>/so-nganh/<int:province_id>/<int:department_id>/ngung")
@ministry_only
def retire_department(campaign_id: int, province_id: int, department_id: int):
    """Retire a department (merged away, dissolved): lists of the campaign no longer name it."""
    department = _department(campaign_id, province_id, department_id)
    try:
        departments.retire_department(db.session, current_user, department, request.form.get("ly_do", ""))
    except departments.DepartmentError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        flash(f"“{department.name}” đã ngừng sử dụng trong đợt này.", "success")
    return redirect(url_for("campaigns.province_departments", campaign_id=campaign_id, province_id=province_id)
                    + f"#d-{department_id}", code=303)


# ---------------------------------------------------------------- any campaign, read-only


@bp.get("/dot/<int:campaign_id>/")
@roles_required(Role.MINISTRY, Role.PROVINCE, Role.IT_FOCAL)
def past(campaign_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    state = campaign_admin.state_of(campaign)
    if current_user.role == Role.MINISTRY:
        rows = national.lists_table(db.session, campaign, tz_name=_tz())
        return render_template("campaigns/past.html", campaign=campaign, state=state, rows=rows,
                               state_label=campaign_admin.STATE_LABELS[state])
    province = db.session.get(Province, current_user.province_id)
    rlist = lists.list_for(db.session, campaign, province.id)
    return render_template("campaigns/past.html", campaign=campaign, state=state, province=province, rlist=rlist,
                           state_label=campaign_admin.STATE_LABELS[state],
                           people=lists.review_page(db.session, rlist, per_page=1).total if rlist else 0)


@bp.get("/dot/<int:campaign_id>/tinh/<int:province_id>/danh-sach")
@roles_required(Role.MINISTRY, Role.PROVINCE)
def past_list(campaign_id: int, province_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    province = get_province_for_user(db.session, current_user, province_id)
    rlist = lists.list_for(db.session, campaign, province.id)
    page = lists.review_page(db.session, rlist, query=request.args.get("q", ""),
                             page=request.args.get("trang", 1, type=int)) if rlist else None
    groups = {g.id: g for g in lists.campaign_groups(db.session, campaign)}
    return render_template("campaigns/list.html", campaign=campaign, province=province, rlist=rlist, page=page,
                           groups=groups, query=request.args.get("q", ""),
                           state=campaign_admin.state_of(campaign))


@bp.get("/dot/<int:campaign_id>/tinh/<int:province_id>/tien-do")
@roles_required(Role.MINISTRY, Role.PROVINCE, Role.IT_FOCAL)
def past_progress(campaign_id: int, province_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    province = get_province_for_user(db.session, current_user, province_id)
    args = {"query": request.args.get("q", ""), "show": request.args.get("loc", ""),
            "sort": request.args.get("xep", "stt")}
    page = progress.respondent_page(db.session, campaign.id, province.id, **args,
                                    page=request.args.get("trang", 1, type=int))
    return render_template(
        "campaigns/progress.html", campaign=campaign, province=province, page=page, **args,
        summary=progress.province_summary(db.session, campaign.id, province.id),
        delivery_labels=progress.DELIVERY_LABELS, form_labels=progress.FORM_STATE_LABELS, can_remind=False,
        endpoint="campaigns.past_progress", url_args={"campaign_id": campaign.id, "province_id": province.id},
        state=campaign_admin.state_of(campaign))



@bp.get("/dot/<int:campaign_id>/tinh/<int:province_id>/loi-gui")
@roles_required(Role.MINISTRY, Role.PROVINCE, Role.IT_FOCAL)
def past_delivery_errors(campaign_id: int, province_id: int):
    """The invitations of the campaign that did not reach the province's people, as they were left: nothing to fix."""
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    province = get_province_for_user(db.session, current_user, province_id)
    return render_template("campaigns/delivery_errors.html", campaign=campaign, province=province,
                           rows=delivery.errors_for_province(db.session, campaign.id, province.id),
                           state=campaign_admin.state_of(campaign))
