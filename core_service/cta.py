"""vnpy's CtaEngine, extended to record every strategy signal and every strategy failure.

- Strategy classes load from the project's `strategies/` folder (and vnpy's bundled examples).
- `send_order` is wrapped so every signal becomes a TriggerRecord, also when the offset converter
  turns it into no order at all (closing more than is held): that one is recorded as failed with
  the reason. The trigger's result follows its orders: success when filled, failed when rejected
  or cancelled unfilled. A local stop order's trigger waits for the stop: once triggered it follows
  the limit orders vnpy sent for it; cancelled before triggering, it failed.
- A strategy that raises is stopped by vnpy *without* a strategy event; here it is recorded, its
  orders are cancelled and a strategy event with the error is published, so the UI re-reads it.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import vnpy_ctastrategy
from vnpy.event import Event
from vnpy.trader.constant import Direction, Offset, Status
from vnpy.trader.object import OrderData
from vnpy_ctastrategy.base import StopOrder, StopOrderStatus
from vnpy_ctastrategy.engine import CtaEngine
from vnpy_ctastrategy.template import CtaTemplate

from common.config import PROJECT_ROOT
from common.contract import StrategyState, TriggerRecord
from common.market_clock import MarketClock
from common.trading_calendar import trading_day_str
from core_service.pretrade import MarginGuard
from core_service.serializers import epoch_ms

log = logging.getLogger(__name__)

FINAL_STATUSES = {Status.ALLTRADED, Status.CANCELLED, Status.REJECTED}
SignalAction = Literal["buy", "sell", "short", "cover"]  # TriggerRecord.action of a strategy's signal
StrategyStatus = Literal["ADDED", "INITING", "INITED", "TRADING", "STOPPED", "ERROR"]  # StrategyState.state


class CtaSink(Protocol):
    def on_trigger(self, record: TriggerRecord) -> None: ...
    def on_trigger_result(self, uid: str, result: str, error: str) -> None: ...
    def on_strategy(self, state: StrategyState) -> None: ...
    def on_strategy_error(self, name: str, error: str) -> None: ...


def signal_action(direction: Direction, offset: Offset) -> SignalAction:
    """vnpy's own names: buy = open long, sell = close long, short = open short, cover = close short."""
    opening = offset == Offset.OPEN
    if direction == Direction.LONG:
        return "buy" if opening else "cover"
    return "short" if opening else "sell"


def describe_condition(strategy: CtaTemplate) -> str:
    """What the strategy says triggered it (`signal_condition`), else its variables."""
    text = getattr(strategy, "signal_condition", "") or ""
    if not text:
        variables = {k: v for k, v in strategy.get_variables().items() if k not in ("inited", "trading")}
        text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in variables.items())
    return text[:255]


class _PendingTrigger:
    __slots__ = ("uid", "orders")

    def __init__(self, uid: str, orderids: list[str]) -> None:
        self.uid = uid
        self.orders: dict[str, OrderData | None] = dict.fromkeys(orderids)


