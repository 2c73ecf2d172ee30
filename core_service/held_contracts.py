"""Every contract the account holds stays subscribed, so its price, PnL and close keep working.

After a rollover (au2702 -> au2706) and a restart only the main contract would be subscribed; a
position left in au2702 would have no price, a stale PnL and a close the exchange refuses for want
of market data. Here every position the gateway reports with a volume subscribes its contract (and
publishes its ticks), for as long as the core runs; the rollover keeps a held old contract too
(`is_held`). Runs on vnpy's event thread: `subscribe` must not block.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from vnpy.event import Event, EventEngine
from vnpy.trader.event import EVENT_POSITION
from vnpy.trader.object import PositionData

log = logging.getLogger(__name__)


class HeldContracts:
    def __init__(self, event_engine: EventEngine, subscribe: Callable[[str], None]) -> None:
        self.event_engine = event_engine
        self.subscribe = subscribe
        self._held: dict[tuple[str, str], float] = {}  # (symbol, direction) -> volume
        self._subscribed: set[str] = set()
        self._lock = threading.Lock()
        event_engine.register(EVENT_POSITION, self._on_position)

    def close(self) -> None:
        self.event_engine.unregister(EVENT_POSITION, self._on_position)

    def is_held(self, symbol: str) -> bool:
        with self._lock:
            return any(volume > 0 for (held, _), volume in self._held.items() if held == symbol)

    def _on_position(self, event: Event) -> None:
        position: PositionData = event.data
        with self._lock:
            self._held[(position.symbol, position.direction.name)] = position.volume
            new = position.volume > 0 and position.symbol not in self._subscribed
            if new:
                self._subscribed.add(position.symbol)
        if new:
            log.info("position held in %s: its market data is subscribed", position.symbol)
            self.subscribe(position.symbol)
