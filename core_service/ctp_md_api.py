"""vnpy's CTP market-data API, reporting its front state and keeping pre-settlement prices.

A failed market-data login is classified like the trading one (`CtpSession.md_login_error`):
permanent errors are never retried, transient ones are retried with a capped backoff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vnpy_ctp.gateway.ctp_gateway import MAX_FLOAT, CtpGateway, CtpMdApi

from common.contract import GatewayState
from core_service.ctp_callbacks import CLOSE_WAIT_S, count_callbacks, wait_idle
from core_service.ctp_errors import describe_disconnect, error_id

if TYPE_CHECKING:
    from core_service.ctp_gateway import ArbigCtpGateway


@count_callbacks
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
        self.gateway.session.md_retry.cancel()
        self.gateway.report_md(GatewayState.DISCONNECTED, describe_disconnect(reason))

    def onRspUserLogin(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        super().onRspUserLogin(data, error, reqid, last)
        if error_id(error):
            self.gateway.session.md_login_error(error, self)
        else:
            self.gateway.session.md_retry.reset()
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
        wait_idle(self, CLOSE_WAIT_S, self.gateway.clock)
        super().close()
        self.connect_status = False  # released: exit() must never run twice
        self.login_status = False
