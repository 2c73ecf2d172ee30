"""Today's orders and trades asked from CTP (ReqQryOrder, ReqQryTrade): the query fallback's CTP side.

`OrderTradeQuery.start(on_reply)` queues ReqQryOrder, then ReqQryTrade, in the gateway's QueryPacer
(one query in flight, within CTP's flow control, sharing the front with vnpy's account and position
polling). Replies are gathered until their `last` flag and converted exactly as vnpy's
onRtnOrder/onRtnTrade convert the pushed records (orderid FrontID_SessionID_OrderRef, the trade's
orderid from OrderSysID, the CTP record kept in `extra["ctp"]` as the gateway keeps it for pushes),
but nothing is pushed: `on_reply(orders, trades, error)` is called once, on CTP's callback thread,
when both answers are complete. An error reply ends the query with the error text and empty lists,
never read as "no trades". The order replies also teach vnpy's `sysid_orderid_map` (as an order push
would), so a later trade push of an order whose push was lost can still be matched. A query the
front never finishes (a disconnect, a send dropped by the pacer) is abandoned: on a disconnect
silently, otherwise after `ABANDON_AFTER_S` with an error reply.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vnpy.trader.constant import Status
from vnpy.trader.object import OrderData, TradeData
from vnpy_ctp.api import THOST_FTDC_OSS_InsertRejected, THOST_FTDC_OST_Canceled
from vnpy_ctp.gateway.ctp_gateway import (
    CHINA_TZ,
    DIRECTION_CTP2VT,
    OFFSET_CTP2VT,
    ORDERTYPE_CTP2VT,
    STATUS_CTP2VT,
    symbol_contract_map,
)

from common.clock import LIVE
from core_service.broker_errors import reason_text
from core_service.ctp_errors import error_id, error_msg
from core_service.ctp_queries import PendingQuery

if TYPE_CHECKING:
    from core_service.ctp_gateway import ArbigCtpGateway

log = logging.getLogger(__name__)

ABANDON_AFTER_S = 120.0  # queued behind other queries at ~1/s, an answer takes seconds, never minutes
OrderTradeReply = Callable[[list[OrderData], list[TradeData], str], None]


# ---------------------------------------------------------------- conversion (vnpy_ctp's onRtnOrder/onRtnTrade)


def order_from_ctp(data: dict[str, Any], gateway_name: str) -> OrderData | None:
    """The OrderData vnpy's onRtnOrder builds from a CThostFtdcOrderField (None where vnpy would skip it:
    unknown contract, status or order type), with the record in `extra["ctp"]`."""
    contract = symbol_contract_map.get(str(data.get("InstrumentID") or ""))
    status = STATUS_CTP2VT.get(data.get("OrderStatus"))
    order_type = ORDERTYPE_CTP2VT.get((data.get("OrderPriceType"), data.get("TimeCondition"),
                                       data.get("VolumeCondition")))  # fmt: skip
    if contract is None or status is None or order_type is None:
        return None
    if (
        data["OrderStatus"] == THOST_FTDC_OST_Canceled
        and data["OrderSubmitStatus"] == THOST_FTDC_OSS_InsertRejected
    ):
        status = Status.REJECTED  # as vnpy: a cancel caused by a refused insert is a rejection
    orderid = f"{data['FrontID']}_{data['SessionID']}_{data['OrderRef']}"
    order = OrderData(
        symbol=contract.symbol, exchange=contract.exchange, orderid=orderid, type=order_type,
        direction=DIRECTION_CTP2VT[data["Direction"]], offset=OFFSET_CTP2VT[data["CombOffsetFlag"]],
        price=data["LimitPrice"], volume=data["VolumeTotalOriginal"], traded=data["VolumeTraded"], status=status,
        datetime=_when(data["InsertDate"], data["InsertTime"]), gateway_name=gateway_name,
    )  # fmt: skip
    order.extra = {"ctp": dict(data)}
    return order


def trade_from_ctp(data: dict[str, Any], orderid: str, gateway_name: str) -> TradeData | None:
    """The TradeData vnpy's onRtnTrade builds from a CThostFtdcTradeField (None for an unknown contract)."""
    contract = symbol_contract_map.get(str(data.get("InstrumentID") or ""))
    if contract is None:
        return None
    trade = TradeData(
        symbol=contract.symbol, exchange=contract.exchange, orderid=orderid, tradeid=data["TradeID"],
        direction=DIRECTION_CTP2VT[data["Direction"]], offset=OFFSET_CTP2VT[data["OffsetFlag"]], price=data["Price"],
        volume=data["Volume"], datetime=_when(data["TradeDate"], data["TradeTime"]), gateway_name=gateway_name,
    )  # fmt: skip
    trade.extra = {"ctp": dict(data)}
    return trade


def _when(date: str, clock: str) -> datetime:
    return datetime.strptime(f"{date} {clock}", "%Y%m%d %H:%M:%S").replace(tzinfo=CHINA_TZ)


# ---------------------------------------------------------------- one query at a time


@dataclass
class _Run:
    on_reply: OrderTradeReply
    started: float
    order_reqid: int = -1
    trade_reqid: int = -1
    orders: list[OrderData] = field(default_factory=list)
    trade_rows: list[dict[str, Any]] = field(default_factory=list)  # converted once every order is known
    orders_done: bool = False
    trades_done: bool = False
    skipped: int = 0  # records vnpy would not convert either


