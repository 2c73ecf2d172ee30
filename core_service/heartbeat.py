"""The core's heartbeat thread: renews the instance lock's Redis lease, then writes the heartbeat.

Beats every `interval_s`, or at once when woken (a gateway or MySQL state change). The heartbeat key
expires after `ttl_s`, so a dead core disappears from the pages by itself. A lease found taken by
another live core (possible only after Redis was out of reach at start) is reported once, as ERROR.
Each beat then calls `on_beat` (the AI state is written with every heartbeat); they must not block.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import redis

from common.contract import Heartbeat
from common.lifecycle import LoopThread
from core_service.instance_lock import AlreadyRunning, InstanceLock

log = logging.getLogger(__name__)
Report = Callable[[str, str, str], None]  # (kind, message, level)


class HeartbeatThread(LoopThread):
    """`wake()` beats now (safe from any thread, CTP's callback threads too: it never touches Redis)."""

    def __init__(self, client: redis.Redis, key: str, interval_s: float, ttl_s: float,
                 build: Callable[[], Heartbeat], lock: InstanceLock, report: Report) -> None:
        super().__init__("arbig-heartbeat", what="the heartbeat", interval_s=interval_s, wakeable=True,
                         expected_errors=(redis.RedisError,), logger=log)
        self.client = client
        self.key = key
        self.ttl_s = max(1, int(ttl_s))
        self.build = build
        self.lock = lock
        self.report = report
        self._conflict_reported = False
        self.on_beat: list[Callable[[], None]] = []  # called after each beat, on this thread

    def stop(self, timeout: float = 0.0) -> bool:
        """Halt; by default without waiting (a beat may be stuck on a Redis that does not answer)."""
        return super().stop(timeout)

    def step(self) -> None:
        self._renew_lease()
        self._write()
        for listener in self.on_beat:
            try:
                listener()
            except Exception:  # one listener's trouble neither stops the beat nor the others
                log.exception("heartbeat: a beat listener failed")

    def _write(self) -> None:
        with contextlib.suppress(redis.RedisError):  # the publisher reports Redis trouble; the beat expires
            self.client.set(self.key, self.build().to_json(), ex=self.ttl_s)

    def _renew_lease(self) -> None:
        try:
            self.lock.renew()
            self._conflict_reported = False
        except AlreadyRunning as exc:  # another core took the account while Redis was out of our reach
            if not self._conflict_reported:
                self._conflict_reported = True
                self.report("lock", f"second core detected: {exc}. Two cores trade one account: stop one now",
                            "ERROR")
