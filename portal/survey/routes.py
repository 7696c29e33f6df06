"""The respondent behind a personal link: no login, no JavaScript, one short page per form.

The link itself is the credential (an unguessable HMAC, see domain/invitations.py),
so these forms carry no CSRF token: a token tied to a session cookie would only
make a respondent who left a form open overnight lose their answers.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, make_response, redirect, render_template, request, url_for

from portal.domain import answers, integrity, invitations
from portal.domain.questionnaires import FormDef
from portal.extensions import csrf, db, limiter, login_manager
from portal.survey import fields, guessing

bp = Blueprint("survey", __name__, url_prefix="/phieu")
csrf.exempt(bp)
limiter.exempt(bp)  # the one limit of these pages is checked by guessing.py, without Flask-Limiter's per-request work


@limiter.request_filter
def _outside_flask_limiter() -> bool:
    """Flask-Limiter looks no further for these pages: the blueprint's exemption alone still had it resolve
    the view's limits (its name, its blueprint's exemptions, the application's defaults) on every request."""
    return request.blueprint == bp.name


@bp.before_request
def without_transactions():
    """The overview, a form and its draft save write one statement at a time, each atomic by itself, and the
    thanks page after a submission only reads: on PostgreSQL they run without BEGIN and COMMIT (two round trips
    of a page's four), on the pool where the visit's statement keeps its plan. A submission, which claims the
    form and writes the answer together, keeps its transaction."""
    if request.endpoint in ("survey.overview", "survey.form", "survey.thanks"):
        db.use_autocommit()


@bp.before_request
def as_nobody():
    """A respondent is nobody to Flask-Login: the pages' templates get its anonymous user without its looking
    for one (the session, which is none here, a remember cookie, the request loaders) on every page."""
    g._login_user = login_manager.anonymous_user()


# Guessing links: a 404 counts against the address, which is held back for the window (guessing.py). Every
# page below starts with _visit, which reads the address's count along with the visit and holds it back.
bp.before_request(guessing.hold_back_guessers)
bp.after_request(guessing.count_wrong_links)


# The respondent's browser keeps a random identifier for the survey pages only (integrity signals: one
# device answering for several people). Not a session: it carries nothing and is never read for access.
DEVICE_COOKIE = "cchc_thiet_bi"
DEVICE_COOKIE_DAYS = 400  # the longest browsers keep a cookie


def _tz() -> str:
    return current_app.config["PORTAL_TIMEZONE"]


def _device() -> str:
    value = request.cookies.get(DEVICE_COOKIE)
    if integrity.is_device_id(value):
        return value
    if "new_device" not in g:
        g.new_device = integrity.new_device_id()
    return g.new_device


