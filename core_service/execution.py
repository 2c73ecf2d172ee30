"""Follow-up of the orders the app sends itself: timeout -> cancel -> reprice -> retry -> fallback.

An operator close (and later an AI entry) is followed leg by leg (vnpy splits a SHFE close into
close-today and close-yesterday orders). Every step is an execution report (MySQL + the pages):
SUBMITTED, PARTIALLY_FILLED, FILLED, TIMEOUT, CANCELLED, REPRICED, FALLBACK, REJECTED, GAVE_UP,
POSITION_CLOSED. A leg unfilled after `timeout_s` (or a partial fill stalled for
`partial_fill_timeout_s`) is cancelled; once the cancel is confirmed, the rest (volume - traded) is
sent again `reprice_ticks` nearer the market, up to `max_retries` times, then at the daily limit
price (`fallback_to_limit`) or given up. Nothing is sent twice: a leg is re-sent only after its
CANCELLED arrived, and only for what it did not fill. Strategy orders keep vnpy's CTA semantics: an
order still active after `strategy_order_timeout_s` is reported (ORDER_TIMEOUT), never repriced.

Threads: order updates arrive on the recorder's dispatcher thread (state changes only); the checker
thread finds what is due; sends and cancels run on vnpy's event thread (EventThreadRunner). What is
followed lives in memory: after a restart nothing is followed any more.
"""

from __future__ import annotations

import logging
import threading
from copy import copy
from typing import Any

from vnpy.trader.constant import Direction, Offset, Status
from vnpy.trader.engine import MainEngine
from vnpy.trader.object import OrderData, OrderRequest

from common.clock import LIVE, Clock
from common.config import ExecutionConfig
from common.contract import ExecutionReport, ExecutionSource, ExecutionStep, RiskEventType, RiskSeverity
from common.lifecycle import LoopThread
from core_service.commands import EventThreadRunner, Failed
from core_service.cta import ArbigCtaEngine
from core_service.execution_legs import Leg, LegState, Run, fallback_price, reprice
from core_service.risk_events import RiskDesk
from core_service.strategy_orders import StrategyOrderWatch

log = logging.getLogger(__name__)

CHECK_S = 0.2  # how often the checker looks for due timeouts and re-sends
CANCEL_AGAIN_S = 5.0  # a cancel not confirmed this long (and at least timeout_s) is sent again
KEEP_FINISHED_S = 600.0  # finished executions are kept this long: a late update is still accounted
JOB_TIMEOUT_S = 5.0  # the event thread busy longer: the job is dropped and tried on the next check
EPS = 1e-9


__all__ = ["Execution", "fallback_price", "reprice"]


