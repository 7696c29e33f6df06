"""Personal links and the outbox (issue 13): no stored row holds a link, the relay gets the working link,
old bodies are emptied after PORTAL_OUTBOX_KEEP_SENT_DAYS."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select as core_select

from portal import jobs
from portal.domain import outbox
from portal.domain.invitations import masked_path
from portal.models import AuditEntry, OutboxMessage
from tests.support.outbox import queue
from tests.support.smtp import mail_config
from tests.support.survey import DURING_SURVEY, launch_survey


@pytest.fixture
def app_config(app_config, sink):
    return {**app_config, **mail_config(sink)}


def table_dump(session, *models) -> str:
    """Every column of every row of the tables, as text: what a copy of the database would hand out."""
    return "\n".join(repr(tuple(row)) for model in models
                     for row in session.execute(core_select(model.__table__)).all())


def secret_parts(survey) -> list[str]:
    """The MAC of each respondent's link: the part that makes it a link (the id is no secret)."""
    return [person.token.partition(".")[2] for person in survey.invitations]


def test_no_stored_outbox_row_or_audit_entry_holds_a_personal_link_after_a_launch_nor_after_sending(
        app, session, ministry_user, time_machine, caplog):
    time_machine.move_to(DURING_SURVEY, tick=False)
    survey = launch_survey(app, session, ministry_user)
    macs = secret_parts(survey)

    queued = table_dump(session, OutboxMessage, AuditEntry)
    with caplog.at_level(logging.DEBUG):
        assert jobs.send_outbox(app, "test:1") == len(survey.invitations)
    sent = table_dump(session, OutboxMessage, AuditEntry)

    assert len(macs) > 5
    for dump in (queued, sent, caplog.text):
        assert not [mac for mac in macs if mac in dump]
    assert all(masked_path(person.invitation.id) in queued for person in survey.invitations)


def test_the_relay_receives_the_working_link_and_following_it_opens_the_survey(
        app, client, session, sink, ministry_user, time_machine):
    time_machine.move_to(DURING_SURVEY, tick=False)
    survey = launch_survey(app, session, ministry_user)
    person = survey.of_group("LD_SO")

    jobs.send_outbox(app, "test:1")

    [received] = [m.message for m in sink.messages if m.rcpt_tos == [person.respondent.email]]
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    link = re.search(r"http://localhost(/phieu/\S+)", text).group(1)
    assert link == person.url and f'href="http://localhost{person.url}"' in html
    assert "••••" not in text + html
    page = client.get(link)
    assert page.status_code == 200 and "Phiếu đánh giá địa phương" in page.get_data(as_text=True)


def test_a_row_that_still_holds_its_link_in_full_is_sent_as_it_is(app, session, sink):
    # Rows queued before links were masked were masked by the migration; one that was not still works.
    [row] = queue(session, 1)

    jobs.send_outbox(app, "test:1")

    [received] = sink.messages
    assert received.outbox_id == row.id
    assert "http://localhost/phieu/1.abc" in received.message.get_body(("plain",)).get_content()


def test_bodies_are_emptied_once_sent_for_the_configured_days_and_the_row_stays_for_the_delivery_pages(
        app, session, sink, time_machine):
    app.config["PORTAL_OUTBOX_KEEP_SENT_DAYS"] = 30
    time_machine.move_to(DURING_SURVEY, tick=False)
    first, second = queue(session, 2)
    jobs.send_outbox(app, "test:1")
    still_queued, = queue(session, 1, to="sau{n}@hanoi.gov.vn")

    time_machine.shift(timedelta(days=29, hours=23))
    assert jobs.purge_outbox(app) == 0
    time_machine.shift(timedelta(hours=1))
    assert jobs.purge_outbox(app) == 2
    assert jobs.purge_outbox(app) == 0  # once

    session.expire_all()
    purged = session.get(OutboxMessage, first.id)
    assert (purged.body_text, purged.body_html, purged.purged_at) == ("", "", outbox.utcnow())
    assert (purged.to_addr, purged.status, purged.subject) == ("nguoi1@hanoi.gov.vn", "sent", first.subject)
    assert purged.sent_at is not None and purged.last_reply.startswith("250")
    waiting = session.get(OutboxMessage, still_queued.id)
    assert waiting.body_text and waiting.purged_at is None  # not sent yet: never emptied