class ArbigCtaEngine(CtaEngine):
    """vnpy builds it (`MainEngine.add_app`), so the core sets `sink`, `margin_guard` and `clock` after."""

    sink: CtaSink | None = None
    margin_guard: MarginGuard | None = None  # refuses an order the available funds cannot margin

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.errors: dict[str, str] = {}
        self.notes: dict[str, str] = {}  # why a strategy is not running though the config would start it
        self.started_once: set[str] = set()
        self.initing: set[str] = set()
        self._pending: dict[str, _PendingTrigger] = {}  # vt_orderid -> trigger waiting for its orders
        self._pending_stops: dict[str, str] = {}  # stop_orderid -> trigger uid, until the stop triggers
        self._pending_lock = threading.Lock()
        # the market's time as the strategies see it (advanced here, on the event thread, before they get
        # a tick): a signal on a replayed tick is stamped with that tick's time and trading day; before
        # the first tick, with the time of the clock it falls back to (the core's)
        self.clock = MarketClock(runs_on=True)

    def process_tick_event(self, event: Event) -> None:
        self.clock.on_tick(event.data.datetime)
        super().process_tick_event(event)

    def market_now(self) -> datetime:
        return self.clock.now_or_base()

    # ------------------------------------------------------------ strategy classes
    def load_strategy_class(self) -> None:
        bundled = Path(vnpy_ctastrategy.__file__).parent / "strategies"
        self.load_strategy_class_from_folder(bundled, "vnpy_ctastrategy.strategies")
        self.load_strategy_class_from_folder(PROJECT_ROOT / "strategies", "strategies")

    # ------------------------------------------------------------ signals
    def send_order(
        self, strategy: CtaTemplate, direction: Direction, offset: Offset, price: float, volume: float,
        stop: bool, lock: bool, net: bool,
    ) -> list:
        refusal = (self.margin_guard.check_signal(strategy.vt_symbol, direction, offset, price, volume)
                   if self.margin_guard and not stop else None)
        vt_orderids: list = [] if refusal else super().send_order(strategy, direction, offset, price, volume, stop,
                                                                  lock, net)
        error = refusal or ("" if vt_orderids else self._why_no_order(strategy, direction, offset, volume))
        at = self.market_now()
        record = TriggerRecord(
            ts_ms=epoch_ms(at),
            trading_day=trading_day_str(at),
            strategy=strategy.strategy_name,
            vt_symbol=strategy.vt_symbol,
            condition=describe_condition(strategy),
            price=price,
            volume=volume,
            action=signal_action(direction, offset),
            result="pending" if vt_orderids else "failed",
            vt_orderids=list(vt_orderids),
            error=error,
        )
        server_orders = [o for o in vt_orderids if not str(o).startswith("STOP")]
        with self._pending_lock:
            for stop_orderid in set(vt_orderids) - set(server_orders):
                self._pending_stops[stop_orderid] = record.uid
        self._await_orders(record.uid, server_orders)
        if self.sink:
            self.sink.on_trigger(record)
        if error:
            self.write_log(f"signal produced no order: {error}", strategy)
        return vt_orderids

    def _await_orders(self, uid: str, vt_orderids: list[str]) -> None:
        if not vt_orderids:
            return
        pending = _PendingTrigger(uid, vt_orderids)
        with self._pending_lock:
            for vt_orderid in vt_orderids:
                self._pending[vt_orderid] = pending

    def put_stop_order_event(self, stop_order: StopOrder) -> None:
        """vnpy calls this when a local stop order is placed, triggered or cancelled (event thread,
        before any update of the orders it just sent can be handled)."""
        super().put_stop_order_event(stop_order)
        if stop_order.status == StopOrderStatus.WAITING:
            return
        with self._pending_lock:
            uid = self._pending_stops.pop(stop_order.stop_orderid, None)
        if uid is None:
            return
        if stop_order.status == StopOrderStatus.TRIGGERED:
            self._await_orders(uid, list(stop_order.vt_orderids))
        elif self.sink:
            self.sink.on_trigger_result(uid, "failed", "stop order cancelled before it triggered")

    def _why_no_order(self, strategy: CtaTemplate, direction: Direction, offset: Offset, volume: float) -> str:
        contract = self.main_engine.get_contract(strategy.vt_symbol)
        if not contract:
            return f"contract {strategy.vt_symbol} not known to the gateway"
        if offset != Offset.OPEN:
            held_direction = Direction.SHORT if direction == Direction.LONG else Direction.LONG
            vt_positionid = f"{contract.gateway_name}.{strategy.vt_symbol}.{held_direction.value}"
            position = self.main_engine.get_position(vt_positionid)
            held = position.volume - position.frozen if position else 0
            return f"close of {volume:g} refused: only {held:g} {held_direction.name} closable"
        return "the gateway refused the order (see the order log)"

    def on_order_update(self, order: OrderData) -> None:
        """Called (off the event thread) for every order update: settles trigger results."""
        with self._pending_lock:
            pending = self._pending.get(order.vt_orderid)
            if pending is None:
                return
            pending.orders[order.vt_orderid] = order
            orders = list(pending.orders.values())
            if any(o is None or o.status not in FINAL_STATUSES for o in orders):
                return
            for vt_orderid in pending.orders:
                self._pending.pop(vt_orderid, None)
        traded = sum(o.traded for o in orders if o)
        wanted = sum(o.volume for o in orders if o)
        if traded >= wanted:
            result, error = "success", ""
        elif traded > 0:
            result, error = "success", f"partially filled {traded:g}/{wanted:g}"
        else:
            reasons = [str((o.extra or {}).get("reason") or o.status.name) for o in orders if o]
            result, error = "failed", "; ".join(reasons)[:512]
        if self.sink:
            self.sink.on_trigger_result(pending.uid, result, error)

    # ------------------------------------------------------------ failures and state
    def call_strategy_func(self, strategy: CtaTemplate, func: Callable, params: Any = None) -> None:
        try:
            if params:
                func(params)
            else:
                func()
        except Exception:
            strategy.trading = False
            strategy.inited = False
            detail = traceback.format_exc()
            summary = detail.strip().splitlines()[-1][:500]
            self.errors[strategy.strategy_name] = summary
            self.write_log(f"strategy raised and was stopped: {summary}\n{detail}", strategy)
            try:
                self.cancel_all(strategy)
            except Exception:
                log.exception("cancelling the orders of failed strategy %s", strategy.strategy_name)
            if self.sink:
                self.sink.on_strategy_error(strategy.strategy_name, summary)
            self.put_strategy_event(strategy)

    def start_strategy(self, strategy_name: str) -> None:
        self.errors.pop(strategy_name, None)
        self.notes.pop(strategy_name, None)
        super().start_strategy(strategy_name)
        if self.strategies[strategy_name].trading:
            self.started_once.add(strategy_name)

    def _init_strategy(self, strategy_name: str) -> None:
        self.errors.pop(strategy_name, None)
        self.initing.add(strategy_name)
        try:
            super()._init_strategy(strategy_name)
        finally:
            self.initing.discard(strategy_name)
            self.put_strategy_event(self.strategies[strategy_name])

    def put_strategy_event(self, strategy: CtaTemplate) -> None:
        super().put_strategy_event(strategy)
        if self.sink:
            self.sink.on_strategy(self.strategy_state(strategy))

    def strategy_state(self, strategy: CtaTemplate) -> StrategyState:
        name = strategy.strategy_name
        error = self.errors.get(name, "")
        state: StrategyStatus
        if error:
            state = "ERROR"
        elif strategy.trading:
            state = "TRADING"
        elif name in self.initing:
            state = "INITING"
        elif strategy.inited:
            state = "STOPPED" if name in self.started_once else "INITED"
        else:
            state = "ADDED"
        variables = {k: v for k, v in strategy.get_variables().items() if k not in ("inited", "trading")}
        return StrategyState(
            name=name,
            class_name=strategy.__class__.__name__,
            vt_symbol=strategy.vt_symbol,
            author=getattr(strategy, "author", "") or "",
            parameters=_jsonable(strategy.get_parameters()),
            variables=_jsonable(variables),
            inited=strategy.inited,
            trading=strategy.trading,
            state=state,
            error=error,
            note=self.notes.get(name, ""),
        )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        out[key] = value if isinstance(value, int | float | str | bool | type(None)) else str(value)
    return out
