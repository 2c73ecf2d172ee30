"""The web's read model (web_service/live_cache.py) as pure logic: events and ticks in, rows, PnL, status
and change notices out, on a TestClock, with no Redis and no MySQL (the cache is never started, so it
reads nothing and follows no stream). The same logic against the real Redis: test_ws.py, test_api_state.py."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from common.clock import TestClock
from common.config import AppConfig
from common.contract import EventMessage, GatewayState, GatewayStatus, Heartbeat, MainContract, TickMessage
from tests.web_service import seed
from web_service.live_cache import LiveCache
from web_service.live_state import LiveState, build_status
from web_service.settings import WebSettings
from web_service.ws_messages import SERVER_MESSAGE, Snapshot, Update

IN_SESSION = datetime(2027, 1, 15, 2, 0, tzinfo=UTC)  # Friday 10:00 in Shanghai: the morning session
Emitted = list[tuple[str, Any, str | None]]


@pytest.fixture
def clock() -> TestClock:
    return TestClock(IN_SESSION)


@pytest.fixture
def cache(clock: TestClock) -> LiveCache:
    config = AppConfig.model_validate({
        "market_data": {"main_contract": "au2702", "contract_multiplier": 1000, "exchange": "SHFE"},
        "gateway": {"name": "sim"},
        "redis": {"host": "127.0.0.1", "port": 1, "key_prefix": "unit:"},  # never connected to
        "mysql": {"host": "127.0.0.1", "port": 1, "user": "nobody", "database": "none"},
        "strategies": [],
    })
    web = WebSettings(config=config, config_file=Path(os.devnull))
    return LiveCache(LiveState(aioredis.Redis(port=1), web.keys, clock), web, None, clock)


def listen(cache: LiveCache) -> Emitted:
    emitted: Emitted = []
    cache.listen(lambda topic, data, key: emitted.append((topic, data, key)))
    return emitted


def tick_entry(clock: TestClock, symbol: str, price: float) -> tuple[str, dict[str, str]]:
    tick = seed.tick(symbol, price, ts_ms=clock.now_ms(), local_ts=clock.now().timestamp())
    return "1-0", tick.to_fields()


def test_positions_and_prices_give_live_pnl(cache: LiveCache, clock: TestClock) -> None:
    emitted = listen(cache)
    cache.apply_event(EventMessage(type="position", data=seed.position("au2702", "LONG", 2, 600.0).model_dump()))
    cache.apply_event(EventMessage(type="account", data=seed.account(1_000_000.0, unrealized=0.0).model_dump()))
    assert cache.changed.is_set() and cache.needed_symbols() == {"au2702"}
    [row] = cache.position_rows()
    assert row["pnl_source"] == "core" and row["last_price"] is None, "no price yet: the core's PnL"
    cache.changed.clear()

    cache.on_ticks("au2702", [tick_entry(clock, "au2702", 599.0), tick_entry(clock, "au2702", 601.5)])
    assert [(t, d["last_price"], k) for t, d, k in emitted] == [("tick:au2702", 601.5, "tick:au2702")], \
        "only the newest tick of a batch is pushed"
    assert cache.changed.is_set(), "a price of an open position moved"
    [row] = cache.position_rows()
    assert row["pnl"] == 1.5 * 2 * 1000 and row["pnl_source"] == "live" and row["tick_ms"] == clock.now_ms()
    account = cache.account_row([row])
    assert account is not None and account["live_unrealized_pnl"] == 3000.0
    assert account["live_balance"] == 1_003_000.0

    flat = seed.position("au2702", "LONG", 0, 600.0)
    cache.apply_event(EventMessage(type="position", data=flat.model_dump()))
    assert cache.position_rows() == [] and cache.positions == {}


def test_events_become_topic_updates_and_the_main_contract_moves(cache: LiveCache) -> None:
    emitted = listen(cache)
    cache.apply_event(EventMessage(type="order", data=seed.order("SIM.7").model_dump()))
    cache.apply_event(EventMessage(type="strategy", data=seed.strategy("s1").model_dump()))
    cache.apply_event(EventMessage(type="trigger", data={"uid": "u1", "result": "success", "update": True}))
    main = MainContract(symbol="au2706", exchange="SHFE", vt_symbol="au2706.SHFE", since_ms=1)
    cache.apply_event(EventMessage(type="main_contract", data=main.model_dump()))
    assert [(t, k) for t, _, k in emitted] == [
        ("orders", "orders:SIM.7"), ("strategies", "strategies:s1"), ("triggers", "trigger-result:u1")]
    assert emitted[2][1] == {"uid": "u1", "result": "success", "error": "", "update": True}
    assert cache.main_symbol == "au2706" and "au2706" in cache.needed_symbols()


def test_a_bad_event_raises_and_changes_nothing(cache: LiveCache) -> None:
    emitted = listen(cache)
    with pytest.raises(ValueError):
        cache.apply_event(EventMessage(type="position", data={"not": "a position"}))
    assert cache.positions == {} and emitted == [] and not cache.changed.is_set()


def test_status_freshness_follows_the_clock(clock: TestClock) -> None:
    beat = Heartbeat(pid=1, ts_ms=clock.now_ms(), started_ms=clock.now_ms(), main_contract="au2702",
                     gateway=GatewayStatus(name="sim", state=GatewayState.LOGGED_IN, since_ms=clock.now_ms()),
                     trading_day="20270115", mysql_ok=True, mysql_backlog=0, redis_backlog=0)
    tick_ms = clock.now_ms()
    clock.advance(4)
    fresh = build_status(clock, beat, True, True, tick_ms, 10)
    assert fresh["in_session"] and not fresh["stale"] and fresh["tick_age_s"] == 4.0
    assert fresh["server_ms"] == clock.now_ms() and fresh["core_alive"] and fresh["gateway_logged_in"]
    clock.advance(7)
    assert build_status(clock, beat, True, True, tick_ms, 10)["stale"], "11 s without a tick in session"
    assert build_status(clock, None, False, True, tick_ms, 10)["core_alive"] is None, "Redis down: unknown"
    clock.set(datetime(2027, 1, 16, 4, 0, tzinfo=UTC))  # Saturday noon: no session, an old tick is fine
    weekend = build_status(clock, beat, True, True, tick_ms, 10)
    assert not weekend["in_session"] and not weekend["stale"]


def test_server_messages_are_one_union(clock: TestClock) -> None:
    tick = TickMessage.from_fields(tick_entry(clock, "au2702", 600.0)[1])
    text = Update(topic="tick:au2702", data=tick.model_dump()).to_json()
    assert text.startswith('{"type":"update","topic":"tick:au2702","data":{')
    parsed = SERVER_MESSAGE.validate_json(Snapshot(topic="positions", data=None, server_ms=1).to_json())
    assert isinstance(parsed, Snapshot) and parsed.data is None
    assert SERVER_MESSAGE.validate_json('{"type":"error","message":"x"}').type == "error"
