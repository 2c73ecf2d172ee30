"""The AI page and its API (issue 13): the core's AI state with its age (unknown when the key is absent, stale when
the core stops rewriting it), the MCP tool calls (paged newest first, a long response fetched alone), the agent's
orders with confidence and the reason of their tool call, its performance beside the strategies', the operator's
switch as an audited command from the web (CSRF, command id, 422 for bad input with nothing sent), the WebSocket
pushes of the AI state and of each tool call (valid `ServerMessage`s, none dropped), and in a browser: a tool call
appearing live, the exit plans, the switch's confirmation and the positions page's exit plan column.

Real MariaDB (rows inserted as the core and the MCP call log write them) and Redis (the AiState written under the
test's prefix as the core writes it); the `responder` fixture plays the core's side of the command list."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
import redis

from common.contract import AiLimits, AiState, ExitPlanState, GatewayState, Keys, now_ms
from common.db import Database
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, CommandResponder, WebServer
from tests.web_service.test_ai_metrics import NOW, Book, cn
from tests.web_service.test_browser import SHOTS
from tests.web_service.test_ws import is_, open_ws, recv_until, subscribe
from web_service.ai_history import RESPONSE_INLINE_MAX
from web_service.live_cache import AI_STATE_STALE_S
from web_service.mcp.token import read_token, token_path


def ai_state(enabled: bool = True, age_s: float = 0.0, plans: tuple[ExitPlanState, ...] = ()) -> AiState:
    return AiState(enabled=enabled, reason="" if enabled else "switched off by the operator (operator, web): lunch",
                   gateway="sim", live_account=False, live_trading_allowed=False,
                   limits=AiLimits(max_lots_per_order=2, max_position_lots=3, max_orders_per_minute=6,
                                   max_daily_loss=10_000.0, require_exit_plan=False),
                   day_pnl=-1234.5, orders_last_minute=1, exit_plans=list(plans), ts_ms=now_ms() - int(age_s * 1000))


def write_ai_state(r: redis.Redis, keys: Keys, state: AiState, event: bool = True) -> None:
    """As the core does: the key on every change (and heartbeat), the event on a change."""
    r.set(keys.ai_state, state.to_json())
    if event:
        seed.publish(r, keys, "ai_state", state.model_dump())


def plan(stop_loss: float = 590.0, take_profit: float | None = 620.0) -> ExitPlanState:
    return ExitPlanState(vt_symbol="au2702.SHFE", direction="LONG", stop_loss=stop_loss, take_profit=take_profit,
                         invalidation="a close below the 20-day low", tool_call_id="c" * 32, set_ms=now_ms())


def naive(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(tzinfo=None)


def insert_call(db: Database, tool: str, status: str, ts_ms: int, request: dict[str, Any],
                response: dict[str, Any], reason: str = "", client_request_id: str | None = None) -> str:
    """A mcp_tool_calls row as the MCP call log writes it."""
    call_id = uuid.uuid4().hex
    db.execute("INSERT INTO mcp_tool_calls (call_id, tool, client_request_id, request, response, status, reason,"
               " latency_ms, ts) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
               (call_id, tool, client_request_id, json.dumps(request), json.dumps(response), status, reason, 12.345,
                naive(ts_ms)))
    return call_id


def insert_order(db: Database, orderid: str, ts_ms: int, tool_call_id: str | None, confidence: int | None,
                 reference: str = "", status: str = "ALLTRADED") -> None:
    """An orders row as the core's writer stores an AI order (confidence and tool_call_id from its reference)."""
    db.execute("INSERT INTO orders (gateway, orderid, trading_day, symbol, exchange, direction, offset_, order_type,"
               " price, volume, traded, status, reference, strategy, reason, ts, updated_at, confidence, tool_call_id)"
               " VALUES ('SIM', %s, '2027-01-11', 'au2702', 'SHFE', 'LONG', 'OPEN', 'LIMIT', 600.5, 1, 1, %s, %s,"
               " %s, '', %s, %s, %s, %s)",
               (orderid, status, reference, "ai" if tool_call_id else None, naive(ts_ms), naive(ts_ms), confidence,
                tool_call_id))


# ---------------------------------------------------------------- the AI state


