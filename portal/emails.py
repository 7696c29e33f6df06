"""Emails: each kind is a template trio templates/emails/<name>-subject.txt, -body.txt, -body.html."""

from __future__ import annotations

from flask import current_app, render_template
from sqlmodel import Session


def render_email(name: str, context: dict) -> tuple[str, str, str]:
    """Subject, text body and HTML body of the email `name`, from its template trio."""
    context = {**context, "base_url": current_app.config["PORTAL_BASE_URL"]}
    subject = " ".join(render_template(f"emails/{name}-subject.txt", **context).split())
    return (subject, render_template(f"emails/{name}-body.txt", **context),
            render_template(f"emails/{name}-body.html", **context))


def queue_for_ministry(session: Session, name: str, context: dict, *, province_id: int) -> bool:
    """Queue the email `name` to the ministry's address (PORTAL_MINISTRY_EMAIL), where one is configured.

    It goes through the outbox like every other email, so the relay's certificate is checked, a relay
    that is down only delays it, and the province's request never waits on SMTP. Not committed: the
    caller commits it with the change it reports. Returns whether an email was queued.
    """
    from portal.domain import outbox

    to = current_app.config.get("PORTAL_MINISTRY_EMAIL")
    if not to or not current_app.config.get("MAIL_CONFIGURED"):
        return False
    subject, text, html = render_email(name, context)
    outbox.enqueue(session, kind="ministry", to_addr=to, subject=subject, body_text=text, body_html=html,
                   province_id=province_id, mail_domain=current_app.config["PORTAL_MAIL_DOMAIN"])
    return True
