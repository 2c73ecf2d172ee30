"""Browser test of a Redis outage: an open page shows the Redis banner and pill, greys its command
buttons and refuses commands while Redis is cut off, and recovers by itself when Redis returns.
Debian's Chromium via Playwright; the web service runs in-process with Redis behind a TcpProxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.web_service import seed
from tests.web_service.conftest import PASSWORD, ProxiedWeb
from tests.web_service.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

BANNER_IS = "(kind) => document.querySelector('#banner').dataset.kind === kind"


@pytest.fixture
def tab(proxied_web: ProxiedWeb) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    base = proxied_web.server.base_url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN").new_page()
        page.set_default_timeout(15_000)
        page.goto(base + "/login?next=/")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/")
        yield page
        browser.close()


def test_redis_banner_comes_and_goes_and_commands_are_greyed(
    proxied_web: ProxiedWeb, tab: Any, redis_client: redis.Redis
) -> None:
    seed.write_heartbeat(redis_client, proxied_web.server.keys, ttl_s=300)
    tab.wait_for_function("() => window.ARBIG.state.ws === 'open' && window.ARBIG.state.status"
                          " && window.ARBIG.state.status.redis_ok === true")
    assert "ok" in tab.get_attribute("#redis-state", "class")
    assert tab.evaluate("getComputedStyle(document.querySelector('#estop')).pointerEvents") == "auto"

    proxied_web.redis_proxy.down()
    tab.wait_for_function(BANNER_IS, arg="redis", timeout=10_000)
    banner = tab.inner_text("#banner")
    assert "Redis 不可达" in banner and "核心仍在交易" in banner and "make stop" in banner
    assert "bad" in tab.get_attribute("#redis-state", "class") and "Redis 不可达" in tab.inner_text("#redis-state")
    assert tab.evaluate("getComputedStyle(document.querySelector('#estop')).pointerEvents") == "none"
    tab.evaluate("() => { window.ARBIG.confirmCommand({title: 'x', type: 'emergency.stop', params: {}}); }")
    assert "make stop" in tab.inner_text("#cmd-blocked")  # the dialog refuses instead of sending
    assert not tab.is_visible("#confirm-ok")
    tab.click("#confirm-cancel")
    tab.screenshot(path="/tmp/arbig_page_redis_down.png")

    proxied_web.redis_proxy.up()
    tab.wait_for_function(f"(kind) => !({BANNER_IS})(kind)", arg="redis", timeout=10_000)
    assert "Redis 不可达" not in tab.inner_text("#banner")
    assert "ok" in tab.get_attribute("#redis-state", "class")
    assert tab.evaluate("getComputedStyle(document.querySelector('#estop')).pointerEvents") == "auto"
    assert tab.evaluate("window.ARBIG.state.ws") == "open"  # the page never had to reconnect or reload
