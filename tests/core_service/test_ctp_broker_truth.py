"""The broker's figures, errors and rates on the CTP gateway, to the cent.

The project's real ArbigCtpGateway on a real MainEngine (events through vnpy's EventEngine and
OmsEngine); only the CTP library's request calls are scripted (`ScriptedTdApi`), and the front's
answers go in through the API's own callbacks as CTP-shaped records (field names of
ThostFtdcUserApiStruct.h). Expected figures are computed by hand in the comments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Direction, Exchange, Offset, OrderType, Status
from vnpy.trader.engine import MainEngine
from vnpy.trader.event import EVENT_ACCOUNT, EVENT_ORDER, EVENT_POSITION, EVENT_TIMER
from vnpy.trader.object import (
    AccountData,
    CancelRequest,
    OrderData,
    OrderRequest,
    PositionData,
    SubscribeRequest,
)
from vnpy_ctp.gateway.ctp_gateway import symbol_contract_map

from core_service import serializers as ser
from core_service.broker_errors import BrokerError
from core_service.contract_rates import ContractRates
from core_service.ctp_gateway import ArbigCtpGateway
from tests.core_service.ctp_fronts import FrontScript, ScriptedTdApi, scripted_gateway
from tests.helpers import eventually

ORDER = OrderRequest(symbol="au2612", exchange=Exchange.SHFE, direction=Direction.LONG, type=OrderType.LIMIT,
                     volume=1, price=600.0, offset=Offset.OPEN, reference="operator")


@dataclass
class Ctp:
    gw: ArbigCtpGateway
    front: FrontScript
    td: ScriptedTdApi
    events: dict[str, list[Any]] = field(default_factory=dict)
    errors: list[BrokerError] = field(default_factory=list)
    rates: list[tuple[str, ContractRates]] = field(default_factory=list)

    def last(self, kind: str, what: str = "") -> Any:
        return eventually(lambda: self.events[kind] and self.events[kind][-1], timeout=3, what=what or kind)

    def find(self, kind: str, check: Any, what: str) -> Any:
        return eventually(lambda: next((o for o in self.events[kind] if check(o)), None), timeout=3, what=what)


@pytest.fixture
def ctp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctp]:
    monkeypatch.chdir(Path.cwd())  # MainEngine chdirs to TRADER_DIR: restore the cwd afterwards
    engine = MainEngine(EventEngine())
    gw = scripted_gateway(engine)
    ctp = Ctp(gw, FrontScript(gw), gw.td_api)
    for kind in (EVENT_ACCOUNT, EVENT_POSITION, EVENT_ORDER):
        ctp.events[kind] = []
        engine.event_engine.register(kind, lambda event, k=kind: ctp.events[k].append(event.data))
    gw.broker_error_listener = ctp.errors.append
    gw.rates_listener = lambda symbol, rates: ctp.rates.append((symbol, rates))
    gw.subscribe(SubscribeRequest("au2612", Exchange.SHFE))  # as the core does for the main contract
    ctp.front.ready("au2612", "au2702")
    try:
        yield ctp
    finally:
        engine.close()
        for symbol in ("au2612", "au2702"):
            symbol_contract_map.pop(symbol, None)


# ---------------------------------------------------------------- account


def trading_account() -> dict[str, Any]:
    """A CThostFtdcTradingAccountField; Balance = PreBalance + Deposit - Withdraw + CloseProfit
    + PositionProfit - Commission = 1000000 + 50000 - 20000 + 12340 - 3210.5 - 56.78 = 1039072.72;
    Available = Balance - CurrMargin - FrozenMargin - FrozenCash - FrozenCommission = 751055.38."""
    money = dict.fromkeys((
        "PreMortgage", "PreCredit", "PreDeposit", "PreMargin", "InterestBase", "Interest", "CashIn", "Reserve",
        "Credit", "Mortgage", "ExchangeMargin", "DeliveryMargin", "ExchangeDeliveryMargin", "ReserveBalance",
        "PreFundMortgageIn", "PreFundMortgageOut", "FundMortgageIn", "FundMortgageOut", "FundMortgageAvailable",
        "MortgageableFund", "SpecProductMargin", "SpecProductFrozenMargin", "SpecProductCommission",
        "SpecProductFrozenCommission", "SpecProductPositionProfit", "SpecProductCloseProfit",
        "SpecProductPositionProfitByAlg", "SpecProductExchangeMargin", "FrozenSwap", "RemainSwap", "OptionValue",
    ), 0.0)  # fmt: skip
    return {
        **money, "BrokerID": "9999", "AccountID": "000001", "PreBalance": 1_000_000.0, "Deposit": 50_000.0,
        "Withdraw": 20_000.0, "FrozenMargin": 48_000.0, "FrozenCash": 5.0, "FrozenCommission": 12.34,
        "CurrMargin": 240_000.0, "Commission": 56.78, "CloseProfit": 12_340.0, "PositionProfit": -3_210.5,
        "Balance": 1_039_072.72, "Available": 751_055.38, "WithdrawQuota": 700_000.0, "TradingDay": "20261124",
        "SettlementID": 1, "CurrencyID": "CNY", "BizType": "\x00",
    }  # fmt: skip


def test_every_account_figure_reaches_the_account_unchanged(ctp: Ctp) -> None:
    ctp.gw.query_account()
    req, reqid = ctp.front.last("ReqQryTradingAccount")
    data = trading_account()
    ctp.td.onRspQryTradingAccount(data, {}, reqid, True)
    account: AccountData = ctp.last(EVENT_ACCOUNT)
    assert (account.accountid, account.balance, account.available) == ("000001", 1_039_072.72, 751_055.38)
    assert account.frozen == pytest.approx(48_000.0 + 5.0 + 12.34)
    expected = {
        "margin": 240_000.0, "frozen_margin": 48_000.0, "frozen_commission": 12.34, "frozen_cash": 5.0,
        "commission": 56.78, "realized_pnl": 12_340.0, "unrealized_pnl": -3_210.5, "pre_balance": 1_000_000.0,
        "deposit": 50_000.0, "withdraw": 20_000.0, "withdraw_quota": 700_000.0, "trading_day": "20261124",
    }  # fmt: skip
    assert {key: account.extra[key] for key in expected} == expected
    assert account.extra["ctp"] == data

    state = ser.account_state(account)  # what Redis, MySQL and the pages get
    shown = {key: getattr(state, key) for key in expected if key in type(state).model_fields}
    assert shown == {key: value for key, value in expected.items() if key in shown}
    assert {"margin", "commission", "realized_pnl", "unrealized_pnl", "pre_balance", "trading_day"} <= set(shown)
    assert (state.balance, state.available) == (1_039_072.72, 751_055.38)


# ---------------------------------------------------------------- positions


def position_record(direction: str, date: str, volume: int, open_cost: float, position_cost: float,
                    use_margin: float, profit: float, frozen: int = 0) -> dict[str, Any]:
    """A CThostFtdcInvestorPositionField of au2612 (PosiDirection '2' long / '3' short; PositionDate
    '1' today / '2' history); `frozen` is the closing side's frozen lots."""
    return {
        "reserve1": "", "BrokerID": "9999", "InvestorID": "000001", "PosiDirection": direction, "HedgeFlag": "1",
        "PositionDate": date, "YdPosition": volume if date == "2" else 0, "Position": volume,
        "LongFrozen": frozen if direction == "3" else 0, "ShortFrozen": frozen if direction == "2" else 0,
        "LongFrozenAmount": 0.0, "ShortFrozenAmount": 0.0, "OpenVolume": volume if date == "1" else 0,
        "CloseVolume": 0, "OpenAmount": open_cost if date == "1" else 0.0, "CloseAmount": 0.0,
        "PositionCost": position_cost, "PreMargin": 0.0, "UseMargin": use_margin, "FrozenMargin": 0.0,
        "FrozenCash": 0.0, "FrozenCommission": 0.0, "CashIn": 0.0, "Commission": 0.0, "CloseProfit": 0.0,
        "PositionProfit": profit, "PreSettlementPrice": 598.0, "SettlementPrice": 601.0, "TradingDay": "20261124",
        "SettlementID": 1, "OpenCost": open_cost, "ExchangeMargin": use_margin, "CombPosition": 0,
        "CombLongFrozen": 0, "CombShortFrozen": 0, "CloseProfitByDate": 0.0, "CloseProfitByTrade": 0.0,
        "TodayPosition": volume if date == "1" else 0, "MarginRateByMoney": 0.12, "MarginRateByVolume": 0.0,
        "StrikeFrozen": 0, "StrikeFrozenAmount": 0.0, "AbandonFrozen": 0, "ExchangeID": "SHFE",
        "YdStrikeFrozen": 0, "InvestUnitID": "", "PositionCostOffset": 0.0, "TasPosition": 0,
        "TasPositionCost": 0.0, "InstrumentID": "au2612", "OptionValue": 0.0,
    }  # fmt: skip


