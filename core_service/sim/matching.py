"""Matching our orders against the ticks' book, as SHFE's continuous matching prices a trade.

The simulator has no other traders' orders: the tick's displayed levels (vnpy TickData
bid/ask_price_1..5 and volumes; level 1 only for an L1 feed) and its last trade stand in for them.

Rules:
- Three-price rule, for every fill: the price is the median of (buy price, sell price, last price).
  For our order at P against a level at Q the price is median(P, Q, cp); cp is the tick's
  last_price, then the price of each of our fills on that tick (the exchange's last price moves with
  our trades). With no last price (<= 0) the price is Q.
- An arriving order takes the best opposite level's volume, then the deeper levels at their own
  prices while they still cross its limit (a buy: ask_k <= P, a sell: bid_k >= P). What is left
  rests (LIMIT) or is cancelled (FAK, MARKET); a FOK is cancelled unless the crossing levels hold
  its whole volume.
- A resting order (price-time priority among our own orders: best price first, then arrival) is
  matched on every new tick: (a) when the opposite best crosses its price, level by level as above;
  (b) else, when the market traded through its price (a buy: 0 < last_price < P, a sell:
  last_price > P), up to the tick's last_volume at the last price (median(P, last, last)): our order
  had time priority over anyone at a worse price.
- What our orders take on a tick is remembered per (symbol, our side, level price), and the lots
  traded through per (symbol, our side); all our orders share it, arriving and resting. A new tick
  of the symbol resets it.
- Levels are read best first and stop at the first empty one (price <= 0) or one out of order. A
  level with no price (0, e.g. at a limit) has no liquidity. Our own orders never trade with each other.
- MARKET orders: SHFE has none; a limit at the opposite best ± 5 ticks, clamped to the limit prices.
"""

from __future__ import annotations

from dataclasses import dataclass

from vnpy.trader.constant import Direction
from vnpy.trader.object import OrderData, TickData

from .contracts import PRICETICK, from_ticks, to_ticks
from .ledger import remaining

EPS = 1e-6
MARKET_SLIPPAGE_TICKS = 5
DEPTH = 5
THROUGH = None  # the liquidity key of the lots traded through a price (the tick's last_volume)


@dataclass(frozen=True)
class Fill:
    """One fill for an order: price, lots and the liquidity it uses (a level's price in ticks, or THROUGH)."""

    price: float
    lots: int
    level: int | None


def three_price(order_price: float, counter_price: float, last_price: float) -> float:
    """SHFE's trade price: the median of (our price, the counter price, the last price); no last: the counter price."""
    if last_price <= 0:
        return counter_price
    return from_ticks(sorted((to_ticks(order_price), to_ticks(counter_price), to_ticks(last_price)))[1])


def opposite_levels(direction: Direction, tick: TickData) -> list[tuple[float, float]]:
    """(price, volume) of the levels an order of this direction trades against, best first."""
    side = "ask" if direction == Direction.LONG else "bid"
    levels: list[tuple[float, float]] = []
    for k in range(1, DEPTH + 1):
        price = float(getattr(tick, f"{side}_price_{k}") or 0.0)
        if price <= 0:
            break
        if levels and not _worse(direction, price, levels[-1][0]):
            break  # out of order (a hand-edited tick): ignore the rest
        levels.append((price, float(getattr(tick, f"{side}_volume_{k}") or 0.0)))
    return levels


def _worse(direction: Direction, price: float, than: float) -> bool:
    """True when `price` is a worse counter price than `than` for an order of this direction."""
    return price > than + EPS if direction == Direction.LONG else price < than - EPS


def best_opposite(direction: Direction, tick: TickData) -> tuple[float, float]:
    """(price, volume) an order of this direction trades against first."""
    if direction == Direction.LONG:
        return tick.ask_price_1, tick.ask_volume_1
    return tick.bid_price_1, tick.bid_volume_1


