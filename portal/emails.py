"""Emails: each kind is a template trio templates/emails/<name>-subject.txt, -body.txt, -body.html."""

from __future__ import annotations

import logging

from flask import current_app, render_template
from flask_mail import Message

from portal.extensions import mail
from portal.models import Province, RespondentList

log = logging.getLogger(__name__)


def render_email(name: str, context: dict) -> tuple[str, str, str]:
    """Subject, text body and HTML body of the email `name`, from its template trio."""
    context = {**context, "base_url": current_app.config["PORTAL_BASE_URL"]}
    subject = " ".join(render_template(f"emails/{name}-subject.txt", **context).split())
    return (subject, render_template(f"emails/{name}-body.txt", **context),
            render_template(f"emails/{name}-body.html", **context))


def make_message(name: str, to: str, context: dict) -> Message:
    """A Vietnamese text-and-HTML message from the template trio `name`."""
    subject, text, html = render_email(name, context)
    message = Message(subject=subject, recipients=[to], sender=current_app.config["MAIL_DEFAULT_SENDER"])
    message.body = text
    message.html = html
    message.charset = "utf-8"
    return message


def tell_ministry_list_sent(province: Province, rlist: RespondentList) -> bool:
    """Email the ministry's address that a province sent its list, where one is configured.

    The in-portal notice is the record; a mail server that is down must not undo
    or block the send, so failures are logged and reported as False.
    """
    to = current_app.config.get("PORTAL_MINISTRY_EMAIL")
    if not to or not current_app.config.get("MAIL_CONFIGURED"):
        return False
    try:
        mail.send(make_message("list-sent", to, {"province": province, "rlist": rlist}))
    except Exception:  # noqa: BLE001 - any SMTP or network failure
        log.exception("could not email the ministry about %s", province.slug)
        return False
    return True


def tell_ministry_request(province: Province, item, kind_label: str) -> bool:
    """Email the ministry's address that a province sent a request ("Đề nghị"), where one is configured.

    As for a sent list, the in-portal record comes first and a mail failure is only logged.
    """
    to = current_app.config.get("PORTAL_MINISTRY_EMAIL")
    if not to or not current_app.config.get("MAIL_CONFIGURED"):
        return False
    try:
        mail.send(make_message("request-received", to, {"province": province, "item": item, "kind": kind_label}))
    except Exception:  # noqa: BLE001 - any SMTP or network failure
        log.exception("could not email the ministry about a request of %s", province.slug)
        return False
    return True
