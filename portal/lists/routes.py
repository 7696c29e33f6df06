"""Khảo sát Chỉ số CCHC > Nhập danh sách đối tượng: template, upload, review and fix, send."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.domain import departments, list_import, list_warnings, lists, units
from portal.downloads import xlsx_download
from portal.extensions import db
from portal.models import Respondent, RespondentGroup
from portal.permissions import campaign_and_own_province, get_respondent_for_user, province_only

bp = Blueprint("lists", __name__, url_prefix="/khao-sat/danh-sach")



@bp.before_request
@province_only
def _province_only() -> None:
    """The list is the province account's job (IT focal points and the ministry have their own pages)."""


def _context():
    campaign, province = campaign_and_own_province(db.session, current_user)
    rlist = lists.get_or_create_list(db.session, campaign, province.id)
    return campaign, province, rlist


def _tz() -> str:
    return current_app.config["PORTAL_TIMEZONE"]


def _groups(campaign) -> dict[int, RespondentGroup]:
    return {g.id: g for g in lists.campaign_groups(db.session, campaign)}


def _page_context(campaign, province, rlist) -> dict:
    return {
        "campaign": campaign, "province": province, "rlist": rlist,
        "state": lists.editability(rlist, campaign, _tz()),
        "summary": lists.summary(db.session, rlist, campaign),
        "groups": _groups(campaign),
        "unit_kind": units.unit_kind_of(db.session, campaign, province.id),
        "max_upload_mb": current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
        "max_rows": f"{current_app.config['PORTAL_LIST_MAX_ROWS']:,}".replace(",", "."),
    }


def _guesser(campaign):
    """Guess a department's parent ministry among the campaign's (for the "add this department" links)."""
    return lambda name: departments.guess_ministry(db.session, name, campaign.id)


def _merge_context(rlist) -> dict:
    """The merge record, and the last check's notices without the merges it already lists."""
    record = lists.merge_record(rlist)
    merged = {entry["message"] for entry in record}
    return {"merges": record, "notices": [n for n in lists.list_notices(rlist) if n not in merged]}


@bp.get("/")
def index():
    campaign, province, rlist = _context()
    return render_template("lists/index.html", **_page_context(campaign, province, rlist), error=None)


@bp.get("/mau.xlsx")
def template():
    campaign, province, _rlist = _context()
    data = lists.template_for(db.session, campaign, province, max_rows=current_app.config["PORTAL_LIST_MAX_ROWS"],
                              max_bytes=current_app.config["MAX_CONTENT_LENGTH"])
    return xlsx_download(data, f"mau-danh-sach-khao-sat-{province.slug}.xlsx")


@bp.post("/tai-len")
def upload():
    campaign, province, rlist = _context()
    upload = request.files.get("file")
    error = None
    if upload is None or not upload.filename:
        error = "Vui lòng chọn tệp danh sách (.xlsx hoặc .csv) trước khi bấm “Tải lên”."
    else:
        try:
            outcome = list_import.import_file(db.session, current_user, rlist, campaign, province, upload.read(),
                                        upload.filename, tz_name=_tz(),
                                        max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
                                        max_rows=current_app.config["PORTAL_LIST_MAX_ROWS"])
        except lists.ListError as problem:
            db.session.rollback()
            error = problem.message
        else:
            flash(f"Đã nhập {outcome.kept} người từ tệp “{upload.filename}”"
                  + (f", gộp {outcome.dropped} dòng trùng" if outcome.dropped else "")
                  + (f"; còn {outcome.rows_with_errors} dòng có lỗi cần sửa." if outcome.errors else "; không có lỗi."),
                  "warning" if outcome.errors else "success")
            return redirect(url_for("lists.review"), code=303)
    db.session.refresh(rlist)
    return render_template("lists/index.html", **_page_context(campaign, province, rlist), error=error), 422


