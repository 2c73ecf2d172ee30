"""Stopping asyncio tasks for sure, within a time limit.

A single `task.cancel()` can be lost: redis-py reads under a timeout context, and a cancel that
lands as that timeout expires comes out as a TimeoutError, which a retrying loop swallows (the
web service then hung at shutdown). So cancel again until the tasks are done or time is up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

RECANCEL_EVERY_S = 0.2


async def cancel_and_wait(tasks: Iterable[asyncio.Task[None]], timeout_s: float) -> set[asyncio.Task[None]]:
    """Cancel the tasks (repeatedly) and wait for them; returns those still running after timeout_s."""
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()  # the event loop's own monotonic clock times the wait
    deadline = loop.time() + timeout_s
    while pending:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_EVERY_S, remaining))
    return pending
