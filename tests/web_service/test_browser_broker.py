"""Browser tests of the broker's truth on screen: the gateway pill in the header and the trade gate (trade
buttons disabled with the reason, live figures badged "not tradable" until the gateway is LOGGED_IN), every
account figure, both position prices with their PnLs, and broker refusals as notices and as the rejected
order's reason. The web service runs in-process; the core's side is seeded into real Redis and MySQL in the
core's shapes (tests/web_service/seed.py). Debian's Chromium via Playwright."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis

from common.contract import AccountState, GatewayState, Keys, SystemEvent, now_ms
from common.db import Database
from common.trading_calendar import CHINA_TZ
from tests.web_service import seed
from tests.web_service.conftest import WebServer

pytestmark = pytest.mark.browser

GATE = "网关未就绪：不可交易"
REASON = "ErrorID 31: CTP:资金不足"


def open_page(tab: Any, web: WebServer, path: str) -> None:
    tab.goto(web.base_url + path)
    tab.wait_for_function("() => window.ARBIG.state.ws === 'open' && !!window.ARBIG.state.status")


def wait_text(tab: Any, selector: str, text: str) -> None:
    tab.wait_for_function("([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
                          arg=[selector, text])


def seed_yesterday_long(r: redis.Redis, keys: Keys) -> None:
    """One lot LONG au2702 held since yesterday: paid 600, marked to yesterday's settlement 605; last 606."""
    seed.write_contracts(r, keys, ["au2702"], "au2702")
    seed.write_position(r, keys, seed.position("au2702", "LONG", 1, 600.0, yd_volume=1, td_volume=0, cost_price=605.0))
    seed.write_tick(r, keys, "au2702", 606.0)


def heartbeat(r: redis.Redis, keys: Keys, state: GatewayState, reason: str = "") -> None:
    seed.write_heartbeat(r, keys, ttl_s=300, state=state, reason=reason)


def button_gated(tab: Any, selector: str) -> list[Any]:
    """[disabled, title] of the first button matching `selector`."""
    return tab.evaluate("(sel) => { const b = document.querySelector(sel); return [b.disabled, b.title]; }", selector)


def wait_button(tab: Any, selector: str, disabled: bool) -> None:
    tab.wait_for_function("([sel, d]) => { const b = document.querySelector(sel); return !!b && b.disabled === d; }",
                          arg=[selector, disabled])


def test_gateway_pill_and_the_trade_gate(web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys) -> None:
    r = redis_client
    seed_yesterday_long(r, keys)
    seed.write_order(r, keys, seed.order("SIM.7", "NOTTRADED"))
    seed.write_strategy(r, keys, seed.strategy("au_ready", state="INITED"))
    seed.write_strategy(r, keys, seed.strategy("au_running", state="TRADING"))
    heartbeat(r, keys, GatewayState.SETTLING, "logged in; settlement confirmation pending")

    open_page(tab, web, "/positions")
    wait_text(tab, "#gw-state", "结算确认中")
    assert "warn" in tab.get_attribute("#gw-state", "class")
    assert "settlement confirmation pending" in tab.get_attribute("#gw-state", "title")
    tab.locator('tr[data-key="au2702.SHFE|LONG"] .close-btn').wait_for()
    tab.locator("#orders-body .cancel-btn").wait_for()
    for button in ('tr[data-key="au2702.SHFE|LONG"] .close-btn', "#orders-body .cancel-btn"):
        disabled, title = button_gated(tab, button)
        assert disabled and GATE in title and "结算确认中" in title, (button, title)
    assert tab.is_visible(".nt-badge") and GATE in tab.get_attribute(".nt-badge", "title")
    assert tab.is_enabled("#estop"), "the emergency stop is never gated by the gateway"
    assert tab.evaluate("getComputedStyle(document.querySelector('#estop')).pointerEvents") == "auto"
    tab.screenshot(path="/tmp/arbig_page_gateway_settling.png")

    heartbeat(r, keys, GatewayState.LOGGED_IN)
    wait_text(tab, "#gw-state", "就绪")
    assert "ok" in tab.get_attribute("#gw-state", "class")
    wait_button(tab, 'tr[data-key="au2702.SHFE|LONG"] .close-btn', False)
    for button in ('tr[data-key="au2702.SHFE|LONG"] .close-btn', "#orders-body .cancel-btn"):
        assert button_gated(tab, button) == [False, ""], button
    assert not tab.is_visible(".nt-badge")

    heartbeat(r, keys, GatewayState.LOGIN_TIMEOUT, "not logged in after 10 s: the front does not answer")
    wait_text(tab, "#gw-state", "登录超时")
    assert "bad" in tab.get_attribute("#gw-state", "class")
    assert "the front does not answer" in tab.get_attribute("#gw-state", "title")
    wait_button(tab, 'tr[data-key="au2702.SHFE|LONG"] .close-btn', True)
    assert "登录超时" in button_gated(tab, 'tr[data-key="au2702.SHFE|LONG"] .close-btn')[1]

    open_page(tab, web, "/strategy")  # starting a strategy is gated, stopping one never is
    tab.locator('section[data-name="au_running"] .s-stop').wait_for()
    wait_text(tab, "#gw-state", "登录超时")
    disabled, title = button_gated(tab, 'section[data-name="au_ready"] .s-start')
    assert disabled and GATE in title
    assert tab.is_enabled('section[data-name="au_running"] .s-stop')
    heartbeat(r, keys, GatewayState.LOGGED_IN)
    wait_button(tab, 'section[data-name="au_ready"] .s-start', False)
    assert button_gated(tab, 'section[data-name="au_ready"] .s-start') == [False, ""]
    assert tab.is_disabled('section[data-name="au_running"] .s-start'), "its own state still counts: already trading"


