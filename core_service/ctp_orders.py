"""Order insert and cancel errors from CTP: a BrokerError each, and the reason on the order.

A refused insert (OnRspOrderInsert, OnErrRtnOrderInsert, or an OnRtnOrder the exchange rejected)
emits the order REJECTED with `extra["reason"]` = "ErrorID 31: CTP:资金不足"; the reason stays on
every later update of that order. A refused cancel (OnRspOrderAction, OnErrRtnOrderAction) emits
the order again with its status unchanged and `extra["reason"]` = "cancel failed: ErrorID 26: ...".
CTP answers a refused request both ways (Rsp and ErrRtn): each failure is reported once. An ErrRtn
that arrives before the session is ready is the private flow replaying earlier sessions: it is
reported with `replayed=True` and changes no order (its OrderRef is not of this session).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from copy import copy
from typing import TYPE_CHECKING, Any

from vnpy.trader.constant import Status
from vnpy.trader.object import OrderData

from core_service.broker_errors import reason_text
from core_service.ctp_errors import error_id, error_msg

if TYPE_CHECKING:
    from core_service.ctp_gateway import ArbigCtpGateway

log = logging.getLogger(__name__)

MAX_ORDERS = 5000  # orders remembered (a day's worth; CTP replays the day's orders at login)
REPEAT_WINDOW_S = 2.0  # a cancel failure answered by both Rsp and ErrRtn within this is one


class OrderBook:
    """The last state of each order this gateway emitted, and the reasons that stick to them."""

    def __init__(self, gateway: ArbigCtpGateway) -> None:
        self.gateway = gateway
        self.orders: OrderedDict[str, OrderData] = OrderedDict()
        self.reasons: dict[str, str] = {}  # vt_orderid -> why the broker refused the insert
        self._recent: dict[tuple[str, str, int], float] = {}  # (kind, vt_orderid, ErrorID) -> when
        self._lock = threading.Lock()  # send_order's thread and CTP's callback thread both emit orders

    def remember(self, order: OrderData) -> None:
        with self._lock:
            self.orders[order.vt_orderid] = order
            self.orders.move_to_end(order.vt_orderid)
            while len(self.orders) > MAX_ORDERS:
                old, _ = self.orders.popitem(last=False)
                self.reasons.pop(old, None)

    def vt_orderid(self, data: dict[str, Any]) -> str:
        """The vnpy order id an insert/action record is about ('' if it cannot be told)."""
        td = self.gateway.td_api
        ref = str(data.get("OrderRef") or "").strip()
        front, session = data.get("FrontID"), data.get("SessionID")
        if ref and front is not None and session is not None and (front or session):
            return f"{self.gateway.gateway_name}.{front}_{session}_{ref}"
        if ref and "FrontID" not in data:  # CThostFtdcInputOrderField: our own session's reference
            return f"{self.gateway.gateway_name}.{td.frontid}_{td.sessionid}_{ref}"
        orderid = td.sysid_orderid_map.get(str(data.get("OrderSysID") or ""))
        return f"{self.gateway.gateway_name}.{orderid}" if orderid else ""

    def _first(self, kind: str, vt_orderid: str, code: int) -> bool:
        now = self.gateway.clock.monotonic()
        key = (kind, vt_orderid, code)
        self._recent = {k: t for k, t in self._recent.items() if now - t < REPEAT_WINDOW_S}
        if key in self._recent:
            return False
        self._recent[key] = now
        return True

    # ------------------------------------------------------------ inserts

    def insert_refused(
        self, data: dict[str, Any], error: dict[str, Any], request: str, vnpy_reject: Callable[[], None] | None
    ) -> None:
        """An insert refused by the broker; `vnpy_reject` emits vnpy's own REJECTED order when we
        never saw the order (None: do not build one)."""
        replayed = request.startswith("OnErrRtn") and not self.gateway.session.ready
        vt_orderid = "" if replayed else self.vt_orderid(data)
        symbol = str(data.get("InstrumentID") or "")
        reason = reason_text(error_id(error), error_msg(error))
        if vt_orderid and vt_orderid in self.reasons:
            return  # already refused: CTP answers both OnRspOrderInsert and OnErrRtnOrderInsert
        known = self.orders.get(vt_orderid) if vt_orderid else None
        if known is not None and known.status == Status.SUBMITTING:
            self.reasons[vt_orderid] = reason
            rejected = copy(known)
            rejected.status = Status.REJECTED
            rejected.extra = {**(known.extra or {}), "reason": reason, "ctp": dict(data)}
            self.gateway.on_order(rejected)
        elif vt_orderid and known is None and vnpy_reject is not None:
            self.reasons[vt_orderid] = reason
            try:
                vnpy_reject()  # vnpy builds the REJECTED order; on_order adds the reason
            except KeyError:
                log.warning("CTP refused an order for unknown contract %s: %s", symbol, reason)
        self.gateway.broker_error("order_insert", error, request, vt_orderid=vt_orderid, symbol=symbol,
                                  replayed=replayed)

    def rejected_by_rtn(self, order: OrderData, raw: dict[str, Any]) -> str:
        """An OnRtnOrder the exchange rejected: its StatusMsg becomes the reason (reported once)."""
        message = str(raw.get("StatusMsg") or "").strip() or "rejected"
        if order.vt_orderid not in self.reasons:
            self.reasons[order.vt_orderid] = message
            self.gateway.broker_error(
                "order_insert", {"ErrorID": 0, "ErrorMsg": message}, "OnRtnOrder", vt_orderid=order.vt_orderid,
                symbol=order.symbol, replayed=not self.gateway.session.ready,
            )  # fmt: skip
        return self.reasons[order.vt_orderid]

    # ------------------------------------------------------------ cancels

    def cancel_refused(self, data: dict[str, Any], error: dict[str, Any], request: str) -> None:
        replayed = request.startswith("OnErrRtn") and not self.gateway.session.ready
        vt_orderid = self.vt_orderid(data)
        code = error_id(error)
        if not self._first("order_action", vt_orderid, code):
            return
        known = self.orders.get(vt_orderid)
        if known is not None and not replayed:
            again = copy(known)  # the order keeps its status: only the reason is new
            again.extra = {**(known.extra or {}), "reason": f"cancel failed: {reason_text(code, error_msg(error))}"}
            self.gateway.on_order(again)
        self.gateway.broker_error("order_action", error, request, vt_orderid=vt_orderid,
                                  symbol=str(data.get("InstrumentID") or ""), replayed=replayed)
