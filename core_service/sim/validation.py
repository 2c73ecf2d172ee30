"""Why the simulated exchange refuses an order: each check returns a reason, or "" when it passes.

Checked in this order: contract, volume, order type/direction/offset, trading session (with
`sessions` = shfe, by the sim's market clock), market data, price (tick grid and limits), then funds
for an OPEN or closable lots for a close.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from vnpy.trader.constant import Direction, Exchange, Offset, OrderType
from vnpy.trader.object import OrderData, OrderRequest, TickData

from common.trading_sessions import SessionMode, order_refusal

from .contracts import MAX_ORDER_VOLUME, on_grid
from .ledger import Ledger, position_direction

SUPPORTED_TYPES = (OrderType.LIMIT, OrderType.FAK, OrderType.FOK, OrderType.MARKET)
SUPPORTED_OFFSETS = (Offset.OPEN, Offset.CLOSE, Offset.CLOSETODAY, Offset.CLOSEYESTERDAY)
EPS = 1e-6


def request_reason(req: OrderRequest, symbols: Iterable[str]) -> str:
    """Checks that need no market data: contract, volume, type, direction, offset."""
    if req.exchange != Exchange.SHFE or req.symbol not in set(symbols):
        return f"unknown contract {req.vt_symbol}"
    volume = req.volume
    if isinstance(volume, bool) or not isinstance(volume, int | float) or volume <= 0 or not float(volume).is_integer():
        return f"volume {volume!r} is not a positive whole number of lots"
    if volume > MAX_ORDER_VOLUME:
        return f"volume {int(volume)} is above the exchange maximum of {MAX_ORDER_VOLUME} lots per order"
    if req.type not in SUPPORTED_TYPES:
        return f"order type {req.type.name} is not supported (LIMIT, FAK, FOK, MARKET)"
    if req.direction not in (Direction.LONG, Direction.SHORT):
        return f"direction {getattr(req.direction, 'name', req.direction)} is not LONG or SHORT"
    if req.offset not in SUPPORTED_OFFSETS:
        return f"offset {req.offset.name} is not OPEN, CLOSE, CLOSETODAY or CLOSEYESTERDAY"
    return ""


def session_reason(now: datetime, mode: SessionMode) -> str:
    """Outside the exchange's sessions (mode shfe; configured holidays), why the order is refused."""
    return order_refusal(now, mode)


def market_data_reason(symbol: str, tick: TickData | None) -> str:
    if tick is None:
        return f"no market data yet for {symbol}: orders are accepted after its first tick"
    return ""


def price_reason(price: float, tick: TickData) -> str:
    if isinstance(price, bool) or not isinstance(price, int | float) or price <= 0:
        return f"price {price!r} is not a positive number"
    if not on_grid(price):
        return f"price {price!r} is not on the 0.02 tick"
    if tick.limit_up and price > tick.limit_up + EPS:
        return f"price {price:.2f} is above the limit-up price {tick.limit_up:.2f}"
    if tick.limit_down and price < tick.limit_down - EPS:
        return f"price {price:.2f} is below the limit-down price {tick.limit_down:.2f}"
    return ""


def funds_reason(order: OrderData, ledger: Ledger, active: list[OrderData]) -> str:
    """An OPEN needs margin + commission at its price within the available funds."""
    need = ledger.open_cost(order.price, int(order.volume))
    available = ledger.figures(active).available
    if need > available + EPS:
        return (f"not enough available funds: opening {int(order.volume)} lots at {order.price:.2f} needs "
                f"{need:,.2f} (margin + commission), available {available:,.2f}")
    return ""


def position_reason(order: OrderData, ledger: Ledger, active: list[OrderData]) -> str:
    """A close may not exceed the held lots minus those frozen by pending closes (SHFE td/yd rule)."""
    closable = ledger.closable(order.symbol, order.direction, order.offset, active)
    if order.volume <= closable:
        return ""
    which = "today's" if order.offset == Offset.CLOSETODAY else "yesterday's"
    side = position_direction(order.direction, order.offset).name
    return (f"not enough closable position: {order.offset.name} {int(order.volume)} lots of {order.symbol} "
            f"requested, {max(closable, 0)} of {which} {side} lots can be closed "
            f"(SHFE: CLOSE and CLOSEYESTERDAY close yesterday's lots only, CLOSETODAY today's)")
