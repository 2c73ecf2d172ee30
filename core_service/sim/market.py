"""Random-walk ticks with a five-level book for one au contract, on the 0.02 grid and inside the daily limits.

Prices are kept as whole ticks so they never drift off the grid. The book is consistent: bid < ask,
the spread is one or two ticks, the last price sits at the bid, at the ask or between them; level k
is bid_1 - (k-1) ticks and ask_1 + (k-1) ticks with a random volume, and a level beyond a limit
price is empty (price and volume 0). The depth volumes come from a random source of their own, so a
seed gives the same prices as it did with level 1 only.
Cumulative volume and turnover only grow within a trading day; at a new trading day the last price
becomes the settlement (pre_settlement), the limits are recomputed and the day's figures reset.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import datetime

from vnpy.trader.constant import Exchange
from vnpy.trader.object import TickData

from common.trading_calendar import trading_day_str

from .contracts import PRODUCT_NAME, SIZE, from_ticks, limit_prices, to_ticks

CONTANGO_PER_MONTH = 0.0005  # each later month trades a little higher, as gold does
EDGE_TICKS = 2  # keep the last price this many ticks inside the limits so level 1 fits
DEPTH = 5  # levels of the book
LEVEL_VOLUME = (1, 60)  # random lots shown at a level


def month_index(symbol: str) -> int:
    return int(symbol[2:4]) * 12 + int(symbol[4:6])


def symbol_base_price(symbol: str, main_contract: str, base_price: float) -> float:
    """The starting pre-settlement of a month: base_price for the main, a small contango for others."""
    months = month_index(symbol) - month_index(main_contract) if main_contract else 0
    return from_ticks(to_ticks(base_price * (1 + CONTANGO_PER_MONTH * months)))


@dataclass
class WalkState:
    """What a walk needs to resume after a restart (persisted by the gateway)."""

    trading_day: str = ""
    last: int = 0  # ticks
    pre_settlement: float = 0.0
    pre_close: float = 0.0
    open: int = 0
    high: int = 0
    low: int = 0
    volume: int = 0
    turnover: float = 0.0
    open_interest: int = 0


class RandomWalk:
    def __init__(self, symbol: str, pre_settlement: float, limit_rate: float, seed: int | None,
                 gateway_name: str, state: WalkState | None = None) -> None:
        self.symbol = symbol
        self.limit_rate = limit_rate
        self.gateway_name = gateway_name
        self.rng = random.Random(f"{seed}:{symbol}") if seed is not None else random.Random()
        self.depth_rng = random.Random(f"{seed}:{symbol}:depth") if seed is not None else random.Random()
        self.state = state or WalkState(
            last=to_ticks(pre_settlement), pre_settlement=pre_settlement, pre_close=pre_settlement,
            open_interest=self.rng.randint(50_000, 150_000),
        )

    def limits(self) -> tuple[int, int]:
        up, down = limit_prices(self.state.pre_settlement, self.limit_rate)
        return to_ticks(up), to_ticks(down)

    def _new_day(self, day: str) -> None:
        s = self.state
        if s.trading_day:  # settle the previous day at its last price
            s.pre_settlement = from_ticks(s.last)
            s.pre_close = from_ticks(s.last)
        s.trading_day = day
        s.open = s.high = s.low = 0
        s.volume = 0
        s.turnover = 0.0

    def _step(self) -> tuple[int, int]:
        """Move the last price; return (last, traded volume)."""
        s = self.state
        up, down = self.limits()
        move = self.rng.choice((-2, -1, -1, 0, 0, 0, 1, 1, 2))
        centre = to_ticks(s.pre_settlement)
        if abs(s.last - centre) > (up - centre) // 3:  # drift back once far from the settlement
            move += -1 if s.last > centre else 1
        last = min(max(s.last + move, down + EDGE_TICKS), up - EDGE_TICKS)
        return last, self.rng.randint(1, 15)

    def _book(self, last: int) -> tuple[int, int]:
        if self.rng.random() < 0.25:
            return last - 1, last + 1
        if self.rng.random() < 0.5:
            return last, last + 1
        return last - 1, last

    def next_tick(self, now: datetime, localtime: datetime) -> TickData:
        s = self.state
        day = trading_day_str(now)
        if day != s.trading_day:
            self._new_day(day)
        last, traded = self._step()
        bid, ask = self._book(last)
        s.last = last
        s.open = s.open or last
        s.high = max(s.high, last)
        s.low = min(s.low, last) if s.low else last
        s.volume += traded
        s.turnover = round(s.turnover + from_ticks(last) * traded * SIZE, 2)
        s.open_interest = max(0, s.open_interest + self.rng.randint(-traded, traded))
        return self._tick(now, localtime, traded, bid, ask)

    def _tick(self, now: datetime, localtime: datetime, traded: int, bid: int, ask: int) -> TickData:
        s = self.state
        up, down = self.limits()
        tick = TickData(
            symbol=self.symbol, exchange=Exchange.SHFE, datetime=now, name=f"{PRODUCT_NAME}{self.symbol[2:]}",
            volume=s.volume, turnover=s.turnover, open_interest=s.open_interest,
            last_price=from_ticks(s.last), last_volume=traded,
            limit_up=from_ticks(up), limit_down=from_ticks(down),
            open_price=from_ticks(s.open), high_price=from_ticks(s.high), low_price=from_ticks(s.low),
            pre_close=s.pre_close,
            bid_price_1=from_ticks(bid), ask_price_1=from_ticks(ask),
            bid_volume_1=self.rng.randint(*LEVEL_VOLUME), ask_volume_1=self.rng.randint(*LEVEL_VOLUME),
            localtime=localtime, gateway_name=self.gateway_name,
        )
        self._depth(tick, bid, ask, up, down)
        tick.extra = {"pre_settlement": s.pre_settlement}
        return tick

    def _depth(self, tick: TickData, bid: int, ask: int, up: int, down: int) -> None:
        """Levels 2..5: one tick further out each, empty beyond the limit prices."""
        for k in range(2, DEPTH + 1):
            bid_k, ask_k = bid - (k - 1), ask + (k - 1)
            if bid_k >= down:
                setattr(tick, f"bid_price_{k}", from_ticks(bid_k))
                setattr(tick, f"bid_volume_{k}", self.depth_rng.randint(*LEVEL_VOLUME))
            if ask_k <= up:
                setattr(tick, f"ask_price_{k}", from_ticks(ask_k))
                setattr(tick, f"ask_volume_{k}", self.depth_rng.randint(*LEVEL_VOLUME))

    def to_dict(self) -> dict:
        return asdict(self.state)

    @staticmethod
    def state_from_dict(data: dict) -> WalkState:
        return WalkState(**{k: v for k, v in data.items() if k in WalkState.__dataclass_fields__})
