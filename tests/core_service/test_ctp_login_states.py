"""CTP login, settlement and instrument-list states, and the login retry policy.

The project's real ArbigCtpGateway on a real MainEngine; only the CTP library's request calls are
scripted (`ScriptedTdApi`), and the front's answers go in through the API's own callbacks with
CTP-shaped records (field names of ThostFtdcUserApiStruct.h).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from vnpy.event import EventEngine
from vnpy.trader.constant import Direction, Exchange, Offset, OrderType
from vnpy.trader.engine import MainEngine
from vnpy.trader.object import OrderRequest
from vnpy_ctp.gateway.ctp_gateway import symbol_contract_map

from common.contract import GatewayState, GatewayStatus
from core_service.broker_errors import BrokerError
from core_service.ctp_errors import RetryPolicy
from core_service.ctp_gateway import ArbigCtpGateway
from core_service.gateway_status import LoginWatchdog
from tests.core_service.ctp_fronts import (
    OK,
    FrontScript,
    ScriptedTdApi,
    instrument,
    login_reply,
    scripted_gateway,
)
from tests.helpers import eventually

S = GatewayState
FAST = RetryPolicy(first_s=0.05, max_s=0.1, attempts=3)
NOT_INITED = {"ErrorID": 7, "ErrorMsg": "CTP:还没有初始化"}
ORDER = OrderRequest(symbol="au2612", exchange=Exchange.SHFE, direction=Direction.LONG, type=OrderType.LIMIT,
                     volume=1, price=600.0, offset=Offset.OPEN, reference="operator")


@dataclass
class Ctp:
    gw: ArbigCtpGateway
    front: FrontScript
    td: ScriptedTdApi
    seen: list[GatewayStatus] = field(default_factory=list)
    errors: list[BrokerError] = field(default_factory=list)

    @property
    def state(self) -> GatewayState:
        return self.gw.status_tracker.current.state

    @property
    def reason(self) -> str:
        return self.gw.status_tracker.current.reason


@pytest.fixture
def ctp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctp]:
    monkeypatch.chdir(Path.cwd())  # MainEngine chdirs to TRADER_DIR: restore the cwd afterwards
    engine = MainEngine(EventEngine())
    gw = scripted_gateway(engine)
    ctp = Ctp(gw, FrontScript(gw), gw.td_api)
    gw.status_tracker.add_listener(lambda new, old: ctp.seen.append(new))
    gw.broker_error_listener = ctp.errors.append
    try:
        yield ctp
    finally:
        engine.close()
        for symbol in ("au2612", "au2702"):
            symbol_contract_map.pop(symbol, None)


def test_logged_in_only_after_the_confirmation_and_the_last_instrument(ctp: Ctp) -> None:
    ctp.td.onFrontConnected()
    assert ctp.state == S.CONNECTED and ctp.td.names() == ["ReqUserLogin"]
    _, reqid = ctp.front.last("ReqUserLogin")
    ctp.td.onRspUserLogin(login_reply("20261124"), OK, reqid, True)
    assert (ctp.state, ctp.reason) == (S.SETTLING, "logged in, trading day 20261124; confirming settlement")
    assert ctp.front.last("ReqSettlementInfoConfirm")[0] == {"BrokerID": "9999", "InvestorID": "000001"}
    assert not ctp.td.requests("ReqQryInstrument")  # the instrument list waits for the confirmation

    assert ctp.gw.send_order(ORDER) == ""  # no trading while settling
    assert not ctp.td.requests("ReqOrderInsert")
    assert ctp.errors[-1].kind == "not_ready" and "SETTLING" in ctp.errors[-1].message

    ctp.front.confirm()
    assert (ctp.state, ctp.reason) == (S.SETTLING, "settlement confirmed (20261123 20:45:02); loading instruments")
    assert len(ctp.td.requests("ReqQryInstrument")) == 1  # sent at once, not after a timer tick
    _, reqid = ctp.front.last("ReqQryInstrument")
    ctp.td.onRspQryInstrument(instrument("au2612"), {}, reqid, False)
    assert ctp.state == S.SETTLING and not ctp.gw.ready  # more records to come
    ctp.td.onRspQryInstrument(instrument("au2702"), {}, reqid, True)
    assert (ctp.state, ctp.reason) == (S.LOGGED_IN, "trading day 20261124")
    assert [s.state for s in ctp.seen] == [S.CONNECTED, S.SETTLING, S.SETTLING, S.LOGGED_IN]
    assert ctp.gw.ready and symbol_contract_map["au2702"].size == 1000

    assert ctp.gw.send_order(ORDER) == "CTP.1_7_1"
    assert ctp.front.last("ReqOrderInsert")[0]["InstrumentID"] == "au2612"


def test_a_refused_confirmation_stops_before_trading(ctp: Ctp) -> None:
    ctp.front.login()
    refused = {"ErrorID": 90, "ErrorMsg": "CTP：查询未就绪，请稍后重试"}
    ctp.front.confirm(error=refused)
    assert ctp.state == S.SETTLEMENT_FAILED
    assert ctp.reason == "settlement confirmation failed: 90 CTP：查询未就绪，请稍后重试"
    error = ctp.errors[-1]
    assert (error.kind, error.error_id, error.message, error.request) == (
        "settlement", 90, "CTP：查询未就绪，请稍后重试", "ReqSettlementInfoConfirm")
    assert not ctp.td.requests("ReqQryInstrument")
    assert ctp.gw.send_order(ORDER) == "" and not ctp.td.requests("ReqOrderInsert")

    watchdog = LoginWatchdog(ctp.gw.status_tracker, 0.05)  # the failure stays shown, not a timeout
    watchdog.arm()
    assert watchdog.fired.wait(3)
    assert ctp.state == S.SETTLEMENT_FAILED and S.LOGGED_IN not in [s.state for s in ctp.seen]


def test_an_instrument_query_error_is_shown_and_asked_again(ctp: Ctp) -> None:
    ctp.front.login()
    ctp.front.confirm()
    _, reqid = ctp.front.last("ReqQryInstrument")
    ctp.td.onRspQryInstrument({}, {"ErrorID": 154, "ErrorMsg": "CTP:查询核心忙 请稍后重试"}, reqid, True)
    assert (ctp.errors[-1].kind, ctp.errors[-1].request, ctp.errors[-1].error_id) == ("query", "ReqQryInstrument", 154)
    assert len(ctp.td.requests("ReqQryInstrument")) == 2 and ctp.state == S.SETTLING
    ctp.front.instruments("au2612")
    assert ctp.state == S.LOGGED_IN


def test_the_watchdog_says_settling_is_not_logged_in(ctp: Ctp) -> None:
    ctp.front.login()
    watchdog = LoginWatchdog(ctp.gw.status_tracker, 0.2)
    watchdog.arm()
    assert watchdog.fired.wait(3)
    assert ctp.state == S.LOGIN_TIMEOUT
    assert ctp.reason == (
        "not logged in after 0.2 s: logged in to the front, but settlement confirmation or the instrument list"
        " still pending (last state settling: logged in, trading day 20261124; confirming settlement)"
    )
    ctp.front.confirm()
    ctp.front.instruments("au2612")
    assert ctp.state == S.LOGGED_IN


@pytest.mark.parametrize("step", ["login", "authentication"])
def test_a_transient_login_error_is_retried_with_backoff(ctp: Ctp, step: str) -> None:
    ctp.gw.session.set_policy(FAST)
    request = "ReqAuthenticate" if step == "authentication" else "ReqUserLogin"
    answer = ctp.td.onRspAuthenticate if step == "authentication" else ctp.td.onRspUserLogin
    error = NOT_INITED if step == "login" else {"ErrorID": 8, "ErrorMsg": "CTP:前置不活跃"}
    if step == "authentication":
        ctp.td.auth_code, ctp.td.appid = "AUTHCODE-0000001", "arbig_client"
    ctp.td.onFrontConnected()
    for attempt, delay in ((1, "0.05"), (2, "0.1")):
        _, reqid = ctp.front.last(request)
        answer({}, error, reqid, True)
        assert ctp.state == S.CONNECTED
        assert ctp.reason == (f"{step} failed (transient, retry {attempt}/3 in {delay} s): "
                              f"{error['ErrorID']} {error['ErrorMsg']}")
        eventually(lambda n=attempt: len(ctp.td.requests(request)) == n + 1, timeout=3, what=f"{request} again")
    _, reqid = ctp.front.last(request)
    answer(login_reply("20261124") if step == "login" else {}, OK, reqid, True)
    if step == "authentication":  # vnpy logs in after a successful authentication
        _, reqid = ctp.front.last("ReqUserLogin")
        ctp.td.onRspUserLogin(login_reply("20261124"), OK, reqid, True)
    assert ctp.state == S.SETTLING and ctp.gw.session.retry.attempt == 0


def test_transient_retries_give_up_and_never_loop(ctp: Ctp) -> None:
    ctp.gw.session.set_policy(RetryPolicy(first_s=0.05, max_s=0.05, attempts=1))
    ctp.td.onFrontConnected()
    ctp.td.onRspUserLogin({}, NOT_INITED, ctp.front.last("ReqUserLogin")[1], True)
    eventually(lambda: len(ctp.td.requests("ReqUserLogin")) == 2, timeout=3)
    ctp.td.onRspUserLogin({}, NOT_INITED, ctp.front.last("ReqUserLogin")[1], True)
    assert ctp.state == S.LOGIN_FAILED
    assert ctp.reason == "login failed (transient, gave up after 1 retries): 7 CTP:还没有初始化"
    ctp.td.onFrontDisconnected(0x1001)
    ctp.td.onFrontConnected()
    assert len(ctp.td.requests("ReqUserLogin")) == 2 and ctp.state == S.LOGIN_FAILED


def test_a_disconnect_cancels_the_pending_retry(ctp: Ctp) -> None:
    ctp.gw.session.set_policy(RetryPolicy(first_s=30, max_s=60, attempts=3))
    ctp.td.onFrontConnected()
    ctp.td.onRspUserLogin({}, NOT_INITED, ctp.front.last("ReqUserLogin")[1], True)
    assert ctp.gw.session.retry.pending
    ctp.td.onFrontDisconnected(0x2001)
    assert not ctp.gw.session.retry.pending and ctp.state == S.DISCONNECTED
    ctp.td.onFrontConnected()  # vnpy logs in again by itself; the attempt count carries on
    assert len(ctp.td.requests("ReqUserLogin")) == 2 and ctp.gw.session.retry.attempt == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [(3, "CTP:不合法的登录"), (63, "CTP:客户端认证失败"), (75, "CTP:连续登录失败次数超限，登录被禁止"),
     (131, "CTP:您当前密码为弱密码，请修改成强密码后重新登录"), (140, "CTP:首次登录必须修改密码，请修改密码后重新登录"),
     (9999, "CTP:an error nobody listed")],
)  # fmt: skip
def test_a_permanent_login_error_is_never_retried(ctp: Ctp, code: int, message: str) -> None:
    ctp.gw.session.set_policy(FAST)
    ctp.td.onFrontConnected()
    ctp.td.onRspUserLogin({}, {"ErrorID": code, "ErrorMsg": message}, ctp.front.last("ReqUserLogin")[1], True)
    assert (ctp.state, ctp.reason) == (S.LOGIN_FAILED, f"login failed: {code} {message}")
    assert not ctp.gw.session.retry.pending and ctp.gw.session.retry.attempt == 0
    ctp.td.onFrontDisconnected(0x1001)
    ctp.td.onFrontConnected()
    assert len(ctp.td.requests("ReqUserLogin")) == 1 and ctp.state == S.LOGIN_FAILED
