"""The market's clock: the newest tick's exchange time (the replayed file's time in a replay, the
exchange's live), which is what trades, signals and equity points are stamped with, so a replayed day
is recorded as that day.

Live (`runs_on`) the clock runs on between ticks by the monotonic time of its `clock` (a
`common.clock.Clock`, the wall clock unless injected); in a replay it stands still between ticks.
`now()` is None before the first tick: callers fall back to `now_or_base()`, which is the injected
clock's time then. Each reader keeps its own instance, advanced on its own thread in the order it sees
ticks (vnpy's event thread for the strategies, the recorder's dispatcher for the equity curve). Ticks
never move it back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from common.clock import LIVE, Clock
from common.trading_calendar import to_china


class MarketClock:
    """The market's time: the newest tick's exchange time; live it runs on with `clock`'s monotonic."""

    def __init__(self, runs_on: bool, clock: Clock = LIVE) -> None:
        self.runs_on = runs_on
        self.base = clock
        self._latest: datetime | None = None
        self._seen_at = 0.0

    def on_tick(self, at: datetime) -> None:
        at = to_china(at)
        if self._latest is None or at >= self._latest:
            self._latest = at
            self._seen_at = self.base.monotonic()

    def latest_tick(self) -> datetime | None:
        return self._latest

    def now(self) -> datetime | None:
        """None before the first tick."""
        if self._latest is None:
            return None
        if not self.runs_on:
            return self._latest
        return self._latest + timedelta(seconds=max(0.0, self.base.monotonic() - self._seen_at))

    def now_or_base(self) -> datetime:
        """The market's time, or the injected clock's before the first tick."""
        return self.now() or self.base.now()
