"""Drills on the simulated exchange: what a real broker connection does behind the core's back.

`LostPushes` loses the next N fill pushes (the trade and the order update that follows it), as a
dropped private-flow message would: the exchange keeps both, so the order/trade query shows them,
and the position and account pushes still go out. `external_close` closes lots of a position as a
forced liquidation or another terminal would: no order, no trade (neither pushed nor in the query),
only the new position and account are pushed. Yesterday's lots go first, then today's oldest first
(the cheaper close on SHFE, and what a broker's forced liquidation usually takes); lots frozen by
pending close orders are never taken. Both run under the exchange's lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from vnpy.trader.constant import Direction, Offset
from vnpy.trader.object import OrderData

from .ledger import PositionSlot

if TYPE_CHECKING:
    from .exchange import SimExchange

OPPOSITE = {Direction.LONG: Direction.SHORT, Direction.SHORT: Direction.LONG}


class LostPushes:
    """How many fill pushes are still to be lost, and the order updates that go with them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trades = 0
        self._orders: dict[str, int] = {}  # orderid -> order pushes still to lose (one per lost fill)

    def arm(self, count: int) -> None:
        if count < 0:
            raise ValueError(f"drill_lose_pushes: count must be >= 0, got {count}")
        with self._lock:
            self._trades = count

    @property
    def armed(self) -> int:
        with self._lock:
            return self._trades

    def lose_trade(self, order: OrderData) -> bool:
        """A fill of `order`: True when its trade push (and the order push after it) is to be lost."""
        with self._lock:
            if self._trades <= 0:
                return False
            self._trades -= 1
            self._orders[order.orderid] = self._orders.get(order.orderid, 0) + 1
            return True

    def lose_order(self, order: OrderData) -> bool:
        """True when this order push follows a lost fill (it is lost too)."""
        with self._lock:
            left = self._orders.get(order.orderid, 0)
            if not left:
                return False
            if left == 1:
                del self._orders[order.orderid]
            else:
                self._orders[order.orderid] = left - 1
            return True


def plain_symbol(symbol: str) -> str:
    """'au2702.SHFE' or 'au2702' -> 'au2702'."""
    return symbol.split(".")[0]


def external_close(exchange: SimExchange, symbol: str, direction: Direction, volume: int) -> dict[str, Any]:
    """Close `volume` lots of the `direction` position at the last price, with no order or trade.

    Raises ValueError (nothing changed) for an unknown contract, a volume that is not a positive
    whole number, fewer closable lots than asked, or no price yet."""
    symbol = plain_symbol(symbol)
    if not isinstance(direction, Direction) or direction not in OPPOSITE:
        raise ValueError(f"external close: direction must be LONG or SHORT, got {direction!r}")
    if isinstance(volume, bool) or int(volume) != volume or volume <= 0:
        raise ValueError(f"external close: volume must be a positive whole number of lots, got {volume!r}")
    volume = int(volume)
    with exchange.lock:
        if symbol not in exchange.symbols:
            raise ValueError(f"external close: {symbol} is not a contract of the simulated exchange")
        ledger = exchange.ledger
        slot = ledger.positions.get((symbol, direction)) or PositionSlot()
        td_frozen, yd_frozen = ledger.frozen_volume(symbol, direction, exchange.book.active.values())
        yd_free, td_free = slot.yd - yd_frozen, slot.td - td_frozen
        if volume > yd_free + td_free:
            raise ValueError(
                f"external close: {symbol} {direction.name} holds {slot.volume} lots, {yd_free + td_free} closable "
                f"({td_frozen + yd_frozen} frozen by pending close orders); cannot close {volume}"
            )
        price = ledger.last_prices.get(symbol, 0.0)
        if price <= 0:
            raise ValueError(f"external close: no price for {symbol} yet (no tick seen); nothing to close at")
        yd_lots = min(volume, yd_free)
        td_lots = volume - yd_lots
        commission_before, pnl = ledger.commission, 0.0
        for offset, lots in ((Offset.CLOSEYESTERDAY, yd_lots), (Offset.CLOSETODAY, td_lots)):
            if lots:
                pnl += ledger.apply_fill(symbol, OPPOSITE[direction], offset, price, lots)
        commission = round(ledger.commission - commission_before, 2)
        exchange.save()
        left = ledger.positions[(symbol, direction)].volume
        exchange.pub.write_log(
            f"DRILL external close: the exchange closed {volume} {symbol} {direction.name} lots ({yd_lots} yesterday's,"
            f" {td_lots} today's) at {price} behind the core's back: realized {pnl:.2f}, commission {commission:.2f},"
            f" {left} lots left; no order or trade is pushed or queryable"
        )
        exchange.emit_positions(symbol)
        exchange.emit_account()
        return {
            "symbol": symbol, "direction": direction.name, "volume": volume, "yd_closed": yd_lots, "td_closed": td_lots,
            "price": price, "realized_pnl": round(pnl, 2), "commission": commission, "position_left": left,
        }  # fmt: skip