# Last price 601.00, yesterday's settlement 598.00, 1000 g a lot.
LONG_TODAY = position_record("2", "1", 2, 1_200_200.0, 1_200_200.0, 144_024.0, 1_800.0, frozen=1)  # 2 @ 600.10
LONG_HISTORY = position_record("2", "2", 3, 1_770_600.0, 1_794_000.0, 215_280.0, 9_000.0, frozen=2)  # 3 @ 590.20
SHORT_TODAY = position_record("3", "1", 1, 602_000.0, 602_000.0, 72_240.0, 1_000.0)  # 1 @ 602.00
SHORT_HISTORY = position_record("3", "2", 2, 1_211_000.0, 1_196_000.0, 143_520.0, -6_000.0, frozen=1)  # 2 @ 605.50


def positions_round(ctp: Ctp, *records: dict[str, Any]) -> dict[Direction, PositionData]:
    ctp.events[EVENT_POSITION].clear()
    ctp.gw.query_position()
    _, reqid = ctp.front.last("ReqQryInvestorPosition")
    for i, record in enumerate(records):
        ctp.td.onRspQryInvestorPosition(record, {}, reqid, i == len(records) - 1)
    eventually(lambda: len(ctp.events[EVENT_POSITION]) == 2, timeout=3, what="both directions")
    return {p.direction: p for p in ctp.events[EVENT_POSITION]}


