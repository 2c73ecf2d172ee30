"""The simulated account: positions (today/yesterday), margin, commission, PnL and the trading-day roll.

Accounting follows CTP's daily mark-to-market, so `pre_balance` is yesterday's closing balance:
  balance   = pre_balance + realized_pnl + unrealized_pnl - commission      (today's figures)
  unrealized: today's lots against their open price, yesterday's lots against the settlement price
              used at the last roll (the last price at the roll)
  realized  : close-today against the open prices of today's lots, oldest first (as CTP closes
              them), close-yesterday against that settlement price
  margin    = margin_rate * last price * 1000 * lots per position; the account is charged SHFE's
              single-side rule (单向大边): per product, only the larger of the long and short sides
              (the exchange's exception for contracts near delivery is not modelled)
  frozen    = margin + commission of the unfilled part of pending OPEN orders, at the order price
  available = balance - margin - frozen
The position's `price` is the true average open price and its `pnl` the floating PnL since opening.
SHFE offsets: CLOSETODAY closes today's lots only; CLOSE and CLOSEYESTERDAY close yesterday's only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from vnpy.trader.constant import Direction, Offset
from vnpy.trader.object import OrderData

from .contracts import SIZE

SIGN = {Direction.LONG: 1, Direction.SHORT: -1}
CLOSE_YD_OFFSETS = (Offset.CLOSE, Offset.CLOSEYESTERDAY)


def product_of(symbol: str) -> str:
    """'au2702' -> 'au'."""
    return symbol.rstrip("0123456789")


class LedgerError(RuntimeError):
    """A fill would break an invariant (e.g. close more than is held); the matching engine prevents it."""


@dataclass(frozen=True)
class Fees:
    margin_rate: float
    commission_per_lot: float
    close_today_commission_per_lot: float
    size: int = SIZE


@dataclass
class PositionSlot:
    """One direction of one contract."""

    td: int = 0
    yd: int = 0
    td_price: float = 0.0  # average open price of today's lots (also their mark-to-market base)
    yd_open_price: float = 0.0  # average open price of yesterday's lots
    yd_base: float = 0.0  # settlement price of the last roll: mark-to-market base of yesterday's lots
    td_lots: list[list[float]] = field(default_factory=list)  # today's [price, lots], oldest first

    def _td_changed(self) -> None:
        self.td = int(sum(lots for _, lots in self.td_lots))
        self.td_price = sum(price * lots for price, lots in self.td_lots) / self.td if self.td else 0.0

    def take_today(self, volume: int) -> float:
        """Close `volume` of today's lots, oldest first; return the sum of their open prices × lots."""
        cost = 0.0
        while volume:
            price, lots = self.td_lots[0]
            take = min(volume, int(lots))
            cost += price * take
            volume -= take
            if take == lots:
                self.td_lots.pop(0)
            else:
                self.td_lots[0][1] = lots - take
        self._td_changed()
        return cost

    @property
    def volume(self) -> int:
        return self.td + self.yd

    def open_price(self) -> float:
        if not self.volume:
            return 0.0
        return (self.td_price * self.td + self.yd_open_price * self.yd) / self.volume

    def cost_price(self) -> float:
        """The mark-to-market base (CTP's PositionCost per unit): today's lots at their open price,
        yesterday's at the settlement price of the last roll."""
        if not self.volume:
            return 0.0
        return (self.td_price * self.td + self.yd_base * self.yd) / self.volume


@dataclass
class AccountFigures:
    balance: float
    available: float
    frozen: float
    margin: float
    commission: float
    realized_pnl: float
    unrealized_pnl: float
    pre_balance: float
    trading_day: str


def position_direction(order_direction: Direction, offset: Offset) -> Direction:
    """The position an order affects: its own side when opening, the other side when closing."""
    if offset == Offset.OPEN:
        return order_direction
    return Direction.SHORT if order_direction == Direction.LONG else Direction.LONG


def remaining(order: OrderData) -> int:
    return int(order.volume - order.traded)