def test_ai_state_is_unknown_until_the_core_writes_it_then_shown_with_its_age(
    web: WebServer, api: ApiClient, redis_client: redis.Redis, keys: Keys
) -> None:
    body = api.get("/api/ai/state").json()
    assert body["known"] is False and body["state"] is None and body["age_s"] is None and body["stale"] is True
    assert "arbig:state:ai is absent" in body["detail"] and "not running" in body["detail"]

    write_ai_state(redis_client, keys, ai_state(age_s=2.0), event=False)  # read now, not waiting for an event
    body = api.get("/api/ai/state").json()
    assert body["known"] is True and body["stale"] is False and body["detail"] == ""
    assert 1.9 <= body["age_s"] < 10 and body["stale_after_s"] == AI_STATE_STALE_S
    assert body["state"]["limits"]["max_lots_per_order"] == 2 and body["state"]["day_pnl"] == -1234.5

    write_ai_state(redis_client, keys, ai_state(age_s=AI_STATE_STALE_S + 45))
    body = api.get("/api/ai/state").json()
    assert body["known"] is True and body["stale"] is True and "has not updated its AI state for 60 s" in body["detail"]

    redis_client.delete(keys.ai_state)
    assert api.get("/api/ai/state").json()["known"] is False, "a core that stopped writing it: unknown again"
    res = api.get("/api/ai/state", params={"fresh": "1"})
    assert res.status_code == 422 and res.json()["errors"][0]["type"] == "extra_forbidden"
    anonymous = web.client(login=False)
    for url in ("/api/ai/state", "/api/ai/calls", "/api/ai/orders", "/api/ai/performance"):
        assert anonymous.get(url).status_code == 401, url
    anonymous.http.close()


# ---------------------------------------------------------------- tool calls and orders


def test_tool_calls_newest_first_in_pages_with_a_long_response_fetched_alone(api: ApiClient, db: Database) -> None:
    start = now_ms() - 60_000
    big = {"status": "ok", "bars": [[i, 600.0 + i / 100] for i in range(800)]}
    ids = [insert_call(db, "get_market_data", "ok", start + i * 1000, {"timeframe": "1m", "count": 800 if i == 2 else 10},
                       big if i == 2 else {"status": "ok", "bars": []}) for i in range(4)]
    ids.append(insert_call(db, "execute_trade", "refused", start + 4000,
                           {"action": "open", "direction": "long", "volume": 5, "confidence": 70, "reason": "breakout",
                            "client_request_id": "req-1"},
                           {"status": "refused", "code": "ai_volume_limit", "vars": {"volume": 5, "limit": 2}},
                           reason="5 lots is above the AI limit of 2 per order", client_request_id="req-1"))
    seen: list[str] = []
    before: int | None = None
    for expected in (2, 2, 1):
        page = api.get("/api/ai/calls", params={"limit": 2, **({"before_id": before} if before else {})}).json()
        assert len(page["items"]) == expected and page["limit"] == 2
        seen += [c["call_id"] for c in page["items"]]
        before = page["next_before_id"]
    assert before is None and seen == ids[::-1], "newest first, every call once"

    first = api.get("/api/ai/calls", params={"limit": 1}).json()["items"][0]
    assert first["tool"] == "execute_trade" and first["status"] == "refused" and first["latency_ms"] == 12.345
    assert first["request"]["reason"] == "breakout" and first["client_request_id"] == "req-1"
    assert first["response"]["code"] == "ai_volume_limit" and first["response_truncated"] is False
    assert first["ts_ms"] == start + 4000 and first["ts"].endswith("Z")
    long_one = next(c for c in api.get("/api/ai/calls").json()["items"] if c["call_id"] == ids[2])
    assert long_one["response"] is None and long_one["response_truncated"] is True
    assert long_one["response_chars"] > RESPONSE_INLINE_MAX
    whole = api.get(f"/api/ai/calls/{ids[2]}").json()
    assert whole["response"] == big and whole["response_truncated"] is False

    res = api.get(f"/api/ai/calls/{uuid.uuid4().hex}")
    assert res.status_code == 404 and res.json()["code"] == "ai_call_unknown"
    for params in ({"limit": 0}, {"limit": 501}, {"limit": "1.5"}, {"before_id": "abc"}, {"before_id": 0},
                   {"page": 1}):
        res = api.get("/api/ai/calls", params=params)
        assert res.status_code == 422 and len(res.json()["detail"]) > 10, params
    assert api.get("/api/ai/calls/not-a-call-id").status_code == 422


