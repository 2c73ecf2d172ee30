"""vnpy's CTP gateway, reporting the broker's truth: its state, figures, errors and rates.

`ArbigCtpGateway` reports every front connect, disconnect (with the CTP reason code), login,
settlement and instrument-list step to a GatewayStatusTracker: SETTLING after login, LOGGED_IN
("ready to trade") only once settlement is confirmed and the instruments are loaded, and orders
are refused before that. Permanent login errors are never retried (repeated bad passwords lock
the account); transient ones are retried on a capped backoff (`ctp_session`). Account and
positions carry the broker's figures in `.extra` (`ctp_account`). Every broker error reply and
refused request becomes a `BrokerError` handed to `broker_error_listener`; an order refused or
failing to cancel carries the reason in `extra["reason"]` (`ctp_orders`). After login the margin
and commission rates of the subscribed and held contracts are queried within CTP's flow control
(`ctp_queries`) into `contract_rates`, each update handed to `rates_listener`; the broker's
settlement statement of the last trading day is asked once per session and handed, as sent, to
`settlement_listener(accountid, trading_day, text)` (`ctp_settlement`). Ticks carry the
exchange's pre-settlement price in `tick.extra["pre_settlement"]`. `query_orders_trades(on_reply)`
asks today's orders and trades for the sync fallback, within the same flow control
(`ctp_order_queries`).
"""

from __future__ import annotations

import functools
import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Status
from vnpy.trader.event import EVENT_TIMER
from vnpy.trader.object import (
    CancelRequest,
    OrderData,
    OrderRequest,
    PositionData,
    SubscribeRequest,
    TickData,
    TradeData,
)
from vnpy_ctp.gateway.ctp_gateway import CtpGateway, symbol_contract_map

from common.clock import LIVE, Clock
from common.contract import GatewayState
from common.trading_calendar import NO_HOLIDAYS, in_session, to_china
from core_service.broker_errors import BrokerError, BrokerErrorKind, BrokerErrorListener
from core_service.contract_rates import ContractRates, RatesListener
from core_service.ctp_errors import FLOW_CONTROL_CODES, RETURN_CODES, error_id, error_msg
from core_service.ctp_md_api import ArbigMdApi
from core_service.ctp_order_queries import OrderTradeQuery, OrderTradeReply
from core_service.ctp_orders import OrderBook
from core_service.ctp_queries import (
    PendingQuery,
    QueryPacer,
    commission_request,
    margin_request,
    with_commission,
    with_margin,
)
from core_service.ctp_session import CtpSession
from core_service.ctp_settings import ctp_setting, redacted
from core_service.ctp_settlement import SettlementListener, SettlementStatement
from core_service.ctp_td_api import ArbigTdApi
from core_service.gateway_status import GatewayStatusTracker, LoginWatchdog

__all__ = ["ArbigCtpGateway", "connect_with_watchdog", "ctp_setting", "redacted", "tick_rejection"]

log = logging.getLogger(__name__)

TRANSPORT_SEP = "; transport: "
STALE_TICK_S = 300  # a tick this far from the local clock is a replayed or stale snapshot
REPEAT_S = 30.0  # the same query error within this is logged, not handed on again
ORDER_REQUESTS = ("ReqOrderInsert", "ReqOrderAction", "ReqSettlementInfoConfirm")
RATE_REQUESTS = {"margin": "ReqQryInstrumentMarginRate", "commission": "ReqQryInstrumentCommissionRate"}


