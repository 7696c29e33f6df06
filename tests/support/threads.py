"""Racing calls in threads, with every exception and every hung thread reported to the test.

    counts = race(lambda: run_due_reminders(app, own_session()), lambda: ...)

A thread that dies would otherwise only print a traceback (and may leave the totals right), and
a thread that hangs past `join(timeout)` would be forgotten; here both fail the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ThreadFailed(AssertionError):
    pass


def race(*calls: Callable[[], T], timeout: float = 60.0) -> list[T]:
    """Run the calls at once (they start together at a barrier); their results, in the order given.

    Raises ThreadFailed carrying the first exception raised in a thread, or naming the threads
    that had not finished after `timeout` seconds.
    """
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[tuple[int, BaseException]] = []
    lock = threading.Lock()

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the test
            with lock:
                errors.append((index, exc))

    threads = [threading.Thread(target=run, args=(n, call), name=f"race-{n}", daemon=True)
               for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    hung = [thread.name for thread in threads if thread.is_alive()]
    if hung:
        raise ThreadFailed(f"threads still running after {timeout} s: {hung}")
    if errors:
        index, exc = sorted(errors, key=lambda item: item[0])[0]
        raise ThreadFailed(f"thread {index} raised {exc!r}") from exc
    return results  # type: ignore[return-value]
