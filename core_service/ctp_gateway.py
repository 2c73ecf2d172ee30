"""vnpy's CTP gateway, reporting its real connection state to a GatewayStatusTracker.

`ArbigCtpGateway` subclasses the trading and market-data APIs so every front connect,
disconnect (with the CTP reason code), authentication and login result reaches the tracker.
A failed authentication or login is permanent: nothing here retries it (repeated bad
passwords lock the account); rebuild the gateway after fixing the credentials. Ticks carry
the exchange's pre-settlement price in `tick.extra["pre_settlement"]`.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from vnpy.event import Event, EventEngine
from vnpy.trader.event import EVENT_TIMER
from vnpy.trader.object import CancelRequest, OrderData, OrderRequest, SubscribeRequest, TickData, TradeData
from vnpy_ctp.gateway.ctp_gateway import MAX_FLOAT, CtpGateway, CtpMdApi, CtpTdApi

from common.config import CtpConfig, CtpSecrets
from common.contract import GatewayState
from common.trading_calendar import CHINA_TZ, NO_HOLIDAYS, in_session, to_china
from core_service.gateway_status import GatewayStatusTracker, LoginWatchdog

log = logging.getLogger(__name__)

# CThostFtdcTraderSpi::OnFrontDisconnected reason codes.
DISCONNECT_REASONS: dict[int, str] = {
    0x1001: "network read failed",
    0x1002: "network write failed",
    0x2001: "heartbeat timeout",
    0x2002: "heartbeat send failed",
    0x2003: "bad packet received",
}

SECRET_KEYS = ("密码", "授权编码")
TRANSPORT_SEP = "; transport: "
CLOSE_WAIT_S = 3.0
STALE_TICK_S = 300  # a tick this far from the local clock is a replayed or stale snapshot  # longest wait for a running callback before releasing an API
_ADDRESS_RE = re.compile(r"^(?:tcp://)?(?P<host>[A-Za-z0-9.\-]+):(?P<port>\d{1,5})$")


def describe_disconnect(reason: int) -> str:
    """'0x1001 network read failed' for a CTP disconnect reason code."""
    return f"0x{reason:04x} {DISCONNECT_REASONS.get(reason, 'unknown reason')}"


def describe_error(error: dict[str, Any]) -> str:
    return f"{error.get('ErrorID', '?')} {error.get('ErrorMsg', '')}".strip()


# ---------------------------------------------------------------- settings


def _address(value: str, field: str) -> str:
    """Normalise 'host:port' or 'tcp://host:port' to 'tcp://host:port'."""
    match = _ADDRESS_RE.match(value.strip())
    if not match or not 0 < int(match["port"]) < 65536:
        raise ValueError(
            f"CTP setting {field} must look like 'host:port' or 'tcp://host:port', got {value!r}"
        )
    return f"tcp://{match['host']}:{match['port']}"


def _missing_fields(cfg: CtpConfig, secrets: CtpSecrets) -> list[str]:
    required = {
        "ctp.userid": secrets.userid,
        "ctp.password": secrets.password.get_secret_value(),
        "ctp.broker_id": secrets.broker_id,
        "gateway.ctp.td_address": cfg.td_address,
        "gateway.ctp.md_address": cfg.md_address,
    }
    if cfg.environment == "实盘" or secrets.app_id or secrets.auth_code.get_secret_value():
        # Production fronts require client authentication; a half-filled pair is always a mistake.
        required["ctp.app_id"] = secrets.app_id
        required["ctp.auth_code"] = secrets.auth_code.get_secret_value()
    return [name for name, value in required.items() if not value.strip()]


def ctp_setting(cfg: CtpConfig, secrets: CtpSecrets) -> dict[str, str]:
    """vnpy's CTP setting dict; raises ValueError naming missing or bad fields (never their values)."""
    missing = _missing_fields(cfg, secrets)
    if missing:
        raise ValueError(f"CTP setting incomplete: missing {', '.join(missing)}")
    return {
        "用户名": secrets.userid.strip(),
        "密码": secrets.password.get_secret_value(),
        "经纪商代码": secrets.broker_id.strip(),
        "交易服务器": _address(cfg.td_address, "gateway.ctp.td_address"),
        "行情服务器": _address(cfg.md_address, "gateway.ctp.md_address"),
        "产品名称": secrets.app_id.strip(),
        "授权编码": secrets.auth_code.get_secret_value(),
        "柜台环境": cfg.environment,
    }


