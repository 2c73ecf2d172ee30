"""Live-state API: what the core wrote to Redis (in the contract's shapes), as the pages get it."""

from __future__ import annotations

import time

import redis

from common.contract import GatewayState, now_ms
from tests.helpers import eventually
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, WebServer


def test_status_says_core_down_without_heartbeat(api: ApiClient) -> None:
    status = api.get("/api/status").json()
    assert status["core_alive"] is False and status["heartbeat"] is None
    assert status["redis_ok"] is True and status["stale"] is True


def test_status_reports_gateway_state_and_reason(api: ApiClient, web: WebServer, redis_client: redis.Redis) -> None:
    seed.write_heartbeat(redis_client, web.keys, state=GatewayState.LOGIN_FAILED, reason="CTP: 3 invalid password")
    seed.write_tick(redis_client, web.keys, "au2702", 600.0)
    status = api.get("/api/status").json()
    assert status["core_alive"] is True and status["gateway_logged_in"] is False
    assert status["gateway"]["state"] == "LOGIN_FAILED" and "invalid password" in status["gateway"]["reason"]
    assert status["mysql_ok"] in (True, False) and status["redis_ok"] is True
    assert status["tick_age_s"] is not None and status["tick_age_s"] < 5
    assert status["main_contract"] == "au2702" and status["stale_after_s"] == 10


def test_market_gives_the_latest_tick_and_the_days_history(
    api: ApiClient, web: WebServer, redis_client: redis.Redis
) -> None:
    assert api.get("/api/market").json()["tick"] is None
    base = now_ms()
    for i in range(5):
        seed.write_tick(redis_client, web.keys, "au2702", 600 + i * 0.02, ts_ms=base + i * 500)
    market = api.get("/api/market").json()
    assert market["symbol"] == "au2702" and market["tick"]["last_price"] == 600.08
    assert market["tick"]["pre_settlement"] == 599.0 and market["tick"]["limit_up"] == 634.94
    history = api.get("/api/market/ticks", params={"symbol": "au2702"}).json()
    assert [p[1] for p in history["points"]] == [600.0, 600.02, 600.04, 600.06, 600.08]
    assert api.get("/api/market", params={"symbol": "au2702; DROP"}).status_code == 422
    assert api.get("/api/market/ticks", params={"limit": 20001}).status_code == 422


def test_positions_show_live_pnl_by_direction_and_hide_flat(
    api: ApiClient, web: WebServer, redis_client: redis.Redis
) -> None:
    seed.write_position(redis_client, web.keys, seed.position("au2702", "LONG", 2, 600.0, yd_volume=1, td_volume=1))
    seed.write_position(redis_client, web.keys, seed.position("au2702", "SHORT", 3, 601.0))
    seed.write_position(redis_client, web.keys, seed.position("au2706", "LONG", 0, 590.0))
    seed.write_tick(redis_client, web.keys, "au2702", 600.5)
    rows = {r["direction"]: r for r in api.get("/api/positions").json()}
    assert set(rows) == {"LONG", "SHORT"}, "a volume-0 position is flat and not shown"
    assert rows["LONG"]["pnl"] == (600.5 - 600.0) * 2 * 1000 and rows["LONG"]["pnl_source"] == "live"
    assert rows["SHORT"]["pnl"] == (601.0 - 600.5) * 3 * 1000
    assert rows["LONG"]["td_volume"] == 1 and rows["LONG"]["yd_volume"] == 1
    assert rows["LONG"]["last_price"] == 600.5 and rows["LONG"]["margin"] > 0


def test_account_adds_live_unrealized_pnl(api: ApiClient, web: WebServer, redis_client: redis.Redis) -> None:
    assert api.get("/api/account").status_code == 404
    seed.write_account(redis_client, web.keys, seed.account(1_000_000.0, unrealized=500.0))
    seed.write_position(redis_client, web.keys, seed.position("au2702", "LONG", 1, 600.0))
    seed.write_tick(redis_client, web.keys, "au2702", 601.0)
    account = api.get("/api/account").json()
    assert account["balance"] == 1_000_000.0 and account["unrealized_pnl"] == 500.0
    assert account["live_unrealized_pnl"] == 1000.0
    assert account["live_balance"] == 1_000_000.0 - 500.0 + 1000.0


