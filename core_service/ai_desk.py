"""The AI trader's desk in the core: the `ai.*` commands the MCP tools send, checked against what the
agent cannot change (ai_guard.py), and the AI state the pages and the tools read.

- `ai.trade` (execute_trade): refused, with a stable code and before anything is sent, by the first of:
  ai_source (not sent by an MCP tool), ai_off (the switch is off: the text says why), ai_live_opt_in
  (CTP without config ai.live_trading), ai_not_main, ai_volume_limit, ai_position_limit (held + pending
  opens + this order above max_position_lots), ai_rate_limit, ai_daily_loss (also switches AI off and
  raises a risk event), ai_exit_plan_required, ai_exit_plan_invalid (levels on the wrong side of the
  last price); then the order plan's own problems (manual_orders.py: price, session, limits, closable,
  margin). open long = buy OPEN, open short = sell OPEN, close long = sell CLOSE (split close-today /
  close-yesterday), close short = buy CLOSE; marketable = the operator's MARKET (followed up by
  execution.py), limit = LIMIT at the price. Orders carry `ai_reference(tool_call_id, confidence)`.
- `ai.preview`: the same plan and checks, sent nothing, counted nowhere: ManualOrders' preview plus
  every AI refusal in `problems`, and `would_send`.
- `ai.exit_plan` (update_exit_plan): set or (every field None) clear the plan of a held position.
- `ai.switch`: the operator's (refused from an MCP tool): on/off with the reason, a system event.

Every handler runs on vnpy's event thread (like order.send); the account handler (daily loss) too:
nothing here does I/O, publishing only queues (RedisPublisher, the recorder's event stream).
AiState goes to `arbig:state:ai` on every change and every heartbeat, and as event "ai_state" on a change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Direction, Offset
from vnpy.trader.engine import MainEngine
from vnpy.trader.event import EVENT_ACCOUNT

from common.clock import Clock
from common.contract import (
    AiExitPlanParams,
    AiState,
    AiSwitchParams,
    AiTradeParams,
    Command,
    ExitPlan,
    ExitPlanState,
    OrderSendParams,
    RiskEventType,
    ai_reference,
)
from core_service.ai_guard import AiGuard
from core_service.commands import Failed, Refused
from core_service.exit_plans import ExitPlans, level_problem
from core_service.manual_orders import ManualOrders, OrderPlan
from core_service.risk_events import RiskDesk

log = logging.getLogger(__name__)

MCP_SOURCE = "mcp"
DAILY_LOSS_WINDOW_S = 12 * 3600.0  # one risk event per trading day's breach
Report = Callable[..., None]  # recorder.system_event(kind, message, level, **detail)


def _coded(problem: Refused) -> dict[str, Any]:
    return {"code": problem.code, "text": str(problem), "vars": problem.values}


class AiDesk:
    def __init__(self, guard: AiGuard, exit_plans: ExitPlans, orders: ManualOrders, main_engine: MainEngine,
                 event_engine: EventEngine, *, main_symbol: Callable[[], str], exchange: str,
                 publish_state: Callable[[str], None], publish_event: Callable[[str, dict[str, Any]], None],
                 report: Report, risk: RiskDesk, clock: Clock) -> None:
        """`main_symbol()`: the running main contract ("au2702"); `publish_state(json)`: the AI state key
        (queued); `publish_event(type, data)`: the pages' event stream; `report`: a system event."""
        self.guard = guard
        self.exit_plans = exit_plans
        self.orders = orders
        self.main_engine = main_engine
        self.main_symbol = main_symbol
        self.exchange = exchange
        self._publish_state = publish_state
        self._publish_event = publish_event
        self.report = report
        self.risk = risk
        self.clock = clock
        event_engine.register(EVENT_ACCOUNT, self._on_account)

    # ------------------------------------------------------------ commands (event thread)
    def trade(self, command: Command) -> dict[str, Any]:
        params: AiTradeParams = command.typed_params()
        ticket = self._ticket(params)
        for problem in self._problems(command, params, ticket.vt_symbol):
            if problem.code == "ai_daily_loss":
                self._trip(self.guard.day_pnl or 0.0)
            raise problem
        plan = self._plan(params, ticket)
        if plan.problems:
            raise plan.problems[0]
        try:
            result = self.orders.execute(command.id, plan, source="ai")
        except Failed as exc:
            if exc.result.get("orders"):  # some legs left: they count
                self.guard.record_send()
                self.publish_state(event=True)
            raise
        self.guard.record_send()
        stored = None
        if params.exit_plan is not None:  # publishes the state
            stored = self._set_plan(ticket.vt_symbol, params.direction, params.exit_plan, params.tool_call_id)
        else:
            self.publish_state(event=True)  # orders_last_minute
        return {**result, "tool_call_id": params.tool_call_id, "confidence": params.confidence,
                "action": params.action, "position_direction": params.direction.upper(),
                "exit_plan": stored.model_dump(mode="json") if stored else None}

    def preview(self, command: Command) -> dict[str, Any]:
        """What `ai.trade` would send and every reason it would not: sends nothing, changes nothing."""
        params: AiTradeParams = command.typed_params()
        ticket = self._ticket(params)
        problems = [_coded(p) for p in self._problems(command, params, ticket.vt_symbol)]
        plan = self._plan(params, ticket)
        if plan.contract is not None and plan.tick is None:
            self.orders.subscribe(plan.contract.symbol)  # the next preview has a quote
        described = self.orders.describe(plan)
        described["problems"] = problems + described["problems"]
        return {**described, "would_send": not described["problems"], "tool_call_id": params.tool_call_id,
                "confidence": params.confidence, "action": params.action,
                "position_direction": params.direction.upper(), "reference": plan.reference,
                "exit_plan": params.exit_plan.model_dump(mode="json") if params.exit_plan else None}

    def exit_plan(self, command: Command) -> dict[str, Any]:
        params: AiExitPlanParams = command.typed_params()
        for problem in self._gate(command, "ai.exit_plan"):
            raise problem
        vt_symbol, side = f"{params.symbol}.{self.exchange}", params.direction.upper()
        held = self.orders.closable(vt_symbol)[side]["volume"]
        if held <= 0:
            raise Refused(f"no open {side} position in {vt_symbol}: an exit plan needs one", "ai_no_position",
                          vt_symbol=vt_symbol, direction=side)
        if params.stop_loss is None and params.take_profit is None and params.invalidation is None:
            cleared = self.exit_plans.clear(vt_symbol, side, why=f"cleared by tool call {params.tool_call_id}")
            return {"exit_plan": None, "cleared": cleared}
        plan = ExitPlan(stop_loss=params.stop_loss, take_profit=params.take_profit, invalidation=params.invalidation)
        if problem := self._level_problem(vt_symbol, side, plan):
            raise problem
        state = self.exit_plans.set(vt_symbol, "LONG" if side == "LONG" else "SHORT", plan, params.tool_call_id,
                                    held=True)
        return {"exit_plan": state.model_dump(mode="json")}

    def switch(self, command: Command) -> dict[str, Any]:
        params: AiSwitchParams = command.typed_params()
        if command.source == MCP_SOURCE:
            raise Refused("the AI switch is the operator's: an MCP tool cannot turn AI trading on or off",
                          "ai_switch_not_allowed")
        said = f": {params.reason}" if params.reason else ""
        who = f"the operator ({command.operator}, {command.source})"
        changed = self.guard.switch(params.enabled, f"switched off by {who}{said}")
        warning = ""
        pnl = self.guard.day_pnl
        if params.enabled and pnl is not None and self.guard.loss_reached(pnl):
            warning = (f"the day PnL {pnl:.2f} is still past the daily loss limit -{self.guard.config.max_daily_loss:.2f}:"
                       " the next trade will be refused (ai_daily_loss) and AI trading switched off again")
        state = "on" if params.enabled else "off"
        self.report("ai_switch", f"AI trading switched {state} by {who}{said}{'; ' + warning if warning else ''}",
                    "INFO" if params.enabled else "WARNING", enabled=params.enabled, changed=changed,
                    operator=command.operator, reason=params.reason)
        self.publish_state(event=True)
        enabled, reason, _ = self.guard.switch_state()
        return {"enabled": enabled, "changed": changed, "reason": reason, "warning": warning}

    # ------------------------------------------------------------ checks
    def _ticket(self, params: AiTradeParams) -> OrderSendParams:
        """The order ticket an AI trade is: its side, offset, price type."""
        buys = (params.action == "open") == (params.direction == "long")
        limit = params.order_type == "limit"
        return OrderSendParams(
            vt_symbol=f"{params.symbol or self.main_symbol()}.{self.exchange}", direction="LONG" if buys else "SHORT",
            offset="OPEN" if params.action == "open" else "CLOSE", volume=params.volume,
            price_type="LIMIT" if limit else "MARKET", price=params.price if limit else None)

    def _plan(self, params: AiTradeParams, ticket: OrderSendParams) -> OrderPlan:
        return self.orders.plan(ticket, reference=ai_reference(params.tool_call_id, params.confidence))

    def _gate(self, command: Command, what: str) -> Iterator[Refused]:
        """Who may trade at all: the MCP tools, while the switch is on, on a live account with the opt-in."""
        if command.source != MCP_SOURCE:
            yield Refused(f"{what} is for the AI agent's MCP tools only (source {command.source!r}); the operator"
                          " uses the order ticket", "ai_source", source=command.source)
        enabled, reason, _ = self.guard.switch_state()
        if not enabled:
            yield Refused(f"AI trading is switched off: {reason}", "ai_off", reason=reason)
        if self.guard.live_refused():
            yield Refused(f"AI trading on a live account ({self.guard.gateway}) needs the operator's opt-in:"
                          " ai.live_trading is false in the configuration", "ai_live_opt_in",
                          gateway=self.guard.gateway)

    def _problems(self, command: Command, params: AiTradeParams, vt_symbol: str) -> Iterator[Refused]:
        """Every AI refusal of this trade, in the order they win."""
        yield from self._gate(command, command.type.value)
        limits, main = self.guard.config, f"{self.main_symbol()}.{self.exchange}"
        if vt_symbol != main:
            yield Refused(f"{vt_symbol} is not the main contract {main}: the AI trades the main contract only",
                          "ai_not_main", vt_symbol=vt_symbol, main=main)
        if params.volume > limits.max_lots_per_order:
            yield Refused(f"{params.volume} lots is above the AI limit of {limits.max_lots_per_order} per order",
                          "ai_volume_limit", volume=params.volume, limit=limits.max_lots_per_order)
        side = params.direction.upper()
        if params.action == "open":
            held, pending = self._held(vt_symbol, side), self._pending_opens(vt_symbol, side)
            if held + pending + params.volume > limits.max_position_lots:
                yield Refused(f"opening {params.volume} would take {side} {vt_symbol} to {held + pending + params.volume:g}"
                              f" lots (held {held:g}, pending opens {pending:g}), above the AI limit of"
                              f" {limits.max_position_lots}", "ai_position_limit", volume=params.volume, held=held,
                              pending=pending, limit=limits.max_position_lots)
        sent = self.guard.orders_last_minute()
        if sent >= limits.max_orders_per_minute:
            yield Refused(f"{sent} AI orders sent in the last minute: the limit is {limits.max_orders_per_minute}"
                          " per minute; try again later", "ai_rate_limit", sent=sent,
                          limit=limits.max_orders_per_minute)
        pnl = self._day_pnl()
        if pnl is not None and self.guard.loss_reached(pnl):
            yield Refused(f"AI trading stops for the day: {self.guard.loss_reason(pnl)}", "ai_daily_loss",
                          day_pnl=pnl, limit=limits.max_daily_loss)
        plan = params.exit_plan
        levels = plan is not None and (plan.stop_loss is not None or plan.take_profit is not None)
        if limits.require_exit_plan and params.action == "open" and not levels:
            yield Refused("an exit plan with a stop_loss or a take_profit is required for every open"
                          " (config ai.require_exit_plan)", "ai_exit_plan_required")
        if plan is not None and (problem := self._level_problem(vt_symbol, side, plan)):
            yield problem

    def _level_problem(self, vt_symbol: str, side: str, plan: ExitPlan) -> Refused | None:
        tick = self.main_engine.get_tick(vt_symbol)
        last = tick.last_price if tick else None
        if why := level_problem(side, plan.stop_loss, plan.take_profit, last):
            return Refused(f"invalid exit plan: {why}", "ai_exit_plan_invalid", detail=why,
                           last=last if last else 0.0)
        return None

    def _held(self, vt_symbol: str, side: str) -> float:
        return self.orders.closable(vt_symbol)[side]["volume"]

    def _pending_opens(self, vt_symbol: str, side: str) -> float:
        direction = Direction[side]
        return sum(o.volume - o.traded for o in self.main_engine.get_all_active_orders()
                   if o.vt_symbol == vt_symbol and o.direction == direction and o.offset == Offset.OPEN)

    def _set_plan(self, vt_symbol: str, direction: str, plan: ExitPlan, tool_call_id: str) -> ExitPlanState:
        side = "LONG" if direction == "long" else "SHORT"
        return self.exit_plans.set(vt_symbol, side, plan, tool_call_id, held=self._held(vt_symbol, side) > 0)

    # ------------------------------------------------------------ daily loss (event thread)
    def _day_pnl(self) -> float | None:
        accounts = self.main_engine.get_all_accounts()
        return self.guard.note_account(accounts[0]) if accounts else self.guard.day_pnl

    def _on_account(self, event: Event) -> None:
        pnl = self.guard.note_account(event.data)
        if self.guard.trip_due():
            self._trip(pnl)

    def _trip(self, pnl: float) -> None:
        """The daily-loss limit is reached: AI off (with the reason), one risk event, the state published."""
        reason = self.guard.loss_reason(pnl)
        if self.guard.trip(pnl):
            self.report("ai_switch", f"AI trading switched off: {reason}", "ERROR", enabled=False, day_pnl=pnl,
                        limit=self.guard.config.max_daily_loss)
        self.risk.raise_event(RiskEventType.AI_DAILY_LOSS, f"AI trading switched off: {reason}",
                              key=f"AI_DAILY_LOSS:{self.risk.trading_day()}", severity="CRITICAL",
                              window_s=DAILY_LOSS_WINDOW_S, day_pnl=pnl, limit=self.guard.config.max_daily_loss)
        self.publish_state(event=True)

    # ------------------------------------------------------------ state (any thread: only queues)
    def state(self) -> AiState:
        enabled, reason, changed_ms = self.guard.switch_state()
        pnl = self.guard.day_pnl
        return AiState(enabled=enabled, reason=reason, changed_ms=changed_ms, gateway=self.guard.gateway,
                       live_account=self.guard.live_account, live_trading_allowed=self.guard.config.live_trading,
                       limits=self.guard.limits(), day_pnl=pnl if pnl is not None else 0.0,
                       orders_last_minute=self.guard.orders_last_minute(), exit_plans=self.exit_plans.states(),
                       ts_ms=self.clock.now_ms())

    def publish_state(self, event: bool = False) -> None:
        """To the AI state key; with `event`, also pushed to the pages (event "ai_state")."""
        state = self.state()
        self._publish_state(state.to_json())
        if event:
            self._publish_event("ai_state", state.model_dump(mode="json"))

    def on_change(self) -> None:
        self.publish_state(event=True)
