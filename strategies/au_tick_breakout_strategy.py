"""Tick breakout strategy for SHFE gold (au): trades when the last price leaves its recent range.

Long when the last price breaks above the highest of the previous `window_ticks` prices, short
when it breaks below the lowest; reverses an opposite position first. One signal at a time: it
waits for its orders to finish before acting again. Marketable limits cross the spread by
`slippage_ticks`. It states the reason in `signal_condition`, which ARBIG records with the signal.
"""

from __future__ import annotations

from collections import deque

from vnpy.trader.object import BarData, OrderData, TickData
from vnpy_ctastrategy import CtaTemplate


class AuTickBreakoutStrategy(CtaTemplate):
    author = "ARBIG"

    window_ticks: int = 20
    fixed_size: int = 1
    slippage_ticks: int = 2

    range_high: float = 0.0
    range_low: float = 0.0
    ticks_seen: int = 0

    parameters = ["window_ticks", "fixed_size", "slippage_ticks"]
    variables = ["range_high", "range_low", "ticks_seen"]

    def __init__(self, cta_engine, strategy_name: str, vt_symbol: str, setting: dict) -> None:
        super().__init__(cta_engine, strategy_name, vt_symbol, setting)
        if self.window_ticks < 2 or self.fixed_size < 1:
            raise ValueError("window_ticks must be at least 2 and fixed_size at least 1")
        self.prices: deque[float] = deque(maxlen=self.window_ticks)
        self.working: set[str] = set()
        self.signal_condition = ""

    def on_init(self) -> None:
        self.write_log(f"init: range of the last {self.window_ticks} ticks")

    def on_start(self) -> None:
        self.write_log("started")

    def on_stop(self) -> None:
        self.write_log("stopped")

    def on_tick(self, tick: TickData) -> None:
        price = tick.last_price
        if price <= 0:
            return
        self.ticks_seen += 1
        if self.trading and not self.working and len(self.prices) == self.window_ticks:
            self.range_high, self.range_low = max(self.prices), min(self.prices)
            if price > self.range_high and self.pos <= 0:
                self._go_long(tick)
            elif price < self.range_low and self.pos >= 0:
                self._go_short(tick)
        self.prices.append(price)

    def _go_long(self, tick: TickData) -> None:
        self.signal_condition = (f"last {tick.last_price:.2f} broke above the {self.window_ticks}-tick high "
                                 f"{self.range_high:.2f}")
        price = tick.ask_price_1 + self.slippage_ticks * (self.get_pricetick() or 0.02)
        if self.pos < 0:
            self.working.update(self.cover(price, abs(self.pos)))
        self.working.update(self.buy(price, self.fixed_size))
        self.put_event()

    def _go_short(self, tick: TickData) -> None:
        self.signal_condition = (f"last {tick.last_price:.2f} broke below the {self.window_ticks}-tick low "
                                 f"{self.range_low:.2f}")
        price = tick.bid_price_1 - self.slippage_ticks * (self.get_pricetick() or 0.02)
        if self.pos > 0:
            self.working.update(self.sell(price, abs(self.pos)))
        self.working.update(self.short(price, self.fixed_size))
        self.put_event()

    def on_order(self, order: OrderData) -> None:
        if not order.is_active():
            self.working.discard(order.vt_orderid)

    def on_bar(self, bar: BarData) -> None:
        pass