def test_yesterdays_lots_show_both_prices_and_equity_moves_from_the_settlement_base(
        api: ApiClient, web: WebServer, redis_client: redis.Redis) -> None:
    """A lot bought yesterday at 600.00, settled at 605.00: the broker marks it to 605 (its position
    profit, in the balance, is against 605), the trader paid 600. Both PnLs shown; live equity moves
    from the static balance by the profit against 605 only (as CTP's Balance does)."""
    seed.write_position(redis_client, web.keys, seed.position("au2702", "LONG", 1, 600.0, yd_volume=1, td_volume=0,
                                                              cost_price=605.0, unrealized_pnl=-4000.0))
    seed.write_account(redis_client, web.keys, seed.account(996_000.0, unrealized=-4000.0))
    seed.write_tick(redis_client, web.keys, "au2702", 606.0)
    row = api.get("/api/positions").json()[0]
    assert row["price"] == 600.0 and row["cost_price"] == 605.0
    assert row["pnl"] == 6000.0 and row["mtm_pnl"] == 1000.0 and row["gateway_mtm_pnl"] == -4000.0
    account = api.get("/api/account").json()
    assert account["static_balance"] == 1_000_000.0
    assert account["live_unrealized_pnl"] == 1000.0 and account["live_balance"] == 1_001_000.0


def test_strategies_orders_contracts(api: ApiClient, web: WebServer, redis_client: redis.Redis) -> None:
    seed.write_strategy(redis_client, web.keys, seed.strategy("s1", "TRADING", variables={"pos": 1}))
    seed.write_order(redis_client, web.keys, seed.order("SIM.1", "NOTTRADED"))
    seed.write_order(redis_client, web.keys, seed.order("SIM.2", "ALLTRADED", ts_ms=now_ms() + 10))
    seed.write_contracts(redis_client, web.keys, ["au2702", "au2706"], "au2702")
    strategies = api.get("/api/strategies").json()
    assert strategies[0]["name"] == "s1" and strategies[0]["state"] == "TRADING"
    assert strategies[0]["class_name"] == "AuDualMaStrategy" and strategies[0]["variables"] == {"pos": 1}
    assert [o["vt_orderid"] for o in api.get("/api/orders").json()] == ["SIM.2", "SIM.1"]
    assert [o["vt_orderid"] for o in api.get("/api/orders", params={"active_only": True}).json()] == ["SIM.1"]
    contracts = api.get("/api/contracts").json()
    assert contracts["main_contract"]["symbol"] == "au2702"
    assert [c["symbol"] for c in contracts["contracts"]] == ["au2702", "au2706"]


def test_unparsable_state_is_skipped_not_shown(api: ApiClient, web: WebServer, redis_client: redis.Redis) -> None:
    redis_client.hset(web.keys.positions, "bad|LONG", '{"not": "a position"}')
    seed.write_position(redis_client, web.keys, seed.position("au2702", "LONG", 1, 600.0))
    assert [r["vt_symbol"] for r in api.get("/api/positions").json()] == ["au2702.SHFE"]


def test_stale_flag_follows_the_tick_age(api: ApiClient, web: WebServer, redis_client: redis.Redis) -> None:
    seed.write_heartbeat(redis_client, web.keys)
    old = time.time() - 60
    seed.write_tick(redis_client, web.keys, "au2702", 600.0, local_ts=old, ts_ms=int(old * 1000))
    status = eventually(lambda: api.get("/api/status").json())
    assert status["tick_age_s"] >= 59
    assert status["stale"] == status["in_session"], "stale only counts during trading hours"


def test_healthz_needs_no_login_and_tells_the_truth(web: WebServer, redis_client: redis.Redis) -> None:
    anonymous = web.client(login=False)
    down = anonymous.get("/healthz")
    assert down.status_code == 503 and down.json()["core"] is False and down.json()["redis"] is True
    seed.write_heartbeat(redis_client, web.keys, state=GatewayState.LOGGED_IN)
    up = anonymous.get("/healthz")
    assert up.status_code == 200, up.json()
    assert up.json() | {"calendar_warning": None} == {
        "web": True, "redis": True, "mysql": True, "core": True, "gateway": "LOGGED_IN", "core_mysql": True,
        "core_state": "running", "core_state_reason": "", "calendar_warning": None}
    seed.write_heartbeat(redis_client, web.keys, state=GatewayState.DISCONNECTED, reason="0x1001")
    assert anonymous.get("/healthz").status_code == 503
