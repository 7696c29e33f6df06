"""The ministry's pages: provinces and their accounts, notices, the campaign, the audit log."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from portal.domain import (
    accounts,
    audit,
    campaign_admin,
    departments,
    invitations,
    it_focal,
    lists,
    national,
    notices,
    operations,
    overview,
    questionnaires,
    reminders,
    units,
)
from portal.domain.campaigns import DEADLINE_LABELS, current_campaign, is_past
from portal.domain.dates import parse_date_vn
from portal.domain.national_progress import NATIONAL_SORTS, national_table
from portal.downloads import xlsx_download
from portal.extensions import db
from portal.models import Department, Operation, Province, User
from portal.permissions import current_campaign_or_refuse, get_province_for_user, ministry_only
from portal.polling import render_operation

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
    campaign = current_campaign(db.session)
    districts = units.units_of(db.session, campaign, item.id) if campaign is not None else []
    rows = departments.of_province(db.session, campaign.id, item.id) if campaign is not None else []
    return render_template("ministry/province.html", province=item, users=users, districts=districts,
                           departments=[d for d, _m in rows], campaign=campaign,
                           entries=audit.entries(db.session, province_id=item.id, limit=20))


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
        chosen = [int(v) for v in request.form.getlist("province_ids") if v.isascii() and v.isdigit()]
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
            flash("Đã lưu các mốc thời hạn. Các tỉnh, thành phố liên quan đã được thông báo trên Cổng.", "success")
            return redirect(url_for("ministry.campaign"))
    return _campaign_page(item, errors=errors, form=request.form)


def _campaign_page(item, *, errors=None, form=None, contact_errors=None, contact_form=None):
    bad = bool(errors or contact_errors)
    return render_template("ministry/campaign.html", campaign=item, labels=DEADLINE_LABELS, errors=errors or {},
                           form=form or {}, contact_errors=contact_errors or {}, contact_form=contact_form or {},
                           tz=current_app.config["PORTAL_TIMEZONE"]), 422 if bad else 200


@bp.post("/chien-dich/lien-he")
def campaign_contact():
    item = _campaign_or_404()
    errors = campaign_admin.update_contact(db.session, current_user, item, request.form.to_dict())
    if errors:
        return _campaign_page(item, contact_errors=errors, contact_form=request.form)
    flash("Đã lưu người liên hệ của đợt đánh giá.", "success")
    return redirect(url_for("ministry.campaign") + "#lien-he", code=303)


@bp.get("/nhat-ky")
def audit_log():
    return render_template("ministry/audit.html", entries=audit.entries(db.session, limit=500))


# ---------------------------------------------------------------- respondent lists of the provinces


def _campaign_or_404():
    return current_campaign_or_refuse(db.session)


def _tz() -> str:
    return current_app.config["PORTAL_TIMEZONE"]


@bp.get("/danh-sach")
def lists_table():
    item = _campaign_or_404()
    status = request.args.get("trang-thai", "")
    rows = national.lists_table(db.session, item, status=status, tz_name=_tz())
    groups = lists.campaign_groups(db.session, item)
    totals: dict[int, int] = {}
    for row in rows:
        for group_id, count in row.counts.items():
            totals[group_id] = totals.get(group_id, 0) + count
    return render_template("ministry/lists.html", campaign=item, status=status, rows=rows, totals=totals,
                           groups=groups, headers=national.list_headers(groups), filters=national.LIST_FILTERS,
                           inbox=lists.unread_ministry_notices(db.session))


@bp.get("/danh-sach/xuat.xlsx")
def export_lists_table():
    item = _campaign_or_404()
    status = request.args.get("trang-thai", "")
    rows = national.lists_table(db.session, item, status=status, tz_name=_tz())
    data = national.lists_export(rows, lists.campaign_groups(db.session, item), item, status=status, tz_name=_tz())
    return xlsx_download(data, f"danh-sach-cac-dia-phuong-{item.year}.xlsx")


@bp.post("/danh-sach/da-doc")
def lists_inbox_read():
    lists.mark_ministry_notices_read(db.session)
    return redirect(url_for("ministry.lists_table"), code=303)


def _province_list(province_id: int):
    item = _campaign_or_404()
    province = get_province_for_user(db.session, current_user, province_id)
    return item, province, lists.list_for(db.session, item, province.id)


@bp.get("/danh-sach/<int:province_id>")
def province_list(province_id: int):
    item, province, rlist = _province_list(province_id)
    page = lists.review_page(db.session, rlist, show=request.args.get("loc", ""), query=request.args.get("q", ""),
                             page=request.args.get("trang", 1, type=int)) if rlist else None
    # The merge record is the province's working file until it sends; then the ministry sees it too.
    merges = lists.merge_record(rlist) if rlist and rlist.status == "sent" else []
    return render_template("ministry/province_list.html", campaign=item, province=province, rlist=rlist, page=page,
                           merges=merges,
                           summary=lists.summary(db.session, rlist, item),
                           groups={g.id: g for g in lists.campaign_groups(db.session, item)},
                           deadline=lists.deadline_of(rlist, item), problems_of=lists.row_problems,
                           entries=audit.entries(db.session, province_id=province.id, limit=20),
                           show=request.args.get("loc", ""), query=request.args.get("q", ""), error=None)


@bp.post("/danh-sach/<int:province_id>/tra-lai")
def return_list(province_id: int):
    item, province, rlist = _province_list(province_id)
    until = parse_date_vn(request.form.get("extension_until", "")) if request.form.get("extension_until") else None
    try:
        if rlist is None:
            raise lists.ListError("Tỉnh, thành phố này chưa có danh sách.")
        if request.form.get("extension_until") and until is None:
            raise lists.ListError("Ngày gia hạn không hợp lệ; hãy nhập theo dạng dd/mm/yyyy.")
        lists.return_list(db.session, current_user, rlist, province, request.form.get("reason", ""),
                          extension_until=until)
    except lists.ListError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        flash(f"Đã trả lại danh sách cho {province.name} để chỉnh sửa.", "success")
    return redirect(url_for("ministry.province_list", province_id=province.id), code=303)


@bp.post("/danh-sach/<int:province_id>/gia-han")
def extend_list(province_id: int):
    item, province, rlist = _province_list(province_id)
    until = parse_date_vn(request.form.get("until", ""))
    try:
        if until is None:
            raise lists.ListError("Vui lòng nhập ngày gia hạn theo dạng dd/mm/yyyy.")
        rlist = rlist or lists.get_or_create_list(db.session, item, province.id)
        lists.grant_extension(db.session, current_user, rlist, province, until, request.form.get("reason", ""),
                              tz_name=current_app.config["PORTAL_TIMEZONE"])
    except lists.ListError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        flash(f"Đã gia hạn gửi danh sách cho {province.name} đến {until:%d/%m/%Y}.", "success")
    return redirect(url_for("ministry.province_list", province_id=province.id), code=303)


@bp.get("/danh-sach/<int:province_id>/xuat.xlsx")
def export_list(province_id: int):
    item, province, rlist = _province_list(province_id)
    if rlist is None:
        abort(404)
    data = lists.export_list(db.session, rlist, item, province)
    return xlsx_download(data, f"danh-sach-khao-sat-{province.slug}.xlsx")


@bp.get("/so-nganh-dia-phuong")
def province_departments():
    """Every department a province added to its own list of departments, to review and correct."""
    campaign = current_campaign(db.session)
    return render_template("ministry/province_departments.html", campaign=campaign,
                           rows=departments.additions(db.session, campaign.id) if campaign else [],
                           ministries=departments.ministries(db.session, campaign.id) if campaign else [])


@bp.post("/so-nganh-dia-phuong/<int:department_id>")
def correct_province_department(department_id: int):
    department = db.session.get(Department, department_id)
    if department is None or department.added_by_id is None:
        abort(404)
    try:
        departments.correct_department(db.session, current_user, department,
                                       request.form.get("ten", ""), request.form.get("bo", type=int),
                                       request.form.get("ly_do", ""))
    except departments.DepartmentError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        flash(f"Đã sửa “{department.name}”; tỉnh đã được thông báo.", "success")
    return redirect(url_for("ministry.province_departments") + f"#d-{department_id}", code=303)


# ---------------------------------------------------------------- launching the survey, reminders


def _chosen_provinces(values) -> list[int]:
    return sorted({int(v) for v in values.getlist("province_ids") if v.isascii() and v.isdigit()})


@bp.get("/phat-hanh")
def launch():
    """Choose the provinces: the ticks are the only thing that decides the scope."""
    item = _campaign_or_404()
    return _launch_page(item, all_ticked=request.args.get("chon") == "tat-ca",
                        ticked=_chosen_provinces(request.args))


def _launch_page(item, *, ticked, all_ticked: bool = False, error: str | None = None):
    candidates = invitations.launch_candidates(db.session, item)
    return render_template("ministry/launch.html", campaign=item,
                           version=questionnaires.current_version(db.session, item), candidates=candidates,
                           launching=invitations.launching(db.session, item),
                           failed=[op for op in operations.recent(db.session, "launch", item.id)
                                   if op.state == "failed"],
                           ticked={c.province.id for c in candidates} if all_ticked else set(ticked), error=error,
                           schedules=reminders.reminder_schedules(db.session, item),
                           max_reminders=current_app.config["PORTAL_MAX_REMINDERS"],
                           responses_closed=is_past(item.response_deadline, current_app.config["PORTAL_TIMEZONE"]))


@bp.route("/phat-hanh/xac-nhan", methods=["GET", "POST"])
def launch_confirm():
    """Show exactly which provinces and how many emails; the POST of this page is what sends."""
    item = _campaign_or_404()
    values = request.form if request.method == "POST" else request.args
    chosen = _chosen_provinces(values)
    try:
        plan = invitations.plan_launch(db.session, item, chosen)
        if plan.version is None:
            raise invitations.LaunchError(invitations.NO_QUESTIONNAIRE)
    except invitations.LaunchError as problem:
        if request.method == "GET":  # back on the choice, the ticks kept, the reason above them
            return _launch_page(item, ticked=chosen, error=problem.message)
        flash(problem.message, "error")
        return redirect(url_for("ministry.launch"), code=303)
    error = None
    if request.method == "POST":
        try:
            operation = invitations.start_launch(
                db.session, current_user, item, chosen, base_url=current_app.config["PORTAL_BASE_URL"],
                mail_domain=current_app.config["PORTAL_MAIL_DOMAIN"], tz_name=_tz(),
                accept_sample=request.form.get("accept_sample") == "1",
                expected_emails=request.form.get("emails", type=int, default=-1))
        except invitations.LaunchError as problem:
            db.session.rollback()
            if problem.message not in (invitations.SAMPLE_NOT_ACCEPTED, invitations.PLAN_CHANGED):
                flash(problem.message, "error")
                return redirect(url_for("ministry.launch"), code=303)
            error = problem.message
            try:  # show the page again as things now stand
                plan = invitations.plan_launch(db.session, item, chosen)
            except invitations.LaunchError as again:
                flash(again.message, "error")
                return redirect(url_for("ministry.launch"), code=303)
        else:
            # The worker invites the people chunk by chunk; the ministry follows it on the operation's page.
            return redirect(url_for("ministry.launch_operation", operation_id=operation.id), code=303)
    return render_template("ministry/launch_confirm.html", campaign=item, plan=plan, error=error), \
        422 if error else 200


# What the ministry's page says of each kind of operation: its title, while running, when stopped, once done.
OPERATION_TEXTS = {
    "launch": ("Phát hành khảo sát", "Đang phát hành", "Việc phát hành bị dừng.",
               lambda op: (invitations.launch_summary(op), "success")),
    "remind": ("Đôn đốc trả lời phiếu", "Đang gửi thư đôn đốc", "Việc gửi thư đôn đốc bị dừng.",
               lambda op: reminders.reminder_summary(reminders.reminder_outcome(op))),
}


def _operation_or_404(operation_id: int) -> Operation:
    operation = db.session.get(Operation, operation_id)
    if operation is None or operation.kind not in OPERATION_TEXTS:
        abort(404)
    return operation


@bp.get("/phat-hanh/tien-trinh/<int:operation_id>")
def launch_operation(operation_id: int):
    """A launch under way ("Đang phát hành: 4.500 / 20.000 người"), then what was launched; the ministry
    follows a province's "Đôn đốc tất cả" here too."""
    operation = _operation_or_404(operation_id)
    title, running, failed, summary = OPERATION_TEXTS[operation.kind]
    return render_operation(operation, "ministry/launch_operation.html", endpoint="ministry.launch_operation",
                            summary=summary, title=title, running_text=running, failed_text=failed)


