"""Pre-trade funds check: refuse an order the available funds cannot margin, before it is sent.

Required funds, from the contract's rates (`ContractRates`, as the broker states them):
  OPEN : margin (ratio by money x price x size x lots + ratio by volume x lots, on the order's side)
         + commission (open rates)
  close: commission only (close or close-today rates); closing frees margin, it never needs any
Refused when required > available (the account's `available`, which on CTP is already net of the
margin and commission frozen by pending orders). With the rates or the account still unknown, the
check cannot be made and lets the order through (the broker answers ErrorID 31 then, which is shown).
Conservative: SHFE's single-side margin (only the larger side of a product is charged) is not
credited, so an open on the smaller side that the broker would accept is refused only if its full
margin exceeds the available funds.

`check_margin` is the pure rule; `MarginGuard` looks the rates, the contract size and the account up
(the core's hook calls it before `send_order`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from vnpy.trader.constant import Direction, Offset
from vnpy.trader.object import AccountData

from core_service.contract_rates import ContractRates, OffsetName


class HasAvailable(Protocol):
    @property
    def available(self) -> float: ...


class OrderLike(Protocol):
    """What the check reads of an order (vnpy's OrderRequest has it)."""

    @property
    def symbol(self) -> str: ...
    @property
    def direction(self) -> Direction: ...
    @property
    def offset(self) -> Offset: ...
    @property
    def price(self) -> float: ...
    @property
    def volume(self) -> float: ...


# vnpy's offsets by the rate names; anything else (Offset.NONE) pays the close rates, as a non-open does
OFFSET_NAMES: dict[Offset, OffsetName] = {
    Offset.OPEN: "OPEN", Offset.CLOSE: "CLOSE", Offset.CLOSETODAY: "CLOSETODAY", Offset.CLOSEYESTERDAY: "CLOSEYESTERDAY"}


def _money(value: float) -> str:
    return f"{value:,.2f}"


def required_funds(rates: ContractRates, order: OrderLike, size: float) -> tuple[float, float] | None:
    """(margin, commission) the order needs; None while the rates it needs are unknown."""
    offset = OFFSET_NAMES.get(order.offset, "CLOSE")
    commission = rates.commission(offset, order.price, order.volume, size)
    if commission is None:
        return None
    if order.offset != Offset.OPEN:
        return 0.0, commission
    margin = rates.margin("LONG" if order.direction == Direction.LONG else "SHORT", order.price, order.volume, size)
    if margin is None:
        return None
    return margin, commission


def check_margin(rates: ContractRates | None, account: HasAvailable | None, order: OrderLike,
                 size: float) -> str | None:
    """The reason to refuse `order`, or None when the funds suffice (or cannot be checked)."""
    if rates is None or account is None or order.volume <= 0:
        return None
    needs = required_funds(rates, order, size)
    if needs is None:
        return None
    margin, commission = needs
    required = round(margin + commission, 2)
    available = round(float(account.available), 2)
    if required <= available:
        return None
    lots = f"{order.volume:g}"
    what = (f"opening {lots} {order.direction.name} {order.symbol} at {order.price:.2f} needs margin "
            f"{_money(margin)} + commission {_money(commission)} = {_money(required)}"
            if order.offset == Offset.OPEN else
            f"closing {lots} {order.symbol} ({order.offset.name}) at {order.price:.2f} needs commission "
            f"{_money(commission)}")
    return f"not enough funds: {what}, available {_money(available)} (short by {_money(required - available)})"


class MarginGuard:
    """`check_margin` with the lookups: rates by symbol, contract size, the gateway's account."""

    def __init__(self, rates_of: Callable[[str], ContractRates | None], size_of: Callable[[str], float],
                 accounts: Callable[[], list[AccountData]]) -> None:
        self.rates_of = rates_of
        self.size_of = size_of
        self.accounts = accounts

    def check(self, req: OrderLike) -> str | None:
        accounts = self.accounts()
        account = accounts[0] if accounts else None
        return check_margin(self.rates_of(req.symbol), account, req, self.size_of(req.symbol))

    def check_signal(self, vt_symbol: str, direction: Direction, offset: Offset, price: float,
                     volume: float) -> str | None:
        """For CtaEngine.send_order's arguments (before vnpy builds the request)."""
        return self.check(Signal(vt_symbol.split(".")[0], direction, offset, price, volume))


@dataclass(frozen=True)
class Signal:
    """A strategy's order before vnpy turns it into requests."""

    symbol: str
    direction: Direction
    offset: Offset
    price: float
    volume: float
