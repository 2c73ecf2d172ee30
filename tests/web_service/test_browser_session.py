"""Browser tests of the exchange session display: the header pill (every page) and the market page's
session box show the state carried by the core's heartbeat (24h demo, open until, break / closed with
the reason and the next open, China time, in Chinese and English), and "unknown" with no heartbeat or
while the page is disconnected, never the last good state. The web service runs in-process; the
heartbeat is seeded into real Redis in the core's shape. Debian's Chromium via Playwright."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from common.contract import GatewayState, GatewayStatus, Heartbeat, Keys, SessionState, now_ms
from common.trading_calendar import CHINA_TZ, trading_day_str
from tests.web_service.conftest import WebServer

pytestmark = pytest.mark.browser

NEXT_OPEN = datetime(2030, 1, 7, 9, 0, tzinfo=CHINA_TZ)  # never "today": the pill shows its date
LUNCH_END = datetime(2030, 1, 7, 13, 30, tzinfo=CHINA_TZ)
CLOSES = datetime(2030, 1, 7, 10, 15, tzinfo=CHINA_TZ)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def beat(r: redis.Redis, keys: Keys, session: SessionState | None) -> None:
    """The core's heartbeat (as core_service/app.py writes it) carrying `session`."""
    hb = Heartbeat(pid=os.getpid(), ts_ms=now_ms(), started_ms=now_ms() - 60_000,
                   gateway=GatewayStatus(name="sim", state=GatewayState.LOGGED_IN), main_contract="au2702",
                   trading_day=trading_day_str(datetime.now(UTC)), mysql_ok=True, mysql_backlog=0, redis_backlog=0,
                   session=session)
    r.set(keys.heartbeat, hb.to_json(), ex=300)


def wait_state(tab: Any, state: str, text: str) -> None:
    """Both the pill and the box show `state`, the pill's text containing `text`."""
    tab.wait_for_function(
        "([state, text]) => { const p = document.querySelector('#session-pill'), b = document.querySelector('#session-box');"
        " return p.dataset.state === state && b.dataset.state === state && p.innerText.includes(text); }",
        arg=[state, text])


def box(tab: Any) -> dict[str, str]:
    """The session box's rows: label -> value."""
    return tab.evaluate("() => Object.fromEntries(Array.from(document.querySelectorAll('#session-box .kv div'),"
                        " (d) => [d.querySelector('label').innerText, d.querySelector('span').innerText]))")


def test_pill_and_box_follow_the_heartbeat_and_say_unknown_without_one(
    web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys
) -> None:
    r = redis_client
    tab.goto(web.base_url + "/market")
    tab.wait_for_function("() => window.ARBIG.state.ws === 'open' && !!window.ARBIG.state.status")
    wait_state(tab, "unknown", "时段 未知")
    assert tab.is_visible("#session-pill")
    assert box(tab) == {"状态": "未知", "原因": "没有核心心跳"}

    beat(r, keys, SessionState(mode="shfe", state="closed", reason="weekend", next_open_ms=ms(NEXT_OPEN)))
    wait_state(tab, "closed", "休市 · 01-07 09:00 开盘")
    assert "bad" in tab.get_attribute("#session-pill", "class")
    assert box(tab) == {"状态": "休市", "模式": "上期所时段（含节假日）", "原因": "周末", "下次开盘": "2030-01-07 09:00"}
    tab.screenshot(path="/tmp/arbig_page_session_closed.png")

    beat(r, keys, SessionState(mode="shfe", state="break", reason="lunch break", next_open_ms=ms(LUNCH_END)))
    wait_state(tab, "break", "午休 · 01-07 13:30 开盘")
    assert box(tab)["下次开盘"] == "2030-01-07 13:30"

    beat(r, keys, SessionState(mode="shfe", state="closed", reason="no night session before holiday 2030-01-01",
                               next_open_ms=ms(NEXT_OPEN)))
    tab.wait_for_function("() => document.querySelector('#session-box').innerText.includes('节假日 2030-01-01 前无夜盘')")

    beat(r, keys, SessionState(mode="shfe", state="open", closes_ms=ms(CLOSES)))
    wait_state(tab, "open", "开盘中 · 至 01-07 10:15")
    assert box(tab) == {"状态": "开盘中", "模式": "上期所时段（含节假日）", "本节结束": "2030-01-07 10:15"}

    beat(r, keys, SessionState(mode="always", state="open", reason="24h demo"))
    wait_state(tab, "always", "24h 演示")
    assert "session-demo" in tab.get_attribute("#session-pill", "class")
    tab.click("#lang-toggle")
    wait_state(tab, "always", "24h demo")
    assert box(tab)["Mode"] == "24h demo (simulator, no exchange sessions)"
    tab.screenshot(path="/tmp/arbig_page_session_demo.png")
    tab.click("#lang-toggle")

    beat(r, keys, None)  # a core that does not report sessions
    wait_state(tab, "unknown", "时段 未知")
    assert box(tab)["原因"] == "核心未报告交易时段"

    beat(r, keys, SessionState(mode="shfe", state="open", closes_ms=ms(CLOSES)))
    wait_state(tab, "open", "开盘中")
    r.delete(keys.heartbeat)  # the core stops: the last good state is not kept
    wait_state(tab, "unknown", "时段 未知")
    assert box(tab) == {"状态": "未知", "原因": "没有核心心跳"}


def test_the_header_pill_on_other_pages(web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys) -> None:
    beat(redis_client, keys, SessionState(mode="shfe", state="closed", reason="weekend", next_open_ms=ms(NEXT_OPEN)))
    tab.goto(web.base_url + "/positions")
    tab.wait_for_function("() => document.querySelector('#session-pill').dataset.state === 'closed'")
    assert "休市 · 01-07 09:00 开盘" in tab.inner_text("#session-pill")
    assert "周末" in tab.get_attribute("#session-pill", "title")
    assert tab.query_selector("#session-box") is None


def test_unknown_while_the_page_is_disconnected(
    web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys
) -> None:
    routes: list[Any] = []
    cut = {"on": False}

    def route(ws: Any) -> None:
        if cut["on"]:
            ws.close()  # the server cannot be reached: every reconnection fails at once
            return
        ws.connect_to_server()
        routes.append(ws)

    tab.route_web_socket("**/ws", route)
    beat(redis_client, keys, SessionState(mode="shfe", state="open", closes_ms=ms(CLOSES)))
    tab.goto(web.base_url + "/market")
    wait_state(tab, "open", "开盘中")

    cut["on"] = True
    routes[-1].close()
    wait_state(tab, "unknown", "时段 未知")
    assert box(tab) == {"状态": "未知", "原因": "页面未连接"}
    assert tab.get_attribute("#session-pill", "title") == "页面未连接"

    cut["on"] = False  # the next reconnection attempt goes through
    wait_state(tab, "open", "开盘中")
