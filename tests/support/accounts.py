"""Accounts for tests: the shared password, the two provinces the role fixtures use, making a user, logging in.

    user = make_user(session, "ha-noi", Role.PROVINCE, HA_NOI)
    log_in(client, user)          # a Flask test client, as a completed login leaves it
"""

from __future__ import annotations

from sqlmodel import Session

from portal.domain import accounts
from portal.models import Role, User

PASSWORD = "MatKhau2021cchc"
HA_NOI, HAI_PHONG = 1, 31


def make_user(session: Session, username: str, role: Role, province_id: int | None = None,
              *, must_change: bool = False, password: str = PASSWORD) -> User:
    user, _ = accounts.create_user(session, username, role, password=password, province_id=province_id,
                                   must_change_password=must_change)
    session.commit()
    return user


def log_in(client, user: User) -> None:
    """Put the user in the test client's session, as a completed login does."""
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
