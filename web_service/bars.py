"""1-minute OHLCV bars built from the recorded ticks (the Redis stream `market_data:{symbol}`).

A bar covers one minute of exchange time and is labelled by its first millisecond (epoch ms, UTC).
Its volume is what traded within that minute: the sum of the differences of the ticks' cumulative
volume, each tick against the one before it.
- The window's first tick has the tick before it as its base. A tick with no tick at all before it adds
  no volume: its cumulative figure is the whole day's so far.
- A new trading day restarts the cumulative volume: its first tick adds its own figure (what traded
  since the open, e.g. the opening auction).
- A cumulative volume that goes down within one trading day (the gateway restarted its count) adds
  nothing and becomes the new base.
Ticks without a trade price (last_price 0) and entries that do not parse are skipped. The page applies
the same rules to the live ticks (static/market.js), so a duplicate tick never adds volume twice.
A bar also keeps the open interest of its newest tick that states one and the trading day of its first
tick (the AI's market data, web_service/mcp_market.py, reads both; the /api/bars rows do not carry them).
The ticks read are cached per stream (TickCache): a request reads only the entries added since the last
one, in chunks, so the event loop (which also pushes the ticks to the browsers) is never held for long.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import redis.asyncio as aioredis

MINUTE_MS = 60_000
READ_CHUNK = 500  # entries per XRANGE: parsing one chunk holds the event loop ~20 ms, not the whole stream's ~1 s
MAX_STREAMS = 8  # streams whose ticks are cached (least recently asked for dropped first)


class TickPoint(NamedTuple):
    """What a bar needs of one tick (a tuple of plain values: the cyclic GC leaves it alone)."""

    ts_ms: int  # exchange time
    price: float  # last_price
    volume: float  # cumulative volume of the trading day
    trading_day: str
    open_interest: float = 0.0  # 0 = not stated

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> TickPoint | None:
        """The point of one stream entry (TickMessage.to_fields()), or None if it has no usable trade."""
        try:
            point = cls(int(fields["ts_ms"]), float(fields["last_price"]), float(fields.get("volume", 0.0)),
                        fields["trading_day"], float(fields.get("open_interest", 0.0)))
        except (KeyError, ValueError):
            return None
        if not (math.isfinite(point.price) and math.isfinite(point.volume)) or point.price <= 0:
            return None
        if not math.isfinite(point.open_interest) or point.open_interest < 0:
            return point._replace(open_interest=0.0)
        return point


@dataclass(slots=True)
class Bar:
    ts_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    open_interest: float = 0.0  # of the newest tick stating one (0 = none did)
    trading_day: str = ""  # of the first tick

    def add(self, price: float, volume: float, open_interest: float = 0.0) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += volume
        if open_interest > 0:
            self.open_interest = open_interest

    def row(self) -> list[float]:
        return [self.ts_ms, self.open, self.high, self.low, self.close, self.volume]


def minute_of(ts_ms: int) -> int:
    return ts_ms - ts_ms % MINUTE_MS


def volume_step(prev: TickPoint | None, tick: TickPoint) -> float:
    """What traded between `prev` and `tick`, by the rules in the module doc."""
    if prev is None:
        return 0.0
    if tick.trading_day != prev.trading_day:
        return tick.volume
    return max(tick.volume - prev.volume, 0.0)


def build_bars(ticks: Iterable[TickPoint], since_ms: int) -> list[Bar]:
    """Bars of the ticks (oldest first) from `since_ms` on; earlier ticks only set the volume base.
    A tick stamped earlier than the current bar (a late one) counts in the current bar."""
    bars: list[Bar] = []
    prev: TickPoint | None = None
    for tick in ticks:
        step = volume_step(prev, tick)
        prev = tick
        if tick.ts_ms < since_ms:
            continue
        minute = minute_of(tick.ts_ms)
        if bars and minute <= bars[-1].ts_ms:
            bars[-1].add(tick.price, step, tick.open_interest)
        else:
            bars.append(Bar(minute, tick.price, tick.price, tick.price, tick.price, step, tick.open_interest,
                            tick.trading_day))
    return bars


def entry_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


@dataclass
class _Cached:
    points: list[TickPoint] = field(default_factory=list)
    first_id: str = ""  # the stream's first entry when the cache started reading it
    last_id: str = ""  # the last entry read
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class TickCache:
    """The ticks of each stream read so far, so a request reads only the entries added since the last one.
    Starts over when the stream no longer holds what was read: deleted (at a rollover) and begun again
    (its ids went back), or trimmed past the last entry read (the volume in between would be unknown)."""

    def __init__(self, max_points: int) -> None:
        self.max_points = max_points
        self.entries_read = 0
        self._streams: OrderedDict[str, _Cached] = OrderedDict()

    async def points(self, client: aioredis.Redis, stream: str) -> list[TickPoint]:
        cached = self._streams.get(stream) or _Cached()
        self._streams[stream] = cached
        self._streams.move_to_end(stream)
        while len(self._streams) > MAX_STREAMS:
            self._streams.popitem(last=False)
        async with cached.lock:
            first = await client.xrange(stream, count=1)
            last = await client.xrevrange(stream, count=1)
            if not first or not last:
                cached.points, cached.first_id, cached.last_id = [], "", ""
                return []
            first_id, last_id = entry_id(first[0][0]), entry_id(last[0][0])
            if cached.last_id and (last_id < entry_id(cached.last_id) or first_id < entry_id(cached.first_id)
                                   or first_id > entry_id(cached.last_id)):
                cached.points, cached.last_id = [], ""
            if not cached.last_id:
                cached.first_id = first[0][0]
            await self._read_new(client, stream, cached)
            return cached.points

    async def _read_new(self, client: aioredis.Redis, stream: str, cached: _Cached) -> None:
        while True:
            start = "(" + cached.last_id if cached.last_id else "-"
            entries = await client.xrange(stream, min=start, max="+", count=READ_CHUNK)
            self.entries_read += len(entries)
            for _entry_id, fields in entries:
                point = TickPoint.from_fields(fields)
                if point is not None:
                    cached.points.append(point)
            if entries:
                cached.last_id = entries[-1][0]
            if len(entries) < READ_CHUNK:
                break
        if len(cached.points) > self.max_points:
            del cached.points[: len(cached.points) - self.max_points]


def window_start(newest_ms: int, minutes: int) -> int:
    """The first millisecond of a window of `minutes` whole minutes ending with the newest tick's minute."""
    return minute_of(newest_ms) - (minutes - 1) * MINUTE_MS


def in_window(points: list[TickPoint], since_ms: int) -> list[TickPoint]:
    """The points from `since_ms` on (stream order), with the one point before them as the volume base."""
    i = len(points)
    while i > 0 and points[i - 1].ts_ms >= since_ms:
        i -= 1
    return points[max(i - 1, 0):]


def minute_bars(points: list[TickPoint], minutes: int) -> dict[str, Any]:
    """The answer of GET /api/bars: the bars of the last `minutes` minutes up to the newest tick, and the
    newest tick's figures the page continues from."""
    if not points:
        return {"bars": [], "last_tick": None}
    newest = points[-1]
    since = window_start(newest.ts_ms, minutes)
    bars = build_bars(in_window(points, since), since)
    return {
        "bars": [bar.row() for bar in bars],
        "last_tick": {"ts_ms": newest.ts_ms, "volume": newest.volume, "trading_day": newest.trading_day},
    }