@bp.post("/phat-hanh/tien-trinh/<int:operation_id>/chay-lai")
def retry_launch_operation(operation_id: int):
    operation = _operation_or_404(operation_id)
    if operations.retry(db.session, current_user, operation):
        flash("Đã cho chạy tiếp từ chỗ đã dừng.", "success")
    return redirect(url_for("ministry.launch_operation", operation_id=operation.id), code=303)


@bp.post("/phat-hanh/lich-nhac")
def add_reminder():
    item = _campaign_or_404()
    day = parse_date_vn(request.form.get("send_on", ""))
    try:
        if day is None:
            raise invitations.LaunchError("Vui lòng nhập ngày nhắc theo dạng dd/mm/yyyy.")
        reminders.schedule_reminder(db.session, current_user, item, day,
                                    tz_name=current_app.config["PORTAL_TIMEZONE"],
                                    max_reminders=current_app.config["PORTAL_MAX_REMINDERS"])
    except invitations.LaunchError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        flash(f"Đã đặt lịch nhắc ngày {day:%d/%m/%Y}.", "success")
    return redirect(url_for("ministry.launch") + "#lich-nhac", code=303)


@bp.post("/phat-hanh/lich-nhac/<int:schedule_id>/xoa")
def remove_reminder(schedule_id: int):
    item = _campaign_or_404()
    try:
        reminders.unschedule_reminder(db.session, current_user, item, schedule_id)
    except invitations.LaunchError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    return redirect(url_for("ministry.launch") + "#lich-nhac", code=303)


