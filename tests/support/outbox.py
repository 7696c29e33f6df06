"""Outbox rows for tests: messages queued as the portal queues them, ready for a worker to send.

    queue(session, 3)                       # nguoi1@hanoi.gov.vn … nguoi3@hanoi.gov.vn, committed
"""

from __future__ import annotations

from sqlmodel import Session

from portal.domain import outbox
from portal.models import OutboxMessage
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
