"""Browser tests of risk events and execution reports (issue 8): a risk event recorded and pushed as the core
does appears on the system page without a reload, the header badge counts the unacknowledged ones on every page
(from the API at load, then live), acknowledging one (confirmation, disabled while sending, the outcome) updates
its row and every page's badge; the positions page shows each execution's steps live, with Chinese step names.
The web service runs in-process; the core's side is seeded into real Redis and MySQL in the core's shapes and
the command reply list is answered by a test responder. Debian's Chromium via Playwright."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from common.contract import (
    Command,
    CommandReply,
    ExecutionStep,
    GatewayState,
    Keys,
    RiskEventType,
    now_ms,
)
from common.db import Database
from tests.helpers import write_config
from tests.web_service import risk_seed, seed
from tests.web_service.conftest import CommandResponder, WebServer, free_port, login_page

pytestmark = pytest.mark.browser


@pytest.fixture
def web_config(config_dict: dict[str, Any], tmp_path: Path) -> Path:
    """As conftest's, with time to look at the page while the core's answer is held back."""
    data = dict(config_dict)
    data["web"] = {"host": "127.0.0.1", "port": free_port(), "stale_after_s": 10, "command_timeout_s": 20}
    return write_config(tmp_path / "arbig.json", data)


@pytest.fixture
def tab(browser: Any, web: WebServer, redis_client: redis.Redis, keys: Keys) -> Iterator[Any]:
    seed.write_heartbeat(redis_client, keys, ttl_s=300, state=GatewayState.LOGGED_IN)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = login_page(context, web.base_url, "/")
    yield page
    context.close()


def open_page(page: Any, web: WebServer, path: str) -> None:
    page.goto(web.base_url + path)
    page.wait_for_function("() => window.ARBIG.state.ws === 'open' && !!window.ARBIG.state.status")


def wait_text(page: Any, selector: str, text: str) -> None:
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)", arg=[selector, text]
    )


def wait_badge(page: Any, count: int) -> None:
    """The header badge shows `count` (hidden at 0)."""
    page.wait_for_function(
        """(n) => { const b = document.querySelector('#risk-badge');
                    return b.dataset.count === String(n) && b.classList.contains('hidden') === (n === 0)
                           && (n === 0 || b.innerText.includes('风险 ' + n)); }""",
        arg=count,
    )


def core_acknowledges(
    db: Database, r: redis.Redis, keys: Keys, go: threading.Event
) -> Callable[[Command], CommandReply]:
    """The core's side of risk.ack, once `go` is set: record it, push the risk_update, answer done."""

    def decide(command: Command) -> CommandReply:
        assert go.wait(20), "the test never let the answer go"
        return risk_seed.core_acknowledges(db, r, keys, command)

    return decide


