"""What the ministry's pages of an imported YAML document (the framework, the questionnaire set) share.

Each area keeps its own pages and wording (portal/framework, portal/questionnaires); the versions'
bookkeeping is in portal/domain/document_versions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def compared(rows: list, load: Callable[[Any], Any], describe: Callable[[Any, Any], list[str]]
             ) -> tuple[int, int, list[str] | None]:
    """The versions `?tu=` and `?den=` name (by default the newest and the one before) and the changes between them
    in words; None when the older one does not exist (a single version). 404 for a newer one that does not."""
    by_number = {row.version: row for row in rows}
    newer = request.args.get("den", type=int) or (rows[0].version if rows else 0)
    older = request.args.get("tu", type=int) or newer - 1
    if rows and newer not in by_number:
        abort(404)
    changes = describe(load(by_number[older]), load(by_number[newer])) if older in by_number else None
    return older, newer, changes
