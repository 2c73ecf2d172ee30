"""vnpy's CTP trading API with the broker's truth kept: states, figures, errors and rates.

Each callback stays thin and hands the CTP record to the part that owns it: `CtpSession` (login,
settlement, instruments), `ctp_account` (account and merged SHFE positions), `OrderBook` (insert
and cancel errors), `SettlementStatement` (the settlement statement), `OrderTradeQuery` (the order
and trade queries of the sync fallback), the gateway (rates, BrokerErrors). Every Req* call's
return code is checked: -2/-3 (flow control) and, for orders, -1 become BrokerErrors; sent queries
are tracked by the gateway's `QueryPacer` until their last reply.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from vnpy_ctp.gateway.ctp_gateway import CtpGateway, CtpTdApi, symbol_contract_map

from core_service.ctp_account import PositionBook, account_data
from core_service.ctp_callbacks import CLOSE_WAIT_S, count_callbacks, wait_idle
from core_service.ctp_errors import describe_disconnect, error_id

if TYPE_CHECKING:
    from core_service.ctp_gateway import ArbigCtpGateway

MAX_REQUEST_NAMES = 500


def _checked(name: str) -> Any:
    """Wrap the CTP library's Req* method `name` so its return code reaches the gateway."""

    @functools.wraps(getattr(CtpTdApi, name))
    def request(self: ArbigTdApi, req: dict, reqid: int) -> int:
        code = getattr(super(ArbigTdApi, self), name)(req, reqid)
        self.request_done(name, code, req, reqid)
        return code

    return request