def market_price(direction: Direction, tick: TickData) -> float:
    """SHFE has no market orders: the opposite best ± 5 ticks, clamped to the limit prices."""
    price, _ = best_opposite(direction, tick)
    if direction == Direction.LONG:
        if price <= 0:
            return tick.limit_up
        target = from_ticks(to_ticks(price) + MARKET_SLIPPAGE_TICKS)
        return min(target, tick.limit_up) if tick.limit_up else target
    if price <= 0:
        return tick.limit_down
    target = from_ticks(to_ticks(price) - MARKET_SLIPPAGE_TICKS)
    return max(target, tick.limit_down) if tick.limit_down else max(target, PRICETICK)


def crosses(order: OrderData, price: float) -> bool:
    if price <= 0:
        return False
    if order.direction == Direction.LONG:
        return order.price >= price - EPS
    return order.price <= price + EPS


def traded_through(order: OrderData, last_price: float) -> bool:
    """The market traded at a price worse for the other side than our order's (strictly)."""
    if last_price <= 0:
        return False
    if order.direction == Direction.LONG:
        return last_price < order.price - EPS
    return last_price > order.price + EPS


class OrderBook:
    """Last tick per symbol, the liquidity and last price of that tick as our fills use them, our resting orders."""

    def __init__(self) -> None:
        self.ticks: dict[str, TickData] = {}
        self.active: dict[str, OrderData] = {}  # orderid -> order, insertion = arrival order
        self._taken: dict[tuple[str, Direction, int | None], int] = {}
        self._last: dict[str, float] = {}  # the exchange's last price: the tick's, then our fills'

    def set_tick(self, tick: TickData) -> None:
        self.ticks[tick.symbol] = tick
        self._taken = {key: lots for key, lots in self._taken.items() if key[0] != tick.symbol}
        self._last[tick.symbol] = tick.last_price

    def last_tick(self, symbol: str) -> TickData | None:
        return self.ticks.get(symbol)

    def _available(self, order: OrderData, level: int | None, volume: float) -> int:
        return max(0, int(volume) - self._taken.get((order.symbol, order.direction, level), 0))

    def taking_fills(self, order: OrderData) -> list[Fill]:
        """The fills the displayed levels give the order now, best level first, while they cross its price."""
        tick = self.ticks.get(order.symbol)
        if tick is None:
            return []
        fills: list[Fill] = []
        wanted = remaining(order)
        last = self._last.get(order.symbol, 0.0)
        for price, volume in opposite_levels(order.direction, tick):
            if wanted <= 0 or not crosses(order, price):
                break
            lots = min(wanted, self._available(order, to_ticks(price), volume))
            if lots <= 0:
                continue
            fill_price = three_price(order.price, price, last)
            fills.append(Fill(fill_price, lots, to_ticks(price)))
            wanted -= lots
            last = fill_price
        return fills

    def resting_fills(self, order: OrderData) -> list[Fill]:
        """The fills a resting order gets on the current tick: the crossing levels, else the lots traded through it."""
        tick = self.ticks.get(order.symbol)
        if tick is None:
            return []
        best, _ = best_opposite(order.direction, tick)
        if crosses(order, best):
            return self.taking_fills(order)
        if not traded_through(order, tick.last_price):
            return []
        lots = min(remaining(order), self._available(order, THROUGH, tick.last_volume or 0.0))
        if lots <= 0:
            return []
        return [Fill(three_price(order.price, tick.last_price, tick.last_price), lots, THROUGH)]

    def record(self, order: OrderData, fill: Fill) -> None:
        """A fill happened: its lots are gone from its level for this tick and its price is the last price."""
        key = (order.symbol, order.direction, fill.level)
        self._taken[key] = self._taken.get(key, 0) + fill.lots
        self._last[order.symbol] = fill.price

    def resting(self, symbol: str) -> list[OrderData]:
        """Resting orders of a symbol by priority: best price first, then arrival."""
        orders = [o for o in self.active.values() if o.symbol == symbol]
        buys = sorted((o for o in orders if o.direction == Direction.LONG), key=lambda o: -o.price)
        sells = sorted((o for o in orders if o.direction == Direction.SHORT), key=lambda o: o.price)
        return buys + sells
