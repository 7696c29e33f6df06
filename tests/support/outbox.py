"""Outbox rows for tests: messages queued as the portal queues them, ready for a worker to send.

    queue(session, 3)                       # nguoi1@hanoi.gov.vn … nguoi3@hanoi.gov.vn, committed
    invitation = make_invitation(session)   # the least an invitation's messages need, committed
"""

from __future__ import annotations

from sqlmodel import Session

from portal.domain import outbox
from portal.domain.campaigns import current_campaign
from portal.models import Invitation, OutboxMessage, QuestionnaireVersion, Respondent, RespondentList
from tests.support.accounts import HA_NOI
from tests.support.smtp import MAIL_DOMAIN

SUBJECT = "Phiếu khảo sát Chỉ số CCHC năm 2021: mời Nguyễn Thị Hương trả lời"


def queue(session: Session, count: int = 1, *, to: str = "nguoi{n}@hanoi.gov.vn", kind: str = "notice",
          invitation_id: int | None = None, now=None) -> list[OutboxMessage]:
    """Queue `count` messages (addresses numbered from 1) and commit them."""
    rows = [outbox.enqueue(session, kind=kind, to_addr=to.format(n=n), subject=SUBJECT,
                           body_text=f"Kính gửi ông/bà số {n},\nĐường liên kết: http://localhost/phieu/{n}.abc\n",
                           body_html=f"<p>Kính gửi ông/bà số {n}</p>", invitation_id=invitation_id,
                           province_id=HA_NOI, mail_domain=MAIL_DOMAIN, now=now)
            for n in range(1, count + 1)]
    session.commit()
    return rows


def make_invitation(session: Session, email: str = "huong@hanoi.gov.vn") -> Invitation:
    """The least a respondent's invitation needs: a list, a person, a questionnaire version."""
    campaign = current_campaign(session)
    rlist = RespondentList(campaign_id=campaign.id, province_id=HA_NOI, status="sent")
    version = QuestionnaireVersion(campaign_id=campaign.id, version=1, title="Bộ phiếu mẫu", document="{}")
    session.add_all([rlist, version])
    session.flush()
    person = Respondent(list_id=rlist.id, province_id=HA_NOI, full_name="Nguyễn Thị Hương", email=email)
    session.add(person)
    session.flush()
    invitation = Invitation(respondent_id=person.id, campaign_id=campaign.id, province_id=HA_NOI,
                            questionnaire_version_id=version.id, nonce="0" * 32, form_codes="P1")
    session.add(invitation)
    session.commit()
    return invitation
