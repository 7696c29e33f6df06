"""Login throttling counts every attempt exactly once, even when they arrive together."""

from __future__ import annotations

import threading

from sqlmodel import select

from portal.domain import accounts
from portal.domain.login_throttle import ANYWHERE, ThrottlePolicy
from portal.extensions import db
from portal.models import LoginThrottle


def test_concurrent_wrong_passwords_are_all_counted_and_no_more_are_checked_than_allowed(app, session,
                                                                                          province_user):
    calls, policy = 12, ThrottlePolicy(max_attempts=5)
    barrier, lock = threading.Barrier(calls), threading.Lock()
    messages: list[str] = []

    def attempt() -> None:
        with app.app_context(), db.new_session() as own:
            barrier.wait(timeout=10)
            try:
                accounts.authenticate(own, "ha-noi", "SaiMatKhau2021", source="198.51.100.7", policy=policy)
            except accounts.LoginRefused as refused:
                with lock:
                    messages.append(refused.message)

    threads = [threading.Thread(target=attempt) for _ in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert messages.count(accounts.WRONG_CREDENTIALS) == 5  # five password checks, not one more
    assert len(messages) == calls
    counts = {row.source: row.attempts for row in session.exec(select(LoginThrottle))}
    assert counts == {"198.51.100.7": calls, ANYWHERE: calls}
