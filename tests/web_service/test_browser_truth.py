"""Browser tests of a console that tells the truth (issue 15 items 7 and 8): while the page's WebSocket is down
every live figure is greyed, every command button is disabled (the emergency stop excepted) and the header's
pills say "unknown" instead of the last good state; fresh data after the reconnect restores them. Refusals are
shown by their code in Chinese and, after the language toggle, in English (the web's own, the core's, and
validation problems); the login page's errors and "session expired" follow the chosen language.

The web service runs in-process; the core's side is seeded into real Redis in the core's shapes. The socket is
cut with Playwright's WebSocket routing (the page's connection closed, reconnects refused until released).
Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from common.contract import (
    Command,
    CommandReply,
    CommandStatus,
    GatewayState,
    GatewayStatus,
    Heartbeat,
    Keys,
    SessionState,
    now_ms,
)
from common.trading_calendar import trading_day_str
from tests.web_service import seed
from tests.web_service.conftest import PASSWORD, CommandResponder, WebServer, login_page

pytestmark = pytest.mark.browser

MUTED = "rgb(139, 150, 163)"  # app.css --muted
LIVE = "() => window.ARBIG.state.ws === 'open' && !!window.ARBIG.state.status"


@dataclass
class SocketCutter:
    """Routes the page's /ws through Playwright: `cut()` closes the open connections and refuses new ones
    until `release()`."""

    blocked: bool = False
    routes: list[Any] = field(default_factory=list)

    def handle(self, route: Any) -> None:
        if self.blocked:
            route.close(code=1011, reason="cut by the test")
            return
        route.connect_to_server()
        self.routes.append(route)

    def cut(self) -> None:
        self.blocked = True
        for route in self.routes:
            route.close(code=1011, reason="cut by the test")
        self.routes.clear()

    def release(self) -> None:
        self.blocked = False


@pytest.fixture
def cutter() -> SocketCutter:
    return SocketCutter()


@pytest.fixture
def tab(browser: Any, web: WebServer, cutter: SocketCutter) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    context.route_web_socket("**/ws", cutter.handle)
    page = login_page(context, web.base_url, "/")
    yield page
    context.close()


def heartbeat(r: redis.Redis, keys: Keys) -> None:
    """The core's heartbeat with a gateway ready and an open session (as core_service/app.py writes it)."""
    hb = Heartbeat(pid=os.getpid(), ts_ms=now_ms(), started_ms=now_ms() - 60_000,
                   gateway=GatewayStatus(name="sim", state=GatewayState.LOGGED_IN), main_contract="au2702",
                   trading_day=trading_day_str(datetime.now(UTC)), mysql_ok=True, mysql_backlog=0, redis_backlog=0,
                   last_tick_ms=now_ms(), session=SessionState(mode="always", state="open", reason="24h demo"))
    r.set(keys.heartbeat, hb.to_json(), ex=300)


def open_page(tab: Any, web: WebServer, path: str) -> None:
    tab.goto(web.base_url + path)
    tab.wait_for_function(LIVE)


def wait_text(tab: Any, selector: str, text: str) -> None:
    tab.wait_for_function("([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
                          arg=[selector, text])


def wait_disabled(tab: Any, selector: str, disabled: bool) -> None:
    tab.wait_for_function("([sel, d]) => { const b = document.querySelector(sel); return !!b && b.disabled === d; }",
                          arg=[selector, disabled])


def pill(tab: Any, selector: str) -> tuple[str, str]:
    return tab.inner_text(selector).strip(), tab.get_attribute(selector, "class") or ""


def color(tab: Any, selector: str) -> str:
    return tab.evaluate("(sel) => getComputedStyle(document.querySelector(sel)).color", selector)


CLOSE_BTN = 'tr[data-key="au2702.SHFE|LONG"] .close-btn'


