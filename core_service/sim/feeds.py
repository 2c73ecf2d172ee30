"""The threads that produce ticks: a random walk for every subscribed symbol, or a CSV replay.

Both hand each tick to `deliver` (the gateway: matching, then lockstep). Neither ever raises: an
error is logged and the loop goes on. Both stop within ~50 ms of `stop` being set. The random walk
is quiet outside the trading sessions when the gateway asks for it (`sessions` = shfe); a replay
replays its file as it is.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from vnpy.trader.object import TickData

from common.clock import LIVE, Clock
from common.lifecycle import LoopThread

from .market import RandomWalk
from .replay import read_ticks

Deliver = Callable[[TickData], None]
Log = Callable[[str], None]
POLL_S = 0.05


class RandomFeed(LoopThread):
    """One tick per symbol per interval for the subscribed symbols while `trading(now())` (default:
    always; `now` the market's clock, default `clock`'s); checks the trading day meanwhile. Rounds
    keep to a fixed rate on `clock`'s monotonic time; one that falls behind is not caught up."""

    def __init__(self, walks: dict[str, RandomWalk], subscribed: Callable[[], list[str]], interval_s: float,
                 deliver: Deliver, idle: Callable[[datetime], None], stop: threading.Event, log: Log,
                 trading: Callable[[datetime], bool] | None = None,
                 now: Callable[[], datetime] | None = None, clock: Clock = LIVE) -> None:
        super().__init__("sim-random-feed", what="the random feed", interval_s=interval_s, first_wait_s=0.0,
                         halt=stop)
        self.walks = walks
        self.subscribed = subscribed
        self.interval_s = interval_s
        self.deliver = deliver
        self.idle = idle
        self.log = log
        self.trading = trading
        self.clock = clock
        self.now = now or clock.now
        self._next_at: float | None = None

    def step(self) -> float:
        if self._next_at is None:
            self._next_at = self.clock.monotonic()
        self._round()
        self._next_at += self.interval_s
        delay = self._next_at - self.clock.monotonic()
        if delay < 0:  # fell behind (slow handlers): do not burst to catch up
            self._next_at, delay = self.clock.monotonic(), 0.0
        return delay

    def _round(self) -> None:
        try:
            now = self.now()
            self.idle(now)
            if self.trading is not None and not self.trading(now):
                return
            for symbol in self.subscribed():
                if self.halted.is_set():
                    return
                self.deliver(self.walks[symbol].next_tick(now, self.clock.now()))
        except Exception:  # never let the feed thread die
            self.log(f"sim random feed error (continuing): {traceback.format_exc(limit=5)}")


class ReplayFeed(LoopThread):
    """Replays one instrument of a CTP CSV, pacing real-time gaps / speed (speed 0: no waiting); a
    round is one pass over the file. `clock` stamps each tick's local (arrival) time."""

    def __init__(self, path: Path, symbol: str, speed: float, loop: bool, gateway_name: str,
                 is_subscribed: Callable[[str], bool], deliver: Deliver, stop: threading.Event,
                 done: threading.Event, log: Log, clock: Clock = LIVE) -> None:
        super().__init__("sim-replay-feed", what="the replay", halt=stop)
        self.path = path
        self.symbol = symbol
        self.speed = speed
        self.loop = loop
        self.gateway_name = gateway_name
        self.is_subscribed = is_subscribed
        self.deliver = deliver
        self.done = done
        self.log = log
        self.clock = clock
        self.passes = 0

    def step(self) -> None:
        try:
            count = self._one_pass()
        except Exception:  # a replay that breaks ends (it is not tried again)
            self.log(f"replay stopped by an error: {traceback.format_exc(limit=5)}")
            self.end_loop()
            return
        self.passes += 1
        if self.halted.is_set():
            return
        if not self.loop:
            self.log(f"replay finished: {count} ticks of {self.symbol} from {self.path}")
            self.done.set()
            self.end_loop()
            return
        self.log(f"replay pass {self.passes} done ({count} ticks); looping from the start")

    def _wait_subscribed(self) -> bool:
        while not self.is_subscribed(self.symbol):
            if self.pause(POLL_S):
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
                if gap > 0 and self.pause(gap):
                    return count
            if self.halted.is_set():
                return count
            previous = tick.datetime
            tick.localtime = self.clock.now()
            self.deliver(tick)
            count += 1
        return count
