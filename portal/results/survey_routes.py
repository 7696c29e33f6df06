"""Kết quả điều tra xã hội học: the ministry's survey-results pages of a campaign and their exports (read-only,
so a past campaign's are read like the current one's)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from flask import Blueprint, abort, current_app, render_template, send_file
from flask_login import current_user
from sqlmodel import col, select

from portal.domain import survey_exports, survey_report
from portal.downloads import XLSX, xlsx_download
from portal.extensions import db
from portal.models import Campaign
from portal.permissions import get_campaign_for_user, ministry_only

bp = Blueprint("survey_results", __name__, url_prefix="/bo/ket-qua")


@bp.before_request
@ministry_only
def _ministry_only() -> None:
    """Every province's answers, aggregated: the ministry's alone (a province sees its own once published)."""


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _min_answers() -> int:
    return current_app.config["PORTAL_RESULTS_MIN_ANSWERS"]


def _campaign(campaign_id: int) -> Campaign:
    campaign = get_campaign_for_user(db.session, current_user, campaign_id)
    if campaign.is_template:
        abort(404)
    return campaign


@bp.get("/khao-sat/")
def campaigns():
    rows = db.session.exec(select(Campaign).where(Campaign.is_template == False)  # noqa: E712
                           .order_by(col(Campaign.year).desc(), col(Campaign.id).desc())).all()
    return render_template("results/survey_campaigns.html", campaigns=rows)


@bp.get("/<int:campaign_id>/khao-sat/")
def national(campaign_id: int):
    campaign = _campaign(campaign_id)
    results = survey_report.national_results(db.session, campaign, _secret())
    return render_template("results/survey_national.html", campaign=campaign, results=results,
                           min_answers=_min_answers())


@bp.get("/<int:campaign_id>/khao-sat/tinh/<int:province_id>")
def province(campaign_id: int, province_id: int):
    campaign = _campaign(campaign_id)
    try:
        survey = survey_report.province_survey_results(db.session, campaign.id, province_id, _secret(),
                                                       _min_answers())
    except LookupError:
        abort(404)
    return render_template("results/survey_province.html", campaign=campaign, survey=survey)


@bp.get("/<int:campaign_id>/khao-sat/bo-chu-quan")
def ministries(campaign_id: int):
    campaign = _campaign(campaign_id)
    results = survey_report.ministry_results(db.session, campaign.id, _secret(), _min_answers())
    return render_template("results/survey_ministries.html", campaign=campaign, results=results,
                           min_answers=_min_answers(), too_few=survey_report.TOO_FEW)


@bp.get("/<int:campaign_id>/khao-sat/bo-chu-quan.xlsx")
def ministries_export(campaign_id: int):
    campaign = _campaign(campaign_id)
    results = survey_report.ministry_results(db.session, campaign.id, _secret(), _min_answers())
    return xlsx_download(survey_exports.ministry_workbook(results, campaign, _min_answers()),
                         f"ket-qua-bo-chu-quan-{campaign.year}.xlsx")


def _streamed(write: Callable, campaign: Campaign, mimetype: str, filename: str):
    """Write the export to a temporary file (never whole in memory) and send that file."""
    spool = tempfile.TemporaryFile()
    write(db.session, campaign, _secret(), spool)
    spool.seek(0)
    return send_file(spool, mimetype=mimetype, as_attachment=True, download_name=filename)


@bp.get("/<int:campaign_id>/khao-sat/du-lieu.xlsx")
def analysis_xlsx(campaign_id: int):
    campaign = _campaign(campaign_id)
    return _streamed(survey_exports.write_analysis_xlsx, campaign, XLSX, f"du-lieu-khao-sat-{campaign.year}.xlsx")


@bp.get("/<int:campaign_id>/khao-sat/du-lieu.csv")
def analysis_csv(campaign_id: int):
    campaign = _campaign(campaign_id)
    return _streamed(survey_exports.write_analysis_csv, campaign, "text/csv; charset=utf-8",
                     f"du-lieu-khao-sat-{campaign.year}.csv")
