"""Cổng Chỉ số CCHC: the application factory."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, has_request_context, redirect, request, session, url_for
from flask_login import current_user, logout_user
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.extensions import compress, csrf, db, htmx, limiter, login_manager, mail
from portal.sessions import RESPONDENT_PATHS, StaffSessionInterface

ROOT = Path(__file__).resolve().parent.parent
# The session key holding when the person logged in (seconds since the epoch), for the absolute lifetime.
SESSION_STARTED = "_started"


def create_app(config: Any = None) -> Flask:
    """Build the portal. `config` is a Config-like object or a dict of overrides (tests)."""
    from config import Config, check_demo_mode
    from portal import log_redaction

    log_redaction.install()  # before anything logs: no respondent link reaches a log in full
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=None)
    base = Config()
    app.config.from_object(base)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    check_demo_mode(app.config)  # again after the overrides: the refusal holds however the app is configured

    from portal.domain.accounts import configure_hasher

    configure_hasher(app.config["PASSWORD_HASH_TIME_COST"], app.config["PASSWORD_HASH_MEMORY_KIB"])

    if app.config["PORTAL_PROXY_HOPS"]:
        # Behind nginx, the client's address, scheme and host come in X-Forwarded-*; only the entries the
        # trusted proxies appended are read, so a client cannot pick its own address for the limits.
        hops = app.config["PORTAL_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    app.session_interface = StaffSessionInterface()  # none for respondents: their link is their credential
    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    compress.init_app(app)
    mail.init_app(app)
    htmx.init_app(app)
    from portal.input_cleaning import CleanedRequest, StorableIntegerConverter

    # After htmx.init_app, which sets its own request class: this one extends it. No NUL or lone
    # surrogate from any form field or query argument reaches the database.
    app.request_class = CleanedRequest
    app.url_map.converters["int"] = StorableIntegerConverter

    from portal.polling import is_read_only_poll

    @app.before_request
    def polls_without_a_transaction() -> None:
        # Before the login check, whose account read opens the request's session.
        if is_read_only_poll():
            db.use_autocommit()

    _init_login(app)

    from portal.assets import init_assets

    init_assets(app, ROOT / "static")
    _register_blueprints(app)
    _register_template_helpers(app)

    from portal.errors import register_error_handlers

    register_error_handlers(app)

    from portal.cli import register_cli

    register_cli(app)

    @app.get("/healthz")
    def healthz() -> tuple[str, int, dict[str, str]]:
        try:
            db.session.exec(text("SELECT 1")).one()
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            return "database unavailable\n", 503, {"Content-Type": "text/plain; charset=utf-8"}
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

    limiter.exempt(healthz)
    app.after_request(_security_headers)
    return app


def _init_login(app: Flask) -> None:
    from portal.domain import accounts
    from portal.input_cleaning import LARGEST_ID
    from portal.models import User
    from portal.permissions import BEFORE_PASSWORD_CHANGE, is_public
    from portal.polling import is_own_province_poll

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Vui lòng đăng nhập để tiếp tục."
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        # "id:session_version:hash tail" (User.get_id): a session whose version was raised (logout, a
        # password change or reset) or whose password changed since is refused, even with a valid cookie.
        ident, _, rest = user_id.partition(":")
        version, _, tail = rest.partition(":")
        if not (ident.isascii() and ident.isdigit() and version.isascii() and version.isdigit()):
            return None
        if int(ident) > LARGEST_ID or int(version) > LARGEST_ID:
            return None  # no account has them: refused here, not by an integer overflow in the query
        if is_own_province_poll():
            # One round trip for the account and what the poll's view reads next (the campaign, the province).
            user, place = accounts.signed_in_user_and_place(db.session, int(ident), int(version), tail)
            g.campaign_place = place
            return user
        return accounts.signed_in_user(db.session, int(ident), int(version), tail)

    @login_manager.unauthorized_handler
    def unauthorized() -> Response:
        target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
        if request.htmx:
            response = Response(status=204)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target)

    @app.before_request
    def end_sessions_past_their_lifetime() -> None:
        # PERMANENT_SESSION_LIFETIME is the idle limit, renewed by each request; this one is absolute.
        started = session.get(SESSION_STARTED)
        if started is not None and (not isinstance(started, (int, float))
                                    or time.time() - started > app.config["PORTAL_SESSION_MAX_HOURS"] * 3600):
            logout_user()
            session.clear()

    @app.before_request
    def require_login() -> Response | None:
        if is_public(request.endpoint):
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.must_change_password and request.endpoint not in BEFORE_PASSWORD_CHANGE:
            target = url_for("auth.change_password")
            if request.htmx:
                response = Response(status=204)
                response.headers["HX-Redirect"] = target
                return response
            return redirect(target)
        return None


def _register_blueprints(app: Flask) -> None:
    from portal.appraisal.routes import bp as appraisal_bp
    from portal.appraisal.routes import ministry_bp as appraisal_ministry_bp
    from portal.assessment.routes import bp as assessment_bp
    from portal.assessment.routes import ministry_bp as assessment_ministry_bp
    from portal.auth.routes import bp as auth_bp
    from portal.campaigns.routes import bp as campaigns_bp
    from portal.delivery.routes import bp as delivery_bp
    from portal.demo_mail.routes import bp as demo_mail_bp
    from portal.framework.corrections import bp as framework_corrections_bp
    from portal.framework.routes import bp as framework_bp
    from portal.home.routes import bp as home_bp
    from portal.integrity.routes import bp as integrity_bp
    from portal.lists.routes import bp as lists_bp
    from portal.ministry.routes import bp as ministry_bp
    from portal.notices.routes import bp as notices_bp
    from portal.progress.routes import bp as progress_bp
    from portal.questionnaires.corrections import bp as questionnaire_corrections_bp
    from portal.questionnaires.routes import bp as questionnaires_bp
    from portal.requests.routes import bp as requests_bp
    from portal.results.index_routes import bp as par_results_bp
    from portal.results.index_routes import ministry_bp as par_index_bp
    from portal.results.survey_routes import bp as survey_results_bp
    from portal.survey.routes import bp as survey_bp

    for blueprint in (auth_bp, home_bp, notices_bp, lists_bp, progress_bp, delivery_bp, demo_mail_bp, ministry_bp,
                      questionnaires_bp, survey_bp, requests_bp, campaigns_bp, framework_bp, assessment_bp,
                      assessment_ministry_bp, appraisal_bp, appraisal_ministry_bp, integrity_bp,
                      questionnaire_corrections_bp, framework_corrections_bp, par_index_bp, par_results_bp,
                      survey_results_bp):
        app.register_blueprint(blueprint)


def _register_template_helpers(app: Flask) -> None:
    tz = ZoneInfo(app.config["PORTAL_TIMEZONE"])

    from portal.map_names import map_name

    app.jinja_env.globals["map_name"] = map_name

    @app.template_filter("date_vn")
    def date_vn(value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(tz)
        return value.strftime("%d/%m/%Y")

    @app.template_filter("datetime_vn")
    def datetime_vn(value: datetime | None) -> str:
        if value is None:
            return ""
        return value.astimezone(tz).strftime("%H:%M %d/%m/%Y")

    @app.template_filter("days_left_vn")
    def days_left_vn(days: int) -> str:
        if days > 1:
            return f"còn {days} ngày"
        if days == 1:
            return "còn 1 ngày (hết hạn ngày mai)"
        if days == 0:
            return "hết hạn hôm nay"
        return f"đã quá hạn {-days} ngày"

    @app.template_filter("number_vn")
    def number_vn(value: int | float) -> str:
        return f"{value:,}".replace(",", ".")

    @app.context_processor
    def header_context() -> dict[str, Any]:
        from portal.domain.notices import unread_count

        unread: _Lazy | int = 0
        if has_request_context() and current_user.is_authenticated and current_user.province_id is not None:
            # Counted only when a template shows it: a fragment (a progress poll) has no header to count for.
            user = current_user._get_current_object()
            unread = _Lazy(lambda: unread_count(db.session, user))
        return {"unread_notices": unread, "demo_mode": app.config.get("PORTAL_DEMO", False),
                "campaign_contact": _campaign_contact}

    def _campaign_contact(campaign=None):
        """The contact of `campaign` (a page that has it) or of the current campaign, looked up only by the
        templates that show it."""
        from sqlalchemy.exc import SQLAlchemyError

        from portal.domain.campaigns import contact_of, current_campaign

        fallback = app.config.get("PORTAL_CONTACT", "")
        if campaign is None:
            try:
                campaign = current_campaign(db.session)
            except SQLAlchemyError:
                # The "database unavailable" page shows this footer too: it must render with the server gone.
                db.session.rollback()
                return contact_of(None, fallback)
        return contact_of(campaign, fallback)


class _Lazy:
    """A number computed the first time a template reads it."""

    def __init__(self, compute: Callable[[], int]) -> None:
        self._compute = compute
        self._value: int | None = None

    @property
    def value(self) -> int:
        if self._value is None:
            self._value = self._compute()
        return self._value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __str__(self) -> str:
        return str(self.value)

    def __int__(self) -> int:
        return self.value

    def __eq__(self, other: object) -> bool:
        return self.value == other

    __hash__ = None  # type: ignore[assignment]


# Sent with every response that has not set its own (werkzeug's Headers look a name up by scanning them all, so
# the names present are read once).
_DEFAULT_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # htmx needs no inline script of ours; its own indicator styles are injected, hence style-src.
    ("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    present = {name.lower() for name, _value in headers}
    for name, value in _DEFAULT_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if request.is_secure and "strict-transport-security" not in present:
        # The portal is served over https (as seen after ProxyFix): browsers must never fall back to http.
        headers.add("Strict-Transport-Security", "max-age=31536000")
    if request.path.startswith(RESPONDENT_PATHS):
        # A respondent's pages (and their redirects and errors): the link and the answers on them stay out of
        # shared caches, the browser's disk cache and the Referer of any address followed from them.
        headers["Cache-Control"] = "no-store"
        headers["Referrer-Policy"] = "no-referrer"
        return response
    if "referrer-policy" not in present:
        headers.add("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html" and "cache-control" not in present:
        headers["Cache-Control"] = "no-store"
    return response
