"""Counting CTP's Python callbacks, so releasing an API never deadlocks.

vnpy_ctp's exit() joins the API's callback thread while holding the GIL: if a Python callback is
running (or about to run) at that moment, the process hangs for good (vnpy/vnpy_ctp PR #108,
reproduced here). So every Python callback is counted, and close() waits until none is running.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from common.clock import LIVE, Clock

log = logging.getLogger(__name__)

CLOSE_WAIT_S = 3.0  # longest wait for a running callback before releasing an API
ApiT = TypeVar("ApiT", bound=type)


def _counted(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def callback(self: Any, *args: Any) -> Any:
        self.cb_thread = threading.get_ident()
        self.cb_busy += 1
        try:
            return method(self, *args)
        finally:
            self.cb_busy -= 1

    return callback


def count_callbacks(cls: ApiT) -> ApiT:
    """Wrap every Python-level `on*` callback of the class (ours and vnpy's) in a busy counter."""
    names = {
        name
        for klass in cls.__mro__[:2]
        for name, value in vars(klass).items()
        if name.startswith("on") and callable(value)
    }
    for name in names:
        setattr(cls, name, _counted(getattr(cls, name)))
    cls.cb_busy = 0
    cls.cb_thread = 0
    return cls


def wait_idle(api: Any, timeout_s: float, clock: Clock = LIVE) -> None:
    """Return once no Python callback of the API has run for two consecutive checks (or on timeout)."""
    if api.cb_busy and api.cb_thread == threading.get_ident():
        raise RuntimeError("close() from inside a CTP callback would deadlock; close from another thread")
    deadline = clock.monotonic() + timeout_s
    quiet = 0
    while quiet < 2 and clock.monotonic() < deadline:
        time.sleep(0.01)  # lets a callback waiting for the GIL start (and be counted)
        quiet = quiet + 1 if not api.cb_busy else 0
    if quiet < 2:
        log.warning("CTP callback still running after %.1f s; releasing the API anyway", timeout_s)
