"""The CTP trading session's states: CONNECTED -> SETTLING -> LOGGED_IN (ready to trade).

A successful login reports SETTLING; LOGGED_IN comes only once the settlement is confirmed AND the
instrument list has delivered its last record. A refused confirmation reports SETTLEMENT_FAILED
(and a BrokerError): trading does not start. Login and authentication errors are classified by
ErrorID (`ctp_errors`): permanent ones are final (LOGIN_FAILED, never retried); transient ones are
retried on a capped backoff and shown in the state reason, e.g.
"login failed (transient, retry 2/8 in 10 s): 7 CTP:还没有初始化".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from common.contract import GatewayState
from core_service.ctp_errors import (
    LoginRetry,
    RetryPolicy,
    describe_error,
    error_id,
    is_transient_login_error,
)
from core_service.ctp_queries import PendingQuery

if TYPE_CHECKING:
    from core_service.ctp_gateway import ArbigCtpGateway
    from core_service.ctp_md_api import ArbigMdApi
    from core_service.ctp_td_api import ArbigTdApi

log = logging.getLogger(__name__)

MAX_INSTRUMENT_QUERIES = 3


class CtpSession:
    """Login, settlement and instrument-list progress of one gateway's trading front."""

    def __init__(self, gateway: ArbigCtpGateway, policy: RetryPolicy | None = None) -> None:
        self.gateway = gateway
        self.retry = LoginRetry(policy or RetryPolicy())
        self.md_retry = LoginRetry(self.retry.policy)
        self.front_up = False
        self.settled = False
        self.instruments_loaded = False
        self.trading_day = ""
        self._instrument_queries = 0

    @property
    def ready(self) -> bool:
        """Logged in, settlement confirmed, instruments loaded: orders may be sent."""
        return self.settled and self.instruments_loaded and self.front_up

    def set_policy(self, policy: RetryPolicy) -> None:
        self.retry.policy = policy
        self.md_retry.policy = policy

    # ------------------------------------------------------------ front

    def connected(self) -> None:
        self.front_up = True
        self.gateway.report_td(GatewayState.CONNECTED, "front connected")

    def disconnected(self, reason: str) -> None:
        self.front_up = False
        self.settled = self.instruments_loaded = False
        self.retry.cancel()  # the library reconnects and vnpy logs in again from OnFrontConnected
        self.gateway.queries.clear()
        self.gateway.report_td(GatewayState.DISCONNECTED, reason)

    # ------------------------------------------------------------ login

    def logged_in(self, data: dict[str, Any]) -> None:
        self.retry.reset()
        self.settled = self.instruments_loaded = False
        self._instrument_queries = 0
        self.gateway.statement.reset()  # asked once per login session
        self.trading_day = str(data.get("TradingDay") or "")
        day = f"trading day {self.trading_day}; " if self.trading_day else ""
        self.gateway.report_td(GatewayState.SETTLING, f"logged in, {day}confirming settlement")

    def login_error(self, step: str, error: dict[str, Any], api: ArbigTdApi) -> None:
        """`step` is "login" or "authentication"; vnpy has already logged the error."""
        if not is_transient_login_error(error_id(error)):
            self._fail(step, api)
            self.gateway.report_td(GatewayState.LOGIN_FAILED, f"{step} failed: {describe_error(error)}")
            return
        self._unfail(step, api)
        delay = self.retry.schedule(lambda: self._retry_td(step, api))
        if delay is None:
            self._fail(step, api)
            self.gateway.report_td(
                GatewayState.LOGIN_FAILED,
                f"{step} failed (transient, gave up after {self.retry.policy.attempts} retries): "
                f"{describe_error(error)}",
            )
            return
        self.gateway.report_td(
            GatewayState.CONNECTED,
            f"{step} failed (transient, retry {self.retry.attempt}/{self.retry.policy.attempts} in {delay:g} s): "
            f"{describe_error(error)}",
        )

    @staticmethod
    def _fail(step: str, api: ArbigTdApi) -> None:
        if step == "authentication":
            api.auth_failed = True  # vnpy only sets this for ErrorID 63; never re-authenticate
        api.login_failed = True  # nothing logs in again, also not after a reconnect

    @staticmethod
    def _unfail(step: str, api: ArbigTdApi) -> None:
        api.auth_failed = False
        api.login_failed = False  # vnpy set it on any login error

    def _retry_td(self, step: str, api: ArbigTdApi) -> None:
        if self.gateway.closed or not self.front_up:
            return  # the reconnect logs in by itself
        log.info("CTP %s retry %d", step, self.retry.attempt)
        if step == "authentication":
            api.authenticate()
        else:
            api.login()

    def md_login_error(self, error: dict[str, Any], api: ArbigMdApi) -> None:
        text = describe_error(error)
        def retry() -> None:
            if not self.gateway.closed:
                api.login()

        delay = self.md_retry.schedule(retry) if is_transient_login_error(error_id(error)) else None
        if delay is None:
            api.login_failed = True
            given_up = " (transient, gave up)" if is_transient_login_error(error_id(error)) else ""
            self.gateway.report_md(GatewayState.LOGIN_FAILED, f"md login failed{given_up}: {text}")
            return
        self.gateway.report_md(
            GatewayState.CONNECTED,
            f"md login failed (transient, retry {self.md_retry.attempt}/{self.md_retry.policy.attempts}"
            f" in {delay:g} s): {text}",
        )

    # ------------------------------------------------------------ settlement and instruments

    def settlement_confirmed(self, data: dict[str, Any]) -> None:
        self.settled = True
        when = " ".join(str(data.get(k) or "") for k in ("ConfirmDate", "ConfirmTime")).strip()
        self.gateway.report_td(
            GatewayState.SETTLING, f"settlement confirmed{f' ({when})' if when else ''}; loading instruments"
        )
        self._query_instruments()
        self.gateway.statement.request()  # informational: waits behind the instruments and rates

    def settlement_failed(self, error: dict[str, Any]) -> None:
        self.settled = False
        self.gateway.report_td(GatewayState.SETTLEMENT_FAILED, f"settlement confirmation failed: {describe_error(error)}")
        self.gateway.broker_error("settlement", error, "ReqSettlementInfoConfirm")

    def _query_instruments(self) -> None:
        self._instrument_queries += 1
        td = self.gateway.td_api
        self.gateway.queries.add(
            PendingQuery("instruments", "ReqQryInstrument", lambda: td.reqQryInstrument({}, td.next_reqid()))
        )
        self.gateway.queries.pump()  # nothing else is sent before the session is ready

    def instruments_done(self) -> None:
        self.instruments_loaded = True
        if not self.settled:
            return
        day = f"trading day {self.trading_day}" if self.trading_day else "ready"
        self.gateway.report_td(GatewayState.LOGGED_IN, day)
        self.gateway.on_ready()

    def instruments_failed(self, error: dict[str, Any]) -> None:
        self.gateway.broker_error("query", error, "ReqQryInstrument")
        if self._instrument_queries < MAX_INSTRUMENT_QUERIES:
            self._query_instruments()
            return
        self.gateway.report_td(
            GatewayState.SETTLEMENT_FAILED, f"instrument list not received: {describe_error(error)}"
        )