def test_shfe_today_and_history_records_are_merged_per_direction(ctp: Ctp) -> None:
    got = positions_round(ctp, LONG_TODAY, SHORT_HISTORY, LONG_HISTORY, SHORT_TODAY)
    long, short = got[Direction.LONG], got[Direction.SHORT]
    # LONG: 5 lots, 3 of them yesterday's. Paid 1200200 + 1770600 = 2970800 -> 594.16 a gram;
    # settlement-based cost 1200200 + 1794000 = 2994200 -> 598.84. PnL against the settlement
    # (PositionProfit) 1800 + 9000 = 10800; against what was paid (601 - 594.16) * 5000 = 34200.
    assert (long.volume, long.yd_volume, long.frozen, long.price, long.pnl) == (5, 3, 3, 594.16, 34_200.0)
    assert {k: long.extra[k] for k in ("td_volume", "td_frozen", "yd_frozen", "margin", "unrealized_pnl",
                                       "open_cost", "position_cost", "open_price", "cost_price",
                                       "settlement_price")} == {
        "td_volume": 2, "td_frozen": 1, "yd_frozen": 2, "margin": 359_304.0, "unrealized_pnl": 10_800.0,
        "open_cost": 2_970_800.0, "position_cost": 2_994_200.0, "open_price": 594.16, "cost_price": 598.84,
        "settlement_price": 598.0,
    }  # fmt: skip
    assert long.extra["ctp"] == [LONG_TODAY, LONG_HISTORY]
    # SHORT: 3 lots, 2 yesterday's. Paid 602000 + 1211000 = 1813000 -> 604.333333; settlement-based
    # 602000 + 1196000 = 1798000 -> 599.333333; PositionProfit 1000 - 6000 = -5000; against what was
    # paid (604.333333 - 601) * 3000 = 10000.
    assert (short.volume, short.yd_volume, short.frozen, short.price, short.pnl) == (3, 2, 1, 604.333333, 10_000.0)
    assert (short.extra["margin"], short.extra["unrealized_pnl"], short.extra["cost_price"]) == (
        215_760.0, -5_000.0, 599.333333)

    state = ser.position_state(long)  # what Redis, MySQL and the pages get
    assert (state.price, state.td_volume, state.margin, state.pnl) == (594.16, 2, 359_304.0, 34_200.0)
    assert (state.cost_price, state.unrealized_pnl) == (598.84, 10_800.0)

    # A round whose last reply never came is dropped by the next one, which starts afresh:
    # yesterday's long lots closed elsewhere, no short left at all.
    ctp.gw.query_position()
    ctp.td.onRspQryInvestorPosition(LONG_HISTORY, {}, ctp.front.last("ReqQryInvestorPosition")[1], False)
    ctp.gw.queries.reply_timeout_s = 0  # the wait for the lost reply runs out at once
    got = positions_round(ctp, LONG_TODAY)
    assert (got[Direction.LONG].volume, got[Direction.LONG].yd_volume, got[Direction.LONG].price) == (2, 0, 600.1)
    assert got[Direction.LONG].extra["margin"] == 144_024.0
    assert (got[Direction.SHORT].volume, got[Direction.SHORT].extra["margin"]) == (0, 0.0)


