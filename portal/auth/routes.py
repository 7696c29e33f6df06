"""Login ("Đăng nhập dành cho cán bộ, công chức"), the first-login password change, logout."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from portal import SESSION_STARTED
from portal.auth.forms import ChangePasswordForm, LoginForm
from portal.domain import accounts
from portal.domain.login_throttle import ThrottlePolicy
from portal.extensions import db, limiter

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would make the login page a phishing tool.

    Browsers read a backslash as a slash and drop tabs and newlines, so "/\\evil.example" and
    "/<tab>/evil.example" would leave the site too: any such character sends the person home instead.
    """
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ord(ch) < 32 or ord(ch) == 127 for ch in target)
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("home.index")


def _throttle_policy() -> ThrottlePolicy:
    config = current_app.config
    return ThrottlePolicy(max_attempts=config["LOGIN_MAX_FAILURES"], window=config["LOGIN_LOCK_MINUTES"] * 60,
                          account_ceiling=config["LOGIN_ACCOUNT_CEILING"],
                          slowdown=config["LOGIN_SLOWDOWN_SECONDS"])


@bp.route("/dang-nhap", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_PER_ADDRESS"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            outcome = accounts.authenticate(db.session, form.username.data or "", form.password.data or "",
                                            source=request.remote_addr or "", policy=_throttle_policy())
        except accounts.LoginRefused as refused:
            error = refused.message
        else:
            user = outcome.user
            session.clear()  # a fresh session on login: nothing carried over from before
            login_user(user)
            session.permanent = True
            session[SESSION_STARTED] = time.time()
            if outcome.failures_elsewhere:
                flash(f"Trong {current_app.config['LOGIN_LOCK_MINUTES']} phút qua có {outcome.failures_elsewhere} "
                      "lần thử đăng nhập sai mật khẩu vào tài khoản này từ nơi khác. Nếu không phải bạn, hãy đổi "
                      "mật khẩu và báo Bộ Nội vụ.", "warning")
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 422 if form.errors else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/doi-mat-khau", methods=["GET", "POST"])
def change_password():
    form = ChangePasswordForm()
    problems: list[str] = []
    if form.validate_on_submit():
        user = current_user._get_current_object()  # the User itself: login_user must not store the proxy
        was_forced = user.must_change_password
        problems = accounts.change_password(db.session, user, form.current.data, form.new.data, form.confirm.data)
        if not problems:
            # The session id embeds the hash's tail: log in again under the new one.
            login_user(user, fresh=True)
            flash("Đã đổi mật khẩu." + (" Chào mừng bạn đến với Cổng Chỉ số CCHC." if was_forced else ""),
                  "success")
            return redirect(url_for("home.index"))
    status = 422 if problems or form.errors else 200
    return render_template("auth/change_password.html", form=form, problems=problems), status


@bp.post("/dang-xuat")
def logout():
    if current_user.is_authenticated:
        # Server-side: the cookie, even replayed, no longer names a session that exists.
        accounts.end_sessions(db.session, current_user._get_current_object())
    logout_user()
    session.clear()
    flash("Bạn đã đăng xuất.", "info")
    return redirect(url_for("auth.login"))
