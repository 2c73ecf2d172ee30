"""Browser tests of following orders to their outcome (outcomes.js) through the web service in-process, the core's
side played in its own shapes: command answers by a test responder, order states and execution steps written to
real Redis as the core publishes them. Covered: the ticket's confirmation shows exactly the core's split orders and
asks to stop a running strategy, one leg filled and one rejected ends "partly filled, the rest rejected: <broker's
reason>" and that toast stays until dismissed; a followed-up close is not "cancelled" while its follow-up re-sends
the rest under a new id, and ends "filled"; a MARKET close refused for want of a price switches to LIMIT and a new
command id, and a rejection shows the broker's reason in the dialog, the toast and the order table.
Debian's Chromium via Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from common.contract import Command, CommandReply, CommandStatus, ExecutionStep, GatewayState, Keys
from tests.helpers import write_config
from tests.web_service import risk_seed, seed
from tests.web_service.conftest import CommandResponder, WebServer, free_port, login_page

pytestmark = pytest.mark.browser

TICK = {"bid": 600.0, "ask": 600.02, "last": 600.0, "limit_up": 636.0, "limit_down": 564.0, "ts_ms": 1}
CLOSABLE = {"LONG": {"volume": 2, "td": 1, "yd": 1, "frozen": 0, "closable": 2},
            "SHORT": {"volume": 0, "td": 0, "yd": 0, "frozen": 0, "closable": 0}}
SPLIT = [{"direction": "SHORT", "offset": "CLOSETODAY", "volume": 1, "price": 600.0},
         {"direction": "SHORT", "offset": "CLOSEYESTERDAY", "volume": 1, "price": 600.0}]


@pytest.fixture
def web_config(config_dict: dict[str, Any], tmp_path: Path) -> Path:
    data = dict(config_dict)
    data["web"] = {"host": "127.0.0.1", "port": free_port(), "stale_after_s": 10, "command_timeout_s": 10}
    return write_config(tmp_path / "arbig.json", data)


@pytest.fixture
def tab(browser: Any, web: WebServer, redis_client: redis.Redis, keys: Keys) -> Iterator[Any]:
    r = redis_client
    seed.write_heartbeat(r, keys, ttl_s=300, state=GatewayState.LOGGED_IN)
    seed.write_contracts(r, keys, ["au2702", "au2704"], "au2702")
    seed.write_account(r, keys, seed.account(), event=False)
    seed.write_position(r, keys, seed.position("au2702", "LONG", 2, 600.0, yd_volume=1, td_volume=1), event=False)
    seed.write_strategy(r, keys, seed.strategy("au_tick", "TRADING", variables={"pos": 2}), event=False)
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    page = login_page(context, web.base_url, "/")
    yield page
    context.close()


def open_page(page: Any, web: WebServer, path: str) -> None:
    page.goto(web.base_url + path)
    page.wait_for_function("() => window.ARBIG.state.ws === 'open' && !!window.ARBIG.state.status && !window.ARBIG.tradeBlock()")


def reply(command: Command, result: dict[str, Any] | None = None, code: str = "", **values: Any) -> CommandReply:
    if code:
        return CommandReply(command_id=command.id, status=CommandStatus.REFUSED, reason=f"refused ({code})", code=code,
                            vars=values)
    return CommandReply(command_id=command.id, status=CommandStatus.DONE, result=result or {})


def preview(command: Command) -> dict[str, Any]:
    p = command.params
    return {"vt_symbol": p["vt_symbol"], "direction": p["direction"], "offset": p["offset"], "volume": p["volume"],
            "price_type": p.get("price_type", "LIMIT"), "price": 600.0,
            "orders": SPLIT if p["offset"] == "CLOSE" else [{"direction": p["direction"], "offset": p["offset"],
                                                           "volume": p["volume"], "price": 600.0}],
            "margin": 0.0 if p["offset"] != "OPEN" else 60_000.0, "commission": 20.0, "available": 800_000.0,
            "closable": CLOSABLE, "strategies": [{"name": "au_tick", "pos": 2, "trading": True}],
            "session": None, "tick": TICK, "problems": []}


def order(r: redis.Redis, keys: Keys, vt_orderid: str, status: str, **extra: Any) -> None:
    seed.write_order(r, keys, seed.order(vt_orderid, status, **extra))


def outcome_of(page: Any, selector: str) -> str:
    return page.get_attribute(selector, "data-outcome") or ""


def test_ticket_shows_the_split_asks_to_stop_the_strategy_and_a_rejected_leg_with_its_reason(
    web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys, responder: CommandResponder
) -> None:
    r = redis_client
    legs = [{"vt_orderid": "SIM.11", **SPLIT[0]}, {"vt_orderid": "SIM.12", **SPLIT[1]}]
    responder.decide = lambda c: reply(c, preview(c)) if c.type.value == "order.preview" else reply(
        c, {"orders": legs, "price": 600.0, "execution_id": "", "stopped_strategies": ["au_tick"]})
    open_page(tab, web, "/market")
    tab.wait_for_function("() => document.querySelector('#tk-price').value === '600.02'")  # the ask, for a buy
    tab.click("#tk-direction button[data-v='SHORT']")
    tab.click("#tk-offset button[data-v='CLOSE']")
    tab.click("#tk-all")
    tab.wait_for_function("() => document.querySelector('#tk-volume').value === '2'")
    tab.wait_for_function("() => document.querySelector('#tk-orders').innerText.includes('平昨')")
    assert "卖 平今 1 @600.00 · 卖 平昨 1 @600.00" in tab.inner_text("#tk-orders")
    assert "多 可平 2" in tab.inner_text("#tk-closable .tk-side.on")
    tab.click("#tk-submit")
    rows = tab.locator("#confirm[open] .tk-dlg-orders tbody tr")
    rows.first.wait_for()
    assert [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())] == [
        ["卖 SHORT", "平今 CLOSETODAY", "1", "600.00"], ["卖 SHORT", "平昨 CLOSEYESTERDAY", "1", "600.00"]]
    assert tab.is_checked("#tk-stop") and "au_tick (pos 2)" in tab.inner_text("#confirm .tk-stop")
    shown_id = tab.inner_text("#confirm .muted.mono").split()[-1]
    tab.click("#confirm-ok")
    tab.locator("#confirm .outcome .out-state[data-outcome='pending']").wait_for()
    assert "已发出，等待交易所" in tab.inner_text("#confirm .outcome")
    assert "已停止策略：au_tick" in tab.inner_text("#confirm .tk-stopped")
    sent = [c for c in responder.received if c.type.value == "order.send"]
    assert len(sent) == 1 and sent[0].id == shown_id
    assert sent[0].params["stop_strategies"] is True and sent[0].params["offset"] == "CLOSE"
    previews = [c.id for c in responder.received if c.type.value == "order.preview"]
    assert len(previews) >= 2 and len(set(previews)) == len(previews), "every preview has its own command id"

    order(r, keys, "SIM.11", "ALLTRADED", offset="CLOSETODAY", traded=1)
    order(r, keys, "SIM.12", "REJECTED", offset="CLOSEYESTERDAY", reason="CTP:平昨仓位不足")
    tab.locator("#confirm .outcome .msg.bad[data-outcome='partial']").wait_for()
    assert "部分成交 1/2，其余拒单：CTP:平昨仓位不足" in tab.inner_text("#confirm .outcome")
    assert "CTP:平昨仓位不足" in tab.inner_text("#confirm .outcome tr[data-id='SIM.12'] .o-reason")
    tab.click("#confirm-cancel")
    toast = tab.locator("#toasts .toast[data-outcome='partial']")
    assert "CTP:平昨仓位不足" in toast.inner_text()
    toast.locator(".toast-x").click()
    assert tab.locator("#toasts .toast").count() == 0


def test_a_followed_up_close_waits_for_the_resent_order_and_ends_filled(
    web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys, responder: CommandResponder
) -> None:
    r = redis_client
    responder.decide = lambda c: reply(c, {"orders": [{"vt_orderid": "SIM.21", "direction": "SHORT", "offset": "CLOSETODAY",
                                                         "volume": 2, "price": 599.9}],
                                           "price": 599.9, "execution_id": c.id, "stopped_strategies": []})
    open_page(tab, web, "/positions")
    tab.locator("tr[data-key='au2702.SHFE|LONG'] .close-btn").click()
    assert "au_tick (pos 2)" in tab.inner_text("#confirm .c-stop-box") and tab.is_checked("#c-stop")
    tab.uncheck("#c-stop")
    assert "否" in tab.inner_text("#c-summary")
    tab.click("#confirm-ok")
    tab.locator("#pos-result .msg.warn").wait_for()
    assert "au2702.SHFE LONG: 已发出，等待交易所" in tab.inner_text("#pos-result")
    close = responder.received[-1]
    assert close.type.value == "position.close" and close.params["stop_strategies"] is False

    steps = [(ExecutionStep.SUBMITTED, "SIM.21"), (ExecutionStep.TIMEOUT, "SIM.21")]
    order(r, keys, "SIM.21", "NOTTRADED", offset="CLOSETODAY", volume=2, price=599.9)
    for kind, oid in steps:
        risk_seed.publish_step(r, keys, risk_seed.step(close.id, kind, vt_orderid=oid, offset="CLOSETODAY"))
    order(r, keys, "SIM.21", "CANCELLED", offset="CLOSETODAY", volume=2, price=599.9)
    risk_seed.publish_step(r, keys, risk_seed.step(close.id, ExecutionStep.CANCELLED, vt_orderid="SIM.21"))
    tab.locator("#confirm .outcome tr[data-id='SIM.21'][data-status='CANCELLED']").wait_for()
    tab.locator("#exec-body tr .step[data-step='CANCELLED']").wait_for()  # the step has reached the page too
    assert outcome_of(tab, "#confirm .outcome .out-state") in ("pending", "working"), "the rest is sent again"

    risk_seed.publish_step(r, keys, risk_seed.step(close.id, ExecutionStep.REPRICED, vt_orderid="SIM.22",
                                                   price=599.8, attempt=1, offset="CLOSETODAY"))
    tab.locator("#confirm .outcome tr[data-id='SIM.22']").wait_for()
    order(r, keys, "SIM.22", "ALLTRADED", offset="CLOSETODAY", volume=2, traded=2, price=599.8)
    tab.locator("#confirm .outcome .msg.ok[data-outcome='filled']").wait_for()
    assert "全部成交 2/2" in tab.inner_text("#confirm .outcome")
    assert "au2702.SHFE LONG: 全部成交 2/2" in tab.inner_text("#pos-result")
    assert not tab.is_checked("#active-only"), "today's finished orders are shown by default"
    assert tab.get_attribute("#orders-body tr[data-id='SIM.21']", "data-status") == "CANCELLED"
    assert tab.get_attribute("#orders-body tr[data-id='SIM.22']", "data-status") == "ALLTRADED"


def test_a_market_close_without_a_price_asks_for_a_limit_and_a_rejection_shows_the_reason(
    web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys, responder: CommandResponder
) -> None:
    r = redis_client

    def decide(c: Command) -> CommandReply:
        if c.params.get("price_type") == "MARKET":
            return reply(c, code="no_price", vt_symbol=c.params["vt_symbol"])
        return reply(c, {"orders": [{"vt_orderid": "SIM.31", "direction": "SHORT", "offset": "CLOSETODAY", "volume": 2,
                                     "price": c.params["price"]}], "price": c.params["price"], "execution_id": "",
                         "stopped_strategies": []})

    responder.decide = decide
    open_page(tab, web, "/positions")
    tab.locator("tr[data-key='au2702.SHFE|LONG'] .close-btn").click()
    first_id = tab.inner_text("#c-summary tr:last-child td")
    tab.click("#confirm-ok")
    tab.locator("#confirm .c-no-price").wait_for()
    note = tab.inner_text("#confirm .c-no-price")
    assert "au2702.SHFE 还没有行情" in note and "已改为限价" in note, note
    assert tab.input_value("#c-type") == "LIMIT" and tab.is_enabled("#c-price") and tab.is_visible("#confirm-ok")
    second_id = tab.inner_text("#c-summary tr:last-child td")
    assert second_id != first_id, "the refused id is spent: the next attempt has a new one"
    tab.fill("#c-price", "599.5")
    tab.click("#confirm-ok")
    tab.locator("#confirm .outcome .out-state[data-outcome='pending']").wait_for()
    closes = [c for c in responder.received if c.type.value == "position.close"]
    assert [(c.id, c.params["price_type"], c.params["price"]) for c in closes] == [
        (first_id, "MARKET", None), (second_id, "LIMIT", 599.5)]

    order(r, keys, "SIM.31", "REJECTED", offset="CLOSETODAY", volume=2, price=599.5, reason="CTP:价格超出涨跌停板")
    tab.locator("#confirm .outcome .msg.bad[data-outcome='rejected']").wait_for()
    assert "拒单：CTP:价格超出涨跌停板" in tab.inner_text("#confirm .outcome")
    assert "拒单：CTP:价格超出涨跌停板" in tab.inner_text("#pos-result .msg.bad")
    tab.click("#confirm-cancel")
    row = tab.locator("#orders-body tr[data-id='SIM.31']")
    assert row.get_attribute("data-status") == "REJECTED" and "CTP:价格超出涨跌停板" in row.locator(".o-reason").inner_text()
    assert tab.locator("#toasts .toast[data-outcome='rejected']").is_visible(), "a bad outcome stays"
