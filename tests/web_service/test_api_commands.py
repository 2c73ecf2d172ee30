"""Command path: validation (422, nothing sent), the core's answers (done/refused/failed), the 503
timeout, one push per command id, and the main-contract switch through the config file."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import redis

from common.contract import Command, CommandReply, CommandStatus
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, CommandResponder, WebServer


def _cmd(type_: str, params: dict, cid: str = "cmd0123456789abc") -> dict:
    return {"id": cid, "type": type_, "params": params}


def test_done_answer_and_what_was_sent(api: ApiClient, responder: CommandResponder) -> None:
    res = api.post("/api/commands", _cmd("strategy.start", {"name": "au_dual_ma"}))
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["status"] == "done" and body["command_id"] == "cmd0123456789abc"
    assert set(body) == {"command_id", "type", "status", "reason", "code", "vars", "result"}  # no nulls added
    [sent] = responder.received
    assert sent.id == "cmd0123456789abc" and sent.type == "strategy.start" and sent.params == {"name": "au_dual_ma"}
    assert sent.source == "web" and sent.ttl_s == 5 and abs(time.time() * 1000 - sent.issued_ms) < 10_000


@pytest.mark.parametrize(("status", "http"), [(CommandStatus.REFUSED, 409), (CommandStatus.FAILED, 422)])
def test_refused_and_failed_carry_the_reason(
    api: ApiClient, responder: CommandResponder, status: CommandStatus, http: int
) -> None:
    responder.decide = lambda c: CommandReply(command_id=c.id, status=status, reason="strategy x is not running")
    res = api.post("/api/commands", _cmd("strategy.stop", {"name": "x"}))
    assert res.status_code == http
    assert res.json()["status"] == status.value and "strategy x is not running" in res.json()["detail"]


def test_no_answer_is_503_and_the_command_is_withdrawn(api: ApiClient, web: WebServer, redis_client: redis.Redis) -> None:
    started = time.monotonic()
    res = api.post("/api/commands", _cmd("emergency.stop", {}))
    assert res.status_code == 503
    body = res.json()
    assert "core did not answer within 1.5 s; it may be down" in body["detail"] and "system page" in body["detail"]
    assert body["withdrawn"] is True and "will not run" in body["detail"]
    assert set(body) == {"command_id", "type", "status", "withdrawn", "detail"}
    assert 1.4 < time.monotonic() - started < 5
    assert redis_client.llen(web.keys.commands) == 0, "a late core will not find it"


def test_taken_but_unanswered_says_it_may_have_run(api: ApiClient, responder: CommandResponder) -> None:
    responder.decide = lambda c: None  # the core took the command and then said nothing
    res = api.post("/api/commands", _cmd("emergency.stop", {}))
    assert res.status_code == 503 and res.json()["withdrawn"] is False
    assert "may still have run" in res.json()["detail"]


def test_same_id_twice_is_pushed_once(api: ApiClient, responder: CommandResponder) -> None:
    slow = threading.Event()

    def decide(command: Command) -> CommandReply:
        slow.wait(0.5)
        return CommandReply(command_id=command.id, status=CommandStatus.DONE)

    responder.decide = decide
    body = _cmd("emergency.stop", {}, cid="double-click-0001")
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(api.post("/api/commands", body))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200, 200, 200]
    assert [c.id for c in responder.received] == ["double-click-0001"]
    assert sum(1 for r in results if r.json().get("repeated")) == 2
    later = api.post("/api/commands", body)
    assert later.status_code == 200 and later.json()["repeated"] is True and len(responder.received) == 1
    other = api.post("/api/commands", _cmd("strategy.init", {"name": "x"}, cid="double-click-0001"))
    assert other.status_code == 409 and "different command" in other.json()["detail"]


BAD_COMMANDS = [
    _cmd("position.close", {"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 0}),
    _cmd("position.close", {"vt_symbol": "au2702.SHFE", "direction": "UP", "volume": 1}),
    _cmd("position.close", {"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 1, "price_type": "LIMIT"}),
    _cmd("position.close", {"vt_symbol": "not a symbol", "direction": "LONG", "volume": 1}),
    _cmd("position.close", {"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 1, "extra": 1}),
    _cmd("strategy.start", {}),
    _cmd("order.cancel", {"vt_orderid": ""}),
    _cmd("launch.rockets", {}),
    _cmd("contract.switch", {"symbol": "au2706"}),
    _cmd("emergency.stop", {}, cid="short"),
    {"type": "emergency.stop", "params": {}},
]


def test_bad_commands_are_422_and_nothing_is_sent(api: ApiClient, web: WebServer, redis_client: redis.Redis) -> None:
    for body in BAD_COMMANDS:
        res = api.post("/api/commands", body)
        assert res.status_code == 422, (body, res.text)
        assert isinstance(res.json()["detail"], str) and len(res.json()["detail"]) > 10, body
    assert redis_client.llen(web.keys.commands) == 0
    res = api.http.post("/api/commands", content=b"{not json", headers={
        "Origin": web.base_url, "X-CSRF-Token": api.csrf, "Content-Type": "application/json"})
    assert res.status_code == 422


def test_close_more_than_held_is_refused_before_sending(
    api: ApiClient, web: WebServer, redis_client: redis.Redis, responder: CommandResponder
) -> None:
    close = {"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 3, "price_type": "MARKET"}
    res = api.post("/api/commands", _cmd("position.close", close))
    assert res.status_code == 409 and "no LONG position" in res.json()["detail"]
    seed.write_position(redis_client, web.keys, seed.position("au2702", "LONG", 2, 600.0))
    res = api.post("/api/commands", _cmd("position.close", close, cid="close-too-many-1"))
    assert res.status_code == 409 and "is 2 lots" in res.json()["detail"]
    assert responder.received == []
    res = api.post("/api/commands", _cmd("position.close", {**close, "volume": 2}, cid="close-ok-000001"))
    assert res.status_code == 200 and responder.received[0].params["volume"] == 2


def _core_follows_config(r: redis.Redis, web: WebServer, stop: threading.Event) -> None:
    """What the core's config watcher does: when the file names a new main contract, publish it."""
    while not stop.wait(0.1):
        symbol = json.loads(Path(web.settings.config_file).read_text())["market_data"]["main_contract"]
        current = json.loads(r.get(web.keys.main_contract) or "{}").get("symbol")
        if symbol != current:
            seed.write_main(r, web.keys, symbol)


