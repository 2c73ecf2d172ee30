"""The account and positions as a CTP broker states them, in the shape both gateways emit.

`account_data` keeps every figure of CThostFtdcTradingAccountField an operator reads in
`AccountData.extra` (and the raw record under "ctp"). `PositionBook` merges one query round of
CThostFtdcInvestorPositionField records: SHFE/INE send a today record (PositionDate '1') and a
history record ('2') per direction, and every figure is summed over both. `position.price` is the
average open price (OpenCost: what the trader paid) and `position.pnl` the PnL against it; the
settlement-based figures (PositionCost, PositionProfit) are in `extra`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from vnpy.trader.constant import Direction, Exchange
from vnpy.trader.object import AccountData, PositionData

MAX_FLOAT = sys.float_info.max
POSI_DIRECTIONS = {"2": Direction.LONG, "3": Direction.SHORT, "1": Direction.NET}  # THOST_FTDC_PD_*
PSD_TODAY, PSD_HISTORY = "1", "2"  # THOST_FTDC_PSD_*
SPLIT_DATE_EXCHANGES = {Exchange.SHFE, Exchange.INE}

# AccountData.extra key -> CThostFtdcTradingAccountField field.
ACCOUNT_FIELDS: dict[str, str] = {
    "margin": "CurrMargin",
    "frozen_margin": "FrozenMargin",
    "frozen_commission": "FrozenCommission",
    "frozen_cash": "FrozenCash",
    "commission": "Commission",
    "realized_pnl": "CloseProfit",
    "unrealized_pnl": "PositionProfit",
    "pre_balance": "PreBalance",
    "deposit": "Deposit",
    "withdraw": "Withdraw",
    "withdraw_quota": "WithdrawQuota",
}


def _num(data: dict[str, Any], name: str) -> float:
    value = data.get(name) or 0.0
    return 0.0 if not isinstance(value, int | float) or value >= MAX_FLOAT else float(value)


def account_data(data: dict[str, Any], gateway_name: str) -> AccountData:
    """AccountData from one CThostFtdcTradingAccountField record. `balance` is CTP's Balance, which
    already includes PositionProfit; `frozen` is vnpy's (FrozenMargin + FrozenCash + FrozenCommission)."""
    account = AccountData(
        accountid=str(data.get("AccountID", "")),
        balance=_num(data, "Balance"),
        frozen=_num(data, "FrozenMargin") + _num(data, "FrozenCash") + _num(data, "FrozenCommission"),
        gateway_name=gateway_name,
    )
    account.available = _num(data, "Available")
    account.extra = {key: _num(data, name) for key, name in ACCOUNT_FIELDS.items()}
    account.extra["trading_day"] = str(data.get("TradingDay", ""))
    account.extra["ctp"] = dict(data)
    return account


@dataclass
class _Slot:
    """The records of one symbol and direction within one query round."""

    symbol: str
    exchange: Exchange
    direction: Direction
    size: float
    records: list[dict[str, Any]] = field(default_factory=list)

    def total(self, name: str) -> float:
        return sum(_num(r, name) for r in self.records)

    def position(self, gateway_name: str) -> PositionData:
        volume = self.total("Position")
        long = self.direction != Direction.SHORT
        frozen_field = "ShortFrozen" if long else "LongFrozen"  # closing a long sells
        if self.exchange in SPLIT_DATE_EXCHANGES:
            today = [r for r in self.records if r.get("PositionDate") != PSD_HISTORY]
            history = [r for r in self.records if r.get("PositionDate") == PSD_HISTORY]
            td_volume = sum(_num(r, "Position") for r in today)
            yd_volume = sum(_num(r, "Position") for r in history)
            td_frozen = sum(_num(r, frozen_field) for r in today)
            yd_frozen = sum(_num(r, frozen_field) for r in history)
        else:  # one record per direction: TodayPosition of Position are today's
            td_volume = self.total("TodayPosition")
            yd_volume = volume - td_volume
            td_frozen, yd_frozen = self.total(frozen_field), 0.0
        open_cost, position_cost = round(self.total("OpenCost"), 2), round(self.total("PositionCost"), 2)
        unrealized = round(self.total("PositionProfit"), 2)
        units = volume * self.size
        open_price = round(open_cost / units, 6) if units else 0.0
        cost_price = round(position_cost / units, 6) if units else 0.0
        # PositionProfit is marked against PositionCost; against what was paid it is shifted by the
        # difference of the two costs (long: +, short: -).
        pnl = round(unrealized + (position_cost - open_cost) * (1 if long else -1), 2)
        settlement = next((p for r in self.records if (p := _num(r, "PreSettlementPrice")) > 0), 0.0)
        position = PositionData(
            symbol=self.symbol, exchange=self.exchange, direction=self.direction, volume=volume,
            frozen=td_frozen + yd_frozen, price=open_price, pnl=pnl, yd_volume=yd_volume,
            gateway_name=gateway_name,
        )  # fmt: skip
        position.extra = {
            "td_volume": td_volume, "td_frozen": td_frozen, "yd_frozen": yd_frozen,
            "margin": round(self.total("UseMargin"), 2), "unrealized_pnl": unrealized, "mtm_pnl": unrealized,
            "open_cost": open_cost, "position_cost": position_cost, "open_price": open_price,
            "cost_price": cost_price, "settlement_price": settlement, "ctp": [dict(r) for r in self.records],
        }  # fmt: skip
        return position


class PositionBook:
    """Merges the records of one ReqQryInvestorPosition round; `finish()` returns the positions.

    A round is the replies of one request id: a record of another request starts a new round (a
    round whose last reply was lost never leaks into the next). A symbol and direction reported in
    the previous round but absent from this one is returned with volume 0, so a position closed
    elsewhere (or gone at a new trading day) does not stay on screen.
    """

    def __init__(self, gateway_name: str) -> None:
        self.gateway_name = gateway_name
        self._round: int | None = None
        self._slots: dict[tuple[str, Direction], _Slot] = {}
        self._previous: dict[tuple[str, Direction], tuple[Exchange, float]] = {}

    def add(self, data: dict[str, Any], reqid: int, exchange: Exchange, size: float) -> None:
        if reqid != self._round:
            self._round = reqid
            self._slots = {}
        direction = POSI_DIRECTIONS.get(str(data.get("PosiDirection", "")))
        if direction is None:
            return
        key = (str(data["InstrumentID"]), direction)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(key[0], exchange, direction, size)
        slot.records.append(data)

    def finish(self, reqid: int) -> list[PositionData]:
        """The merged positions of this round (plus zeroes for those gone); the round is reset."""
        slots = self._slots if reqid == self._round else {}
        positions = [slot.position(self.gateway_name) for slot in slots.values()]
        for (symbol, direction), (exchange, size) in self._previous.items():
            if (symbol, direction) not in slots:
                positions.append(_Slot(symbol, exchange, direction, size).position(self.gateway_name))
        self._previous = {key: (slot.exchange, slot.size) for key, slot in slots.items()}
        self._round, self._slots = None, {}
        return positions

    def reset(self) -> None:
        """Forget an unfinished round (the front disconnected)."""
        self._round, self._slots = None, {}
