"""Following the orders a CLI command sent until each request's outcome is known.

Each request (an order ticket, a close, one close of a flatten) is a `Group`: the order ids the
core answered with, plus the orders its follow-up sends later (an unfilled MARKET order is timed
out, cancelled and sent again nearer the market: execution steps TIMEOUT, CANCELLED, REPRICED or
FALLBACK, GAVE_UP, POSITION_CLOSED). Order states come from the events stream (every change, read
from where it ended before the command was sent) and the orders hash (the latest state: a change
the stream no longer holds is not missed). A group is finished when all its lots are filled, or
when none of its orders works any more and no re-send is due; anything else is still working.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from pydantic import ValidationError

from common.clock import LIVE, Clock
from common.contract import ExecutionReport, ExecutionStep, Keys, OrderState
from core_service.cli_orders_format import Outcome, format_order_change, format_step

FINAL = frozenset({"ALLTRADED", "CANCELLED", "REJECTED"})
RANK = {"SUBMITTING": 0, "NOTTRADED": 1, "PARTTRADED": 2}  # a final status ranks above them all
RESENDS = frozenset({ExecutionStep.REPRICED, ExecutionStep.FALLBACK})
BLOCK_MS = 200  # one read of the events stream waits at most this long
EPS = 1e-9


@dataclass
class Group:
    """One request followed: its orders and what its follow-up (if any) reported."""

    label: str
    target: float
    execution_id: str
    order_ids: list[str]
    timed_out: set[str] = field(default_factory=set)  # orders the follow-up cancelled to send again
    answers: int = 0  # re-sends and give-ups reported (each answers one timed-out order)
    gave_up: str = ""
    closed: bool = False  # POSITION_CLOSED: every lot asked for is filled

    def step(self, report: ExecutionReport) -> None:
        if report.step == ExecutionStep.TIMEOUT:
            self.timed_out.add(report.vt_orderid)
        elif report.step in RESENDS:
            self.answers += 1
            if report.vt_orderid and report.vt_orderid not in self.order_ids:
                self.order_ids.append(report.vt_orderid)
        elif report.step == ExecutionStep.GAVE_UP:
            self.answers += 1
            self.gave_up = report.message or "no reason given"
        elif report.step == ExecutionStep.POSITION_CLOSED:
            self.closed = True

    def outcome(self, orders: dict[str, OrderState]) -> Outcome:
        known = [orders[oid] for oid in self.order_ids if oid in orders]
        traded = sum(state.traded for state in known)
        outcome = Outcome(self.label, self.target, traded, "working")
        if self.closed or (self.target > 0 and traded >= self.target - EPS):
            outcome.status = "filled"
            return outcome
        outcome.working = [state for state in known if state.status not in FINAL]
        unknown = len(known) < len(self.order_ids)
        outcome.resend_pending = self._resend_pending(orders)
        if outcome.working or unknown or outcome.resend_pending:
            return outcome
        rejected = [s for s in known if s.status == "REJECTED"]
        outcome.reasons = [f"{s.vt_orderid} rejected: {s.reason or 'no reason given'}" for s in rejected]
        if self.gave_up:
            outcome.reasons.append(f"the follow-up gave up: {self.gave_up}")
        outcome.reasons += [f"{s.vt_orderid} cancelled after {s.traded:g} of {s.volume:g}" for s in known
                            if s.status == "CANCELLED" and s.vt_orderid not in self.timed_out]  # fmt: skip
        outcome.status = "rejected" if rejected else "gave up" if self.gave_up else "cancelled"
        return outcome

    def _resend_pending(self, orders: dict[str, OrderState]) -> bool:
        """The follow-up cancelled an order to send its rest again and has not done so yet."""
        if not self.execution_id or self.gave_up:
            return False
        awaiting = sum(1 for oid in self.timed_out
                       if oid in orders and orders[oid].status == "CANCELLED"
                       and orders[oid].traded < orders[oid].volume - EPS)  # fmt: skip
        return awaiting > self.answers


class Follower:
    def __init__(self, client: redis.Redis, keys: Keys, since: str, say: Callable[[str], None],
                 clock: Clock = LIVE) -> None:
        self.client = client
        self.clock = clock
        self.keys = keys
        self.since = since  # the events stream's last id read
        self.say = say
        self.orders: dict[str, OrderState] = {}
        self.groups: list[Group] = []

    @classmethod
    def start(cls, client: redis.Redis, keys: Keys, say: Callable[[str], None], clock: Clock = LIVE) -> Follower:
        """Mark the stream's end now, before the command is sent: none of its events is missed."""
        last = client.xrevrange(keys.events, count=1)
        return cls(client, keys, str(last[0][0]) if last else "0-0", say, clock)

    def close(self) -> None:
        self.client.close()

    def follow(self, groups: list[Group], wait_s: float) -> list[Outcome]:
        """Print every change until each group is finished or `wait_s` has passed; the outcomes."""
        self.groups = groups
        deadline = self.clock.monotonic() + wait_s
        while True:
            remaining = deadline - self.clock.monotonic()
            self._read_stream(max(1, min(BLOCK_MS, int(remaining * 1000))))
            self._read_hash()
            outcomes = [group.outcome(self.orders) for group in groups]
            if all(o.finished for o in outcomes) or self.clock.monotonic() >= deadline:
                return outcomes

    # ------------------------------------------------------------ reading
    def _tracked(self, vt_orderid: str) -> bool:
        return any(vt_orderid in group.order_ids for group in self.groups)

    def _read_stream(self, block_ms: int) -> None:
        got = self.client.xread({self.keys.events: self.since}, count=500, block=block_ms)
        for _stream, entries in got or []:
            for entry_id, fields in entries:
                self.since = str(entry_id)
                self._event(fields.get("json", ""))

    def _event(self, text: str) -> None:
        try:
            event: dict[str, Any] = json.loads(text)
            kind, data = event.get("type"), event.get("data") or {}
            if kind == "execution":
                self._report(ExecutionReport.model_validate(data))
            elif kind == "order" and self._tracked(str(data.get("vt_orderid"))):
                self._order(OrderState.model_validate(data))
        except (ValueError, ValidationError, AttributeError):
            return  # not an event this follower reads

    def _report(self, report: ExecutionReport) -> None:
        for group in self.groups:
            if group.execution_id and group.execution_id == report.execution_id:
                group.step(report)
                if line := format_step(report):
                    self.say(line)

    def _read_hash(self) -> None:
        ids = [oid for group in self.groups for oid in group.order_ids
               if oid not in self.orders or self.orders[oid].status not in FINAL]  # fmt: skip
        if not ids:
            return
        for raw in self.client.hmget(self.keys.orders, ids):
            if raw:
                try:
                    self._order(OrderState.model_validate_json(raw))
                except ValidationError:
                    continue

    def _order(self, state: OrderState) -> None:
        """A state of a followed order: kept and printed when it moves forward."""
        before = self.orders.get(state.vt_orderid)
        if before is not None:
            if (before.status, before.traded) == (state.status, state.traded):
                return
            if before.status in FINAL or state.traded < before.traded or _rank(state) < _rank(before):
                return  # an older state arriving late (the hash can be read before the stream)
        self.orders[state.vt_orderid] = state
        self.say(format_order_change(state))


def _rank(state: OrderState) -> int:
    return RANK.get(state.status, len(RANK))
