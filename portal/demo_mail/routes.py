""""Hộp thư thử nghiệm": read the messages the local mail sink caught (demo mode only).

A demo has no real mailboxes, so a person who launches the survey opens the
invitation here and follows its link. Public in demo mode (a respondent has no
account) and absent otherwise: every view answers 404 unless PORTAL_DEMO is on.
The HTML part of a message is never put into our page: it is served on its own
with a CSP sandbox and shown in a sandboxed frame; the text part is shown as
text, with its web addresses made into links.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, current_app, render_template, request

from portal import mailsink

bp = Blueprint("demo_mail", __name__, url_prefix="/hop-thu-thu-nghiem")

URL = re.compile(r"https?://[^\s<>\"']+")
TRAILING = ".,;:!?)]}»”’"  # punctuation that ends a sentence rather than the address
# The HTML part on its own: no scripts, no requests, an opaque origin; framed by our own pages only.
HTML_PART_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                 "frame-ancestors 'self'; form-action 'none'; base-uri 'none'")


@bp.before_request
def demo_only() -> None:
    if not current_app.config.get("PORTAL_DEMO"):
        abort(404)


def _maildir() -> str:
    return current_app.config["PORTAL_DEMO_MAILDIR"]


def text_with_links(text: str) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_address) so the template escapes every piece and links the addresses."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in URL.finditer(text):
        address = match.group().rstrip(TRAILING)
        start, end = match.start(), match.start() + len(address)
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((address, True))
        position = end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


@bp.get("/")
def index():
    messages = mailsink.caught_messages(_maildir())
    latest = messages[0].key if messages else ""
    if request.htmx:
        if request.args.get("sau", "") == latest:
            return "", 204  # nothing new: htmx keeps what it shows
        return render_template("demo_mail/_list.html", messages=messages, latest=latest)
    return render_template("demo_mail/index.html", messages=messages, latest=latest)


@bp.get("/<key>")
def message(key: str):
    caught = mailsink.caught_message(_maildir(), key)
    if caught is None:
        abort(404)
    return render_template("demo_mail/message.html", message=caught, text_pieces=text_with_links(caught.text))


@bp.get("/<key>/html")
def html_part(key: str) -> Response:
    caught = mailsink.caught_message(_maildir(), key)
    if caught is None or not caught.html:
        abort(404)
    response = Response(caught.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = HTML_PART_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response