def test_the_agents_orders_with_confidence_and_the_reason_of_their_call(api: ApiClient, db: Database) -> None:
    t0 = now_ms() - 30_000
    trade = insert_call(db, "execute_trade", "ok", t0, {"action": "open", "direction": "long", "volume": 1,
                                                        "confidence": 70, "reason": "breakout above 600"},
                        {"status": "ok", "orders": ["SIM.11"]})
    exit_call = insert_call(db, "update_exit_plan", "ok", t0 + 1000, {"symbol": "au2702", "direction": "long",
                                                                       "stop_loss": 599.0}, {"status": "ok"})
    insert_order(db, "11", t0 + 10, trade, 70, f"ARBIG_ai:{trade}:70")
    insert_order(db, "12", t0 + 2000, None, None)  # the operator's own order: not the agent's
    insert_order(db, "13", t0 + 5000, exit_call, None, f"ARBIG_exit:stop_loss:{exit_call}", status="NOTTRADED")

    page = api.get("/api/ai/orders").json()
    assert [o["vt_orderid"] for o in page["items"]] == ["SIM.13", "SIM.11"] and page["next_cursor"] is None
    close, opened = page["items"]
    assert (opened["confidence"], opened["reason"], opened["tool"], opened["tool_call_id"]) == (
        70, "breakout above 600", "execute_trade", trade)
    assert opened["exit_reason"] is None and opened["price"] == 600.5 and opened["traded"] == 1.0
    assert opened["status"] == "ALLTRADED" and opened["offset"] == "OPEN" and opened["ts_ms"] == t0 + 10
    assert close["exit_reason"] == "stop_loss" and close["confidence"] is None and close["reason"] is None
    assert close["tool"] == "update_exit_plan" and close["status"] == "NOTTRADED"

    first = api.get("/api/ai/orders", params={"page_size": 1}).json()
    assert [o["orderid"] for o in first["items"]] == ["13"] and first["next_cursor"]
    second = api.get("/api/ai/orders", params={"page_size": 1, "cursor": first["next_cursor"]}).json()
    assert [o["orderid"] for o in second["items"]] == ["11"] and second["next_cursor"] is None
    for params in ({"cursor": "abc"}, {"page_size": 0}, {"page_size": 501}, {"limit": 5}):
        assert api.get("/api/ai/orders", params=params).status_code == 422, params


def test_the_ais_performance_beside_the_strategies(api: ApiClient, db: Database) -> None:
    book = Book(db)
    monday = date(2026, 1, 5)
    book.lot(1, "LONG", cn(5, "09:30"), 600.0, 2, "ai", 80)
    book.close(101, cn(5, "10:00"), monday, 602.0, [(1, 2)], "ai", commission=20.0)
    book.lot(6, "LONG", cn(5, "09:05"), 600.0, 1, "au_dual_ma", None)
    book.close(104, cn(5, "09:45"), monday, 599.0, [(6, 1)], "au_dual_ma")
    seed.insert_snapshots(db, [(NOW, 1_000_000.0)])  # the market clock's now: Wednesday 7 January 2026

    weekly = api.get("/api/ai/performance", params={"window": "weekly"}).json()
    assert weekly["window"] == "weekly" and weekly["ai_strategy"] == "ai"
    assert weekly["as_of_ms"] == int(NOW.timestamp() * 1000)
    assert set(weekly["strategies"]) == {"ai", "au_dual_ma"}
    ai = weekly["strategies"]["ai"]
    assert (ai["closed_trades"], ai["win_rate"], ai["net_pnl"], ai["average_confidence"]) == (1, 1.0, 4000.0, 80.0)
    assert weekly["strategies"]["au_dual_ma"]["net_pnl"] == -1000.0
    daily = api.get("/api/ai/performance").json()
    assert daily["window"] == "daily" and daily["strategies"] == {}, "no close on Wednesday"
    res = api.get("/api/ai/performance", params={"window": "monthly"})
    assert res.status_code == 422 and res.json()["errors"][0]["type"] == "literal_error"


