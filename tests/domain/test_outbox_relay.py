"""The outbox against a relay as the ministry runs it: STARTTLS or implicit TLS, a login, refusals at MAIL FROM
and at the end of DATA (aiosmtpd on loopback with a certificate made for the test)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from sqlmodel import select

from portal.domain import outbox
from portal.models import OutboxMessage
from tests.support.certificates import Certificates, make_certificates, server_tls
from tests.support.smtp import MAIL_DOMAIN, SmtpSink, mail_config

LOGIN, PASSWORD = "khaosat-cchc", "Mat-khau-relay-2021"


@dataclass
class Relay:
    sink: SmtpSink
    config: dict


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("relay-tls"))


@pytest.fixture
def relay(request, certificates):
    """The relay named by the test's parameter: (mode, trusted, password the portal uses)."""
    mode, trusted, password = request.param
    with SmtpSink(tls=server_tls(certificates), starttls=mode == "starttls", logins={LOGIN: PASSWORD}) as sink:
        yield Relay(sink, mail_config(sink, MAIL_USE_TLS=mode == "starttls", MAIL_USE_SSL=mode == "ssl",
                                      MAIL_USERNAME=LOGIN, MAIL_PASSWORD=password,
                                      PORTAL_MAIL_CA_FILE=str(certificates.ca_file) if trusted else None))


@pytest.fixture
def app_config(app_config, relay):
    return {**app_config, **relay.config}


def queue(session, *addresses: str) -> list[OutboxMessage]:
    rows = [outbox.enqueue(session, kind="notice", to_addr=address, subject="Thông báo Chỉ số CCHC",
                           body_text="Kính gửi ông/bà,\n", mail_domain=MAIL_DOMAIN) for address in addresses]
    session.commit()
    return rows


def stored(session) -> list[tuple[str, int, str]]:
    session.expire_all()
    return [(row.status, row.attempts, row.last_reply or "")
            for row in session.exec(select(OutboxMessage).order_by(OutboxMessage.id))]


@pytest.mark.parametrize("relay", [("starttls", True, PASSWORD), ("ssl", True, PASSWORD)], indirect=True,
                         ids=["starttls", "ssl"])
def test_a_trusted_relay_gets_every_message_encrypted_after_the_portal_logged_in(app, session, relay):
    queue(session, "an@hanoi.gov.vn", "binh@hanoi.gov.vn")

    assert outbox.run_once(app, "test:1", limit=10) == 2

    assert [item.rcpt_tos for item in relay.sink.messages] == [["an@hanoi.gov.vn"], ["binh@hanoi.gov.vn"]]
    assert relay.sink.encrypted == [True, True]
    assert relay.sink.logged_in == [LOGIN]  # one connection, one login for the batch
    assert [(status, attempts) for status, attempts, _ in stored(session)] == [("sent", 1)] * 2


@pytest.mark.parametrize("relay", [("starttls", False, PASSWORD), ("ssl", False, PASSWORD)], indirect=True,
                         ids=["starttls", "ssl"])
def test_a_relay_whose_certificate_is_not_trusted_gets_nothing_and_the_batch_waits(app, session, relay, caplog):
    queue(session, "an@hanoi.gov.vn")

    with caplog.at_level(logging.ERROR, logger="portal.domain.outbox_smtp"):
        outbox.run_once(app, "test:1", limit=10)

    assert relay.sink.count() == 0 and relay.sink.logged_in == []  # the password never left the portal
    assert stored(session) == [("queued", 0, "")]
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


@pytest.mark.parametrize("relay", [("starttls", True, "mat-khau-cu")], indirect=True, ids=["starttls"])
def test_a_refused_login_sends_nothing_and_the_batch_waits(app, session, relay, caplog):
    queue(session, "an@hanoi.gov.vn")

    with caplog.at_level(logging.ERROR, logger="portal.domain.outbox_smtp"):
        outbox.run_once(app, "test:1", limit=10)

    assert relay.sink.count() == 0
    assert stored(session) == [("queued", 0, "")]
    assert "535" in caplog.text


@pytest.mark.parametrize("relay", [("starttls", True, PASSWORD)], indirect=True, ids=["starttls"])
def test_a_permanent_refusal_at_mail_from_fails_the_message_with_the_relay_reply(app, session, relay):
    relay.sink.sender_refusal = "553 5.7.1 Sender address not allowed"
    queue(session, "an@hanoi.gov.vn", "binh@hanoi.gov.vn")

    outbox.run_once(app, "test:1", limit=10)

    assert relay.sink.count() == 0
    assert stored(session) == [("failed", 1, "553 5.7.1 Sender address not allowed")] * 2


@pytest.mark.parametrize("relay", [("starttls", True, PASSWORD)], indirect=True, ids=["starttls"])
def test_a_temporary_refusal_at_mail_from_queues_the_message_again(app, session, relay):
    relay.sink.sender_refusal = "451 4.3.0 Try again later"
    queue(session, "an@hanoi.gov.vn")

    outbox.run_once(app, "test:1", limit=10)

    assert stored(session) == [("queued", 1, "451 4.3.0 Try again later")]


@pytest.mark.parametrize("relay", [("ssl", True, PASSWORD)], indirect=True, ids=["ssl"])
def test_a_refusal_at_the_end_of_data_fails_that_message_and_the_next_still_goes(app, session, relay):
    relay.sink.data_refusal["spam@hanoi.gov.vn"] = "554 5.7.1 Message rejected as spam"
    queue(session, "spam@hanoi.gov.vn", "binh@hanoi.gov.vn")

    outbox.run_once(app, "test:1", limit=10)

    assert [item.rcpt_tos for item in relay.sink.messages] == [["binh@hanoi.gov.vn"]]
    [refused, sent] = stored(session)
    assert refused == ("failed", 1, "554 5.7.1 Message rejected as spam")
    assert sent[:2] == ("sent", 1)
