"""What the order follow-up (core_service/execution.py) works with: the price rules of a re-send and
the record of one followed request (`Run`) and its orders (`Leg`, with its `LegState`).

Pure data and arithmetic: no threads, no engine. Times (`sent_at`, `changed_at`, `cancel_at`,
`finished_at`) are the follow-up clock's monotonic seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from vnpy.trader.constant import Direction
from vnpy.trader.object import OrderRequest, TickData
from vnpy.trader.utility import round_to

from common.contract import ExecutionSource


# ------------------------------------------------------------ price rules
def reprice(
    side: Direction,
    price: float,
    ticks: int,
    pricetick: float,
    tick: TickData | None,
    marketable: bool = False,
) -> float:
    """`ticks` ticks nearer the market (buy: up, sell: down), never beyond the daily limit.

    `marketable` (a MARKET close): at least the current opposite best, so a market that ran away is
    caught up with at once; a LIMIT close that is chased walks from the operator's price instead."""
    buy = side == Direction.LONG
    new = round_to(price + ticks * pricetick if buy else price - ticks * pricetick, pricetick)
    best = (tick.ask_price_1 if buy else tick.bid_price_1) if marketable and tick else 0.0
    if best:
        new = max(new, best) if buy else min(new, best)
    limit = fallback_price(side, tick)
    return (min(new, limit) if buy else max(new, limit)) if limit else new


def fallback_price(side: Direction, tick: TickData | None) -> float | None:
    """The most aggressive price inside the daily limit: limit up for a buy, limit down for a sell."""
    return ((tick.limit_up if side == Direction.LONG else tick.limit_down) or None) if tick else None


# ------------------------------------------------------------ what is followed
class LegState(Enum):
    ACTIVE = "active"  # the order works: fills followed, timeout watched
    CANCELLING = "cancelling"  # cancel sent; `resend` says whether the rest goes out again
    RESEND = "resend"  # cancel confirmed: the checker sends the rest
    SENDING = "sending"  # claimed by the checker: the re-send job is queued on the event thread
    DONE = "done"  # filled, rejected, cancelled for good, replaced or given up


@dataclass
class Leg:
    run: Run
    vt_orderid: str
    request: OrderRequest
    attempt: int
    sent_at: float
    changed_at: float  # last time its traded amount changed (sent_at before any fill)
    traded: float = 0.0
    state: LegState = LegState.ACTIVE
    resend: bool = True
    cancel_at: float = 0.0
    overdue_reported: bool = False  # a fallback order past its timeout: reported once, left working

    @property
    def volume(self) -> float:
        return self.request.volume

    @property
    def rest(self) -> float:
        return max(0.0, self.request.volume - self.traded)


@dataclass
class Run:
    """One request followed (an operator close): every order and retry of it."""

    execution_id: str
    source: ExecutionSource
    vt_symbol: str
    target: float  # lots the request asked for
    pricetick: float
    marketable: bool
    legs: list[Leg] = field(default_factory=list)
    closed: bool = False
    finished_at: float | None = None

    def filled(self) -> float:
        return sum(leg.traded for leg in self.legs)

    def live(self) -> list[Leg]:
        return [leg for leg in self.legs if leg.state != LegState.DONE]
