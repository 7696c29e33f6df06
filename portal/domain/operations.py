"""Background operations: work that grows with a list, recorded by a request and run by the worker in chunks.

A request that would otherwise create 20,000 invitations (a launch) or queue
20,000 reminders ("Đôn đốc tất cả") records an Operation instead and returns;
the worker (portal/jobs.py) runs it chunk by chunk while a page follows its
counter. Each chunk is one transaction holding its work AND the counter, so the
counter never runs ahead of what is stored, and a worker killed between two
chunks leaves an operation that the next worker simply continues.

Who runs an operation is decided by a lease, as in the outbox: a worker claims
it with a conditional UPDATE (queued, or running with an expired lease) and
renews the lease with the first statement of every chunk, a conditional UPDATE
naming itself. A worker that lost the lease (paused longer than the lease, then
woke up) finds that UPDATE changing nothing and stops before doing any work;
on PostgreSQL the row lock that UPDATE takes also keeps a taker-over waiting
until the chunk in progress has committed. The chunks themselves are idempotent
("people not yet invited", "not reminded since the day began"), so even work
repeated by mistake would do nothing twice.

Each kind is one function `step(session, operation, chunk, now) -> Step` that
does one chunk without committing (portal/domain/invitations.py: launch; portal/domain/reminders.py: remind).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, select

from portal.models import Operation, OperationState, User, utcnow

log = logging.getLogger(__name__)

# A chunk takes about a second (500 invitations); the lease leaves room for a slow one.
LEASE = timedelta(seconds=120)
DEFAULT_CHUNK = 500
# Unexpected failures of a chunk (a lost connection...) are retried this many times, then the operation stops.
MAX_ATTEMPTS = 3
ACTIVE_STATES = (OperationState.QUEUED.value, OperationState.RUNNING.value)


class OperationError(Exception):
    """A reason the operation cannot go on, in Vietnamese, shown on its page (the operation is failed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Step:
    """What one chunk did: how many items it handled, and whether the operation is over."""

    done: int
    finished: bool = False


StepFunction = Callable[[Session, Operation, int, datetime], Step]


def _steps() -> dict[str, StepFunction]:
    from portal.domain import index_recompute, invitations, reminders

    return {"launch": invitations.launch_step, "remind": reminders.remind_step, "index": index_recompute.index_step}


def create(
    session: Session, *, kind: str, campaign_id: int, requested_by: User | None, params: dict[str, Any],
    total: int, province_id: int | None = None, now: datetime | None = None,
) -> Operation:
    """Record an operation for the worker (flushed, not committed: the caller commits it with its decision)."""
    now = now or utcnow()
    operation = Operation(kind=kind, campaign_id=campaign_id, province_id=province_id,
                          requested_by_id=requested_by.id if requested_by else None,
                          params=json.dumps(params, ensure_ascii=False), total=total, created_at=now, updated_at=now)
    session.add(operation)
    session.flush()
    return operation


def params_of(operation: Operation) -> dict[str, Any]:
    return json.loads(operation.params or "{}")


def result_of(operation: Operation) -> dict[str, Any]:
    return json.loads(operation.result or "{}")


def set_result(operation: Operation, result: dict[str, Any]) -> None:
    operation.result = json.dumps(result, ensure_ascii=False)


def is_over(operation: Operation) -> bool:
    return operation.state in (OperationState.DONE.value, OperationState.FAILED.value)


def _claimable(now: datetime):
    return or_(Operation.state == OperationState.QUEUED.value,
               and_(Operation.state == OperationState.RUNNING.value,
                    or_(Operation.lease_until.is_(None), Operation.lease_until < now)))


def claim(session: Session, operation_id: int, worker: str, *, now: datetime | None = None) -> bool:
    """Take the operation for `worker` if it is waiting, its lease has expired, or `worker` holds it already
    (the lease is renewed); commits. False: not taken."""
    now = now or utcnow()
    mine = and_(Operation.state == OperationState.RUNNING.value, Operation.claimed_by == worker)
    taken = session.exec(update(Operation).where(Operation.id == operation_id, or_(_claimable(now), mine))
                         .values(state=OperationState.RUNNING.value, claimed_by=worker, lease_until=now + LEASE,
                                 started_at=func.coalesce(Operation.started_at, now), updated_at=now)
                         .execution_options(synchronize_session=False))
    session.commit()
    return taken.rowcount == 1


def claim_next(session: Session, worker: str, *, now: datetime | None = None) -> int | None:
    """The id of the oldest operation `worker` could take, taken; None when there is none."""
    now = now or utcnow()
    for operation_id in session.exec(select(Operation.id).where(_claimable(now)).order_by(Operation.id)
                                     .limit(5)).all():  # read to the end first: each claim commits
        if claim(session, operation_id, worker, now=now):
            return operation_id
    session.rollback()  # end the read's transaction: a worker idles without holding a snapshot
    return None


MORE, DONE, LOST, FAILED = "more", "done", "lost", "failed"


def run_step(session: Session, operation_id: int, worker: str, *, chunk: int = DEFAULT_CHUNK,
             now: datetime | None = None) -> str:
    """Run one chunk of an operation `worker` holds: MORE, DONE, LOST (the lease went to another) or FAILED.

    The chunk's work, the counter and the renewed lease are one transaction. An OperationError fails the
    operation with its message; any other exception is recorded, the operation goes back to the queue
    (failed after MAX_ATTEMPTS) and the exception is raised again for the caller to log.
    """
    now = now or utcnow()
    # First statement of the chunk: renew the lease, only if it is still ours (and lock the row on PostgreSQL).
    renewed = session.exec(update(Operation)
                           .where(Operation.id == operation_id, Operation.claimed_by == worker,
                                  Operation.state == OperationState.RUNNING.value)
                           .values(lease_until=now + LEASE, updated_at=now)
                           .execution_options(synchronize_session=False))
    if renewed.rowcount != 1:
        session.rollback()
        return LOST
    operation = session.get(Operation, operation_id, populate_existing=True)
    try:
        step = _steps()[operation.kind](session, operation, chunk, now)
    except OperationError as problem:
        session.rollback()
        _stop(session, operation_id, worker, state=OperationState.FAILED.value, error=problem.message, now=now)
        return FAILED
    except Exception as problem:
        session.rollback()
        operation = session.get(Operation, operation_id, populate_existing=True)
        gave_up = operation.attempts + 1 >= MAX_ATTEMPTS
        _stop(session, operation_id, worker, error=f"{type(problem).__name__}: {problem}"[:2000], now=now,
              state=OperationState.FAILED.value if gave_up else OperationState.QUEUED.value, attempt=True)
        raise
    operation.done += step.done
    operation.updated_at = now
    if step.finished:
        operation.state = OperationState.DONE.value
        operation.finished_at = now
        operation.lease_until = None
    session.add(operation)
    session.commit()
    return DONE if step.finished else MORE


def _stop(session: Session, operation_id: int, worker: str, *, state: str, error: str = "", now: datetime,
          attempt: bool = False) -> None:
    values: dict[str, Any] = {"state": state, "lease_until": None, "claimed_by": "", "updated_at": now}
    if error:
        values["last_error"] = error
    if attempt:
        values["attempts"] = Operation.attempts + 1
    if state == OperationState.FAILED.value:
        values["finished_at"] = now
    session.exec(update(Operation).where(Operation.id == operation_id, Operation.claimed_by == worker)
                 .values(**values).execution_options(synchronize_session=False))
    session.commit()


def release(session: Session, operation_id: int, worker: str, *, now: datetime | None = None) -> None:
    """Give a running operation back to the queue (the worker is stopping): another worker goes on at once."""
    session.exec(update(Operation).where(Operation.id == operation_id, Operation.claimed_by == worker,
                                         Operation.state == OperationState.RUNNING.value)
                 .values(state=OperationState.QUEUED.value, claimed_by="", lease_until=None,
                         updated_at=now or utcnow())
                 .execution_options(synchronize_session=False))
    session.commit()


def run_pending(session: Session, worker: str, *, chunk: int = DEFAULT_CHUNK,
                stop: threading.Event | None = None) -> int:
    """Run every operation that can be taken, each to its end; returns how many chunks ran. For the worker.

    Stopping (SIGTERM) is honoured between chunks: the operation in hand goes back to the queue.
    A chunk that raised is logged and its operation left to a later pass.
    """
    chunks = 0
    tried: set[int] = set()
    while stop is None or not stop.is_set():
        operation_id = claim_next(session, worker)
        if operation_id is None or operation_id in tried:
            if operation_id is not None:
                release(session, operation_id, worker)
            break
        tried.add(operation_id)
        while True:
            if stop is not None and stop.is_set():
                release(session, operation_id, worker)
                return chunks
            try:
                outcome = run_step(session, operation_id, worker, chunk=chunk)
            except Exception:  # noqa: BLE001 - recorded on the operation; the next pass tries again
                log.exception("operation %s: a chunk failed", operation_id)
                break
            chunks += 1
            if outcome != MORE:
                break
    return chunks


def run_until_done(session: Session, operation_id: int, *, worker: str = "inline", chunk: int = DEFAULT_CHUNK,
                   now: datetime | None = None) -> Operation:
    """Run the operation to its end in this process (tests, the demo, `flask portal` commands).

    `now` (default: the clock at each chunk) is the moment of the claim and of the work: a test
    resuming after a crash passes a moment after the dead worker's lease. Raises OperationError when
    the operation is held by another live worker, or fails.
    """
    operation = session.get(Operation, operation_id, populate_existing=True)
    if not is_over(operation) and not claim(session, operation_id, worker, now=now):
        raise OperationError("Thao tác đang được một tiến trình khác thực hiện.")
    while True:
        outcome = run_step(session, operation_id, worker, chunk=chunk, now=now)
        if outcome == MORE:
            continue
        operation = session.get(Operation, operation_id, populate_existing=True)
        if outcome == FAILED or operation.state == OperationState.FAILED.value:
            raise OperationError(operation.last_error)
        if outcome == LOST:
            if is_over(operation):
                return operation
            raise OperationError("Thao tác đã được một tiến trình khác tiếp nhận.")
        return operation


def active(session: Session, kind: str, campaign_id: int, *, province_id: int | None = None) -> list[Operation]:
    """Operations of this kind not over yet (queued or running), oldest first."""
    query = select(Operation).where(Operation.kind == kind, Operation.campaign_id == campaign_id,
                                    Operation.state.in_(ACTIVE_STATES))
    if province_id is not None:
        query = query.where(Operation.province_id == province_id)
    return list(session.exec(query.order_by(Operation.id)))


def recent(session: Session, kind: str, campaign_id: int, *, limit: int = 5) -> list[Operation]:
    """The latest operations of this kind, newest first (for a page that lists them)."""
    return list(session.exec(select(Operation).where(Operation.kind == kind, Operation.campaign_id == campaign_id)
                             .order_by(Operation.id.desc()).limit(limit)))


def retry(session: Session, actor: User, operation: Operation, *, now: datetime | None = None) -> bool:
    """Put a failed operation back in the queue (after its cause was fixed); False when it was not failed.

    Raises PastCampaign for an operation of a campaign that is no longer the current one: it stays as it was.
    """
    from portal.domain import audit
    from portal.domain.campaigns import require_current

    require_current(session, operation.campaign_id)
    now = now or utcnow()
    again = session.exec(update(Operation).where(Operation.id == operation.id,
                                                 Operation.state == OperationState.FAILED.value)
                         .values(state=OperationState.QUEUED.value, attempts=0, finished_at=None, updated_at=now)
                         .execution_options(synchronize_session=False))
    if again.rowcount != 1:
        session.rollback()
        return False
    audit.record(session, actor, "Chạy lại thao tác", province_id=operation.province_id,
                 detail=f"thao tác số {operation.id} ({operation.kind}): {operation.last_error}"[:500])
    session.commit()
    return True


def fingerprint(operation: Operation) -> str:
    """What a poll compares: it changes with every chunk, and when the operation ends or fails."""
    return f"{operation.id}.{operation.state}.{operation.done}.{operation.total}.{operation.attempts}"
