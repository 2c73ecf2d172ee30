"""The order/trade query fallback on the CTP gateway: ReqQryOrder/ReqQryTrade within the flow control,
their replies gathered and converted as vnpy converts the pushes, errors never read as "no trades".

The project's real ArbigCtpGateway and ArbigTdApi on a real MainEngine; only the CTP library's
request calls are scripted, and the front's answers go in through the API's own callbacks as
CTP-shaped records (CThostFtdcOrderField, CThostFtdcTradeField of ThostFtdcUserApiStruct.h).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Direction, Offset, Status
from vnpy.trader.engine import MainEngine
from vnpy.trader.event import EVENT_ORDER, EVENT_TIMER, EVENT_TRADE
from vnpy.trader.object import OrderData, TradeData
from vnpy_ctp.gateway.ctp_gateway import symbol_contract_map

from common.config import SyncConfig
from core_service.broker_errors import BrokerError
from core_service.ctp_gateway import ArbigCtpGateway
from core_service.ctp_order_queries import ABANDON_AFTER_S
from core_service.ctp_td_api import ArbigTdApi
from core_service.order_sync import OrderSync
from core_service.records import dump
from core_service.risk_events import RiskDesk
from tests.core_service.ctp_fronts import FrontScript, ScriptedTdLibrary, _scripted, scripted_gateway
from tests.helpers import eventually


class QueryTdLibrary(ScriptedTdLibrary):
    """The scripted library, answering the order and trade queries too."""


for _method in ("reqQryOrder", "reqQryTrade"):
    setattr(QueryTdLibrary, _method, _scripted(_method))


class QueryTdApi(ArbigTdApi, QueryTdLibrary):
    """ArbigTdApi (all of its code and vnpy's) with the library's request side scripted."""


Answer = tuple[list[OrderData], list[TradeData], str]


@dataclass
class Ctp:
    engine: MainEngine
    gw: ArbigCtpGateway
    front: FrontScript
    td: QueryTdApi
    answers: list[Answer] = field(default_factory=list)
    pushed: dict[str, list[Any]] = field(default_factory=lambda: {EVENT_ORDER: [], EVENT_TRADE: []})
    errors: list[BrokerError] = field(default_factory=list)

    def on_reply(self, orders: list[OrderData], trades: list[TradeData], error: str) -> None:
        self.answers.append((orders, trades, error))

    def sent(self, name: str) -> list[tuple[dict, int]]:
        return self.td.requests(name)


@pytest.fixture
def ctp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctp]:
    monkeypatch.chdir(Path.cwd())  # MainEngine chdirs to TRADER_DIR: restore the cwd afterwards
    engine = MainEngine(EventEngine())
    gw = scripted_gateway(engine)
    gw.td_api = QueryTdApi(gw)
    gw.td_api.userid, gw.td_api.brokerid = "000001", "9999"
    ctp = Ctp(engine, gw, FrontScript(gw), gw.td_api)
    for kind in (EVENT_ORDER, EVENT_TRADE):
        engine.event_engine.register(kind, lambda event, k=kind: ctp.pushed[k].append(event.data))
    gw.broker_error_listener = ctp.errors.append
    ctp.front.ready("au2612", "au2702")
    try:
        yield ctp
    finally:
        engine.close()
        for symbol in ("au2612", "au2702"):
            symbol_contract_map.pop(symbol, None)


# ---------------------------------------------------------------- CTP-shaped records


def ctp_order(
    ref: str,
    sysid: str,
    status: str,
    traded: int,
    *,
    front: int = 1,
    session: int = 7,
    direction: str = "0",
    offset: str = "0",
    volume: int = 2,
    price: float = 600.0,
    symbol: str = "au2612",
    submit: str = "3",
    message: str = "全部成交",
) -> dict[str, Any]:
    """A CThostFtdcOrderField (v6.7) as ReqQryOrder and OnRtnOrder carry it."""
    return {
        "BrokerID": "9999", "InvestorID": "000001", "reserve1": "", "OrderRef": ref, "UserID": "000001",
        "OrderPriceType": "2", "Direction": direction, "CombOffsetFlag": offset, "CombHedgeFlag": "1",
        "LimitPrice": price, "VolumeTotalOriginal": volume, "TimeCondition": "3", "GTDDate": "",
        "VolumeCondition": "1", "MinVolume": 1, "ContingentCondition": "1", "StopPrice": 0.0, "ForceCloseReason": "0",
        "IsAutoSuspend": 0, "BusinessUnit": "", "RequestID": 0, "OrderLocalID": f"{ref:>12}", "ExchangeID": "SHFE",
        "ParticipantID": "0001", "ClientID": "00000001", "reserve2": "", "TraderID": "0001xx1", "InstallID": 1,
        "OrderSubmitStatus": submit, "NotifySequence": 1, "TradingDay": "20261124", "SettlementID": 1,
        "OrderSysID": sysid, "OrderSource": "0", "OrderStatus": status, "OrderType": "0", "VolumeTraded": traded,
        "VolumeTotal": volume - traded, "InsertDate": "20261123", "InsertTime": "21:05:01", "ActiveTime": "",
        "SuspendTime": "", "UpdateTime": "", "CancelTime": "", "ActiveTraderID": "0001xx1", "ClearingPartID": "",
        "SequenceNo": 12, "FrontID": front, "SessionID": session, "UserProductInfo": "", "StatusMsg": message,
        "UserForceClose": 0, "ActiveUserID": "", "BrokerOrderSeq": 345, "RelativeOrderSysID": "",
        "ZCETotalTradedVolume": 0, "IsSwapOrder": 0, "BranchID": "", "InvestUnitID": "", "AccountID": "",
        "CurrencyID": "", "reserve3": "", "MacAddress": "", "InstrumentID": symbol, "ExchangeInstID": symbol,
        "IPAddress": "", "OrderMemo": "", "SessionReqSeq": 0,
    }  # fmt: skip


def ctp_trade(
    ref: str,
    sysid: str,
    tradeid: str,
    volume: int,
    *,
    direction: str = "0",
    offset: str = "0",
    price: float = 600.0,
    symbol: str = "au2612",
    source: str = "1",
) -> dict[str, Any]:
    """A CThostFtdcTradeField; TradeSource "1" (THOST_FTDC_TSRC_QUERY) as ReqQryTrade answers it."""
    return {
        "BrokerID": "9999", "InvestorID": "000001", "reserve1": "", "OrderRef": ref, "UserID": "000001",
        "ExchangeID": "SHFE", "TradeID": tradeid, "Direction": direction, "OrderSysID": sysid, "ParticipantID": "0001",
        "ClientID": "00000001", "TradingRole": "1", "reserve2": "", "OffsetFlag": offset, "HedgeFlag": "1",
        "Price": price, "Volume": volume, "TradeDate": "20261123", "TradeTime": "21:05:02", "TradeType": "0",
        "PriceSource": "0", "TraderID": "0001xx1", "OrderLocalID": f"{ref:>12}", "ClearingPartID": "0001",
        "BusinessUnit": "", "SequenceNo": 21, "TradingDay": "20261124", "SettlementID": 1, "BrokerOrderSeq": 345,
        "TradeSource": source, "InvestUnitID": "", "InstrumentID": symbol, "ExchangeInstID": symbol,
    }  # fmt: skip


OURS = ctp_order("1", "      123456", "0", 2)  # our session's order, all traded
THEIRS = ctp_order("8", "      123457", "0", 1, front=3, session=99, direction="1", offset="3", volume=1,
                   price=601.0)  # from another terminal: a close-today sell  # fmt: skip
REJECTED = ctp_order("2", "", "5", 0, submit="4", message="已撤单报单被拒绝SHFE:价格超出涨跌停板")
TRADES = [
    ctp_trade("1", "      123456", "       88001", 1),
    ctp_trade("1", "      123456", "       88002", 1, price=600.02),
    ctp_trade("8", "      123457", "       88003", 1, direction="1", offset="3", price=601.0),
]


def settle(ctp: Ctp) -> None:
    """Wait until the event engine has dispatched everything put before now."""
    done: list[bool] = []
    handler = lambda event: done.append(True)  # noqa: E731
    ctp.engine.event_engine.register("eTestSettle", handler)
    ctp.engine.event_engine.put(Event("eTestSettle"))
    eventually(lambda: done, timeout=3, what="event engine settled")
    ctp.engine.event_engine.unregister("eTestSettle", handler)


def answer_orders(ctp: Ctp, rows: list[dict[str, Any]]) -> None:
    """The pacer sends ReqQryOrder; the front answers with `rows` (one empty record when none)."""
    assert ctp.gw.queries.pump() == "sync:orders"
    assert ctp.gw.queries.in_flight == "ReqQryOrder"
    req, reqid = ctp.sent("ReqQryOrder")[-1]
    assert req == {"BrokerID": "9999", "InvestorID": "000001"}
    for i, row in enumerate(rows or [{}]):
        ctp.td.onRspQryOrder(row, {}, reqid, i == max(len(rows), 1) - 1)


def answer_trades(ctp: Ctp, rows: list[dict[str, Any]]) -> None:
    assert ctp.gw.queries.pump() == "sync:trades"
    assert ctp.gw.queries.in_flight == "ReqQryTrade"
    _, reqid = ctp.sent("ReqQryTrade")[-1]
    for i, row in enumerate(rows or [{}]):
        ctp.td.onRspQryTrade(row, {}, reqid, i == max(len(rows), 1) - 1)


# ---------------------------------------------------------------- the replies


def test_replies_become_the_orders_and_trades_the_push_makes_and_nothing_is_pushed(ctp: Ctp) -> None:
    assert ctp.gw.query_orders_trades(ctp.on_reply)
    assert not ctp.gw.query_orders_trades(ctp.on_reply)  # one at a time
    assert ctp.gw.queries.pending() == ["sync:orders", "sync:trades"]

    answer_orders(ctp, [OURS, THEIRS, REJECTED])
    assert ctp.gw.queries.in_flight == "" and ctp.answers == []  # orders complete, trades not asked yet
    ctp.td.onRspQryTrade(TRADES[0], {}, 999, False)  # a reply to no query of ours: ignored
    answer_trades(ctp, TRADES)
    assert ctp.gw.queries.in_flight == "" and ctp.gw.queries.pending() == []

    [(orders, trades, error)] = ctp.answers
    assert error == ""
    assert [(o.vt_orderid, o.status, o.traded) for o in orders] == [
        ("CTP.1_7_1", Status.ALLTRADED, 2),
        ("CTP.3_99_8", Status.ALLTRADED, 1),
        ("CTP.1_7_2", Status.REJECTED, 0),
    ]
    assert [(t.vt_tradeid, t.vt_orderid, t.direction, t.offset, t.price) for t in trades] == [
        ("CTP.       88001", "CTP.1_7_1", Direction.LONG, Offset.OPEN, 600.0),
        ("CTP.       88002", "CTP.1_7_1", Direction.LONG, Offset.OPEN, 600.02),
        ("CTP.       88003", "CTP.3_99_8", Direction.SHORT, Offset.CLOSETODAY, 601.0),
    ]  # fmt: skip
    settle(ctp)
    assert ctp.pushed[EVENT_ORDER] == [] and ctp.pushed[EVENT_TRADE] == []  # gathered, never pushed

    for row in (OURS, THEIRS):  # the same records pushed: the same OrderData/TradeData, to the field
        ctp.td.onRtnOrder(row)
    for row in TRADES:
        ctp.td.onRtnTrade(row)
    eventually(lambda: len(ctp.pushed[EVENT_TRADE]) == 3, timeout=3, what="pushes dispatched")
    assert ctp.pushed[EVENT_ORDER] == orders[:2]
    assert ctp.pushed[EVENT_TRADE] == trades


def test_a_rejected_order_delivered_from_the_query_carries_the_reason_as_the_push(ctp: Ctp) -> None:
    assert ctp.gw.query_orders_trades(ctp.on_reply)
    answer_orders(ctp, [REJECTED])
    answer_trades(ctp, [])
    [([queried], trades, error)] = ctp.answers
    assert (trades, error) == ([], "")
    ctp.gw.on_order(queried)  # as the order sync delivers it
    delivered = eventually(lambda: ctp.pushed[EVENT_ORDER] and ctp.pushed[EVENT_ORDER][-1], timeout=3)
    ctp.td.onRtnOrder(REJECTED)  # the push, late
    eventually(lambda: len(ctp.pushed[EVENT_ORDER]) == 2, timeout=3)
    assert delivered == ctp.pushed[EVENT_ORDER][1]
    assert delivered.extra["reason"] == "已撤单报单被拒绝SHFE:价格超出涨跌停板"
    assert [(e.kind, e.request, e.vt_orderid) for e in ctp.errors] == [
        ("order_insert", "OnRtnOrder", "CTP.1_7_2")
    ]


def test_a_trade_push_after_a_lost_order_push_is_matched_from_the_query(ctp: Ctp) -> None:
    assert "      123457" not in ctp.td.sysid_orderid_map
    assert ctp.gw.query_orders_trades(ctp.on_reply)
    answer_orders(ctp, [THEIRS])
    answer_trades(ctp, [])
    ctp.td.onRtnTrade(TRADES[2])  # vnpy looks its order up by OrderSysID: learned from the query
    trade = eventually(lambda: ctp.pushed[EVENT_TRADE] and ctp.pushed[EVENT_TRADE][0], timeout=3)
    assert trade.vt_orderid == "CTP.3_99_8"


def test_an_empty_day_is_an_empty_answer(ctp: Ctp) -> None:
    assert ctp.gw.query_orders_trades(ctp.on_reply)
    answer_orders(ctp, [])
    answer_trades(ctp, [])
    assert ctp.answers == [([], [], "")]


# ---------------------------------------------------------------- errors and abandoned queries


def test_an_order_query_error_is_an_error_never_no_trades(ctp: Ctp) -> None:
    assert ctp.gw.query_orders_trades(ctp.on_reply)
    assert ctp.gw.queries.pump() == "sync:orders"
    _, reqid = ctp.sent("ReqQryOrder")[-1]
    ctp.td.onRspQryOrder({}, {"ErrorID": 90, "ErrorMsg": "CTP：查询未就绪，请稍后重试"}, reqid, True)
    assert ctp.answers == [([], [], "ReqQryOrder ErrorID 90: CTP：查询未就绪，请稍后重试")]
    assert (ctp.errors[-1].kind, ctp.errors[-1].request, ctp.errors[-1].error_id) == (
        "query",
        "ReqQryOrder",
        90,
    )
    assert ctp.gw.queries.in_flight == ""
    assert ctp.gw.queries.pump() == "sync:trades"  # its trade query is dropped unsent
    assert ctp.sent("ReqQryTrade") == [] and ctp.gw.queries.in_flight == ""
    assert ctp.gw.query_orders_trades(ctp.on_reply)  # a new query may start


def test_a_trade_query_error_drops_the_orders_too(ctp: Ctp) -> None:
    assert ctp.gw.query_orders_trades(ctp.on_reply)
    answer_orders(ctp, [OURS])
    assert ctp.gw.queries.pump() == "sync:trades"
    _, reqid = ctp.sent("ReqQryTrade")[-1]
    ctp.td.onRspQryTrade(TRADES[0], {}, reqid, False)
    ctp.td.onRspQryTrade({}, {"ErrorID": 1, "ErrorMsg": "CTP:综合交易平台：不在交易时段"}, reqid, False)
    assert ctp.answers == [([], [], "ReqQryTrade ErrorID 1: CTP:综合交易平台：不在交易时段")]
    assert ctp.gw.queries.in_flight == ""  # an error reply ends the query, whatever its last flag


def test_a_disconnect_abandons_the_query_and_its_late_replies_are_ignored(ctp: Ctp) -> None:
    assert ctp.gw.query_orders_trades(ctp.on_reply)
    assert ctp.gw.queries.pump() == "sync:orders"
    _, reqid = ctp.sent("ReqQryOrder")[-1]
    ctp.td.onFrontDisconnected(0x1001)
    assert not ctp.gw.order_queries.running and ctp.gw.queries.pending() == []
    assert not ctp.gw.query_orders_trades(ctp.on_reply)  # not ready until logged in again
    ctp.td.onRspQryOrder(OURS, {}, reqid, True)
    ctp.front.ready("au2612", "au2702")
    assert ctp.gw.query_orders_trades(ctp.on_reply)
    answer_orders(ctp, [OURS])
    answer_trades(ctp, TRADES[:2])
    assert [(len(o), len(t), e) for o, t, e in ctp.answers] == [(1, 2, "")]


def test_a_query_never_answered_is_abandoned_with_an_error(ctp: Ctp) -> None:
    now = [1000.0]
    ctp.gw.order_queries.clock = lambda: now[0]
    assert ctp.gw.query_orders_trades(ctp.on_reply)
    assert ctp.gw.queries.pump() == "sync:orders"
    now[0] += ABANDON_AFTER_S - 1
    assert not ctp.gw.query_orders_trades(ctp.on_reply)
    now[0] += 2
    assert ctp.gw.query_orders_trades(ctp.on_reply)
    assert ctp.answers == [
        ([], [], f"no complete answer to ReqQryOrder/ReqQryTrade within {ABANDON_AFTER_S:.0f} s")
    ]


# ---------------------------------------------------------------- paced with vnpy's polling, through the order sync


def tick(ctp: Ctp, times: int = 1) -> None:
    for _ in range(times):  # what vnpy's EventEngine does every second
        ctp.gw.process_timer_event(Event(EVENT_TIMER))


def test_the_order_sync_finds_a_trade_the_push_missed_within_the_flow_control(ctp: Ctp) -> None:
    records: list[dict[str, Any]] = []
    risk = RiskDesk(lambda record: records.append(dump(record)), lambda kind, data: None, lambda: "2026-11-24")
    sync = OrderSync(SyncConfig(order_query_interval_s=60, missed_grace_s=0), ctp.engine, ctp.gw, risk)
    sync.start()
    try:
        ctp.td.onRtnOrder(ctp_order("1", "      123456", "3", 0, message="未成交"))  # pushed: resting
        eventually(lambda: ctp.engine.get_order("CTP.1_7_1"), timeout=3, what="the resting order")
        sync.request_now()  # as after a login
        eventually(
            lambda: ctp.gw.queries.pending() == ["sync:orders", "sync:trades"], timeout=3, what="queued"
        )
        tick(ctp)  # ours: the order query goes out
        assert [name for name in ctp.td.names() if name.startswith("ReqQry")][-1] == "ReqQryOrder"
        tick(ctp)  # vnpy's turn: its account query waits while ours is in flight
        assert ctp.sent("ReqQryTradingAccount") == []
        _, reqid = ctp.sent("ReqQryOrder")[-1]
        ctp.td.onRspQryOrder(OURS, {}, reqid, True)  # the fill's pushes were lost: ALLTRADED at the broker
        tick(ctp, 2)  # ours: the trade query
        _, reqid = ctp.sent("ReqQryTrade")[-1]
        ctp.td.onRspQryTrade(TRADES[0], {}, reqid, False)
        ctp.td.onRspQryTrade(TRADES[1], {}, reqid, True)

        eventually(lambda: len(ctp.pushed[EVENT_TRADE]) == 2, timeout=5, what="both trades delivered")
        eventually(lambda: ctp.engine.get_order("CTP.1_7_1").status == Status.ALLTRADED, timeout=3)
        assert {t.vt_tradeid for t in ctp.pushed[EVENT_TRADE]} == {"CTP.       88001", "CTP.       88002"}
        assert all(
            t.extra["ctp"]["TradeSource"] == "1" for t in ctp.pushed[EVENT_TRADE]
        )  # the query's records
        missed = eventually(lambda: [r for r in records if r["type"] == "MISSED_BY_PUSH"], timeout=3)
        assert sorted(r["key"] for r in missed) == [
            "MISSED_BY_PUSH:CTP.       88001",
            "MISSED_BY_PUSH:CTP.       88002",
        ]
        eventually(lambda: sync.last_completed > 0 and sync.queries_done == 1, timeout=3)
    finally:
        sync.stop()
