"""What the AI agent can never change: the operator's on/off switch, the live-account opt-in and the
server-side limits (lots per order, position, orders per minute, daily loss), config section `ai`.

Pure bookkeeping, no I/O: the AI desk (ai_desk.py) asks it on vnpy's event thread and publishes what
it says. The rate limit counts the `ai.trade` commands that sent orders in the last 60 s of the wall
clock (refusals and previews do not count). The day's PnL is the account's own figures, the ones the
recorder publishes (serializers.account_state, the same on the simulator and CTP): realized_pnl +
unrealized_pnl - commission of today. Once it is at or below -max_daily_loss the desk switches AI
trading off (once per breach: the operator may switch it back on, and the next trade is then refused
by the limit again, which switches it off again).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from vnpy.trader.object import AccountData

from common.clock import Clock
from common.config import AiConfig
from common.contract import AiLimits
from core_service import serializers as ser

RATE_WINDOW_S = 60.0
LIVE_GATEWAYS = frozenset({"ctp"})  # a real broker account (the simulator is not one)


def day_pnl_of(account: AccountData) -> float:
    """The account's PnL today: realized + position profit - commission (the recorder's figures)."""
    state = ser.account_state(account)
    return round(state.realized_pnl + state.unrealized_pnl - state.commission, 2)


class AiGuard:
    def __init__(self, config: Callable[[], AiConfig], gateway: str, clock: Clock) -> None:
        """`config()`: the running `ai` section; `gateway`: the configured gateway's name (sim | ctp)."""
        self._config = config
        self.gateway = gateway
        self.clock = clock
        self._lock = threading.Lock()
        enabled = config().enabled
        self._enabled = enabled
        self._reason = "" if enabled else "switched off in the configuration (ai.enabled = false)"
        self._changed_ms = clock.now_ms()
        self._sends: deque[float] = deque()  # wall-clock monotonic times of the ai.trade sends
        self._day_pnl: float | None = None  # None: no account seen yet
        self._tripped = False  # the daily-loss limit switched AI off during the current breach

    # ------------------------------------------------------------ configuration
    @property
    def config(self) -> AiConfig:
        return self._config()

    @property
    def live_account(self) -> bool:
        return self.gateway in LIVE_GATEWAYS

    def live_refused(self) -> bool:
        """A live account without the opt-in (config ai.live_trading)."""
        return self.live_account and not self.config.live_trading

    def limits(self) -> AiLimits:
        c = self.config
        return AiLimits(max_lots_per_order=c.max_lots_per_order, max_position_lots=c.max_position_lots,
                        max_orders_per_minute=c.max_orders_per_minute, max_daily_loss=c.max_daily_loss,
                        require_exit_plan=c.require_exit_plan)

    # ------------------------------------------------------------ the switch
    @property
    def enabled(self) -> bool:
        with self._lock:
            return self._enabled

    def switch_state(self) -> tuple[bool, str, int]:
        """(enabled, why it is off, when it last changed in epoch ms)."""
        with self._lock:
            return self._enabled, self._reason, self._changed_ms

    def switch(self, enabled: bool, reason: str) -> bool:
        """Set the switch; True when that changed it (the reason is kept either way)."""
        with self._lock:
            changed = enabled != self._enabled
            self._enabled = enabled
            self._reason = "" if enabled else reason
            if changed:
                self._changed_ms = self.clock.now_ms()
            return changed

    # ------------------------------------------------------------ rate
    def _prune(self, now: float) -> None:
        while self._sends and now - self._sends[0] >= RATE_WINDOW_S:
            self._sends.popleft()

    def orders_last_minute(self) -> int:
        with self._lock:
            self._prune(self.clock.monotonic())
            return len(self._sends)

    def record_send(self) -> None:
        with self._lock:
            now = self.clock.monotonic()
            self._prune(now)
            self._sends.append(now)

    # ------------------------------------------------------------ daily loss
    @property
    def day_pnl(self) -> float | None:
        with self._lock:
            return self._day_pnl

    def loss_reached(self, day_pnl: float | None) -> bool:
        return day_pnl is not None and day_pnl <= -self.config.max_daily_loss

    def loss_reason(self, day_pnl: float) -> str:
        return f"daily loss limit reached: day PnL {day_pnl:.2f} <= -{self.config.max_daily_loss:.2f}"

    def note_account(self, account: AccountData) -> float:
        """Keep the account's day PnL; returns it."""
        pnl = day_pnl_of(account)
        with self._lock:
            self._day_pnl = pnl
            if pnl > -self.config.max_daily_loss:
                self._tripped = False  # the breach is over (a new trading day): the next one trips again
        return pnl

    def trip_due(self) -> bool:
        """The day PnL is past the limit, AI is on and the limit has not switched it off in this breach
        (an operator who switched it back on is answered by the next trade's check, not here)."""
        with self._lock:
            pnl, enabled, tripped = self._day_pnl, self._enabled, self._tripped
        return enabled and not tripped and self.loss_reached(pnl)

    def trip(self, day_pnl: float) -> bool:
        """Switch off by the daily-loss limit; True when that switched it off (it was on)."""
        with self._lock:
            self._tripped = True
        return self.switch(False, self.loss_reason(day_pnl))
