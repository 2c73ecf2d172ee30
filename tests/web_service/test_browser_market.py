"""Browser test of the market page's candles and book: the 1-minute candle chart draws the bars of the
recorded ticks with their volume, a live tick continues them (a new minute = a new candle, its volume the
difference of the cumulative volume), the book shows five levels when the tick has them and one otherwise,
and the intraday line is one tab away. Also the API reference page and the pager's rows-per-page choice. The web service runs in-process; ticks are written to real Redis in
the contract's shape. Debian's Chromium via Playwright; screenshot /tmp/arbig_page_market_candles.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import redis

from common.contract import GatewayState, Keys, now_ms
from common.db import Database
from common.trading_calendar import CHINA_TZ
from tests.helpers import eventually
from tests.web_service import seed
from tests.web_service.conftest import WebServer, login_page
from tests.web_service.test_browser import SHOTS

pytestmark = pytest.mark.browser
SYMBOL = "au2702"
FIVE = {"bid_price_2": 599.9, "bid_volume_2": 4, "bid_price_3": 599.88, "bid_volume_3": 9, "bid_price_4": 599.86,
        "bid_volume_4": 2, "bid_price_5": 599.84, "bid_volume_5": 11, "ask_price_2": 600.1, "ask_volume_2": 6,
        "ask_price_3": 600.12, "ask_volume_3": 3, "ask_price_4": 600.14, "ask_volume_4": 8, "ask_price_5": 600.16,
        "ask_volume_5": 13}


@pytest.fixture
def tab(browser: Any, web: WebServer, redis_client: redis.Redis, keys: Keys) -> Iterator[Any]:
    seed.write_heartbeat(redis_client, keys, ttl_s=300, state=GatewayState.LOGGED_IN)
    context = browser.new_context(viewport={"width": 1440, "height": 1100}, locale="zh-CN")
    page = login_page(context, web.base_url, "/market")
    yield page
    context.close()


def write(r: redis.Redis, keys: Keys, at: int, price: float, volume: float, **extra: Any) -> None:
    r.xadd(keys.tick_stream(SYMBOL), seed.tick(SYMBOL, price, ts_ms=at, volume=volume, **extra).to_fields())


def candles(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => { const o = echarts.getInstanceByDom(document.querySelector('#m-candles')).getOption();
        return { ohlc: o.series[0].data, volume: o.series[1].data.map((d) => d.value), times: o.xAxis[0].data.map(Number) }; }""")


def visible_levels(page: Any, side: str) -> list[int]:
    return page.evaluate("(side) => [1, 2, 3, 4, 5].filter((n) => !document.querySelector(`#m-${side}-row-${n}`)"
                         ".classList.contains('hidden'))", side)


