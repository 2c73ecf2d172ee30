"""Which function answers each operator command, and on which thread.

Trading commands run on vnpy's event thread (serialised with the strategies, see
commands.EventThreadRunner); the main-contract switch and the sync layer's reads run on the command
loop's thread. Hand orders (ticket, close, flatten) are manual_orders.py's; strategies, cancel and the
emergency stop are actions.py's. Hand orders are refused outside the exchange's sessions (the
simulator in `always` mode never is). The AI trader's commands (ai.trade, ai.preview, ai.exit_plan,
ai.switch) are the AI desk's (ai_desk.py), planned and sent through the same ManualOrders; its exit
plans close through them too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common.contract import Command, CommandType
from common.trading_calendar import CHINA_TZ
from core_service.actions import TradingActions
from core_service.ai_desk import AiDesk
from core_service.commands import Refused
from core_service.manual_orders import ManualOrders
from core_service.session_clock import current_session

if TYPE_CHECKING:
    from core_service.app import CoreApp

Handler = Callable[[Command], dict[str, Any]]


def _market_closed(app: CoreApp) -> Refused | None:
    """A coded refusal while the exchange is outside its sessions (by the gateway's market clock)."""
    state = current_session(app.config, app.main_engine, app.clock)
    if state is None or state.state == "open":
        return None
    next_open = (datetime.fromtimestamp(state.next_open_ms / 1000, CHINA_TZ).strftime("%Y-%m-%d %H:%M")
                 if state.next_open_ms else "unknown")
    return Refused(f"the market is closed ({state.reason}); next open {next_open} China time", "market_closed",
                   reason=state.reason, next_open=next_open)


def build_manual_orders(app: CoreApp) -> ManualOrders:
    return ManualOrders(app.main_engine, app.cta, app.margin_guard, app._not_ready, app.sync.execution,
                        market_closed=lambda: _market_closed(app),
                        session=lambda: _dump(current_session(app.config, app.main_engine, app.clock)),
                        needs_tick=app.config.gateway.name == "sim", subscribe=app._subscribe)


def build_ai_desk(app: CoreApp, orders: ManualOrders) -> AiDesk:
    """The AI desk, with the exit plans attached to it (their closes go through `orders`)."""
    core = app.core
    desk = AiDesk(core.ai_guard, core.exit_plans, orders, app.main_engine, app.event_engine,
                  main_symbol=lambda: app.rollover.main_symbol, exchange=app.config.market_data.exchange,
                  publish_state=lambda text: app.publisher.set_state(app.keys.ai_state, text),
                  publish_event=app.recorder.publish_event, report=app.recorder.system_event, risk=app.sync.risk,
                  clock=app.clock)
    core.exit_plans.attach(orders, app.recorder.system_event, desk.on_change, app._gateway_reported_account)
    return desk


def build_handlers(app: CoreApp, orders: ManualOrders, ai: AiDesk) -> dict[CommandType, Handler]:
    actions = TradingActions(app.main_engine, app.cta, app.main_engine.get_all_gateway_names()[0],
                             not_ready=app._not_ready, execution=app.sync.execution)
    runner, timeout = app.runner, app.config.core.command_ttl_s

    def on_event_thread(func: Handler) -> Handler:
        return lambda command: runner.run(lambda: func(command), timeout)

    return {
        CommandType.STRATEGY_INIT: on_event_thread(actions.init_strategy),
        CommandType.STRATEGY_START: on_event_thread(actions.start_strategy),
        CommandType.STRATEGY_STOP: on_event_thread(actions.stop_strategy),
        CommandType.POSITION_CLOSE: on_event_thread(orders.close_position),
        CommandType.ORDER_SEND: on_event_thread(orders.send),
        CommandType.ORDER_PREVIEW: on_event_thread(orders.preview),
        CommandType.POSITIONS_FLATTEN: on_event_thread(orders.flatten),
        CommandType.ORDER_CANCEL: on_event_thread(actions.cancel_order),
        CommandType.EMERGENCY_STOP: on_event_thread(actions.emergency_stop),
        CommandType.CONTRACT_SWITCH: app._switch_command,
        CommandType.AI_TRADE: on_event_thread(ai.trade),
        CommandType.AI_PREVIEW: on_event_thread(ai.preview),
        CommandType.AI_EXIT_PLAN: on_event_thread(ai.exit_plan),
        CommandType.AI_SWITCH: on_event_thread(ai.switch),
        **app.sync.handlers(on_event_thread),
    }


def _dump(state: Any) -> dict[str, Any] | None:
    return state.model_dump() if state is not None else None
