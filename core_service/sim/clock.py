"""The simulator's clock, a `common.clock.Clock`: in replay mode (`follow_ticks`) the last replayed tick's
time, otherwise (and before the first tick) its `base` clock (the wall clock unless a test injects one).

Order and trade timestamps come from here, so a replay produces the same timestamps on every run, and
a core that shares this clock stamps a replayed day as that day. `monotonic()` is always the base's:
deadlines and intervals run in real time, also while a replay races through a day at full speed.
"""

from __future__ import annotations

import threading
from datetime import datetime

from common.clock import LIVE, Clock
from common.trading_calendar import to_china


class SimClock:
    def __init__(self, follow_ticks: bool, start: datetime | None = None, base: Clock = LIVE) -> None:
        self.follow_ticks = follow_ticks
        self.base = base
        self._lock = threading.Lock()
        self._tick_time: datetime | None = to_china(start) if start else None

    def now(self) -> datetime:
        """Current sim time, tz-aware Asia/Shanghai."""
        if self.follow_ticks:
            with self._lock:
                if self._tick_time is not None:
                    return self._tick_time
        return self.base.now()

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    def monotonic(self) -> float:
        return self.base.monotonic()

    def advance(self, tick_time: datetime) -> None:
        """Record a tick's exchange time (only used in replay mode; a looping replay starts over)."""
        with self._lock:
            self._tick_time = to_china(tick_time)
