"""The AI trader's market data (web_service/mcp_market.py): TA-Lib's indicators on the shared real SHFE bars
(read from ../shared/data, never copied here), 1-minute bars resampled to 5m/1h/1d on hand-made bars, bad
requests refused before anything is read, and `market_data` on ticks written to the real Redis stream (the
core's TickMessage shape) with its market_snapshots row in the real MariaDB, and without MySQL."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
import talib

from common.clock import TestClock
from common.db import Database
from common.trading_calendar import CHINA_TZ
from tests.conftest import SHARED_DATA
from tests.helpers import deep_merge, write_config
from tests.web_service import seed
from tests.web_service.conftest import free_port
from web_service.mcp_market import INDICATORS, indicators, market_data, resample
from web_service.services import Services
from web_service.settings import load_settings

MAIN = "au2702"  # config_dict's main contract
START = int(datetime(2026, 1, 5, 9, 0, tzinfo=CHINA_TZ).timestamp() * 1000)
TICKS = 210  # one every 20 s: 70 minutes, 09:00 .. 10:09


def ms(hhmm: str, day: int = 5) -> int:
    h, m = map(int, hhmm.split(":"))
    return int(datetime(2026, 1, day, h, m, tzinfo=CHINA_TZ).timestamp() * 1000)


# ---------------------------------------------------------------- indicators on the real bars


def test_indicators_are_talibs_on_the_shared_real_bars() -> None:
    with (SHARED_DATA / "SHFE.au1912_1min.csv").open(newline="", encoding="utf-8") as fh:
        rows = [{"high": float(r["high"]), "low": float(r["low"]), "close": float(r["close"])}
                for _, r in zip(range(2000), csv.DictReader(fh), strict=False)]
    assert len(rows) == 2000
    got = indicators(rows)
    assert len(got) == len(rows)
    json.dumps(got, allow_nan=False)  # no NaN anywhere
    high, low, close = (np.array([r[k] for r in rows]) for k in ("high", "low", "close"))
    macd, signal, hist = talib.MACD(close, 12, 26, 9)
    expected = {"ema20": talib.EMA(close, 20), "ema50": talib.EMA(close, 50), "macd": macd, "macd_signal": signal,
                "macd_hist": hist, "rsi7": talib.RSI(close, 7), "rsi14": talib.RSI(close, 14),
                "atr14": talib.ATR(high, low, close, 14)}
    leading = {"ema20": 19, "ema50": 49, "macd": 33, "macd_signal": 33, "macd_hist": 33, "rsi7": 7, "rsi14": 14,
               "atr14": 14}
    for name in INDICATORS:
        values = [g[name] for g in got]
        assert values[: leading[name]] == [None] * leading[name], name
        assert all(v is not None for v in values[leading[name]:]), name
        tail = np.array(values[-500:], dtype=float)
        assert np.allclose(tail, expected[name][-500:], rtol=0, atol=1e-9), name
    assert 0 < got[-1]["rsi14"] < 100 and got[-1]["atr14"] > 0
    assert indicators([]) == [] and indicators(rows[:5])[-1] == dict.fromkeys(INDICATORS)


# ---------------------------------------------------------------- resampling


def minute(hhmm: str, o: float, h: float, low: float, c: float, v: float, oi: float = 0.0, day: int = 5,
           trading_day: str = "20260105") -> dict[str, Any]:
    return {"ts_ms": ms(hhmm, day), "trading_day": trading_day, "open": o, "high": h, "low": low, "close": c,
            "volume": v, "open_interest": oi}


def test_resampling_on_exchange_time_boundaries() -> None:
    bars = [
        minute("09:03", 600, 601, 599, 600.5, 4, 100),
        minute("09:04", 600.5, 603, 600, 602, 6, 0),  # no open interest stated: the bucket keeps 100
        minute("09:05", 602, 602, 598, 598.5, 10, 110),
        minute("09:09", 598.5, 599, 597, 597.5, 1, 111),
        minute("10:14", 597.5, 598, 597, 597.8, 2, 112),
        minute("10:30", 597.8, 600, 597.8, 599.9, 3, 113),
        minute("21:00", 605, 606, 604, 605.5, 7, 120, trading_day="20260106"),  # night: the next trading day
        minute("00:10", 605.5, 607, 605, 606, 8, 121, day=6, trading_day="20260106"),
    ]
    assert resample(bars, "1m") == bars
    assert resample(bars, "5m") == [
        minute("09:00", 600, 603, 599, 602, 10, 100),
        minute("09:05", 602, 602, 597, 597.5, 11, 111),
        minute("10:10", 597.5, 598, 597, 597.8, 2, 112),
        minute("10:30", 597.8, 600, 597.8, 599.9, 3, 113),
        minute("21:00", 605, 606, 604, 605.5, 7, 120, trading_day="20260106"),
        minute("00:10", 605.5, 607, 605, 606, 8, 121, day=6, trading_day="20260106"),
    ]
    assert resample(bars, "1h") == [
        minute("09:00", 600, 603, 597, 597.5, 21, 111),
        minute("10:00", 597.5, 600, 597, 599.9, 5, 113),
        minute("21:00", 605, 606, 604, 605.5, 7, 120, trading_day="20260106"),
        minute("00:00", 605.5, 607, 605, 606, 8, 121, day=6, trading_day="20260106"),
    ]
    assert resample(bars, "1d") == [
        minute("09:03", 600, 603, 597, 599.9, 26, 113),  # labelled by its first minute
        minute("21:00", 605, 607, 604, 606, 15, 121, trading_day="20260106"),
    ]
    assert bars[0]["volume"] == 4, "the input is not changed"


# ---------------------------------------------------------------- market_data on real Redis and MariaDB


def price(i: int) -> float:
    return round(600 + 3 * math.sin(i / 9) + i * 0.01, 2)


def write_ticks(r: redis.Redis, stream: str) -> None:
    pipe = r.pipeline()
    for i in range(TICKS):
        at = START + i * 20_000
        pipe.xadd(stream, seed.tick(MAIN, price(i), ts_ms=at, local_ts=at / 1000, volume=1000 + 3 * i,
                                    open_interest=50_000 + i, trading_day="20260105").to_fields())
    pipe.execute()


@pytest.fixture
def settings_file(config_dict: dict[str, Any], tmp_path: Path) -> Path:
    return write_config(tmp_path / "arbig.json", config_dict)


def build(path: Path) -> Services:
    clock = TestClock(datetime.fromtimestamp((START + (TICKS - 1) * 20_000) / 1000 + 5, tz=CHINA_TZ))
    return Services.build(load_settings(path), clock)


async def closed(svc: Services) -> None:
    await svc.redis.aclose()
    svc.db.close()


def test_market_data_from_the_tick_stream_with_a_snapshot_row(settings_file: Path, redis_client: redis.Redis,
                                                               db: Database) -> None:
    async def run() -> list[dict[str, Any]]:
        svc = build(settings_file)
        write_ticks(redis_client, svc.web.keys.tick_stream(MAIN))
        try:
            answers = [await market_data(svc, None, "1m", 60, ids[0])]
            read = svc.ticks.entries_read
            answers.append(await market_data(svc, MAIN, "5m", 20, ids[1]))
            assert svc.ticks.entries_read == read, "the second call reads only new entries (none)"
            answers.append(await market_data(svc, None, "1d", 3, ids[2]))
            answers.append(await market_data(svc, "au2606", "15m", 10, ids[3]))
            return answers
        finally:
            await closed(svc)

    ids = [uuid.uuid4().hex for _ in range(4)]
    one, five, day, empty = asyncio.run(run())
    closes = np.array([price(3 * m + 2) for m in range(70)])  # each minute's last tick

    assert one["symbol"] == MAIN and one["timeframe"] == "1m" and one["snapshot_saved"] is True
    assert one["tick"] == {"bid": round(price(209) - 0.02, 2), "ask": round(price(209) + 0.02, 2), "last": price(209),
                           "volume": 1000 + 3 * 209, "open_interest": 50_209, "limit_up": 634.94, "limit_down": 563.06,
                           "ts_ms": START + 209 * 20_000, "trading_day": "20260105", "age_s": 5.0}
    assert one["bars_available"] == 70 and len(one["bars"]) == 60
    newest = one["bars"][-1]
    assert newest["ts_ms"] == START + 69 * 60_000 and newest["close"] == price(209)
    assert (newest["open"], newest["volume"], newest["open_interest"]) == (price(207), 9.0, 50_209)
    assert abs(newest["ema20"] - talib.EMA(closes, 20)[-1]) < 1e-9
    assert abs(newest["rsi14"] - talib.RSI(closes, 14)[-1]) < 1e-9
    assert one["bars"][0]["ts_ms"] == START + 10 * 60_000 and one["bars"][0]["ema50"] is None
    assert one["bars"][39]["ema50"] is not None and one["bars"][38]["ema50"] is None
    assert "ema50 on the oldest 39" in one["note"] and "asked" not in one["note"]

    assert five["bars_available"] == 14 and len(five["bars"]) == 14
    assert "14 5m bars available, 20 asked" in five["note"] and "Redis keeps the newest ~20000 ticks" in five["note"]
    second = five["bars"][1]  # 09:05-09:09: ticks 15..29
    assert second["ts_ms"] == START + 5 * 60_000 and second["volume"] == 45.0
    assert (second["open"], second["close"]) == (price(15), price(29))
    assert second["high"] == max(price(i) for i in range(15, 30)) and second["open_interest"] == 50_029
    assert all(b["ema20"] is None for b in five["bars"]), "14 bars: too few for EMA20"
    assert five["bars"][-1]["rsi7"] is not None

    assert len(day["bars"]) == 1 and day["bars"][0]["trading_day"] == "20260105" and day["bars"][0]["ts_ms"] == START
    assert day["bars"][0]["volume"] == 3 * 209 and day["bars"][0]["close"] == price(209)

    assert empty["symbol"] == "au2606" and empty["tick"] is None and empty["bars"] == []
    assert empty["bars_available"] == 0 and "no recorded ticks" in empty["note"]

    rows = {r["call_id"]: r for r in db.query("SELECT * FROM market_snapshots")}
    assert set(rows) == set(ids)
    row = rows[ids[0]]
    assert (row["symbol"], row["timeframe"], row["bars"]) == (MAIN, "1m", 60)
    assert float(row["last_price"]) == price(209) and float(row["open_interest"]) == 50_209
    assert float(row["bid_price"]) == round(price(209) - 0.02, 2)
    shown = json.loads(row["indicators"])
    assert shown["ts_ms"] == newest["ts_ms"] and shown["ema20"] == newest["ema20"] and shown["atr14"] == newest["atr14"]
    assert rows[ids[3]]["bars"] == 0 and rows[ids[3]]["indicators"] is None and rows[ids[3]]["last_price"] is None


def test_bad_requests_are_refused_before_anything_is_read(settings_file: Path, db: Database) -> None:
    async def run() -> None:
        svc = build(settings_file)
        try:
            for symbol, timeframe, count, message in [
                (None, "2m", 10, "timeframe must be one of 1m, 5m, 15m, 1h, 1d"),
                (None, "1H", 10, "timeframe"), (None, "1m", 0, "count must be a whole number from 1 to 500"),
                (None, "1m", 501, "count"), (None, "1m", True, "count"), (None, "1m", 2.5, "count"),
                ("au2702; DROP", "1m", 10, "symbol must be a contract like au2606"), ("", "1m", 10, "symbol"),
            ]:
                with pytest.raises(ValueError, match=message):
                    await market_data(svc, symbol, timeframe, count, uuid.uuid4().hex)
        finally:
            await closed(svc)

    asyncio.run(run())
    assert db.query("SELECT COUNT(*) AS n FROM market_snapshots")[0]["n"] == 0


def test_a_mysql_outage_answers_the_data_without_the_snapshot(config_dict: dict[str, Any], tmp_path: Path,
                                                              redis_client: redis.Redis) -> None:
    path = write_config(tmp_path / "no_mysql.json", deep_merge(config_dict, {"mysql": {"port": free_port()}}))

    async def run() -> dict[str, Any]:
        svc = build(path)
        write_ticks(redis_client, svc.web.keys.tick_stream(MAIN))
        try:
            return await market_data(svc, None, "15m", 5, uuid.uuid4().hex)
        finally:
            await closed(svc)

    answer = asyncio.run(run())
    assert answer["snapshot_saved"] is False
    assert answer["bars_available"] == 5 and [b["ts_ms"] for b in answer["bars"]] == [
        START + k * 15 * 60_000 for k in range(5)]
    assert answer["tick"]["last"] == price(209)
