"""What the ministry's pages of an imported YAML document (the framework, the questionnaire set) share.

Each area keeps its own pages and wording (portal/framework, portal/questionnaires); the versions'
bookkeeping is in portal/domain/document_versions.py.
"""

from __future__ import annotations

from flask import Blueprint, abort, request

from portal.domain import document_versions
from portal.domain.campaigns import current_campaign
from portal.extensions import db
from portal.models import Campaign, User
from portal.permissions import ministry_only


def ministry_blueprint(name: str, import_name: str, url_prefix: str) -> Blueprint:
    """A blueprint every page of which is the ministry's."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix)

    @bp.before_request
    @ministry_only
    def _ministry_only() -> None:
        """Every page here is the ministry's."""

    return bp


def campaign_or_404() -> Campaign:
    """The current campaign; without one there is no document to import or show."""
    campaign = current_campaign(db.session)
    if campaign is None:
        abort(404)
    return campaign


def listing(rows: list) -> tuple[document_versions.VersionRow | None, dict[int, User]]:
    """Of the versions listed, the current one and who imported each."""
    current = next((row for row in rows if row.is_current), None)
    return current, document_versions.importers(db.session, rows)


def read_upload(max_bytes: int, missing: str) -> tuple[bytes, str]:
    """The chosen file's bytes (one past `max_bytes` at most, so the domain can say it is too large) and
    name; DocumentError(`missing`) when the form came without a file."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise document_versions.DocumentError(missing)
    return upload.read(max_bytes + 1), upload.filename