def test_a_cut_socket_greys_the_figures_disables_commands_and_says_unknown(
    web: WebServer, tab: Any, cutter: SocketCutter, redis_client: redis.Redis, keys: Keys
) -> None:
    r = redis_client
    seed.write_contracts(r, keys, ["au2702"], "au2702")
    seed.write_position(r, keys, seed.position("au2702", "LONG", 2, 600.0))
    seed.write_tick(r, keys, "au2702", 606.0)
    seed.write_order(r, keys, seed.order("SIM.7", "NOTTRADED"))
    heartbeat(r, keys)

    open_page(tab, web, "/positions")
    wait_disabled(tab, CLOSE_BTN, False)
    wait_disabled(tab, "#orders-body .cancel-btn", False)
    wait_text(tab, "#core-state", "核心运行")
    tab.wait_for_function("() => document.querySelector('#session-pill').dataset.state === 'always'")
    live_color = color(tab, "#pos-body td.num")
    assert live_color != MUTED and "ws-down" not in (tab.get_attribute("body", "class") or "")

    cutter.cut()
    tab.wait_for_function("() => document.body.classList.contains('ws-down')")
    assert pill(tab, "#core-state") == ("核心未知", "pill unknown")
    assert pill(tab, "#gw-state") == ("网关 未知", "pill unknown")
    assert pill(tab, "#redis-state") == ("Redis 未知", "pill unknown")
    assert pill(tab, "#mysql-state") == ("MySQL 未知", "pill unknown")
    assert pill(tab, "#tick-age") == ("行情 未知", "pill unknown")
    tab.wait_for_function("() => document.querySelector('#session-pill').dataset.state === 'unknown'")
    assert tab.is_visible("#stale-badge") and tab.get_attribute("#banner", "data-kind") in ("ws", "gave-up")
    for button in (CLOSE_BTN, "#orders-body .cancel-btn"):
        wait_disabled(tab, button, True)
        assert tab.get_attribute(button, "title") == "页面未连接：不可交易"
    assert color(tab, "#pos-body td.num") == MUTED, "live figures are greyed"
    assert color(tab, "#session-pill") == MUTED
    assert tab.is_enabled("#estop"), "the emergency stop stays usable"
    assert tab.evaluate("getComputedStyle(document.querySelector('#estop')).pointerEvents") == "auto"
    # a button a page enables meanwhile is locked again at once
    tab.evaluate(f"() => {{ document.querySelector('{CLOSE_BTN}').disabled = false; }}")
    wait_disabled(tab, CLOSE_BTN, True)
    tab.screenshot(path="/tmp/arbig_page_ws_down.png")

    cutter.release()
    tab.wait_for_function(LIVE, timeout=20_000)
    tab.wait_for_function("() => !document.body.classList.contains('ws-down')")
    wait_text(tab, "#core-state", "核心运行")
    wait_text(tab, "#gw-state", "就绪")
    assert "ok" in pill(tab, "#redis-state")[1] and "ok" in pill(tab, "#tick-age")[1]
    tab.wait_for_function("() => document.querySelector('#session-pill').dataset.state === 'always'")
    wait_disabled(tab, CLOSE_BTN, False)
    wait_disabled(tab, "#orders-body .cancel-btn", False)
    assert tab.get_attribute(CLOSE_BTN, "title") == ""
    assert color(tab, "#pos-body td.num") == live_color
    assert tab.is_hidden("#banner")


def test_strategy_buttons_are_disabled_while_the_socket_is_cut(
    web: WebServer, tab: Any, cutter: SocketCutter, redis_client: redis.Redis, keys: Keys
) -> None:
    r = redis_client
    seed.write_strategy(r, keys, seed.strategy("au_ready", state="INITED"))
    seed.write_strategy(r, keys, seed.strategy("au_running", state="TRADING"))
    heartbeat(r, keys)
    open_page(tab, web, "/strategy")
    ready, running = 'section[data-name="au_ready"]', 'section[data-name="au_running"]'
    wait_disabled(tab, f"{ready} .s-start", False)
    wait_disabled(tab, f"{running} .s-stop", False)

    cutter.cut()
    for button in (f"{ready} .s-start", f"{running} .s-stop"):
        wait_disabled(tab, button, True)
    assert tab.is_disabled(f"{ready} .s-init"), "its own state: already initialised"
    assert tab.is_enabled("#estop")

    cutter.release()
    tab.wait_for_function(LIVE, timeout=20_000)
    wait_disabled(tab, f"{ready} .s-start", False)
    wait_disabled(tab, f"{running} .s-stop", False)
    assert tab.is_disabled(f"{ready} .s-init") and tab.is_disabled(f"{running} .s-start")