def test_main_contract_switch_writes_the_config_and_waits_for_the_core(
    api: ApiClient, web: WebServer, redis_client: redis.Redis
) -> None:
    seed.write_contracts(redis_client, web.keys, ["au2702", "au2706"], "au2702")
    res = api.post("/api/main-contract", {"symbol": "au2712"})
    assert res.status_code == 422 and "does not know au2712" in res.json()["detail"]
    assert api.post("/api/main-contract", {"symbol": "AU 27"}).status_code == 422
    stop = threading.Event()
    follower = threading.Thread(target=_core_follows_config, args=(redis_client, web, stop), daemon=True)
    follower.start()
    try:
        res = api.post("/api/main-contract", {"symbol": "au2706"})
    finally:
        stop.set()
        follower.join()
    assert res.status_code == 200 and res.json()["status"] == "switched", res.text
    config = json.loads(Path(web.settings.config_file).read_text())
    assert config["market_data"]["main_contract"] == "au2706" and config["web"]["port"] == web.settings.config.web.port
    unchanged = api.post("/api/main-contract", {"symbol": "au2706"}).json()
    assert unchanged["status"] == "unchanged" and set(unchanged["main_contract"]) == {
        "symbol", "exchange", "vt_symbol", "since_ms"}


def test_main_contract_switch_without_a_core_reports_pending(
    api: ApiClient, web: WebServer, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("web_service.api_commands.MAIN_SWITCH_WAIT_S", 0.5)
    seed.write_contracts(redis_client, web.keys, ["au2702", "au2706"], "au2702")
    res = api.post("/api/main-contract", {"symbol": "au2706"})
    assert res.status_code == 202 and res.json()["status"] == "pending"
    assert "had not switched" in res.json()["detail"]
