"""Orders the operator sends by hand: the order ticket (order.preview / order.send), the close of a
held position (position.close) and the close of every position (positions.flatten).

These run on vnpy's event thread (commands.EventThreadRunner). An order is planned once (`OrderPlan`):
its price, the exact requests (a CLOSE split into close-today / close-yesterday by vnpy's offset
converter), its cost and every reason it would be refused, each a `Refused` with a code the browser
translates. The preview shows the plan; the send sends exactly that plan or refuses with its first
problem, so nothing is sent unless the whole request makes sense. SHFE has no market orders: MARKET
is a limit at the opposite best price plus a few ticks, clamped to the daily limits; without a quote
it is refused (code no_price: give a limit). MARKET orders (and LIMIT with `chase`) are followed up
(execution.py). `stop_strategies` stops the running strategies on the contract before sending; after
the fill, strategy_pos_sync.py brings every strategy's pos to what the account holds.

The AI desk (ai_desk.py) and the exit plans (exit_plans.py) plan and send through the same
`plan` / `execute`, with their own order reference (`ai_reference`, `exit_reference`) and
execution source "ai".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vnpy.trader.constant import Direction, Exchange, Offset, OrderType
from vnpy.trader.engine import MainEngine
from vnpy.trader.object import ContractData, OrderRequest, TickData
from vnpy.trader.utility import round_to

from common.contract import ClosePositionParams, Command, ExecutionSource, FlattenParams, OrderSendParams
from core_service.commands import Failed, Refused
from core_service.cta import ArbigCtaEngine
from core_service.execution import Execution
from core_service.pretrade import MarginGuard, required_funds

log = logging.getLogger(__name__)

MARKET_SLIPPAGE_TICKS = 5
MANUAL_REFERENCE = "ARBIG_operator"
SessionCheck = Callable[[], "Refused | None"]


def opposite(direction: Direction) -> Direction:
    return Direction.SHORT if direction == Direction.LONG else Direction.LONG


def order_dict(req: OrderRequest, vt_orderid: str = "") -> dict[str, Any]:
    row = {"direction": req.direction.name, "offset": req.offset.name, "volume": req.volume, "price": req.price}
    return {"vt_orderid": vt_orderid, **row} if vt_orderid else row


@dataclass
class OrderPlan:
    """One hand order, worked out: what would be sent and why it would not."""

    params: OrderSendParams
    contract: ContractData | None
    tick: TickData | None
    price: float | None = None
    requests: list[OrderRequest] = field(default_factory=list)
    problems: list[Refused] = field(default_factory=list)
    margin: float = 0.0
    commission: float = 0.0
    reference: str = MANUAL_REFERENCE  # the orders' reference (who sent them: the recorder reads it back)

    @property
    def direction(self) -> Direction:
        return Direction[self.params.direction]


class ManualOrders:
    def __init__(self, main_engine: MainEngine, cta: ArbigCtaEngine, margin_guard: MarginGuard | None,
                 not_ready: Callable[[], str], execution: Execution | None,
                 market_closed: SessionCheck = lambda: None,
                 session: Callable[[], dict[str, Any] | None] = lambda: None, needs_tick: bool = False,
                 subscribe: Callable[[str], None] = lambda symbol: None) -> None:
        """`not_ready()`: why the gateway cannot trade ("" when ready); `market_closed()`: a Refused
        (code market_closed) when the exchange is outside its sessions, else None; `session()`: the
        session state shown in the preview; `needs_tick`: the gateway rejects any order in a contract
        it has no quote for yet (the simulator matches against its book), so that is refused here;
        `subscribe(symbol)`: a contract previewed without a quote is subscribed, so the ticket gets one."""
        self.main_engine = main_engine
        self.cta = cta
        self.margin_guard = margin_guard
        self.not_ready = not_ready
        self.execution = execution
        self.market_closed = market_closed
        self.session = session
        self.needs_tick = needs_tick
        self.subscribe = subscribe

    # ------------------------------------------------------------ commands
    def preview(self, command: Command) -> dict[str, Any]:
        plan = self.plan(command.typed_params())
        if plan.contract is not None and plan.tick is None:
            self.subscribe(plan.contract.symbol)  # the ticket's next preview has a quote
        return self.describe(plan)

    def send(self, command: Command) -> dict[str, Any]:
        params: OrderSendParams = command.typed_params()
        return self.execute(command.id, self.plan(params))

    def close_position(self, command: Command) -> dict[str, Any]:
        """Close `volume` of the held `direction`: the order goes the other way, offset CLOSE."""
        params: ClosePositionParams = command.typed_params()
        ticket = OrderSendParams(
            vt_symbol=params.vt_symbol, direction=opposite(Direction[params.direction]).name, offset="CLOSE",
            volume=params.volume, price_type=params.price_type, price=params.price,
            stop_strategies=params.stop_strategies, chase=params.chase)
        return self.execute(command.id, self.plan(ticket))

    def flatten(self, command: Command) -> dict[str, Any]:
        """A MARKET close of every position, exactly the list the operator confirmed (`expect`)."""
        params: FlattenParams = command.typed_params()
        held = self._held_positions()
        expected = {(leg.vt_symbol, leg.direction): leg.volume for leg in params.expect}
        if not held and not expected:
            raise Refused("no position to close", "nothing_to_flatten")
        if held != expected:
            detail = _difference(held, expected)
            raise Refused(f"the positions changed since the confirmation ({detail}); nothing sent, look again",
                          "flatten_changed", detail=detail)
        busy = sorted({o.vt_symbol for o in self.main_engine.get_all_active_orders()
                       if (o.vt_symbol, "LONG") in held or (o.vt_symbol, "SHORT") in held})
        if busy:
            raise Refused(f"orders are still active in {busy[0]}; cancel them (emergency stop) first; nothing sent",
                          "flatten_pending", vt_symbol=busy[0])
        plans = []
        for (vt_symbol, direction), volume in sorted(held.items()):
            ticket = OrderSendParams(vt_symbol=vt_symbol, direction=opposite(Direction[direction]).name,
                                     offset="CLOSE", volume=int(volume), price_type="MARKET")
            plan = self.plan(ticket)
            if plan.problems:
                raise plan.problems[0]
            plans.append(plan)
        closes = []
        for i, plan in enumerate(plans):  # every plan checked before the first order leaves
            sent = self.execute(f"{command.id}-{i + 1}", plan)
            closes.append({"vt_symbol": plan.params.vt_symbol, "direction": opposite(plan.direction).name,
                           "volume": plan.params.volume, "orders": sent["orders"],
                           "execution_id": sent["execution_id"]})
        return {"closes": closes}

    # ------------------------------------------------------------ planning
    def plan(self, params: OrderSendParams, reference: str = MANUAL_REFERENCE) -> OrderPlan:
        """Work out one order: its price, its requests (a CLOSE split by the offset converter), its cost
        and every reason it would be refused (`problems`, first one first). Event thread."""
        contract = self.main_engine.get_contract(params.vt_symbol)
        plan = OrderPlan(params, contract, self.main_engine.get_tick(params.vt_symbol), reference=reference)
        if contract is None:
            plan.problems.append(Refused(f"contract {params.vt_symbol} is not known to the gateway",
                                         "unknown_contract", vt_symbol=params.vt_symbol))
            return plan
        if why := self.not_ready():
            plan.problems.append(Refused(why, "not_ready", why=why))
        if closed := self.market_closed():
            plan.problems.append(closed)
        try:
            plan.price = self._price(plan)
        except Refused as exc:
            plan.problems.append(exc)
            return plan
        self._requests(plan)
        self._costs(plan)
        return plan

    def _price(self, plan: OrderPlan) -> float:
        params, tick = plan.params, plan.tick
        pricetick = plan.contract.pricetick if plan.contract else 0.02
        if params.price_type == "LIMIT" and tick is None and self.needs_tick:
            raise Refused(f"no market data for {params.vt_symbol} yet: the exchange accepts orders after its first"
                          " tick; wait for it", "no_tick", vt_symbol=params.vt_symbol)
        if params.price_type == "LIMIT":
            price = round_to(params.price or 0.0, pricetick)
            if tick and tick.limit_up and not tick.limit_down <= price <= tick.limit_up:
                raise Refused(f"price {price:.2f} is outside today's limits {tick.limit_down:.2f}-{tick.limit_up:.2f}",
                              "outside_limits", price=f"{price:.2f}", low=f"{tick.limit_down:.2f}",
                              high=f"{tick.limit_up:.2f}")
            return price
        if tick is None or not tick.bid_price_1 or not tick.ask_price_1:
            raise Refused(f"no market data for {params.vt_symbol} yet: a MARKET order needs a current bid/ask;"
                          " give a limit price", "no_price", vt_symbol=params.vt_symbol)
        slip = MARKET_SLIPPAGE_TICKS * pricetick
        if plan.direction == Direction.LONG:
            price = tick.ask_price_1 + slip
            return round_to(min(price, tick.limit_up) if tick.limit_up else price, pricetick)
        price = tick.bid_price_1 - slip
        return round_to(max(price, tick.limit_down) if tick.limit_down else price, pricetick)

    def _requests(self, plan: OrderPlan) -> None:
        params, contract = plan.params, plan.contract
        assert contract is not None and plan.price is not None
        request = OrderRequest(
            symbol=contract.symbol, exchange=Exchange(contract.exchange.value), direction=plan.direction,
            offset=Offset[params.offset], type=OrderType.LIMIT, price=plan.price, volume=params.volume,
            reference=plan.reference)
        if request.offset == Offset.OPEN:
            plan.requests = [request]
            return
        held = opposite(plan.direction)
        closable = self.closable(params.vt_symbol).get(held.name, {})
        available = {Offset.CLOSE: "closable", Offset.CLOSETODAY: "td", Offset.CLOSEYESTERDAY: "yd"}[request.offset]
        if params.volume > closable.get(available, 0):
            plan.problems.append(Refused(
                f"cannot close {params.volume} {held.name} {params.vt_symbol}: only {closable.get(available, 0):g}"
                f" closable{'' if available == 'closable' else ' ' + request.offset.name} (held"
                f" {closable.get('volume', 0):g}, frozen by pending closes {closable.get('frozen', 0):g})",
                "not_closable", volume=params.volume, direction=held.name, vt_symbol=params.vt_symbol,
                closable=closable.get(available, 0), held=closable.get("volume", 0),
                frozen=closable.get("frozen", 0)))
            return
        if request.offset != Offset.CLOSE:
            plan.requests = [request]
            return
        plan.requests = self.main_engine.convert_order_request(request, contract.gateway_name, False, False)
        if not plan.requests:
            plan.problems.append(Refused(
                f"the offset converter produced no order for closing {params.volume} {held.name}"
                f" {params.vt_symbol}: not enough closable volume", "converter_empty", volume=params.volume,
                direction=held.name, vt_symbol=params.vt_symbol))

    def _costs(self, plan: OrderPlan) -> None:
        if self.margin_guard is None:
            return
        for req in plan.requests:
            needs = self._needs(req)
            if needs is not None:
                plan.margin += needs[0]
                plan.commission += needs[1]
            if reason := self.margin_guard.check(req):
                plan.problems.append(Refused(reason, "margin", detail=reason))

    def _needs(self, req: OrderRequest) -> tuple[float, float] | None:
        assert self.margin_guard is not None
        rates = self.margin_guard.rates_of(req.symbol)
        return required_funds(rates, req, self.margin_guard.size_of(req.symbol)) if rates else None

    def closable(self, vt_symbol: str) -> dict[str, dict[str, float]]:
        """Per held direction: volume, td, yd, frozen (by pending closes) and what can be closed now."""
        contract = self.main_engine.get_contract(vt_symbol)
        converter = self.main_engine.get_converter(contract.gateway_name) if contract else None
        holding = converter.get_position_holding(vt_symbol) if converter else None
        out: dict[str, dict[str, float]] = {}
        for side in ("long", "short"):
            if holding is None:
                values = dict.fromkeys(("volume", "td", "yd", "frozen", "closable"), 0.0)
            else:
                pos, frozen = getattr(holding, f"{side}_pos"), getattr(holding, f"{side}_pos_frozen")
                values = {"volume": pos, "frozen": frozen, "closable": max(pos - frozen, 0.0),
                          "td": max(getattr(holding, f"{side}_td") - getattr(holding, f"{side}_td_frozen"), 0.0),
                          "yd": max(getattr(holding, f"{side}_yd") - getattr(holding, f"{side}_yd_frozen"), 0.0)}
            out[side.upper()] = values
        return out

    # ------------------------------------------------------------ sending
    def execute(self, execution_id: str, plan: OrderPlan, source: ExecutionSource = "operator") -> dict[str, Any]:
        """Send exactly `plan` (its first problem raised as a Refused if it has any); MARKET orders (and
        LIMIT with chase) are followed up under `execution_id` as `source`. Event thread."""
        if plan.problems:
            raise plan.problems[0]
        params = plan.params
        stopped = self._stop_strategies(params.vt_symbol) if params.stop_strategies else []
        assert plan.contract is not None
        gateway_name = plan.contract.gateway_name
        followed = self.execution is not None and (params.price_type == "MARKET" or params.chase)
        sent: list[tuple[str, OrderRequest]] = []
        try:
            for req in plan.requests:
                vt_orderid = self.main_engine.send_order(req, gateway_name)
                if not vt_orderid:
                    failed = Failed(f"the gateway refused the {req.offset.name} order (see the system log)",
                                    "gateway_refused", offset=req.offset.name)
                    failed.result = {"orders": [order_dict(r, o) for o, r in sent]}  # the legs already sent
                    raise failed
                self.main_engine.update_order_request(req, vt_orderid, gateway_name)
                sent.append((vt_orderid, req))
        finally:  # what was sent is followed up, also when a later leg failed
            if followed and sent and self.execution is not None:
                self.execution.follow(execution_id, source, sent, marketable=params.price_type == "MARKET")
        orders = [order_dict(req, vt_orderid) for vt_orderid, req in sent]
        log.info("%s order %s %s %s x%s sent as %s%s%s", source, params.direction, params.offset, params.vt_symbol,
                 params.volume, orders, f", followed up as execution {execution_id}" if followed else "",
                 f", strategies stopped first: {stopped}" if stopped else "")
        return {"orders": orders, "price": plan.price, "execution_id": execution_id if followed else "",
                "stopped_strategies": stopped}

    def _stop_strategies(self, vt_symbol: str) -> list[str]:
        stopped = [name for name, s in self.cta.strategies.items() if s.trading and s.vt_symbol == vt_symbol]
        for name in stopped:
            self.cta.stop_strategy(name)
        return stopped

    # ------------------------------------------------------------ describing
    def describe(self, plan: OrderPlan) -> dict[str, Any]:
        """What the preview shows: the exact orders, their cost, closable volume, session, quote, problems."""
        params, tick = plan.params, plan.tick
        accounts = self.main_engine.get_all_accounts()
        return {
            **params.model_dump(include={"vt_symbol", "direction", "offset", "volume", "price_type"}),
            "price": plan.price,
            "orders": [order_dict(req) for req in plan.requests],
            "margin": round(plan.margin, 2), "commission": round(plan.commission, 2),
            "available": round(float(accounts[0].available), 2) if accounts else None,
            "closable": self.closable(params.vt_symbol),
            "strategies": [{"name": name, "pos": s.pos, "trading": s.trading}
                           for name, s in sorted(self.cta.strategies.items()) if s.vt_symbol == params.vt_symbol],
            "session": self.session(),
            "tick": None if tick is None else {
                "bid": tick.bid_price_1, "ask": tick.ask_price_1, "last": tick.last_price,
                "limit_up": tick.limit_up, "limit_down": tick.limit_down,
                "ts_ms": int(tick.datetime.timestamp() * 1000) if tick.datetime else None},
            "problems": [{"code": p.code, "text": str(p), "vars": p.values} for p in plan.problems],
        }

    def _held_positions(self) -> dict[tuple[str, str], int]:
        held: dict[tuple[str, str], int] = {}
        for position in self.main_engine.get_all_positions():
            if position.volume > 0 and position.direction in (Direction.LONG, Direction.SHORT):
                key = (position.vt_symbol, position.direction.name)
                held[key] = held.get(key, 0) + int(position.volume)
        return held


def _difference(held: dict[tuple[str, str], int], expected: dict[tuple[str, str], int]) -> str:
    parts = []
    for key in sorted(set(held) | set(expected)):
        if held.get(key, 0) != expected.get(key, 0):
            parts.append(f"{key[0]} {key[1]} held {held.get(key, 0)}, confirmed {expected.get(key, 0)}")
    return "; ".join(parts)