class ArbigCtpGateway(CtpGateway):
    """CtpGateway that reports connection state to `status_tracker` (set it before `connect`)."""

    default_name: str = "CTP"

    def __init__(self, event_engine: EventEngine, gateway_name: str) -> None:
        super().__init__(event_engine, gateway_name)
        self.queries = QueryPacer()
        self.session = CtpSession(self)
        self.orders = OrderBook(self)
        self.statement = SettlementStatement(self)
        self.order_queries = OrderTradeQuery(self)
        self.td_api: ArbigTdApi = ArbigTdApi(self)
        self.md_api: ArbigMdApi = ArbigMdApi(self)
        self.status_tracker = GatewayStatusTracker("ctp")
        self.login_watchdog: LoginWatchdog | None = None
        self.broker_error_listener: BrokerErrorListener | None = None
        self.rates_listener: RatesListener | None = None
        self.settlement_listener: SettlementListener | None = None  # (accountid, trading_day, text)
        self.contract_rates: dict[str, ContractRates] = {}
        self._rates_asked: set[str] = set()
        self._error_times: dict[tuple[str, str, int, str], float] = {}
        self._close_lock = threading.Lock()
        self._closed = False
        self._local = threading.local()  # the CTP record being processed, per thread
        self.dropped_ticks: dict[str, int] = {}
        self.clock: Clock = LIVE  # the core's; tests set a TestClock to replay a fixed time
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

    @property
    def ready(self) -> bool:
        """Logged in, settlement confirmed and instruments loaded."""
        return self.session.ready and not self._closed

    # -- broker errors

    def broker_error(
        self, kind: BrokerErrorKind, error: dict[str, Any], request: str, *, vt_orderid: str = "",
        symbol: str = "", replayed: bool = False,
    ) -> None:  # fmt: skip
        """Hand one broker error to `broker_error_listener` (never raises into CTP's thread)."""
        try:
            item = BrokerError(
                gateway=self.gateway_name, kind=kind, error_id=error_id(error), message=error_msg(error),
                request=request, vt_orderid=vt_orderid, symbol=symbol, replayed=replayed,
            )  # fmt: skip
            if kind in ("query", "rsp_error") or request.startswith("ReqQry"):
                key, now = (kind, request, item.error_id, symbol), self.clock.monotonic()
                if now - self._error_times.get(key, -REPEAT_S) < REPEAT_S:
                    log.info("CTP %s (repeated)", item.text)
                    return
                self._error_times[key] = now
            log.warning("CTP %s", item.text)
            listener = self.broker_error_listener
            if listener is not None:
                listener(item)
        except Exception:
            log.exception("reporting a broker error failed")

    def request_refused(self, request: str, code: int, req: dict[str, Any]) -> None:
        """A Req* call returned non-zero: nothing was sent."""
        if code not in FLOW_CONTROL_CODES and request not in ORDER_REQUESTS:
            log.info("CTP %s not sent (return code %d)", request, code)  # -1 on queries: front down
            return
        kind: BrokerErrorKind = "flow_control" if code in FLOW_CONTROL_CODES else "request_failed"
        error = {"ErrorID": code, "ErrorMsg": RETURN_CODES.get(code, f"return code {code}")}
        vt_orderid = self.orders.vt_orderid(req) if request == "ReqOrderAction" else ""
        self.broker_error(kind, error, request, vt_orderid=vt_orderid, symbol=str(req.get("InstrumentID") or ""))
        if request == "ReqSettlementInfoConfirm" and code in FLOW_CONTROL_CODES:
            td = self.td_api  # otherwise the session would stay SETTLING: send it again on a free tick
            self.queries.add(PendingQuery(
                "settlement", request, lambda: td.reqSettlementInfoConfirm(dict(req), td.next_reqid())
            ))  # fmt: skip

    # -- contract rates

    def on_ready(self) -> None:
        """The session became ready: ask the rates of every subscribed contract (again)."""
        self._rates_asked.clear()
        for symbol in sorted(self.md_api.subscribed):
            self.want_rates(symbol)

    def want_rates(self, symbol: str) -> None:
        """Queue the margin and commission queries of a contract, once per session."""
        contract = symbol_contract_map.get(symbol)
        if not self.ready or contract is None or symbol in self._rates_asked:
            return
        self._rates_asked.add(symbol)
        td = self.td_api
        for part, build in (("margin", margin_request), ("commission", commission_request)):
            req = build(td.brokerid, td.userid, symbol, contract.exchange.value)
            send = functools.partial(td.query_rates, part, symbol, req)
            self.queries.add(PendingQuery(f"{part}:{symbol}", RATE_REQUESTS[part], send))

    def rates_reply(self, part: str, symbol: str, data: dict[str, Any]) -> None:
        contract = symbol_contract_map.get(symbol)
        current = self.contract_rates.get(symbol) or ContractRates(
            symbol=symbol, exchange=contract.exchange.value if contract else ""
        )
        rates = (with_margin if part == "margin" else with_commission)(current, data, self.clock.now_ms())
        self.contract_rates[symbol] = rates
        listener = self.rates_listener
        if listener is not None:
            try:
                listener(symbol, rates)
            except Exception:
                log.exception("rates listener failed")

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
        self.session.retry.cancel()
        self.session.md_retry.cancel()
        self.queries.clear()
        self.event_engine.unregister(EVENT_TIMER, self.process_timer_event)
        super().close()
        self.status_tracker.set(GatewayState.STOPPED, "gateway closed")
        self.status_tracker.set_md(GatewayState.STOPPED, "gateway closed")

    @property
    def closed(self) -> bool:
        return self._closed

    # -- calls that would touch a released C++ API after close

    def process_timer_event(self, event: Event) -> None:
        """vnpy queries on every second tick; ARBIG's queued queries take the ticks between."""
        with self._close_lock:
            if self._closed:
                return
            if self.count == 0:
                self.queries.pump()
            super().process_timer_event(event)

    def subscribe(self, req: SubscribeRequest) -> None:
        if not self._closed:
            super().subscribe(req)
            self.want_rates(req.symbol)

    def send_order(self, req: OrderRequest) -> str:
        if self._closed:
            return ""
        if not self.session.ready:
            state = self.status_tracker.current
            error = {"ErrorID": 0, "ErrorMsg": f"gateway {state.state.value}: not logged in and settled yet"}
            self.broker_error("not_ready", error, "ReqOrderInsert", symbol=req.symbol)
            return ""
        return super().send_order(req)

    def cancel_order(self, req: CancelRequest) -> None:
        if not self._closed:
            super().cancel_order(req)

    def query_account(self) -> None:
        if self._can_query():
            super().query_account()

    def query_position(self) -> None:
        if self._can_query():
            super().query_position()

    def query_orders_trades(self, on_reply: OrderTradeReply) -> bool:
        """Ask today's orders and trades (ReqQryOrder, then ReqQryTrade, paced); `on_reply(orders, trades,
        error)` once both are answered, on CTP's callback thread. False when not ready or one is running."""
        return not self._closed and self.order_queries.start(on_reply)

    def _can_query(self) -> bool:
        """vnpy's timer would also query before login and settlement; one query at a time."""
        return self.ready and self.td_api.login_status and not self.queries.busy()

    # -- orders, trades, positions

    @property
    def raw_record(self) -> dict | None:
        """The CTP record the calling thread is processing (its OrderData/TradeData keep it)."""
        return getattr(self._local, "raw", None)

    @raw_record.setter
    def raw_record(self, value: dict | None) -> None:
        self._local.raw = value

    def on_order(self, order: OrderData) -> None:
        raw = self.raw_record
        extra = dict(order.extra or {})
        if raw is not None:
            extra["ctp"] = dict(raw)
        if "reason" not in extra:
            reason = self.orders.reasons.get(order.vt_orderid)
            record = extra.get("ctp")  # this push's record, or the query's (the order sync delivers it)
            if reason is None and order.status == Status.REJECTED and isinstance(record, dict):
                reason = self.orders.rejected_by_rtn(order, record)
            if reason:
                extra["reason"] = reason
        order.extra = extra
        self.orders.remember(order)
        super().on_order(order)

    def on_trade(self, trade: TradeData) -> None:
        raw = self.raw_record
        if raw is not None:
            trade.extra = {**(trade.extra or {}), "ctp": dict(raw)}
        super().on_trade(trade)

    def on_position(self, position: PositionData) -> None:
        super().on_position(position)
        if position.volume:
            self.want_rates(position.symbol)

    # -- ticks

    def _drop_tick(self, tick: TickData, reason: str) -> None:
        self.dropped_ticks[reason] = self.dropped_ticks.get(reason, 0) + 1
        now = self.clock.monotonic()
        if now - self._last_drop_log >= 60:
            self._last_drop_log = now
            log.info("CTP tick of %s at %s dropped (%s); dropped so far: %s", tick.symbol, tick.datetime, reason,
                     self.dropped_ticks)

    def on_tick(self, tick: TickData) -> None:
        reason = tick_rejection(tick.datetime, self.clock.now())
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