# ---------------------------------------------------------------- national progress, IT focal points


@bp.get("/tien-do")
def national_progress():
    item = _campaign_or_404()
    sort = request.args.get("xep", "ma")
    table, total = national_table(db.session, item.id, sort=sort)
    groups = lists.campaign_groups(db.session, item)
    return render_template("ministry/progress.html", campaign=item, table=table, total=total, groups=groups,
                           sort=sort, sorts=NATIONAL_SORTS,
                           chart=sorted((r for r in table if r.expected), key=lambda r: -r.rate))


@bp.get("/tien-do/xuat.xlsx")
def export_national_progress():
    item = _campaign_or_404()
    data = national.progress_export(db.session, item, sort=request.args.get("xep", "ma"), tz_name=_tz())
    return xlsx_download(data, f"tien-do-ca-nuoc-{item.year}.xlsx")


@bp.get("/tien-do/<int:province_id>")
def province_progress(province_id: int):
    from portal.progress.routes import render_progress

    item = _campaign_or_404()
    province = get_province_for_user(db.session, current_user, province_id)
    return render_progress(item, province, can_remind=False, endpoint="ministry.province_progress",
                           province_id=province.id)


@bp.get("/dau-moi-cntt")
def focal_points():
    item = _campaign_or_404()
    status = request.args.get("tinh-trang", "")
    rows = national.focal_table(db.session, item, status=status, tz_name=_tz())
    registered = sum(1 for r in it_focal.ministry_table(db.session, item, _tz()) if r.status in ("on_time", "late"))
    return render_template("ministry/focal_points.html", campaign=item, rows=rows, status=status,
                           filters=national.FOCAL_FILTERS, labels=national.FOCAL_LABELS, registered=registered,
                           headers=national.FOCAL_HEADERS)


@bp.get("/dau-moi-cntt/xuat.xlsx")
def export_focal_points():
    item = _campaign_or_404()
    status = request.args.get("tinh-trang", "")
    rows = national.focal_table(db.session, item, status=status, tz_name=_tz())
    return xlsx_download(national.focal_export(rows, item, status=status, tz_name=_tz()),
                         f"dau-moi-cntt-{item.year}.xlsx")


@bp.get("/loi-gui-thu")
def delivery_errors():
    item = _campaign_or_404()
    show = request.args.get("loc", "")
    rows = national.delivery_table(db.session, item, show=show)
    return render_template("ministry/delivery_errors.html", campaign=item, rows=rows, show=show,
                           filters=national.DELIVERY_FILTERS, headers=national.DELIVERY_HEADERS)


@bp.get("/loi-gui-thu/xuat.xlsx")
def export_delivery_errors():
    item = _campaign_or_404()
    show = request.args.get("loc", "")
    rows = national.delivery_table(db.session, item, show=show)
    return xlsx_download(national.delivery_export(rows, item, show=show, tz_name=_tz()),
                         f"loi-gui-thu-ca-nuoc-{item.year}.xlsx")
