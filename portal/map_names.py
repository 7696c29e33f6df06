"""A province's name as a campaign's map names it, for page headings: the `map_name` template helper.

Province code 15 is "Tỉnh Yên Bái" on the 2021 map and "Tỉnh Lào Cai" on the 2025 one (the merged province kept
Yên Bái's code and took Lào Cai's name); one account, and each campaign's pages name it as that campaign's map does.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_app_context
from jinja2 import pass_context

from portal.extensions import db
from portal.models import Campaign, CampaignProvince, Province


def _entry(campaign: Campaign, province_id: int) -> CampaignProvince | None:
    """The campaign's map entry for the province, looked up once per request."""
    cache: dict[tuple[int, int], CampaignProvince | None] = g.setdefault("map_entries", {})
    key = (campaign.id, province_id)
    if key not in cache:
        from portal.domain import units

        cache[key] = units.map_entry(db.session, campaign, province_id)
    return cache[key]


def _current() -> Campaign | None:
    if "map_names_current" not in g:
        from portal.domain.campaigns import current_campaign

        g.map_names_current = current_campaign(db.session)
    return g.map_names_current


@pass_context
def map_name(context: Any, province: Province | None, campaign: Campaign | None = None, short: bool = False) -> str:
    """The province's name in `campaign`'s map (else the page's `campaign`, else the current one); the portal's own
    name of the province when that map does not have it (a province merged in 2025, read in a later campaign)."""
    if province is None:
        return ""
    fallback = province.short_name if short else province.name
    if not has_app_context():
        return fallback
    campaign = campaign or context.get("campaign")
    if not isinstance(campaign, Campaign):
        campaign = _current()
    entry = _entry(campaign, province.id) if campaign is not None and campaign.id is not None else None
    if entry is None:
        return fallback
    return entry.short_name if short else entry.name
