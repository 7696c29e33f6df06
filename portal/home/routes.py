"""Each role's home page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from portal.domain import (
    campaign_admin,
    integrity_decisions,
    integrity_review,
    notices,
    overview,
    requests,
    results_publication,
    units,
)
from portal.extensions import db
from portal.models import Role
from portal.permissions import own_province

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    tz = current_app.config["PORTAL_TIMEZONE"]
    summary = overview.overview(db.session, tz)
    past_campaigns = campaign_admin.closed_campaigns(db.session)
    if current_user.role == Role.MINISTRY:
        templates = campaign_admin.templates(db.session) if summary.campaign is None else []
        return render_template("home/ministry.html", summary=summary, past_campaigns=past_campaigns,
                               templates=templates,
                               stats=overview.account_stats(db.session),
                               sent=notices.sent_notices(db.session, limit=5),
                               open_requests=requests.open_count(db.session),
                               integrity_waiting=integrity_decisions.waiting_count(db.session))
    province = own_province(db.session, current_user)
    latest = notices.notices_for(db.session, current_user, limit=5)
    template = "home/province.html" if current_user.role == Role.PROVINCE else "home/it_focal.html"
    status = None
    voids = []
    # A province reads the past campaigns it was part of; one merged in 2025 has no work in the current one.
    past_campaigns = [c for c in past_campaigns if units.map_entry(db.session, c, province.id) is not None]
    outside_map = bool(summary.campaign) and units.map_entry(db.session, summary.campaign, province.id) is None
    if summary.campaign and not outside_map:
        summary, status = overview.province_overview(db.session, summary.campaign, province.id, current_user.role, tz)
        voids = integrity_review.for_province(db.session, summary.campaign.id, province.id)
    return render_template(template, summary=summary, province=province, latest=latest, status=status,
                           past_campaigns=past_campaigns, outside_map=outside_map,
                           integrity_decisions=voids,
                           results_campaign=results_publication.visible_campaign(db.session, province.id))