class OrderTradeQuery:
    """The gateway's one order/trade query: started by `start`, answered by the API's callbacks."""

    def __init__(self, gateway: ArbigCtpGateway, clock: Callable[[], float] = LIVE.monotonic) -> None:
        self.gateway = gateway
        self.clock = clock
        self._lock = threading.Lock()  # never held while calling the pacer or `on_reply`
        self._run: _Run | None = None

    @property
    def running(self) -> bool:
        with self._lock:
            return self._run is not None

    def start(self, on_reply: OrderTradeReply) -> bool:
        """Queue the two queries; False when the session is not ready or a query is running."""
        if not self.gateway.ready:
            return False
        stale: _Run | None = None
        with self._lock:
            if self._run is not None:
                if self.clock() - self._run.started < ABANDON_AFTER_S:
                    return False
                stale = self._run
            self._run = _Run(on_reply, self.clock())
        if stale is not None:
            log.warning(
                "CTP order/trade query unanswered after %.0f s; abandoned, asking again", ABANDON_AFTER_S
            )
            self._reply(
                stale, f"no complete answer to ReqQryOrder/ReqQryTrade within {ABANDON_AFTER_S:.0f} s"
            )
        self.gateway.queries.add(PendingQuery("sync:orders", "ReqQryOrder", lambda: self._send("order")))
        self.gateway.queries.add(PendingQuery("sync:trades", "ReqQryTrade", lambda: self._send("trade")))
        return True

    def abandon(self, why: str) -> None:
        """Forget the running query without answering it (the front went away: a new login asks again)."""
        with self._lock:
            run, self._run = self._run, None
        if run is not None:
            log.info("CTP order/trade query abandoned: %s", why)

    def _send(self, part: str) -> int:
        """Called by the pacer: send ReqQryOrder or ReqQryTrade for the running query."""
        td = self.gateway.td_api
        with self._lock:
            run = self._run
            if run is None:
                return 0  # the query ended (an error, abandoned): nothing to ask, the pacer drops it
            reqid = td.next_reqid()
            if part == "order":
                run.order_reqid = reqid
            else:
                run.trade_reqid = reqid
        req = {"BrokerID": td.brokerid, "InvestorID": td.userid}
        return (td.reqQryOrder if part == "order" else td.reqQryTrade)(req, reqid)

    # ------------------------------------------------------------ replies (CTP's callback thread)

    def order_reply(self, data: dict[str, Any], error: dict[str, Any], reqid: int, last: bool) -> None:
        self._part_reply("order", data, error, reqid, last)

    def trade_reply(self, data: dict[str, Any], error: dict[str, Any], reqid: int, last: bool) -> None:
        self._part_reply("trade", data, error, reqid, last)

    def _part_reply(
        self, part: str, data: dict[str, Any], error: dict[str, Any], reqid: int, last: bool
    ) -> None:
        request = "ReqQryOrder" if part == "order" else "ReqQryTrade"
        failed = bool(error_id(error))
        self.gateway.queries.replied(reqid, last or failed)
        done: _Run | None = None
        with self._lock:
            run = self._run
            if run is None or reqid != (run.order_reqid if part == "order" else run.trade_reqid):
                log.info("CTP %s reply %d belongs to no running query; ignored", request, reqid)
                return
            if failed:
                self._run, done = None, run
            else:
                self._add(run, part, data)
                if last:
                    run.orders_done = run.orders_done or part == "order"
                    run.trades_done = run.trades_done or part == "trade"
                    if run.orders_done and run.trades_done:
                        self._run, done = None, run
        if failed:
            self.gateway.broker_error("query", error, request)
            assert done is not None
            self._reply(done, f"{request} {reason_text(error_id(error), error_msg(error))}")
        elif done is not None:
            self._reply(done, "")

    def _add(self, run: _Run, part: str, data: dict[str, Any]) -> None:
        if not data:  # CTP answers an empty list with one empty record
            return
        if part == "trade":
            run.trade_rows.append(dict(data))
            return
        try:
            order = order_from_ctp(data, self.gateway.gateway_name)
        except (KeyError, ValueError, TypeError):
            order = None
        if order is None:
            run.skipped += 1
            log.warning("CTP order %s_%s_%s (%s) cannot be converted as vnpy would: skipped", data.get("FrontID"),
                        data.get("SessionID"), data.get("OrderRef"), data.get("InstrumentID"))  # fmt: skip
            return
        run.orders.append(order)
        sysid = str(data.get("OrderSysID") or "")
        if sysid:  # as vnpy's onRtnOrder: a trade of this order can be matched from now on
            self.gateway.td_api.sysid_orderid_map[sysid] = order.orderid

    def _reply(self, run: _Run, error: str) -> None:
        orders: list[OrderData] = []
        trades: list[TradeData] = []
        if not error:
            orders, trades = run.orders, self._trades(run)
            log.info("CTP order/trade query answered: %d orders, %d trades (%d records skipped)", len(orders),
                     len(trades), run.skipped)  # fmt: skip
        else:
            log.warning("CTP order/trade query failed: %s", error)
        try:
            run.on_reply(orders, trades, error)
        except Exception:  # never break CTP's callback thread
            log.exception("order/trade query reply handler failed")

    def _trades(self, run: _Run) -> list[TradeData]:
        sysids = self.gateway.td_api.sysid_orderid_map
        trades: list[TradeData] = []
        for data in run.trade_rows:
            orderid = sysids.get(str(data.get("OrderSysID") or ""))
            try:
                trade = trade_from_ctp(data, orderid, self.gateway.gateway_name) if orderid else None
            except (KeyError, ValueError, TypeError):
                trade = None
            if trade is None:
                run.skipped += 1
                log.warning("CTP trade %s of order %s (%s) cannot be converted: unknown order or contract",
                            data.get("TradeID"), data.get("OrderSysID"), data.get("InstrumentID"))  # fmt: skip
                continue
            trades.append(trade)
        return trades
