"""The core's heartbeat thread: renews the instance lock's Redis lease, then writes the heartbeat.

Beats every `interval_s`, or at once when woken (a gateway or MySQL state change). The heartbeat key
expires after `ttl_s`, so a dead core disappears from the pages by itself. A lease found taken by
another live core (possible only after Redis was out of reach at start) is reported once, as ERROR.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import redis

from common.contract import Heartbeat
from core_service.instance_lock import AlreadyRunning, InstanceLock

Report = Callable[[str, str, str], None]  # (kind, message, level)


class HeartbeatThread(threading.Thread):
    def __init__(self, client: redis.Redis, key: str, interval_s: float, ttl_s: float,
                 build: Callable[[], Heartbeat], lock: InstanceLock, report: Report) -> None:
        super().__init__(name="arbig-heartbeat", daemon=True)
        self.client = client
        self.key = key
        self.interval_s = interval_s
        self.ttl_s = max(1, int(ttl_s))
        self.build = build
        self.lock = lock
        self.report = report
        self.halted = threading.Event()
        self._wake = threading.Event()
        self._conflict_reported = False

    def wake(self) -> None:
        """Beat now (safe from any thread, CTP's callback threads included: never touches Redis)."""
        self._wake.set()

    def stop(self) -> None:
        self.halted.set()
        self._wake.set()

    def run(self) -> None:
        while not self.halted.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if not self.halted.is_set():
                self._renew_lease()
                self._write()

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