def test_a_position_query_error_is_not_read_as_no_positions(ctp: Ctp) -> None:
    positions_round(ctp, LONG_TODAY, SHORT_TODAY)
    ctp.events[EVENT_POSITION].clear()
    ctp.gw.query_position()
    _, reqid = ctp.front.last("ReqQryInvestorPosition")
    ctp.td.onRspQryInvestorPosition({}, {"ErrorID": 90, "ErrorMsg": "CTP：查询未就绪，请稍后重试"}, reqid, True)
    assert (ctp.errors[-1].kind, ctp.errors[-1].request) == ("query", "ReqQryInvestorPosition")
    ctp.gw.query_account()  # a later event proves the position event would have been dispatched
    ctp.td.onRspQryTradingAccount(trading_account(), {}, ctp.front.last("ReqQryTradingAccount")[1], True)
    ctp.last(EVENT_ACCOUNT)
    assert ctp.events[EVENT_POSITION] == []


# ---------------------------------------------------------------- orders


def insert_echo(req: dict[str, Any]) -> dict[str, Any]:
    """The CThostFtdcInputOrderField a front echoes back with an insert error."""
    return {**req, "reserve1": "", "GTDDate": "", "StopPrice": 0.0, "BusinessUnit": "", "RequestID": 0,
            "UserForceClose": 0, "IsSwapOrder": 0, "InvestUnitID": "", "AccountID": "", "CurrencyID": "",
            "ClientID": "", "reserve2": "", "MacAddress": "", "IPAddress": "", "OrderMemo": "", "SessionReqSeq": 0}


def test_a_refused_insert_is_rejected_with_the_reason_and_reported_once(ctp: Ctp) -> None:
    vt_orderid = ctp.gw.send_order(ORDER)
    assert vt_orderid == "CTP.1_7_1"
    req, reqid = ctp.front.last("ReqOrderInsert")
    no_money = {"ErrorID": 31, "ErrorMsg": "CTP:资金不足"}
    ctp.td.onRspOrderInsert(insert_echo(req), no_money, reqid, True)
    ctp.td.onErrRtnOrderInsert(insert_echo(req), no_money)  # CTP answers a refused insert both ways

    order: OrderData = ctp.find(EVENT_ORDER, lambda o: o.status == Status.REJECTED, "REJECTED")
    assert (order.vt_orderid, order.extra["reason"], order.reference) == (vt_orderid, "ErrorID 31: CTP:资金不足",
                                                                          "operator")
    assert ser.order_state(order).reason == "ErrorID 31: CTP:资金不足"
    assert ctp.errors == [BrokerError(
        gateway="CTP", kind="order_insert", error_id=31, message="CTP:资金不足", request="OnRspOrderInsert",
        vt_orderid=vt_orderid, symbol="au2612", ts_ms=ctp.errors[0].ts_ms,
    )]  # fmt: skip
    assert ctp.errors[0].text == "order rejected au2612 CTP.1_7_1 [OnRspOrderInsert]: ErrorID 31: CTP:资金不足"
    assert [o.status for o in ctp.events[EVENT_ORDER]] == [Status.SUBMITTING, Status.REJECTED]


def rtn_order(req: dict[str, Any], status: str, message: str) -> dict[str, Any]:
    """A CThostFtdcOrderField of our order (front 1, session 7)."""
    return {
        **insert_echo(req), "FrontID": 1, "SessionID": 7, "OrderSysID": "      123456", "OrderStatus": status,
        "OrderSubmitStatus": "3", "VolumeTraded": 0, "VolumeTotal": req["VolumeTotalOriginal"],
        "InsertDate": "20261123", "InsertTime": "21:05:01", "StatusMsg": message, "TradingDay": "20261124",
        "OrderLocalID": "          12", "OrderSource": "0", "OrderType": "0", "ExchangeInstID": "au2612",
    }  # fmt: skip