@count_callbacks
class ArbigTdApi(CtpTdApi):
    """Trading API: front, login and settlement states; account, positions, errors and rates."""

    gateway: ArbigCtpGateway

    def __init__(self, gateway: CtpGateway) -> None:
        super().__init__(gateway)
        self.position_book = PositionBook(gateway.gateway_name)
        self.request_names: OrderedDict[int, str] = OrderedDict()  # reqid -> "ReqQryInstrument"
        self.rate_requests: dict[int, str] = {}  # reqid -> the symbol a rate query asked for

    def next_reqid(self) -> int:
        self.reqid += 1
        return self.reqid

    # ------------------------------------------------------------ requests

    reqAuthenticate = _checked("reqAuthenticate")
    reqUserLogin = _checked("reqUserLogin")
    reqSettlementInfoConfirm = _checked("reqSettlementInfoConfirm")
    reqQryInstrument = _checked("reqQryInstrument")
    reqQryTradingAccount = _checked("reqQryTradingAccount")
    reqQryInvestorPosition = _checked("reqQryInvestorPosition")
    reqQryInstrumentMarginRate = _checked("reqQryInstrumentMarginRate")
    reqQryInstrumentCommissionRate = _checked("reqQryInstrumentCommissionRate")
    reqQrySettlementInfo = _checked("reqQrySettlementInfo")
    reqQryOrder = _checked("reqQryOrder")
    reqQryTrade = _checked("reqQryTrade")
    reqOrderInsert = _checked("reqOrderInsert")
    reqOrderAction = _checked("reqOrderAction")

    def request_done(self, name: str, code: int, req: dict, reqid: int) -> None:
        request = "R" + name[1:]  # "ReqQryInstrument", as CTP names it
        if code == 0:
            self.request_names[reqid] = request
            while len(self.request_names) > MAX_REQUEST_NAMES:
                self.request_names.popitem(last=False)
            if request.startswith("ReqQry"):
                self.gateway.queries.sent(reqid, request)
        else:
            self.gateway.request_refused(request, code, req)

    # ------------------------------------------------------------ front, login, settlement

    def onFrontConnected(self) -> None:
        self.gateway.session.connected()
        super().onFrontConnected()

    def onFrontDisconnected(self, reason: int) -> None:
        super().onFrontDisconnected(reason)
        self.position_book.reset()
        self.gateway.order_queries.abandon("the front disconnected")
        self.gateway.session.disconnected(describe_disconnect(reason))

    def onRspAuthenticate(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        super().onRspAuthenticate(data, error, reqid, last)
        if error_id(error):
            self.gateway.session.login_error("authentication", error, self)

    def onRspUserLogin(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        if not error_id(error):
            self.gateway.session.logged_in(data)  # SETTLING before vnpy asks for the confirmation
        super().onRspUserLogin(data, error, reqid, last)
        if error_id(error):
            self.gateway.session.login_error("login", error, self)

    def onRspSettlementInfoConfirm(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        # Not vnpy's: it ignores the error and loops (sleeping) on ReqQryInstrument in this thread.
        if error_id(error):
            self.gateway.write_error("结算信息确认失败", error)
            self.gateway.session.settlement_failed(error)
            return
        self.gateway.write_log("结算信息确认成功")
        self.gateway.session.settlement_confirmed(data or {})

    def onRspQryInstrument(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        self.gateway.queries.replied(reqid, last)
        if error_id(error):
            if last:
                self.gateway.session.instruments_failed(error)
            return
        if data:
            super().onRspQryInstrument(data, error, reqid, last)
        elif last:  # an empty last reply: vnpy's own end-of-list steps
            self.contract_inited = True
            for order in self.order_data:
                self.onRtnOrder(order)
            self.order_data.clear()
            for trade in self.trade_data:
                self.onRtnTrade(trade)
            self.trade_data.clear()
        if last:
            self.gateway.session.instruments_done()

    def onRspError(self, error: dict, reqid: int, last: bool) -> None:
        self.gateway.queries.replied(reqid, True)
        self.gateway.broker_error("rsp_error", error, self.request_names.get(reqid, f"request {reqid}"))

    # ------------------------------------------------------------ account, positions, rates

    def onRspQryTradingAccount(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        self.gateway.queries.replied(reqid, last)
        if error_id(error):
            self.gateway.broker_error("query", error, "ReqQryTradingAccount")
        elif data and "AccountID" in data:
            self.gateway.on_account(account_data(data, self.gateway_name))

    def onRspQryInvestorPosition(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        self.gateway.queries.replied(reqid, last)
        if error_id(error):  # never read an error reply as "no positions"
            self.position_book.reset()
            self.gateway.broker_error("query", error, "ReqQryInvestorPosition")
            return
        contract = symbol_contract_map.get(str((data or {}).get("InstrumentID") or ""))
        if contract:
            self.position_book.add(data, reqid, contract.exchange, contract.size)
        if last:
            for position in self.position_book.finish(reqid):
                self.gateway.on_position(position)

    def onRspQryInstrumentMarginRate(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        self._rate_reply("margin", data, error, reqid, last)

    def onRspQryInstrumentCommissionRate(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        self._rate_reply("commission", data, error, reqid, last)

    def _rate_reply(self, part: str, data: dict, error: dict, reqid: int, last: bool) -> None:
        self.gateway.queries.replied(reqid, last)
        symbol = (self.rate_requests.pop(reqid, "") if last else self.rate_requests.get(reqid, "")) or str(
            (data or {}).get("InstrumentID") or ""
        )
        request = "ReqQryInstrumentMarginRate" if part == "margin" else "ReqQryInstrumentCommissionRate"
        if error_id(error):
            self.gateway.broker_error("query", error, request, symbol=symbol)
        elif data and symbol:
            self.gateway.rates_reply(part, symbol, data)

    def onRspQrySettlementInfo(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        self.gateway.queries.replied(reqid, last or bool(error_id(error)))
        self.gateway.statement.reply(data or {}, error, reqid, last)

    # ------------------------------------------------------------ orders and trades

    def onRspOrderInsert(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        vnpy = functools.partial(CtpTdApi.onRspOrderInsert, self, data, error, reqid, last)
        self.gateway.orders.insert_refused(data, error, "OnRspOrderInsert", vnpy)

    def onErrRtnOrderInsert(self, data: dict, error: dict) -> None:
        vnpy = functools.partial(CtpTdApi.onRspOrderInsert, self, data, error, 0, True)
        self.gateway.orders.insert_refused(data, error, "OnErrRtnOrderInsert", vnpy)

    def onRspOrderAction(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        super().onRspOrderAction(data, error, reqid, last)  # vnpy logs it
        self.gateway.orders.cancel_refused(data or {}, error, "OnRspOrderAction")

    def onErrRtnOrderAction(self, data: dict, error: dict) -> None:
        self.gateway.write_error("交易撤单失败", error)
        self.gateway.orders.cancel_refused(data or {}, error, "OnErrRtnOrderAction")

    def onRspQryOrder(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        self.gateway.order_queries.order_reply(data, error, reqid, last)  # gathered, never pushed

    def onRspQryTrade(self, data: dict, error: dict, reqid: int, last: bool) -> None:
        self.gateway.order_queries.trade_reply(data, error, reqid, last)

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

    # ------------------------------------------------------------ our own steps

    def authenticate(self) -> None:
        if self.login_failed:
            return  # vnpy would re-authenticate after a failed login on every reconnect
        super().authenticate()

    def query_rates(self, part: str, symbol: str, req: dict[str, Any]) -> int:
        """Send one rate query (called by the gateway's QueryPacer)."""
        reqid = self.next_reqid()
        self.rate_requests[reqid] = symbol
        send = self.reqQryInstrumentMarginRate if part == "margin" else self.reqQryInstrumentCommissionRate
        code = send(req, reqid)
        if code:
            self.rate_requests.pop(reqid, None)
        return code

    def close(self) -> None:
        """Release the C++ API once, when no callback is running."""
        if not self.connect_status:
            return
        wait_idle(self, CLOSE_WAIT_S, self.gateway.clock)
        super().close()
        self.connect_status = False  # released: exit() must never run twice
        self.login_status = False
