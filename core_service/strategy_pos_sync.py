"""A strategy never believes it holds what the account does not.

vnpy moves a strategy's `pos` only by the fills of its own orders. After a trade the strategies did
not send (the operator's close or ticket, or any other hand trade) in a contract that strategies
trade, the account may hold less than they believe: a strategy at pos=1 after the position was
closed by hand would later sell what is not there, then go short. So after such a trade each
direction is compared: when the strategies' LONG claims (sum of positive pos) exceed the account's
LONG lots (vnpy's position holding, already updated by this trade), the claims are cut back to the
holding, strategy by strategy in name order; the same for SHORT. A hand *open* leaves the strategies
as they are (they never claimed it). Every change is persisted in vnpy's strategy data, published,
and recorded as a strategy trigger with action "pos_sync".
Runs on vnpy's event thread, after vnpy's own handlers for the same trade event. The trigger is
stamped by the clock passed in (the core's: in a replay, the replayed time and trading day).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vnpy.event import Event, EventEngine
from vnpy.trader.engine import MainEngine
from vnpy.trader.event import EVENT_TRADE
from vnpy.trader.object import TradeData
from vnpy_ctastrategy.template import CtaTemplate

from common.clock import LIVE, Clock
from common.contract import TriggerRecord
from common.trading_calendar import trading_day_str
from core_service.cta import ArbigCtaEngine
from core_service.serializers import epoch_ms

log = logging.getLogger(__name__)


class StrategyPosSync:
    def __init__(self, event_engine: EventEngine, main_engine: MainEngine, cta: ArbigCtaEngine,
                 report: Callable[[str, str, str], None], clock: Clock = LIVE) -> None:
        self.event_engine = event_engine
        self.clock = clock
        self.main_engine = main_engine
        self.cta = cta
        self.report = report
        event_engine.register(EVENT_TRADE, self._on_trade)

    def close(self) -> None:
        self.event_engine.unregister(EVENT_TRADE, self._on_trade)

    def _on_trade(self, event: Event) -> None:
        trade: TradeData = event.data
        if trade.vt_orderid in self.cta.orderid_strategy_map:
            return  # a strategy's own fill: vnpy has moved its pos
        strategies = sorted((s for s in self.cta.strategies.values() if s.vt_symbol == trade.vt_symbol and s.inited),
                            key=lambda s: s.strategy_name)
        if strategies:
            self.align(trade, strategies)

    def held(self, vt_symbol: str, gateway_name: str) -> tuple[float, float]:
        """The account's (LONG, SHORT) lots in vt_symbol, as vnpy's offset converter holds them."""
        converter = self.main_engine.get_converter(gateway_name)
        holding = converter.get_position_holding(vt_symbol) if converter else None
        return (holding.long_pos, holding.short_pos) if holding else (0.0, 0.0)

    def align(self, trade: TradeData, strategies: list[CtaTemplate]) -> None:
        long_held, short_held = self.held(trade.vt_symbol, trade.gateway_name)
        changes = _cut(strategies, 1, long_held) + _cut(strategies, -1, short_held)
        for strategy, old in changes:
            self._record(strategy, old, trade, long_held, short_held)

    def _record(self, strategy: CtaTemplate, old: float, trade: TradeData, long_held: float,
                short_held: float) -> None:
        why = (f"hand trade {trade.vt_tradeid} ({trade.direction.name} {trade.offset.name} {trade.volume:g} @"
               f" {trade.price:g}): account holds LONG {long_held:g} SHORT {short_held:g}; pos {old:g} ->"
               f" {strategy.pos:g}")
        self.cta.sync_strategy_data(strategy)
        self.cta.put_strategy_event(strategy)
        if self.cta.sink:
            at = self.clock.now()
            self.cta.sink.on_trigger(TriggerRecord(
                ts_ms=epoch_ms(at), trading_day=trading_day_str(at), strategy=strategy.strategy_name,
                vt_symbol=strategy.vt_symbol, condition=why[:255], price=trade.price, volume=abs(strategy.pos - old),
                action="pos_sync", result="success", vt_orderids=[trade.vt_orderid]))
        log.warning("strategy %s: %s", strategy.strategy_name, why)
        self.report("strategy_pos_sync", f"strategy {strategy.strategy_name}: {why}", "WARNING")


def _cut(strategies: list[CtaTemplate], sign: int, held: float) -> list[tuple[CtaTemplate, float]]:
    """Cut the claims on one side (sign 1: LONG, -1: SHORT) back to `held`; returns (strategy, old pos)."""
    excess = sum(max(sign * s.pos, 0) for s in strategies) - held
    changes = []
    for strategy in strategies:
        if excess <= 0:
            break
        claim = max(sign * strategy.pos, 0)
        if claim <= 0:
            continue
        cut = min(claim, excess)
        old = strategy.pos
        strategy.pos = type(old)(old - sign * cut) if isinstance(old, int) else old - sign * cut
        excess -= cut
        changes.append((strategy, old))
    return changes