def test_a_refused_cancel_is_reported_and_the_order_keeps_its_status(ctp: Ctp) -> None:
    vt_orderid = ctp.gw.send_order(ORDER)
    req, _ = ctp.front.last("ReqOrderInsert")
    ctp.td.onRtnOrder(rtn_order(req, "3", "未成交"))  # queued at the exchange
    eventually(lambda: ctp.last(EVENT_ORDER).status == Status.NOTTRADED, timeout=3)
    ctp.gw.cancel_order(CancelRequest(orderid="1_7_1", symbol="au2612", exchange=Exchange.SHFE))
    action, reqid = ctp.front.last("ReqOrderAction")
    refused = {"ErrorID": 26, "ErrorMsg": "CTP:报单已全成交或已撤销，不能再撤"}
    ctp.td.onRspOrderAction({**action, "OrderActionRef": 0, "RequestID": 0, "VolumeChange": 0, "LimitPrice": 0.0,
                             "OrderSysID": "", "UserID": "000001"}, refused, reqid, True)
    ctp.td.onErrRtnOrderAction({**action, "OrderSysID": "      123456", "StatusMsg": "", "ActionDate": "20261123",
                                "ActionTime": "21:05:03"}, refused)  # the same refusal, pushed

    again: OrderData = eventually(lambda: (o := ctp.last(EVENT_ORDER)).extra.get("reason") and o, timeout=3)
    assert (again.vt_orderid, again.status) == (vt_orderid, Status.NOTTRADED)
    assert again.extra["reason"] == "cancel failed: ErrorID 26: CTP:报单已全成交或已撤销，不能再撤"
    assert [(e.kind, e.error_id, e.vt_orderid, e.request) for e in ctp.errors] == [
        ("order_action", 26, vt_orderid, "OnRspOrderAction")]


def test_an_exchange_rejection_carries_its_status_message(ctp: Ctp) -> None:
    vt_orderid = ctp.gw.send_order(ORDER)
    req, _ = ctp.front.last("ReqOrderInsert")
    message = "已撤单报单被拒绝SHFE:价格超出涨跌停板"
    ctp.td.onRtnOrder({**rtn_order(req, "5", message), "OrderSubmitStatus": "4"})  # Canceled + InsertRejected
    order: OrderData = ctp.find(EVENT_ORDER, lambda o: o.status == Status.REJECTED, "REJECTED")
    assert (order.vt_orderid, order.extra["reason"], order.extra["ctp"]["StatusMsg"]) == (vt_orderid, message, message)
    ctp.td.onRtnOrder({**rtn_order(req, "5", message), "OrderSubmitStatus": "4"})  # replayed after a reconnect
    assert [(e.kind, e.error_id, e.message, e.request, e.vt_orderid) for e in ctp.errors] == [
        ("order_insert", 0, message, "OnRtnOrder", vt_orderid)]
    assert ctp.errors[0].reason == message


# ---------------------------------------------------------------- flow control and rates


def tick(ctp: Ctp, times: int = 1) -> None:
    for _ in range(times):  # what vnpy's EventEngine does every second
        ctp.gw.process_timer_event(Event(EVENT_TIMER))


def test_flow_control_returns_become_broker_errors(ctp: Ctp) -> None:
    ctp.td.codes = {"ReqQryTradingAccount": [-3], "ReqOrderInsert": [-2], "ReqQryInstrumentMarginRate": [-3]}
    ctp.gw.query_account()
    assert ctp.gw.send_order(ORDER) == ""  # vnpy sends nothing further and returns no order id
    tick(ctp)  # the rate query vnpy's polling leaves room for: refused, kept first in line
    assert [(e.kind, e.error_id, e.message, e.request, e.symbol) for e in ctp.errors] == [
        ("flow_control", -3, "CTP:每秒发送请求数超过许可数", "ReqQryTradingAccount", ""),
        ("flow_control", -2, "CTP:未处理请求超过许可数", "ReqOrderInsert", "au2612"),
        ("flow_control", -3, "CTP:每秒发送请求数超过许可数", "ReqQryInstrumentMarginRate", "au2612"),
    ]
    assert ctp.gw.queries.pending() == ["margin:au2612", "commission:au2612"]
    tick(ctp, 2)  # vnpy's turn (its account query goes out), then ours: waits for that answer
    assert ctp.gw.queries.in_flight == "ReqQryTradingAccount"
    assert ctp.gw.queries.pending() == ["margin:au2612", "commission:au2612"]
    ctp.td.onRspQryTradingAccount(trading_account(), {}, ctp.front.last("ReqQryTradingAccount")[1], True)
    tick(ctp)  # vnpy's turn: the positions
    ctp.td.onRspQryInvestorPosition({}, {}, ctp.front.last("ReqQryInvestorPosition")[1], True)  # none held
    tick(ctp)  # ours: the refused rate query goes out now
    assert ctp.gw.queries.pending() == ["commission:au2612"]
    assert ctp.gw.queries.in_flight == "ReqQryInstrumentMarginRate"