def redacted(setting: dict[str, Any]) -> dict[str, Any]:
    """A copy of the setting that is safe to log: passwords and auth codes masked."""
    return {key: ("***" if key in SECRET_KEYS and value else value) for key, value in setting.items()}


# ---------------------------------------------------------------- APIs
#
# vnpy_ctp's exit() joins the API's callback thread while holding the GIL: if a Python callback
# is running (or about to run) at that moment, the process hangs for good (vnpy/vnpy_ctp PR #108,
# reproduced here). So every Python callback is counted, and close() waits until none is running.

ApiT = TypeVar("ApiT", bound=type)


def _counted(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def callback(self: Any, *args: Any) -> Any:
        self.cb_thread = threading.get_ident()
        self.cb_busy += 1
        try:
            return method(self, *args)
        finally:
            self.cb_busy -= 1

    return callback


def _count_callbacks(cls: ApiT) -> ApiT:
    """Wrap every Python-level `on*` callback of the class (ours and vnpy's) in a busy counter."""
    names = {
        name
        for klass in cls.__mro__[:2]
        for name, value in vars(klass).items()
        if name.startswith("on") and callable(value)
    }
    for name in names:
        setattr(cls, name, _counted(getattr(cls, name)))
    cls.cb_busy = 0
    cls.cb_thread = 0
    return cls


def _wait_idle(api: Any, timeout_s: float) -> None:
    """Return once no Python callback of the API has run for two consecutive checks (or on timeout)."""
    if api.cb_busy and api.cb_thread == threading.get_ident():
        raise RuntimeError("close() from inside a CTP callback would deadlock; close from another thread")
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # lets a callback waiting for the GIL start (and be counted)
        quiet = quiet + 1 if not api.cb_busy else 0
    if quiet < 2:
        log.warning("CTP callback still running after %.1f s; releasing the API anyway", timeout_s)


@_count_callbacks
class ArbigTdApi(CtpTdApi):
    """Trading API: reports front and login state; makes any auth/login failure permanent."""

    gateway: ArbigCtpGateway

    def onFrontConnected(self) -> None:
        self.gateway.report_td(GatewayState.CONNECTED, "front connected")
        super().onFrontConnected()

    def onFrontDisconnected(self, reason: int) -> None:
        super().onFrontDisconnected(reason)
        self.gateway.report_td(GatewayState.DISCONNECTED, describe_disconnect(reason))

    def onRspAuthenticate(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        super().onRspAuthenticate(data, error, reqid, last)
        if error.get("ErrorID"):
            self.auth_failed = True  # vnpy only sets this for ErrorID 63; never re-authenticate
            self.gateway.report_td(
                GatewayState.LOGIN_FAILED, f"authentication failed: {describe_error(error)}"
            )

    def onRspUserLogin(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        super().onRspUserLogin(data, error, reqid, last)
        if error.get("ErrorID"):
            self.gateway.report_td(GatewayState.LOGIN_FAILED, f"login failed: {describe_error(error)}")
        else:
            self.gateway.report_td(
                GatewayState.LOGGED_IN, f"trading day {data.get('TradingDay', '')}".strip()
            )

    # CTP's own order and trade records are kept beside ours (raw, for audit): the gateway attaches
    # the dict being processed to the OrderData/TradeData vnpy builds from it.
    def onRtnOrder(self, data: dict) -> None:
        self.gateway.raw_record = data
        try:
            super().onRtnOrder(data)
        finally:
            self.gateway.raw_record = None

    def onRtnTrade(self, data: dict) -> None:
        self.gateway.raw_record = data
        try:
            super().onRtnTrade(data)
        finally:
            self.gateway.raw_record = None

    def authenticate(self) -> None:
        if self.login_failed:
            return  # vnpy would re-authenticate after a failed login on every reconnect
        super().authenticate()

    def close(self) -> None:
        """Release the C++ API once, when no callback is running."""
        if not self.connect_status:
            return
        _wait_idle(self, CLOSE_WAIT_S)
        super().close()
        self.connect_status = False  # released: exit() must never run twice
        self.login_status = False


@_count_callbacks
class ArbigMdApi(CtpMdApi):
    """Market-data API: reports its own front state and keeps the pre-settlement price per symbol."""

    gateway: ArbigCtpGateway

    def __init__(self, gateway: CtpGateway) -> None:
        super().__init__(gateway)
        self.login_failed = False
        self.pre_settlement: dict[str, float] = {}

    def onFrontConnected(self) -> None:
        self.gateway.report_md(GatewayState.CONNECTED, "front connected")
        super().onFrontConnected()

    def onFrontDisconnected(self, reason: int) -> None:
        super().onFrontDisconnected(reason)
        self.gateway.report_md(GatewayState.DISCONNECTED, describe_disconnect(reason))

    def onRspUserLogin(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        super().onRspUserLogin(data, error, reqid, last)
        if error.get("ErrorID"):
            self.login_failed = True
            self.gateway.report_md(GatewayState.LOGIN_FAILED, f"md login failed: {describe_error(error)}")
        else:
            self.gateway.report_md(GatewayState.LOGGED_IN)

    def onRtnDepthMarketData(self, data: dict) -> None:
        price = data.get("PreSettlementPrice")
        if isinstance(price, float | int) and 0 < price < MAX_FLOAT:
            self.pre_settlement[data.get("InstrumentID", "")] = float(price)
        super().onRtnDepthMarketData(data)

    def login(self) -> None:
        if self.login_failed:
            return  # vnpy's md api has no such guard
        super().login()

    def close(self) -> None:
        """Release the C++ API once, when no callback is running."""
        if not self.connect_status:
            return
        _wait_idle(self, CLOSE_WAIT_S)
        super().close()
        self.connect_status = False  # released: exit() must never run twice
        self.login_status = False


# ---------------------------------------------------------------- gateway


class ArbigCtpGateway(CtpGateway):
    """CtpGateway that reports connection state to `status_tracker` (set it before `connect`)."""

    default_name: str = "CTP"

    def __init__(self, event_engine: EventEngine, gateway_name: str) -> None:
        super().__init__(event_engine, gateway_name)
        self.td_api: ArbigTdApi = ArbigTdApi(self)
        self.md_api: ArbigMdApi = ArbigMdApi(self)
        self.status_tracker = GatewayStatusTracker("ctp")
        self.login_watchdog: LoginWatchdog | None = None
        self._close_lock = threading.Lock()
        self._closed = False
        self.dropped_ticks: dict[str, int] = {}
        self.clock: Callable[[], datetime] = lambda: datetime.now(CHINA_TZ)  # tests replay a fixed time
        self._last_drop_log = 0.0

    # -- state reporting (called from CTP's callback threads)

    def report_td(self, state: GatewayState, reason: str = "") -> None:
        """Set the trading state; a LOGIN_TIMEOUT stays shown until login, with transport detail."""
        try:
            current = self.status_tracker.current
            if current.state == GatewayState.LOGIN_TIMEOUT and state in (
                GatewayState.CONNECTED,
                GatewayState.DISCONNECTED,
            ):
                base = current.reason.split(TRANSPORT_SEP)[0]
                reason = f"{base}{TRANSPORT_SEP}{state.value.lower()} {reason}".strip()
                state = GatewayState.LOGIN_TIMEOUT
            self.status_tracker.set(state, reason)
        except Exception:  # never break CTP's callback thread
            log.exception("reporting trading front state failed")

    def report_md(self, state: GatewayState, reason: str = "") -> None:
        try:
            self.status_tracker.set_md(state, reason)
        except Exception:
            log.exception("reporting market-data front state failed")

    # -- lifecycle

    def connect(self, setting: dict) -> None:
        if self._closed:
            raise RuntimeError("CTP gateway is closed; build a new one to reconnect")
        if self.td_api.connect_status:
            # vnpy would re-send authentication on a second connect; the library reconnects by itself.
            log.warning("CTP gateway already connecting; ignoring a second connect()")
            return
        log.info("CTP connecting: %s", redacted(setting))
        self.report_td(GatewayState.CONNECTING, f"front {setting.get('交易服务器', '')}")
        self.report_md(GatewayState.CONNECTING, f"front {setting.get('行情服务器', '')}")
        super().connect(setting)

    def close(self) -> None:
        """Release both CTP APIs once; later calls (and timer queries) do nothing."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        if self.login_watchdog:
            self.login_watchdog.disarm()
        self.event_engine.unregister(EVENT_TIMER, self.process_timer_event)
        super().close()
        self.status_tracker.set(GatewayState.STOPPED, "gateway closed")
        self.status_tracker.set_md(GatewayState.STOPPED, "gateway closed")

    @property
    def closed(self) -> bool:
        return self._closed

    # -- calls that would touch a released C++ API after close

    def process_timer_event(self, event: Event) -> None:
        with self._close_lock:
            if not self._closed:
                super().process_timer_event(event)

    def subscribe(self, req: SubscribeRequest) -> None:
        if not self._closed:
            super().subscribe(req)

    def send_order(self, req: OrderRequest) -> str:
        return "" if self._closed else super().send_order(req)

    def cancel_order(self, req: CancelRequest) -> None:
        if not self._closed:
            super().cancel_order(req)

    def query_account(self) -> None:
        if self._can_query():
            super().query_account()

    def query_position(self) -> None:
        if self._can_query():
            super().query_position()

    def _can_query(self) -> bool:
        """vnpy's timer would also query before login; those requests can only fail."""
        return not self._closed and self.td_api.login_status

    # -- orders and trades: keep CTP's raw record

    raw_record: dict | None = None

    def on_order(self, order: OrderData) -> None:
        if self.raw_record is not None:
            order.extra = {**(order.extra or {}), "ctp": dict(self.raw_record)}
        super().on_order(order)

    def on_trade(self, trade: TradeData) -> None:
        if self.raw_record is not None:
            trade.extra = {**(trade.extra or {}), "ctp": dict(self.raw_record)}
        super().on_trade(trade)

    # -- ticks

    def _drop_tick(self, tick: TickData, reason: str) -> None:
        self.dropped_ticks[reason] = self.dropped_ticks.get(reason, 0) + 1
        now = time.monotonic()
        if now - self._last_drop_log >= 60:
            self._last_drop_log = now
            log.info("CTP tick of %s at %s dropped (%s); dropped so far: %s", tick.symbol, tick.datetime, reason,
                     self.dropped_ticks)

    def on_tick(self, tick: TickData) -> None:
        reason = tick_rejection(tick.datetime, self.clock())
        if reason:
            self._drop_tick(tick, reason)
            return
        value = self.md_api.pre_settlement.get(tick.symbol)
        if value is not None:
            tick.extra = {**(tick.extra or {}), "pre_settlement": value}
        super().on_tick(tick)


def tick_rejection(exchange_time: datetime, now: datetime) -> str:
    """Why a CTP tick must not reach strategies or Redis ('' when it is fine).

    CTP sends the last snapshot again at login (possibly hours old) and brokers' fronts send
    snapshots outside trading hours. A minute either side of a session is kept: the call auction
    before the open, and the closing snapshot stamped just after the bell.
    """
    exchange_time = to_china(exchange_time)
    if abs((now - exchange_time).total_seconds()) > STALE_TICK_S:
        return "stale"
    margin = timedelta(minutes=1)
    # weekends only: a wrong holiday entry must never make the core drop a real tick
    if not any(in_session(t, NO_HOLIDAYS) for t in (exchange_time, exchange_time + margin, exchange_time - margin)):
        return "outside trading hours"
    return ""


def connect_with_watchdog(
    gateway: ArbigCtpGateway, setting: dict, tracker: GatewayStatusTracker, timeout_s: float
) -> LoginWatchdog:
    """Attach the tracker, arm a LoginWatchdog and connect; the gateway disarms it on close."""
    gateway.status_tracker = tracker
    watchdog = LoginWatchdog(tracker, timeout_s)
    gateway.login_watchdog = watchdog
    watchdog.arm()
    gateway.connect(setting)
    return watchdog
