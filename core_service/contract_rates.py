"""A contract's margin and commission rates as the broker states them: `ContractRates`.

Gateway-neutral, importable without vnpy_ctp. On CTP the margin part comes from
ReqQryInstrumentMarginRate (CThostFtdcInstrumentMarginRateField) and the commission part from
ReqQryInstrumentCommissionRate (CThostFtdcInstrumentCommissionRateField); the two replies arrive
separately, so a part not received yet is None (its `*_updated_ms` is 0). `margin()` and
`commission()` apply the rates the way CTP does: ratio by money × price × size × lots plus
ratio by volume × lots.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

Side = Literal["LONG", "SHORT"]
OffsetName = Literal["OPEN", "CLOSE", "CLOSETODAY", "CLOSEYESTERDAY"]


class ContractRates(BaseModel):
    model_config = ConfigDict(frozen=True)

    symbol: str  # the contract asked for, "au2612"
    exchange: str = ""  # "SHFE"
    # margin (CTP LongMarginRatioByMoney ... ShortMarginRatioByVolume)
    long_margin_ratio_by_money: float | None = None
    long_margin_ratio_by_volume: float | None = None  # CNY per lot
    short_margin_ratio_by_money: float | None = None
    short_margin_ratio_by_volume: float | None = None
    margin_is_relative: bool = False  # CTP IsRelative: the ratios are on top of the exchange's
    # commission (CTP OpenRatioByMoney ... CloseTodayRatioByVolume)
    open_ratio_by_money: float | None = None
    open_ratio_by_volume: float | None = None  # CNY per lot
    close_ratio_by_money: float | None = None
    close_ratio_by_volume: float | None = None
    close_today_ratio_by_money: float | None = None
    close_today_ratio_by_volume: float | None = None
    commission_instrument: str = ""  # what the broker answered for: the contract, or its product ("au")
    margin_updated_ms: int = 0  # when the margin part was received (0: not yet)
    commission_updated_ms: int = 0  # when the commission part was received (0: not yet)

    def _latest_update(self) -> int:
        """The latest of the two parts."""
        return max(self.margin_updated_ms, self.commission_updated_ms)

    # dumped with the model; an explicit property, so the field is typed without stacking decorators on it
    updated_ms = computed_field(property(_latest_update))

    @property
    def complete(self) -> bool:
        return bool(self.margin_updated_ms and self.commission_updated_ms)

    def margin(self, side: Side, price: float, volume: float, size: float) -> float | None:
        """Margin of `volume` lots at `price` (None while the margin rates are unknown)."""
        by_money, by_volume = (
            (self.long_margin_ratio_by_money, self.long_margin_ratio_by_volume)
            if side == "LONG"
            else (self.short_margin_ratio_by_money, self.short_margin_ratio_by_volume)
        )
        if by_money is None or by_volume is None:
            return None
        return round(by_money * price * size * volume + by_volume * volume, 2)

    def commission(self, offset: OffsetName, price: float, volume: float, size: float) -> float | None:
        """Commission of a fill (None while the commission rates are unknown). CLOSE and
        CLOSEYESTERDAY pay the close rates, CLOSETODAY the close-today rates."""
        if offset == "OPEN":
            by_money, by_volume = self.open_ratio_by_money, self.open_ratio_by_volume
        elif offset == "CLOSETODAY":
            by_money, by_volume = self.close_today_ratio_by_money, self.close_today_ratio_by_volume
        else:
            by_money, by_volume = self.close_ratio_by_money, self.close_ratio_by_volume
        if by_money is None or by_volume is None:
            return None
        return round(by_money * price * size * volume + by_volume * volume, 2)


RatesListener = Callable[[str, ContractRates], None]  # (symbol, rates)