def test_candles_with_volume_continue_live_and_five_levels_show_when_the_tick_has_them(
    tab: Any, web: WebServer, redis_client: redis.Redis, keys: Keys
) -> None:
    now = now_ms()
    minute = now - now % 60_000
    first = minute - 5 * 60_000
    volume = 5_000.0
    for i in range(20):  # minutes M-5 .. M-1, a tick every 15 s, +3 lots each
        write(redis_client, keys, first + i * 15_000, round(600.0 + (i % 4) * 0.04 - (i // 4) * 0.1, 2), volume)
        volume += 3
    last_volume = volume - 3

    tab.reload()
    tab.wait_for_function("() => window.ARBIG.state.ws === 'open'")
    tab.wait_for_function("() => echarts.getInstanceByDom(document.querySelector('#m-candles'))"
                          ".getOption().series[0].data.length === 5")
    drawn = candles(tab)
    assert drawn["times"] == [first + k * 60_000 for k in range(5)]
    assert drawn["volume"] == [9, 12, 12, 12, 12], "the first tick has no base; then 4 ticks x 3 lots a minute"
    open0, close0, low0, high0 = drawn["ohlc"][0]
    assert (open0, close0, low0, high0) == (600.0, 600.12, 600.0, 600.12)
    assert tab.is_visible("#m-candles") and not tab.is_visible("#m-chart")
    assert visible_levels(tab, "bid") == [1] and visible_levels(tab, "ask") == [1], "a level-1 tick shows one level"

    def following() -> bool:
        reader = web.cache.tick_readers.get(SYMBOL)
        return reader is not None and reader.last_id != "$"

    eventually(following, what="the hub follows the tick stream")
    write(redis_client, keys, minute + 5_000, 600.02, last_volume + 7, **FIVE)  # a new minute, five levels
    tab.wait_for_function("() => echarts.getInstanceByDom(document.querySelector('#m-candles'))"
                          ".getOption().series[0].data.length === 6", timeout=20_000)
    drawn = candles(tab)
    assert drawn["times"][-1] == minute and drawn["volume"][-1] == 7 and drawn["ohlc"][-1] == [600.02] * 4
    tab.wait_for_function("() => !document.querySelector('#m-bid-row-5').classList.contains('hidden')")
    assert visible_levels(tab, "bid") == [1, 2, 3, 4, 5] and visible_levels(tab, "ask") == [1, 2, 3, 4, 5]
    assert tab.inner_text("#m-ask-5") == "600.16" and tab.inner_text("#m-bid-vol-5") == "11"
    assert tab.inner_text("#m-ask-row-3").split()[0] == "卖三"
    tab.screenshot(path=str(SHOTS / "arbig_page_market_candles.png"), full_page=True)

    write(redis_client, keys, minute + 6_000, 600.04, last_volume + 9)  # level 1 only again
    tab.wait_for_function("() => document.querySelector('#m-bid-row-2').classList.contains('hidden')")
    assert visible_levels(tab, "ask") == [1]
    tab.wait_for_function("() => { const o = echarts.getInstanceByDom(document.querySelector('#m-candles')).getOption();"
                          " return o.series[1].data[5].value === 9; }")

    tab.click("#m-tab-line")
    assert tab.is_visible("#m-chart") and not tab.is_visible("#m-candles")
    tab.click("#lang-toggle")
    assert tab.inner_text("#m-tab-candles") == "1-minute candles" and tab.inner_text("#m-ask-row-1").startswith("Ask 1")


def test_the_api_reference_renders_for_the_logged_in_operator(tab: Any, web: WebServer) -> None:
    tab.goto(web.base_url + "/docs")
    tab.wait_for_function("() => window.ARBIG.state.ws === 'open'")
    assert tab.inner_text(".api-docs h2 span[data-i18n=docs_title]") == "API 文档"
    tab.click("a[href='#get--api-bars']")
    assert tab.is_visible("#get--api-bars") and "1..1440" in tab.inner_text("#get--api-bars")
    tab.screenshot(path=str(SHOTS / "arbig_page_docs.png"))


def test_the_pagers_rows_per_page_choice_loads_20_and_is_remembered(tab: Any, web: WebServer, db: Database) -> None:
    """static/pager.js with a size select (templates/_pager.html's `sizes=True`): the chosen size reaches
    load(cursor, size), a change starts again at page 1, and the choice is kept for the next visit."""
    seed.insert_trades(db, seed.trade_rows(130, datetime(2027, 1, 11, 9, 30, tzinfo=CHINA_TZ)))
    tab.goto(web.base_url + "/trades")
    script = """async () => {
      const A = window.ARBIG, sel = document.createElement("select");
      sel.id = "zz-size";
      sel.innerHTML = "<option>20</option><option selected>50</option><option>100</option>";
      document.body.appendChild(sel);
      const els = { newer: document.createElement("button"), older: document.createElement("button"),
                    label: document.createElement("span"), size: sel };
      const sizes = [];
      window.__rows = [];
      window.__pager = A.Pager((cursor, size) => { sizes.push(size);
          return A.api("GET", "/api/trades?" + new URLSearchParams(cursor ? { page_size: size, cursor } : { page_size: size })); },
        (items) => { window.__rows.push(items.length); }, els);
      await window.__pager.reset();
      sel.value = "20"; sel.dispatchEvent(new Event("change"));
      return sizes;
    }"""
    assert tab.evaluate(script) == [50, 20]
    tab.wait_for_function("() => window.__rows.length === 2")
    assert tab.evaluate("window.__rows") == [50, 20]
    assert tab.evaluate("localStorage.getItem('arbig.pageSize.trades.zz-size')") == "20"
