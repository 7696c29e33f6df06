"""Pages that poll with HTMX: an unchanged poll is answered 304 without building anything, a finished one 286.

Used by the progress pages (portal/progress/routes.py) and the pages that follow a background
operation (a launch, "Đôn đốc tất cả"): `render_operation` below.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app, make_response, render_template, request, url_for

from portal.domain import operations
from portal.models import Operation, OperationState

OPERATION_TARGET = "operation-live"
# The polls whose every answer only reads (a 304, a fresh fragment or 286), by endpoint and polled target.
READ_ONLY_POLLS = frozenset({("progress.index", "progress-live"), ("ministry.province_progress", "progress-live"),
                             ("progress.remind_operation", OPERATION_TARGET),
                             ("ministry.launch_operation", OPERATION_TARGET)})

# Those of them whose view reads the current campaign and the account's own province first: their account is read
# with both, in one statement (accounts.signed_in_user_and_place).
OWN_PROVINCE_POLLS = frozenset({("progress.index", "progress-live"), ("progress.remind_operation", OPERATION_TARGET)})


def is_read_only_poll() -> bool:
    """Whether this request is a poll of READ_ONLY_POLLS: one that may run without a transaction.

    On PostgreSQL its statements then go without BEGIN and ROLLBACK (db.use_autocommit), two of an unchanged
    poll's five round trips. What it reads is the same: under READ COMMITTED each statement of a transaction
    reads its own snapshot anyway. Only these endpoints, which write nothing, whatever the headers say.
    """
    return request.method == "GET" and (request.endpoint, request.headers.get("HX-Target")) in READ_ONLY_POLLS


def is_own_province_poll() -> bool:
    """Whether this request is one of OWN_PROVINCE_POLLS (a read-only poll, see `is_read_only_poll`)."""
    return request.method == "GET" and (request.endpoint, request.headers.get("HX-Target")) in OWN_PROVINCE_POLLS


def cached_etag(etag: str) -> str | None:
    """The validator the client holds for `etag`, if it holds one.

    Flask-Compress sends a compressed fragment's ETag as "<etag>:gzip" (or ":br"), and that is what the
    browser sends back; both forms mean the same state.
    """
    for tag in request.if_none_match.as_set():
        if tag == etag or tag.startswith(f"{etag}:"):
            return tag
    return None


def uncached(response):
    """The page and its fragment share a URL: a browser must revalidate, and never take one for the other."""
    response.vary.add("HX-Request")
    if response.headers.get("ETag"):
        response.headers["Cache-Control"] = "private, no-cache"
    return response


def render_operation(operation: Operation, page: str, *, summary: Callable[[Operation], tuple[str, str]],
                     endpoint: str, **context):
    """The page following a background operation, or the fragment its poll asks for.

    A poll (HTMX, target "operation-live") costs one row read when nothing changed: 304 on the
    operation's fingerprint. Once the operation is over the answer is 286, so htmx stops polling.
    `summary(operation)` gives the sentence shown when it is done, and its kind (success, info, error).
    """
    target = request.htmx.target if request.htmx else None
    over = operations.is_over(operation)
    etag = hashlib.sha256(operations.fingerprint(operation).encode()).hexdigest()[:24]
    if target == OPERATION_TARGET:
        held = cached_etag(etag)
        if held is not None and not over:
            response = make_response("", 304)
            response.set_etag(held)
            return uncached(response)
    message, level = summary(operation) if operation.state == OperationState.DONE.value else ("", "")
    context.update(operation=operation, over=over, message=message, level=level,
                   percent=operation.done * 100 // operation.total if operation.total else 0,
                   poll_seconds=current_app.config["PORTAL_OPERATION_POLL_SECONDS"],
                   self_url=url_for(endpoint, operation_id=operation.id))
    if target == OPERATION_TARGET:
        response = make_response(render_template("operations/_operation.html", **context), 286 if over else 200)
        response.set_etag(etag)
        return uncached(response)
    return uncached(make_response(render_template(page, **context)))
