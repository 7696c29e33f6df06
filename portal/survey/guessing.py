"""Holding back an address that guesses respondents' links.

Only answers of "link not valid" (404) count against an address, so a whole office behind one NAT address
answering with good links is not throttled by them. An address that has used up its allowance waits out the
window for every link, good ones too: answering a good link while refusing wrong ones would let the guessing
go on.

The counter lives in Flask-Limiter's storage (the portal's database by default, shared by every worker), read
and counted here with the `limits` fixed-window strategy directly: Flask-Limiter's per-request evaluation of
its decorators cost a respondent's page more than the counter's one SELECT.
"""

from __future__ import annotations

from functools import cache

from flask import Response, abort, current_app, request
from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter

from portal.extensions import limiter

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
    """Before a survey page: 429 for an address that has used up its allowance of wrong links."""
    window = _window()
    if window is not None:
        strategy, item, address = window
        if not strategy.test(item, SCOPE, address):
            abort(429)


def count_wrong_links(response: Response) -> Response:
    """After a survey page: a "link not valid" answer counts against the address."""
    if response.status_code == 404:
        window = _window()
        if window is not None:
            strategy, item, address = window
            strategy.hit(item, SCOPE, address)
    return response
