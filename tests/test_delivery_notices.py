"""The IT focal point is told of new delivery errors: one notice and one email per province per intake run.

The intake reads a real Maildir (`PORTAL_BOUNCE_MAILDIR`) with real bounces from tests/data/bounces; the email
goes through the outbox to the address the province registered for its IT focal point.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from portal.domain import bounces
from portal.models import Notice, NoticeRecipient, OutboxMessage, Role
from tests.support.accounts import HA_NOI, HAI_PHONG, make_user

# Re-use the intake tests' settings (mail domain, bounce address), with a Maildir of our own.
from tests.test_bounce_intake import (
    MAIL_DOMAIN,
    NOW,
    Survey,
    _sample,
    app_config,  # noqa: F401  (the fixture)
    fill_maildir,
    with_to,
)


@pytest.fixture
def maildir(app, tmp_path):
    path = tmp_path / "bounces"
    app.config["PORTAL_BOUNCE_MAILDIR"] = str(path)
    return path


@pytest.fixture
def focal_points(session: Session):
    """Hà Nội's IT focal point registered with an address; Hải Phòng's account exists but has none."""
    hanoi = make_user(session, "ha-noi-cntt", Role.IT_FOCAL, HA_NOI)
    hanoi.full_name, hanoi.email = "Trần Minh Đức", "duc.tm@hanoi.gov.vn"
    make_user(session, "hai-phong-cntt", Role.IT_FOCAL, HAI_PHONG)
    session.add(hanoi)
    session.commit()
    return hanoi


def notices_of(session: Session, province_id: int) -> list[Notice]:
    session.expire_all()
    return list(session.exec(select(Notice).join(NoticeRecipient, NoticeRecipient.notice_id == Notice.id)
                             .where(NoticeRecipient.province_id == province_id).order_by(Notice.id)))


def notice_emails(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.kind == "delivery-errors")
                             .order_by(OutboxMessage.id)))


def bounce_for(survey: Survey, sample: str, address: str) -> bytes:
    sent = survey.send(address)
    return with_to(_sample(sample), f"bounces+{sent.bounce_token}@{MAIL_DOMAIN}")


def test_one_notice_and_one_email_per_province_per_run_not_one_per_bounce(app, session, maildir, focal_points):
    hanoi = Survey(session, HA_NOI)
    haiphong_version = hanoi.version
    raws = [bounce_for(hanoi, "dsn_14.txt", "userx@example.com"),
            bounce_for(hanoi, "postfix_01.txt", "xxxxx@local.ie"),
            bounce_for(hanoi, "dsn_05.txt", "userx@example.cz"),
            bounce_for(hanoi, "qmail_08.txt", "tu-dong@hanoi.gov.vn")]  # an autoreply: kept aside, about Hà Nội
    haiphong = Survey(session, HAI_PHONG, version=haiphong_version)
    raws.append(bounce_for(haiphong, "simple_14.txt", "userx@example.com"))
    fill_maildir(maildir, raws)

    result = bounces.intake_configured(app, NOW)

    assert (result.permanent, result.temporary, result.unparsed) == (3, 1, 1)
    [hanoi_notice] = notices_of(session, HA_NOI)
    assert hanoi_notice.kind == "system"
    assert hanoi_notice.title == ("Có lỗi gửi thư mời mới: 2 thư mời bị trả lại, 1 thư mời đang chậm (máy chủ "
                                  "người nhận còn thử lại), 1 thư báo lỗi không đọc được, đã để riêng để xem")
    assert [notice.title for notice in notices_of(session, HAI_PHONG)] == [
        "Có lỗi gửi thư mời mới: 1 thư mời bị trả lại"]
    # One email, to the address Hà Nội registered; Hải Phòng's IT focal point registered none: the notice only.
    [message] = notice_emails(session)
    assert (message.to_addr, message.province_id, message.status) == ("duc.tm@hanoi.gov.vn", HA_NOI, "queued")
    assert message.subject == "[Cổng Chỉ số CCHC] Thành phố Hà Nội: có lỗi gửi thư mời mới"
    assert "Kính gửi Trần Minh Đức," in message.body_text
    assert "2 thư mời bị trả lại" in message.body_text
    assert "http://localhost/dau-moi-cntt/loi-gui" in message.body_text
    assert "http://localhost/dau-moi-cntt/loi-gui" in message.body_html

    # A second run with nothing new tells nobody again.
    bounces.intake_configured(app, NOW)
    assert len(notices_of(session, HA_NOI)) == 1 and len(notice_emails(session)) == 1

    # A later run with one more bounce: one more notice and email.
    fill_maildir(maildir, [bounce_for(hanoi, "simple_09.txt", "userx@example.de")])
    bounces.intake_configured(app, NOW)
    assert [notice.title for notice in notices_of(session, HA_NOI)][-1] == (
        "Có lỗi gửi thư mời mới: 1 thư mời bị trả lại")
    assert len(notice_emails(session)) == 2


def test_a_bounce_of_the_notice_email_itself_tells_nobody_again(app, session, maildir, focal_points):
    """The IT focal point's own address bouncing must not loop: it is not a respondent's delivery error."""
    message = bounces.outbox.enqueue(session, kind="delivery-errors", to_addr="duc.tm@hanoi.gov.vn", subject="x",
                                     body_text="x", province_id=HA_NOI, mail_domain=MAIL_DOMAIN, now=NOW)
    session.commit()
    bounces.outbox.record_outcome(session, message.id, "sent", "250 ok", NOW)
    session.commit()
    fill_maildir(maildir, [with_to(_sample("dsn_14.txt"), f"bounces+{message.bounce_token}@{MAIL_DOMAIN}")])

    result = bounces.intake_configured(app, NOW)

    assert result.permanent == 1
    assert notices_of(session, HA_NOI) == []
    assert len(notice_emails(session)) == 1


def test_an_unmatched_bounce_tells_no_province(app, session, maildir, focal_points):
    fill_maildir(maildir, [_sample("dsn_14.txt")])  # about no message of ours

    result = bounces.intake_configured(app, NOW)

    assert result.unmatched == 1
    assert notices_of(session, HA_NOI) == [] and notices_of(session, HAI_PHONG) == []
    assert notice_emails(session) == []