@dataclass
class Ledger:
    fees: Fees
    pre_balance: float
    trading_day: str
    commission: float = 0.0
    realized_pnl: float = 0.0
    positions: dict[tuple[str, Direction], PositionSlot] = field(default_factory=dict)
    last_prices: dict[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------ costs

    def commission_for(self, offset: Offset, volume: int) -> float:
        per_lot = self.fees.close_today_commission_per_lot if offset == Offset.CLOSETODAY else self.fees.commission_per_lot
        return round(per_lot * volume, 2)

    def open_cost(self, price: float, volume: int) -> float:
        """Margin plus commission an OPEN of `volume` lots at `price` needs."""
        margin = self.fees.margin_rate * price * self.fees.size * volume
        return round(margin + self.commission_for(Offset.OPEN, volume), 2)

    def frozen_cash(self, active: Iterable[OrderData]) -> float:
        return round(sum((self.open_cost(o.price, remaining(o)) for o in active if o.offset == Offset.OPEN), 0.0), 2)

    def frozen_commission(self, active: Iterable[OrderData]) -> float:
        """The commission part of `frozen_cash` (the rest is margin), as CTP's FrozenCommission."""
        return round(sum((self.commission_for(Offset.OPEN, remaining(o)) for o in active if o.offset == Offset.OPEN),
                         0.0), 2)

    def frozen_volume(self, symbol: str, direction: Direction, active: Iterable[OrderData]) -> tuple[int, int]:
        """(today, yesterday) lots of a position reserved by pending close orders."""
        td = yd = 0
        for order in active:
            if order.symbol != symbol or order.offset == Offset.OPEN:
                continue
            if position_direction(order.direction, order.offset) != direction:
                continue
            if order.offset == Offset.CLOSETODAY:
                td += remaining(order)
            else:
                yd += remaining(order)
        return td, yd

    def closable(self, symbol: str, order_direction: Direction, offset: Offset, active: Iterable[OrderData]) -> int:
        """Lots a close order with this offset may still close (held minus frozen)."""
        direction = position_direction(order_direction, offset)
        slot = self.positions.get((symbol, direction), PositionSlot())
        td_frozen, yd_frozen = self.frozen_volume(symbol, direction, active)
        if offset == Offset.CLOSETODAY:
            return slot.td - td_frozen
        return slot.yd - yd_frozen

    # ------------------------------------------------------------ fills

    def slot(self, symbol: str, direction: Direction) -> PositionSlot:
        return self.positions.setdefault((symbol, direction), PositionSlot())

    def apply_fill(self, symbol: str, order_direction: Direction, offset: Offset, price: float, volume: int) -> float:
        """Book a fill; return its realized PnL (0 for an open)."""
        direction = position_direction(order_direction, offset)
        slot = self.slot(symbol, direction)
        self.commission = round(self.commission + self.commission_for(offset, volume), 2)
        if offset == Offset.OPEN:
            slot.td_lots.append([price, volume])
            slot._td_changed()
            return 0.0
        if offset == Offset.CLOSETODAY:
            if volume > slot.td:
                raise LedgerError(f"close-today {volume} > today's {slot.td} lots of {symbol} {direction.name}")
            base = slot.take_today(volume) / volume
        else:
            if volume > slot.yd:
                raise LedgerError(f"close-yesterday {volume} > yesterday's {slot.yd} lots of {symbol} {direction.name}")
            base = slot.yd_base
            slot.yd -= volume
            if not slot.yd:
                slot.yd_open_price = slot.yd_base = 0.0
        pnl = round(SIGN[direction] * (price - base) * volume * self.fees.size, 2)
        self.realized_pnl = round(self.realized_pnl + pnl, 2)
        return pnl

    # ------------------------------------------------------------ valuation

    def mark(self, symbol: str, slot: PositionSlot) -> float:
        return self.last_prices.get(symbol) or slot.open_price()

    def slot_unrealized(self, symbol: str, direction: Direction, slot: PositionSlot) -> float:
        """Today's mark-to-market PnL of the open lots (the account figure)."""
        last = self.mark(symbol, slot)
        points = (last - slot.td_price) * slot.td + (last - slot.yd_base) * slot.yd
        return round(SIGN[direction] * points * self.fees.size, 2)

    def slot_pnl(self, symbol: str, direction: Direction, slot: PositionSlot) -> float:
        """Floating PnL since opening (the position's `pnl`)."""
        return round(SIGN[direction] * (self.mark(symbol, slot) - slot.open_price()) * slot.volume * self.fees.size, 2)

    def slot_margin(self, symbol: str, slot: PositionSlot) -> float:
        return round(self.fees.margin_rate * self.mark(symbol, slot) * self.fees.size * slot.volume, 2)

    def unrealized(self) -> float:
        return round(sum((self.slot_unrealized(s, d, slot) for (s, d), slot in self.positions.items()), 0.0), 2)

    def margin(self) -> float:
        """The account's margin: per product the larger side only (SHFE single-side rule)."""
        sides: dict[tuple[str, Direction], float] = {}
        for (symbol, direction), slot in self.positions.items():
            key = (product_of(symbol), direction)
            sides[key] = sides.get(key, 0.0) + self.slot_margin(symbol, slot)
        products = {product for product, _ in sides}
        return round(sum(max(sides.get((p, Direction.LONG), 0.0), sides.get((p, Direction.SHORT), 0.0))
                         for p in products), 2)

    def balance(self) -> float:
        return round(self.pre_balance + self.realized_pnl + self.unrealized() - self.commission, 2)

    def figures(self, active: Iterable[OrderData]) -> AccountFigures:
        balance, margin, frozen = self.balance(), self.margin(), self.frozen_cash(active)
        return AccountFigures(
            balance=balance, available=round(balance - margin - frozen, 2), frozen=frozen, margin=margin,
            commission=self.commission, realized_pnl=self.realized_pnl, unrealized_pnl=self.unrealized(),
            pre_balance=self.pre_balance, trading_day=self.trading_day,
        )

    def symbols(self, with_volume_only: bool = False) -> list[str]:
        return sorted({s for (s, _), slot in self.positions.items() if slot.volume or not with_volume_only})

    # ------------------------------------------------------------ day roll and persistence

    def roll(self, new_day: str) -> None:
        """Settle at the last prices: today's lots become yesterday's, the day's figures restart."""
        self.pre_balance = self.balance()
        for key, slot in list(self.positions.items()):
            if not slot.volume:
                del self.positions[key]
                continue
            settle = self.mark(key[0], slot)
            slot.yd_open_price = slot.open_price()
            slot.yd += slot.td
            slot.td, slot.td_price, slot.td_lots = 0, 0.0, []
            slot.yd_base = settle
        self.commission = self.realized_pnl = 0.0
        self.trading_day = new_day

    def to_dict(self) -> dict:
        return {
            "pre_balance": self.pre_balance, "trading_day": self.trading_day,
            "commission": self.commission, "realized_pnl": self.realized_pnl,
            "last_prices": dict(self.last_prices),
            "positions": [{"symbol": s, "direction": d.name, **asdict(slot)} for (s, d), slot in self.positions.items()],
        }

    @classmethod
    def from_dict(cls, fees: Fees, data: dict) -> Ledger:
        ledger = cls(fees=fees, pre_balance=float(data["pre_balance"]), trading_day=str(data["trading_day"]),
                     commission=float(data.get("commission", 0)), realized_pnl=float(data.get("realized_pnl", 0)),
                     last_prices={k: float(v) for k, v in data.get("last_prices", {}).items()})
        for item in data.get("positions", []):
            td, td_price = int(item["td"]), float(item["td_price"])
            lots = item.get("td_lots") or ([[td_price, td]] if td else [])  # state files from before lots
            slot = PositionSlot(td=td, yd=int(item["yd"]), td_price=td_price,
                                yd_open_price=float(item["yd_open_price"]), yd_base=float(item["yd_base"]),
                                td_lots=[[float(p), int(n)] for p, n in lots])
            ledger.positions[(item["symbol"], Direction[item["direction"]])] = slot
        return ledger
