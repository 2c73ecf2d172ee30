"""Read CTP-format level-1 CSV files (DepthMarketData field names) into vnpy TickData.

Columns: TradingDay, ActionDay, UpdateTime, UpdateMillisec, ExchangeID, InstrumentID, LastPrice,
Volume, Turnover (cumulative, already x1000 for au), OpenInterest, BidPrice1, BidVolume1, AskPrice1,
AskVolume1, OpenPrice, HighestPrice, LowestPrice, UpperLimitPrice, LowerLimitPrice, PreClosePrice,
PreSettlementPrice, PreOpenInterest. Optional depth columns BidPrice2..5, BidVolume2..5, AskPrice2..5,
AskVolume2..5 fill the tick's levels 2..5 (vnpy bid_price_2 ...) when the file has them; an L1 file
leaves them 0. Tick time is ActionDay + UpdateTime + UpdateMillisec, China time.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from vnpy.trader.constant import Exchange
from vnpy.trader.object import TickData

from common.trading_calendar import CHINA_TZ

from .contracts import PRODUCT_NAME

REQUIRED = (
    "ActionDay", "UpdateTime", "UpdateMillisec", "ExchangeID", "InstrumentID", "LastPrice", "Volume",
    "Turnover", "OpenInterest", "BidPrice1", "BidVolume1", "AskPrice1", "AskVolume1",
    "UpperLimitPrice", "LowerLimitPrice", "PreSettlementPrice",
)
DEPTH_LEVELS = range(2, 6)  # optional columns BidPrice2 ... AskVolume5
INVALID_DOUBLE = 1e300  # CTP sends DBL_MAX for "no value"


class ReplayError(ValueError):
    """The replay file is missing or not a CTP level-1 CSV."""


def _num(row: dict[str, str], key: str) -> float:
    text = (row.get(key) or "").strip()
    if not text:
        return 0.0
    value = float(text)
    return 0.0 if abs(value) >= INVALID_DOUBLE else value


def row_time(row: dict[str, str]) -> datetime:
    day = (row.get("ActionDay") or row.get("TradingDay") or "").strip()
    stamp = datetime.strptime(f"{day} {row['UpdateTime'].strip()}", "%Y%m%d %H:%M:%S")
    millis = int(float(row.get("UpdateMillisec") or 0))
    return stamp.replace(microsecond=millis * 1000, tzinfo=CHINA_TZ)


def parse_row(row: dict[str, str], gateway_name: str) -> TickData:
    symbol = row["InstrumentID"].strip()
    tick = TickData(
        symbol=symbol, exchange=Exchange(row["ExchangeID"].strip()), datetime=row_time(row),
        name=f"{PRODUCT_NAME}{symbol[2:]}" if symbol.startswith("au") else symbol,
        volume=_num(row, "Volume"), turnover=_num(row, "Turnover"), open_interest=_num(row, "OpenInterest"),
        last_price=_num(row, "LastPrice"),
        limit_up=_num(row, "UpperLimitPrice"), limit_down=_num(row, "LowerLimitPrice"),
        open_price=_num(row, "OpenPrice"), high_price=_num(row, "HighestPrice"), low_price=_num(row, "LowestPrice"),
        pre_close=_num(row, "PreClosePrice"),
        bid_price_1=_num(row, "BidPrice1"), bid_volume_1=_num(row, "BidVolume1"),
        ask_price_1=_num(row, "AskPrice1"), ask_volume_1=_num(row, "AskVolume1"),
        gateway_name=gateway_name,
    )
    for k in DEPTH_LEVELS:  # a missing column reads as 0: no level
        for side, name in (("bid", "Bid"), ("ask", "Ask")):
            setattr(tick, f"{side}_price_{k}", _num(row, f"{name}Price{k}"))
            setattr(tick, f"{side}_volume_{k}", _num(row, f"{name}Volume{k}"))
    tick.extra = {"pre_settlement": _num(row, "PreSettlementPrice")}
    return tick


def _open_reader(path: Path) -> tuple[csv.DictReader, IO[str]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"cannot open replay file {path}: {exc.strerror}") from exc
    reader = csv.DictReader(handle)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        handle.close()
        raise ReplayError(f"replay file {path} is not a CTP level-1 CSV: missing columns {missing}")
    return reader, handle


def first_row(path: Path) -> tuple[str, datetime]:
    """(instrument, tick time) of the file's first row; raises ReplayError for a bad or empty file."""
    reader, handle = _open_reader(path)
    try:
        row = next(reader, None)
        if row is None:
            raise ReplayError(f"replay file {path} has no rows")
        return row["InstrumentID"].strip(), row_time(row)
    except (KeyError, ValueError) as exc:
        raise ReplayError(f"replay file {path}: bad first row: {exc}") from exc
    finally:
        handle.close()


def read_ticks(path: Path, gateway_name: str) -> Iterator[tuple[int, TickData | None, str]]:
    """Yield (line number, tick, "") per row, or (line number, None, error) for a row that cannot be read."""
    reader, handle = _open_reader(path)
    prev_volume = 0.0
    try:
        for row in reader:
            try:
                tick = parse_row(row, gateway_name)
            except (KeyError, ValueError) as exc:
                yield reader.line_num, None, f"{type(exc).__name__}: {exc}"
                continue
            tick.last_volume = max(0.0, tick.volume - prev_volume) if prev_volume else 0.0
            prev_volume = tick.volume
            yield reader.line_num, tick, ""
    finally:
        handle.close()
