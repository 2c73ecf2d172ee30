"""Market data for the AI trader's `get_market_data` MCP tool (issue 13): the latest tick, bars of a timeframe
with their indicators, and one `market_snapshots` row per call.

- Bars come from the core's recorded ticks (the Redis stream `market_data:{symbol}`) through the same 1-minute
  bars and tick cache as GET /api/bars (web_service/bars.py), so they hold only what the stream holds (Redis
  keeps the newest `redis.tick_maxlen` ticks); the answer's `note` says so when fewer bars than asked exist.
- 1-minute bars are aggregated on exchange-time boundaries: 5m/15m/1h by clock time in Asia/Shanghai (an
  hour bar holds what traded in that clock hour, like vnpy's BarGenerator), 1d by the trading day the core
  stamped on the ticks (the night session counts with the next day). A bar is labelled by its first
  millisecond (1d: its first minute); volume is summed, open interest is the newest stated.
- Indicators are TA-Lib's (the library vnpy's ArrayManager wraps): EMA(20), EMA(50), MACD(12, 26, 9),
  RSI(7), RSI(14), ATR(14), over every bar available, so the bars returned carry the same values however
  many are asked. A value TA-Lib does not define yet (too few bars before it) is None, never NaN.
- The snapshot row is written off the event loop; a MySQL outage is logged and answered with
  `snapshot_saved: false`, never a failed call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import talib

from common.performance.rows import utc_naive
from web_service import bars
from web_service.api_bars import SYMBOL
from web_service.dependency_errors import WebDatabase, china_time
from web_service.live_state import tick_time_ms

if TYPE_CHECKING:
    from web_service.services import Services

log = logging.getLogger(__name__)

TIMEFRAMES: dict[str, int] = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "1d": 0}  # 0: trading day
MAX_COUNT = 500
INDICATORS = ("ema20", "ema50", "macd", "macd_signal", "macd_hist", "rsi7", "rsi14", "atr14")
SYMBOL_RE = re.compile(SYMBOL)
SNAPSHOT_SQL = (
    "INSERT INTO market_snapshots (call_id, symbol, timeframe, ts, last_price, bid_price, ask_price, open_interest,"
    " bars, indicators) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)

# One tick cache per running app when the caller passes none (keyed by the app's LiveState, dropped with it).


def check_request(symbol: str | None, timeframe: str, count: int) -> None:
    """ValueError naming what is wrong with a request; nothing is read before this passes."""
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"timeframe must be one of {', '.join(TIMEFRAMES)} (got {str(timeframe)[:20]!r})")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be a whole number from 1 to {MAX_COUNT} (got {str(count)[:20]!r})")
    if symbol is not None and not (isinstance(symbol, str) and SYMBOL_RE.match(symbol)):
        raise ValueError(f"symbol must be a contract like au2606 (got {str(symbol)[:20]!r})")


# ---------------------------------------------------------------- pure parts


def minute_rows(minute_bars: list[bars.Bar]) -> list[dict[str, Any]]:
    return [{"ts_ms": b.ts_ms, "trading_day": b.trading_day, "open": b.open, "high": b.high, "low": b.low,
             "close": b.close, "volume": b.volume, "open_interest": b.open_interest} for b in minute_bars]


def resample(minute: list[dict[str, Any]], timeframe: str) -> list[dict[str, Any]]:
    """1-minute bars (oldest first, as minute_rows gives them) -> bars of `timeframe` (see the module doc)."""
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"timeframe must be one of {', '.join(TIMEFRAMES)} (got {str(timeframe)[:20]!r})")
    span = TIMEFRAMES[timeframe]
    out: list[dict[str, Any]] = []
    last_key: Any = None
    for bar in minute:
        key = bar["trading_day"] if span == 0 else bar["ts_ms"] - bar["ts_ms"] % span
        if out and key == last_key:
            into = out[-1]
            into["high"] = max(into["high"], bar["high"])
            into["low"] = min(into["low"], bar["low"])
            into["close"] = bar["close"]
            into["volume"] += bar["volume"]
            if bar["open_interest"] > 0:
                into["open_interest"] = bar["open_interest"]
        else:
            out.append(dict(bar, ts_ms=bar["ts_ms"] if span == 0 else key))
            last_key = key
    return out


def _value(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def indicators(rows: list[dict[str, Any]]) -> list[dict[str, float | None]]:
    """TA-Lib's EMA20, EMA50, MACD(12,26,9) line/signal/hist, RSI7, RSI14 and ATR14 of each bar (oldest
    first; each needs high, low, close), None where TA-Lib has no value yet."""
    if not rows:
        return []
    high = np.array([r["high"] for r in rows], dtype=np.float64)
    low = np.array([r["low"] for r in rows], dtype=np.float64)
    close = np.array([r["close"] for r in rows], dtype=np.float64)
    macd, signal, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    series = {
        "ema20": talib.EMA(close, timeperiod=20),
        "ema50": talib.EMA(close, timeperiod=50),
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": hist,
        "rsi7": talib.RSI(close, timeperiod=7),
        "rsi14": talib.RSI(close, timeperiod=14),
        "atr14": talib.ATR(high, low, close, timeperiod=14),
    }
    columns = {name: values.tolist() for name, values in series.items()}
    return [{name: _value(columns[name][i]) for name in INDICATORS} for i in range(len(rows))]


def _null_note(rows: list[dict[str, Any]]) -> str:
    """Which indicators are null on the oldest bars returned (too few bars before them)."""
    groups: dict[int, list[str]] = {}
    for name in INDICATORS:
        leading = next((i for i, r in enumerate(rows) if r[name] is not None), len(rows))
        if leading:
            groups.setdefault(leading, []).append(name)
    parts = [f"{'/'.join(names)} on the oldest {n}" for n, names in sorted(groups.items())]
    return "null while too few bars precede: " + ", ".join(parts) if parts else ""


def build(points: list[bars.TickPoint], timeframe: str, count: int, tick_maxlen: int) -> dict[str, Any]:
    """The bars part of the answer from the stream's ticks (oldest first): bars, bars_available, note."""
    frames = resample(minute_rows(bars.build_bars(points, 0)), timeframe)
    values = indicators(frames)
    rows = [{"ts_ms": f["ts_ms"], "trading_day": f["trading_day"], "open": f["open"], "high": f["high"],
             "low": f["low"], "close": f["close"], "volume": f["volume"],
             "open_interest": f["open_interest"] or None} | v for f, v in zip(frames, values, strict=True)]
    rows = rows[-count:]
    notes: list[str] = []
    if not points:
        notes.append("no recorded ticks for this contract in Redis: no bars")
    elif len(frames) < count:
        notes.append(f"{len(frames)} {timeframe} bars available, {count} asked: the recorded tick stream (Redis keeps"
                     f" the newest ~{tick_maxlen} ticks) runs from {china_time(points[0].ts_ms)} to"
                     f" {china_time(points[-1].ts_ms)}")
        if timeframe != "1m" and frames:
            notes.append("the oldest bar begins where the stream begins and may be partial")
    null_note = _null_note(rows)
    if null_note:
        notes.append(null_note)
    return {"bars": rows, "bars_available": len(frames), "note": "; ".join(notes)}


