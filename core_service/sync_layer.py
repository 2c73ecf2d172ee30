"""The sync layer, built once and wired into the core: what the push stream alone would miss.

Layers (README "Sync with the broker"): the push (vnpy's OnRtnOrder/OnRtnTrade, as always); the
order/trade query fallback (`order_sync`); the follow-up of the orders the app sends itself
(`execution`); the position comparison with external closes and drift (`position_sync`); the order
diagnosis (`diagnose`). Everything they find goes through the risk desk (`risk_events`). Their
trading day and deadlines come from the core's `clock` (in a replay: the replayed day).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pymysql
from vnpy.trader.constant import Direction
from vnpy.trader.engine import MainEngine

from common.clock import LIVE, Clock
from common.config import AppConfig
from common.contract import Command, CommandType, GatewayState, GatewayStatus, RiskEventType
from common.trading_calendar import trading_day_str
from core_service import serializers as ser
from core_service.commands import EventThreadRunner, Refused
from core_service.cta import ArbigCtaEngine
from core_service.diagnose import Diagnoser
from core_service.execution import Execution
from core_service.mysql_writer import MysqlWriter
from core_service.order_sync import OrderSync
from core_service.position_sync import PositionSync
from core_service.recorder import Recorder
from core_service.risk_events import RiskDesk

log = logging.getLogger(__name__)

Handler = Callable[[Command], dict[str, Any]]


class SyncLayer:
    def __init__(self, config: AppConfig, main_engine: MainEngine, cta: ArbigCtaEngine, recorder: Recorder,
                 writer: MysqlWriter, runner: EventThreadRunner, gateway: Any,
                 not_ready: Callable[[], str], *, db_connect: Callable[[], Any], clock: Clock = LIVE) -> None:
        self.config = config
        self.clock = clock
        self.main_engine = main_engine
        self.gateway = gateway
        self.gateway_name = gateway.gateway_name
        self.risk = RiskDesk(writer.put, recorder.publish_event, self.today, clock=clock.monotonic)
        self._db_connect = db_connect
        # -- order sync (query fallback): built here
        self.order_sync = OrderSync(config.sync, main_engine, gateway, self.risk)
        # -- execution (order follow-up): built here
        self.execution = Execution(config.execution, main_engine, cta, runner, self.risk, self.gateway_name)
        recorder.order_listeners.append(self.execution.on_order)
        self.diagnoser = Diagnoser.build(main_engine, gateway, not_ready, recorder.contracts, clock)
        self.position_sync = PositionSync(config.sync, main_engine, self.gateway_name, db_connect, writer, recorder,
                                          self.risk, self.today, clock.monotonic,
                                          getattr(self, "order_sync", None))

    def today(self) -> str:
        """Today's trading day (YYYY-MM-DD) by the core's clock."""
        return ser.day_to_db(trading_day_str(self.clock.now()))

    def start(self) -> None:
        self.order_sync.start()
        self.execution.start()
        self.position_sync.start()

    def stop(self) -> None:
        self.order_sync.stop()
        self.execution.stop(timeout=2.0)
        self.position_sync.stop()

    def on_gateway_status(self, new: GatewayStatus, old: GatewayStatus) -> None:
        """Any thread (CTP's callback thread too): never blocks."""
        if new.state == GatewayState.LOGGED_IN and old.state != GatewayState.LOGGED_IN:
            self.order_sync.request_now()  # what the push missed while we were away
        if new.state == GatewayState.DISCONNECTED and old.state == GatewayState.LOGGED_IN:
            self.risk.raise_event(RiskEventType.FRONT_DISCONNECT, f"the broker's front disconnected: {new.reason}",
                                  key=f"FRONT_DISCONNECT:{self.gateway_name}", window_s=60.0, reason=new.reason)

    def handlers(self, on_event_thread: Callable[[Handler], Handler]) -> dict[CommandType, Handler]:
        """The sync layer's commands; `on_event_thread` wraps a handler to run on vnpy's event thread."""
        return {
            CommandType.RISK_ACK: self._acknowledge,
            CommandType.SYNC_CHECK: lambda command: self.position_sync.report().model_dump(mode="json"),
            CommandType.SYNC_APPLY: lambda command: self.position_sync.apply().model_dump(mode="json"),
            CommandType.DRILL_EXTERNAL_CLOSE: self._drill_external_close,
            CommandType.ORDER_DIAGNOSE: on_event_thread(self.diagnoser.handle),
        }

    def _acknowledge(self, command: Command) -> dict[str, Any]:
        """risk.ack: refused for an unknown or already acknowledged event (MySQL), else recorded."""
        uid = command.typed_params().uid
        try:
            conn = self._db_connect()
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT acknowledged_by, acknowledged_at FROM risk_events WHERE uid = %s", (uid,))
                    row = cur.fetchone()
            finally:
                conn.close()
        except pymysql.err.MySQLError as exc:
            log.warning("risk.ack of %s recorded without checking MySQL (%s)", uid, exc)
            row = ("", None)
        if row is None and not self.risk.raised(uid):
            raise Refused(f"unknown risk event {uid}", "risk_unknown", uid=uid)
        if row is not None and row[1] is not None:
            raise Refused(f"risk event {uid} was acknowledged already by {row[0]} at {row[1]} UTC",
                          "risk_acknowledged", uid=uid, by=str(row[0]), at=f"{row[1]} UTC")
        try:
            return self.risk.acknowledge(uid, command.operator)
        except ValueError as exc:
            raise Refused(str(exc)) from exc

    def _drill_external_close(self, command: Command) -> dict[str, Any]:
        """The simulated exchange closes a position behind the core's back (no trade pushed)."""
        drill = getattr(self.gateway, "drill_external_close", None)
        if drill is None:
            raise Refused(f"drills run on the simulated gateway only (this core trades on {self.gateway_name})",
                          "drill_sim_only", gateway=self.gateway_name)
        params = command.typed_params()
        symbol, _exchange = params.vt_symbol.split(".")
        try:
            result = drill(symbol, Direction[params.direction], params.volume)
        except ValueError as exc:
            raise Refused(str(exc)) from exc
        log.warning("drill: the simulated exchange closed %d %s %s behind the core's back", params.volume,
                    params.direction, params.vt_symbol)
        return dict(result or {})