def outcome(tab: Any, command_type: str, params: dict[str, Any]) -> str:
    """Open the confirmation of a command, confirm it and return the outcome shown; the dialog is closed after."""
    tab.evaluate("([type, params]) => { window.ARBIG.confirmCommand({ title: 'x', type, params }); }",
                 [command_type, params])
    tab.click("#confirm-ok")
    tab.wait_for_function("() => { const o = document.querySelector('#confirm .outcome');"
                          " return !!o && !!o.innerText && !o.querySelector('.msg.warn'); }")
    text = tab.inner_text("#confirm .outcome")
    tab.click("#confirm-cancel")
    return text


@contextmanager
def refusing_core(r: redis.Redis, keys: Keys) -> Iterator[CommandResponder]:
    """Plays the core: refuses every command as not_closable, with its vars."""

    def decide(command: Command) -> CommandReply:
        return CommandReply(command_id=command.id, status=CommandStatus.REFUSED,
                            reason="cannot close 3 LONG au2702.SHFE: only 1 closable (held 2, frozen by pending closes 1)",
                            code="not_closable", vars={"volume": 3, "direction": "LONG", "vt_symbol": "au2702.SHFE",
                                                       "closable": 1, "held": 2, "frozen": 1})
    playing = CommandResponder(r, keys, decide)
    thread = threading.Thread(target=playing.run, name="refusing-core", daemon=True)
    thread.start()
    yield playing
    playing.stop()
    thread.join(timeout=2)


def test_refusals_by_code_in_chinese_then_english(
    web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys
) -> None:
    heartbeat(redis_client, keys)
    open_page(tab, web, "/positions")
    close = {"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 1, "price_type": "MARKET"}
    text = outcome(tab, "position.close", close)  # the web's own refusal: 409 no_position
    assert "被拒绝" not in text and "au2702.SHFE 没有多头持仓可平" in text, text
    text = outcome(tab, "position.close", {**close, "volume": 0})  # validation, per field
    assert "position.close 命令的参数无效，未发送" in text and "volume: 应不小于 1" in text, text
    seed.write_position(redis_client, keys, seed.position("au2702", "LONG", 2, 600.0))
    with refusing_core(redis_client, keys):
        text = outcome(tab, "position.close", {**close, "volume": 2})  # the core's refusal with its vars
        assert "被拒绝" in text and "不能平仓 au2702.SHFE 多头 3 手：可平只有 1 手（持仓 2 手，平仓挂单冻结 1 手）" in text, text

        tab.click("#lang-toggle")
        text = outcome(tab, "position.close", {**close, "volume": 2})
        assert "refused" in text and "cannot close 3 LONG au2702.SHFE: only 1 closable" in text, text
        redis_client.hdel(keys.positions, *redis_client.hkeys(keys.positions))
        text = outcome(tab, "position.close", close)
        assert "no LONG position in au2702.SHFE to close" in text, text
        text = outcome(tab, "position.close", {**close, "volume": 0})
        assert "invalid position.close command, nothing sent" in text and "volume" in text, text
    tab.click("#lang-toggle")


def test_login_errors_and_session_expiry_in_the_chosen_language(browser: Any, web: WebServer) -> None:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(web.base_url + "/login")
    assert page.inner_text("button[type=submit]") == "登录"
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    page.wait_for_function("() => (document.querySelector('#login-error')?.innerText || '').startsWith('密码错误')")
    page.click("#lang-toggle")
    page.wait_for_function("() => document.querySelector('#login-error').innerText.startsWith('wrong password')")
    assert page.inner_text("button[type=submit]") == "Log in"
    page.click("#lang-toggle")

    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(web.base_url + "/")
    page.wait_for_function(LIVE.replace("!!window.ARBIG.state.status", "true"))
    # the session ends behind the page's back; its next API call (401) sends it to the login page
    page.evaluate("() => { fetch('/logout', {method: 'POST', headers: {'X-CSRF-Token':"
                  " document.querySelector('meta[name=csrf-token]').content}})"
                  ".then(() => window.ARBIG.api('GET', '/api/status')); }")
    page.wait_for_url("**/login?next=*")
    page.wait_for_function("() => document.querySelector('#login-expired').innerText.includes('会话不存在或已过期')")
    assert page.is_visible("#login-expired")
    page.reload()
    assert page.is_hidden("#login-expired"), "said once"
    context.close()
