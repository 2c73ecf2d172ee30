"""The simulator's clock: the wall clock in random-walk mode, the last replayed tick's time in replay mode.

Order and trade timestamps come from here, so a replay produces the same timestamps on every run.
"""

from __future__ import annotations

import threading
from datetime import datetime

from common.trading_calendar import CHINA_TZ, to_china


class SimClock:
    def __init__(self, follow_ticks: bool, start: datetime | None = None) -> None:
        self.follow_ticks = follow_ticks
        self._lock = threading.Lock()
        self._tick_time: datetime | None = to_china(start) if start else None

    def now(self) -> datetime:
        """Current sim time, tz-aware Asia/Shanghai."""
        if self.follow_ticks:
            with self._lock:
                if self._tick_time is not None:
                    return self._tick_time
        return datetime.now(CHINA_TZ)

    def advance(self, tick_time: datetime) -> None:
        """Record a tick's exchange time (only used in replay mode)."""
        with self._lock:
            self._tick_time = to_china(tick_time)
