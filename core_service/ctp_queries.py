"""CTP queries within the front's flow control, and the rate queries' requests and replies.

CTP takes about one query a second and answers -2/-3 to more. vnpy's CtpGateway polls the account
and the positions alternately every second timer tick; `QueryPacer` fits ARBIG's own queries
(the instrument list, margin and commission rates) into the ticks vnpy leaves free, one query in
flight at a time: every query sent (vnpy's included) is in flight until its last reply, an error
reply or `reply_timeout_s`. Informational queries (the settlement statement) wait in a second,
idle queue: sent only when nothing else is queued, and not before their `not_before` time.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common.clock import LIVE
from core_service.contract_rates import ContractRates

log = logging.getLogger(__name__)

HEDGE_SPECULATION = "1"  # THOST_FTDC_HF_Speculation: without it the margin-rate query answers nothing
MAX_SEND_FAILURES = 10


@dataclass
class PendingQuery:
    key: str  # one of each key is queued: "margin:au2612"
    name: str  # the CTP request, "ReqQryInstrumentMarginRate"
    send: Callable[[], int]  # sends it, returns the Req* call's return code
    failures: int = 0
    max_failures: int = MAX_SEND_FAILURES  # refused sends (non-zero return codes) before it is dropped
    not_before: float = 0.0  # idle queries: not sent before this time of the pacer's clock


class QueryPacer:
    """One query in flight at a time; ARBIG's queries wait in a queue for `pump()`."""

    def __init__(self, reply_timeout_s: float = 10.0, clock: Callable[[], float] = LIVE.monotonic) -> None:
        self.reply_timeout_s = reply_timeout_s
        self.clock = clock
        self._lock = threading.RLock()  # held while sending: the Req* wrappers call sent() back
        self._queue: deque[PendingQuery] = deque()
        self._idle: deque[PendingQuery] = deque()  # informational: only when `_queue` is empty
        self._in_flight: tuple[int, str, float] | None = None  # (reqid, name, sent at)

    def sent(self, reqid: int, name: str) -> None:
        """A query left (whoever sent it): nothing else is sent until it is answered."""
        with self._lock:
            self._in_flight = (reqid, name, self.clock())

    def replied(self, reqid: int, last: bool) -> None:
        with self._lock:
            if last and self._in_flight and self._in_flight[0] == reqid:
                self._in_flight = None

    def busy(self) -> bool:
        with self._lock:
            if self._in_flight is None:
                return False
            reqid, name, at = self._in_flight
            if self.clock() - at < self.reply_timeout_s:
                return True
            log.warning("CTP %s (request %d) unanswered after %.0f s; sending the next query",
                        name, reqid, self.reply_timeout_s)
            self._in_flight = None
            return False

    @property
    def in_flight(self) -> str:
        with self._lock:
            return self._in_flight[1] if self._in_flight else ""

    def add(self, query: PendingQuery, *, idle: bool = False) -> None:
        """Queue a query (once per key); `idle` ones wait until nothing else is queued."""
        with self._lock:
            if all(q.key != query.key for q in (*self._queue, *self._idle)):
                (self._idle if idle else self._queue).append(query)

    def pending(self) -> list[str]:
        with self._lock:
            return [q.key for q in self._queue]

    def pending_idle(self) -> list[str]:
        with self._lock:
            return [q.key for q in self._idle]

    def pump(self) -> str:
        """Send the first queued query if nothing is in flight (an idle one only when nothing else
        is queued); returns its key ('' if none sent)."""
        with self._lock:
            if self.busy():
                return ""
            queue, query = self._next()
            if query is None:
                return ""
            code = query.send()
            if code == 0:
                queue.remove(query)
                return query.key
            query.failures += 1  # kept first: sent again on the next free tick
            if query.failures >= query.max_failures:
                log.warning("CTP %s not sent after %d attempts (last code %d); dropped",
                            query.name, query.failures, code)
                queue.remove(query)
            return ""

    def _next(self) -> tuple[deque[PendingQuery], PendingQuery | None]:
        if self._queue:
            return self._queue, self._queue[0]
        now = self.clock()
        return self._idle, next((q for q in self._idle if q.not_before <= now), None)

    def clear(self) -> None:
        """Drop everything (the front disconnected: a new login queues its own queries)."""
        with self._lock:
            self._queue.clear()
            self._idle.clear()
            self._in_flight = None


# ---------------------------------------------------------------- rate queries


def margin_request(broker_id: str, investor_id: str, symbol: str, exchange: str) -> dict[str, Any]:
    """CThostFtdcQryInstrumentMarginRateField for one contract (speculation)."""
    return {"BrokerID": broker_id, "InvestorID": investor_id, "InstrumentID": symbol,
            "ExchangeID": exchange, "HedgeFlag": HEDGE_SPECULATION}


def commission_request(broker_id: str, investor_id: str, symbol: str, exchange: str) -> dict[str, Any]:
    """CThostFtdcQryInstrumentCommissionRateField for one contract."""
    return {"BrokerID": broker_id, "InvestorID": investor_id, "InstrumentID": symbol, "ExchangeID": exchange}


def _ratio(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    return float(value) if isinstance(value, int | float) and abs(value) < 1e300 else 0.0


def with_margin(rates: ContractRates, data: dict[str, Any], ms: int) -> ContractRates:
    """The rates with a CThostFtdcInstrumentMarginRateField reply's figures."""
    return rates.model_copy(update={
        "long_margin_ratio_by_money": _ratio(data, "LongMarginRatioByMoney"),
        "long_margin_ratio_by_volume": _ratio(data, "LongMarginRatioByVolume"),
        "short_margin_ratio_by_money": _ratio(data, "ShortMarginRatioByMoney"),
        "short_margin_ratio_by_volume": _ratio(data, "ShortMarginRatioByVolume"),
        "margin_is_relative": bool(data.get("IsRelative")),
        "exchange": rates.exchange or str(data.get("ExchangeID") or ""),
        "margin_updated_ms": ms,
    })  # fmt: skip


def with_commission(rates: ContractRates, data: dict[str, Any], ms: int) -> ContractRates:
    """The rates with a CThostFtdcInstrumentCommissionRateField reply's figures (brokers often
    answer for the product, InstrumentID "au", rather than the contract)."""
    return rates.model_copy(update={
        "open_ratio_by_money": _ratio(data, "OpenRatioByMoney"),
        "open_ratio_by_volume": _ratio(data, "OpenRatioByVolume"),
        "close_ratio_by_money": _ratio(data, "CloseRatioByMoney"),
        "close_ratio_by_volume": _ratio(data, "CloseRatioByVolume"),
        "close_today_ratio_by_money": _ratio(data, "CloseTodayRatioByMoney"),
        "close_today_ratio_by_volume": _ratio(data, "CloseTodayRatioByVolume"),
        "commission_instrument": str(data.get("InstrumentID") or ""),
        "exchange": rates.exchange or str(data.get("ExchangeID") or ""),
        "commission_updated_ms": ms,
    })  # fmt: skip
