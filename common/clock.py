"""The one place ARBIG reads time. Everything else takes a `Clock` (built once in the composition root
and passed in) or, where no component is at hand (a message's default timestamp), calls `now_ms()`.

- `LiveClock`: the wall clock (China time) and the process's monotonic clock.
- `TestClock`: set and advanced by a test (`advance(seconds)`), for pure logic without sleeping.
- The simulator's `SimClock` (core_service/sim/clock.py) and the market's `MarketClock`
  (common/market_clock.py) are the two clocks that follow ticks; both fall back to a `Clock`.

`now()` is timezone-aware (Asia/Shanghai); `monotonic()` is for deadlines and intervals only.
A ruff rule (banned-api in pyproject.toml) refuses `time.time`, `time.monotonic`, `datetime.now`
and `date.today` outside this module.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from common.trading_calendar import CHINA_TZ, to_china


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (China time)."""
        ...

    def now_ms(self) -> int:
        """The current time in epoch milliseconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines, intervals)."""
        ...


class LiveClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(CHINA_TZ)

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def monotonic(self) -> float:
        return time.monotonic()


class TestClock:
    """A clock that moves only when told to: `set(at)` or `advance(seconds)` (both move monotonic too)."""

    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._now = to_china(start)
        self._mono = 1000.0

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds
            return self._now

    def set(self, at: datetime) -> None:
        at = to_china(at)
        with self._lock:
            if at < self._now:
                raise ValueError(f"a clock does not go back ({at} < {self._now})")
            self._mono += (at - self._now).total_seconds()
            self._now = at


LIVE = LiveClock()


def now_ms() -> int:
    """Wall-clock epoch ms, for message defaults where no component (and so no clock) is at hand."""
    return LIVE.now_ms()
