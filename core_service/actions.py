"""What the strategy commands, the cancel and the emergency stop do (orders sent by hand are
manual_orders.py's).

These functions run on vnpy's event thread (see commands.EventThreadRunner). They check first and
refuse with a precise, coded reason (the browser translates the code); nothing happens unless the
request makes sense. An emergency stop ends every follow-up first, stops every strategy and cancels
every active order; closing the positions is a separate, confirmed command (positions.flatten).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from vnpy.trader.engine import MainEngine

from common.contract import Command
from core_service.commands import Failed, Refused
from core_service.cta import ArbigCtaEngine
from core_service.execution import Execution

log = logging.getLogger(__name__)



class TradingActions:
    def __init__(self, main_engine: MainEngine, cta_engine: ArbigCtaEngine, gateway_name: str,
                 not_ready: Callable[[], str] = lambda: "", execution: Execution | None = None) -> None:
        """`not_ready()`: why the gateway cannot trade now ("" when it is ready); `execution`: the
        follow-ups the emergency stop ends."""
        self.main_engine = main_engine
        self.execution = execution
        self.not_ready = not_ready
        self.cta = cta_engine
        self.gateway_name = gateway_name

    # ------------------------------------------------------------ strategies
    def _strategy(self, command: Command) -> Any:
        name = command.typed_params().name
        strategy = self.cta.strategies.get(name)
        if strategy is None:
            known = ", ".join(sorted(self.cta.strategies)) or "none"
            raise Refused(f"unknown strategy {name!r} (known: {known})", "unknown_strategy", name=name, known=known)
        return strategy

    def init_strategy(self, command: Command) -> dict[str, Any]:
        strategy = self._strategy(command)
        if strategy.inited:
            raise Refused(f"strategy {strategy.strategy_name} is already initialised", "strategy_inited",
                          name=strategy.strategy_name)
        if strategy.strategy_name in self.cta.initing:
            raise Refused(f"strategy {strategy.strategy_name} is initialising already", "strategy_initing",
                          name=strategy.strategy_name)
        self.cta.initing.add(strategy.strategy_name)
        self.cta.init_strategy(strategy.strategy_name)
        return {"name": strategy.strategy_name, "state": "INITING"}

    def start_strategy(self, command: Command) -> dict[str, Any]:
        strategy = self._strategy(command)
        if not strategy.inited:
            raise Refused(f"strategy {strategy.strategy_name} is not initialised; init it first",
                          "strategy_not_inited", name=strategy.strategy_name)
        if strategy.trading:
            raise Refused(f"strategy {strategy.strategy_name} is already running", "strategy_running",
                          name=strategy.strategy_name)
        if why := self.not_ready():
            raise Refused(f"strategy {strategy.strategy_name} not started: {why}", "not_ready", why=why)
        self.cta.start_strategy(strategy.strategy_name)
        if not strategy.trading:
            error = self.cta.errors.get(strategy.strategy_name, "see the log")
            raise Failed(f"strategy {strategy.strategy_name} failed to start: {error}", "strategy_start_failed",
                         name=strategy.strategy_name, error=error)
        return {"name": strategy.strategy_name, "state": "TRADING"}

    def stop_strategy(self, command: Command) -> dict[str, Any]:
        strategy = self._strategy(command)
        if not strategy.trading:
            raise Refused(f"strategy {strategy.strategy_name} is not running", "strategy_not_running",
                          name=strategy.strategy_name)
        self.cta.stop_strategy(strategy.strategy_name)
        return {"name": strategy.strategy_name, "state": "STOPPED"}

    # ------------------------------------------------------------ orders
    def cancel_order(self, command: Command) -> dict[str, Any]:
        vt_orderid = command.typed_params().vt_orderid
        order = self.main_engine.get_order(vt_orderid)
        if order is None:
            raise Refused(f"unknown order {vt_orderid}", "unknown_order", vt_orderid=vt_orderid)
        if not order.is_active():
            raise Refused(f"order {vt_orderid} is already {order.status.name}", "order_inactive",
                          vt_orderid=vt_orderid, status=order.status.name)
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
