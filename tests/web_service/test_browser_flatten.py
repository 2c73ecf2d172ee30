"""Browser test of the emergency stop with "and close all positions" against the whole app on the simulated
gateway: two positions (au2702 LONG 2, au2704 SHORT 1) and a resting order; the stop cancels the order, the page
waits until no order is active, a second confirmation lists both closes (contract, direction, volume, MARKET),
`positions.flatten` sends exactly them and each close is followed to "filled" on screen; the account is flat.
A confirmation that no longer matches the positions is refused (translated) and offers to look again.
Chromium via Playwright; screenshots go to /tmp/arbig_flatten_*.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import eventually
from tests.web_service.orders_app import command, new_tab, running_app, wait_text
from tests.web_service.test_browser import App

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    lots = [("au2702", "LONG", 2, 600.0), ("au2704", "SHORT", 1, 601.0)]
    with running_app(tmp_path_factory.mktemp("flatten"), lots) as the_app:
        yield the_app


@pytest.fixture
def tab(browser: Any, app: App) -> Iterator[Any]:
    page = new_tab(browser, app, "/positions")
    yield page
    page.context.close()


def held(app: App) -> dict[tuple[str, str], float]:
    rows = [json.loads(v) for v in app.r.hgetall(app.keys.positions).values()]
    return {(p["vt_symbol"], p["direction"]): p["volume"] for p in rows if p["volume"] > 0}


def preview(tab: Any, symbol: str) -> dict[str, Any]:
    res = command(tab, "order.preview", {"vt_symbol": symbol, "direction": "LONG", "offset": "OPEN", "volume": 1,
                                         "price_type": "MARKET"})
    assert res["status"] == 200, res
    return res["body"]["result"]


def test_emergency_stop_then_close_all_positions_each_followed_to_filled(tab: Any, app: App) -> None:
    for key in ("au2702.SHFE|LONG", "au2704.SHFE|SHORT"):
        tab.locator(f"#pos-body tr[data-key='{key}']").wait_for()
    tick = eventually(lambda: preview(tab, "au2702.SHFE")["tick"], what="au2702 quotes")
    eventually(lambda: preview(tab, "au2704.SHFE")["tick"], what="the held au2704 is subscribed")
    resting = command(tab, "order.send", {"vt_symbol": "au2702.SHFE", "direction": "LONG", "offset": "OPEN",
                                          "volume": 1, "price_type": "LIMIT", "price": tick["limit_down"] + 0.02})
    assert resting["status"] == 200, resting
    order_id = resting["body"]["result"]["orders"][0]["vt_orderid"]
    tab.locator(f"#orders-body tr[data-id='{order_id}'][data-status='NOTTRADED']").wait_for()

    tab.click("#estop")
    assert tab.is_visible("#confirm #fl-close-all") and not tab.is_checked("#fl-close-all")
    assert "emergency.stop" in tab.inner_text("#confirm .summary")
    tab.check("#fl-close-all")
    tab.screenshot(path="/tmp/arbig_flatten_estop.png")
    tab.click("#confirm-ok")
    # the stop's answer, then (once the resting order is cancelled) the second confirmation
    tab.locator("#confirm[open] .fl-legs").wait_for()
    assert "平掉所有持仓" in tab.inner_text("#confirm h3")
    rows = tab.locator("#confirm .fl-legs tbody tr[data-key]")
    shown = [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]
    assert shown == [["au2702.SHFE", "多 LONG", "2", "市价 MARKET"], ["au2704.SHFE", "空 SHORT", "1", "市价 MARKET"]], shown
    assert tab.locator(f"#orders-body tr[data-id='{order_id}']").get_attribute("data-status") == "CANCELLED"
    assert [a["status"] for a in app.audited("emergency.stop")] == ["done"]
    assert app.audited("positions.flatten") == [], "nothing sent before the second confirmation"
    tab.screenshot(path="/tmp/arbig_flatten_confirm.png")

    tab.click("#confirm-ok")
    for i in range(2):
        tab.locator(f"#confirm .fl-out[data-i='{i}'] .msg.ok[data-outcome='filled']").wait_for(timeout=30_000)
    assert "全部成交 2/2" in tab.inner_text("#confirm .fl-out[data-i='0']")
    assert "全部成交 1/1" in tab.inner_text("#confirm .fl-out[data-i='1']")
    assert tab.locator("#toasts .toast[data-outcome='filled']").count() == 2
    tab.screenshot(path="/tmp/arbig_flatten_done.png")
    tab.click("#confirm-cancel")
    wait_text(tab, "#pos-body", "没有持仓")
    assert eventually(lambda: held(app) == {}, what="the account is flat")
    assert [a["status"] for a in app.audited("positions.flatten")] == ["done"]


def test_a_confirmation_that_no_longer_matches_is_refused_and_offers_a_new_look(tab: Any, app: App) -> None:
    eventually(lambda: preview(tab, "au2702.SHFE")["tick"], what="au2702 quotes")
    opened = command(tab, "order.send", {"vt_symbol": "au2702.SHFE", "direction": "LONG", "offset": "OPEN",
                                         "volume": 1, "price_type": "MARKET"})
    assert opened["status"] == 200, opened
    tab.locator("#pos-body tr[data-key='au2702.SHFE|LONG']").wait_for()
    tab.click("#estop")
    tab.check("#fl-close-all")
    tab.click("#confirm-ok")
    tab.locator("#confirm[open] .fl-legs").wait_for()
    assert tab.locator("#confirm .fl-legs tbody tr[data-key]").count() == 1
    more = command(tab, "order.send", {"vt_symbol": "au2702.SHFE", "direction": "SHORT", "offset": "OPEN",
                                       "volume": 1, "price_type": "MARKET"})  # the positions change meanwhile
    assert more["status"] == 200, more
    tab.locator("#pos-body tr[data-key='au2702.SHFE|SHORT']").wait_for(state="attached")
    tab.click("#confirm-ok")
    tab.locator("#confirm .outcome .msg.bad").wait_for()
    refused = tab.inner_text("#confirm .outcome")
    assert "被拒绝" in refused and "持仓已" in refused and "au2702.SHFE SHORT held 1, confirmed 0" in refused, refused
    tab.click("#confirm .fl-again")
    tab.wait_for_function("() => document.querySelectorAll('#confirm .fl-legs tbody tr[data-key]').length === 2")
    tab.click("#confirm-ok")
    for i in range(2):
        tab.locator(f"#confirm .fl-out[data-i='{i}'] .msg.ok[data-outcome='filled']").wait_for(timeout=30_000)
    assert eventually(lambda: held(app) == {}, what="the account is flat")
