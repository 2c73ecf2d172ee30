"""Browser tests: Debian's Chromium driven by Playwright against the whole app, started as
`python -m scripts.run_app` (core on the simulated gateway + web service) with its own config,
database, Redis prefix, runtime folder and port.

The position to close is opened by seeding the simulator's persisted account (runtime
sim_state.json, the file the sim gateway itself saves and reloads): the core CLI has no "open"
verb. Real signals come from AuTickBreakoutStrategy trading on the sim's ticks; the trigger
list's paging and result-update paths are also checked with a row and events in the core's shapes. Screenshots go to /tmp/arbig_page_*.png.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pymysql
import pytest
import redis

from common.config import PROJECT_ROOT, MysqlConfig
from common.contract import Keys, TriggerRecord, now_ms
from common.db import Database, migrate
from common.trading_calendar import trading_day_str
from scripts import run_app
from tests.conftest import MYSQL_HOST, MYSQL_PORT, REDIS_DB, REDIS_HOST, REDIS_PORT, unique
from tests.helpers import eventually, write_config
from tests.web_service import seed
from tests.web_service.conftest import PASSWORD, free_port
from web_service.passwords import OperatorStore

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path("/tmp")


@dataclass
class App:
    base_url: str
    config_path: Path
    runtime: Path
    db: Database
    r: redis.Redis
    keys: Keys
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, ARBIG_CONFIG=str(self.config_path), PYTHONPATH=str(PROJECT_ROOT))
        log = open(self.runtime / "run_app.log", "ab")  # noqa: SIM115 - kept open for the child
        self.proc = subprocess.Popen([sys.executable, "-m", "scripts.run_app"], cwd=str(PROJECT_ROOT), env=env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        eventually(self._up, timeout=60, interval=0.2, what="run_app serving with a core heartbeat")

    def _up(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, f"run_app exited; see {self.runtime}/run_app.log"
        try:
            ok = httpx.get(self.base_url + "/login", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
        return ok and bool(self.r.exists(self.keys.heartbeat))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def web_pid(self) -> int:
        """The web service child of run_app (found through /proc)."""
        assert self.proc is not None
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and b"web_service" in cmdline:
                return int(stat.parent.name)
        raise AssertionError("run_app has no web_service child")

    @staticmethod
    def uptime_s(pid: int) -> float:
        started_ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot_uptime = float(Path("/proc/uptime").read_text().split()[0])
        return boot_uptime - started_ticks / os.sysconf("SC_CLK_TCK")

    def core_pid(self) -> int:
        return json.loads(self.r.get(self.keys.heartbeat))["pid"]

    def audited(self, command_type: str) -> list[dict[str, Any]]:
        return self.db.query("SELECT command_id, status FROM command_audit WHERE type = %s", (command_type,))


def seed_sim_position(runtime: Path, volume: int, price: float) -> None:
    """The simulator's persisted account with one open LONG position in au2702 (bought today)."""
    state = {"version": 1, "counters": {"order": 0, "trade": 0}, "orders": [], "trades": [], "market": {},
             "ledger": {"pre_balance": 1_000_000.0, "trading_day": trading_day_str(datetime.now(UTC)),
                        "commission": 0.0, "realized_pnl": 0.0, "last_prices": {},
                        "positions": [{"symbol": "au2702", "direction": "LONG", "td": volume, "yd": 0,
                                       "td_price": price, "yd_open_price": 0.0, "yd_base": 0.0}]}}
    runtime.mkdir(parents=True, exist_ok=True)
    (runtime / "sim_state.json").write_text(json.dumps(state), encoding="utf-8")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian Chromium is not installed (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("browser")
    mysql = MysqlConfig(host=MYSQL_HOST, port=MYSQL_PORT, user="root", database=unique("arbig_browser_"))
    prefix = unique("arbig_browser:") + ":"
    runtime, port = tmp / "runtime", free_port()
    config = {
        "market_data": {"main_contract": "au2702", "contract_multiplier": 1000, "exchange": "SHFE"},
        "gateway": {"name": "sim", "login_timeout_s": 10, "sim": {"tick_interval_ms": 200, "seed": 11}},
        "redis": {"host": REDIS_HOST, "port": REDIS_PORT, "db": REDIS_DB, "key_prefix": prefix},
        "mysql": mysql.model_dump(),
        "core": {"runtime_dir": str(runtime), "command_ttl_s": 5, "config_poll_s": 0.2},
        "web": {"host": "127.0.0.1", "port": port, "stale_after_s": 10, "reconnect_max_attempts": 10},
        "strategies": [{"name": "au_dual_ma", "class_name": "AuDualMaStrategy",
                        "setting": {"fast_window": 5, "slow_window": 20, "fixed_size": 1}},
                       {"name": "au_tick", "class_name": "AuTickBreakoutStrategy", "setting": {"window_ticks": 3}}],
    }
    migrate(mysql)
    db = Database(mysql)
    OperatorStore(db).set_password(PASSWORD)
    seed_sim_position(runtime, volume=2, price=600.0)
    r = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, decode_responses=True)
    the_app = App(f"http://127.0.0.1:{port}", write_config(tmp / "arbig.json", config), runtime, db, r, Keys(prefix))
    the_app.start()
    yield the_app
    the_app.stop()
    db.close()
    conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{mysql.database}`")
    conn.close()
    for pattern in the_app.keys.all_patterns():
        found = list(r.scan_iter(match=pattern, count=1000))
        if found:
            r.delete(*found)


@pytest.fixture(scope="module")
def browser(app: App) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def login(page: Any, app: App, path: str = "/") -> None:
    page.goto(app.base_url + "/login?next=" + path)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(app.base_url + path)


@pytest.fixture
def page(browser: Any, app: App) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    login(tab, app)
    yield tab
    context.close()


def ws_live(page: Any) -> None:
    page.wait_for_function("() => window.ARBIG && window.ARBIG.state.ws === 'open'", timeout=15_000)


# ---------------------------------------------------------------- tests


def test_login_is_required(browser: Any, app: App) -> None:
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(app.base_url + "/positions")
    assert "/login" in tab.url
    tab.fill("#password", "not the password")
    tab.click("button[type=submit]")
    tab.wait_for_function("() => (document.querySelector('#login-error')?.innerText || '').startsWith('密码错误')")
    tab.fill("#password", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(app.base_url + "/positions")
    context.close()


PAGE_CHECKS = {
    "system": ("/", "#s-gw-state", "LOGGED_IN"),
    "market": ("/market", "#m-last", "."),
    "positions": ("/positions", "#pos-body", "au2702.SHFE"),
    "account": ("/account", "#a-balance", ","),
    "strategy": ("/strategy", "#strategies", "au_dual_ma"),
    "trades": ("/trades", "#t-page", "1"),
}


@pytest.mark.parametrize("name", list(PAGE_CHECKS))
def test_each_page_renders_live_data(page: Any, app: App, name: str) -> None:
    path, selector, expected = PAGE_CHECKS[name]
    page.goto(app.base_url + path)
    ws_live(page)
    page.wait_for_function("([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
                           arg=[selector, expected])
    # the status snapshot may land after the page's own data: wait for it rather than read it once
    page.wait_for_function("() => ['核心运行', 'Core up'].includes(document.querySelector('#core-state').innerText.trim())")
    assert "Asia/Shanghai" in page.inner_text(".tz")
    assert page.is_visible("#estop")
    page.wait_for_timeout(800)  # let the charts draw
    page.screenshot(path=str(SHOTS / f"arbig_page_{name}.png"), full_page=True)


def test_market_price_moves_without_reload(page: Any, app: App) -> None:
    page.goto(app.base_url + "/market")
    ws_live(page)
    page.wait_for_function("() => /\\d/.test(document.querySelector('#m-last').innerText)")
    page.evaluate("window.__not_reloaded = true")
    first = page.inner_text("#m-time")
    page.wait_for_function("(t) => document.querySelector('#m-time').innerText !== t", arg=first)
    assert page.evaluate("window.__not_reloaded") is True
    points = page.evaluate("echarts.getInstanceByDom(document.querySelector('#m-chart')).getOption().series[0].data.length")
    assert points > 1


def test_close_position_cancel_then_confirm(page: Any, app: App) -> None:
    page.goto(app.base_url + "/positions")
    ws_live(page)
    row = page.locator('tr[data-key="au2702.SHFE|LONG"]')
    row.wait_for()
    assert row.locator("td").nth(2).inner_text().strip() == "2"
    row.locator(".close-btn").click()
    summary = page.inner_text("#c-summary")
    for shown in ("position.close", "au2702.SHFE", "LONG", "2", "MARKET"):
        assert shown in summary
    page.click("#confirm-cancel")
    assert not page.is_visible("#confirm")
    page.wait_for_timeout(1000)
    assert row.locator("td").nth(2).inner_text().strip() == "2", "cancel changed nothing"
    assert app.audited("position.close") == []

    row.locator(".close-btn").click()
    page.screenshot(path=str(SHOTS / "arbig_dialog_close.png"))
    page.click("#confirm-ok")
    assert page.evaluate("""() => { const b = document.querySelector('tr[data-key="au2702.SHFE|LONG"] .close-btn');
                                    return !b || b.disabled; }"""), "the row's button is disabled once confirmed"
    outcome = page.locator("#confirm .outcome .msg.ok")
    outcome.wait_for()
    page.click("#confirm-cancel")
    row.wait_for(state="detached", timeout=20_000)
    assert "au2702.SHFE LONG" in page.inner_text("#pos-result")
    assert [a["status"] for a in app.audited("position.close")] == ["done"], "sent exactly once"

    page.goto(app.base_url + "/trades")
    page.wait_for_function("() => document.querySelector('#trades').innerText.includes('au2702')")
    first_row = page.inner_text("#trades tr:first-child")
    assert "SHORT" in first_row and "CLOSE" in first_row
    page.screenshot(path=str(SHOTS / "arbig_page_trades_after_close.png"))


def test_system_page_shows_the_operator_audit_live(page: Any, app: App) -> None:
    page.goto(app.base_url + "/")
    ws_live(page)
    page.wait_for_function("() => document.querySelector('#audit').innerText.includes('position.close')")
    closes = app.audited("position.close")
    row = page.locator(f'#audit tr:has-text("{closes[0]["command_id"]}")')
    assert "done" in row.inner_text() and "LONG" in row.inner_text()
    # a command sent now (from the CLI, as an operator would) appears without a reload
    subprocess.run([sys.executable, "-m", "core_service.cli", "strategy-stop", "no_such_strategy"], cwd=str(PROJECT_ROOT),
                   env=dict(os.environ, ARBIG_CONFIG=str(app.config_path), PYTHONPATH=str(PROJECT_ROOT)),
                   capture_output=True, timeout=30)
    page.wait_for_function("() => [...document.querySelectorAll('#audit tr')].some("
                           "tr => tr.innerText.includes('strategy.stop') && tr.innerText.includes('refused'))")
    page.screenshot(path=str(SHOTS / "arbig_page_system_audit.png"), full_page=True)


def _strategy_step(page: Any, button: str, state: str, name: str = "au_dual_ma") -> None:
    card = page.locator(f'section[data-name="{name}"]')
    card.locator(button).click()
    page.click("#confirm-ok")
    page.locator("#confirm .outcome .msg.ok").wait_for(timeout=20_000)
    page.click("#confirm-cancel")
    card.locator(f".badge.{state}").wait_for(timeout=30_000)


def test_strategy_init_start_stop_and_triggers(page: Any, app: App) -> None:
    page.goto(app.base_url + "/strategy")
    ws_live(page)
    page.locator('section[data-name="au_dual_ma"]').wait_for()
    _strategy_step(page, ".s-init", "INITED")
    _strategy_step(page, ".s-start", "TRADING")
    _strategy_step(page, ".s-stop", "STOPPED")
    assert [a["status"] for a in app.audited("strategy.init")] == ["done"]
    # A real signal needs 20+ one-minute bars: write one trigger row and one trigger event as the core does.
    seed.insert_trigger(app.db, "au_dual_ma", datetime.now(UTC), action="buy")
    page.reload()
    page.wait_for_function("() => document.querySelector('#triggers').innerText.includes('fast_ma crossed above')")
    ws_live(page)
    record = TriggerRecord(ts_ms=now_ms(), trading_day=trading_day_str(datetime.now(UTC)), strategy="au_dual_ma",
                           vt_symbol="au2702.SHFE", condition="live signal from the events stream", price=600.1,
                           volume=1, action="short", result="pending")
    seed.publish(app.r, app.keys, "trigger", record.model_dump())
    page.wait_for_function("() => document.querySelector('#triggers tr').innerText.includes('live signal')")
    seed.publish(app.r, app.keys, "trigger", {"uid": record.uid, "result": "failed", "error": "refused", "update": True})
    page.wait_for_function("() => document.querySelector('#triggers tr').innerText.includes('failed: refused')")


def test_a_running_strategys_real_signals_appear_live(page: Any, app: App) -> None:
    page.goto(app.base_url + "/strategy")
    ws_live(page)
    page.locator('section[data-name="au_tick"]').wait_for()
    _strategy_step(page, ".s-init", "INITED", name="au_tick")
    _strategy_step(page, ".s-start", "TRADING", name="au_tick")
    try:  # the sim's ticks soon break a 3-tick range: the signal is pushed live, then its fill
        page.wait_for_function("() => [...document.querySelectorAll('#triggers tr')].some("
                               "tr => tr.innerText.includes('au_tick') && tr.innerText.includes('broke'))",
                               timeout=30_000)
        page.wait_for_function("() => [...document.querySelectorAll('#triggers tr')].some("
                               "tr => tr.innerText.includes('au_tick') && tr.innerText.includes('success'))",
                               timeout=30_000)
    finally:
        _strategy_step(page, ".s-stop", "STOPPED", name="au_tick")
    rows = app.db.query("SELECT result FROM strategy_triggers WHERE strategy='au_tick'")
    assert rows and any(r["result"] == "success" for r in rows)


def test_account_performance_panel_agrees_with_the_trade_records(page: Any, app: App) -> None:
    page.goto(app.base_url + "/account")
    ws_live(page)
    page.click('#ranges button[data-range="all"]')
    page.locator('#perf[data-range="all"]').wait_for()
    report = page.evaluate("async () => (await fetch('/api/performance?range=all')).json()")
    recorded = app.db.query("SELECT COUNT(*) AS n FROM trades")[0]["n"]
    assert report["fills_considered"] == recorded > 0, "the earlier tests traded: the report reads every fill"
    shown = page.inner_text("#p-closed")
    assert shown.split(" ")[0] == str(report["trades"]["closed_trades"])
    assert page.locator("#p-by tr").count() == len(report["by_strategy"])
    if report["unmatched_close_volume"]:  # the close test closed a seeded position: no recorded opening
        assert page.is_visible("#p-notes .msg.warn")
    page.wait_for_timeout(800)  # let the chart draw
    page.screenshot(path=str(SHOTS / "arbig_page_account_performance.png"), full_page=True)


class _EvilPage(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = (f"<form id=f method=post enctype=text/plain action='{self.target}/api/commands'>"
                "<input name='{\"id\":\"evilevil00000001\",\"type\":\"emergency.stop\",\"params\":{},\"x\":\"' value='\"}'>"
                "</form><script>document.getElementById('f').submit()</script>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_cross_origin_post_is_refused(page: Any, app: App) -> None:
    _EvilPage.target = app.base_url
    evil = ThreadingHTTPServer(("127.0.0.1", free_port()), _EvilPage)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        page.wait_for_url(app.base_url + "/api/commands")
        assert "cross-origin request refused" in page.inner_text("body")
    finally:
        evil.shutdown()
    time.sleep(0.5)
    assert app.audited("emergency.stop") == [] and app.r.llen(app.keys.commands) == 0


def test_page_reconnects_after_the_web_service_restarts(page: Any, app: App) -> None:
    page.goto(app.base_url + "/market")
    ws_live(page)
    core_pid, web_pid = app.core_pid(), app.web_pid()
    # run_app restarts a web service that had been up WEB_MIN_UPTIME_S (a sooner exit is a failed start)
    time.sleep(max(0.0, run_app.WEB_MIN_UPTIME_S + 0.5 - app.uptime_s(web_pid)))
    os.kill(web_pid, signal.SIGKILL)  # the web service crashes; run_app starts it again, the core trades on
    page.wait_for_function("() => window.ARBIG.state.ws !== 'open'", timeout=15_000)
    page.wait_for_function("() => window.ARBIG.state.ws === 'open'", timeout=45_000)
    before = page.inner_text("#m-time")
    page.wait_for_function("(t) => document.querySelector('#m-time').innerText !== t", arg=before, timeout=15_000)
    assert app.web_pid() != web_pid, "a new web service process"
    assert app.core_pid() == core_pid, "the core was not restarted"
    assert app.proc is not None and app.proc.poll() is None


def test_page_reconnects_after_the_app_restarts(page: Any, app: App) -> None:
    page.goto(app.base_url + "/market")
    ws_live(page)
    app.stop()
    page.wait_for_function("() => window.ARBIG.state.ws !== 'open'", timeout=15_000)
    assert page.is_visible("#stale-badge")
    app.start()
    page.wait_for_function("() => window.ARBIG.state.ws === 'open'", timeout=45_000)
    before = page.inner_text("#m-time")
    page.wait_for_function("(t) => document.querySelector('#m-time').innerText !== t", arg=before, timeout=15_000)
    page.wait_for_function("() => document.querySelector('#stale-badge').classList.contains('hidden')")


def test_page_gives_up_after_the_configured_attempts(page: Any, app: App) -> None:
    page.goto(app.base_url + "/market")
    ws_live(page)
    page.evaluate("() => { document.body.dataset.reconnectMax = '2'; }")  # config: web.reconnect_max_attempts
    app.stop()
    try:
        page.wait_for_function("() => window.ARBIG.state.gaveUp === true", timeout=20_000)  # after 1 s + 2 s
        assert page.evaluate("() => window.ARBIG.state.attempt") == 2
        banner = page.evaluate("() => window.ARBIG.t('banner_gave_up')")
        assert banner and page.is_visible(f"text={banner}")
    finally:
        app.start()
