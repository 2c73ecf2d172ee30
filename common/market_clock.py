"""The market's clock: the newest tick's exchange time (the replayed file's time in a replay, the
exchange's live), which is what trades, signals and equity points are stamped with, so a replayed day
is recorded as that day.

Live (`runs_on`) the clock runs on with the wall clock (monotonic) between ticks; in a replay it stands
still between ticks. `now()` is None before the first tick: callers fall back to the wall clock. Each
reader keeps its own instance, advanced on its own thread in the order it sees ticks (vnpy's event
thread for the strategies, the recorder's dispatcher for the equity curve). Ticks never move it back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from common.trading_calendar import to_china


class MarketClock:
    """The market's time: the newest tick's exchange time; live it runs on with the wall clock."""

    def __init__(self, runs_on: bool, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.runs_on = runs_on
        self._monotonic = monotonic
        self._latest: datetime | None = None
        self._seen_at = 0.0

    def on_tick(self, at: datetime) -> None:
        at = to_china(at)
        if self._latest is None or at >= self._latest:
            self._latest = at
            self._seen_at = self._monotonic()

    def latest_tick(self) -> datetime | None:
        return self._latest

    def now(self) -> datetime | None:
        """None before the first tick."""
        if self._latest is None:
            return None
        if not self.runs_on:
            return self._latest
        return self._latest + timedelta(seconds=max(0.0, self._monotonic() - self._seen_at))