# ---------------------------------------------------------------- the switch


def test_the_switch_is_an_audited_command_from_the_web(
    web: WebServer, api: ApiClient, responder: CommandResponder, redis_client: redis.Redis
) -> None:
    body = {"id": "ai-switch-0001", "enabled": False, "reason": "lunch"}
    res = api.post("/api/ai/switch", body)
    assert res.status_code == 200, res.text
    assert res.json()["status"] == "done" and res.json()["type"] == "ai.switch"
    [sent] = responder.received
    assert (sent.id, sent.type, sent.source, sent.params) == ("ai-switch-0001", "ai.switch", "web",
                                                              {"enabled": False, "reason": "lunch"})
    again = api.post("/api/ai/switch", body)
    assert again.status_code == 200 and again.json()["repeated"] is True and len(responder.received) == 1

    assert api.post("/api/ai/switch", {**body, "id": "ai-switch-0002"}, csrf=None).json()["code"] == "csrf"
    bad = [{**body, "enabled": "false"}, {"id": "ai-switch-0003", "reason": "x"}, {**body, "reason": "x" * 201},
           {**body, "extra": 1}, {**body, "id": "short"}, {**body, "enabled": 0}]
    for item in bad:
        res = api.post("/api/ai/switch", item)
        assert res.status_code == 422 and res.json()["code"] == "validation", item
    for kind, code in (("ai.switch", "browser_ai_switch"), ("ai.trade", "browser_ai_tool"),
                       ("ai.exit_plan", "browser_ai_tool"), ("ai.preview", "browser_ai_tool")):
        res = api.post("/api/commands", {"id": "cmd-ai-00000001", "type": kind, "params": {}})
        assert res.status_code == 422 and res.json()["code"] == code and res.json()["vars"] == {"type": kind}
    assert len(responder.received) == 1 and redis_client.llen(web.keys.commands) == 0, "nothing else was sent"


def test_the_ai_page_tells_how_to_connect_and_never_shows_the_token(web: WebServer, api: ApiClient) -> None:
    page = api.get("/ai")
    assert page.status_code == 200 and 'data-page="ai"' in page.text
    port = web.settings.config.web.port
    token_file = token_path(web.settings.runtime_dir)
    assert f"http://127.0.0.1:{port}/mcp" in page.text and str(token_file) in page.text
    token = read_token(token_file)
    assert len(token) > 20 and token not in page.text
    assert 'href="/ai"' in api.get("/positions").text and "/static/i18n_ai.js" in api.get("/").text
    anonymous = web.client(login=False)
    assert anonymous.get("/ai").headers["location"] == "/login?next=/ai"
    anonymous.http.close()


# ---------------------------------------------------------------- the WebSocket


def call(n: int, status: str = "ok") -> dict[str, Any]:
    """A tool call as the MCP call log hands it to its listeners."""
    return {"call_id": uuid.uuid4().hex, "tool": "get_account_state", "status": status, "reason": f"call {n}",
            "latency_ms": 3.5, "ts_ms": now_ms(), "client_request_id": None, "request": {"n": n},
            "response": {"status": status, "n": n}}


def test_the_ai_state_and_every_tool_call_are_pushed(
    web: WebServer, api: ApiClient, redis_client: redis.Redis, keys: Keys, db: Database
) -> None:
    stored = insert_call(db, "get_performance_metrics", "ok", now_ms() - 5000, {"window": "daily"}, {"status": "ok"})
    with open_ws(web, api) as ws:
        subscribe(ws, "ai_state", "mcp_call")
        assert recv_until(ws, is_("snapshot", "ai_state"))["data"]["known"] is False
        snapshot = recv_until(ws, is_("snapshot", "mcp_call"))["data"]
        assert [c["call_id"] for c in snapshot["items"]] == [stored] and snapshot["limit"] == 50

        write_ai_state(redis_client, keys, ai_state(enabled=False, plans=(plan(),)))
        view = recv_until(ws, is_("update", "ai_state"))["data"]
        assert view["known"] is True and view["state"]["enabled"] is False and "lunch" in view["state"]["reason"]
        assert view["state"]["exit_plans"][0]["stop_loss"] == 590.0

        calls = [call(n, "refused" if n % 3 == 0 else "ok") for n in range(40)]
        pusher = threading.Thread(target=lambda: [web.hub.publish_mcp_call(c) for c in calls])  # another thread
        pusher.start()
        pusher.join()
        got = [recv_until(ws, is_("update", "mcp_call"))["data"] for _ in calls]
        assert [g["call_id"] for g in got] == [c["call_id"] for c in calls], "every call, in order, none coalesced"
        assert got[3]["status"] == "refused" and got[3]["request"] == {"n": 3} and got[3]["id"] is None
        web.hub.publish_mcp_call({"call_id": "x", "ts_ms": "not a time"})  # a bad one is logged, never raised
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)


