"""What each operator command does: strategies, closing a position, cancelling, emergency stop.

These functions run on vnpy's event thread (see commands.EventThreadRunner). They check first
and refuse with a precise reason; nothing is sent unless the whole request makes sense.
SHFE has no market orders: a MARKET close is a limit at the opposite best price plus a few
ticks, clamped to the daily limits. A close is split into close-today and close-yesterday by
vnpy's offset converter; if it produces nothing, that is reported, never silently dropped.
A MARKET close, and a LIMIT close with `chase`, is followed up (core_service/execution.py: timeout,
cancel, reprice, retry, fallback); its answer carries the execution id (the command's id) whose
steps the execution reports show. An emergency stop ends every follow-up first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from vnpy.trader.constant import Direction, Exchange, Offset, OrderType
from vnpy.trader.engine import MainEngine
from vnpy.trader.object import OrderRequest, TickData
from vnpy.trader.utility import round_to

from common.contract import ClosePositionParams, Command
from core_service.commands import Failed, Refused
from core_service.cta import ArbigCtaEngine
from core_service.execution import Execution
from core_service.pretrade import MarginGuard

log = logging.getLogger(__name__)

MARKET_SLIPPAGE_TICKS = 5
MANUAL_REFERENCE = "ARBIG_operator"


class TradingActions:
    def __init__(self, main_engine: MainEngine, cta_engine: ArbigCtaEngine, gateway_name: str,
                 margin_guard: MarginGuard | None = None,
                 not_ready: Callable[[], str] = lambda: "", execution: Execution | None = None) -> None:
        """`not_ready()`: why the gateway cannot trade now ("" when it is ready); `execution`: the
        follow-up of the orders sent here (None: nothing is followed up)."""
        self.main_engine = main_engine
        self.execution = execution
        self.not_ready = not_ready
        self.cta = cta_engine
        self.gateway_name = gateway_name
        self.margin_guard = margin_guard

    # ------------------------------------------------------------ strategies
    def _strategy(self, command: Command) -> Any:
        name = command.typed_params().name
        strategy = self.cta.strategies.get(name)
        if strategy is None:
            known = ", ".join(sorted(self.cta.strategies)) or "none"
            raise Refused(f"unknown strategy {name!r} (known: {known})")
        return strategy

    def init_strategy(self, command: Command) -> dict[str, Any]:
        strategy = self._strategy(command)
        if strategy.inited:
            raise Refused(f"strategy {strategy.strategy_name} is already initialised")
        if strategy.strategy_name in self.cta.initing:
            raise Refused(f"strategy {strategy.strategy_name} is initialising already")
        self.cta.initing.add(strategy.strategy_name)
        self.cta.init_strategy(strategy.strategy_name)
        return {"name": strategy.strategy_name, "state": "INITING"}

    def start_strategy(self, command: Command) -> dict[str, Any]:
        strategy = self._strategy(command)
        if not strategy.inited:
            raise Refused(f"strategy {strategy.strategy_name} is not initialised; init it first")
        if strategy.trading:
            raise Refused(f"strategy {strategy.strategy_name} is already running")
        if why := self.not_ready():
            raise Refused(f"strategy {strategy.strategy_name} not started: {why}")
        self.cta.start_strategy(strategy.strategy_name)
        if not strategy.trading:
            raise Failed(f"strategy {strategy.strategy_name} failed to start: "
                         f"{self.cta.errors.get(strategy.strategy_name, 'see the log')}")
        return {"name": strategy.strategy_name, "state": "TRADING"}

    def stop_strategy(self, command: Command) -> dict[str, Any]:
        strategy = self._strategy(command)
        if not strategy.trading:
            raise Refused(f"strategy {strategy.strategy_name} is not running")
        self.cta.stop_strategy(strategy.strategy_name)
        return {"name": strategy.strategy_name, "state": "STOPPED"}

    # ------------------------------------------------------------ orders
    def close_position(self, command: Command) -> dict[str, Any]:
        params: ClosePositionParams = command.typed_params()
        symbol, exchange_name = params.vt_symbol.split(".")
        contract = self.main_engine.get_contract(params.vt_symbol)
        if contract is None:
            raise Refused(f"contract {params.vt_symbol} is not known to the gateway")
        held = Direction[params.direction]
        position = self.main_engine.get_position(f"{contract.gateway_name}.{params.vt_symbol}.{held.value}")
        closable = (position.volume - position.frozen) if position else 0
        if closable < params.volume:
            raise Refused(f"cannot close {params.volume} {params.direction} {params.vt_symbol}: "
                          f"only {closable:g} closable (held {position.volume if position else 0:g}, "
                          f"frozen by pending closes {position.frozen if position else 0:g})")
        order_direction = Direction.SHORT if held == Direction.LONG else Direction.LONG
        tick = self.main_engine.get_tick(params.vt_symbol)
        price = self._close_price(params, order_direction, tick, contract.pricetick)
        request = OrderRequest(
            symbol=symbol, exchange=Exchange[exchange_name], direction=order_direction, offset=Offset.CLOSE,
            type=OrderType.LIMIT, price=price, volume=params.volume, reference=MANUAL_REFERENCE,
        )
        split = self.main_engine.convert_order_request(request, contract.gateway_name, False, False)
        if not split:
            raise Refused(f"the offset converter produced no order for closing {params.volume} "
                          f"{params.direction} {params.vt_symbol}: not enough closable volume")
        for req in split:
            if self.margin_guard and (reason := self.margin_guard.check(req)):
                raise Refused(reason)
        followed = self.execution is not None and (params.price_type == "MARKET" or params.chase)
        sent: list[tuple[str, OrderRequest]] = []
        try:
            for req in split:
                vt_orderid = self.main_engine.send_order(req, contract.gateway_name)
                if not vt_orderid:
                    raise Failed(f"the gateway refused the {req.offset.name} order (see the system log)")
                self.main_engine.update_order_request(req, vt_orderid, contract.gateway_name)
                sent.append((vt_orderid, req))
        finally:  # what was sent is followed up, also when a later leg failed
            if followed and sent and self.execution is not None:
                self.execution.follow(command.id, "operator", sent, marketable=params.price_type == "MARKET")
        orders = [{"vt_orderid": vt_orderid, "offset": req.offset.name, "volume": req.volume, "price": req.price,
                   "direction": req.direction.name} for vt_orderid, req in sent]
        log.info("operator close of %s %s x%s sent as %s%s", params.direction, params.vt_symbol, params.volume,
                 orders, f", followed up as execution {command.id}" if followed else " (not followed up)")
        return {"orders": orders, "price": price, "execution_id": command.id if followed else ""}

    @staticmethod
    def _close_price(params: ClosePositionParams, direction: Direction, tick: TickData | None,
                     pricetick: float) -> float:
        if params.price_type == "LIMIT":
            price = round_to(params.price or 0.0, pricetick)
            if tick and tick.limit_up and not tick.limit_down <= price <= tick.limit_up:
                raise Refused(f"price {price:.2f} is outside today's limits "
                              f"{tick.limit_down:.2f}-{tick.limit_up:.2f}")
            return price
        if tick is None or not tick.bid_price_1 or not tick.ask_price_1:
            raise Refused("no market data for this contract yet: a MARKET close needs a current bid/ask")
        slip = MARKET_SLIPPAGE_TICKS * pricetick
        if direction == Direction.LONG:
            price = tick.ask_price_1 + slip
            return round_to(min(price, tick.limit_up) if tick.limit_up else price, pricetick)
        price = tick.bid_price_1 - slip
        return round_to(max(price, tick.limit_down) if tick.limit_down else price, pricetick)

    def cancel_order(self, command: Command) -> dict[str, Any]:
        vt_orderid = command.typed_params().vt_orderid
        order = self.main_engine.get_order(vt_orderid)
        if order is None:
            raise Refused(f"unknown order {vt_orderid}")
        if not order.is_active():
            raise Refused(f"order {vt_orderid} is already {order.status.name}")
        self.main_engine.cancel_order(order.create_cancel_request(), order.gateway_name)
        return {"vt_orderid": vt_orderid, "status": "CANCEL_SENT"}

    def emergency_stop(self, command: Command) -> dict[str, Any]:
        abandoned = self.execution.give_up_all("emergency stop") if self.execution else []
        stopped = [name for name, s in self.cta.strategies.items() if s.trading]
        for name in stopped:
            self.cta.stop_strategy(name)
        cancelled = []
        for order in self.main_engine.get_all_active_orders():
            self.main_engine.cancel_order(order.create_cancel_request(), order.gateway_name)
            cancelled.append(order.vt_orderid)
        log.warning("EMERGENCY STOP: stopped strategies %s, cancel sent for orders %s, follow-ups ended %s",
                    stopped, cancelled, abandoned)
        return {"stopped_strategies": stopped, "cancelled_orders": cancelled, "ended_executions": abandoned}
