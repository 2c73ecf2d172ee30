"""The threads that produce ticks: a random walk for every subscribed symbol, or a CSV replay.

Both hand each tick to `deliver` (the gateway: matching, then lockstep). Neither ever raises: an
error is logged and the loop goes on. Both stop within ~50 ms of `stop` being set. The random walk
is quiet outside the trading sessions when the gateway asks for it (`sessions` = shfe); a replay
replays its file as it is.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from vnpy.trader.object import TickData

from common.trading_calendar import CHINA_TZ

from .market import RandomWalk
from .replay import read_ticks

Deliver = Callable[[TickData], None]
Log = Callable[[str], None]
POLL_S = 0.05


class RandomFeed(threading.Thread):
    """One tick per symbol per interval for the subscribed symbols while `trading(now())` (default:
    always; `now` the wall clock); checks the trading day meanwhile."""

    def __init__(self, walks: dict[str, RandomWalk], subscribed: Callable[[], list[str]], interval_s: float,
                 deliver: Deliver, idle: Callable[[datetime], None], stop: threading.Event, log: Log,
                 trading: Callable[[datetime], bool] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(CHINA_TZ)) -> None:
        super().__init__(name="sim-random-feed", daemon=True)
        self.walks = walks
        self.subscribed = subscribed
        self.interval_s = interval_s
        self.deliver = deliver
        self.idle = idle
        self.stop = stop
        self.log = log
        self.trading = trading
        self.now = now

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stop.is_set():
            self._round()
            next_at += self.interval_s
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind (slow handlers): do not burst to catch up
                next_at, delay = time.monotonic(), 0.0
            self.stop.wait(delay)

    def _round(self) -> None:
        try:
            now = self.now()
            self.idle(now)
            if self.trading is not None and not self.trading(now):
                return
            for symbol in self.subscribed():
                if self.stop.is_set():
                    return
                self.deliver(self.walks[symbol].next_tick(now, datetime.now()))
        except Exception:  # never let the feed thread die
            self.log(f"sim random feed error (continuing): {traceback.format_exc(limit=5)}")


class ReplayFeed(threading.Thread):
    """Replays one instrument of a CTP CSV, pacing real-time gaps / speed (speed 0: no waiting)."""

    def __init__(self, path: Path, symbol: str, speed: float, loop: bool, gateway_name: str,
                 is_subscribed: Callable[[str], bool], deliver: Deliver, stop: threading.Event,
                 done: threading.Event, log: Log) -> None:
        super().__init__(name="sim-replay-feed", daemon=True)
        self.path = path
        self.symbol = symbol
        self.speed = speed
        self.loop = loop
        self.gateway_name = gateway_name
        self.is_subscribed = is_subscribed
        self.deliver = deliver
        self.stop = stop
        self.done = done
        self.log = log

    def run(self) -> None:
        try:
            passes = 0
            while not self.stop.is_set():
                count = self._one_pass()
                passes += 1
                if self.stop.is_set():
                    return
                if not self.loop:
                    self.log(f"replay finished: {count} ticks of {self.symbol} from {self.path}")
                    self.done.set()
                    return
                self.log(f"replay pass {passes} done ({count} ticks); looping from the start")
        except Exception:
            self.log(f"replay stopped by an error: {traceback.format_exc(limit=5)}")

    def _wait_subscribed(self) -> bool:
        while not self.is_subscribed(self.symbol):
            if self.stop.wait(POLL_S):
                return False
        return True

    def _one_pass(self) -> int:
        count, previous = 0, None
        for line, tick, error in read_ticks(self.path, self.gateway_name):
            if tick is None:
                self.log(f"replay {self.path.name} line {line} skipped: {error}")
                continue
            if tick.symbol != self.symbol:
                continue
            if not self._wait_subscribed():
                return count
            if previous is not None and self.speed > 0:
                gap = (tick.datetime - previous).total_seconds() / self.speed
                if gap > 0 and self.stop.wait(gap):
                    return count
            if self.stop.is_set():
                return count
            previous = tick.datetime
            tick.localtime = datetime.now()
            self.deliver(tick)
            count += 1
        return count
