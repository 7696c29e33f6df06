"""Background operations in tests: run what a request recorded, as the worker would, to the end."""

from __future__ import annotations

from flask import Flask
from sqlmodel import select

from portal.domain import operations
from portal.extensions import db
from portal.models import Operation


def finish_operations(app: Flask, *, chunk: int = operations.DEFAULT_CHUNK) -> int:
    """Run every queued or running operation to its end (an error in a chunk fails the test); how many ran."""
    with app.app_context(), db.new_session() as session:
        waiting = session.exec(select(Operation.id).where(Operation.state.in_(operations.ACTIVE_STATES))
                               .order_by(Operation.id)).all()
        for operation_id in waiting:
            operations.run_until_done(session, operation_id, worker="tests", chunk=chunk)
    return len(waiting)
