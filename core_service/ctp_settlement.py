"""The broker's settlement statement (结算单) of the last settled trading day, kept as CTP sends it.

Once per login session, after the settlement is confirmed, `ReqQrySettlementInfo` asks for the
latest statement the broker's counter has generated: an empty TradingDay leaves the day to the
counter, which during a trading day is the previous trading day's statement (today's is only
generated after the day's settlement); the day handed on is the reply's own TradingDay. The query
is informational: it waits in the `QueryPacer`'s idle queue (after the instrument list and the rate
queries, one query in flight at a time between vnpy's polls), so it never delays LOGGED_IN.

The reply comes as CThostFtdcSettlementInfoField records of up to 500 bytes of GBK text each,
`Content` ordered by `SequenceNo`, until `last`. vnpy_ctp passes `Content` as raw bytes (6.7.x:
"[Fix] 清算单中丢弃不完整GBK字符的问题"), because a chunk may end inside a two-byte character: the
chunks are joined in SequenceNo order first and decoded once (GB18030, a superset of GBK).

The statement is handed to `gateway.settlement_listener(accountid, trading_day, text)`. An error
reply is a BrokerError of kind "query"; a refused request (-2/-3) one of kind "flow_control" (as
for every other request). Either way the statement is asked at most once more, `RETRY_DELAY_S`
later. An empty reply (no statement, e.g. a new account) is logged; the listener is not called.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core_service.ctp_errors import error_id
from core_service.ctp_queries import PendingQuery

if TYPE_CHECKING:
    from core_service.ctp_gateway import ArbigCtpGateway

log = logging.getLogger(__name__)

REQUEST = "ReqQrySettlementInfo"
QUERY_KEY = "settlement_info"
MAX_ATTEMPTS = 2  # the first query and at most one retry
RETRY_DELAY_S = 60.0  # "查询未就绪" and flow limits pass within a minute
ENCODING = "gb18030"

SettlementListener = Callable[[str, str, str], None]
"""Called as (accountid, trading_day "YYYYMMDD", statement text) once per statement received."""


def statement_request(broker_id: str, investor_id: str) -> dict[str, Any]:
    """CThostFtdcQrySettlementInfoField: an empty TradingDay asks for the latest statement."""
    return {"BrokerID": broker_id, "InvestorID": investor_id, "TradingDay": ""}


def statement_text(records: list[dict[str, Any]]) -> str:
    """The statement's text: the records' Content in SequenceNo order, joined, then decoded."""
    chunks = []
    for record in sorted(records, key=lambda r: int(r.get("SequenceNo") or 0)):
        content = record.get("Content") or b""
        chunks.append(content if isinstance(content, bytes) else str(content).encode(ENCODING))
    return b"".join(chunks).decode(ENCODING, errors="replace")


class SettlementStatement:
    """Asks for the statement once per login session and collects the multi-part reply."""

    def __init__(self, gateway: ArbigCtpGateway) -> None:
        self.gateway = gateway
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """A new login session: the statement may be asked once again."""
        with self._lock:
            self.asked = False
            self.attempts = 0
            self.reqid = 0  # the request whose reply is being collected (0: none)
            self.records: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}

    def request(self) -> None:
        """The settlement is confirmed: queue the query (once per login session)."""
        with self._lock:
            if self.asked:
                return
            self.asked = True
        self._queue(0.0)

    def _queue(self, delay_s: float) -> None:
        queries = self.gateway.queries
        with self._lock:
            left = MAX_ATTEMPTS - self.attempts
        query = PendingQuery(QUERY_KEY, REQUEST, self._send, max_failures=left, not_before=queries.clock() + delay_s)
        queries.add(query, idle=True)

    def _send(self) -> int:
        """Called by the pacer when the query's turn comes; returns the Req* call's code."""
        td = self.gateway.td_api
        reqid = td.next_reqid()
        with self._lock:
            self.attempts += 1
            self.reqid, self.records = reqid, {}
        code = td.reqQrySettlementInfo(statement_request(td.brokerid, td.userid), reqid)
        if code:
            with self._lock:
                self.reqid = 0
            if self.attempts >= MAX_ATTEMPTS:
                log.warning("CTP settlement statement not asked: the request was refused (code %d)", code)
        return code

    def reply(self, data: dict[str, Any], error: dict[str, Any], reqid: int, last: bool) -> None:
        """One OnRspQrySettlementInfo (CTP's callback thread)."""
        with self._lock:
            if reqid != self.reqid or not reqid:
                return  # an earlier session's or a finished request's
            failed = bool(error_id(error))
            if not failed:
                if data:
                    account = str(data.get("AccountID") or data.get("InvestorID") or self.gateway.td_api.userid)
                    day = str(data.get("TradingDay") or "")
                    parts = self.records.setdefault((account, day), {})
                    parts[int(data.get("SequenceNo") or 0)] = data
                if not last:
                    return
            self.reqid = 0
            records, self.records = self.records, {}
            retry = failed and self.attempts < MAX_ATTEMPTS
        if failed:
            self.gateway.broker_error("query", error, REQUEST)
            if retry:
                self._queue(RETRY_DELAY_S)
            else:
                log.warning("CTP settlement statement not received after %d attempts", MAX_ATTEMPTS)
            return
        self._deliver(records)

    def _deliver(self, records: dict[tuple[str, str], dict[int, dict[str, Any]]]) -> None:
        delivered = 0
        for (account, day), parts in records.items():
            text = statement_text(list(parts.values()))
            if not text.strip():
                continue
            if not day:
                log.warning("CTP settlement statement of %s without a TradingDay: not kept", account)
                continue
            delivered += 1
            log.info("CTP settlement statement of %s for %s received (%d parts, %d characters)",
                     account, day, len(parts), len(text))
            listener = self.gateway.settlement_listener
            if listener is not None:
                try:
                    listener(account, day, text)
                except Exception:
                    log.exception("settlement listener failed")
        if not delivered:
            log.info("CTP settlement statement: the broker returned none (no statement for the last trading day)")
