"""Fake CTP fronts for gateway tests: a port where nothing listens, a front that drops every
connection, and `ScriptedTdApi`: the project's real trading API over a stand-in for the CTP
library's request calls (recorded, answered with scripted return codes), whose replies the tests
then feed through the API's real callbacks."""

from __future__ import annotations

import os
import socket
import threading
import time
from types import TracebackType
from typing import Any

from vnpy_ctp.gateway.ctp_gateway import CtpTdApi

from core_service.ctp_td_api import ArbigTdApi
from core_service.gateway_status import GatewayStatusTracker

LIBRARY_REQUESTS = (
    "reqAuthenticate", "reqUserLogin", "reqSettlementInfoConfirm", "reqQryInstrument", "reqQryTradingAccount",
    "reqQryInvestorPosition", "reqQryInstrumentMarginRate", "reqQryInstrumentCommissionRate", "reqOrderInsert",
    "reqOrderAction", "reqQrySettlementInfo",
)  # fmt: skip


def free_port() -> int:
    """A local port nothing listens on (bound once by us, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def os_threads() -> int:
    """Native threads of this process (CTP's own threads included, which `threading` does not see)."""
    return len(os.listdir("/proc/self/task"))


class DroppingFront:
    """A TCP server that accepts each connection and closes it at once; records when each arrived."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self.accepted: list[float] = []  # time.monotonic() of each connection
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"dropping-front-{self.port}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(time.monotonic())
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> DroppingFront:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ScriptedTdLibrary(CtpTdApi):
    """Stands in for the CTP C++ library's Req* calls only: each request is recorded in `sent` as
    (CTP request name, request dict, request id) and answered with the next code scripted in
    `codes[name]` (0, "sent", when none is left). Nothing else of vnpy or ARBIG is replaced."""

    def __init__(self, gateway: Any) -> None:
        super().__init__(gateway)
        self.sent: list[tuple[str, dict, int]] = []
        self.codes: dict[str, list[int]] = {}
        self._sent_lock = threading.Lock()

    def requests(self, name: str) -> list[tuple[dict, int]]:
        """The (request, reqid) of every `name` request sent so far ("ReqUserLogin")."""
        with self._sent_lock:
            return [(req, reqid) for sent, req, reqid in self.sent if sent == name]

    def names(self) -> list[str]:
        with self._sent_lock:
            return [name for name, _, _ in self.sent]


def _scripted(method: str) -> Any:
    name = "R" + method[1:]

    def request(self: ScriptedTdLibrary, req: dict, reqid: int) -> int:
        with self._sent_lock:
            self.sent.append((name, dict(req), reqid))
        codes = self.codes.get(name)
        return codes.pop(0) if codes else 0

    request.__name__ = method
    return request


for _method in LIBRARY_REQUESTS:
    setattr(ScriptedTdLibrary, _method, _scripted(_method))


class ScriptedTdApi(ArbigTdApi, ScriptedTdLibrary):
    """ArbigTdApi (all of its code and vnpy's) with the library's request side scripted."""


# ---------------------------------------------------------------- CTP-shaped replies

OK = {"ErrorID": 0, "ErrorMsg": "CTP:正确"}


def instrument(symbol: str, size: int = 1000, tick: float = 0.02) -> dict[str, Any]:
    """A CThostFtdcInstrumentField record of an SHFE future."""
    return {
        "InstrumentID": symbol, "ExchangeID": "SHFE", "InstrumentName": f"黄金{symbol[2:]}", "ExchangeInstID": symbol,
        "ProductID": symbol[:2], "ProductClass": "1", "DeliveryYear": 2000 + int(symbol[2:4]),
        "DeliveryMonth": int(symbol[4:6]), "MaxMarketOrderVolume": 30, "MinMarketOrderVolume": 1,
        "MaxLimitOrderVolume": 500, "MinLimitOrderVolume": 1, "VolumeMultiple": size, "PriceTick": tick,
        "CreateDate": "20251114", "OpenDate": "20251117", "ExpireDate": f"20{symbol[2:6]}15",
        "StartDelivDate": f"20{symbol[2:6]}16", "EndDelivDate": f"20{symbol[2:6]}22", "InstLifePhase": "1",
        "IsTrading": 1, "PositionType": "2", "PositionDateType": "1", "LongMarginRatio": 0.1,
        "ShortMarginRatio": 0.1, "MaxMarginSideAlgorithm": "1", "StrikePrice": 0.0, "OptionsType": "\x00",
        "UnderlyingMultiple": 1.0, "CombinationType": "0", "UnderlyingInstrID": "",
    }  # fmt: skip


def login_reply(trading_day: str, front: int = 1, session: int = 7) -> dict[str, Any]:
    """A CThostFtdcRspUserLoginField."""
    return {
        "TradingDay": trading_day, "LoginTime": "20:45:01", "BrokerID": "9999", "UserID": "000001",
        "SystemName": "TradingHosting", "FrontID": front, "SessionID": session, "MaxOrderRef": "1",
        "SHFETime": "20:45:01", "DCETime": "20:45:01", "CZCETime": "20:45:01", "FFEXTime": "20:45:01",
        "INETime": "20:45:01", "SysVersion": "v6.7.2", "GFEXTime": "20:45:01",
    }  # fmt: skip


class FrontScript:
    """Answers as a CTP trading front would, through the gateway's real `ScriptedTdApi` callbacks."""

    def __init__(self, gateway: Any) -> None:
        self.gw = gateway
        self.td: ScriptedTdApi = gateway.td_api

    def last(self, name: str) -> tuple[dict, int]:
        sent = self.td.requests(name)
        assert sent, f"no {name} sent; sent so far: {self.td.names()}"
        return sent[-1]

    def login(self, trading_day: str = "20261124") -> None:
        self.td.onFrontConnected()
        _, reqid = self.last("ReqUserLogin")
        self.td.onRspUserLogin(login_reply(trading_day), OK, reqid, True)

    def confirm(self, error: dict[str, Any] | None = None) -> None:
        req, reqid = self.last("ReqSettlementInfoConfirm")
        data = {} if error else {**req, "ConfirmDate": "20261123", "ConfirmTime": "20:45:02", "SettlementID": 1}
        self.td.onRspSettlementInfoConfirm(data, error or OK, reqid, True)

    def instruments(self, *symbols: str) -> None:
        _, reqid = self.last("ReqQryInstrument")
        for i, symbol in enumerate(symbols):
            self.td.onRspQryInstrument(instrument(symbol), {}, reqid, i == len(symbols) - 1)

    def ready(self, *symbols: str) -> None:
        """Log in, confirm the settlement and load the instruments: the session is ready."""
        self.login()
        self.confirm()
        self.instruments(*symbols)


def scripted_gateway(main_engine: Any) -> Any:
    """An ArbigCtpGateway on a real MainEngine whose trading API is a `ScriptedTdApi` (user 000001,
    broker 9999), with its own status tracker. Not connected: no CTP thread and no timer runs, the
    test drives the callbacks (and `process_timer_event`) itself."""
    from core_service.ctp_gateway import ArbigCtpGateway

    gateway = main_engine.add_gateway(ArbigCtpGateway)
    gateway.td_api = ScriptedTdApi(gateway)
    gateway.td_api.userid, gateway.td_api.brokerid = "000001", "9999"
    gateway.status_tracker = GatewayStatusTracker("ctp")
    gateway.query_functions = [gateway.query_account, gateway.query_position]  # as connect() sets up
    return gateway
