"""The AI agent's exit plans: one per held contract and direction, enforced on every tick.

A plan (stop_loss, take_profit, invalidation, the tool call that set it) is kept in memory keyed
(vt_symbol, "LONG" | "SHORT"), written to MySQL `exit_plans` (exit_plan_rows.py, off the event thread)
and loaded back at the core's start, so a restart keeps the plans of the positions still held.

Enforcement runs on vnpy's event thread (EVENT_TICK: a dict lookup per tick, no I/O): LONG closes when
last <= stop_loss (stop_loss) or last >= take_profit (take_profit), SHORT the other way. The close is a
MARKET close of the closable volume through ManualOrders (the same plan as the operator's: close-today /
close-yesterday split, session, limits), followed up by execution.py, with the reference
`exit_reference(reason, tool_call_id)`. The plan is then marked triggered and never fires again; a close
that could not be sent (market closed, not ready, nothing closable) is tried again at most every 5 s.

A plan goes only when a position event shows its contract and direction at volume 0 after it was held
(never on a trade event: the recorder reads the plan on the closing fill). A plan whose position was
never seen held (an entry that did not fill, a plan loaded after a restart for a position closed
meanwhile) goes once the gateway has reported the account for `GRACE_S` with no position and no
pending open in that direction.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Direction, Offset
from vnpy.trader.engine import MainEngine
from vnpy.trader.event import EVENT_POSITION, EVENT_TICK, EVENT_TIMER
from vnpy.trader.object import PositionData, TickData

from common.clock import Clock
from common.contract import ExitPlan, ExitPlanState, OrderSendParams, exit_reference
from core_service.commands import Failed, Refused
from core_service.exit_plan_rows import ExitPlanRows
from core_service.manual_orders import ManualOrders, opposite

log = logging.getLogger(__name__)

RETRY_S = 5.0  # a close that could not be sent is tried again after this long
SWEEP_S = 5.0  # how often plans never seen held are looked at
GRACE_S = 15.0  # ... and how long they are kept while the account shows no position
Key = tuple[str, str]  # (vt_symbol, LONG | SHORT)
Side = Literal["LONG", "SHORT"]
Report = Callable[..., None]  # recorder.system_event(kind, message, level, **detail)


def crossed(plan: ExitPlanState, last: float) -> Literal["stop_loss", "take_profit"] | None:
    """The level the last price has reached, if any."""
    if plan.direction == "LONG":
        if plan.stop_loss is not None and last <= plan.stop_loss:
            return "stop_loss"
        if plan.take_profit is not None and last >= plan.take_profit:
            return "take_profit"
        return None
    if plan.stop_loss is not None and last >= plan.stop_loss:
        return "stop_loss"
    if plan.take_profit is not None and last <= plan.take_profit:
        return "take_profit"
    return None


def level_problem(direction: str, stop_loss: float | None, take_profit: float | None, last: float | None) -> str:
    """Why the levels cannot stand against the last price ("" when they can): a LONG's stop loss below
    and its take profit above the last price, a SHORT's the other way (else it would fire at once)."""
    if stop_loss is None and take_profit is None:
        return ""
    if not last:
        return "no last price yet to check the exit levels against"
    below, above = ("stop_loss", "take_profit") if direction == "LONG" else ("take_profit", "stop_loss")
    levels = {"stop_loss": stop_loss, "take_profit": take_profit}
    if (low := levels[below]) is not None and low >= last:
        return f"{direction} {below} {low:g} must be below the last price {last:g}"
    if (high := levels[above]) is not None and high <= last:
        return f"{direction} {above} {high:g} must be above the last price {last:g}"
    return ""


@dataclass
class _Plan:
    state: ExitPlanState
    held: bool  # its position has been seen with a volume
    since: float  # when it was set (monotonic): the grace of a plan never seen held
    retry_at: float = 0.0  # a close that could not be sent: not again before this


