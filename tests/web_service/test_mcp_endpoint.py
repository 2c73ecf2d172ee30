"""The MCP endpoint (/mcp) of the real web app served by uvicorn, driven by the official MCP client over HTTP:
the five tools and their schemas/annotations, the bearer token (401 without it or with a wrong one, before any
tool runs; a rotation refuses the old one at once), the console's login/Origin checks untouched, every call in
mcp_tool_calls with secrets masked, bad input refused with its reason and nothing sent, a preview sent as
ai.preview, a repeated client_request_id sent once (in sequence, at once, and when another process claimed it),
and a MySQL outage that does not lose an answer. The core's side of the command list is played by the
`responder` fixture here (tests/web_service/test_mcp_trading.py runs the real core)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from common.config import PROJECT_ROOT
from common.contract import Command, CommandReply, CommandStatus
from common.db import Database
from tests.helpers import eventually
from tests.web_service.conftest import CommandResponder, ProxiedWeb, WebServer
from web_service.mcp.calls import mask
from web_service.mcp.server import transport_security
from web_service.mcp.tools_trade import command_id_for

T = TypeVar("T")
TOOLS = {"get_account_state", "get_market_data", "get_performance_metrics", "execute_trade", "update_exit_plan"}
TRADE = {"action": "open", "direction": "long", "volume": 1, "confidence": 70, "reason": "test: breakout"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "raw", "version": "1"}}}
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


# ---------------------------------------------------------------- helpers (also used by test_mcp_trading.py)

def token_of(runtime_dir: Path) -> str:
    return (runtime_dir / "mcp_token.txt").read_text(encoding="utf-8").strip()


async def _with_client(url: str, token: str, work: Callable[[Client], Awaitable[T]]) -> T:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        return await work(client)


def with_client(base_url: str, token: str, work: Callable[[Client], Awaitable[T]]) -> T:
    """Run `work` with an MCP client connected to base_url/mcp with `token`."""
    return asyncio.run(_with_client(base_url + "/mcp", token, work))


def call(base_url: str, token: str, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    return with_client(base_url, token, lambda client: client.call_tool(tool, arguments))


def answer(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None, result.content
    return dict(result.structured_content)


def calls_row(db: Database, call_id: str) -> dict[str, Any]:
    rows = db.query("SELECT * FROM mcp_tool_calls WHERE call_id = %s", (call_id,))
    assert rows, f"call {call_id} not recorded yet"
    row = dict(rows[0])
    row["request"], row["response"] = json.loads(row["request"]), json.loads(row["response"])
    return row


def recorded(db: Database, call_id: str) -> dict[str, Any]:
    return eventually(lambda: calls_row(db, call_id), what=f"mcp_tool_calls row of {call_id}")


def runtime(web: WebServer) -> Path:
    return web.settings.runtime_dir


def tok(web: WebServer) -> str:
    return token_of(runtime(web))


# ---------------------------------------------------------------- tools and schemas

def test_the_client_lists_five_tools_with_typed_schemas_and_annotations(web: WebServer) -> None:
    tools = {t.name: t for t in with_client(web.base_url, tok(web), lambda c: c.list_tools()).tools}
    assert set(tools) == TOOLS, "five tools, and no way to reach the operator's switch"
    for name in ("get_account_state", "get_market_data", "get_performance_metrics"):
        assert tools[name].annotations is not None and tools[name].annotations.read_only_hint is True, name
    for name in ("execute_trade", "update_exit_plan"):
        hints = tools[name].annotations
        assert hints is not None and hints.destructive_hint is True and hints.read_only_hint is False, name
    trade = tools["execute_trade"].input_schema
    assert set(trade["required"]) == {"action", "direction", "volume", "confidence", "reason"}
    props = trade["properties"]
    assert props["confidence"]["type"] == "integer" and (props["confidence"]["minimum"], props["confidence"]["maximum"]) == (0, 100)
    assert props["volume"]["type"] == "integer" and props["volume"]["minimum"] == 1
    assert props["action"]["enum"] == ["open", "close"] and props["order_type"]["enum"] == ["limit", "marketable"]
    assert props["preview"]["default"] is False and "client_request_id" in props and "exit_plan" in props
    market = tools["get_market_data"].input_schema["properties"]
    assert market["timeframe"]["enum"] == ["1m", "5m", "15m", "1h", "1d"]
    assert (market["count"]["minimum"], market["count"]["maximum"]) == (1, 500)
    assert tools["get_performance_metrics"].input_schema["properties"]["window"]["enum"] == ["daily", "weekly", "all"]
    assert set(tools["update_exit_plan"].input_schema["required"]) == {"symbol", "direction"}
    for name in TOOLS:
        assert tools[name].output_schema is not None and tools[name].output_schema["type"] == "object", name
    assert "status" in tools["execute_trade"].output_schema["properties"]


# ---------------------------------------------------------------- the token

def test_no_token_or_a_wrong_one_is_refused_401_before_any_tool_runs(web: WebServer, db: Database) -> None:
    url = web.base_url + "/mcp"
    tool_call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                 "params": {"name": "get_account_state", "arguments": {}}}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {tok(web)}x"},
                    {"Authorization": f"Basic {tok(web)}"}):
        for body in (INITIALIZE, tool_call):
            res = httpx.post(url, json=body, headers=MCP_HEADERS | headers)
            assert res.status_code == 401, (headers, res.text)
            assert res.headers["www-authenticate"].startswith("Bearer ")
        assert httpx.get(url, headers=headers).status_code == 401
    with pytest.raises(BaseException):  # noqa: B017  (the SDK raises a group around its MCPError)
        call(web.base_url, "not-the-token", "get_account_state", {})
    first = answer(call(web.base_url, tok(web), "get_account_state", {}))
    recorded(db, first["call_id"])
    assert db.query("SELECT COUNT(*) AS n FROM mcp_tool_calls")[0]["n"] == 1, "the refused requests ran nothing"


def test_the_token_file_is_0600_and_a_rotation_refuses_the_old_token_at_once(web: WebServer) -> None:
    path = runtime(web) / "mcp_token.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    old = tok(web)
    assert len(old) >= 40
    assert answer(call(web.base_url, old, "get_account_state", {}))["status"] == "ok"
    env = dict(os.environ, ARBIG_CONFIG=str(web.settings.config_file))
    done_ = subprocess.run([sys.executable, "-m", "web_service.mcp.token", "rotate"], cwd=str(PROJECT_ROOT), env=env,
                           capture_output=True, text=True, timeout=60)
    assert done_.returncode == 0, done_.stderr
    new = tok(web)
    assert new != old and new not in done_.stdout + done_.stderr, "rotated, and the token is never printed"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    res = httpx.post(web.base_url + "/mcp", json=INITIALIZE, headers=MCP_HEADERS | {"Authorization": f"Bearer {old}"})
    assert res.status_code == 401
    assert answer(call(web.base_url, new, "get_account_state", {}))["status"] == "ok"


# ---------------------------------------------------------------- the console is unchanged

def test_mcp_bypasses_the_console_checks_and_the_console_keeps_them(web: WebServer) -> None:
    auth = {"Authorization": f"Bearer {tok(web)}"}
    res = httpx.post(web.base_url + "/mcp", json=INITIALIZE, headers=MCP_HEADERS | auth)
    assert res.status_code == 200, res.text  # no Origin, no session, no CSRF: the bearer token is enough
    assert "mcp-session-id" in res.headers
    evil = httpx.post(web.base_url + "/mcp", json=INITIALIZE,
                      headers=MCP_HEADERS | auth | {"Origin": "http://evil.example"})
    assert evil.status_code == 403, "the SDK's Origin check (DNS rebinding) on a loopback-bound web"
    other_port = httpx.post(web.base_url + "/mcp", json=INITIALIZE, headers=MCP_HEADERS | auth | {"Host": "localhost:1"})
    assert other_port.status_code == 421, "the SDK's Host check: loopback names with the configured port only"
    named = httpx.post(web.base_url + "/mcp", json=INITIALIZE,
                       headers=MCP_HEADERS | auth | {"Host": f"localhost:{web.settings.config.web.port}"})
    assert named.status_code == 200
    assert httpx.get(web.base_url + "/api/positions").status_code == 401, "the console still needs a session"
    cross = httpx.post(web.base_url + "/api/commands", json={}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403 and cross.json()["code"] == "cross_origin"
    assert httpx.get(web.base_url + "/mcp-not-it").status_code in (401, 404)


def test_host_and_origin_checks_only_for_a_loopback_bound_web() -> None:
    loopback = transport_security("127.0.0.1", 8123)
    assert loopback.enable_dns_rebinding_protection
    assert set(loopback.allowed_hosts) == {"127.0.0.1:8123", "localhost:8123", "[::1]:8123"}
    assert "http://localhost:8123" in loopback.allowed_origins
    assert "[::1]:80" in transport_security("::1", 80).allowed_hosts and "localhost" in transport_security(
        "localhost", 80).allowed_hosts
    assert not transport_security("0.0.0.0", 8123).enable_dns_rebinding_protection


# ---------------------------------------------------------------- recording, refusals, masking

def test_bad_input_is_refused_with_its_reason_recorded_and_nothing_sent(
        web: WebServer, db: Database, responder: CommandResponder) -> None:
    bad: list[tuple[dict[str, Any], str]] = [
        ({"confidence": 150}, "confidence"), ({"confidence": -1}, "confidence"), ({"confidence": "80"}, "confidence"),
        ({"volume": 0}, "volume"), ({"volume": 1.5}, "volume"), ({"volume": True}, "volume"),
        ({"order_type": "limit"}, "price is required"), ({"symbol": "AU2702"}, "symbol"), ({"reason": ""}, "reason"),
        ({"direction": "up"}, "direction"),
    ]

    async def work(client: Client) -> list[CallToolResult]:
        return [await client.call_tool("execute_trade", TRADE | change) for change, _ in bad]

    results = with_client(web.base_url, tok(web), work)
    for (change, said), result in zip(bad, results, strict=True):
        got = answer(result)
        assert result.is_error and got["status"] == "refused" and got["code"] == "invalid_input", (change, got)
        assert said in got["reason"], (change, got["reason"])
        row = recorded(db, got["call_id"])
        assert (row["status"], row["tool"]) == ("refused", "execute_trade") and row["request"] == TRADE | change
        assert said in row["reason"]
    assert responder.received == [], "nothing reached the core"


def test_every_call_is_recorded_with_secrets_masked_and_handed_to_listeners(web: WebServer, db: Database) -> None:
    pushed: list[dict[str, Any]] = []
    web.app.state.mcp.calls.listen(pushed.append)
    sent = {"api_key": "k1", "password": "p1", "client_request_id": "visible",
            "nested": {"session_token": "t1", "note": "kept"}, "items": [{"secret": "s1"}]}
    got = answer(call(web.base_url, tok(web), "get_account_state", sent))
    row = recorded(db, got["call_id"])
    assert row["request"] == {"api_key": "***", "password": "***", "client_request_id": "visible",
                              "nested": {"session_token": "***", "note": "kept"}, "items": [{"secret": "***"}]}
    assert "k1" not in json.dumps(row, default=str) and "t1" not in json.dumps(row, default=str)
    assert row["status"] == "ok" and row["client_request_id"] is None and float(row["latency_ms"]) > 0
    assert row["response"]["call_id"] == got["call_id"] and "positions" in row["response"]
    view = eventually(lambda: [p for p in pushed if p["call_id"] == got["call_id"]])[0]
    assert set(view) == {"call_id", "tool", "status", "reason", "latency_ms", "ts_ms", "client_request_id",
                         "request", "response"}
    assert view["request"]["password"] == "***" and view["tool"] == "get_account_state"
    assert mask({"apiKey": 1, "KEY": 2, "monkey": 3, "client_request_id": 4}) == {
        "apiKey": "***", "KEY": "***", "monkey": "***", "client_request_id": 4}


def test_preview_is_sent_as_ai_preview_with_the_call_id(web: WebServer, db: Database,
                                                        responder: CommandResponder) -> None:
    got = answer(call(web.base_url, tok(web), "execute_trade", TRADE | {"preview": True, "client_request_id": "p-1"}))
    assert got["status"] == "preview", got
    [sent] = responder.received
    assert (sent.type.value, sent.source, sent.operator) == ("ai.preview", "mcp", "ai-agent")
    assert sent.params["tool_call_id"] == got["call_id"] and sent.params["confidence"] == 70
    assert got["command_id"] == sent.id != command_id_for("p-1"), "a preview never spends a request id"
    row = recorded(db, got["call_id"])
    assert row["status"] == "preview" and row["client_request_id"] is None
    traded = answer(call(web.base_url, tok(web), "execute_trade", TRADE | {"client_request_id": "p-1"}))
    assert traded["status"] == "ok" and responder.received[-1].type.value == "ai.trade"


def test_update_exit_plan_sends_ai_exit_plan(web: WebServer, db: Database, responder: CommandResponder) -> None:
    got = answer(call(web.base_url, tok(web), "update_exit_plan",
                      {"symbol": "au2702", "direction": "long", "stop_loss": 590.5, "invalidation": "below the range"}))
    assert got["status"] == "ok", got
    [sent] = responder.received
    assert sent.type.value == "ai.exit_plan" and sent.params == {
        "symbol": "au2702", "direction": "long", "stop_loss": 590.5, "invalidation": "below the range",
        "tool_call_id": got["call_id"]}
    assert recorded(db, got["call_id"])["tool"] == "update_exit_plan"


def test_a_core_refusal_comes_back_with_its_code_reason_and_vars(web: WebServer, db: Database,
                                                                 responder: CommandResponder) -> None:
    responder.decide = lambda c: CommandReply(command_id=c.id, status=CommandStatus.REFUSED, code="ai_off",
                                              reason="AI trading is switched off: operator", vars={"why": "operator"})
    result = call(web.base_url, tok(web), "execute_trade", TRADE)
    got = answer(result)
    assert result.is_error and (got["status"], got["code"], got["vars"]) == ("refused", "ai_off", {"why": "operator"})
    assert "switched off" in got["reason"]
    row = recorded(db, got["call_id"])
    assert (row["status"], row["reason"]) == ("refused", "AI trading is switched off: operator")


# ---------------------------------------------------------------- idempotency

def test_a_repeated_client_request_id_is_sent_once(web: WebServer, db: Database, responder: CommandResponder) -> None:
    trade = TRADE | {"client_request_id": "seq-1"}
    first = answer(call(web.base_url, tok(web), "execute_trade", trade))
    again = answer(call(web.base_url, tok(web), "execute_trade", trade))
    assert first["status"] == "ok" and again["status"] == "replayed"
    assert again["replayed_call_id"] == first["call_id"] and again["replayed_status"] == "ok"
    assert again["call_id"] != first["call_id"] and again["result"] == first["result"]
    assert [c.id for c in responder.received] == [command_id_for("seq-1")]
    assert recorded(db, first["call_id"])["client_request_id"] == "seq-1"
    replay = recorded(db, again["call_id"])
    assert replay["client_request_id"] is None and replay["status"] == "replayed"
    assert first["call_id"] in replay["reason"]


def test_two_calls_at_once_with_one_client_request_id_send_one_command(
        web: WebServer, db: Database, responder: CommandResponder) -> None:
    trade = TRADE | {"client_request_id": "both-at-once"}

    async def work(client: Client) -> list[CallToolResult]:
        return list(await asyncio.gather(*(client.call_tool("execute_trade", trade) for _ in range(2))))

    got = sorted((answer(r) for r in with_client(web.base_url, tok(web), work)), key=lambda a: a["status"])
    assert [a["status"] for a in got] == ["ok", "replayed"], got
    assert got[1]["replayed_call_id"] == got[0]["call_id"]
    assert [c.id for c in responder.received] == [command_id_for("both-at-once")]


def test_a_request_id_claimed_elsewhere_is_replayed_from_mysql_or_after_the_cores_duplicate(
        web: WebServer, db: Database, responder: CommandResponder) -> None:
    insert = ("INSERT INTO mcp_tool_calls (call_id, tool, client_request_id, request, response, status, reason,"
              " latency_ms, ts) VALUES (%s, 'execute_trade', %s, '{}', %s, 'ok', '', 1, UTC_TIMESTAMP(3))")
    db.execute(insert, ("a" * 32, "before-restart", json.dumps({"status": "ok", "call_id": "a" * 32,
                                                                "result": {"orders": ["x"]}})))
    got = answer(call(web.base_url, tok(web), "execute_trade", TRADE | {"client_request_id": "before-restart"}))
    assert (got["status"], got["replayed_call_id"], got["result"]) == ("replayed", "a" * 32, {"orders": ["x"]})
    assert responder.received == []

    def other_process_first(command: Command) -> CommandReply:  # another web sent it: the core says duplicate
        db.execute(insert, ("b" * 32, "other-web", json.dumps({"status": "ok", "call_id": "b" * 32})))
        return CommandReply(command_id=command.id, status=CommandStatus.REFUSED, code="duplicate",
                            reason=f"duplicate: command {command.id} was already received; not executed again")

    responder.decide = other_process_first
    got = answer(call(web.base_url, tok(web), "execute_trade", TRADE | {"client_request_id": "other-web"}))
    assert (got["status"], got["replayed_call_id"]) == ("replayed", "b" * 32), got
    assert recorded(db, got["call_id"])["client_request_id"] is None


def test_a_call_refused_before_sending_does_not_spend_its_request_id(
        web: WebServer, db: Database, responder: CommandResponder) -> None:
    trade = TRADE | {"client_request_id": "fix-and-retry"}
    assert answer(call(web.base_url, tok(web), "execute_trade", trade | {"confidence": 101}))["status"] == "refused"
    assert answer(call(web.base_url, tok(web), "execute_trade", trade))["status"] == "ok"
    assert [c.id for c in responder.received] == [command_id_for("fix-and-retry")]


# ---------------------------------------------------------------- MySQL down

def test_a_mysql_outage_does_not_lose_the_answer_and_the_row_follows(
        proxied_web: ProxiedWeb, db: Database, responder: CommandResponder) -> None:
    web = proxied_web.server
    eventually(lambda: web.services.db.ok, what="the web sees MySQL")
    proxied_web.mysql_proxy.down()
    eventually(lambda: not web.services.db.ok, what="the web sees MySQL down")
    got = answer(call(web.base_url, tok(web), "execute_trade", TRADE | {"client_request_id": "mysql-down"}))
    assert got["status"] == "ok" and len(responder.received) == 1
    again = answer(call(web.base_url, tok(web), "execute_trade", TRADE | {"client_request_id": "mysql-down"}))
    assert again["status"] == "replayed" and len(responder.received) == 1, "remembered without MySQL"
    proxied_web.mysql_proxy.up()
    row = eventually(lambda: calls_row(db, got["call_id"]), timeout=20, what="the row written once MySQL is back")
    assert (row["status"], row["client_request_id"]) == ("ok", "mysql-down")
    recorded(db, again["call_id"])