class Execution:
    def __init__(self, config: ExecutionConfig, main_engine: MainEngine, cta: ArbigCtaEngine,
                 runner: EventThreadRunner, risk: RiskDesk, gateway_name: str, clock: Clock = LIVE) -> None:
        self.config = config
        self.main_engine = main_engine
        self.cta = cta
        self.runner = runner
        self.risk = risk
        self.gateway_name = gateway_name
        self.clock = clock
        self._lock = threading.RLock()
        self._runs: dict[str, Run] = {}
        self._legs: dict[str, Leg] = {}  # vt_orderid -> leg (also of finished runs, for late updates)
        self.strategy_orders = StrategyOrderWatch(config, main_engine, cta, risk)
        self._thread = LoopThread("arbig-execution", what="execution: the follow-up check", interval_s=CHECK_S,
                                  step=self.check, logger=log)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._thread.stop(timeout)

    # ------------------------------------------------------------ registering (event thread)
    def follow(
        self,
        execution_id: str,
        source: ExecutionSource,
        orders: list[tuple[str, OrderRequest]],
        marketable: bool = False,
    ) -> None:
        """Follow the orders just sent for one request (call on the event thread, right after send_order)."""
        if not orders:
            return
        vt_symbol = orders[0][1].vt_symbol
        contract = self.main_engine.get_contract(vt_symbol)
        target = sum(req.volume for _, req in orders)
        run = Run(
            execution_id, source, vt_symbol, target, contract.pricetick if contract else 0.0, marketable
        )
        now = self.clock.monotonic()
        with self._lock:
            self._runs[execution_id] = run
            for vt_orderid, req in orders:
                leg = self._add_leg(run, vt_orderid, req, 0, now)
                self._report(
                    leg, ExecutionStep.SUBMITTED, f"followed up (timeout {self.config.timeout_s:g} s)"
                )

    def _add_leg(self, run: Run, vt_orderid: str, req: OrderRequest, attempt: int, now: float) -> Leg:
        leg = Leg(run, vt_orderid, req, attempt, now, now)
        run.legs.append(leg)
        self._legs[vt_orderid] = leg
        return leg

    def give_up_all(self, reason: str) -> list[str]:
        """Stop following every run (emergency stop): their orders' cancels are final, nothing is re-sent."""
        stopped = []
        with self._lock:
            for run in self._runs.values():
                live = run.live()
                if not live:
                    continue
                for leg in live:
                    self._stop_leg(leg, cancel_sent_at=self.clock.monotonic())  # the emergency stop cancels them
                rest = sum(leg.rest for leg in live)
                self._report(live[-1], ExecutionStep.GAVE_UP, f"follow-up stopped: {reason}", volume=rest)
                stopped.append(run.execution_id)
        return stopped

    # ------------------------------------------------------------ order updates (dispatcher thread)
    def on_order(self, order: OrderData) -> None:
        with self._lock:
            leg = self._legs.get(order.vt_orderid)
            if leg is not None:
                self._update(leg, order)

    def _update(self, leg: Leg, order: OrderData) -> None:
        if order.traded > leg.traded + EPS:
            late = leg.state not in (LegState.ACTIVE, LegState.CANCELLING)
            leg.traded, leg.changed_at = order.traded, self.clock.monotonic()
            step = ExecutionStep.FILLED if leg.rest <= EPS else ExecutionStep.PARTIALLY_FILLED
            why = "late fill after the cancel" if late else f"{order.traded:g} of {leg.volume:g} filled"
            self._report(leg, step, why)
        if order.status == Status.REJECTED and leg.state in (LegState.ACTIVE, LegState.CANCELLING):
            reason = str((order.extra or {}).get("reason", "")) or "see the system log"
            leg.state = LegState.DONE
            self._report(leg, ExecutionStep.REJECTED, f"rejected by the broker: {reason}")
            self._risk(RiskEventType.ORDER_REJECTED, leg, f"rejected: {reason}", reason=reason)
        elif order.status == Status.CANCELLED and leg.state in (LegState.ACTIVE, LegState.CANCELLING):
            self._cancelled(leg)
        elif order.status == Status.ALLTRADED and leg.state in (LegState.ACTIVE, LegState.CANCELLING):
            leg.state = LegState.DONE
        self._settle(leg.run)

    def _cancelled(self, leg: Leg) -> None:
        asked = leg.state == LegState.CANCELLING
        resend = asked and leg.resend and leg.rest > EPS and not leg.run.closed
        leg.state = LegState.RESEND if resend else LegState.DONE
        why = "cancelled after the timeout" if resend else "cancelled as asked, nothing more is sent"
        if not asked:
            why = "cancelled, not by the follow-up (another terminal, the exchange): no longer followed"
        self._report(leg, ExecutionStep.CANCELLED, why)

    @staticmethod
    def _stop_leg(leg: Leg, cancel_sent_at: float = 0.0) -> None:
        """Nothing more is sent for this leg; a working order is cancelled (by the checker unless
        `cancel_sent_at` says someone else just did), and that cancel is final."""
        if leg.state in (LegState.RESEND, LegState.SENDING):
            leg.state = LegState.DONE
        elif leg.state == LegState.ACTIVE:
            leg.state, leg.resend, leg.cancel_at = LegState.CANCELLING, False, cancel_sent_at
        else:
            leg.resend = False

    def _settle(self, run: Run) -> None:
        """Every lot asked for is filled: POSITION_CLOSED (once); any order still working is cancelled."""
        if not run.closed and run.filled() >= run.target - EPS:
            run.closed = True
            last = max(run.legs, key=lambda leg: leg.changed_at)
            why = f"all {run.target:g} lots filled in {len(run.legs)} order(s)"
            self._report(last, ExecutionStep.POSITION_CLOSED, why, volume=run.target, traded=run.filled())
            for leg in run.live():
                self._stop_leg(leg)  # over-filled by a late fill: nothing more is needed
        if not run.live() and run.finished_at is None:
            run.finished_at = self.clock.monotonic()

    # ------------------------------------------------------------ checker thread
    def check(self, now: float | None = None) -> None:
        """Time out what is due, re-send what was cancelled, report stalled strategy orders."""
        now = self.clock.monotonic() if now is None else now
        cancels, resends = self._due(now)
        for leg in cancels:
            self._on_event_thread(lambda leg=leg: self._cancel(leg), f"cancel of {leg.vt_orderid}")
        for leg in resends:
            if not self._on_event_thread(lambda leg=leg: self._resend(leg), f"re-send of {leg.vt_orderid}"):
                with self._lock:
                    if leg.state == LegState.SENDING:
                        leg.state = LegState.RESEND  # the job never ran: try again on the next check
        self.strategy_orders.check(now)
        self._forget_finished(now)

    def _due(self, now: float) -> tuple[list[Leg], list[Leg]]:
        cancels, resends = [], []
        cancel_again = max(self.config.timeout_s, CANCEL_AGAIN_S)
        with self._lock:
            for leg in list(self._legs.values()):
                if leg.state == LegState.ACTIVE and (why := self._overdue(leg, now)):
                    if leg.attempt > self.config.max_retries:  # the fallback order: nothing better exists
                        self._fallback_overdue(leg)
                        continue
                    self._timeout(leg, why)
                    leg.state, leg.cancel_at = LegState.CANCELLING, now
                    cancels.append(leg)
                elif leg.state == LegState.CANCELLING and now - leg.cancel_at >= cancel_again:
                    if leg.cancel_at:
                        waited = now - leg.cancel_at
                        log.warning(
                            "execution: cancel of %s not confirmed in %.0f s: sent again",
                            leg.vt_orderid,
                            waited,
                        )
                    leg.cancel_at = now
                    cancels.append(leg)
                elif leg.state == LegState.RESEND:
                    leg.state = LegState.SENDING
                    resends.append(leg)
        return cancels, resends

    def _overdue(self, leg: Leg, now: float) -> str:
        """Why the leg is overdue ("" when it is not): unfilled past timeout_s, or a partial fill stalled."""
        if leg.traded > EPS:
            if now - leg.changed_at < self.config.partial_fill_timeout_s:
                return ""
            stalled = now - leg.changed_at
            return f"partial fill stalled: {leg.traded:g} of {leg.volume:g} filled, none for {stalled:.1f} s"
        if now - leg.sent_at < self.config.timeout_s:
            return ""
        return f"unfilled after {now - leg.sent_at:.1f} s"

    def _timeout(self, leg: Leg, why: str) -> None:
        self._report(leg, ExecutionStep.TIMEOUT, f"{why}: cancel sent")
        if leg.traded > EPS:
            self._risk(
                RiskEventType.ORDER_PARTIAL_FILL,
                leg,
                f"{why}; the rest is cancelled and sent again",
                traded=leg.traded,
                volume=leg.volume,
            )

    def _fallback_overdue(self, leg: Leg) -> None:
        """The fallback order (at the daily limit) is still unfilled: nothing more aggressive exists."""
        if leg.overdue_reported:
            return
        leg.overdue_reported = True
        self._risk(
            RiskEventType.ORDER_TIMEOUT,
            leg,
            f"at the daily limit {leg.request.price:g} still has "
            f"{leg.rest:g} of {leg.volume:g} unfilled; left working (no better price exists)",
            "CRITICAL",
        )

    def _on_event_thread(self, job: Any, what: str) -> bool:
        """Run `job` on vnpy's event thread; False when it never ran (the thread was busy)."""
        try:
            self.runner.run(lambda: job() or {}, JOB_TIMEOUT_S)
            return True
        except Failed as exc:
            log.warning("execution: %s not done now: %s; retried on the next check", what, exc)
            return False

    # ------------------------------------------------------------ on vnpy's event thread
    def _cancel(self, leg: Leg) -> None:
        order = self.main_engine.get_order(leg.vt_orderid)
        if order is None or not order.is_active():
            return  # its final state is on the way to on_order
        self.main_engine.cancel_order(order.create_cancel_request(), order.gateway_name)

    def _resend(self, leg: Leg) -> None:
        with self._lock:
            if leg.state != LegState.SENDING:
                return  # stopped meanwhile (emergency stop, position closed by a late fill)
        run, rest = leg.run, leg.rest
        if why := self._position_gone(leg, rest):
            return self._give_up(leg, why, risk=False)
        attempt = leg.attempt + 1
        tick = self.main_engine.get_tick(run.vt_symbol)
        direction = leg.request.direction
        if attempt <= self.config.max_retries:
            step = ExecutionStep.REPRICED
            ticks = self.config.reprice_ticks
            price = reprice(direction, leg.request.price, ticks, run.pricetick, tick, run.marketable)
        elif self.config.fallback_to_limit:
            step, limit = ExecutionStep.FALLBACK, fallback_price(direction, tick)
            if limit is None:
                return self._give_up(leg, "no daily limit price known (no tick) for the fallback", risk=True)
            price = limit
        else:
            return self._give_up(leg, f"{self.config.max_retries} retries spent, no fallback", risk=True)
        req = copy(leg.request)
        req.price, req.volume = price, rest
        vt_orderid = self.main_engine.send_order(req, self.gateway_name)
        if not vt_orderid:
            return self._give_up(leg, f"the gateway refused the {step.value} order (system log)", risk=True)
        self.main_engine.update_order_request(req, vt_orderid, self.gateway_name)
        with self._lock:
            leg.state = LegState.DONE  # replaced
            new = self._add_leg(run, vt_orderid, req, attempt, self.clock.monotonic())
            self._report(
                new, step, f"rest of {leg.vt_orderid} sent again at {price:g} (was {leg.request.price:g})"
            )
            self._settle(run)

    def _position_gone(self, leg: Leg, rest: float) -> str:
        """Why the rest cannot be closed any more ("" when it can): the position was closed elsewhere."""
        req = leg.request
        if req.offset == Offset.OPEN:
            return ""
        converter = self.main_engine.get_converter(self.gateway_name)
        holding = converter.get_position_holding(req.vt_symbol) if converter else None
        if holding is None:
            return ""
        side = "short" if req.direction == Direction.LONG else "long"  # the position this order closes
        td = getattr(holding, f"{side}_td") - getattr(holding, f"{side}_td_frozen")
        yd = getattr(holding, f"{side}_yd") - getattr(holding, f"{side}_yd_frozen")
        closable = {Offset.CLOSETODAY: td, Offset.CLOSEYESTERDAY: yd}.get(req.offset, td + yd)
        if closable >= rest - EPS:
            return ""
        where = f"{closable:g} {side.upper()} closable by {req.offset.name}"
        return f"the position is gone (closed elsewhere?): {where}, {rest:g} to close"

    def _give_up(self, leg: Leg, why: str, risk: bool) -> None:
        with self._lock:
            leg.state = LegState.DONE
            self._report(leg, ExecutionStep.GAVE_UP, why, volume=leg.rest)
            self._settle(leg.run)
        if risk:
            self._risk(
                RiskEventType.ORDER_TIMEOUT,
                leg,
                f"not filled, {leg.rest:g} lots left unsent: {why}",
                "CRITICAL",
                rest=leg.rest,
            )

    def _forget_finished(self, now: float) -> None:
        with self._lock:
            for execution_id, run in list(self._runs.items()):
                if run.finished_at is not None and now - run.finished_at > KEEP_FINISHED_S:
                    del self._runs[execution_id]
                    for leg in run.legs:
                        self._legs.pop(leg.vt_orderid, None)

    # ------------------------------------------------------------ reports
    def _risk(self, kind: RiskEventType, leg: Leg, message: str, severity: RiskSeverity = "WARNING",
              **detail: Any) -> None:
        """A risk event about one followed order, raised once per order."""
        run = leg.run
        text = f"{run.source} order {leg.vt_orderid} ({leg.request.offset.name} {run.vt_symbol}): {message}"
        ids = {"symbol": run.vt_symbol, "execution_id": run.execution_id, "vt_orderid": leg.vt_orderid}
        self.risk.raise_event(kind, text, key=f"{kind.value}:{leg.vt_orderid}", severity=severity, **ids, **detail)

    def _report(self, leg: Leg, step: ExecutionStep, message: str, volume: float | None = None,
                traded: float | None = None) -> None:
        req, run = leg.request, leg.run
        self.risk.execution(ExecutionReport(
            trading_day=self.risk.trading_day(), execution_id=run.execution_id, source=run.source,
            vt_symbol=run.vt_symbol, direction=req.direction.name, offset=req.offset.name, step=step,
            vt_orderid=leg.vt_orderid, price=req.price, volume=leg.volume if volume is None else volume,
            traded=leg.traded if traded is None else traded, attempt=leg.attempt, message=message))
