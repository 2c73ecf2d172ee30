"""The core application: wires vnpy's engines to the recorders, the command loop and the watchers.

Start order: the instance lock (one core per account), MySQL schema, writers, vnpy MainEngine +
CtaEngine, recorder handlers, gateway connect (with login watchdog), strategies, command loop and
local control channel, config watcher, heartbeat (which also renews the lock's Redis lease).
Stop order is the reverse; everything buffered is flushed (or spooled) before the process ends,
and the stop's cause is recorded as a system event.
Import this module only after `runtime.prepare_runtime()` (vnpy reads its folder on import).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pymysql
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from vnpy.trader.constant import Exchange
from vnpy.trader.engine import MainEngine
from vnpy.trader.object import SubscribeRequest
from vnpy_ctastrategy import CtaStrategyApp

from common.config import AppConfig, Secrets, update_main_contract_file
from common.contract import (
    GatewayState,
    GatewayStatus,
    Heartbeat,
    Keys,
    MainContract,
    RiskEventType,
    now_ms,
)
from common.db import connect as db_connect
from common.db import migrate
from common.market_clock import MarketClock
from common.trading_calendar import CHINA_TZ, trading_day_str
from core_service import serializers as ser
from core_service.broker_errors import BrokerError
from core_service.command_handlers import build_handlers
from core_service.commands import CommandProcessor, EventThreadRunner, Refused
from core_service.config_watcher import ConfigWatcher
from core_service.contracts_table import wire_rates
from core_service.control_socket import ControlServer, socket_path
from core_service.cta import ArbigCtaEngine
from core_service.cta_sink import RecordingSink
from core_service.gateway_status import GatewayStatusTracker, LoginWatchdog, describe_transition
from core_service.gateways import add_gateway, connect_gateway
from core_service.guarded_events import GuardedEventEngine
from core_service.heartbeat import HeartbeatThread
from core_service.held_contracts import HeldContracts
from core_service.instance_lock import InstanceLock, account_of
from core_service.mysql_writer import MysqlWriter
from core_service.pretrade import MarginGuard
from core_service.recorder import Recorder
from core_service.redis_publisher import RedisPublisher
from core_service.runtime import write_running_config
from core_service.spool import Spool
from core_service.strategy_pos_sync import StrategyPosSync
from core_service.strategy_setup import StrategySetup
from core_service.sync_layer import SyncLayer

log = logging.getLogger(__name__)


class ArbigCtaApp(CtaStrategyApp):
    engine_class = ArbigCtaEngine


class CoreApp:
    contract_check_s = 20.0  # after login: say so if the main contract is still unknown by then

    def __init__(self, config: AppConfig, config_file: Path, secrets: Secrets, runtime: Path,
                 recovery: str = "") -> None:
        """`recovery`: why the supervisor restarted this core after a crash ("" on a normal start);
        strategies then come back running only where `auto_restart` says so."""
        self.config = config
        self.recovery = recovery
        self.config_file = config_file
        self.secrets = secrets
        self.runtime = runtime
        self.keys = Keys(config.redis.key_prefix)
        self.started_ms = now_ms()
        self._main_symbol = config.market_data.main_contract
        self._lock = threading.RLock()
        self._schema_ready = False
        self.redis = redis.Redis(
            host=config.redis.host, port=config.redis.port, db=config.redis.db,
            password=secrets.redis_password.get_secret_value() or None,
            decode_responses=True, socket_connect_timeout=2, socket_timeout=5, health_check_interval=10,
            retry=Retry(ExponentialBackoff(cap=1.0), 1),  # redis-py's default: 10 retries, ~50 s in a hang
        )
        account = account_of(config, secrets)
        self.lock = InstanceLock(runtime, account, self.redis, self.keys.core_lease(account))
        self.writer = MysqlWriter(self._db_connect, Spool(runtime / "mysql_spool.jsonl"),
                                  Spool(runtime / "mysql_rejected.jsonl"), on_state=self._on_mysql_state)
        self.publisher = RedisPublisher(self.redis, self.keys.main_contract)
        self.event_engine = GuardedEventEngine()
        self.main_engine: MainEngine | None = None
        self.cta: ArbigCtaEngine | None = None
        self.recorder: Recorder | None = None
        self.tracker = GatewayStatusTracker(config.gateway.name, self._on_gateway_status)
        self.watchdog: LoginWatchdog | None = None
        self.commands: CommandProcessor | None = None
        self.watcher: ConfigWatcher | None = None
        self.sync: SyncLayer | None = None
        self.control: ControlServer | None = None
        self.runner: EventThreadRunner | None = None
        self.beats = HeartbeatThread(self.redis, self.keys.heartbeat, config.core.heartbeat_interval_s,
                                     config.core.heartbeat_ttl_s, self.heartbeat, self.lock, self._report)
        self._subscribed: set[str] = set()
        self._strategies_set_up = threading.Event()

    # ------------------------------------------------------------ start
    def start(self) -> None:
        self.lock.acquire()  # raises AlreadyRunning before anything connects or trades
        self._write_running_config()
        self._ensure_schema(attempts=5)
        self.writer.start()
        for key in (self.keys.orders, self.keys.positions, self.keys.strategies, self.keys.contracts):
            self.publisher.delete(key)  # yesterday's live state; the gateway and engines publish it anew
        self.publisher.start()
        self.main_engine = MainEngine(self.event_engine)  # also chdirs to vnpy's folder (our runtime)
        gateway = add_gateway(self.main_engine, self.config)
        if hasattr(gateway, "broker_error_listener"):
            gateway.broker_error_listener = self._on_broker_error
        if hasattr(gateway, "settlement_listener"):  # kept raw beside the day's ledger (pnl_records)
            gateway.settlement_listener = self._on_settlement_statement
        self.cta = self.main_engine.add_app(ArbigCtaApp)  # type: ignore[assignment]
        self.recorder = Recorder(
            self.event_engine, self.keys, self.publisher, self.writer,
            tick_maxlen=self.config.redis.tick_maxlen, event_maxlen=self.config.redis.event_maxlen,
            main_symbol=lambda: self._main_symbol, strategy_of_order=self._strategy_of_order,
            clock=MarketClock(runs_on=not self._replaying()),  # a replay's market clock stands between ticks
        )
        self.recorder.order_listeners.append(self.cta.on_order_update)  # type: ignore[union-attr]
        self.recorder.contract_listeners.append(self._on_contract)
        self.recorder.start()
        self.cta.sink = RecordingSink(self.recorder, self.writer, self.publisher, self.keys)  # type: ignore[union-attr]
        wire_rates(self.recorder.contracts, gateway, self.config)  # sim: its settings; CTP: the rate queries
        self.margin_guard = MarginGuard(self.recorder.contracts.rates, self.recorder.contracts.size,
                                        self.main_engine.get_all_accounts)
        self.cta.margin_guard = self.margin_guard  # type: ignore[union-attr]
        self.cta.clock = MarketClock(runs_on=not self._replaying())  # type: ignore[union-attr]
        self.runner = EventThreadRunner(self.event_engine)
        self.held = HeldContracts(self.event_engine, self._subscribe)  # a held contract keeps its market data
        StrategyPosSync(self.event_engine, self.main_engine, self.cta, self._report)  # type: ignore[arg-type]
        self.sync = SyncLayer(self.config, self.main_engine, self.cta, self.recorder, self.writer,  # type: ignore[arg-type]
                              self.runner, gateway, self._not_ready, db_connect=self._db_connect)
        self._publish_main_contract()
        recovered = f"; restarted by the supervisor after: {self.recovery}" if self.recovery else ""
        self.recorder.system_event("start", f"core started (pid {os.getpid()}, gateway {self.config.gateway.name},"
                                            f" main contract {self._main_symbol}){recovered}",
                                   "WARNING" if self.recovery else "INFO")
        if not self.lock.lease_held:
            self.recorder.system_event("lock", "Redis unreachable at start: only the local lock guards against a"
                                               " second core until Redis answers", "WARNING")
        self.cta.init_engine()  # type: ignore[union-attr]
        self.beats.start()
        self.sync.start()
        self.watchdog = connect_gateway(gateway, self.config, self.secrets, self.runtime, self.tracker)
        self.commands = CommandProcessor(self.redis, self.keys, build_handlers(self), self.recorder.command_audited,
                                         self.config.core.command_ttl_s)
        self.commands.start()
        self.control = ControlServer(socket_path(self.runtime), self.commands.process_local,
                                     lambda: self.heartbeat().model_dump(mode="json"))
        self.control.start()
        self.watcher = ConfigWatcher(self.config_file, lambda: self.config, self.switch_main_contract,
                                     self._report, self.config.core.config_poll_s)
        self.watcher.start()

    def _write_running_config(self) -> None:
        write_running_config(self.runtime, self.config)

    def _db_connect(self) -> pymysql.Connection:
        if not self._schema_ready:
            self._ensure_schema(attempts=1)
            if not self._schema_ready:
                raise pymysql.err.OperationalError(2003, "schema not ready (MySQL unreachable)")
        return db_connect(self.config.mysql, self.secrets)

    def _ensure_schema(self, attempts: int) -> None:
        for attempt in range(attempts):
            try:
                applied = migrate(self.config.mysql, self.secrets)
                self._schema_ready = True
                if applied:
                    log.info("MySQL schema migrations applied: %s", applied)
                return
            except pymysql.err.MySQLError as exc:
                log.error("MySQL not available for migrations (%s); records are spooled until it is", exc)
                if attempt + 1 < attempts:
                    time.sleep(1.0)

    # ------------------------------------------------------------ strategies
    def _setup_strategies(self) -> None:
        """Add configured strategies once the main contract is known; auto init/start them (once)."""
        if self._strategies_set_up.is_set() or self.cta is None:
            return
        self._strategies_set_up.set()
        assert self.main_engine is not None and self.runner is not None
        StrategySetup(self.config, self.cta, self.main_engine, self.runner, self._report, self.recovery,
                      ready=self._gateway_reported_account, halted=self.beats.halted.is_set).run(self._main_symbol)
        for strategy in self.cta.strategies.values():
            self.cta.sink.on_strategy(self.cta.strategy_state(strategy))  # type: ignore[union-attr]

    def _not_ready(self) -> str:
        status = self.tracker.current
        if status.state == GatewayState.LOGGED_IN:
            return ""
        return f"the gateway is not ready to trade ({status.state.value}{': ' + status.reason if status.reason else ''})"

    def _gateway_reported_account(self) -> bool:
        return (self.tracker.current.state == GatewayState.LOGGED_IN and self.main_engine is not None
                and bool(self.main_engine.get_all_accounts()))

    def _replaying(self) -> bool:
        return self.config.gateway.name == "sim" and bool(self.config.gateway.sim.replay_file)

    def _strategy_of_order(self, vt_orderid: str) -> str | None:
        strategy = self.cta.orderid_strategy_map.get(vt_orderid) if self.cta else None
        return strategy.strategy_name if strategy else None

    # ------------------------------------------------------------ gateway state
    def _on_gateway_status(self, new: GatewayStatus, old: GatewayStatus) -> None:
        if new.state != old.state and self.recorder:
            kind, level, text = describe_transition(new)
            self.recorder.system_event(kind, text, level, state=new.state.value, reason=new.reason)
        if new.state == GatewayState.LOGGED_IN and old.state != GatewayState.LOGGED_IN:
            timer = threading.Timer(self.contract_check_s, self._check_main_contract_known)
            timer.daemon = True
            timer.start()
        if self.watchdog:
            if new.state == GatewayState.LOGGED_IN:
                self.watchdog.disarm()
            elif new.state == GatewayState.DISCONNECTED and old.state == GatewayState.LOGGED_IN:
                self.watchdog.arm()  # the library reconnects by itself; say so if it does not
        if self.sync:
            self.sync.on_gateway_status(new, old)
        self.beats.wake()  # never write to Redis here: this may be CTP's callback thread

    def _on_broker_error(self, error: BrokerError) -> None:
        """A broker refusal (CTP's callback thread): recorded, pushed to the pages (system event
        `broker_error`, shown as a notice where the operator is), kept in MySQL. Never blocks."""
        if self.sync and error.kind == "flow_control":
            self.sync.risk.raise_event(RiskEventType.RATE_LIMIT, error.text, key=f"RATE_LIMIT:{error.request}",
                                       window_s=60.0, request=error.request, code=error.error_id)
        if self.recorder:
            self.recorder.system_event("broker_error", error.text, "WARNING" if error.replayed else "ERROR",
                                       **{f"error_{k}" if k in ("kind", "message") else k: v
                                          for k, v in error.model_dump(mode="json").items()})

    def _on_settlement_statement(self, accountid: str, trading_day: str, text: str) -> None:
        if self.recorder and self.main_engine:
            self.recorder.settlement_statement(self.main_engine.get_all_gateway_names()[0], accountid, trading_day,
                                               text)

    def _check_main_contract_known(self) -> None:
        if self.main_engine is None or self.beats.halted.is_set():
            return
        symbol = self._main_symbol
        if self.main_engine.get_contract(f"{symbol}.{self.config.market_data.exchange}") is None:
            self._report("config", f"market_data.main_contract: {symbol} is not known to the gateway"
                                   f" {self.contract_check_s:.0f} s after login (unknown or expired contract): no"
                                   " market data, strategies on it not started; fix the config file", "ERROR")

    def _on_mysql_state(self, ok: bool, error: str) -> None:
        if self.recorder:
            text = "MySQL reachable again; spooled records written" if ok else f"{error}; records are spooled"
            self.recorder.publish_event("system", {"kind": "mysql", "message": text, "level": "INFO" if ok
                                                   else "ERROR", "ts_ms": now_ms(), "detail": {}})
        self.beats.wake()

    # ------------------------------------------------------------ main contract
    def _on_contract(self, symbol: str) -> None:
        """Called by the recorder (dispatcher thread) for every contract the gateway announces."""
        if symbol == self._main_symbol:
            self._subscribe(symbol)
            self._setup_strategies()

    def _subscribe(self, symbol: str) -> None:
        assert self.main_engine is not None and self.recorder is not None
        with self._lock:
            self.recorder.published_symbols.add(symbol)
            if symbol in self._subscribed or not self.config.market_data.auto_subscribe:
                return
            self._subscribed.add(symbol)
        gateway_name = self.main_engine.get_all_gateway_names()[0]
        self.main_engine.subscribe(SubscribeRequest(symbol=symbol, exchange=Exchange.SHFE), gateway_name)

    def _publish_main_contract(self) -> None:
        main = MainContract(symbol=self._main_symbol, exchange=self.config.market_data.exchange,
                            vt_symbol=f"{self._main_symbol}.{self.config.market_data.exchange}", since_ms=now_ms())
        self.publisher.set_state(self.keys.main_contract, main.to_json())
        if self.recorder:
            self.recorder.publish_event("main_contract", main.model_dump())

    def switch_main_contract(self, symbol: str) -> None:
        """Roll the main contract: subscribe the new one, clear the old one's live data, record it."""
        assert self.main_engine is not None and self.recorder is not None
        with self._lock:
            old = self._main_symbol
            if symbol == old:
                return
            if self.main_engine.get_contract(f"{symbol}.SHFE") is None:
                raise Refused(f"contract {symbol} is not known to the gateway; main contract stays {old}",
                              "contract_unknown", symbol=symbol)
            self._main_symbol = symbol
            self.config = self.config.model_copy(
                update={"market_data": self.config.market_data.model_copy(update={"main_contract": symbol})})
        self._subscribe(symbol)
        gateway = self.main_engine.get_gateway(self.main_engine.get_all_gateway_names()[0])
        users = [s.strategy_name for s in (self.cta.strategies.values() if self.cta else [])
                 if s.vt_symbol == f"{old}.SHFE"]
        if not users and not self.held.is_held(old):  # a held contract keeps its price and its close
            self.recorder.published_symbols.discard(old)
            if hasattr(gateway, "unsubscribe"):
                gateway.unsubscribe(old)
                self._subscribed.discard(old)
            self.publisher.delete(self.keys.tick_stream(old))
        self._publish_main_contract()
        self._write_running_config()
        for contract in self.main_engine.get_all_contracts():
            if contract.symbol in (old, symbol):
                info = ser.contract_info(contract, symbol)
                self.publisher.hset_state(self.keys.contracts, info.symbol, info.to_json())
        elsewhere = sorted(f"{s.strategy_name} ({s.vt_symbol.split('.')[0]})" for s in self.cta.strategies.values()
                           if s.vt_symbol != f"{symbol}.SHFE") if self.cta else []
        note = f"; strategies still on older contracts: {', '.join(elsewhere)}" if elsewhere else ""
        self.recorder.system_event("rollover", f"main contract rolled from {old} to {symbol}{note}",
                                   old=old, new=symbol, strategies_on_old=users)

    def _switch_command(self, command: Any) -> dict[str, Any]:
        symbol = command.typed_params().symbol
        assert self.main_engine is not None
        if self.main_engine.get_contract(f"{symbol}.SHFE") is None:
            raise Refused(f"contract {symbol} is not known to the gateway", "contract_unknown", symbol=symbol)
        if symbol == self._main_symbol:
            raise Refused(f"{symbol} is already the main contract", "contract_is_main", symbol=symbol)
        update_main_contract_file(self.config_file, symbol)
        if self.watcher:
            self.watcher.mark_seen()
        self.switch_main_contract(symbol)
        return {"main_contract": symbol}

    # ------------------------------------------------------------ commands
    def _report(self, kind: str, message: str, level: str = "INFO") -> None:
        if self.recorder:
            self.recorder.system_event(kind, message, level)
        else:
            log.log(logging.getLevelName(level), message)

    # ------------------------------------------------------------ heartbeat
    def heartbeat(self) -> Heartbeat:
        from core_service.session_clock import current_session

        return Heartbeat(
            pid=os.getpid(), ts_ms=now_ms(), started_ms=self.started_ms, gateway=self.tracker.current,
            main_contract=self._main_symbol, trading_day=trading_day_str(datetime.now(CHINA_TZ)),
            mysql_ok=self.writer.ok, mysql_backlog=self.writer.backlog,
            redis_backlog=self.publisher.backlog + (self.recorder.backlog if self.recorder else 0),
            last_tick_ms=self.recorder.last_tick_ms if self.recorder else None,
            session=current_session(self.config, self.main_engine),
        )

    # ------------------------------------------------------------ stop
    def stop(self, reason: str = "asked to stop") -> None:
        """Stop everything; `reason` (signal, crash, dependency) is recorded as the stop's cause."""
        log.info("core stopping: %s", reason)
        for part in (self.watcher, self.commands):
            if part is not None:
                part.stop(timeout=2.0)
        if self.watchdog:
            self.watchdog.disarm()
        self.beats.stop()
        if self.control is not None:
            self.control.stop(timeout=1.0)
        if self.recorder:
            self.recorder.system_event("stop", f"core stopping: {reason}", "INFO" if reason.startswith(
                ("SIG", "asked")) else "ERROR", reason=reason)
        if self.sync:
            self.sync.stop()
        if self.runner:
            self.runner.close()
        if self.main_engine is not None:
            self.main_engine.close()  # stops strategies, closes the gateway and the event engine
        self.tracker.set(GatewayState.STOPPED)
        if self.recorder:
            self.recorder.stop()
        self.publisher.stop(timeout=2.0)
        self.writer.stop(timeout=3.0)
        with contextlib.suppress(redis.RedisError):
            self.redis.delete(self.keys.heartbeat)
        self.lock.release()
        log.info("core stopped (mysql spool: %d records waiting)", len(self.writer.spool))