@bp.get("/ra-soat")
def review():
    campaign, province, rlist = _context()
    show, query = request.args.get("loc", ""), request.args.get("q", "")
    page = lists.review_page(db.session, rlist, show=show, query=query,
                             page=request.args.get("trang", 1, type=int))
    context = {**_page_context(campaign, province, rlist), **_merge_context(rlist), "page": page, "show": show,
               "query": query, "problems_of": lists.row_problems,
               "units": lists.unit_names(db.session, campaign, province),
               "ministries": departments.ministries(db.session, campaign.id),
               "guess_ministry": _guesser(campaign)}
    if request.htmx and request.htmx.target == "list-table":
        return render_template("lists/_table.html", **context)
    return render_template("lists/review.html", **context)


def _row_response(campaign, province, rlist, person, *, message: str = "", changed_ids=(), dropped_ids=()):
    """The HTMX answer about one row: the row itself, the message and summary, and any other row the
    whole-list check changed or merged away."""
    others = [other for other in (db.session.get(Respondent, i) for i in changed_ids) if other is not None]
    context = {**_page_context(campaign, province, rlist), "person": person, "problems_of": lists.row_problems,
               "message": message, "oob": True, "others": others, "removed_ids": list(dropped_ids),
               "ministries": departments.ministries(db.session, campaign.id),
               "guess_ministry": _guesser(campaign)}
    return render_template("lists/_row_saved.html", **context)


@bp.get("/nguoi/<int:respondent_id>")
def row(respondent_id: int):
    campaign, province, rlist = _context()
    person = get_respondent_for_user(db.session, current_user, respondent_id)
    if not request.htmx:
        return redirect(url_for("lists.review") + f"#r-{person.id}")
    return _row_response(campaign, province, rlist, person)


@bp.get("/nguoi/<int:respondent_id>/sua")
def edit(respondent_id: int):
    campaign, province, rlist = _context()
    person = get_respondent_for_user(db.session, current_user, respondent_id)
    context = {**_page_context(campaign, province, rlist), "person": person, "values": None,
               "problems_of": lists.row_problems}
    if request.htmx:
        return render_template("lists/_row_edit.html", **context)
    return render_template("lists/edit.html", **context)


