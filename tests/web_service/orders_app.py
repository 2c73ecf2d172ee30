"""The whole app (core on the simulated gateway + web service, `python -m scripts.run_app`) for the browser
tests of the order ticket, the outcomes and flatten, with positions seeded into the simulator's persisted
account; and the page helpers those tests share (login, live WebSocket, commands sent from the page)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql
import pytest
import redis

from common.config import MysqlConfig
from common.contract import Keys
from common.db import Database, migrate
from common.trading_calendar import trading_day_str
from tests.conftest import MYSQL_HOST, MYSQL_PORT, REDIS_DB, REDIS_HOST, REDIS_PORT, unique
from tests.helpers import write_config
from tests.web_service.conftest import PASSWORD, free_port
from tests.web_service.test_browser import CHROMIUM, App
from web_service.passwords import OperatorStore

Lot = tuple[str, str, int, float]  # symbol, direction of the position, today's lots, open price


def seed_sim_positions(runtime: Path, lots: list[Lot]) -> None:
    """The simulator's persisted account holding `lots` (bought or sold today)."""
    positions = [{"symbol": symbol, "direction": direction, "td": volume, "yd": 0, "td_price": price,
                  "yd_open_price": 0.0, "yd_base": 0.0} for symbol, direction, volume, price in lots]
    state = {"version": 1, "counters": {"order": 0, "trade": 0}, "orders": [], "trades": [], "market": {},
             "ledger": {"pre_balance": 1_000_000.0, "trading_day": trading_day_str(datetime.now(UTC)),
                        "commission": 0.0, "realized_pnl": 0.0, "last_prices": {}, "positions": positions}}
    runtime.mkdir(parents=True, exist_ok=True)
    (runtime / "sim_state.json").write_text(json.dumps(state), encoding="utf-8")


@contextmanager
def running_app(tmp: Path, lots: list[Lot], strategies: list[dict[str, Any]] | None = None,
                main: str = "au2702") -> Iterator[App]:
    """run_app with its own database, Redis prefix, runtime folder and port; everything removed after."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian Chromium is not installed (apt-get install chromium)")
    mysql = MysqlConfig(host=MYSQL_HOST, port=MYSQL_PORT, user="root", database=unique("arbig_orders_"))
    prefix = unique("arbig_orders:") + ":"
    runtime, port = tmp / "runtime", free_port()
    config = {
        "market_data": {"main_contract": main, "contract_multiplier": 1000, "exchange": "SHFE"},
        "gateway": {"name": "sim", "login_timeout_s": 10, "sim": {"tick_interval_ms": 200, "seed": 11}},
        "redis": {"host": REDIS_HOST, "port": REDIS_PORT, "db": REDIS_DB, "key_prefix": prefix},
        "mysql": mysql.model_dump(),
        "core": {"runtime_dir": str(runtime), "command_ttl_s": 5, "config_poll_s": 0.2},
        "web": {"host": "127.0.0.1", "port": port, "stale_after_s": 10, "reconnect_max_attempts": 10,
                "command_timeout_s": 10},
        "strategies": strategies or [],
    }
    migrate(mysql)
    db = Database(mysql)
    OperatorStore(db).set_password(PASSWORD)
    seed_sim_positions(runtime, lots)
    r = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, decode_responses=True)
    app = App(f"http://127.0.0.1:{port}", write_config(tmp / "arbig.json", config), runtime, db, r, Keys(prefix))
    try:
        app.start()
        yield app
    finally:
        app.stop()
        db.close()
        conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{mysql.database}`")
        conn.close()
        for pattern in app.keys.all_patterns():
            found = list(r.scan_iter(match=pattern, count=1000))
            if found:
                r.delete(*found)


def new_tab(browser: Any, app: App, path: str = "/") -> Any:
    """A logged-in tab (its own context) on `path`, its WebSocket live and the status known."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.goto(app.base_url + "/login?next=" + path)
    tab.fill("#password", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(app.base_url + path)
    live(tab)
    return tab


def live(tab: Any) -> None:
    tab.wait_for_function("() => window.ARBIG && window.ARBIG.state.ws === 'open' && !!window.ARBIG.state.status"
                          " && !window.ARBIG.tradeBlock()")


def goto(tab: Any, app: App, path: str) -> None:
    tab.goto(app.base_url + path)
    live(tab)


def command(tab: Any, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Send a command from the page, as its own dialogs do (CSRF, a new id); returns {status, body}."""
    return tab.evaluate("async ([type, params]) => window.ARBIG.api('POST', '/api/commands',"
                        " { id: window.ARBIG.newCommandId(), type, params })", [kind, params])


def wait_text(tab: Any, selector: str, text: str, timeout: float = 20_000) -> None:
    tab.wait_for_function("([sel, text]) => [...document.querySelectorAll(sel)].some(e => e.innerText.includes(text))",
                          arg=[selector, text], timeout=timeout)