# ---------------------------------------------------------------- in a browser


@pytest.mark.browser
def test_ai_page_shows_a_call_live_and_confirms_the_switch(
    tab: Any, web: WebServer, redis_client: redis.Redis, keys: Keys, responder: CommandResponder
) -> None:
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    seed.write_heartbeat(redis_client, keys, ttl_s=300, state=GatewayState.LOGGED_IN)
    seed.write_position(redis_client, keys, seed.position("au2702", "LONG", 2, 600.0), event=False)
    write_ai_state(redis_client, keys, ai_state(plans=(plan(),)), event=False)
    tab.goto(web.base_url + "/ai")
    tab.wait_for_function("() => window.ARBIG.state.ws === 'open'")
    tab.wait_for_function("() => document.querySelector('#ai-enabled').innerText.includes('已开启')")
    assert "-1,234.50" in tab.inner_text("#ai-day-pnl") and "1 / 6" in tab.inner_text("#ai-rate")
    assert "au2702.SHFE" in tab.inner_text("#ai-plans-body") and "590.00" in tab.inner_text("#ai-plans-body")
    assert token_path(web.settings.runtime_dir).name in tab.inner_text("#ai-connect")

    refused = call(1, "refused") | {"tool": "execute_trade", "request": {"action": "open", "volume": 5, "reason": "breakout"},
                                    "response": {"status": "refused", "code": "ai_volume_limit",
                                                 "vars": {"volume": 5, "limit": 2}}}
    web.hub.publish_mcp_call(refused)
    row = tab.locator(f"#ai-calls-body tr[data-call='{refused['call_id']}']")
    row.wait_for()
    text = row.inner_text()
    assert "execute_trade" in text and "被拒绝" in text and "5 手超过 AI 每笔上限 2 手" in text and "breakout" in text

    tab.screenshot(path=str(SHOTS / "arbig_page_ai.png"), full_page=True)
    tab.click("#ai-toggle")
    dialog = tab.locator("#confirm")
    dialog.wait_for()
    assert "确认关闭 AI 交易" in tab.inner_text("#confirm h3")
    tab.fill("#ai-sw-reason", "lunch")
    tab.screenshot(path=str(SHOTS / "arbig_dialog_ai_switch.png"))
    summary = tab.inner_text("#ai-sw-summary")
    assert "ai.switch" in summary and "false" in summary and "lunch" in summary
    tab.click("#confirm-ok")
    tab.locator("#confirm .outcome .msg.ok").wait_for()
    [sent] = responder.received
    assert sent.type == "ai.switch" and sent.params == {"enabled": False, "reason": "lunch"} and sent.source == "web"
    tab.click("#confirm-cancel")
    write_ai_state(redis_client, keys, ai_state(enabled=False, plans=(plan(),)))  # the core's answer to it
    tab.wait_for_function("() => document.querySelector('#ai-enabled').innerText.includes('已关闭')")
    assert "lunch" in tab.inner_text("#ai-reason") and tab.inner_text("#ai-toggle") == "开启 AI 交易"

    tab.goto(web.base_url + "/positions")
    cell = tab.locator("#pos-body tr[data-key='au2702.SHFE|LONG'] td.c-plan")
    cell.wait_for()
    tab.wait_for_function("() => (document.querySelector(\"tr[data-key='au2702.SHFE|LONG'] td.c-plan\")"
                          " ?.innerText || '').includes('590.00')")
    assert "620.00" in cell.inner_text() and "20-day low" in cell.inner_text()
    tab.screenshot(path=str(SHOTS / "arbig_page_positions_exit_plan.png"), full_page=True)
    assert not errors, errors
