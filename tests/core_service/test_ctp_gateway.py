"""ArbigCtpGateway against the real CTP library and real vnpy engines, with fake fronts on local ports.

No CTP broker is reachable here, so the fronts are a port where nothing listens and a TCP server
that drops every connection. Login results are injected through the API's own callback entry points.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

if not (Path.cwd() / ".vntrader").exists() and "vnpy" not in sys.modules:
    # Normally tests/conftest.py has already given vnpy a throwaway home; never fall back to ~/.vntrader.
    _home = Path(tempfile.mkdtemp(prefix="arbig-test-vnpy-"))
    (_home / ".vntrader").mkdir()
    os.chdir(_home)

from vnpy.event import Event, EventEngine  # noqa: E402
from vnpy.trader.constant import Exchange, Product  # noqa: E402
from vnpy.trader.engine import MainEngine  # noqa: E402
from vnpy.trader.event import EVENT_TICK, EVENT_TRADE  # noqa: E402
from vnpy.trader.object import ContractData, TickData, TradeData  # noqa: E402
from vnpy_ctp.gateway.ctp_gateway import symbol_contract_map  # noqa: E402

from common.clock import TestClock  # noqa: E402
from common.contract import GatewayState, GatewayStatus  # noqa: E402
from common.trading_calendar import CHINA_TZ  # noqa: E402
from core_service.ctp_errors import RetryPolicy  # noqa: E402
from core_service.ctp_gateway import (  # noqa: E402
    ArbigCtpGateway,
    connect_with_watchdog,
    tick_rejection,
)
from core_service.gateway_status import GatewayStatusTracker  # noqa: E402
from tests.core_service.ctp_fronts import DroppingFront, free_port, os_threads  # noqa: E402
from tests.core_service.test_ctp_settings import make_setting  # noqa: E402
from tests.helpers import eventually  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
S = GatewayState




class Recorder:
    """A tracker listener keeping every status it was shown."""

    def __init__(self) -> None:
        self.seen: list[GatewayStatus] = []

    def __call__(self, new: GatewayStatus, old: GatewayStatus) -> None:
        self.seen.append(new)

    def states(self) -> list[GatewayState]:
        return [s.state for s in self.seen]


def close_timed(main_engine: MainEngine) -> float:
    start = time.monotonic()
    main_engine.close()
    return time.monotonic() - start


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[MainEngine]:
    """A real MainEngine; always closed (vnpy's threads are not daemons)."""
    monkeypatch.chdir(Path.cwd())  # MainEngine chdirs to TRADER_DIR: restore the cwd afterwards
    main_engine = MainEngine(EventEngine())
    yield main_engine
    main_engine.close()  # a second close is harmless: the gateway releases its APIs only once


@pytest.fixture
def gateway(engine: MainEngine) -> tuple[ArbigCtpGateway, GatewayStatusTracker, Recorder]:
    recorder = Recorder()
    tracker = GatewayStatusTracker("ctp", recorder)
    gw = engine.add_gateway(ArbigCtpGateway)
    assert isinstance(gw, ArbigCtpGateway) and gw.gateway_name == "CTP"
    return gw, tracker, recorder


def assert_closed_cleanly(
    engine: MainEngine, gw: ArbigCtpGateway, tracker: GatewayStatusTracker, baseline_threads: int
) -> float:
    elapsed = close_timed(engine)
    assert elapsed < 5.0, f"close took {elapsed:.2f} s"
    assert gw.closed and not gw.td_api.connect_status and not gw.md_api.connect_status
    assert tracker.current.state == S.STOPPED and tracker.current.md_state == S.STOPPED
    # CTP's native threads (not visible to `threading`) are gone: the C++ APIs were released.
    eventually(lambda: os_threads() <= baseline_threads, timeout=3, what="CTP threads to end")
    return elapsed


# ---------------------------------------------------------------- (a) nothing listens


def test_unreachable_front_times_out_without_any_callback(engine, gateway) -> None:
    gw, tracker, recorder = gateway
    baseline = os_threads()
    address = f"127.0.0.1:{free_port()}"

    connect_with_watchdog(gw, make_setting(address, address), tracker, timeout_s=2.0)
    assert tracker.current.state == S.CONNECTING
    assert os_threads() > baseline  # the CTP library runs its own threads now

    status = eventually(lambda: tracker.current.state == S.LOGIN_TIMEOUT and tracker.current, timeout=5)
    assert status.reason.startswith("not logged in after 2 s (last state connecting")
    # The library reported nothing at all: no connect, no disconnect, on either front.
    assert recorder.states() == [S.CONNECTING, S.CONNECTING, S.LOGIN_TIMEOUT]
    assert status.md_state == S.CONNECTING
    assert not gw.td_api.login_status and not gw.td_api.login_failed

    # The process is still fine: vnpy's event engine dispatches.
    got: list[str] = []
    engine.event_engine.register("arbig.test", lambda event: got.append(event.data))
    engine.event_engine.put(Event("arbig.test", "ping"))
    eventually(lambda: got == ["ping"], timeout=2)

    elapsed = assert_closed_cleanly(engine, gw, tracker, baseline)
    print(f"\n(a) unreachable front: close took {elapsed:.3f} s")


# ---------------------------------------------------------------- (b) front drops every connection


def test_dropping_front_reports_disconnect_code_and_reconnects(engine, gateway) -> None:
    gw, tracker, recorder = gateway
    with DroppingFront() as td_front, DroppingFront() as md_front:
        baseline = os_threads()
        start = time.monotonic()
        connect_with_watchdog(gw, make_setting(td_front.address, md_front.address), tracker, timeout_s=2.0)

        status = eventually(lambda: tracker.current.state == S.DISCONNECTED and tracker.current, timeout=5)
        # What CTP really reports: reason 4097 = 0x1001, never an OnFrontConnected first.
        assert status.reason == "0x1001 network read failed"
        eventually(lambda: tracker.current.md_reason == "0x1001 network read failed", timeout=5)
        assert S.CONNECTED not in recorder.states()

        status = eventually(lambda: tracker.current.state == S.LOGIN_TIMEOUT and tracker.current, timeout=5)
        assert (
            "not logged in after 2 s (last state disconnected: 0x1001 network read failed)" in status.reason
        )

        # CTP reconnects by itself; count the attempts each front saw.
        eventually(lambda: len(td_front.accepted) >= 4 and len(md_front.accepted) >= 4, timeout=10)
        window = time.monotonic() - start
        gaps = [b - a for a, b in zip(td_front.accepted, td_front.accepted[1:], strict=False)]
        print(
            f"\n(b) {window:.1f} s: td front saw {len(td_front.accepted)} connections, "
            f"md front {len(md_front.accepted)}; td gaps {[round(g, 2) for g in gaps]}"
        )
        assert all(0.5 < gap < 6.0 for gap in gaps), gaps
        # The timeout stays visible across later disconnects until a login succeeds.
        assert tracker.current.state == S.LOGIN_TIMEOUT
        assert not gw.td_api.login_failed and gw.td_api.reqid == 0  # never got far enough to log in

        elapsed = assert_closed_cleanly(engine, gw, tracker, baseline)
        attempts = len(td_front.accepted)
        time.sleep(1.5)  # the released API must not reconnect any more
        assert len(td_front.accepted) == attempts
    print(f"(b) close took {elapsed:.3f} s")


# ---------------------------------------------------------------- (d) a failed login is sticky


@pytest.mark.parametrize("step", ["login", "auth"])
def test_failed_login_or_authentication_is_permanent(engine, gateway, step: str) -> None:
    gw, tracker, recorder = gateway
    address = f"127.0.0.1:{free_port()}"  # real C++ APIs exist, but no front answers
    setting = make_setting(address, address, auth=step == "auth")
    connect_with_watchdog(gw, setting, tracker, timeout_s=30)
    td = gw.td_api

    td.onFrontConnected()  # as the library would: vnpy sends the first request
    assert tracker.current.state == S.CONNECTED and td.reqid == 1
    error = {"ErrorID": 3, "ErrorMsg": "CTP:不合法的登录"}
    if step == "auth":
        td.onRspAuthenticate({}, error, 1, True)  # ErrorID 63 is the only one vnpy itself makes sticky
        assert td.auth_failed
        expected = "authentication failed: 3 CTP:不合法的登录"
    else:
        td.onRspUserLogin({}, error, 1, True)
        assert td.login_failed
        expected = "login failed: 3 CTP:不合法的登录"
    assert tracker.current.state == S.LOGIN_FAILED and tracker.current.reason == expected

    # The library reconnects; nothing may authenticate or log in again, the state stays LOGIN_FAILED.
    td.onFrontDisconnected(0x2001)
    td.onFrontConnected()
    gw.connect(setting)  # a second connect() is ignored too (vnpy would re-send authentication)
    assert td.reqid == 1
    assert tracker.current.state == S.LOGIN_FAILED
    assert tracker.current.reason.startswith(expected)
    assert S.LOGGED_IN not in recorder.states()


def test_md_login_failure_is_not_retried(engine, gateway) -> None:
    gw, tracker, _ = gateway
    address = f"127.0.0.1:{free_port()}"
    connect_with_watchdog(gw, make_setting(address, address), tracker, timeout_s=30)
    md = gw.md_api
    md.onFrontConnected()
    assert md.reqid == 1 and tracker.current.md_state == S.CONNECTED
    md.onRspUserLogin({}, {"ErrorID": 3, "ErrorMsg": "bad login"}, 1, True)
    assert (
        tracker.current.md_state == S.LOGIN_FAILED
        and tracker.current.md_reason == "md login failed: 3 bad login"
    )
    md.onFrontDisconnected(0x1001)
    assert tracker.current.md_reason == "0x1001 network read failed"
    md.onFrontConnected()
    assert md.reqid == 1


def test_md_transient_login_error_is_retried(engine, gateway) -> None:
    gw, tracker, _ = gateway
    gw.session.set_policy(RetryPolicy(first_s=0.05, max_s=0.05, attempts=2))
    address = f"127.0.0.1:{free_port()}"
    connect_with_watchdog(gw, make_setting(address, address), tracker, timeout_s=30)
    md = gw.md_api
    md.onFrontConnected()
    md.onRspUserLogin({}, {"ErrorID": 8, "ErrorMsg": "CTP:前置不活跃"}, 1, True)
    assert tracker.current.md_state == S.CONNECTED
    assert tracker.current.md_reason == "md login failed (transient, retry 1/2 in 0.05 s): 8 CTP:前置不活跃"
    eventually(lambda: md.reqid == 2, timeout=3, what="md login sent again")
    md.onRspUserLogin({}, {"ErrorID": 0, "ErrorMsg": ""}, 2, True)
    assert tracker.current.md_state == S.LOGGED_IN and gw.session.md_retry.attempt == 0


def test_successful_login_reports_settling(engine, gateway) -> None:
    gw, tracker, _ = gateway
    address = f"127.0.0.1:{free_port()}"
    connect_with_watchdog(gw, make_setting(address, address), tracker, timeout_s=30)
    gw.td_api.onRspUserLogin(
        {"FrontID": 1, "SessionID": 7, "TradingDay": "20261123"}, {"ErrorID": 0}, 1, True
    )
    # Logged in to the front, but not ready to trade before the settlement and the instrument list.
    assert tracker.current.state == S.SETTLING
    assert tracker.current.reason == "logged in, trading day 20261123; confirming settlement"
    assert not tracker.logged_in and not gw.ready
    gw.td_api.onFrontDisconnected(0x1001)  # after a login, a disconnect is just a disconnect
    assert tracker.current.state == S.DISCONNECTED and not gw.td_api.login_status


# ---------------------------------------------------------------- pre-settlement on ticks


def depth_data(symbol: str, pre_settlement: float) -> dict:
    prices = {f"{side}Price{i}": 600.0 + i for side in ("Bid", "Ask") for i in range(1, 6)}
    volumes = {f"{side}Volume{i}": i for side in ("Bid", "Ask") for i in range(1, 6)}
    return {
        "InstrumentID": symbol, "UpdateTime": "10:15:01", "UpdateMillisec": 500, "ActionDay": "20261123",
        "Volume": 10, "Turnover": 6_000_000.0, "OpenInterest": 100.0, "LastPrice": 601.0,
        "UpperLimitPrice": 650.0, "LowerLimitPrice": 550.0, "OpenPrice": 600.0, "HighestPrice": 602.0,
        "LowestPrice": 599.0, "PreClosePrice": 600.5, "PreSettlementPrice": pre_settlement,
        **prices, **volumes,
    }  # fmt: skip


def test_ticks_carry_pre_settlement(engine, gateway) -> None:
    gw, _, _ = gateway
    gw.clock = TestClock(datetime(2026, 11, 23, 10, 15, 2, tzinfo=CHINA_TZ))  # the depth data's own time
    ticks: list[TickData] = []
    engine.event_engine.register(EVENT_TICK, lambda event: ticks.append(event.data))
    symbol_contract_map["au2612"] = ContractData(
        symbol="au2612", exchange=Exchange.SHFE, name="gold", product=Product.FUTURES,
        size=1000, pricetick=0.02, min_volume=1, gateway_name=gw.gateway_name,
    )  # fmt: skip
    try:
        gw.md_api.onRtnDepthMarketData(depth_data("au2612", 598.76))
        tick = eventually(lambda: ticks and ticks[-1], timeout=2)
    finally:
        symbol_contract_map.pop("au2612", None)
    assert tick.symbol == "au2612" and tick.last_price == 601.0
    assert tick.extra == {"pre_settlement": 598.76}

    other = TickData(gateway_name="CTP", symbol="au2612", exchange=Exchange.SHFE,
                     datetime=datetime(2026, 11, 23, 10, 15, 1, tzinfo=CHINA_TZ))
    other.extra = {"source": "replay"}
    gw.on_tick(other)
    assert other.extra == {"source": "replay", "pre_settlement": 598.76}


@pytest.mark.parametrize(
    ("tick_time", "now", "reason"),
    [
        ((2026, 11, 23, 10, 15, 1), (2026, 11, 23, 10, 15, 2), ""),  # closing snapshot just after the bell
        ((2026, 11, 23, 10, 22, 0), (2026, 11, 23, 10, 22, 1), "outside trading hours"),  # morning break
        ((2026, 11, 23, 21, 0, 0), (2026, 11, 23, 21, 0, 1), ""),  # night session opens
        ((2026, 11, 24, 1, 30, 0), (2026, 11, 24, 1, 30, 0), ""),  # after midnight, same night session
        ((2026, 11, 23, 20, 59, 0), (2026, 11, 23, 20, 59, 1), ""),  # call-auction minute before the open
        ((2026, 11, 23, 12, 0, 0), (2026, 11, 23, 12, 0, 1), "outside trading hours"),  # lunch break
        ((2026, 11, 21, 10, 0, 0), (2026, 11, 21, 10, 0, 1), "outside trading hours"),  # Saturday
        ((2026, 11, 20, 14, 59, 0), (2026, 11, 23, 9, 0, 5), "stale"),  # Friday's last snapshot at Monday login
    ],
)
def test_stale_and_off_hours_ticks_are_rejected(tick_time: tuple, now: tuple, reason: str) -> None:
    assert tick_rejection(datetime(*tick_time, tzinfo=CHINA_TZ), datetime(*now, tzinfo=CHINA_TZ)) == reason


def test_a_stale_tick_at_login_never_reaches_the_event_engine(engine, gateway) -> None:
    gw, _, _ = gateway
    ticks: list[TickData] = []
    engine.event_engine.register(EVENT_TICK, lambda event: ticks.append(event.data))
    gw.clock = TestClock(datetime(2026, 11, 23, 9, 0, 5, tzinfo=CHINA_TZ))
    stale = TickData(gateway_name="CTP", symbol="au2612", exchange=Exchange.SHFE,
                     datetime=datetime(2026, 11, 20, 14, 59, 59, tzinfo=CHINA_TZ))
    fresh = TickData(gateway_name="CTP", symbol="au2612", exchange=Exchange.SHFE,
                     datetime=datetime(2026, 11, 23, 9, 0, 4, tzinfo=CHINA_TZ))
    gw.on_tick(stale)
    gw.on_tick(fresh)
    eventually(lambda: len(ticks) == 1, timeout=2)
    assert ticks[0] is fresh and gw.dropped_ticks == {"stale": 1}


def test_trades_keep_ctps_raw_record(engine, gateway) -> None:
    gw, _, _ = gateway
    trades: list[TradeData] = []
    engine.event_engine.register(EVENT_TRADE, lambda event: trades.append(event.data))
    symbol_contract_map["au2612"] = ContractData(
        symbol="au2612", exchange=Exchange.SHFE, name="gold", product=Product.FUTURES,
        size=1000, pricetick=0.02, min_volume=1, gateway_name=gw.gateway_name,
    )  # fmt: skip
    gw.td_api.contract_inited = True
    gw.td_api.sysid_orderid_map["  123456"] = "1_2_3"
    raw = {"InstrumentID": "au2612", "OrderSysID": "  123456", "TradeDate": "20261123", "TradeTime": "21:05:01",
           "TradeID": "  778899", "Direction": "0", "OffsetFlag": "0", "Price": 601.02, "Volume": 2,
           "TradingDay": "20261124", "BrokerID": "9999"}
    try:
        gw.td_api.onRtnTrade(raw)
        trade = eventually(lambda: trades and trades[-1], timeout=2)
    finally:
        symbol_contract_map.pop("au2612", None)
    assert trade.tradeid == "  778899" and trade.volume == 2
    assert trade.extra["ctp"]["TradingDay"] == "20261124" and trade.extra["ctp"]["OrderSysID"] == "  123456"
    assert gw.raw_record is None  # not leaked to the next record


# ---------------------------------------------------------------- close while a callback runs

CLOSE_DURING_CALLBACK = textwrap.dedent(
    """
    import json, threading, time
    from vnpy.trader.engine import MainEngine
    from common.config import CtpConfig, CtpSecrets
    from core_service.ctp_gateway import ArbigCtpGateway, connect_with_watchdog, ctp_setting
    from core_service.gateway_status import GatewayStatusTracker
    from tests.core_service.ctp_fronts import DroppingFront

    inside = threading.Event()

    def slow_listener(new, old):  # runs inside the library's OnFrontDisconnected callback
        if new.state.name == "DISCONNECTED" and not inside.is_set():
            inside.set()
            time.sleep(2.5)

    with DroppingFront() as front:
        main_engine = MainEngine()
        gateway = main_engine.add_gateway(ArbigCtpGateway)
        cfg = CtpConfig(td_address=front.address, md_address=front.address, environment="测试")
        setting = ctp_setting(cfg, CtpSecrets(userid="u", password="p", broker_id="9999"))
        connect_with_watchdog(gateway, setting, GatewayStatusTracker("ctp", slow_listener), 30)
        assert inside.wait(10)
        start = time.monotonic()
        main_engine.close()
        print(json.dumps({"close_s": time.monotonic() - start}))
    """
)


def test_close_waits_for_a_running_callback_instead_of_deadlocking(tmp_path: Path) -> None:
    # vnpy_ctp's exit() joins the callback thread holding the GIL: without the wait this hangs for good.
    (tmp_path / ".vntrader").mkdir()
    (tmp_path / ".vntrader" / "vt_setting.json").write_text(
        json.dumps({"log.console": False}), encoding="utf-8"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", CLOSE_DURING_CALLBACK], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    close_s = json.loads(proc.stdout.strip().splitlines()[-1])["close_s"]
    print(f"\nclose during a 2.5 s callback took {close_s:.2f} s")
    assert 1.5 < close_s < 5.0
