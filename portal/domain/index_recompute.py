"""Recomputing the index in the background: a request (the ministry's button, an appraisal closed, a void taking
effect) records an operation, and the worker computes and stores the index (portal/domain/operations.py).

Reading 50,000 forms' answers takes seconds (bench/bench_index.py), too long for a request: the house runs work
that grows with the answers in the worker. One operation per campaign at a time: asking again while one waits
or runs asks nothing more, since the one under way reads everything as it is when it runs.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import current_app
from sqlmodel import Session

from portal.domain import operations
from portal.domain.operations import OperationError, Step
from portal.domain.par_index import IndexUnavailable, latest_computation, recompute
from portal.models import Campaign, Operation, OperationState, User

KIND = "index"


def pending(session: Session, campaign_id: int) -> Operation | None:
    """The recomputation waiting or under way for the campaign, if any."""
    found = operations.active(session, KIND, campaign_id)
    return found[0] if found else None


def last_failure(session: Session, campaign_id: int) -> Operation | None:
    """The latest recomputation, when it failed (its message is shown to the ministry until one succeeds)."""
    found = operations.recent(session, KIND, campaign_id, limit=1)
    return found[0] if found and found[0].state == OperationState.FAILED.value else None


_UNEXPECTED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def failure_text(operation: Operation) -> str:
    """What the ministry reads about a failed recomputation: the refusal in Vietnamese when the index could not be
    computed (no framework …); for an unexpected error, not the programmer's exception text but what to do."""
    message = operation.last_error or ""
    if not message or _UNEXPECTED.match(message):
        return ("lỗi hệ thống khi tính (chi tiết đã ghi vào nhật ký của tiến trình chạy nền). Hãy bấm “Tính lại "
                "Chỉ số”; nếu vẫn lỗi, báo bộ phận kỹ thuật.")
    return message


def request_recompute(session: Session, campaign: Campaign, actor: User | None, trigger: str) -> Operation:
    """Ask the worker to recompute the campaign's index (committed); the one already asked for when there is one."""
    waiting = pending(session, campaign.id)
    if waiting is not None:
        return waiting
    operation = operations.create(session, kind=KIND, campaign_id=campaign.id, requested_by=actor,
                                  params={"trigger": trigger[:200]}, total=1)
    session.commit()
    return operation


def recompute_after_change(session: Session, campaign_id: int, trigger: str) -> Operation | None:
    """After an appraisal is closed or released, or an integrity decision takes effect: only for the current
    campaign, once the ministry has computed its index a first time (before that there is nothing to keep up to
    date). Called after the step's own commit; asks the worker, never computes in the request."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not campaign.is_current or latest_computation(session, campaign_id) is None:
        return None
    return request_recompute(session, campaign, None, trigger)


def index_step(session: Session, operation: Operation, chunk: int, now: datetime) -> Step:
    """The worker's whole recomputation in one step (the computation and its rows are one transaction)."""
    campaign = session.get(Campaign, operation.campaign_id)
    actor = session.get(User, operation.requested_by_id) if operation.requested_by_id else None
    try:
        computation = recompute(session, campaign, current_app.config["SECRET_KEY"], actor=actor,
                                trigger=operations.params_of(operation).get("trigger", ""), now=now, commit=False)
    except IndexUnavailable as refused:
        raise OperationError(refused.message) from refused
    operations.set_result(operation, {"computation_id": computation.id})
    return Step(done=1, finished=True)
