"""A position left in a contract that is no longer the main one (the state after a rollover and a restart:
the config names au2704, the simulator's persisted account holds au2702) stays live on the positions page:
its last price moves, its PnL is live, and its close from the page ends filled. Chromium via Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web_service.orders_app import new_tab, running_app
from tests.web_service.test_browser import App

pytestmark = pytest.mark.browser
ROW = "#pos-body tr[data-key='au2702.SHFE|LONG']"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with running_app(tmp_path_factory.mktemp("held"), [("au2702", "LONG", 1, 600.0)], main="au2704") as the_app:
        yield the_app


def test_a_held_old_contract_has_a_live_price_and_closes_from_the_page(browser: Any, app: App) -> None:
    tab = new_tab(browser, app, "/positions")
    assert tab.evaluate("() => document.body.dataset.main") == "au2704"
    tab.locator(ROW).wait_for()
    tab.wait_for_function("(sel) => { const c = document.querySelector(sel + ' .c-last');"
                          " return c && /\\d/.test(c.innerText); }", arg=ROW)
    first = tab.inner_text(ROW + " .c-last")
    tab.wait_for_function("([sel, first]) => document.querySelector(sel + ' .c-last').innerText !== first",
                          arg=[ROW, first])  # the price moves: the held contract is subscribed
    assert tab.get_attribute(ROW + " .c-pnl", "title") in (None, ""), "the PnL is live, not the gateway's figure"
    tab.locator(ROW + " .close-btn").click()
    tab.locator("#confirm[open] #c-summary").wait_for()
    tab.click("#confirm-ok")
    tab.locator("#confirm .outcome .msg.ok[data-outcome='filled']").wait_for(timeout=30_000)
    tab.screenshot(path="/tmp/arbig_held_contract_closed.png")
    tab.click("#confirm-cancel")
    tab.locator(ROW).wait_for(state="detached", timeout=30_000)
    tab.context.close()
