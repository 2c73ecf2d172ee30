"""Browser test of the strategy page's trigger statistics: the table per strategy and trading day and the chart
(stacked result bars per day, fill ratio and slippage lines) show the figures worked out by hand in
test_trigger_stats; a new trigger pushed as the core does it is counted without a reload; English on switch.
The web service runs in-process; triggers, orders and trades are seeded into the throwaway MariaDB database in
the core's shapes. Debian's Chromium via Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import redis

from common.contract import GatewayState, Keys, TriggerRecord, now_ms
from common.db import Database
from common.trading_calendar import CHINA_TZ
from tests.web_service import seed
from tests.web_service.conftest import PASSWORD, WebServer
from tests.web_service.test_browser import SHOTS
from tests.web_service.test_trigger_stats import insert_trigger, seed_scenario

pytestmark = pytest.mark.browser


@pytest.fixture
def tab(browser: Any, web: WebServer, redis_client: redis.Redis, keys: Keys) -> Iterator[Any]:
    seed.write_heartbeat(redis_client, keys, ttl_s=300, state=GatewayState.LOGGED_IN)
    seed.write_strategy(redis_client, keys, seed.strategy("ma", "TRADING"), event=False)
    seed.write_strategy(redis_client, keys, seed.strategy("brk", "INITED"), event=False)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(web.base_url + "/login?next=/strategy")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(web.base_url + "/strategy")
    page.wait_for_function("() => window.ARBIG.state.ws === 'open' && !!window.ARBIG.state.status")
    yield page
    context.close()
    assert not errors, errors


def row_cells(page: Any, strategy: str, day: str) -> list[str]:
    row = page.locator(f"#tst-body tr[data-strategy='{strategy}'][data-day='{day}']")
    row.wait_for()
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def wait_cell(page: Any, strategy: str, day: str, index: int, text: str) -> None:
    page.wait_for_function(
        """([s, d, i, text]) => {
             const tr = document.querySelector(`#tst-body tr[data-strategy='${s}'][data-day='${d}']`);
             return !!tr && tr.cells[i].innerText.trim() === text; }""",
        arg=[strategy, day, index, text],
    )


CHART_DATA = """() => {
  const chart = echarts.getInstanceByDom(document.querySelector('#tst-chart'));
  if (!chart) return null;
  const o = chart.getOption();
  const canvas = document.querySelector('#tst-chart canvas');
  return { days: o.xAxis[0].data, series: o.series.map((s) => [s.name, s.type, s.data]),
           canvas: canvas ? [canvas.width, canvas.height] : null };
}"""


def test_trigger_statistics_table_and_chart(tab: Any, web: WebServer, db: Database, redis_client: redis.Redis,
                                            keys: Keys) -> None:
    s = seed_scenario(db)
    today, yesterday = s.today.isoformat(), s.yesterday.isoformat()
    tab.reload()
    tab.wait_for_function("() => window.ARBIG.state.ws === 'open'")
    assert tab.locator("#trigger-stats h2").inner_text().startswith("触发统计")

    # day, strategy, signals, buy, sell, short, cover, other, success, failed, pending, refused, pos sync,
    # fill ratio, slippage, unlinked
    cells = row_cells(tab, "ma", today)
    assert cells[:13] == [today, "ma", "7", "2", "2", "1", "2", "0", "4", "1", "1", "1", "1"], cells
    assert cells[13] == "66.7% 6/9" and cells[14] == "+0.0275 / +1.38 跳" and cells[15] == "0", cells
    assert "bad" in tab.locator(f"#tst-body tr[data-strategy='ma'][data-day='{today}'] td.tst-slip").get_attribute("class")
    brk = row_cells(tab, "brk", today)
    assert brk[2:8] == ["2", "1", "0", "1", "0", "0"], brk
    assert brk[2] == "2" and brk[13] == "100.0% 1/1" and brk[14] == "+0.1000 / +2.00 跳" and brk[15] == "1", brk
    assert row_cells(tab, "ma", yesterday)[13:15] == ["100.0% 1/1", "+0.1000 / +5.00 跳"]
    assert tab.locator("#tst-body tr").count() == 4  # and the older day's refused signal (7 trading days)
    total = [c.strip() for c in tab.locator("#tst-foot tr[data-strategy='ma'] td").all_inner_texts()]
    assert total[0].startswith("合计") and total[2] == "9" and total[13] == "70.0% 7/10", total

    chart = tab.evaluate(CHART_DATA)
    assert chart and chart["canvas"] and chart["canvas"][0] > 0 and chart["canvas"][1] > 0, chart
    assert len(chart["days"]) == 7 and chart["days"][-2:] == [yesterday, today], chart  # every trading day
    series = {name: (kind, data) for name, kind, data in chart["series"]}
    assert series["成功"] == ("bar", [*([0] * (len(chart["days"]) - 2)), 1, 5]), series
    assert series["被拒"][1][-1] == 1 and series["进行中"][1][-1] == 2
    assert series["成交率"][0] == "line" and series["成交率"][1][-1] == 70.0
    assert series["滑点(跳)"][1][-1] == pytest.approx((3 + 2 - 1 + 1.5 + 2) / 5, abs=0.01)
    tab.locator("#trigger-stats").screenshot(path=str(SHOTS / "arbig_trigger_stats.png"))

    # a new signal pushed as the core does it (row written, event published): counted without a reload
    tab.evaluate("window.__not_reloaded = true")
    record = TriggerRecord(ts_ms=now_ms(), trading_day=s.today.strftime("%Y%m%d"), strategy="ma",
                           vt_symbol="au2702.SHFE", condition="x", price=600.0, volume=1, action="sell",
                           result="failed", error="close of 1 refused: only 0 LONG closable")
    insert_trigger(db, "ma", s.today, "sell", "failed", 600.0, 1, "", record.error, ts=datetime.now(CHINA_TZ))
    seed.publish(redis_client, keys, "trigger", record.model_dump())
    wait_cell(tab, "ma", today, 2, "8")
    wait_cell(tab, "ma", today, 11, "2")
    assert tab.evaluate("window.__not_reloaded") is True

    # one strategy only, then English
    tab.select_option("#tst-strategy", "brk")
    tab.wait_for_function("() => document.querySelectorAll('#tst-body tr[data-strategy=\"ma\"]').length === 0")
    assert row_cells(tab, "brk", today)[2] == "2"
    tab.click("#lang-toggle")
    tab.wait_for_function("() => document.querySelector('#trigger-stats h2').innerText.startsWith('Trigger statistics')")
    assert row_cells(tab, "brk", today)[14].endswith("ticks")
    assert tab.evaluate(CHART_DATA)["series"][0][0] == "Success"
