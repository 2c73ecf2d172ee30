"""What a broker refused, as one value: `BrokerError`, handed by a gateway to its listener.

Gateway-neutral (nothing here imports vnpy_ctp): the CTP gateway builds these from its error
replies and request return codes; the core records them as system events, shows them on the
pages and keeps them in MySQL. `reason_text` is the text carried on an order's `extra["reason"]`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.contract import now_ms

BrokerErrorKind = Literal[
    "order_insert",  # an order refused (OnRspOrderInsert, OnErrRtnOrderInsert, a rejected OnRtnOrder)
    "order_action",  # a cancel refused (OnRspOrderAction, OnErrRtnOrderAction)
    "rsp_error",  # OnRspError: a request the front could not take at all
    "settlement",  # the settlement confirmation failed: trading must not start
    "query",  # a query answered with an error (instruments, rates, account, positions)
    "flow_control",  # a request call returned -2/-3: not sent, over CTP's flow limits
    "request_failed",  # a request call returned another non-zero code (-1: network): not sent
    "not_ready",  # an order refused by the gateway itself: not logged in and settled yet
]


def reason_text(error_id: int, message: str) -> str:
    """'ErrorID 31: CTP:资金不足', the text carried on an order's extra["reason"] (the message
    alone when there is no ErrorID, e.g. an exchange's StatusMsg)."""
    return f"ErrorID {error_id}: {message}".strip() if error_id else message.strip()


class BrokerError(BaseModel):
    """One broker error reply or refused request, as the operator should see it."""

    model_config = ConfigDict(frozen=True)

    gateway: str  # vnpy gateway name, "CTP"
    kind: BrokerErrorKind
    error_id: int  # CTP ErrorID (0: none given); for flow_control/request_failed the Req* return code
    message: str  # CTP's ErrorMsg, already decoded from GBK by vnpy_ctp's C++ layer
    request: str  # the CTP request or callback it answers: "ReqOrderInsert", "OnErrRtnOrderAction", ...
    vt_orderid: str = ""  # the order concerned, if any
    symbol: str = ""  # the instrument concerned, if any
    replayed: bool = False  # pushed again by the front's private-flow replay at login (an older error)
    ts_ms: int = Field(default_factory=now_ms)

    @property
    def reason(self) -> str:
        return reason_text(self.error_id, self.message)

    @property
    def text(self) -> str:
        """One line for a system event or a notice: what, on what, why."""
        what = {
            "order_insert": "order rejected",
            "order_action": "cancel rejected",
            "rsp_error": "request refused",
            "settlement": "settlement confirmation failed",
            "query": "query failed",
            "flow_control": "request not sent (flow control)",
            "request_failed": "request not sent",
            "not_ready": "order not sent",
        }[self.kind]
        subject = " ".join(part for part in (self.symbol, self.vt_orderid) if part)
        replay = " (replayed at login)" if self.replayed else ""
        return f"{what}{' ' + subject if subject else ''} [{self.request}]: {self.reason}{replay}"


BrokerErrorListener = Callable[[BrokerError], None]
