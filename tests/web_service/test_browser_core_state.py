"""Browser test of the system page's core state (from the core's heartbeat: running, degraded with the
reason, stopping; in Chinese and English) and of the holiday-calendar warning (from /healthz). The web
service runs in-process; the heartbeat is seeded into real Redis in the core's shape. Debian's Chromium
via Playwright."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from common.clock import LIVE
from common.contract import GatewayState, Heartbeat, Keys
from common.lifecycle import ComponentState
from common.trading_calendar import calendar_coverage_warning
from tests.web_service import seed
from tests.web_service.conftest import WebServer

pytestmark = pytest.mark.browser


def beat(r: redis.Redis, keys: Keys, state: ComponentState, reason: str = "") -> None:
    seed.write_heartbeat(r, keys, state=GatewayState.LOGGED_IN, ttl_s=300)
    hb = Heartbeat.model_validate_json(r.get(keys.heartbeat) or "")
    r.set(keys.heartbeat, hb.model_copy(update={"state": state, "state_reason": reason}).to_json(), ex=300)


def shows(tab: Any, text: str) -> None:
    tab.wait_for_function("(text) => document.querySelector('#s-core-state').innerText === text", arg=text)


def test_the_system_page_shows_the_cores_state_and_the_calendar_warning(
    web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys
) -> None:
    tab.wait_for_function("() => window.ARBIG.state.ws === 'open' && !!window.ARBIG.state.status")
    beat(redis_client, keys, ComponentState.RUNNING)
    shows(tab, "正常运行")
    assert not tab.is_visible("#s-core-reason-row")
    reason = "MySQL unreachable, records spooled (2003: Can't connect)"
    beat(redis_client, keys, ComponentState.DEGRADED, reason)
    shows(tab, "降级运行")
    assert tab.inner_text("#s-core-reason") == reason and "warn" in tab.inner_html("#s-core-state")
    warning = calendar_coverage_warning(LIVE.now().date())
    if warning:
        tab.wait_for_selector("#calendar-warning:not(.hidden)")
        assert warning in tab.inner_text("#calendar-warning")
    else:
        assert not tab.is_visible("#calendar-warning")
    tab.screenshot(path="/tmp/arbig_page_system_degraded.png")
    tab.click("#lang-toggle")
    shows(tab, "Degraded")
    beat(redis_client, keys, ComponentState.STOPPING)
    shows(tab, "Stopping")
    assert not tab.is_visible("#s-core-reason-row")
