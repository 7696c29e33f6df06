"""Login throttling per account *and* client address, so that nobody can lock an account from afar.

Province user names are public (the province's slug), so a lock per account alone would be a weapon:
five wrong passwords from anywhere would shut ``ha-noi`` out. Instead:

- each (account, address) pair gets `max_attempts` password checks per window of `window` seconds;
  past that, that address waits for the window to end, and the account still works from elsewhere;
- the account as a whole has a much higher ceiling (`account_ceiling` checks per window, from every
  address together); past it the portal slows down rather than locks: an address that has failed
  before waits `slowdown` seconds between tries, while a person at a fresh address still gets in.

Each attempt is counted *before* the password is checked, with one atomic UPSERT per counter, so
concurrent wrong passwords can neither lose counts nor run more checks than allowed. Times are seconds
since the epoch (see the LoginThrottle model).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from portal.models import LoginThrottle

ANYWHERE = "*"
_TABLE = LoginThrottle.__table__


@dataclass(frozen=True)
class ThrottlePolicy:
    max_attempts: int = 5  # password checks per account and address per window
    window: float = 15 * 60  # seconds
    account_ceiling: int = 100  # password checks per account per window, from all addresses together
    slowdown: float = 30.0  # seconds an address that failed waits between tries once past the ceiling


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused before the password is checked, and for how long."""

    message: str
    wait_seconds: int


def _count(session: Session, username: str, source: str, now: float, window: float) -> int:
    """Count one attempt in one atomic statement; returns the attempts of the current window."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_TABLE).values(username=username, source=source, attempts=1, window_start=now,
                                      last_attempt_at=now)
    expired = _TABLE.c.window_start <= now - window
    statement = statement.on_conflict_do_update(
        index_elements=[_TABLE.c.username, _TABLE.c.source],
        set_={"attempts": case((expired, 1), else_=_TABLE.c.attempts + 1),
              "window_start": case((expired, now), else_=_TABLE.c.window_start),
              "last_attempt_at": now},
    ).returning(_TABLE.c.attempts)
    return session.execute(statement).scalar_one()


def _row(session: Session, username: str, source: str) -> LoginThrottle | None:
    return session.execute(select(LoginThrottle).where(LoginThrottle.username == username,
                                                       LoginThrottle.source == source)).scalar_one_or_none()


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def admit(session: Session, username: str, source: str, now: float, policy: ThrottlePolicy) -> Refusal | None:
    """Count an attempt to log in to `username` from `source`; a Refusal when the password must not be checked.

    Commits the counts at once, so that they hold whatever happens to the request afterwards.
    """
    mine = _row(session, username, source)
    account = _row(session, username, ANYWHERE)
    if (account is not None and mine is not None and mine.attempts > 0
            and account.window_start > now - policy.window and account.attempts >= policy.account_ceiling
            and mine.last_attempt_at > now - policy.slowdown):
        session.rollback()
        wait = math.ceil(mine.last_attempt_at + policy.slowdown - now)
        return Refusal("Tài khoản này đang bị nhập sai mật khẩu rất nhiều lần từ nhiều nơi, nên cổng tạm giãn "
                       f"các lần thử. Vui lòng thử lại sau {max(1, wait)} giây.", max(1, wait))
    attempts = _count(session, username, source, now, policy.window)
    _count(session, username, ANYWHERE, now, policy.window)
    session.commit()
    if attempts > policy.max_attempts:
        started = _row(session, username, source).window_start
        wait = started + policy.window - now
        session.rollback()
        return Refusal("Đã nhập sai mật khẩu nhiều lần từ máy này. Vui lòng thử lại sau "
                       f"{_minutes(wait)} phút. Tài khoản không bị khóa: nếu quên mật khẩu, hãy liên hệ "
                       "Bộ Nội vụ để được cấp lại.", math.ceil(wait))
    return None


def succeeded(session: Session, username: str, source: str, now: float, policy: ThrottlePolicy) -> int:
    """Forget this address's tries after a good password; returns the wrong tries from other addresses.

    The account-wide count stays (it guards against guessing spread over many addresses); the person is
    told how many checks other addresses made in the window, so a guessing attack does not go unnoticed.
    """
    others = session.execute(
        select(func.coalesce(func.sum(LoginThrottle.attempts), 0))
        .where(LoginThrottle.username == username, LoginThrottle.source != source,
               LoginThrottle.source != ANYWHERE, LoginThrottle.window_start > now - policy.window)).scalar_one()
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == username, LoginThrottle.source == source))
    # Windows long over are of no use to anyone: keep the table to the attacks that matter now.
    session.execute(delete(LoginThrottle).where(LoginThrottle.window_start < now - 2 * policy.window))
    return int(others)


def forget(session: Session, username: str) -> None:
    """Clear every count of the account (an administrator reset its password); does not commit."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))


def forget_stale(session: Session, *, window: float, now: float | None = None) -> int:
    """Delete the counts no refusal can use any more (window over, no try since); returns how many.

    Without it a spray of wrong passwords from many addresses would leave one row per address and
    account for good. Committed here: the worker calls it on its own.
    """
    now = time.time() if now is None else now
    deleted = session.execute(delete(_TABLE).where(_TABLE.c.window_start <= now - window,
                                                   _TABLE.c.last_attempt_at <= now - window)).rowcount
    session.commit()
    return deleted
