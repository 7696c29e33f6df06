"""Kết quả: the ministry's index page of a campaign (compute, review, publish, export, chart) and the province's
own result and the public ranking, shown from the published computation only."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
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
from sqlmodel import col, select

from portal.domain import framework as frameworks
from portal.domain import index_recompute, par_index, ranking, results_publication, survey_report, units
from portal.domain.campaigns import PastCampaign, require_current
from portal.downloads import xlsx_download
from portal.extensions import db
from portal.models import Campaign, FrameworkVersion, IndexComputation, Province, Role
from portal.permissions import get_campaign_for_user, ministry_only, own_province, roles_required

ministry_bp = Blueprint("par_index", __name__, url_prefix="/bo/ket-qua")
bp = Blueprint("par_results", __name__, url_prefix="/ket-qua")


@ministry_bp.before_request
@ministry_only
def _ministry_only() -> None:
    """The index, its computations and the publication are the ministry's."""


@bp.before_request
@roles_required(Role.PROVINCE, Role.MINISTRY)
def _province_or_ministry() -> None:
    """A province reads its own published result; the IT focal point has no part in it."""


def _content(computation: IndexComputation):
    version = db.session.get(FrameworkVersion, computation.framework_version_id)
    return frameworks.load(version) if version is not None else None


# ---------------------------------------------------------------- the ministry


@ministry_bp.get("/")
def campaigns():
    rows = []
    for campaign in db.session.exec(select(Campaign).where(Campaign.is_template == False)  # noqa: E712
                                    .order_by(col(Campaign.year).desc(), col(Campaign.id).desc())):
        rows.append((campaign, par_index.latest_computation(db.session, campaign.id)))
    return render_template("results/campaigns.html", rows=rows)


def _ministry_page(campaign: Campaign, *, error: str = "", status: int = 200):
    latest = par_index.latest_computation(db.session, campaign.id)
    published = results_publication.published_computation(db.session, campaign)
    failure = index_recompute.last_failure(db.session, campaign.id)
    context = dict(campaign=campaign, latest=latest, published=published, error=error, rows=[], content=None,
                   pending=index_recompute.pending(db.session, campaign.id),
                   failure=failure, failure_text=index_recompute.failure_text(failure) if failure else "",
                   comparison=None, changes={}, provisional=0, has_framework=frameworks.current_version(
                       db.session, campaign) is not None, basis_labels=par_index.BASIS_LABELS)
    if latest is not None:
        rows = par_index.stored_rows(db.session, latest)
        context.update(rows=rows, content=_content(latest), changes=ranking.rank_changes(db.session, campaign),
                       provisional=results_publication.provisional_count(db.session, latest),
                       chart=ranking.ranking_svg(rows, f"Chỉ số CCHC {campaign.name} (%)"))
    if published is not None and latest is not None and published.id != latest.id:
        context["comparison"] = par_index.difference(db.session, published, latest)
    return render_template("results/ministry.html", change_label=ranking.change_label,
                           change_of=ranking.change_of, **context), status


@ministry_bp.get("/<int:campaign_id>/")
def campaign_index(campaign_id: int):
    return _ministry_page(get_campaign_for_user(db.session, current_user, campaign_id))


