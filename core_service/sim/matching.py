"""Matching our orders against level-1 ticks (the simulator has no other traders' orders).

Rules:
- An arriving order that crosses the last tick takes liquidity: a buy with price >= ask_price_1 fills
  at ask_price_1, a sell with price <= bid_price_1 fills at bid_price_1.
- A resting order fills on a later tick once the opposite best price reaches it: a buy when
  ask_price_1 <= its price, a sell when bid_price_1 >= its price, at the order's own price (the
  resting order sets the price on the exchange). There is no queue position: a buy resting at the
  bid waits until the ask comes down to it.
- What fills on one tick is limited by that tick's opposite level-1 volume, shared by all our orders
  on the tick (best price first, then the earlier order); the rest waits for later ticks.
- A side with no price (0, e.g. at a limit) has no liquidity.
"""

from __future__ import annotations

from vnpy.trader.constant import Direction
from vnpy.trader.object import OrderData, TickData

from .contracts import PRICETICK, from_ticks, to_ticks
from .ledger import remaining

EPS = 1e-6
MARKET_SLIPPAGE_TICKS = 5


def best_opposite(direction: Direction, tick: TickData) -> tuple[float, float]:
    """(price, volume) an order of this direction trades against."""
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


class OrderBook:
    """Last tick per symbol, liquidity taken on it, and our resting orders in arrival order."""

    def __init__(self) -> None:
        self.ticks: dict[str, TickData] = {}
        self.active: dict[str, OrderData] = {}  # orderid -> order, insertion = arrival order
        self._taken: dict[tuple[str, Direction], int] = {}

    def set_tick(self, tick: TickData) -> None:
        self.ticks[tick.symbol] = tick
        self._taken[(tick.symbol, Direction.LONG)] = 0
        self._taken[(tick.symbol, Direction.SHORT)] = 0

    def last_tick(self, symbol: str) -> TickData | None:
        return self.ticks.get(symbol)

    def liquidity(self, symbol: str, direction: Direction) -> int:
        tick = self.ticks.get(symbol)
        if tick is None:
            return 0
        price, volume = best_opposite(direction, tick)
        if price <= 0:
            return 0
        return max(0, int(volume) - self._taken.get((symbol, direction), 0))

    def take(self, symbol: str, direction: Direction, volume: int) -> None:
        key = (symbol, direction)
        self._taken[key] = self._taken.get(key, 0) + volume

    def aggressive_fill(self, order: OrderData) -> tuple[float, int]:
        """(price, lots) an arriving order can fill now; lots is 0 when it does not cross."""
        tick = self.ticks.get(order.symbol)
        if tick is None:
            return 0.0, 0
        price, _ = best_opposite(order.direction, tick)
        if not crosses(order, price):
            return 0.0, 0
        return price, min(remaining(order), self.liquidity(order.symbol, order.direction))

    def passive_fill(self, order: OrderData) -> tuple[float, int]:
        """(price, lots) a resting order fills on the current tick, at its own price."""
        tick = self.ticks.get(order.symbol)
        if tick is None:
            return 0.0, 0
        price, _ = best_opposite(order.direction, tick)
        if not crosses(order, price):
            return 0.0, 0
        return order.price, min(remaining(order), self.liquidity(order.symbol, order.direction))

    def resting(self, symbol: str) -> list[OrderData]:
        """Resting orders of a symbol by priority: best price first, then arrival."""
        orders = [o for o in self.active.values() if o.symbol == symbol]
        buys = sorted((o for o in orders if o.direction == Direction.LONG), key=lambda o: -o.price)
        sells = sorted((o for o in orders if o.direction == Direction.SHORT), key=lambda o: o.price)
        return buys + sells
