"""Lockstep with vnpy's event engine, so a replay gives the same orders and trades on every run.

After the gateway emits a tick it calls `sync()`: a private barrier event goes into the event queue
and the feed waits until the event thread has handled it, i.e. every handler of the tick (strategies
and the orders they sent) has run. If the gateway emitted more events meanwhile (orders, trades a
strategy caused), it waits for another barrier behind those, until nothing new was emitted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from vnpy.event import Event, EventEngine

from common.clock import LIVE, Clock

MAX_ROUNDS = 100
WAIT_SLICE_S = 0.05


class Lockstep:
    def __init__(self, event_engine: EventEngine, event_type: str, emitted: Callable[[], int],
                 stop: threading.Event, log: Callable[[str], None], timeout_s: float = 30.0,
                 clock: Clock = LIVE) -> None:
        self.event_engine = event_engine
        self.event_type = event_type
        self._emitted = emitted
        self._stop = stop
        self._log = log
        self._timeout_s = timeout_s
        self._clock = clock
        self._cond = threading.Condition()
        self._sent = 0
        self._handled = 0

    def start(self) -> None:
        self.event_engine.register(self.event_type, self._on_barrier)

    def close(self) -> None:
        self.event_engine.unregister(self.event_type, self._on_barrier)
        with self._cond:
            self._cond.notify_all()

    def _on_barrier(self, event: Event) -> None:
        with self._cond:
            if isinstance(event.data, int) and event.data > self._handled:
                self._handled = event.data
            self._cond.notify_all()

    def sync(self) -> None:
        """Return once the event engine has handled everything the gateway emitted so far."""
        for _ in range(MAX_ROUNDS):
            before = self._emitted()
            if not self._barrier():
                return
            if self._emitted() == before:
                return
        self._log(f"lockstep: handlers still emitting after {MAX_ROUNDS} rounds; replay moves on")

    def _barrier(self) -> bool:
        with self._cond:
            self._sent += 1
            seq = self._sent
        self.event_engine.put(Event(self.event_type, seq))
        deadline = self._clock.monotonic() + self._timeout_s
        with self._cond:
            while self._handled < seq:
                if self._stop.is_set():
                    return False
                if self._clock.monotonic() > deadline:
                    self._log(f"lockstep: event engine did not answer within {self._timeout_s:.0f} s; replay moves on")
                    return False
                self._cond.wait(WAIT_SLICE_S)
        return True
