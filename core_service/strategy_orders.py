"""Strategy orders left resting: reported, never repriced (vnpy's CTA semantics stay the strategy's).

A strategy order (one the CTA engine owns) still active after `execution.strategy_order_timeout_s`
raises one ORDER_TIMEOUT risk event; the order is left to its strategy. Checked by the order
follow-up's checker thread (`execution.Execution`).
"""

from __future__ import annotations

from vnpy.trader.engine import MainEngine

from common.config import ExecutionConfig
from common.contract import RiskEventType
from core_service.cta import ArbigCtaEngine
from core_service.risk_events import RiskDesk


class StrategyOrderWatch:
    def __init__(self, config: ExecutionConfig, main_engine: MainEngine, cta: ArbigCtaEngine, risk: RiskDesk) -> None:
        self.config = config
        self.main_engine = main_engine
        self.cta = cta
        self.risk = risk
        self._seen: dict[str, float] = {}  # active strategy order -> first seen (monotonic)
        self._reported: set[str] = set()

    def check(self, now: float) -> None:
        """One ORDER_TIMEOUT per strategy order active longer than the timeout."""
        owners = self.cta.orderid_strategy_map
        active = {o.vt_orderid: o for o in self.main_engine.get_all_active_orders() if o.vt_orderid in owners}
        for vt_orderid in list(self._seen):
            if vt_orderid not in active:
                del self._seen[vt_orderid]
                self._reported.discard(vt_orderid)
        for vt_orderid, order in active.items():
            age = now - self._seen.setdefault(vt_orderid, now)
            if age < self.config.strategy_order_timeout_s or vt_orderid in self._reported:
                continue
            self._reported.add(vt_orderid)
            strategy = owners.get(vt_orderid)
            name = strategy.strategy_name if strategy is not None else "?"
            what = f"{order.direction.name} {order.offset.name} {order.volume:g} @{order.price:g}"
            self.risk.raise_event(
                RiskEventType.ORDER_TIMEOUT, f"strategy {name} order {vt_orderid} ({what}) still {order.status.name}"
                f" after {age:.0f} s; left to the strategy (not repriced)", key=f"ORDER_TIMEOUT:{vt_orderid}",
                window_s=86_400, symbol=order.vt_symbol, strategy=name, vt_orderid=vt_orderid, traded=order.traded)
