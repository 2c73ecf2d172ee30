"""get_account_state over MCP against the read model (no core: the core's Redis state and MySQL lots seeded as
the core writes them): the account with live equity, positions with live PnL, their exit plan from the AI state,
opened_at and volume-weighted confidence from the open lots, pending orders only, the AI switch and limits, every
age; unknown parts None and said in notes. And a tool call pushed to the console over the WebSocket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.contract import AiLimits, AiState, ExitPlanState, position_field
from common.db import Database
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, WebServer
from tests.web_service.test_mcp_endpoint import TRADE, answer, call, tok
from tests.web_service.test_ws import is_, open_ws, recv_until, subscribe

LOT = ("INSERT INTO position_lots (gateway, symbol, exchange, direction, open_trade_id, open_tradeid, open_ts,"
       " open_trading_day, open_price, size, volume, remaining, confidence) VALUES"
       " ('SIM', 'au2702', 'SHFE', %s, %s, %s, %s, '2026-01-05', 600, 1000, %s, %s, %s)")


def test_get_account_state_reads_the_read_model_the_ai_state_and_the_open_lots(
        web: WebServer, db: Database, redis_client: Any) -> None:
    keys = web.keys
    seed.write_heartbeat(redis_client, keys)
    seed.write_tick(redis_client, keys, "au2702", 610.0)
    seed.write_account(redis_client, keys, seed.account(balance=1_000_000.0, unrealized=1000.0, commission=12.5))
    seed.write_position(redis_client, keys, seed.position("au2702", "LONG", 3, 600.0, yd_volume=1, td_volume=2))
    seed.write_order(redis_client, keys, seed.order("SIM.7", confidence=55, tool_call_id="c" * 32))
    seed.write_order(redis_client, keys, seed.order("SIM.8", status="ALLTRADED"))
    plan = ExitPlanState(vt_symbol="au2702.SHFE", direction="LONG", stop_loss=590.0, tool_call_id="d" * 32,
                         set_ms=1_800_000_000_000)
    ai = AiState(enabled=False, reason="operator: lunch", gateway="sim", live_account=False,
                 live_trading_allowed=False, day_pnl=-120.0, exit_plans=[plan],
                 limits=AiLimits(max_lots_per_order=1, max_position_lots=3, max_orders_per_minute=6,
                                 max_daily_loss=10_000.0, require_exit_plan=False))
    redis_client.set(keys.ai_state, ai.to_json())
    # lots: 1 at confidence 90 (the earliest), 2 at 60, 1 closed (not counted), 1 opened by hand (no confidence)
    db.execute(LOT, ("LONG", 1, "t1", datetime(2026, 1, 5, 1, 0, 0), 1, 1, 90))
    db.execute(LOT, ("LONG", 2, "t2", datetime(2026, 1, 5, 2, 0, 0), 2, 2, 60))
    db.execute(LOT, ("LONG", 3, "t3", datetime(2026, 1, 4, 2, 0, 0), 1, 0, 10))
    db.execute(LOT, ("LONG", 4, "t4", datetime(2026, 1, 5, 3, 0, 0), 1, 1, None))

    state = answer(call(web.base_url, tok(web), "get_account_state", {}))
    assert state["status"] == "ok" and state["main_contract"] == "au2702" and state["contract_multiplier"] == 1000
    account = state["account"]
    assert account["static_balance"] == 999_000.0 and account["commission"] == 12.5 and account["currency"] == "CNY"
    assert account["balance"] == round(999_000.0 + (610.0 - 600.0) * 3 * 1000, 2), "live equity from the last price"
    [held] = state["positions"]
    assert (held["direction"], held["volume"], held["yd_volume"], held["td_volume"]) == ("long", 3, 1, 2)
    assert (held["last_price"], held["pnl"], held["pnl_source"]) == (610.0, 30_000.0, "live")
    assert held["opened_at"] == "2026-01-05T01:00:00.000Z", "the earliest open lot still held"
    assert held["average_confidence"] == 70.0 and held["lots_with_confidence"] == 3, "(90*1 + 60*2) / 3"
    assert held["exit_plan"]["stop_loss"] == 590.0 and held["exit_plan"]["tool_call_id"] == "d" * 32
    assert [o["vt_orderid"] for o in state["pending_orders"]] == ["SIM.7"] and state["pending_orders"][0]["confidence"] == 55
    assert state["ai"]["enabled"] is False and state["ai"]["reason"] == "operator: lunch"
    assert state["ai"]["limits"]["max_lots_per_order"] == 1 and state["ai"]["day_pnl"] == -120.0
    assert state["gateway"]["state"] == "LOGGED_IN" and state["trading_day"]
    fresh = state["freshness"]
    assert fresh["core_alive"] is True and fresh["redis_ok"] and fresh["mysql_ok"]
    assert 0 <= fresh["heartbeat_age_s"] < 30 and 0 <= fresh["account_age_s"] < 30 and fresh["ai_state_age_s"] >= 0

    redis_client.delete(keys.ai_state, keys.account)
    redis_client.hdel(keys.positions, position_field("au2702.SHFE", "LONG"))
    unknown = answer(call(web.base_url, tok(web), "get_account_state", {}))
    assert unknown["account"] is None and unknown["ai"] is None and unknown["positions"] == []
    assert any("account unknown" in n for n in unknown["notes"]) and any("AI trading state" in n for n in unknown["notes"])


def test_a_call_is_pushed_to_the_console_over_the_websocket(web: WebServer, api: ApiClient) -> None:
    with open_ws(web, api) as ws:
        subscribe(ws, "mcp_call")
        recv_until(ws, is_("snapshot", "mcp_call"))
        got = answer(call(web.base_url, tok(web), "execute_trade", TRADE | {"confidence": 101, "api_key": "x"}))
        pushed = recv_until(ws, lambda m: is_("update", "mcp_call")(m) and m["data"]["call_id"] == got["call_id"])
    assert pushed["data"]["status"] == "refused" and pushed["data"]["tool"] == "execute_trade"
    assert pushed["data"]["request"]["api_key"] == "***"