@bp.after_request
def keep_device(response):
    if "new_device" in g:
        response.set_cookie(DEVICE_COOKIE, g.new_device, max_age=DEVICE_COOKIE_DAYS * 86400, path="/phieu/",
                            secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")
    return response


def _signal_row(visit: answers.Visit, event: str, code: str = "", *, posted: bool = False) -> dict:
    """The moment for the integrity rules (domain/integrity.py), with how long a posted page was open."""
    secret = current_app.config["SECRET_KEY"]
    seconds = integrity.seconds_on_page(request.form.get("_shown"), secret) if posted else None
    return integrity.signal_row(visit.invitation, event, form_code=code, device=_device(),
                                user_agent=request.user_agent.string, address=request.remote_addr or "",
                                secret=secret, seconds=seconds)


def _signal(visit: answers.Visit, event: str, code: str = "", *, posted: bool = False) -> None:
    """Keep the moment for the integrity rules, committed."""
    integrity.insert_row(db.session, _signal_row(visit, event, code, posted=posted))
    db.commit()


def _invalid():
    return render_template("survey/invalid.html"), 404


def _context(visit: answers.Visit, token: str, form: FormDef | None, **extra) -> dict:
    return {"token": token, "person": visit.person, "campaign": visit.campaign, "form": form,
            "deadline": visit.deadline, "shown": integrity.page_stamp(current_app.config["SECRET_KEY"]), **extra}


def _form_page(context: dict, *, errors: dict, saved: bool, values: dict) -> str:
    """The form with its answers; the questions come from the per-form cache of their markup (fields.py)."""
    return render_template("survey/form.html", **context, errors=errors, saved=saved,
                           fields=fields.form_fields(context["form"], values, errors))


def _visit(token: str, code: str | None = None) -> tuple[answers.Visit, FormDef | None] | None:
    """None for a forged or unknown link, or a form the respondent does not answer.

    One statement reads all a page needs (answers.load_visit), the address's count of wrong links included
    (429 once it is used up); the questionnaire is parsed once per process.
    """
    visit = answers.visit_for_token(db.session, token, code, counter_key=guessing.counter_key())
    guessing.hold_back(visit.guesses if visit is not None else None)
    if visit is None:
        withdrawn = invitations.invitation_for_token(db.session, token)
        if withdrawn is not None and withdrawn.withdrawn_at is not None:
            # A real link whose person the province removed from its list: say so, rather than "not valid".
            abort(make_response(render_template("survey/withdrawn.html"), 410))
        return None
    form_def = None
    if code is not None:
        form_def = visit.form(code)
        if form_def is None or code not in visit.states:
            return None
    return visit, form_def


@bp.get("/<token>")
def overview(token: str):
    found = _visit(token)
    if found is None:
        return _invalid()
    visit, _ = found
    answers.mark_opened(db.session, visit.invitation)
    _signal(visit, integrity.OPENED)
    return render_template("survey/overview.html", **_context(
        visit, token, None, forms=visit.forms, progress=visit.states, closed=visit.closed(_tz())))


@bp.route("/<token>/<code>", methods=["GET", "POST"])
def form(token: str, code: str):
    found = _visit(token, code)
    if found is None:
        return _invalid()
    visit, form_def = found
    invitation, campaign = visit.invitation, visit.campaign
    state = visit.states[code]
    context = _context(visit, token, form_def, state=state)
    if state.state == "submitted":
        return redirect(url_for("survey.thanks", token=token, code=code), code=303)
    if visit.closed(_tz()):
        return render_template("survey/closed.html", **context), 410
    if request.method == "GET":
        answers.mark_opened(db.session, invitation)
        _signal(visit, integrity.OPENED, code)
        return _form_page(context, errors={}, saved=False, values=visit.saved())
    # The signal is written with the draft (on PostgreSQL in its one statement), and only if a draft is.
    result = answers.save_draft(db.session, invitation, campaign, form_def, request.form.to_dict(flat=False),
                                tz_name=_tz(), visit=visit, commit=False,
                                signal=_signal_row(visit, integrity.SAVED, code, posted=True))
    if not (result.already or result.closed):
        db.session.commit()
    else:
        db.session.rollback()  # nothing was written
    if result.already:
        return redirect(url_for("survey.thanks", token=token, code=code), code=303)
    if result.closed:
        return render_template("survey/closed.html", **context), 410
    if request.form.get("action") == "submit":
        final = answers.final_errors(form_def, result.values)
        if not final and not result.errors:
            return render_template("survey/confirm.html", **context)
        errors = {**final, **result.errors}
        return _form_page(context, errors=errors, saved=True, values=result.values), 422
    return _form_page(context, errors=result.errors, saved=True, values=result.values), 422 if result.errors else 200


@bp.post("/<token>/<code>/gui")
def submit(token: str, code: str):
    found = _visit(token, code)
    if found is None:
        return _invalid()
    visit, form_def = found
    result = answers.submit(db.session, visit.invitation, visit.campaign, form_def, tz_name=_tz(), visit=visit)
    if result.submitted and not result.already:
        _signal(visit, integrity.SUBMITTED, code, posted=True)
    if result.closed:
        return render_template("survey/closed.html", **_context(visit, token, form_def)), 410
    if result.errors:
        return _form_page(_context(visit, token, form_def, state=visit.states[code]), errors=result.errors,
                          saved=False, values=result.values), 422
    return redirect(url_for("survey.thanks", token=token, code=code), code=303)


@bp.get("/<token>/<code>/cam-on")
def thanks(token: str, code: str):
    found = _visit(token, code)
    if found is None:
        return _invalid()
    visit, form_def = found
    progress = visit.states
    if progress[code].state != "submitted":
        # Nothing to thank for yet (a bookmarked or guessed address): "sent at —" would mislead.
        return redirect(url_for("survey.form", token=token, code=code), code=303)
    remaining = [f for f in visit.forms if f.code in progress and progress[f.code].state != "submitted"]
    return render_template("survey/thanks.html", **_context(visit, token, form_def, state=progress[code],
                                                            remaining=remaining))
