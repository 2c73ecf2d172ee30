"""A per-client bounded, coalescing outbox: a slow browser never delays the others.

Fan-out only ever calls `put`, which never waits. Messages with a coalesce key (the newest tick
of a symbol, the whole positions list, the status ...) replace the pending one with the same key,
so a slow client gets the latest state, not a backlog. Messages without a key (trades, triggers,
system events) queue up; if the queue still overflows, everything pending is dropped and the
client is told to re-subscribe (fresh snapshots) rather than silently miss something.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict

from web_service.ws_messages import RESYNC_TEXT


class Outbox:
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._pending: OrderedDict[str, str] = OrderedDict()
        self._ready = asyncio.Event()
        self._seq = itertools.count()
        self.dropped = 0
        self.coalesced = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, text: str, key: str | None = None) -> None:
        """Queue `text` (already-serialised JSON); never blocks."""
        if self.closed:
            return
        if key is not None and key in self._pending:
            self._pending[key] = text
            self.coalesced += 1
            return
        if len(self._pending) >= self.maxsize:
            self.dropped += len(self._pending)
            self._pending.clear()
            self._pending["#resync"] = RESYNC_TEXT
        self._pending[key if key is not None else f"#{next(self._seq)}"] = text
        if not self._ready.is_set():
            self._ready.set()

    async def get(self) -> str:
        """The oldest pending message; raises ConnectionError once the outbox is closed."""
        while not self._pending:
            if self.closed:
                raise ConnectionError("outbox closed")
            self._ready.clear()
            await self._ready.wait()
        return self._pending.popitem(last=False)[1]

    def close(self) -> None:
        self.closed = True
        self._pending.clear()
        self._ready.set()