def money(v: float, signed: bool = False) -> str:
    return ("+" if signed and v > 0 else "") + f"{v:,.2f}"


def test_account_page_shows_every_broker_figure(web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys) -> None:
    r = redis_client
    seed_yesterday_long(r, keys)  # live position profit: (606 - 605) x 1 x 1000 = 1000
    heartbeat(r, keys, GatewayState.LOGGED_IN)
    stamped = now_ms() - 5_000
    account = AccountState(
        gateway="CTP", accountid="8001", balance=1_234_567.89, available=1_100_000.12, frozen=3_456.78,
        margin=98_765.43, frozen_margin=2_000.5, frozen_commission=256.03, frozen_cash=1_200.25, commission=321.09,
        realized_pnl=-4_321.5, unrealized_pnl=800.0, pre_balance=1_200_000.01, deposit=50_000.0, withdraw=10_000.0,
        withdraw_quota=900_000.77, trading_day="20270115", ts_ms=stamped,
    )
    seed.write_account(r, keys, account)
    static = 1_234_567.89 - 800.0
    expected = {
        "#a-static-balance": money(static), "#a-live-balance": money(static + 1000.0), "#a-balance": "1,234,567.89",
        "#a-available": "1,100,000.12", "#a-margin": "98,765.43", "#a-frozen-margin": "2,000.50",
        "#a-frozen-commission": "256.03", "#a-frozen-cash": "1,200.25", "#a-frozen": "3,456.78",
        "#a-commission": "321.09", "#a-realized": "-4,321.50", "#a-unrealized": "+800.00",
        "#a-live-unrealized": "+1,000.00", "#a-pre-balance": "1,200,000.01", "#a-deposit": "50,000.00",
        "#a-withdraw": "10,000.00", "#a-withdraw-quota": "900,000.77", "#a-day": "20270115",
    }
    open_page(tab, web, "/account")
    wait_text(tab, "#a-id", "CTP · 8001")
    shown = {sel: tab.inner_text(sel).strip() for sel in expected}
    assert shown == expected
    labels = tab.inner_text("#a-figures")
    for label in ("静态权益", "动态权益(实时)", "可用资金", "占用保证金", "冻结保证金", "冻结手续费", "冻结资金", "手续费",
                  "平仓盈亏", "持仓盈亏(网关)", "持仓盈亏(实时)", "上日结存", "入金", "出金", "可取资金", "交易日"):
        assert label in labels, label
    updated = tab.inner_text("#a-updated")
    assert datetime.fromtimestamp(stamped / 1000, tz=CHINA_TZ).strftime("%H:%M:%S") in updated
    age = re.search(r"（([\d.]+)s 前）", updated)
    assert age and 5.0 <= float(age.group(1)) < 60, updated
    assert not tab.is_visible(".nt-badge"), "the gateway is ready"
    tab.click("#lang-toggle")  # the same figures, labelled in English
    wait_text(tab, "#a-figures", "Static balance")
    assert "Withdrawable" in tab.inner_text("#a-figures") and tab.inner_text("#a-frozen-margin").strip() == "2,000.50"
    tab.click("#lang-toggle")
    tab.screenshot(path="/tmp/arbig_page_account_broker.png", full_page=True)


