"""The staff's signed-cookie session, kept away from respondents' pages.

A respondent's personal link is its own credential (see portal/survey/routes.py): their pages need no
session, so none is read or written for them. No session cookie goes out (a staff member testing a link in
the browser they work in would otherwise get their session cookie refreshed by every survey page), no
`Vary: Cookie`, and no user is looked up in the database for a page that never shows one. (The survey's
one cookie is the browser's random device identifier for the integrity signals, set once: see
portal/survey/routes.py.)
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

RESPONDENT_PATHS = ("/phieu/",)


class StaffSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session everywhere but under the respondents' paths, where it is a null session
    (empty, never saved: Flask skips saving a null session)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(RESPONDENT_PATHS):
            return self.make_null_session(app)
        return super().open_session(app, request)
