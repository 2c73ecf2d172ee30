"""The read model's share of risk events and execution reports: live pushes to the pages, and what the web has
seen of each recent risk event.

Events "risk_event" and "risk_update" go to the topic "risk", "execution" to the topic "executions",
never with a coalesce key: like trades, each one is delivered, or the client's outbox overflows and it
re-subscribes (fresh snapshots), never a silent drop. A risk update carries only what changed (cleared
or acknowledged), so two updates of one event must not replace each other either.

The feed also remembers recent events and acknowledgements by uid: the core pushes an event before its
writer has stored the row, and an acknowledgement before the row says so, so the ack endpoint asks here
too (a fresh event is known, a second click is refused at once). Locks serialise acks of one uid.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from common.contract import ExecutionReport, RiskEvent, RiskEventUpdate
from web_service.risk_shapes import execution_row, risk_row, risk_update_row

REMEMBER_MAX = 5000
RISK_TOPIC = "risk"
EXECUTIONS_TOPIC = "executions"
FEED_EVENTS = frozenset({"risk_event", "risk_update", "execution"})

Broadcast = Callable[[str, Any], object]  # (topic, row): the read model hands it to the hub


class RiskFeed:
    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast
        # uid -> (acknowledged_by, acknowledged_ms); acknowledged_ms None: seen, not acknowledged yet
        self._seen: OrderedDict[str, tuple[str, int | None]] = OrderedDict()
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # uid -> (lock, [users])

    def apply(self, kind: str, data: dict[str, Any]) -> bool:
        """Forward one event of the core's stream; False when `kind` is not the feed's. Raises
        pydantic's ValidationError for a malformed one (the hub logs and skips it)."""
        if kind == "risk_event":
            event = RiskEvent.model_validate(data)
            if event.uid not in self._seen or event.acknowledged_ms is not None:
                self._remember(event.uid, event.acknowledged_by, event.acknowledged_ms)
            self._broadcast(RISK_TOPIC, risk_row(event))
        elif kind == "risk_update":
            update = RiskEventUpdate.model_validate(data)
            if update.acknowledged_ms is not None:
                self._remember(update.uid, update.acknowledged_by, update.acknowledged_ms)
            elif update.uid not in self._seen:
                self._remember(update.uid, "", None)
            self._broadcast(RISK_TOPIC, risk_update_row(update))
        elif kind == "execution":
            self._broadcast(EXECUTIONS_TOPIC, execution_row(ExecutionReport.model_validate(data)))
        else:
            return False
        return True

    def _remember(self, uid: str, by: str, at_ms: int | None) -> None:
        known = self._seen.get(uid)
        if known is not None and known[1] is not None and at_ms is None:
            return  # an acknowledgement is never forgotten by a later sighting
        self._seen[uid] = (by, at_ms)
        self._seen.move_to_end(uid)
        while len(self._seen) > REMEMBER_MAX:
            self._seen.popitem(last=False)

    def note_acknowledged(self, uid: str, by: str, at_ms: int) -> None:
        """The core answered `done` to an ack sent from here (before its push or its row may say so)."""
        self._remember(uid, by, at_ms)

    def seen(self, uid: str) -> tuple[str, int | None] | None:
        """(acknowledged_by, acknowledged_ms) of a risk event seen live or acknowledged from here, else None."""
        return self._seen.get(uid)

    @contextlib.asynccontextmanager
    async def ack_lock(self, uid: str) -> AsyncIterator[None]:
        """Held while one ack of `uid` is checked and sent: a second waits, then finds it acknowledged."""
        entry = self._locks.setdefault(uid, (asyncio.Lock(), [0]))
        entry[1][0] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1][0] -= 1
            if not entry[1][0]:
                del self._locks[uid]