def test_positions_page_shows_both_prices_and_both_pnls(web: WebServer, tab: Any, redis_client: redis.Redis,
                                                      keys: Keys) -> None:
    r = redis_client
    seed_yesterday_long(r, keys)
    heartbeat(r, keys, GatewayState.LOGGED_IN)
    open_page(tab, web, "/positions")
    row = tab.locator('tr[data-key="au2702.SHFE|LONG"]')
    wait_text(tab, 'tr[data-key="au2702.SHFE|LONG"] .c-last', "606.00")
    cells = {name: row.locator(".c-" + name).inner_text().strip() for name in ("price", "pnl", "cost", "mtm", "last")}
    assert cells == {"price": "600.000", "pnl": "+6,000.00", "cost": "605.000", "mtm": "+1,000.00", "last": "606.00"}
    assert row.locator("td").nth(2).inner_text().strip() == "1"
    assert row.locator("td").nth(3).inner_text().strip() == "0 / 1"
    head = tab.inner_text("#positions thead")
    for label in ("开仓均价", "浮动盈亏(开仓)", "持仓成本(结算)", "盯市盈亏", "最新价", "保证金", "今/昨"):
        assert label in head, label


def notice_texts(tab: Any) -> list[str]:
    return tab.eval_on_selector_all("#notices .notice", "els => els.map(e => e.innerText)")


