"""The simulated SHFE gold contracts: which months are listed, their ContractData, price-grid helpers.

Listing rule (SHFE au): the nearest three consecutive months, then the even months within the twelve
months starting at the nearest one. A month's contract stops trading on the 15th, so after the 15th
the current month is gone and the same month of next year is listed.
"""

from __future__ import annotations

import math
import re
from datetime import date

from vnpy.trader.constant import Exchange, Product
from vnpy.trader.object import ContractData

PRODUCT = "au"
PRODUCT_NAME = "黄金"
SIZE = 1000  # grams per lot
PRICETICK = 0.02  # CNY per gram
MAX_ORDER_VOLUME = 1000  # SHFE maximum lots per limit order
LAST_TRADING_DAY = 15
SYMBOL_RE = re.compile(r"^au(\d{2})(\d{2})$")


def is_gold_symbol(symbol: str) -> bool:
    match = SYMBOL_RE.match(symbol)
    return bool(match) and 1 <= int(match.group(2)) <= 12


def _add_months(year: int, month: int, count: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + count
    return index // 12, index % 12 + 1


def _symbol(year: int, month: int) -> str:
    return f"{PRODUCT}{year % 100:02d}{month:02d}"


def listed_symbols(today: date) -> list[str]:
    """The au months listed on `today`: three consecutive months, then even months within 12 months."""
    year, month = today.year, today.month
    if today.day > LAST_TRADING_DAY:
        year, month = _add_months(year, month, 1)
    symbols: list[str] = []
    for offset in range(12):  # a new month is listed when the same month a year earlier expires
        y, m = _add_months(year, month, offset)
        if len(symbols) < 3 or m % 2 == 0:
            symbols.append(_symbol(y, m))
    return symbols


def contract_symbols(today: date, main_contract: str, extra: list[str] | None = None) -> list[str]:
    """Listed months plus the main contract and any extra symbol (the replay file's), sorted."""
    symbols = set(listed_symbols(today))
    for symbol in [main_contract, *(extra or [])]:
        if symbol:
            symbols.add(symbol)
    return sorted(symbols)


def default_main(today: date) -> str:
    """A plausible main contract when none is configured: the first even month two or more months out."""
    for offset in range(2, 14):
        y, m = _add_months(today.year, today.month, offset)
        if m % 2 == 0:
            return _symbol(y, m)
    raise AssertionError("unreachable")


def make_contract(symbol: str, gateway_name: str) -> ContractData:
    return ContractData(
        symbol=symbol,
        exchange=Exchange.SHFE,
        name=f"{PRODUCT_NAME}{symbol[len(PRODUCT):]}",
        product=Product.FUTURES,
        size=SIZE,
        pricetick=PRICETICK,
        min_volume=1,
        max_volume=MAX_ORDER_VOLUME,
        stop_supported=False,
        net_position=False,
        history_data=False,
        gateway_name=gateway_name,
    )


# ---------------------------------------------------------------- the price grid


def to_ticks(price: float) -> int:
    """The nearest whole number of ticks for a price."""
    return round(price / PRICETICK)


def from_ticks(ticks: int) -> float:
    return round(ticks * PRICETICK, 2)


def on_grid(price: float) -> bool:
    return abs(price / PRICETICK - round(price / PRICETICK)) < 1e-6


def limit_prices(pre_settlement: float, limit_rate: float) -> tuple[float, float]:
    """(limit_up, limit_down) as SHFE computes them: pre_settlement * (1 ± rate), floored to the tick.

    Floor for both bounds is what the exchange published for au on 2022-02-18 (au2204/2206/2208 in
    ../shared/data): e.g. pre-settlement 381.70 at 6% gives 404.60 and 358.78 (not 358.80).
    """
    up = math.floor(pre_settlement * (1 + limit_rate) / PRICETICK + 1e-7)
    down = math.floor(pre_settlement * (1 - limit_rate) / PRICETICK + 1e-7)
    return from_ticks(up), from_ticks(down)