class ExitPlans:
    def __init__(self, event_engine: EventEngine, main_engine: MainEngine, gateway_name: str,
                 db_connect: Callable[[], Any], clock: Clock) -> None:
        self.event_engine = event_engine
        self.main_engine = main_engine
        self.gateway_name = gateway_name
        self.clock = clock
        self.rows = ExitPlanRows(gateway_name, db_connect)
        self._plans: dict[Key, _Plan] = {}
        self._lock = threading.Lock()
        self._orders: ManualOrders | None = None
        self._report: Report = lambda kind, message, level="INFO", **detail: None
        self._on_change: Callable[[], None] = lambda: None
        self._ready: Callable[[], bool] = lambda: False
        self._ready_since: float | None = None
        self._next_sweep = 0.0
        self._handlers = ((EVENT_TICK, self._on_tick), (EVENT_POSITION, self._on_position), (EVENT_TIMER, self._on_timer))

    def attach(self, orders: ManualOrders, report: Report, on_change: Callable[[], None],
               ready: Callable[[], bool]) -> None:
        """What sends the closes, records system events, publishes a change (any thread: must not
        block) and says the gateway has reported the account (positions known)."""
        self._orders, self._report, self._on_change, self._ready = orders, report, on_change, ready

    # ------------------------------------------------------------ lifecycle
    def load(self) -> int:
        """The plans MySQL holds for this gateway (at start, before the gateway connects)."""
        try:
            loaded = self.rows.load()
        except Exception as exc:  # MySQL down: start without them (the agent can set them again)
            log.error("exit plans: could not load them from MySQL (%s: %s); none in force", type(exc).__name__, exc)
            self._report("exit_plan", f"exit plans could not be loaded from MySQL ({type(exc).__name__}); none"
                                      " in force until set again", "ERROR")
            return 0
        now = self.clock.monotonic()
        with self._lock:
            for state in loaded:
                self._plans[(state.vt_symbol, state.direction)] = _Plan(state, held=False, since=now)
        if loaded:
            log.info("exit plans loaded: %s", [f"{s.vt_symbol} {s.direction}" for s in loaded])
        return len(loaded)

    def start(self) -> None:
        for event_type, handler in self._handlers:
            self.event_engine.register(event_type, handler)
        self.rows.start()

    def stop(self) -> None:
        for event_type, handler in self._handlers:
            self.event_engine.unregister(event_type, handler)
        self.rows.stop(timeout=3.0)  # writes what is still dirty

    # ------------------------------------------------------------ reading (any thread)
    def plan_of(self, vt_symbol: str, direction: str) -> dict[str, Any] | None:
        """The plan in force on the held `direction` of `vt_symbol` (a copy, the ExitPlan JSON plus
        tool_call_id and triggered), or None."""
        with self._lock:
            plan = self._plans.get((vt_symbol, direction))
            state = plan.state if plan else None
        if state is None:
            return None
        return state.model_dump(include={"stop_loss", "take_profit", "invalidation", "tool_call_id", "triggered"})

    def get(self, vt_symbol: str, direction: str) -> ExitPlanState | None:
        with self._lock:
            plan = self._plans.get((vt_symbol, direction))
            return plan.state if plan else None

    def states(self) -> list[ExitPlanState]:
        with self._lock:
            return [self._plans[key].state for key in sorted(self._plans)]

    # ------------------------------------------------------------ setting (event thread)
    def set(self, vt_symbol: str, direction: Side, plan: ExitPlan, tool_call_id: str, held: bool) -> ExitPlanState:
        """Put `plan` in force on (vt_symbol, direction), replacing any (a triggered one too);
        `held`: the position has a volume now."""
        state = ExitPlanState(vt_symbol=vt_symbol, direction=direction, stop_loss=plan.stop_loss,
                              take_profit=plan.take_profit, invalidation=plan.invalidation,
                              tool_call_id=tool_call_id, set_ms=self.clock.now_ms())
        with self._lock:
            self._plans[(vt_symbol, direction)] = _Plan(state, held=held, since=self.clock.monotonic())
        self.rows.put((vt_symbol, direction), state)
        log.info("exit plan set on %s %s: stop_loss %s take_profit %s (tool call %s)", vt_symbol, direction,
                 plan.stop_loss, plan.take_profit, tool_call_id)
        self._on_change()
        return state

    def clear(self, vt_symbol: str, direction: str, why: str) -> bool:
        with self._lock:
            gone = self._plans.pop((vt_symbol, direction), None)
        if gone is None:
            return False
        self.rows.put((vt_symbol, direction), None)
        log.info("exit plan of %s %s removed: %s", vt_symbol, direction, why)
        self._on_change()
        return True

    # ------------------------------------------------------------ vnpy's event thread
    def _on_tick(self, event: Event) -> None:
        if not self._plans:
            return
        tick: TickData = event.data
        if not tick.last_price:
            return
        for side in ("LONG", "SHORT"):
            with self._lock:
                plan = self._plans.get((tick.vt_symbol, side))
            if plan is None or plan.state.triggered is not None:
                continue
            reason = crossed(plan.state, tick.last_price)
            if reason is not None and self.clock.monotonic() >= plan.retry_at:
                self._fire(plan, reason, tick.last_price)

    def _fire(self, plan: _Plan, reason: Literal["stop_loss", "take_profit"], last: float) -> None:
        state, orders = plan.state, self._orders
        if orders is None:
            return
        plan.retry_at = self.clock.monotonic() + RETRY_S
        closable = int(orders.closable(state.vt_symbol)[state.direction]["closable"])
        what = (f"exit plan {reason} triggered on {state.vt_symbol} {state.direction}: last {last:g} crossed"
                f" {getattr(state, reason):g}")
        if closable <= 0:
            log.info("%s, but nothing is closable now (pending closes?); looking again in %.0f s", what, RETRY_S)
            return
        params = OrderSendParams(vt_symbol=state.vt_symbol, direction=opposite(Direction[state.direction]).name,
                                 offset="CLOSE", volume=closable, price_type="MARKET")
        order_plan = orders.plan(params, reference=exit_reference(reason, state.tool_call_id))
        detail = {"vt_symbol": state.vt_symbol, "direction": state.direction, "reason": reason, "last": last,
                  "exit_level": getattr(state, reason), "volume": closable, "tool_call_id": state.tool_call_id}
        execution_id = f"exit-{uuid.uuid4().hex[:24]}"
        try:
            sent = orders.execute(execution_id, order_plan, source="ai")
        except (Refused, Failed) as exc:
            sent = exc.result if isinstance(exc, Failed) and exc.result.get("orders") else None
            if sent is None:
                self._report("exit_plan", f"{what}; the close could not be sent ({exc}); trying again in"
                                          f" {RETRY_S:.0f} s", "WARNING", **detail, code=exc.code)
                return
        triggered = state.model_copy(update={"triggered": reason})
        with self._lock:
            if self._plans.get((state.vt_symbol, state.direction)) is plan:
                plan.state = triggered
        self.rows.put((state.vt_symbol, state.direction), triggered)
        self._report("exit_plan", f"{what}: MARKET close of {closable} sent", "WARNING", **detail,
                     execution_id=execution_id, orders=[o.get("vt_orderid", "") for o in sent.get("orders", [])])
        self._on_change()

    def _on_position(self, event: Event) -> None:
        position: PositionData = event.data
        key = (position.vt_symbol, position.direction.name)
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                return
            if position.volume > 0:
                plan.held = True
                return
            held = plan.held
        if held:
            self.clear(*key, why="the position is closed")

    def _on_timer(self, event: Event) -> None:
        """Plans never seen held: gone once the account has been reported for GRACE_S without that
        position or a pending open for it."""
        now = self.clock.monotonic()
        if not self._ready():
            self._ready_since = None
            return
        if self._ready_since is None:
            self._ready_since = now
        if not self._plans or now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_S
        with self._lock:
            waiting = [(key, plan) for key, plan in self._plans.items() if not plan.held]
        for key, plan in waiting:
            if now - max(plan.since, self._ready_since) < GRACE_S or self._held_or_opening(*key):
                continue
            self.clear(*key, why=f"no {key[1]} position in {key[0]} (the entry did not fill, or it was closed"
                                 " while the core was away)")

    def _held_or_opening(self, vt_symbol: str, side: str) -> bool:
        direction = Direction[side]
        position = self.main_engine.get_position(f"{self.gateway_name}.{vt_symbol}.{direction.value}")
        if position is not None and position.volume > 0:
            return True
        return any(o.vt_symbol == vt_symbol and o.direction == direction and o.offset == Offset.OPEN
                   for o in self.main_engine.get_all_active_orders())
