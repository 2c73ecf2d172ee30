"""Dual moving-average trend strategy for SHFE gold (au), on one-minute bars built from ticks.

Long when the fast average crosses above the slow one, short when it crosses below; always in
the market with `fixed_size` lots once the averages are warm. Before each order it states the
reason in `signal_condition`, which ARBIG records with the signal.
"""

from __future__ import annotations

from vnpy.trader.object import BarData, TickData
from vnpy_ctastrategy import ArrayManager, BarGenerator, CtaTemplate


class AuDualMaStrategy(CtaTemplate):
    author = "ARBIG"

    fast_window: int = 5
    slow_window: int = 20
    fixed_size: int = 1
    slippage_ticks: int = 2

    fast_ma: float = 0.0
    slow_ma: float = 0.0
    bars_seen: int = 0

    parameters = ["fast_window", "slow_window", "fixed_size", "slippage_ticks"]
    variables = ["fast_ma", "slow_ma", "bars_seen"]

    def __init__(self, cta_engine, strategy_name: str, vt_symbol: str, setting: dict) -> None:
        super().__init__(cta_engine, strategy_name, vt_symbol, setting)
        if not 0 < self.fast_window < self.slow_window:
            raise ValueError("fast_window must be positive and smaller than slow_window")
        self.bg = BarGenerator(self.on_bar)
        self.am = ArrayManager(size=self.slow_window + 2)
        self.signal_condition = ""

    def on_init(self) -> None:
        self.write_log("init: loading 3 days of bars")
        self.load_bar(3)

    def on_start(self) -> None:
        self.write_log("started")

    def on_stop(self) -> None:
        self.write_log("stopped")

    def on_tick(self, tick: TickData) -> None:
        self.bg.update_tick(tick)

    def on_bar(self, bar: BarData) -> None:
        self.cancel_all()
        am = self.am
        am.update_bar(bar)
        self.bars_seen += 1
        if not am.inited:
            self.put_event()
            return
        fast = am.sma(self.fast_window, array=True)
        slow = am.sma(self.slow_window, array=True)
        self.fast_ma, self.slow_ma = float(fast[-1]), float(slow[-1])
        crossed_up = fast[-2] <= slow[-2] and fast[-1] > slow[-1]
        crossed_down = fast[-2] >= slow[-2] and fast[-1] < slow[-1]
        pricetick = self.get_pricetick() or 0.02
        offset = self.slippage_ticks * pricetick
        if crossed_up:
            self.signal_condition = f"fast MA {self.fast_ma:.2f} crossed above slow MA {self.slow_ma:.2f}"
            if self.pos < 0:
                self.cover(bar.close_price + offset, abs(self.pos))
            if self.pos <= 0:
                self.buy(bar.close_price + offset, self.fixed_size)
        elif crossed_down:
            self.signal_condition = f"fast MA {self.fast_ma:.2f} crossed below slow MA {self.slow_ma:.2f}"
            if self.pos > 0:
                self.sell(bar.close_price - offset, abs(self.pos))
            if self.pos >= 0:
                self.short(bar.close_price - offset, self.fixed_size)
        self.put_event()
