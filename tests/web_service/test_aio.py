"""cancel_and_wait: a task that loses the first cancel (as a redis-py read under a timeout can) is
still stopped; one that never yields to a cancel is reported, not waited for forever."""

from __future__ import annotations

import asyncio
import time

from web_service.aio import cancel_and_wait


async def _swallows_first_cancel() -> None:
    swallowed = False
    while True:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True  # the lost cancel: the loop goes on as if nothing happened


async def _never_stops(stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.shield(asyncio.sleep(0.05))
        except asyncio.CancelledError:
            continue


def test_a_lost_cancel_is_repeated_until_the_task_ends() -> None:
    async def scenario() -> tuple[set, bool]:
        task = asyncio.create_task(_swallows_first_cancel())
        await asyncio.sleep(0.01)
        stuck = await cancel_and_wait([task], timeout_s=2.0)
        return stuck, task.cancelled()

    stuck, cancelled = asyncio.run(scenario())
    assert stuck == set() and cancelled


def test_a_task_that_ignores_cancels_is_returned_after_the_timeout() -> None:
    async def scenario() -> tuple[int, float]:
        stop = asyncio.Event()
        task = asyncio.create_task(_never_stops(stop))
        await asyncio.sleep(0.01)  # running (a task cancelled before its first step just ends)
        started = time.monotonic()
        stuck = await cancel_and_wait([task], timeout_s=0.5)
        took = time.monotonic() - started
        stop.set()
        await asyncio.wait({task})
        return len(stuck), took

    stuck, took = asyncio.run(scenario())
    assert stuck == 1 and 0.45 <= took < 1.5
