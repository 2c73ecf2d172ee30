"""One XREAD BLOCK loop per Redis stream, handing every entry to a callback.

The hub runs exactly one reader per tick stream and one for the events stream, however many
browsers are connected. A reader starts at `$` (only new entries), then follows the last id it
saw; on a Redis error (refused, or no answer within the socket timeout) it waits and resumes from
that id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from web_service.aio import cancel_and_wait
from web_service.dependency_errors import REDIS_BLOCK_S

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str]]
Handler = Callable[[list[Entry]], Awaitable[None]]

BLOCK_MS = int(REDIS_BLOCK_S * 1000)  # shorter than the client's socket timeout: a hung Redis is a TimeoutError
BATCH = 500
RETRY_S = 1.0
STOP_WAIT_S = 2.0


class StreamReader:
    def __init__(self, client: aioredis.Redis, stream: str, handler: Handler, name: str) -> None:
        self._redis = client
        self.stream = stream
        self._handler = handler
        self.name = name
        self.last_id = "$"
        self.entries_read = 0
        self.errors = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._orphans: set[asyncio.Task[None]] = set()  # stops that outlived STOP_WAIT_S (kept referenced)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._closing = False
            self._task = asyncio.create_task(self._run(), name=f"reader:{self.name}")

    async def stop(self) -> None:
        """Cancel the reader and wait for it, but not forever (see web_service.aio). A read still
        hanging after STOP_WAIT_S ends when the Redis client closes; the loop then returns."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        if await cancel_and_wait([task], STOP_WAIT_S):
            log.warning("stream reader %s: still in a Redis read %.0fs after cancel; it ends when the client "
                        "closes", self.name, STOP_WAIT_S)
            self._orphans.add(task)
            task.add_done_callback(self._orphans.discard)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _read_once(self) -> None:
        if self.last_id == "$":
            # Start where `$` would, but as a concrete id, so entries written between two
            # XREAD calls are never skipped.
            last = await self._redis.xrevrange(self.stream, count=1)
            self.last_id = last[0][0] if last else "0-0"
        reply = await self._redis.xread({self.stream: self.last_id}, count=BATCH, block=BLOCK_MS)
        if not reply:
            return
        entries: list[Entry] = reply[0][1]
        self.last_id = entries[-1][0]
        self.entries_read += len(entries)
        await self._handler(entries)

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._read_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closing:
                    return
                self.errors += 1
                if self.errors == 1 or self.errors % 60 == 0:
                    log.warning("stream reader %s: %s: %s (retrying)", self.name, type(exc).__name__, exc)
                await asyncio.sleep(RETRY_S)