@ministry_bp.post("/<int:campaign_id>/tinh-lai")
def recompute(campaign_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    try:
        require_current(db.session, campaign.id)
    except PastCampaign as refused:
        return _ministry_page(campaign, error=refused.message, status=409)
    if frameworks.current_version(db.session, campaign) is None:
        return _ministry_page(campaign, error="Đợt đánh giá chưa có bộ tiêu chí: chưa tính được Chỉ số.", status=409)
    index_recompute.request_recompute(db.session, campaign, current_user, "Bộ Nội vụ tính lại")
    flash("Đã yêu cầu tính lại Chỉ số CCHC: Cổng tính trong nền, thường trong vòng một phút; tải lại trang để xem. "
          "Kết quả chưa hiện với các tỉnh cho đến khi công bố.", "success")
    return redirect(url_for("par_index.campaign_index", campaign_id=campaign.id), code=303)


@ministry_bp.get("/<int:campaign_id>/tinh-lai/trang-thai")
def recompute_state(campaign_id: int):
    """The page's poll while a recomputation is under way: 204 meanwhile (nothing to swap), then a reload."""
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    pending = index_recompute.pending(db.session, campaign.id)
    if pending is not None and request.htmx:
        return "", 204
    response = make_response(render_template("results/_recompute_state.html", campaign=campaign, pending=pending))
    if request.htmx:
        response.headers["HX-Refresh"] = "true"
    return response


@ministry_bp.post("/<int:campaign_id>/cong-bo")
def publish(campaign_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    number = request.form.get("computation_id", "")
    try:
        if not (number.isascii() and number.isdigit() and len(number) < 12):
            raise results_publication.PublicationRefused("Chưa có lần tính Chỉ số nào để công bố.")
        results_publication.publish(db.session, current_user, campaign, int(number),
                                    accept_provisional=bool(request.form.get("accept_provisional")),
                                    republish=bool(request.form.get("republish")),
                                    tz_name=current_app.config["PORTAL_TIMEZONE"])
    except results_publication.PublicationRefused as refused:
        db.session.rollback()
        return _ministry_page(campaign, error=refused.message, status=409)
    flash("Đã công bố kết quả; các tỉnh, thành phố đã được thông báo.", "success")
    return redirect(url_for("par_index.campaign_index", campaign_id=campaign.id), code=303)


def _latest(campaign: Campaign) -> tuple[list, object]:
    """The latest computation's rows and framework; none before the first computation (an empty table)."""
    latest = par_index.latest_computation(db.session, campaign.id)
    if latest is None:
        return [], None
    return par_index.stored_rows(db.session, latest), _content(latest)


@ministry_bp.get("/<int:campaign_id>/tinh/<int:province_id>")
def province_detail(campaign_id: int, province_id: int):
    """One province's index as the latest computation has it, line by line, for the ministry's review before (and
    after) publication; its survey results per group below."""
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    if units.map_entry(db.session, campaign, province_id) is None:
        abort(404)
    province = db.session.get(Province, province_id)
    latest = par_index.latest_computation(db.session, campaign.id)
    rows = par_index.stored_rows(db.session, latest) if latest is not None else []
    row = next((r for r in rows if r.province_id == province_id), None)
    if row is None:  # not computed yet, or the province was added to the campaign since
        return render_template("results/province_not_computed.html", campaign=campaign, province=province)
    return render_template("results/province.html", province=province, campaign=campaign, row=row,
                           computation=latest, content=_content(latest), ministry_view=True,
                           change=ranking.change_of(ranking.rank_changes(db.session, campaign), row),
                           change_label=ranking.change_label, **_survey_context(campaign, row))


@ministry_bp.get("/<int:campaign_id>/xep-hang.xlsx")
def export(campaign_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    rows, content = _latest(campaign)
    data = ranking.ranking_xlsx(campaign, content, rows, ranking.rank_changes(db.session, campaign))
    return xlsx_download(data, f"xep-hang-chi-so-cchc-{campaign.year}.xlsx")


@ministry_bp.get("/<int:campaign_id>/bieu-do.svg")
def chart(campaign_id: int):
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    rows, _ = _latest(campaign)
    return Response(ranking.ranking_svg(rows, f"Chỉ số CCHC {campaign.name} (%)"), mimetype="image/svg+xml")


# ---------------------------------------------------------------- the province


def _published_to_province():
    """(province, campaign, computation) of the results published to the user's province, or the response to give
    instead: the ministry's own pages, or the page saying nothing is published yet."""
    if current_user.role == Role.MINISTRY:
        return redirect(url_for("par_index.campaigns"))
    province = own_province(db.session, current_user)
    found = results_publication.visible_to_province(db.session, province.id)
    if found is None:
        return render_template("results/not_published.html", province=province)
    return province, *found


@bp.get("/")
def own_result():
    published = _published_to_province()
    if not isinstance(published, tuple):
        return published
    province, campaign, computation = published
    row = next(r for r in par_index.stored_rows(db.session, computation) if r.province_id == province.id)
    return render_template("results/province.html", province=province, campaign=campaign, row=row,
                           computation=computation, content=_content(computation),
                           change=ranking.change_of(ranking.rank_changes(db.session, campaign), row),
                           change_label=ranking.change_label, **_survey_context(campaign, row))


def _survey_context(campaign: Campaign, row: par_index.ProvinceFigures) -> dict:
    """The province's own survey results per group, shown with its published index (results/_province_survey).
    The lines' points and the voiding are the published ones (a decision taken since shows with the next
    publication, as the index itself does); the answers per group are read as they are now."""
    survey = survey_report.province_survey_results(
        db.session, campaign.id, row.province_id, current_app.config["SECRET_KEY"],
        current_app.config["PORTAL_RESULTS_MIN_ANSWERS"])
    for line in survey.lines:
        published = row.lines.get(line.code, {}).get("points")
        line.points = 0.0 if published is None else published
    survey.voided_province = bool(row.voided_reason)
    return {"survey": survey}


@bp.get("/xep-hang")
def public_ranking():
    published = _published_to_province()
    if not isinstance(published, tuple):
        return published
    province, campaign, computation = published
    rows = par_index.stored_rows(db.session, computation)
    return render_template("results/ranking.html", province=province, campaign=campaign, rows=rows,
                           content=_content(computation), changes=ranking.rank_changes(db.session, campaign),
                           change_of=ranking.change_of, change_label=ranking.change_label,
                           chart=ranking.ranking_svg(rows, f"Chỉ số CCHC {campaign.name} (%)"))
