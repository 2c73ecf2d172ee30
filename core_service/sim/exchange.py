"""The simulated SHFE exchange and broker account behind SimGateway: orders, matching, fills, day roll.

One re-entrant lock guards the book, the ledger and today's orders and trades; `send_order` may be
called from any thread. Events go out through the gateway's `on_*` methods while the lock is held,
so they are queued in the order the state changed. Every change that matters (order status, trade,
day roll) is saved to the state file before the lock is released.

Order life cycle: SUBMITTING first, then REJECTED (with `extra["reason"]`; with `sessions` = shfe
also any order sent outside the exchange's sessions by the sim clock), or NOTTRADED /
PARTTRADED / ALLTRADED / CANCELLED. Each fill is pushed as a trade, then the order update, then
both positions of the contract and the account. `orders_and_trades()` answers the order/trade query
(as CTP's ReqQryOrder/ReqQryTrade); `lost` loses fill pushes on request (`drills`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from copy import copy
from datetime import datetime
from typing import Any, Protocol

from vnpy.trader.constant import Direction, Exchange, Offset, OrderType, Status
from vnpy.trader.object import AccountData, OrderData, OrderRequest, PositionData, TickData, TradeData

from common.trading_calendar import trading_day_str
from common.trading_sessions import SessionMode

from .clock import SimClock
from .contracts import from_ticks, to_ticks
from .drills import LostPushes
from .ledger import Ledger, PositionSlot, remaining
from .matching import Fill, OrderBook, market_price
from .state_store import (
    StateError,
    StateStore,
    order_from_dict,
    order_to_dict,
    trade_from_dict,
    trade_to_dict,
)
from .validation import (
    funds_reason,
    market_data_reason,
    position_reason,
    price_reason,
    request_reason,
    session_reason,
)

ACCOUNT_ID = "SIM"
IMMEDIATE_TYPES = (OrderType.FAK, OrderType.FOK, OrderType.MARKET)
PERIODIC_SAVE_S = 10.0


class Publisher(Protocol):
    gateway_name: str

    def on_tick(self, tick: TickData) -> None: ...
    def on_order(self, order: OrderData) -> None: ...
    def on_trade(self, trade: TradeData) -> None: ...
    def on_position(self, position: PositionData) -> None: ...
    def on_account(self, account: AccountData) -> None: ...
    def write_log(self, msg: str) -> None: ...


class SimExchange:
    def __init__(self, publisher: Publisher, ledger: Ledger, symbols: list[str], clock: SimClock,
                 store: StateStore, market_state: Callable[[], dict[str, Any]],
                 sessions: SessionMode = "always") -> None:
        self.pub = publisher
        self.gateway_name = publisher.gateway_name
        self.ledger = ledger
        self.symbols = set(symbols)
        self.clock = clock
        self.sessions = sessions  # shfe: orders outside the sessions are refused (by the sim clock)
        self.store = store
        self.market_state = market_state
        self.lock = threading.RLock()
        self.book = OrderBook()
        self.orders: dict[str, OrderData] = {}  # today's orders, arrival order
        self.trades: list[TradeData] = []  # today's trades
        self.order_count = 0
        self.trade_count = 0
        self.lost = LostPushes()  # drill: fill pushes to lose
        self._last_save = 0.0

    # ------------------------------------------------------------ state

    def load(self, data: dict[str, Any]) -> None:
        counters = data.get("counters", {})
        self.order_count = int(counters.get("order", 0))
        self.trade_count = int(counters.get("trade", 0))
        for item in data.get("orders", []):
            order = order_from_dict(item, self.gateway_name)
            self.orders[order.orderid] = order
            if order.is_active():
                self.book.active[order.orderid] = order
        self.trades = [trade_from_dict(item, self.gateway_name) for item in data.get("trades", [])]

    def state(self) -> dict[str, Any]:
        return {
            "saved_at": self.clock.base.now().isoformat(),  # when, by the wall clock
            "counters": {"order": self.order_count, "trade": self.trade_count},
            "ledger": self.ledger.to_dict(),
            "orders": [order_to_dict(o) for o in self.orders.values()],
            "trades": [trade_to_dict(t) for t in self.trades],
            "market": self.market_state(),
        }

    def save(self) -> None:
        with self.lock:
            try:
                self.store.save(self.state())
                self._last_save = self.clock.monotonic()
            except StateError as exc:
                self.pub.write_log(f"SIM STATE NOT SAVED: {exc}")

    # ------------------------------------------------------------ publishing

    def _active(self) -> list[OrderData]:
        return list(self.book.active.values())

    def _emit_order(self, order: OrderData) -> None:
        if self.lost.lose_order(order):
            self.pub.write_log(f"DRILL lost push: order {order.vt_orderid} {order.status.name} not pushed")
            return
        self.pub.on_order(copy(order))

    def orders_and_trades(self) -> tuple[list[OrderData], list[TradeData]]:
        """Today's orders and trades as the exchange holds them (copies), as a query answers."""
        with self.lock:
            return [copy(o) for o in self.orders.values()], [copy(t) for t in self.trades]

    def position_data(self, symbol: str, direction: Direction) -> PositionData:
        ledger = self.ledger
        slot = ledger.positions.get((symbol, direction)) or PositionSlot()
        td_frozen, yd_frozen = ledger.frozen_volume(symbol, direction, self._active())
        position = PositionData(
            symbol=symbol, exchange=Exchange.SHFE, direction=direction, volume=slot.volume,
            frozen=td_frozen + yd_frozen, price=round(slot.open_price(), 6),
            pnl=ledger.slot_pnl(symbol, direction, slot), yd_volume=slot.yd, gateway_name=self.gateway_name,
        )
        position.extra = {
            "td_volume": slot.td, "td_frozen": td_frozen, "yd_frozen": yd_frozen,
            "margin": ledger.slot_margin(symbol, slot),
            "mtm_pnl": ledger.slot_unrealized(symbol, direction, slot), "settlement_price": slot.yd_base,
            "unrealized_pnl": ledger.slot_unrealized(symbol, direction, slot), "open_price": slot.open_price(),
            "cost_price": slot.cost_price(),
        }
        return position

    def emit_positions(self, symbol: str) -> None:
        for direction in (Direction.LONG, Direction.SHORT):
            self.pub.on_position(self.position_data(symbol, direction))

    def account_data(self) -> AccountData:
        f = self.ledger.figures(self._active())
        account = AccountData(accountid=ACCOUNT_ID, balance=f.balance, frozen=f.frozen, gateway_name=self.gateway_name)
        account.available = f.available
        frozen_commission = self.ledger.frozen_commission(self._active())
        account.extra = {  # the keys and meanings of the CTP gateway's (core_service/ctp_account.py)
            "margin": f.margin, "commission": f.commission, "realized_pnl": f.realized_pnl,
            "unrealized_pnl": f.unrealized_pnl, "pre_balance": f.pre_balance, "trading_day": f.trading_day,
            "frozen_margin": round(f.frozen - frozen_commission, 2), "frozen_commission": frozen_commission,
            "frozen_cash": 0.0, "deposit": 0.0, "withdraw": 0.0,
            "withdraw_quota": max(0.0, round(f.available, 2)),
        }
        return account

    def emit_account(self) -> None:
        self.pub.on_account(self.account_data())

    def publish_all(self) -> None:
        """Like CTP after login: today's orders and trades, then positions and the account."""
        with self.lock:
            for order in self.orders.values():
                self._emit_order(order)
            for trade in self.trades:
                self.pub.on_trade(copy(trade))
            for symbol in self.ledger.symbols():
                self.emit_positions(symbol)
            self.emit_account()

    # ------------------------------------------------------------ orders

    def send_order(self, req: OrderRequest) -> str:
        with self.lock:
            self.order_count += 1
            order = req.create_order_data(f"{self.order_count:08d}", self.gateway_name)
            order.datetime = self.clock.now()
            order.status = Status.SUBMITTING
            self.orders[order.orderid] = order
            self._emit_order(order)
            reason = self._check(req, order)
            if reason:
                self._finish(order, Status.REJECTED, reason)
                self.pub.write_log(f"order {order.vt_orderid} rejected: {reason}")
            else:
                self._execute(order)
            self.save()
            if not reason:
                if order.traded or order.offset != Offset.OPEN:  # a fill, or a close freezing lots
                    self.emit_positions(order.symbol)
                self.emit_account()
            return order.vt_orderid

    def _check(self, req: OrderRequest, order: OrderData) -> str:
        reason = request_reason(req, self.symbols) or session_reason(order.datetime, self.sessions)
        if reason:
            return reason
        tick = self.book.last_tick(order.symbol)
        reason = market_data_reason(order.symbol, tick)
        if reason or tick is None:
            return reason
        if order.type == OrderType.MARKET:
            order.price = market_price(order.direction, tick)
        else:
            reason = price_reason(order.price, tick)
            if reason:
                return reason
            order.price = from_ticks(to_ticks(order.price))  # 950.1000000000001 -> 950.1
        if order.offset == Offset.OPEN:
            return funds_reason(order, self.ledger, self._active())
        return position_reason(order, self.ledger, self._active())

    def _execute(self, order: OrderData) -> None:
        fills = self.book.taking_fills(order)
        if order.type == OrderType.FOK:
            lots = sum(fill.lots for fill in fills)
            if lots < remaining(order):
                self._finish(order, Status.CANCELLED, f"FOK: only {lots} of {int(order.volume)} lots available now")
                return
        for i, fill in enumerate(fills):
            self._fill(order, fill)
            if i < len(fills) - 1:  # each fill: the trade, then the order; the last order push follows below
                self._emit_order(order)
        if not remaining(order):
            self._emit_order(order)
        elif order.type in IMMEDIATE_TYPES:
            self._finish(order, Status.CANCELLED, f"{order.type.name}: unfilled {remaining(order)} lots cancelled")
        else:
            order.status = Status.PARTTRADED if order.traded else Status.NOTTRADED
            self.book.active[order.orderid] = order
            self._emit_order(order)

    def _finish(self, order: OrderData, status: Status, reason: str) -> None:
        order.status = status
        order.extra = {**(order.extra or {}), "reason": reason}
        self.book.active.pop(order.orderid, None)
        self._emit_order(order)

    def _fill(self, order: OrderData, fill: Fill) -> None:
        price, lots = fill.price, fill.lots
        self.trade_count += 1
        trade = TradeData(
            symbol=order.symbol, exchange=order.exchange, orderid=order.orderid,
            tradeid=f"{self.trade_count:08d}", direction=order.direction, offset=order.offset,
            price=price, volume=lots, datetime=self.clock.now(), gateway_name=self.gateway_name,
        )
        commission = self.ledger.commission_for(order.offset, lots)
        pnl = self.ledger.apply_fill(order.symbol, order.direction, order.offset, price, lots)
        trade.extra = {"commission": commission, "realized_pnl": pnl, "trading_day": self.ledger.trading_day}
        order.traded += lots
        order.status = Status.ALLTRADED if not remaining(order) else Status.PARTTRADED
        if not remaining(order):
            self.book.active.pop(order.orderid, None)
        self.book.record(order, fill)
        self.trades.append(trade)
        if self.lost.lose_trade(order):
            self.pub.write_log(f"DRILL lost push: trade {trade.vt_tradeid} of {order.vt_orderid} not pushed")
            return
        self.pub.on_trade(copy(trade))

    def cancel_order(self, orderid: str) -> None:
        with self.lock:
            order = self.book.active.get(orderid)
            if order is None:
                known = self.orders.get(orderid)
                state = f"already {known.status.name}" if known else "unknown today"
                self.pub.write_log(f"cancel ignored: order {self.gateway_name}.{orderid} is {state}")
                return
            self._finish(order, Status.CANCELLED, "cancelled on request")
            self.save()
            if order.offset != Offset.OPEN:
                self.emit_positions(order.symbol)
            self.emit_account()

    # ------------------------------------------------------------ market

    def on_tick(self, tick: TickData) -> None:
        """A new tick: roll the day if needed, publish it, fill resting orders, mark positions."""
        with self.lock:
            self.clock.advance(tick.datetime)
            self._roll_if_new_day(tick.datetime)
            self.book.set_tick(tick)
            if tick.last_price > 0:
                self.ledger.last_prices[tick.symbol] = tick.last_price
            self.pub.on_tick(tick)
            filled = self._match_resting(tick.symbol)
            if filled or self.clock.monotonic() - self._last_save > PERIODIC_SAVE_S:
                self.save()
            if filled or tick.symbol in self.ledger.symbols(with_volume_only=True):
                self.emit_positions(tick.symbol)
                self.emit_account()

    def _match_resting(self, symbol: str) -> bool:
        filled = False
        for order in self.book.resting(symbol):
            for fill in self.book.resting_fills(order):
                self._fill(order, fill)
                self._emit_order(order)
                filled = True
        return filled

    # ------------------------------------------------------------ trading day

    def check_roll(self, now: datetime) -> None:
        with self.lock:
            self._roll_if_new_day(now)

    def start_day(self, now: datetime) -> None:
        """At connect: roll when the saved state belongs to another trading day (also backwards)."""
        with self.lock:
            day = trading_day_str(now)
            if day < self.ledger.trading_day:
                self.pub.write_log(f"sim state is from trading day {self.ledger.trading_day}, "
                                   f"later than the sim clock's {day}: rolling to {day}")
            if day != self.ledger.trading_day:
                self._roll(day)

    def _roll_if_new_day(self, now: datetime) -> None:
        day = trading_day_str(now)
        if day > self.ledger.trading_day:
            self._roll(day)

    def _roll(self, day: str) -> None:
        old = self.ledger.trading_day
        for order in list(self.book.active.values()):
            self._finish(order, Status.CANCELLED, f"trading day {old} ended: the exchange drops resting orders")
        symbols = self.ledger.symbols()
        self.ledger.roll(day)
        self.orders.clear()
        self.trades.clear()
        self.save()
        self.pub.write_log(f"trading day {old} -> {day}: today's lots moved to yesterday, "
                           f"pre_balance {self.ledger.pre_balance:,.2f}")
        for symbol in symbols:
            self.emit_positions(symbol)
        self.emit_account()
