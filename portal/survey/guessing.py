"""Holding back an address that guesses respondents' links.

Only answers of "link not valid" (404) count against an address, so a whole office behind one NAT address
answering with good links is not throttled by them. An address that has used up its allowance waits out the
window for every link, good ones too: answering a good link while refusing wrong ones would let the guessing
go on.

The counter lives in Flask-Limiter's storage (the portal's database by default, shared by every worker), read
and counted here with the `limits` fixed-window strategy directly: Flask-Limiter's per-request evaluation of
its decorators cost a respondent's page more than the counter's one SELECT. In the portal's database the
count is read by the page's own statement instead (`counter_key`, then `hold_back` with what it read): one
round trip fewer for every respondent's page.
"""

from __future__ import annotations

from functools import cache

from flask import Response, abort, current_app, g, request
from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter

from portal.extensions import limiter
from portal.ratelimit_storage import PortalDatabaseStorage

SCOPE = "survey-links"


@cache
def _item(rate: str) -> RateLimitItem:
    return parse(rate)


def _window() -> tuple[FixedWindowRateLimiter, RateLimitItem, str] | None:
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    return (FixedWindowRateLimiter(limiter.storage), _item(current_app.config["PORTAL_LINK_GUESS_RATE"]),
            request.remote_addr or "")


def hold_back_guessers() -> None:
    """Before a survey page: 429 for an address that has used up its allowance of wrong links.

    With the counters in the portal's database the check waits for the page's first statement, which reads
    the count along (`counter_key`); the page calls `hold_back` before it answers anything.
    """
    window = _window()
    if window is not None:
        strategy, item, address = window
        if isinstance(strategy.storage, PortalDatabaseStorage):
            g.guess_counter = (item.key_for(SCOPE, address), item.amount)
        elif not strategy.test(item, SCOPE, address):
            abort(429)


def counter_key() -> str | None:
    """The key of the address's counter, for the page's statement to read its count; None: nothing to read."""
    pending = g.get("guess_counter")
    return pending[0] if pending else None


def hold_back(count: int | None) -> None:
    """429 if the count the page read (None: it read none, read it now) has used up the allowance."""
    pending = g.pop("guess_counter", None)
    if pending is None:
        return
    key, allowance = pending
    if count is None:
        count = limiter.storage.get(key)
    if count >= allowance:
        abort(429)


def count_wrong_links(response: Response) -> Response:
    """After a survey page: a "link not valid" answer counts against the address."""
    if response.status_code == 404:
        window = _window()
        if window is not None:
            strategy, item, address = window
            strategy.hit(item, SCOPE, address)
    return response