@bp.post("/nguoi/<int:respondent_id>")
def save(respondent_id: int):
    campaign, province, rlist = _context()
    person = get_respondent_for_user(db.session, current_user, respondent_id)
    try:
        outcome = lists.update_respondent(db.session, current_user, rlist, campaign, province, person,
                                          request.form.to_dict(), tz_name=_tz())
    except lists.ListError as problem:
        db.session.rollback()
        if request.htmx:
            return render_template("errors/_error.html", status=409, title="Không lưu được", message=problem.message), \
                409, {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        flash(problem.message, "error")
        return redirect(url_for("lists.review"))
    if request.htmx:
        return _row_response(campaign, province, rlist, outcome.respondent, message=outcome.message,
                             changed_ids=outcome.other_changed_ids, dropped_ids=outcome.other_dropped_ids)
    flash(outcome.message or "Đã lưu.", "success" if outcome.respondent and not outcome.respondent.error_count
          else "warning")
    anchor = f"#r-{outcome.respondent.id}" if outcome.respondent else ""
    return redirect(url_for("lists.review") + anchor, code=303)


@bp.post("/nguoi/<int:respondent_id>/xoa")
def remove(respondent_id: int):
    campaign, province, rlist = _context()
    person = get_respondent_for_user(db.session, current_user, respondent_id)
    name = person.full_name
    try:
        result = lists.delete_respondent(db.session, current_user, rlist, campaign, province, person, tz_name=_tz())
    except lists.ListError as problem:
        db.session.rollback()
        flash(problem.message, "error")
        return redirect(url_for("lists.review"), code=303)
    if request.htmx:
        return _row_response(campaign, province, rlist, None, message=f"Đã xóa “{name}” khỏi danh sách.",
                             changed_ids=result.changed_ids, dropped_ids=result.dropped_ids)
    flash(f"Đã xóa “{name}” khỏi danh sách.", "success")
    return redirect(url_for("lists.review"), code=303)


@bp.post("/them")
def add():
    campaign, province, rlist = _context()
    try:
        outcome = lists.add_respondent(db.session, current_user, rlist, campaign, province, request.form.to_dict(),
                                       tz_name=_tz())
    except lists.ListError as problem:
        db.session.rollback()
        flash(problem.message, "error")
        return redirect(url_for("lists.review") + "#them", code=303)
    flash(outcome.message or "Đã thêm một người vào danh sách.", "success")
    anchor = f"#r-{outcome.respondent.id}" if outcome.respondent else ""
    return redirect(url_for("lists.review") + anchor, code=303)


@bp.post("/trung-ten")
def dismiss_namesake():
    """"Đây là những người khác nhau": the officer keeps rows with one name in one unit apart, for good."""
    campaign, province, rlist = _context()
    try:
        lists.dismiss_namesake(db.session, current_user, rlist, campaign, province, request.form.get("key", ""),
                               tz_name=_tz())
    except lists.ListError as problem:
        db.session.rollback()
        flash(problem.message, "error")
    else:
        flash("Đã ghi nhận: đây là những người khác nhau, cùng được giữ trong danh sách.", "success")
    anchor = request.form.get("row", type=int)
    return redirect(url_for("lists.review") + (f"#r-{anchor}" if anchor else ""), code=303)


@bp.route("/so-nganh", methods=["GET", "POST"])
def departments_page():
    """The province's departments; adding one its list needs (from this page or a row's error)."""
    campaign, province, rlist = _context()
    name = request.values.get("ten", "")
    # From the form on POST, from the row's link on GET (request.values would skip the integer bound).
    ministry_id = (request.form if request.method == "POST" else request.args).get("bo", type=int)
    error = None
    if request.method == "POST":
        try:
            added = departments.add_department(db.session, current_user, province, campaign, name, ministry_id)
        except departments.DepartmentError as problem:
            db.session.rollback()
            error = problem.message
        else:
            flash(f"Đã thêm “{added.name}” vào danh mục sở, ngành của {province.name}; danh sách đã được kiểm tra "
                  "lại. Bộ Nội vụ sẽ xem lại mục bổ sung này.", "success")
            back = request.form.get("tiep", "")
            return redirect(url_for("lists.review") + back if back.startswith("#") else
                            url_for("lists.departments_page"), code=303)
    if ministry_id is None and name:
        ministry_id = departments.guess_ministry(db.session, name, campaign.id)
    return render_template("lists/departments.html", campaign=campaign, province=province, rlist=rlist,
                           state=lists.editability(rlist, campaign, _tz()), name=name, ministry_id=ministry_id,
                           ministries=departments.ministries(db.session, campaign.id),
                           rows=departments.of_province(db.session, campaign.id, province.id), error=error), \
        422 if error else 200


@bp.route("/gui", methods=["GET", "POST"])
def send():
    campaign, province, rlist = _context()
    error = None
    if request.method == "POST":
        try:
            sent = lists.send_list(db.session, current_user, rlist, campaign, province,
                                   version=request.form.get("version", -1, type=int), tz_name=_tz(),
                                   confirmed_warnings=bool(request.form.get("xac_nhan")))
        except lists.ListError as problem:
            db.session.rollback()
            db.session.refresh(rlist)
            error = problem.message
        else:
            if sent:
                from portal.emails import queue_for_ministry

                if queue_for_ministry(db.session, "list-sent", {"province": province, "rlist": rlist},
                                      province_id=province.id):
                    db.session.commit()
                flash("Đã gửi danh sách đến Bộ Nội vụ.", "success")
            else:
                flash("Danh sách này đã được gửi trước đó; không gửi lại.", "info")
            return redirect(url_for("lists.index"), code=303)
    warnings = list_warnings.send_warnings(db.session, rlist, campaign, province) if rlist.status != "sent" else []
    return render_template("lists/send.html", **_page_context(campaign, province, rlist), error=error,
                           warnings=warnings), 422 if error else 200


@bp.get("/xuat.xlsx")
def export():
    campaign, province, rlist = _context()
    data = lists.export_list(db.session, rlist, campaign, province)
    return xlsx_download(data, f"danh-sach-khao-sat-{province.slug}.xlsx")