def test_broker_errors_show_as_notices_and_as_the_orders_reason(
    web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys, db: Database
) -> None:
    r = redis_client
    heartbeat(r, keys, GatewayState.LOGGED_IN)
    seed.write_order(r, keys, seed.order("SIM.8", "NOTTRADED", ts_ms=now_ms() - 60_000))
    open_page(tab, web, "/positions")
    wait_text(tab, "#orders-body", "SIM.8")

    base = now_ms()
    # neither an INFO event nor a broker error replayed at login (an old one) is a notice
    seed.write_system_event(r, keys, SystemEvent(kind="rollover", message="main contract au2702 -> au2706",
                                                 ts_ms=base - 3_000), db)
    seed.write_system_event(r, keys, seed.broker_error("order rejected au2702 CTP.0_0_1 [OnRtnOrder]: ErrorID 50: old",
                                                       vt_orderid="CTP.0_0_1", replayed=True, ts_ms=base - 2_500), db)
    seed.write_system_event(r, keys, SystemEvent(kind="order", level="ERROR", message="order SIM.9 refused: no margin rate",
                                                 detail={"vt_orderid": "SIM.9"}, ts_ms=base - 2_000), db)
    seed.write_order(r, keys, seed.order("CTP.1_2_3", "REJECTED", gateway="CTP", direction="LONG", offset="OPEN",
                                         reason=REASON, ts_ms=base - 1_000))
    seed.write_system_event(r, keys, seed.broker_error(ts_ms=base), db)

    tab.wait_for_function("() => document.querySelectorAll('#notices .notice').length >= 2")
    shown = notice_texts(tab)
    assert len(shown) == 2, shown
    assert "经纪商拒绝" in shown[0] and REASON in shown[0] and "CTP.1_2_3" in shown[0], "newest first"
    assert "SIM.9" in shown[1] and "no margin rate" in shown[1]
    rejected = tab.locator("#orders-body tr[data-id='CTP.1_2_3']")
    rejected.wait_for()
    assert rejected.locator(".o-reason").inner_text().strip() == REASON
    assert "REJECTED" in rejected.locator(".o-status").inner_text()
    assert tab.locator("#orders-body tr[data-id='SIM.8'] .o-reason").inner_text().strip() == ""
    order_ids = tab.eval_on_selector_all("#orders-body tr[data-id]", "els => els.map(e => e.dataset.id)")
    assert order_ids == ["CTP.1_2_3", "SIM.8"], "today's orders, newest first, rejected ones included"
    tab.check("#active-only")
    assert tab.eval_on_selector_all("#orders-body tr[data-id]", "els => els.map(e => e.dataset.id)") == ["SIM.8"]
    tab.screenshot(path="/tmp/arbig_page_broker_error.png", full_page=True)

    # a notice stays until dismissed, on every page; a dismissed one does not come back
    tab.locator("#notices .notice").first.locator(".notice-x").click()
    assert [t for t in notice_texts(tab) if REASON in t] == []
    open_page(tab, web, "/account")
    tab.wait_for_function("() => document.querySelectorAll('#notices .notice').length >= 1")
    shown = notice_texts(tab)
    assert len(shown) == 1 and "SIM.9" in shown[0], shown

    # live, with no MySQL row behind it, and at most five at a time (newest first)
    for i in range(6):
        seed.write_system_event(r, keys, seed.broker_error(f"cancel rejected au2702 CTP.1_2_{i} [OnRspOrderAction]:"
                                                           f" ErrorID 26: CTP:报单已全成交 #{i}", vt_orderid=f"CTP.1_2_{i}",
                                                           error_kind="order_action", ts_ms=now_ms() + i))
    wait_text(tab, "#notices .notice", "#5")
    tab.wait_for_function("() => (document.querySelector('.notice-tools')?.innerText || '').includes('另有 2 条')")
    shown = notice_texts(tab)
    assert len(shown) == 5 and "#5" in shown[0] and "#1" in shown[4], shown
    tab.click(".notice-all")
    assert notice_texts(tab) == [] and not tab.is_visible("#notices")


def test_a_ledger_mismatch_with_the_broker_is_a_warning_on_the_account_page(
        web: WebServer, tab: Any, redis_client: redis.Redis, keys: Keys, db: Database) -> None:
    """pnl_records (written by the core's writer) above one tick value apart: the account page warns."""
    heartbeat(redis_client, keys, GatewayState.LOGGED_IN)
    columns = ("gateway, accountid, trading_day, symbol, realized_pnl, realized_pnl_open, commission, closed_volume,"
               " trades, broker_realized_pnl, broker_commission, pnl_diff, commission_diff, verdict, note, computed_at")
    today = datetime.now(CHINA_TZ).date()
    earlier = today - timedelta(days=7)  # never today (replace(day=1) was today on the 1st)
    for day, ours, broker, verdict in ((today, 10_500, 9_500, "mismatch"), (earlier, 300, 300, "ok")):
        db.execute(f"INSERT INTO pnl_records ({columns}) VALUES (%s,%s,%s,'',%s,%s,%s,1,2,%s,%s,%s,0,%s,'',NOW(3))",
                   ("CTP", "8001", day, ours, ours, 20, broker, 20, ours - broker, verdict))
    open_page(tab, web, "/account")
    tab.click('#ranges button[data-range="all"]')
    # the first range's answer may still be on the page: wait for the "all" rows (both days), then read
    tab.locator(f"#ledger tr[data-day='{earlier:%Y-%m-%d}']").wait_for()
    tab.locator("#ledger-warn .msg.bad").wait_for()
    warning = tab.inner_text("#ledger-warn")
    assert today.strftime("%Y-%m-%d") in warning and "与柜台对账不一致" in warning
    row = tab.locator(f"#ledger tr[data-day='{today:%Y-%m-%d}']")
    assert "1,000.00" in row.inner_text() and "不一致" in row.inner_text()
    assert row.get_attribute("class") == "bad"
    assert tab.locator("#ledger tr").count() == 2 and tab.locator("#ledger tr.bad").count() == 1
