"""The trading tools end to end: the official MCP client over HTTP -> the web app (uvicorn) -> the real core
(vnpy engines, simulated SHFE gateway, recorders) -> real MariaDB and Redis. One core and one web for the
module (each core start costs seconds); every test leaves the account flat.

execute_trade opens and closes with the right offsets and the orders and fills carry the call's confidence and
tool_call_id; get_account_state shows the position with its exit plan, opened_at and average confidence; bad
input and the core's limits are refused with their reasons and send nothing; a preview sends nothing; a repeated
client_request_id trades once, in sequence and at once; every call is in mcp_tool_calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pymysql
import pytest
import redis
from mcp import Client
from mcp.types import CallToolResult
from vnpy.trader.constant import Direction

from common.config import MysqlConfig
from common.contract import Keys
from common.db import Database, migrate
from tests.conftest import MYSQL_HOST, MYSQL_PORT, REDIS_DB, REDIS_HOST, REDIS_PORT, unique
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually
from tests.web_service.conftest import WebServer, free_port, start_server
from tests.web_service.test_mcp_endpoint import answer, recorded, token_of, with_client
from web_service.settings import load_settings

TRADE = {"direction": "long", "volume": 1, "confidence": 70, "reason": "test: the rule says so"}


@dataclass
class Stack:
    core: CoreHarness
    web: WebServer
    db: Database
    token: str

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return answer(with_client(self.web.base_url, self.token, lambda c: c.call_tool(tool, arguments)))

    def orders(self) -> int:
        return len(self.core.main_engine.get_all_orders())

    def held(self, direction: Direction = Direction.LONG) -> float:
        return self.core.position_volume(direction)

    def flat(self) -> None:
        for direction in (Direction.LONG, Direction.SHORT):
            if self.held(direction):
                said = self.call("execute_trade", TRADE | {"action": "close", "direction": direction.name.lower(),
                                                           "volume": int(self.held(direction))})
                assert said["status"] == "ok", said
            eventually(lambda d=direction: self.held(d) == 0, what=f"{direction.name} flat")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("mcp_trading")
    mysql = MysqlConfig(host=MYSQL_HOST, port=MYSQL_PORT, user="root", database=unique("arbig_mcp_"))
    prefix = unique("arbig_mcp:") + ":"
    config = {
        "market_data": {"main_contract": "au2702", "contract_multiplier": 1000, "exchange": "SHFE"},
        "gateway": {"name": "sim", "login_timeout_s": 10, "sim": {"tick_interval_ms": 100, "seed": 7}},
        "redis": {"host": REDIS_HOST, "port": REDIS_PORT, "db": REDIS_DB, "key_prefix": prefix},
        "mysql": mysql.model_dump(),
        "core": {"runtime_dir": str(tmp / "runtime"), "command_ttl_s": 5, "config_poll_s": 0.2},
        "web": {"host": "127.0.0.1", "port": free_port(), "stale_after_s": 10, "command_timeout_s": 5},
        "ai": {"max_lots_per_order": 2, "max_position_lots": 4, "max_orders_per_minute": 600},
        "strategies": [],
    }
    migrate(mysql)
    db = Database(mysql)
    core = CoreHarness(config, tmp / "arbig.json")
    web: WebServer | None = None
    try:
        core.start()
        web = start_server(load_settings(core.config_path))
        yield Stack(core, web, db, token_of(web.settings.runtime_dir))
    finally:
        if web is not None:
            web.stop()
        core.stop()
        db.close()
        conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{mysql.database}`")
        conn.close()
        r = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
        for pattern in Keys(prefix).all_patterns():
            found = list(r.scan_iter(match=pattern, count=1000))
            if found:
                r.delete(*found)
        r.close()


def order_rows(db: Database, tool_call_id: str) -> list[dict[str, Any]]:
    return db.query("SELECT direction, offset_ AS `offset`, volume, confidence, tool_call_id FROM orders WHERE tool_call_id = %s",
                    (tool_call_id,))


def trade_rows(db: Database, tool_call_id: str) -> list[dict[str, Any]]:
    return db.query("SELECT direction, offset_ AS `offset`, volume, confidence FROM trades WHERE tool_call_id = %s", (tool_call_id,))


def position(state: dict[str, Any], direction: str) -> dict[str, Any]:
    found = [p for p in state["positions"] if p["direction"] == direction]
    assert found, f"no {direction} position in {state['positions']}"
    return found[0]


def test_execute_trade_opens_and_closes_with_the_right_offsets_and_the_fills_carry_the_confidence(stack: Stack) -> None:
    opened = stack.call("execute_trade", TRADE | {"action": "open", "volume": 2, "confidence": 81})
    assert opened["status"] == "ok", opened
    assert [(o["direction"], o["offset"], o["volume"]) for o in opened["result"]["orders"]] == [("LONG", "OPEN", 2)]
    assert opened["result"]["tool_call_id"] == opened["call_id"] and opened["result"]["confidence"] == 81
    eventually(lambda: stack.held() == 2, what="2 LONG opened")
    [row] = eventually(lambda: order_rows(stack.db, opened["call_id"]), what="the AI order in MySQL")
    assert (row["direction"], row["offset"], row["confidence"]) == ("LONG", "OPEN", 81)
    fills = eventually(lambda: trade_rows(stack.db, opened["call_id"]), what="the AI fills in MySQL")
    assert {f["confidence"] for f in fills} == {81} and sum(float(f["volume"]) for f in fills) == 2

    state = eventually(lambda: (s := stack.call("get_account_state", {})) and s["positions"] and
                       position(s, "long")["average_confidence"] is not None and s)
    held = position(state, "long")
    assert (held["volume"], held["td_volume"], held["average_confidence"]) == (2, 2, 81.0)
    assert held["opened_at"] and held["opened_at"].endswith("Z") and held["average_open_price"] > 0
    assert state["account"]["balance"] > 0 and state["account"]["margin"] > 0 and state["account"]["currency"] == "CNY"
    assert state["gateway"]["state"] == "LOGGED_IN" and state["trading_day"]
    assert state["ai"]["enabled"] is True and state["ai"]["limits"]["max_lots_per_order"] == 2
    assert state["freshness"]["core_alive"] is True and state["freshness"]["heartbeat_age_s"] is not None

    last = stack.core.tick("au2702.SHFE").last_price
    plan = stack.call("update_exit_plan", {"symbol": "au2702", "direction": "long", "stop_loss": round(last - 30, 2),
                                           "invalidation": "test"})
    assert plan["status"] == "ok", plan
    state = eventually(lambda: (s := stack.call("get_account_state", {})) and position(s, "long")["exit_plan"] and s)
    assert position(state, "long")["exit_plan"]["stop_loss"] == round(last - 30, 2)
    assert position(state, "long")["exit_plan"]["tool_call_id"] == plan["call_id"]

    closed = stack.call("execute_trade", TRADE | {"action": "close", "volume": 2, "confidence": 40})
    assert closed["status"] == "ok", closed
    assert [(o["direction"], o["offset"]) for o in closed["result"]["orders"]] == [("SHORT", "CLOSETODAY")]
    eventually(lambda: stack.held() == 0, what="LONG closed")
    closes = eventually(lambda: trade_rows(stack.db, closed["call_id"]), what="the closing fills in MySQL")
    assert {(f["offset"], f["confidence"]) for f in closes} == {("CLOSETODAY", 40)}
    for said in (opened, plan, closed, state):
        assert recorded(stack.db, said["call_id"])["status"] == "ok"


def test_bad_input_and_the_cores_limits_are_refused_and_send_nothing(stack: Stack) -> None:
    before = stack.orders()
    bad = stack.call("execute_trade", TRADE | {"action": "open", "confidence": 150})
    assert (bad["status"], bad["code"]) == ("refused", "invalid_input") and "confidence" in bad["reason"]
    over = stack.call("execute_trade", TRADE | {"action": "open", "volume": 3})
    assert (over["status"], over["code"]) == ("refused", "ai_volume_limit"), over
    assert over["vars"] and over["command_id"]
    not_main = stack.call("execute_trade", TRADE | {"action": "open", "symbol": "au2704"})
    assert (not_main["status"], not_main["code"]) == ("refused", "ai_not_main"), not_main
    nothing = stack.call("execute_trade", TRADE | {"action": "close"})
    assert (nothing["status"], nothing["code"]) == ("refused", "not_closable"), nothing
    assert stack.orders() == before and stack.held() == 0
    for said in (bad, over, not_main, nothing):
        row = recorded(stack.db, said["call_id"])
        assert row["status"] == "refused" and row["reason"] == said["reason"]


def test_a_preview_sends_nothing(stack: Stack) -> None:
    before = stack.orders()
    preview = stack.call("execute_trade", TRADE | {"action": "open", "volume": 2, "preview": True})
    assert preview["status"] == "preview", preview
    assert preview["result"]["would_send"] is True and preview["result"]["problems"] == []
    assert [(o["direction"], o["offset"], o["volume"]) for o in preview["result"]["orders"]] == [("LONG", "OPEN", 2)]
    assert preview["result"]["margin"] > 0
    assert stack.orders() == before and stack.held() == 0
    assert recorded(stack.db, preview["call_id"])["status"] == "preview"


def test_a_repeated_client_request_id_trades_once_in_sequence_and_at_once(stack: Stack) -> None:
    before = stack.orders()
    trade = TRADE | {"action": "open", "client_request_id": "agent-42"}
    first = stack.call("execute_trade", trade)
    again = stack.call("execute_trade", trade)
    assert first["status"] == "ok" and (again["status"], again["replayed_call_id"]) == ("replayed", first["call_id"])
    eventually(lambda: stack.held() == 1, what="one lot opened")
    assert stack.orders() == before + 1

    both = TRADE | {"action": "open", "client_request_id": "agent-43"}

    async def at_once(client: Client) -> list[CallToolResult]:
        return list(await asyncio.gather(*(client.call_tool("execute_trade", both) for _ in range(2))))

    got = sorted((answer(r) for r in with_client(stack.web.base_url, stack.token, at_once)), key=lambda a: a["status"])
    assert [a["status"] for a in got] == ["ok", "replayed"], got
    eventually(lambda: stack.held() == 2, what="one more lot opened")
    assert stack.orders() == before + 2
    assert recorded(stack.db, first["call_id"])["client_request_id"] == "agent-42"
    assert recorded(stack.db, again["call_id"])["client_request_id"] is None
    stack.flat()


def test_the_read_tools_answer_from_the_running_core_and_are_recorded(stack: Stack) -> None:
    market = stack.call("get_market_data", {"timeframe": "1m", "count": 50})
    assert market["status"] == "ok" and market["symbol"] == "au2702", market
    assert market["tick"] and market["tick"]["last"] > 0 and isinstance(market["bars"], list)
    metrics = stack.call("get_performance_metrics", {"window": "daily"})
    assert metrics["status"] == "ok", metrics
    bad = stack.call("get_market_data", {"timeframe": "2m", "count": 501})
    assert (bad["status"], bad["code"]) == ("refused", "invalid_input")
    assert "timeframe" in bad["reason"] and "count" in bad["reason"]
    for said, status in ((market, "ok"), (metrics, "ok"), (bad, "refused")):
        assert recorded(stack.db, said["call_id"])["status"] == status
    snapshot = eventually(lambda: stack.db.query("SELECT symbol, timeframe FROM market_snapshots WHERE call_id = %s",
                                                 (market["call_id"],)), what="the market snapshot of the call")
    assert snapshot[0]["timeframe"] == "1m"
