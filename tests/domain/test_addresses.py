"""Addresses with Vietnamese letters: an IDN domain is delivered in its IDNA form, a local part is refused."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal.domain import addresses, name_email_rules, outbox
from portal.models import OutboxMessage
from tests.support.smtp import mail_config

IDN = "cuong@yênbái.gov.vn"
IDN_ASCII = "cuong@xn--ynbi-7na5c.gov.vn"


@pytest.fixture
def app_config(app_config, sink):
    return {**app_config, **mail_config(sink)}


def test_an_address_on_an_internationalised_domain_is_sent_to_its_idna_form(app, session, sink):
    with app.app_context():
        outbox.enqueue(session, kind="invitation", to_addr=IDN, subject="Thư mời", body_text="Kính gửi ông Cường",
                       mail_domain="chisocchc.gov.vn")
        session.commit()

    assert outbox.run_once(app, "test:1", limit=10) == 1

    [row] = session.exec(select(OutboxMessage)).all()
    assert (row.status, row.to_addr) == ("sent", IDN_ASCII)
    assert sink.messages[0].rcpt_tos == [IDN_ASCII]


def test_the_list_check_accepts_an_idn_domain_and_refuses_vietnamese_letters_before_the_at():
    assert addresses.deliverable(IDN) == IDN_ASCII
    assert addresses.deliverable("an.nv@hanoi.gov.vn") == "an.nv@hanoi.gov.vn"
    assert addresses.problem(IDN) is None
    assert addresses.problem("cường@yenbai.gov.vn") == addresses.NON_ASCII_LOCAL_PART
    assert name_email_rules.normalise_email(IDN)[1] is None
    assert "có chữ có dấu" in name_email_rules.normalise_email("cường@yenbai.gov.vn")[1]