def _price(x: float) -> float | None:
    return x if math.isfinite(x) and x > 0 else None


def tick_view(tick: Any, now_ms: int) -> dict[str, Any] | None:
    """The latest tick (a TickMessage) as the tool answers it; a price of 0 (not stated) is None. `age_s`
    is measured from the gateway's creation time, like the pages' data age."""
    if tick is None:
        return None
    return {
        "bid": _price(tick.bid_price_1), "ask": _price(tick.ask_price_1), "last": _price(tick.last_price),
        "volume": tick.volume if math.isfinite(tick.volume) else None, "open_interest": _price(tick.open_interest),
        "limit_up": _price(tick.limit_up), "limit_down": _price(tick.limit_down),
        "ts_ms": tick.ts_ms, "trading_day": tick.trading_day, "age_s": round((now_ms - tick_time_ms(tick)) / 1000, 3),
    }  # fmt: skip


# ---------------------------------------------------------------- I/O


def snapshot_row(call_id: str, answer: dict[str, Any], now_ms: int) -> tuple[Any, ...]:
    tick = answer["tick"] or {}
    newest = answer["bars"][-1] if answer["bars"] else None
    shown = None
    if newest is not None:
        shown = json.dumps({k: newest[k] for k in ("ts_ms", "close", "open_interest", *INDICATORS)}, allow_nan=False)
    return (call_id, answer["symbol"], answer["timeframe"], utc_naive(now_ms), tick.get("last"), tick.get("bid"),
            tick.get("ask"), tick.get("open_interest"), len(answer["bars"]), shown)


def save_snapshot(db: WebDatabase, row: tuple[Any, ...]) -> bool:
    """Insert one market_snapshots row; False (logged) when MySQL cannot take it."""
    try:
        db.execute(SNAPSHOT_SQL, row)
    except Exception as exc:
        log.warning("market snapshot of call %s not saved: %s: %s", row[0], type(exc).__name__, exc)
        return False
    return True


async def market_data(svc: Services, symbol: str | None, timeframe: str, count: int, call_id: str, *,
                      tick_cache: bars.TickCache | None = None) -> dict[str, Any]:
    """The get_market_data answer: symbol (None = the main contract), timeframe, tick, bars (newest last, at
    most `count`), bars_available, note, snapshot_saved. ValueError for a bad timeframe, count or symbol."""
    check_request(symbol, timeframe, count)
    symbol = symbol or await svc.cache.main_contract()
    cache = tick_cache or svc.ticks
    points = list(await cache.points(svc.live.redis, svc.web.keys.tick_stream(symbol)))  # a copy: the cache grows
    tick = await svc.live.latest_tick(symbol)
    built = await asyncio.to_thread(build, points, timeframe, count, svc.web.config.redis.tick_maxlen)
    now_ms = svc.clock.now_ms()
    answer = {"symbol": symbol, "timeframe": timeframe, "tick": tick_view(tick, now_ms), **built}
    answer["snapshot_saved"] = await asyncio.to_thread(save_snapshot, svc.db, snapshot_row(call_id, answer, now_ms))
    return answer