def test_risk_events_live_badge_on_every_page_and_acknowledge(
    web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys, db: Database, responder: CommandResponder
) -> None:
    r = redis_client
    open_page(tab, web, "/")
    wait_text(tab, "#risk-body", "没有风险事件")
    wait_badge(tab, 0)
    tab.evaluate("window.__not_reloaded = true")

    drift = risk_seed.risk_event(RiskEventType.CONSISTENCY_DRIFT, severity="CRITICAL", ts_ms=now_ms())
    risk_seed.insert_risk_event(db, drift)
    risk_seed.publish_risk_event(r, keys, drift)
    row = tab.locator(f"#risk-body tr[data-uid='{drift.uid}']")
    row.wait_for()
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[1:5] == ["持仓偏差", "严重", "au2702.SHFE", drift.message] and cells[5] == "未确认", cells
    assert "bad" in row.locator("td").nth(2).get_attribute("class")
    wait_badge(tab, 1)
    assert tab.get_attribute("#risk-badge", "href") == "/#risk-events"
    assert tab.evaluate("window.__not_reloaded") is True, "live, without a reload"

    other = tab.context.new_page()  # another page of the same session: its badge comes from the API at load
    open_page(other, web, "/positions")
    wait_badge(other, 1)
    close = risk_seed.risk_event(
        RiskEventType.EXTERNAL_CLOSE,
        key="EXTERNAL_CLOSE:au2702.SHFE:LONG",
        message="柜台已无多头持仓：记录平仓",
        ts_ms=now_ms(),
    )
    risk_seed.insert_risk_event(db, close)
    risk_seed.publish_risk_event(r, keys, close)
    wait_badge(other, 2)
    wait_badge(tab, 2)
    assert tab.locator("#risk-body tr[data-uid]").first.get_attribute("data-uid") == close.uid, "newest first"
    tab.screenshot(path="/tmp/arbig_page_risk_events.png", full_page=True)

    go = threading.Event()
    responder.decide = core_acknowledges(db, r, keys, go)
    row.locator(".risk-ack").click()
    summary = tab.inner_text("#confirm .summary")
    assert "risk.ack" in summary and drift.uid in summary and "CONSISTENCY_DRIFT" in summary
    tab.click("#confirm-ok")
    tab.wait_for_function(
        f"() => document.querySelector(\"#risk-body tr[data-uid='{drift.uid}'] .risk-ack\").disabled"
    )
    assert tab.is_disabled("#confirm-ok") and "等待核心应答" in tab.inner_text("#confirm .outcome")
    go.set()
    tab.locator("#confirm .outcome .msg.ok").wait_for()
    wait_text(tab, f"#risk-body tr[data-uid='{drift.uid}'] .rk-state", "已确认（operator")
    assert row.locator(".risk-ack").count() == 0
    wait_badge(tab, 1)
    wait_badge(other, 1)  # through the core's push
    assert [(c.type, c.params) for c in responder.received] == [("risk.ack", {"uid": drift.uid})]
    assert (
        db.query("SELECT acknowledged_by FROM risk_events WHERE uid=%s", (drift.uid,))[0]["acknowledged_by"]
        == "operator"
    )
    tab.click("#confirm-cancel")

    other.click("#risk-badge")  # to the system page's section, showing what is still open
    other.wait_for_url(web.base_url + "/#risk-events")
    other.locator(f"#risk-body tr[data-uid='{close.uid}']").wait_for()
    assert other.is_checked("#rk-unacked")
    assert other.locator("#risk-body tr[data-uid]").count() == 1, "the acknowledged one is filtered out"
    other.locator(f"#risk-body tr[data-uid='{close.uid}'] .risk-ack").click()
    other.click("#confirm-ok")
    other.locator("#confirm .outcome .msg.ok").wait_for()
    wait_badge(other, 0)
    wait_badge(tab, 0)
    assert len(responder.received) == 2


def test_positions_page_shows_each_executions_steps_live(
    web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys, db: Database
) -> None:
    start = now_ms() - 60_000
    done = [
        risk_seed.step("exec-stored-0001", kind, start + i * 1000, source="emergency")
        for i, kind in enumerate(
            [ExecutionStep.SUBMITTED, ExecutionStep.FILLED, ExecutionStep.POSITION_CLOSED]
        )
    ]
    for report in done:
        risk_seed.insert_step(db, report)
    open_page(tab, web, "/positions")
    stored = tab.locator("#exec-body tr[data-id='exec-stored-0001']")
    stored.wait_for()
    assert stored.locator(".step").evaluate_all("els => els.map(e => e.dataset.step)") == [
        s.step.value for s in done
    ]
    assert stored.locator(".step").all_inner_texts() == [
        "已报单 @600.00",
        "全部成交 @600.00",
        "平仓完成 @600.00",
    ]
    assert "紧急停止" in stored.inner_text()

    steps = [
        (ExecutionStep.SUBMITTED, 0, 600.0),
        (ExecutionStep.TIMEOUT, 0, 600.0),
        (ExecutionStep.CANCELLED, 0, 600.0),
        (ExecutionStep.REPRICED, 1, 599.96),
        (ExecutionStep.FILLED, 1, 599.96),
    ]
    live = tab.locator("#exec-body tr[data-id='exec-live-00001']")
    for i, (kind, attempt, price) in enumerate(steps):
        risk_seed.publish_step(
            redis_client,
            keys,
            risk_seed.step(
                "exec-live-00001",
                kind,
                now_ms(),
                attempt=attempt,
                price=price,
                vt_orderid=f"SIM.{attempt + 1}",
            ),
        )
        live.locator(".step").nth(i).wait_for()  # each step appears before the next is sent
    assert live.locator(".step").evaluate_all("els => els.map(e => e.dataset.step)") == [
        s[0].value for s in steps
    ]
    text = live.inner_text()
    for name in ("已报单", "超时撤单", "已撤单", "改价重报", "全部成交", "手动", "空"):
        assert name in text, (name, text)
    assert "599.96" in text
    assert "第 1 次重试" in live.locator(".step").nth(3).get_attribute("title")
    assert tab.locator("#exec-body tr[data-id]").first.get_attribute("data-id") == "exec-live-00001", (
        "latest first"
    )
    tab.screenshot(path="/tmp/arbig_page_executions.png", full_page=True)
