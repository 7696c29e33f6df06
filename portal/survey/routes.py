"""The respondent behind a personal link: no login, no JavaScript, one short page per form.

The link itself is the credential (an unguessable HMAC, see domain/invitations.py),
so these forms carry no CSRF token: a token tied to a session cookie would only
make a respondent who left a form open overnight lose their answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for

from portal.domain import answers, invitations
from portal.domain.questionnaires import FormDef
from portal.extensions import csrf, db, limiter
from portal.models import Campaign, Invitation, Respondent

bp = Blueprint("survey", __name__, url_prefix="/phieu")
csrf.exempt(bp)

# Guessing links: only answers of "link not valid" count against an address, so a whole office
# behind one NAT address answering with good links is not throttled by them. An address that has
# used up its allowance waits out the window for every link, good ones too: answering a good link
# while refusing wrong ones would let the guessing go on.
guess_limit = limiter.shared_limit(lambda: current_app.config["PORTAL_LINK_GUESS_RATE"], scope="survey-links",
                                   deduct_when=lambda response: response.status_code == 404)


def _tz() -> str:
    return current_app.config["PORTAL_TIMEZONE"]


def _invalid():
    return render_template("survey/invalid.html"), 404


@dataclass
class _Visit:
    """What a personal link (and, for a form page, the form code) leads to."""

    token: str
    invitation: Invitation
    campaign: Campaign
    person: Respondent
    form: FormDef | None

    @property
    def extension(self):
        """The response deadline the ministry granted the respondent's province, if any."""
        return answers.province_extension(db.session, self.campaign.id, self.invitation.province_id)

    def context(self, **extra) -> dict:
        extension = self.extension
        deadline = extension if extension and extension > self.campaign.response_deadline \
            else self.campaign.response_deadline
        return {"token": self.token, "person": self.person, "campaign": self.campaign, "form": self.form,
                "deadline": deadline, **extra}


def _visit(token: str, code: str | None = None) -> _Visit | None:
    """None for a forged or unknown link, or a form the respondent does not answer."""
    invitation = invitations.invitation_for_token(db.session, token)
    if invitation is None:
        return None
    if invitation.withdrawn_at is not None:
        # A real link whose person the province removed from its list: say so, rather than "not valid".
        abort(make_response(render_template("survey/withdrawn.html"), 410))
    form_def = None
    if code is not None:
        form_def = next((f for f in invitations.invitation_forms(db.session, invitation) if f.code == code), None)
        if form_def is None:
            return None
    return _Visit(token, invitation, db.session.get(Campaign, invitation.campaign_id),
                  db.session.get(Respondent, invitation.respondent_id), form_def)


@bp.get("/<token>")
@guess_limit
def overview(token: str):
    visit = _visit(token)
    if visit is None:
        return _invalid()
    answers.mark_opened(db.session, visit.invitation)
    return render_template("survey/overview.html", **visit.context(
        forms=invitations.invitation_forms(db.session, visit.invitation),
        progress=answers.progress_of(db.session, visit.invitation),
        closed=answers.is_closed(visit.campaign, _tz(), extension=visit.extension)))


@bp.route("/<token>/<code>", methods=["GET", "POST"])
@guess_limit
def form(token: str, code: str):
    visit = _visit(token, code)
    if visit is None:
        return _invalid()
    invitation, campaign, form_def = visit.invitation, visit.campaign, visit.form
    state = answers.progress_of(db.session, invitation)[code]
    context = visit.context(state=state)
    if state.state == "submitted":
        return redirect(url_for("survey.thanks", token=token, code=code), code=303)
    if answers.is_closed(campaign, _tz(), extension=visit.extension):
        return render_template("survey/closed.html", **context), 410
    if request.method == "GET":
        answers.mark_opened(db.session, invitation)
        return render_template("survey/form.html", **context, errors={}, saved=False,
                               values=answers.saved_values(db.session, invitation, code))
    result = answers.save_draft(db.session, invitation, campaign, form_def, request.form.to_dict(flat=False),
                                tz_name=_tz())
    if result.already:
        return redirect(url_for("survey.thanks", token=token, code=code), code=303)
    if result.closed:
        return render_template("survey/closed.html", **context), 410
    if request.form.get("action") == "submit":
        final = answers.submit_check(db.session, invitation, form_def)
        if not final and not result.errors:
            return render_template("survey/confirm.html", **context)
        errors = {**final, **result.errors}
        return render_template("survey/form.html", **context, errors=errors, saved=True, values=result.values), 422
    return render_template("survey/form.html", **context, errors=result.errors, saved=True, values=result.values), \
        422 if result.errors else 200


@bp.post("/<token>/<code>/gui")
@guess_limit
def submit(token: str, code: str):
    visit = _visit(token, code)
    if visit is None:
        return _invalid()
    result = answers.submit(db.session, visit.invitation, visit.campaign, visit.form, tz_name=_tz())
    if result.closed:
        return render_template("survey/closed.html", **visit.context()), 410
    if result.errors:
        return render_template("survey/form.html", **visit.context(
            state=answers.progress_of(db.session, visit.invitation)[code], errors=result.errors, saved=False,
            values=result.values)), 422
    return redirect(url_for("survey.thanks", token=token, code=code), code=303)


@bp.get("/<token>/<code>/cam-on")
@guess_limit
def thanks(token: str, code: str):
    visit = _visit(token, code)
    if visit is None:
        return _invalid()
    progress = answers.progress_of(db.session, visit.invitation)
    if progress[code].state != "submitted":
        # Nothing to thank for yet (a bookmarked or guessed address): "sent at —" would mislead.
        return redirect(url_for("survey.form", token=token, code=code), code=303)
    forms = invitations.invitation_forms(db.session, visit.invitation)
    remaining = [f for f in forms if progress[f.code].state != "submitted"]
    return render_template("survey/thanks.html", **visit.context(state=progress[code], remaining=remaining))
