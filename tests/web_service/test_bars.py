"""GET /api/bars: 1-minute OHLCV candles built from the tick stream in real Redis (ticks written in the
contract's TickMessage shape through the contract's Keys): open/high/low/close per minute of exchange time,
volume as the differences of the cumulative tick volume (the first tick adds none, a new trading day
restarts the count, a count going down within the day adds none), the window, bad input and login."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis

from common.contract import Keys
from common.trading_calendar import CHINA_TZ
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, WebServer
from web_service.bars import TickPoint, build_bars

SYMBOL = "au2606"


def ms(hhmmss: str, day: str = "2026-01-05") -> int:
    """Exchange time (Asia/Shanghai) as epoch ms; hh:mm:ss[.fff]."""
    return int(datetime.fromisoformat(f"{day}T{hhmmss}").replace(tzinfo=CHINA_TZ).timestamp() * 1000)


def add(r: redis.Redis, keys: Keys, at: int, price: float, volume: float, day: str = "20260105",
        symbol: str = SYMBOL, **extra: Any) -> None:
    message = seed.tick(symbol, price, ts_ms=at, volume=volume, trading_day=day, **extra)
    r.xadd(keys.tick_stream(symbol), message.to_fields())


def bars_of(api: ApiClient, **params: Any) -> dict[str, Any]:
    res = api.get("/api/bars", params={"symbol": SYMBOL, **params})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["columns"] == ["ts_ms", "open", "high", "low", "close", "volume"]
    return body


def test_bars_are_ohlcv_per_minute_with_volume_from_cumulative_differences(
    api: ApiClient, web: WebServer, redis_client: redis.Redis
) -> None:
    keys = web.keys
    add(redis_client, keys, ms("09:59:50"), 600.0, 1000)  # before the window: only the volume base
    add(redis_client, keys, ms("10:00:05"), 601.0, 1004)
    redis_client.xadd(keys.tick_stream(SYMBOL), {"garbage": "not a tick"})  # skipped
    add(redis_client, keys, ms("10:00:20"), 0.0, 1004)  # no trade price yet: skipped
    add(redis_client, keys, ms("10:00:30"), 599.5, 1010)
    add(redis_client, keys, ms("10:00:59.500"), 600.5, 1011)
    add(redis_client, keys, ms("10:02:00"), 602.0, 1020)  # 10:01 had no tick: no bar
    add(redis_client, keys, ms("10:02:10"), 601.8, 1020)

    body = bars_of(api, minutes=3)
    assert body["symbol"] == SYMBOL and body["minutes"] == 3 and body["interval_s"] == 60
    assert body["bars"] == [
        [ms("10:00:00"), 601.0, 601.0, 599.5, 600.5, 11.0],
        [ms("10:02:00"), 602.0, 602.0, 601.8, 601.8, 9.0],
    ]
    assert body["last_tick"] == {"ts_ms": ms("10:02:10"), "volume": 1020.0, "trading_day": "20260105"}

    whole = bars_of(api, minutes=1440)["bars"]
    assert whole[0] == [ms("09:59:00"), 600.0, 600.0, 600.0, 600.0, 0.0], "the very first tick adds no volume"
    assert whole[1:] == body["bars"]
    assert bars_of(api, minutes=1)["bars"] == [[ms("10:02:00"), 602.0, 602.0, 601.8, 601.8, 9.0]]


def test_a_new_trading_day_restarts_the_volume_and_a_drop_within_the_day_adds_none(
    api: ApiClient, web: WebServer, redis_client: redis.Redis
) -> None:
    keys = web.keys
    add(redis_client, keys, ms("14:59:58"), 600.0, 50_000, day="20260105")
    add(redis_client, keys, ms("21:00:01"), 603.0, 120, day="20260106")  # night session: the next trading day
    add(redis_client, keys, ms("21:00:30"), 604.0, 150, day="20260106")
    add(redis_client, keys, ms("21:01:00"), 604.2, 100, day="20260106")  # the gateway restarted its count
    add(redis_client, keys, ms("21:01:20"), 604.4, 110, day="20260106")

    body = bars_of(api, minutes=1440)
    assert body["bars"] == [
        [ms("14:59:00"), 600.0, 600.0, 600.0, 600.0, 0.0],
        [ms("21:00:00"), 603.0, 604.0, 603.0, 604.0, 150.0],  # 120 since the open + 30
        [ms("21:01:00"), 604.2, 604.4, 604.2, 604.4, 10.0],
    ]
    assert body["last_tick"]["trading_day"] == "20260106"


def test_a_long_stream_is_read_in_chunks_and_then_only_what_is_new(web: WebServer, redis_client: redis.Redis,
                                                                    api: ApiClient) -> None:
    start = ms("09:00:00")

    def write_seconds(first: int, last: int) -> None:  # one tick a second, cumulative volume +2 each: 120 a minute
        pipe = redis_client.pipeline()
        for i in range(first, last):
            pipe.xadd(web.keys.tick_stream(SYMBOL), seed.tick(SYMBOL, 600.0 + (i % 7) * 0.02, ts_ms=start + i * 1000,
                                                              volume=10_000 + 2 * i, trading_day="20260105").to_fields())
        pipe.execute()

    write_seconds(0, 2_500)
    bars = bars_of(api, minutes=60)["bars"]
    assert len(bars) == 42  # 2,500 s = minutes 09:00 .. 09:41
    assert bars[0][0] == start and bars[0][5] == 118.0  # its first tick is the stream's first: no base
    assert all(b[5] == 120.0 for b in bars[1:-1])
    assert bars[-1][5] == 2 * 40  # 09:41:00 .. 09:41:39
    window = bars_of(api, minutes=40)["bars"]  # from 09:02: its base is the 09:01:59 tick
    assert len(window) == 40 and window[0][0] == start + 2 * 60_000 and window[0][5] == 120.0
    assert window == bars[2:]

    cache = web.app.state.services.ticks
    read = cache.entries_read
    write_seconds(2_500, 2_530)  # 09:41:40 .. 09:42:09
    again = bars_of(api, minutes=60)["bars"]
    assert cache.entries_read - read == 30, "only the new entries are read"
    assert again[:-2] == bars[:-1] and again[-2][5] == 120.0 and again[-1] == [start + 42 * 60_000, *again[-1][1:5], 20.0]


def test_a_stream_begun_again_or_trimmed_past_what_was_read_is_read_anew(
    api: ApiClient, web: WebServer, redis_client: redis.Redis
) -> None:
    stream = web.keys.tick_stream(SYMBOL)

    def write(at: int, price: float, volume: float) -> None:  # ids follow the tick time, as the core writes them
        redis_client.xadd(stream, seed.tick(SYMBOL, price, ts_ms=at, volume=volume, trading_day="20260105").to_fields(),
                          id=f"{at}-*")

    write(ms("10:05:00"), 600.0, 100)
    write(ms("10:05:10"), 601.0, 110)
    assert bars_of(api)["bars"] == [[ms("10:05:00"), 600.0, 601.0, 600.0, 601.0, 10.0]]
    redis_client.delete(stream)  # a rollover deleted it; ticks of an earlier time come in again
    write(ms("10:01:00"), 590.0, 50)
    write(ms("10:01:30"), 591.0, 53)
    assert bars_of(api)["bars"] == [[ms("10:01:00"), 590.0, 591.0, 590.0, 591.0, 3.0]]

    for i in range(1, 200):
        write(ms("10:01:30") + i * 1000, 592.0, 53 + i)
    redis_client.xtrim(stream, maxlen=50, approximate=False)  # everything read before is gone: the volume in between is unknown
    first_left = redis_client.xrange(stream, count=1)[0][1]
    body = bars_of(api, minutes=1440)
    assert body["bars"][0][0] == int(first_left["ts_ms"]) - int(first_left["ts_ms"]) % 60_000
    assert sum(b[5] for b in body["bars"]) == 49.0, "50 ticks left, +1 lot each, the first one with no base"


def test_default_symbol_and_empty_stream(api: ApiClient) -> None:
    body = api.get("/api/bars").json()
    assert body["symbol"] == "au2702" and body["minutes"] == 240
    assert body["bars"] == [] and body["last_tick"] is None


def test_bad_parameters_are_422_and_login_is_required(web: WebServer, api: ApiClient) -> None:
    for params in ({"symbol": "au2702; DROP"}, {"symbol": "../x"}, {"minutes": 0}, {"minutes": 1441},
                   {"minutes": "abc"}, {"minutes": "1e3"}, {"minute": 10}):
        res = api.get("/api/bars", params=params)
        assert res.status_code == 422, (params, res.text)
        assert res.json()["detail"]
    anonymous = web.client(login=False)
    assert anonymous.get("/api/bars", params={"symbol": SYMBOL}).status_code == 401
    anonymous.http.close()


def test_build_bars_counts_a_late_tick_in_the_current_bar() -> None:
    ticks = [TickPoint(ms("10:00:10"), 600.0, 10, "d"), TickPoint(ms("10:01:10"), 601.0, 12, "d"),
             TickPoint(ms("10:00:50"), 599.0, 15, "d")]  # stamped before the current bar
    assert [b.row() for b in build_bars(ticks, 0)] == [
        [ms("10:00:00"), 600.0, 600.0, 600.0, 600.0, 0.0],
        [ms("10:01:00"), 601.0, 601.0, 599.0, 599.0, 5.0],
    ]