MARGIN = {"reserve1": "", "InvestorRange": "1", "BrokerID": "9999", "InvestorID": "000001", "HedgeFlag": "1",
          "LongMarginRatioByMoney": 0.14, "LongMarginRatioByVolume": 0.0, "ShortMarginRatioByMoney": 0.15,
          "ShortMarginRatioByVolume": 0.0, "IsRelative": 0, "ExchangeID": "SHFE", "InvestUnitID": "",
          "InstrumentID": "au2612"}
COMMISSION = {"reserve1": "", "InvestorRange": "1", "BrokerID": "9999", "InvestorID": "000001",
              "OpenRatioByMoney": 0.0, "OpenRatioByVolume": 10.0, "CloseRatioByMoney": 0.0,
              "CloseRatioByVolume": 10.0, "CloseTodayRatioByMoney": 0.0, "CloseTodayRatioByVolume": 0.0,
              "ExchangeID": "SHFE", "BizType": "\x00", "InvestUnitID": "", "InstrumentID": "au"}  # per product


def test_rates_are_queried_one_at_a_time_between_vnpys_polls(ctp: Ctp) -> None:
    assert ctp.gw.queries.pending() == ["margin:au2612", "commission:au2612"]  # the subscribed contract
    sent = len(ctp.td.sent)
    tick(ctp)  # a tick vnpy leaves free: the margin query
    req, reqid = ctp.front.last("ReqQryInstrumentMarginRate")
    assert req == {"BrokerID": "9999", "InvestorID": "000001", "InstrumentID": "au2612", "ExchangeID": "SHFE",
                   "HedgeFlag": "1"}
    tick(ctp)  # vnpy's tick: its account query waits while ours is unanswered
    assert len(ctp.td.sent) == sent + 1
    ctp.td.onRspQryInstrumentMarginRate(MARGIN, {}, reqid, True)
    symbol, rates = ctp.rates[-1]
    assert (symbol, rates.long_margin_ratio_by_money, rates.short_margin_ratio_by_money) == ("au2612", 0.14, 0.15)
    assert rates.open_ratio_by_volume is None and not rates.complete

    ctp.gw.subscribe(SubscribeRequest("au2702", Exchange.SHFE))  # a rollover: its rates are asked too
    tick(ctp, 2)  # ours (commission of au2612), then vnpy's (waits again)
    _, reqid = ctp.front.last("ReqQryInstrumentCommissionRate")
    assert ctp.front.last("ReqQryInstrumentCommissionRate")[0]["InstrumentID"] == "au2612"
    ctp.td.onRspQryInstrumentCommissionRate(COMMISSION, {}, reqid, True)
    tick(ctp, 2)  # ours (margin of au2702), then vnpy's position query waits
    assert ctp.td.names()[sent:] == ["ReqQryInstrumentMarginRate", "ReqQryInstrumentCommissionRate",
                                     "ReqQryInstrumentMarginRate"]

    rates = ctp.gw.contract_rates["au2612"]
    assert ctp.rates[-1] == ("au2612", rates) and rates.complete and rates.commission_instrument == "au"
    assert rates.margin("LONG", 600.0, 2, 1000) == 168_000.0  # 0.14 * 600 * 1000 * 2
    assert rates.margin("SHORT", 600.0, 2, 1000) == 180_000.0
    assert (rates.commission("OPEN", 600.0, 2, 1000), rates.commission("CLOSETODAY", 600.0, 2, 1000)) == (20.0, 0.0)
