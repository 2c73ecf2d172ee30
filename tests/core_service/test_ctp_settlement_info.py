"""The broker's settlement statement (ReqQrySettlementInfo) on the CTP gateway, kept as sent.

The project's real ArbigCtpGateway on a real MainEngine; only the CTP library's request calls are
scripted (`ScriptedTdApi`), and the front's answers go in through the API's own callbacks as
CTP-shaped records (CThostFtdcSettlementInfoField of ThostFtdcUserApiStruct.h; `Content` as raw GBK
bytes, as vnpy_ctp's C++ layer passes it). vnpy's timer is driven by hand (`process_timer_event`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Direction, Exchange, Offset, OrderType
from vnpy.trader.engine import MainEngine
from vnpy.trader.event import EVENT_TIMER
from vnpy.trader.object import OrderRequest, SubscribeRequest
from vnpy_ctp.gateway.ctp_gateway import symbol_contract_map

from common.contract import GatewayState
from core_service.broker_errors import BrokerError
from core_service.ctp_gateway import ArbigCtpGateway
from core_service.ctp_settlement import RETRY_DELAY_S
from tests.core_service.ctp_fronts import FrontScript, ScriptedTdApi, scripted_gateway

REQUEST = "ReqQrySettlementInfo"
NOT_READY = {"ErrorID": 90, "ErrorMsg": "CTP：查询未就绪，请稍后重试"}
BUSY = {"ErrorID": 154, "ErrorMsg": "CTP:查询核心忙 请稍后重试"}
ORDER = OrderRequest(symbol="au2612", exchange=Exchange.SHFE, direction=Direction.LONG, type=OrderType.LIMIT,
                     volume=1, price=600.0, offset=Offset.OPEN, reference="operator")

STATEMENT = (
    "                                    期货公司结算中心\r\n"
    "                         交易结算单(盯市) Settlement Statement(MTM)\r\n"
    "客户号 Client ID：  000001          客户名称 Client Name：测试客户\r\n"
    "日期 Date：20261123\r\n"
    "\r\n"
    "                    资金状况  币种：人民币  Account Summary  Currency：CNY\r\n"
    "上日结存 Balance b/f：            1000000.00  基础保证金 Initial Margin：           0.00\r\n"
    "出 入 金 Deposit/Withdrawal：       30000.00  期末结存 Balance c/f：          1039072.72\r\n"
    "平仓盈亏 Realized P/L：             12340.00  质 押 金 Pledge Amount：              0.00\r\n"
    "持仓盯市盈亏 MTM P/L：              -3210.50  客户权益 Client Equity：        1039072.72\r\n"
    "手 续 费 Commission：                  56.78  保证金占用 Margin Occupied：     240000.00\r\n"
    "\r\n"
    "                              成交记录 Transaction Record\r\n"
    "|成交日期| 交易所 |   品种   |   合约   |买/卖|  投/保  |  成交价  | 手数 |   成交额   |   开平   | 手续费 |\r\n"
    "|20261123|上期所  |黄金      |  au2612  |  买 |  投机   |  600.100 |     2|  1200200.00|   开     |   20.00|\r\n"
    "|20261123|上期所  |黄金      |  au2612  |  卖 |  投机   |  606.270 |     2|  1212540.00|   平     |   20.00|\r\n"
    "共   2条\r\n"
)
RAW = STATEMENT.encode("gb18030")


def cut_inside_a_character(raw: bytes, near: int) -> int:
    """The first offset from `near` on that splits a two-byte character (as CTP's 500-byte chunks do)."""

    def whole(part: bytes) -> bool:
        try:
            part.decode("gb18030")
        except UnicodeDecodeError:
            return False
        return True

    return next(i for i in range(near, len(raw)) if not whole(raw[:i]))


CUTS = (cut_inside_a_character(RAW, len(RAW) // 3), cut_inside_a_character(RAW, 2 * len(RAW) // 3))
CHUNKS = (RAW[: CUTS[0]], RAW[CUTS[0] : CUTS[1]], RAW[CUTS[1] :])


def settlement_info(seq: int, content: bytes, day: str = "20261123") -> dict[str, Any]:
    """A CThostFtdcSettlementInfoField record as vnpy_ctp passes it (Content: raw GBK bytes)."""
    return {"TradingDay": day, "SettlementID": 1, "BrokerID": "9999", "InvestorID": "000001", "SequenceNo": seq,
            "Content": content, "AccountID": "000001", "CurrencyID": "CNY"}


@dataclass
class Ctp:
    gw: ArbigCtpGateway
    front: FrontScript
    td: ScriptedTdApi
    statements: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[BrokerError] = field(default_factory=list)
    now: list[float] = field(default_factory=lambda: [1000.0])  # the query pacer's clock

    def asked(self) -> int:
        return len(self.td.requests(REQUEST))

    def tick(self, times: int = 1) -> None:
        for _ in range(times):  # what vnpy's EventEngine does every second
            self.gw.process_timer_event(Event(EVENT_TIMER))

    def answer_polls(self) -> None:
        """Answer vnpy's own account or position query if it is in flight (nothing held)."""
        name = self.gw.queries.in_flight
        if name == "ReqQryTradingAccount":
            self.td.onRspQryTradingAccount({}, {}, self.front.last(name)[1], True)
        elif name == "ReqQryInvestorPosition":
            self.td.onRspQryInvestorPosition({}, {}, self.front.last(name)[1], True)

    def run(self, ticks: int) -> None:
        """Let `ticks` timer ticks pass with vnpy's polls answered."""
        for _ in range(ticks):
            self.answer_polls()
            self.tick()
        self.answer_polls()

    def until_asked(self, ticks: int = 8) -> int:
        """Tick (answering vnpy's polls) until the statement is asked; its request id."""
        before = self.asked()
        for _ in range(ticks):
            self.answer_polls()
            self.tick()
            if self.asked() > before:
                req, reqid = self.front.last(REQUEST)
                assert req == {"BrokerID": "9999", "InvestorID": "000001", "TradingDay": ""}
                return reqid
        raise AssertionError(f"{REQUEST} not sent in {ticks} ticks; sent: {self.td.names()}")


@pytest.fixture
def ctp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctp]:
    monkeypatch.chdir(Path.cwd())  # MainEngine chdirs to TRADER_DIR: restore the cwd afterwards
    engine = MainEngine(EventEngine())
    gw = scripted_gateway(engine)
    ctp = Ctp(gw, FrontScript(gw), gw.td_api)
    gw.queries.clock = lambda: ctp.now[0]
    gw.broker_error_listener = ctp.errors.append
    gw.settlement_listener = lambda account, day, text: ctp.statements.append((account, day, text))
    try:
        yield ctp
    finally:
        engine.close()
        for symbol in ("au2612", "au2702"):
            symbol_contract_map.pop(symbol, None)


def test_the_statement_test_data_splits_characters_across_chunks() -> None:
    for chunk in CHUNKS[:2]:  # decoding each chunk by itself would lose or garble characters
        with pytest.raises(UnicodeDecodeError):
            chunk.decode("gb18030")
    assert b"".join(CHUNKS) == RAW and all(0 < len(chunk) <= 500 for chunk in CHUNKS)


def test_asked_after_the_confirmation_and_handed_on_whole_once_per_session(ctp: Ctp) -> None:
    ctp.front.login()
    ctp.tick(2)  # nothing asks for it while the settlement is not confirmed
    assert ctp.asked() == 0 and ctp.gw.queries.pending_idle() == []

    ctp.front.confirm()
    assert ctp.gw.queries.in_flight == "ReqQryInstrument" and ctp.gw.queries.pending_idle() == ["settlement_info"]
    ctp.tick(2)  # the instrument list is being answered: the statement waits
    assert ctp.asked() == 0
    ctp.front.instruments("au2612")
    assert ctp.gw.status_tracker.current.state == GatewayState.LOGGED_IN and ctp.asked() == 0

    reqid = ctp.until_asked()
    for seq in (3, 1):  # the parts out of SequenceNo order; nothing is handed on before the last
        ctp.td.onRspQrySettlementInfo(settlement_info(seq, CHUNKS[seq - 1]), {}, reqid, False)
        assert ctp.statements == []
    ctp.td.onRspQrySettlementInfo(settlement_info(2, CHUNKS[1]), {}, reqid, True)
    assert ctp.statements == [("000001", "20261123", STATEMENT)]
    assert ctp.gw.queries.in_flight == ""

    ctp.td.onRspQrySettlementInfo(settlement_info(2, CHUNKS[1]), {}, reqid, True)  # a late duplicate
    ctp.now[0] += 10 * RETRY_DELAY_S
    ctp.run(8)
    assert ctp.asked() == 1 and len(ctp.statements) == 1 and ctp.errors == []

    ctp.td.onFrontDisconnected(0x1001)  # a new login session asks once again
    ctp.front.ready("au2612")
    reqid = ctp.until_asked()
    ctp.td.onRspQrySettlementInfo(settlement_info(1, RAW), {}, reqid, True)
    assert ctp.asked() == 2 and ctp.statements[-1] == ("000001", "20261123", STATEMENT)


def test_one_query_in_flight_between_vnpys_polls_and_after_the_rates(ctp: Ctp) -> None:
    overlaps: list[tuple[str, str]] = []
    sent_by_tick: list[list[str]] = []
    record = ctp.gw.queries.sent

    def sent(reqid: int, name: str) -> None:
        if ctp.gw.queries.busy():
            overlaps.append((ctp.gw.queries.in_flight, name))
        record(reqid, name)

    ctp.gw.queries.sent = sent  # type: ignore[method-assign]
    ctp.gw.subscribe(SubscribeRequest("au2612", Exchange.SHFE))  # its rates are asked at login too
    ctp.tick()  # vnpy's next tick is its poll
    ctp.front.ready("au2612")
    assert ctp.gw.queries.pending() == ["margin:au2612", "commission:au2612"]

    parts = iter([(3, CHUNKS[2], False), (1, CHUNKS[0], False), (2, CHUNKS[1], True)])
    held = False
    for _ in range(12):
        before = len(ctp.td.sent)
        ctp.tick()
        sent_by_tick.append(ctp.td.names()[before:])
        name = ctp.gw.queries.in_flight  # answered at once, one part a tick for the statement
        _, reqid = ctp.front.last(name) if name else ({}, 0)
        if name == REQUEST:
            seq, chunk, last = next(parts)
            ctp.td.onRspQrySettlementInfo(settlement_info(seq, chunk), {}, reqid, last)
        elif name == "ReqQryInstrumentMarginRate":
            ctp.td.onRspQryInstrumentMarginRate({}, {}, reqid, True)
        elif name == "ReqQryInstrumentCommissionRate":
            ctp.td.onRspQryInstrumentCommissionRate({}, {}, reqid, True)
        elif ctp.gw.queries.pending_idle() and not ctp.gw.queries.pending() and not held:
            held = True  # the statement's turn comes while vnpy's poll is unanswered: it waits
        else:
            ctp.answer_polls()

    assert overlaps == [] and all(len(names) <= 1 for names in sent_by_tick)
    queries = [names[0] for names in sent_by_tick if names]
    assert queries[:7] == ["ReqQryTradingAccount", "ReqQryInstrumentMarginRate", "ReqQryInvestorPosition",
                           "ReqQryInstrumentCommissionRate", "ReqQryTradingAccount", "ReqQryInvestorPosition",
                           REQUEST]  # vnpy's polls and the rates first; then one free tick
    assert sent_by_tick[4:8] == [["ReqQryTradingAccount"], [], ["ReqQryInvestorPosition"], [REQUEST]]
    assert queries.count(REQUEST) == 1
    at = sent_by_tick.index([REQUEST])  # its 3 parts come one a tick: vnpy's next poll waits for the last
    assert sent_by_tick[at + 1 : at + 4] == [[], [], ["ReqQryInvestorPosition"]]
    assert ctp.statements == [("000001", "20261123", STATEMENT)]


def test_an_error_reply_is_a_broker_error_and_asked_once_more_later(ctp: Ctp) -> None:
    ctp.front.ready("au2612")
    reqid = ctp.until_asked()
    ctp.td.onRspQrySettlementInfo({}, NOT_READY, reqid, True)
    assert [(e.kind, e.error_id, e.message, e.request) for e in ctp.errors] == [
        ("query", 90, "CTP：查询未就绪，请稍后重试", REQUEST)]
    assert ctp.errors[0].text == f"query failed [{REQUEST}]: ErrorID 90: CTP：查询未就绪，请稍后重试"
    assert ctp.gw.queries.in_flight == ""

    ctp.run(8)  # later, not on the next free tick
    assert ctp.asked() == 1
    ctp.now[0] += RETRY_DELAY_S
    reqid = ctp.until_asked()
    ctp.td.onRspQrySettlementInfo({}, BUSY, reqid, True)
    assert [(e.kind, e.error_id, e.request) for e in ctp.errors] == [("query", 90, REQUEST), ("query", 154, REQUEST)]

    ctp.now[0] += 10 * RETRY_DELAY_S  # at most once more: never a third time
    ctp.run(8)
    assert ctp.asked() == 2 and ctp.gw.queries.pending_idle() == [] and ctp.statements == []


def test_a_flow_control_refusal_counts_as_the_one_retry(ctp: Ctp) -> None:
    ctp.td.codes = {REQUEST: [-3]}
    ctp.front.ready("au2612")
    ctp.until_asked()  # refused: nothing went out
    assert [(e.kind, e.error_id, e.request) for e in ctp.errors] == [("flow_control", -3, REQUEST)]
    assert ctp.gw.queries.in_flight == "" and ctp.gw.queries.pending_idle() == ["settlement_info"]

    reqid = ctp.until_asked()  # sent on a later free tick, one query in flight
    assert ctp.gw.queries.in_flight == REQUEST
    ctp.td.onRspQrySettlementInfo({}, BUSY, reqid, True)
    assert [(e.kind, e.error_id) for e in ctp.errors] == [("flow_control", -3), ("query", 154)]
    ctp.now[0] += 10 * RETRY_DELAY_S
    ctp.run(8)
    assert ctp.asked() == 2 and ctp.statements == []


@pytest.mark.parametrize("record", [{}, settlement_info(1, b"")], ids=["no record", "empty content"])
def test_no_statement_calls_nothing_and_says_so(
    ctp: Ctp, caplog: pytest.LogCaptureFixture, record: dict[str, Any]
) -> None:
    ctp.front.ready("au2612")
    reqid = ctp.until_asked()
    with caplog.at_level(logging.INFO, logger="core_service.ctp_settlement"):
        ctp.td.onRspQrySettlementInfo(record, {}, reqid, True)  # a new account: no statement yet
    assert ctp.statements == [] and ctp.errors == [] and ctp.gw.queries.in_flight == ""
    assert any("returned none" in r.getMessage() for r in caplog.records if r.name == "core_service.ctp_settlement")
    ctp.now[0] += 10 * RETRY_DELAY_S
    ctp.run(8)
    assert ctp.asked() == 1


def test_logged_in_and_trading_without_waiting_for_the_statement(ctp: Ctp) -> None:
    ctp.front.login()
    ctp.front.confirm()
    _, reqid = ctp.front.last("ReqQryInstrument")
    ctp.td.onRspQryInstrument({}, NOT_READY, reqid, True)  # the instrument list is asked again first
    assert ctp.td.names()[-2:] == ["ReqQryInstrument", "ReqQryInstrument"] and ctp.asked() == 0
    ctp.front.instruments("au2612")
    assert ctp.gw.status_tracker.current.state == GatewayState.LOGGED_IN and ctp.gw.ready

    reqid = ctp.until_asked()
    ctp.td.onRspQrySettlementInfo(settlement_info(1, CHUNKS[0]), {}, reqid, False)  # still coming
    assert ctp.gw.send_order(ORDER) == "CTP.1_7_1"
    assert ctp.front.last("ReqOrderInsert")[0]["InstrumentID"] == "au2612"
    assert ctp.gw.status_tracker.current.state == GatewayState.LOGGED_IN and ctp.statements == []
