"""Tracks the gateway's connection state (what the operator sees) and reports every change.

Gateways call `set()` from whatever thread their callbacks run on; listeners must not block
(the core's listener only enqueues). A watchdog turns "not logged in after N seconds" into a
visible LOGIN_TIMEOUT state, because CTP logs nothing when its front is unreachable. LOGGED_IN
means ready to trade; on CTP it follows SETTLING (logged in, settlement and instruments pending).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from common.contract import GatewayState, GatewayStatus, now_ms

log = logging.getLogger(__name__)

Listener = Callable[[GatewayStatus, GatewayStatus], None]  # (new, old)


class GatewayStatusTracker:
    def __init__(self, name: str, listener: Listener | None = None) -> None:
        self._lock = threading.Lock()
        self._status = GatewayStatus(name=name, state=GatewayState.STARTING)
        self._listeners: list[Listener] = [listener] if listener else []
        self._ever_logged_in = False

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def current(self) -> GatewayStatus:
        with self._lock:
            return self._status

    @property
    def logged_in(self) -> bool:
        return self.current.state == GatewayState.LOGGED_IN

    def set(self, state: GatewayState, reason: str = "") -> None:
        """Set the trading (or only) connection's state."""
        with self._lock:
            old = self._status
            if old.state == state and old.reason == reason:
                return
            if old.state == GatewayState.LOGIN_FAILED and state in (GatewayState.CONNECTED, GatewayState.DISCONNECTED):
                # A failed login is permanent: keep showing it, with the newer transport state as detail.
                reason = f"{old.reason} (transport: {state.value.lower()} {reason})".strip()
                state = GatewayState.LOGIN_FAILED
            self._status = old.model_copy(update={"state": state, "reason": reason, "since_ms": now_ms()})
            if state == GatewayState.LOGGED_IN:
                self._ever_logged_in = True
            new = self._status
        self._notify(new, old)

    def set_md(self, state: GatewayState, reason: str = "") -> None:
        """Set the market-data connection's state (CTP has two fronts)."""
        with self._lock:
            old = self._status
            if old.md_state == state and old.md_reason == reason:
                return
            self._status = old.model_copy(update={"md_state": state, "md_reason": reason})
            new = self._status
        self._notify(new, old)

    def _notify(self, new: GatewayStatus, old: GatewayStatus) -> None:
        for listener in self._listeners:
            try:
                listener(new, old)
            except Exception:  # a listener must never break the gateway's callback thread
                log.exception("gateway status listener failed")


# States the watchdog leaves alone: ready, or failed for a reason already shown, or stopped.
FINAL_STATES = (GatewayState.LOGGED_IN, GatewayState.LOGIN_FAILED, GatewayState.SETTLEMENT_FAILED,
                GatewayState.STOPPED)


INFO_STATES = (GatewayState.LOGGED_IN, GatewayState.CONNECTED, GatewayState.SETTLING, GatewayState.CONNECTING,
               GatewayState.STOPPED)
EVENT_KINDS = {GatewayState.LOGGED_IN: "login", GatewayState.DISCONNECTED: "disconnect",
               GatewayState.LOGIN_FAILED: "login_failed", GatewayState.LOGIN_TIMEOUT: "login_timeout",
               GatewayState.CONNECTED: "connect", GatewayState.SETTLING: "settling",
               GatewayState.SETTLEMENT_FAILED: "settlement_failed"}


def describe_transition(new: GatewayStatus) -> tuple[str, str, str]:
    """(system event kind, level, text) for a change of the gateway's state."""
    level = "INFO" if new.state in INFO_STATES else "ERROR"
    text = f"gateway {new.name}: {new.state.value.lower()}" + (f" ({new.reason})" if new.reason else "")
    return EVENT_KINDS.get(new.state, "gateway"), level, text


class LoginWatchdog:
    """Reports LOGIN_TIMEOUT when the gateway is not logged in `timeout_s` after connecting.

    "Logged in" means ready to trade (LOGGED_IN): a CTP gateway still SETTLING (settlement
    confirmation or instrument list pending) is not, and the timeout text says which it was."""

    def __init__(self, tracker: GatewayStatusTracker, timeout_s: float) -> None:
        self.tracker = tracker
        self.timeout_s = timeout_s
        self._timer: threading.Timer | None = None
        self.fired = threading.Event()  # set once the timeout has been checked (whatever it found)

    def arm(self) -> None:
        self.disarm()
        self.fired.clear()
        self._timer = threading.Timer(self.timeout_s, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        if self._timer:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        try:
            self._check()
        finally:
            self.fired.set()

    def _check(self) -> None:
        status = self.tracker.current
        if status.state in FINAL_STATES:
            return
        detail = f"last state {status.state.value.lower()}"
        if status.reason:
            detail += f": {status.reason}"
        if status.state == GatewayState.SETTLING:  # logged in, but not ready to trade
            text = (f"not logged in after {self.timeout_s:g} s: logged in to the front, but settlement"
                    f" confirmation or the instrument list still pending ({detail})")
        else:
            text = f"not logged in after {self.timeout_s:g} s ({detail})"
        log.warning("gateway %s", text)
        self.tracker.set(GatewayState.LOGIN_TIMEOUT, text)
