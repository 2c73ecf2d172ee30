"""The core application: the parts `wiring.build_core` built, started in order, stopped in reverse,
and the core's lifecycle state.

Construction takes the instance lock (one core per account: AlreadyRunning before anything that could
connect or trade exists) and builds every part. `start()`: running config file, MySQL schema, writer,
Redis publisher, recorder, the AI's exit plans (loaded from MySQL), main contract, CtaEngine, heartbeat
(which also renews the lock's Redis lease), sync layer, gateway connect (with login watchdog), command
loop, local control channel, config watcher. `stop()` goes the other way; everything buffered is
flushed (or spooled) before the process ends, and the stop's cause is recorded as a system event.

State (`common.lifecycle`): STARTING until `start()` is done, then RUNNING, or DEGRADED while MySQL
is unreachable (records spooled), Redis is unreachable or the gateway has lost its login; STOPPING,
then STOPPED. It travels in the heartbeat (`state`, `state_reason`).
Import this module only after `runtime.prepare_runtime()` (vnpy reads its folder on import).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from common.clock import LIVE, Clock
from common.config import AppConfig, Secrets
from common.contract import Command, GatewayState, GatewayStatus, Heartbeat, RiskEventType
from common.lifecycle import ComponentState, Lifecycle
from common.trading_calendar import trading_day_str
from core_service.broker_errors import BrokerError
from core_service.command_handlers import build_ai_desk, build_handlers, build_manual_orders
from core_service.gateway_status import describe_transition
from core_service.gateways import connect_gateway
from core_service.runtime import write_running_config
from core_service.session_clock import current_session
from core_service.strategy_setup import StrategySetup
from core_service.wiring import CoreHooks, build_core, build_services

log = logging.getLogger(__name__)
S = ComponentState


class CoreApp:
    contract_check_s = 20.0  # after login: say so if the main contract is still unknown by then

    def __init__(self, config: AppConfig, config_file: Path, secrets: Secrets, runtime: Path,
                 recovery: str = "", clock: Clock = LIVE) -> None:
        """Takes the instance lock (raises AlreadyRunning) and builds the core. `recovery`: why the
        supervisor restarted this core after a crash ("" on a normal start); strategies then come back
        running only where `auto_restart` says so."""
        self.recovery = recovery
        self.config_file = config_file
        self.secrets = secrets
        self.runtime = runtime
        self.clock = clock
        self.started_ms = clock.now_ms()
        self.lifecycle = Lifecycle("core", self._on_state_change)
        self.state_reason = ""
        self._state_lock = threading.RLock()  # a state change and its reason, one at a time
        self._was_logged_in = False
        self._strategies_set_up = threading.Event()
        self.core = core = build_core(config, config_file, secrets, runtime, clock, CoreHooks(
            on_mysql_state=self._on_mysql_state, on_redis_state=self._on_redis_state,
            on_gateway_status=self._on_gateway_status, on_broker_error=self._on_broker_error,
            on_settlement_statement=self._on_settlement_statement, on_main_contract_known=self._setup_strategies,
            heartbeat=self.heartbeat))
        # the parts by the names the command handlers (command_handlers.py) and the tests use
        self.keys, self.redis, self.lock = core.keys, core.redis, core.lock
        self.writer, self.publisher, self.recorder = core.writer, core.publisher, core.recorder
        self.event_engine, self.main_engine, self.cta = core.event_engine, core.main_engine, core.cta
        self.tracker, self.runner, self.sync, self.margin_guard = core.tracker, core.runner, core.sync, core.margin_guard
        self.rollover, self.beats = core.rollover, core.beats
        try:
            self.orders = build_manual_orders(self)
            self.ai = build_ai_desk(self, self.orders)  # the AI trader's commands, state and exit plans
            self.beats.on_beat.append(self.ai.publish_state)
            self.services = build_services(core, build_handlers(self, self.orders, self.ai), self._status, runtime,
                                           config.core.command_ttl_s)
        except BaseException:
            self.main_engine.close()
            self.lock.release()
            raise

    @property
    def config(self) -> AppConfig:
        """The running settings (the main contract follows a rollover)."""
        return self.core.running.config

    @property
    def state(self) -> ComponentState:
        return self.lifecycle.state

    # ------------------------------------------------------------ start
    def start(self) -> None:
        core, recorder = self.core, self.recorder
        write_running_config(self.runtime, self.config)
        core.schema.ensure(attempts=5)
        self.writer.start()
        for key in (self.keys.orders, self.keys.positions, self.keys.strategies, self.keys.contracts):
            self.publisher.delete(key)  # yesterday's live state; the gateway and engines publish it anew
        self.publisher.start()
        recorder.start()
        core.exit_plans.load()  # the plans of positions held before a restart
        core.exit_plans.start()
        self.ai.publish_state(event=True)
        self.rollover.publish_main_contract()
        recovered = f"; restarted by the supervisor after: {self.recovery}" if self.recovery else ""
        recorder.system_event("start", f"core started (pid {os.getpid()}, gateway {self.config.gateway.name},"
                                       f" main contract {self.rollover.main_symbol}){recovered}",
                              "WARNING" if self.recovery else "INFO")
        if not self.lock.lease_held:
            recorder.system_event("lock", "Redis unreachable at start: only the local lock guards against a"
                                          " second core until Redis answers", "WARNING")
        self.cta.init_engine()
        self.beats.start()
        self.sync.start()
        connect_gateway(core.gateway, self.config, self.secrets, self.runtime, self.tracker, core.watchdog)
        self.services.commands.start()
        self.services.control.start()
        self.rollover.watcher.start()
        self._refresh_state(S.STARTING)

    # ------------------------------------------------------------ strategies
    def _setup_strategies(self) -> None:
        """Add configured strategies once the main contract is known; auto init/start them (once)."""
        if self._strategies_set_up.is_set():
            return
        self._strategies_set_up.set()
        StrategySetup(self.config, self.cta, self.main_engine, self.runner, self.recorder.system_event,
                      self.recovery, ready=self._gateway_reported_account, halted=self.beats.halted.is_set,
                      clock=self.core.market_time).run(self.rollover.main_symbol)
        for strategy in self.cta.strategies.values():
            self.core.sink.on_strategy(self.cta.strategy_state(strategy))

    def _not_ready(self) -> str:
        return self.core.not_ready()

    def _subscribe(self, symbol: str) -> None:
        self.core.subscriptions.subscribe(symbol)

    def _switch_command(self, command: Command) -> dict[str, Any]:
        return self.rollover.command(command)

    def _gateway_reported_account(self) -> bool:
        return self.tracker.current.state == GatewayState.LOGGED_IN and bool(self.main_engine.get_all_accounts())

    # ------------------------------------------------------------ gateway, stores (any thread: never block)
    def _on_gateway_status(self, new: GatewayStatus, old: GatewayStatus) -> None:
        if new.state != old.state:
            kind, level, text = describe_transition(new)
            self.recorder.system_event(kind, text, level, state=new.state.value, reason=new.reason)
        if new.state == GatewayState.LOGGED_IN:
            self._was_logged_in = True
            self.core.watchdog.disarm()
            if old.state != GatewayState.LOGGED_IN:
                timer = threading.Timer(self.contract_check_s, self._check_main_contract_known)
                timer.daemon = True
                timer.start()
        elif new.state == GatewayState.DISCONNECTED and old.state == GatewayState.LOGGED_IN:
            self.core.watchdog.arm()  # the library reconnects by itself; say so if it does not
        self.sync.on_gateway_status(new, old)
        self._refresh_state()
        self.beats.wake()  # never write to Redis here: this may be CTP's callback thread

    def _on_broker_error(self, error: BrokerError) -> None:
        """A broker refusal (CTP's callback thread): recorded, pushed to the pages (system event
        `broker_error`, shown as a notice where the operator is), kept in MySQL. Never blocks."""
        if error.kind == "flow_control":
            self.sync.risk.raise_event(RiskEventType.RATE_LIMIT, error.text, key=f"RATE_LIMIT:{error.request}",
                                       window_s=60.0, request=error.request, code=error.error_id)
        self.recorder.system_event("broker_error", error.text, "WARNING" if error.replayed else "ERROR",
                                   **{f"error_{k}" if k in ("kind", "message") else k: v
                                      for k, v in error.model_dump(mode="json").items()})

    def _on_settlement_statement(self, accountid: str, trading_day: str, text: str) -> None:
        self.recorder.settlement_statement(self.core.gateway.gateway_name, accountid, trading_day, text)

    def _check_main_contract_known(self) -> None:
        if self.beats.halted.is_set():
            return
        symbol = self.rollover.main_symbol
        if self.main_engine.get_contract(f"{symbol}.{self.config.market_data.exchange}") is None:
            self.recorder.system_event(
                "config", f"market_data.main_contract: {symbol} is not known to the gateway {self.contract_check_s:.0f}"
                          " s after login (unknown or expired contract): no market data, strategies on it not"
                          " started; fix the config file", "ERROR")

    def _on_mysql_state(self, ok: bool, error: str) -> None:
        text = "MySQL reachable again; spooled records written" if ok else f"{error}; records are spooled"
        self.recorder.publish_event("system", {"kind": "mysql", "message": text, "level": "INFO" if ok else "ERROR",
                                               "ts_ms": self.clock.now_ms(), "detail": {}})
        self._refresh_state()
        self.beats.wake()

    def _on_redis_state(self, ok: bool, error: str) -> None:
        self._refresh_state()

    # ------------------------------------------------------------ state
    def degraded_reasons(self) -> list[str]:
        reasons = []
        if not self.writer.ok:
            reasons.append(f"MySQL unreachable, records spooled ({self.writer.last_error})")
        if not self.publisher.ok:
            reasons.append(f"Redis unreachable ({self.publisher.last_error})")
        gateway = self.tracker.current
        if self._was_logged_in and gateway.state != GatewayState.LOGGED_IN:
            reasons.append(f"gateway {gateway.state.value}{': ' + gateway.reason if gateway.reason else ''}")
        return reasons

    def _refresh_state(self, *also_from: ComponentState) -> None:
        """RUNNING or DEGRADED by the stores and the gateway (only once started: `also_from` STARTING
        at the end of `start()`)."""
        reasons = self.degraded_reasons()
        with self._state_lock:
            if self.lifecycle.state not in (S.RUNNING, S.DEGRADED, *also_from):
                return
            self.state_reason = "; ".join(reasons)
            self.lifecycle.transition(S.DEGRADED if reasons else S.RUNNING)

    def _on_state_change(self, old: ComponentState, new: ComponentState) -> None:
        """Any thread: only queues (system event) and wakes the heartbeat; the STOPPING beat is written at
        once (on the thread of `stop()`, before anything stops)."""
        if new == S.STOPPING:
            self._beat_now()
        elif new == S.DEGRADED:
            self.recorder.system_event("core_state", f"core degraded: {self.state_reason}", "WARNING",
                                       state=new.value, reason=self.state_reason)
        elif old == S.DEGRADED and new == S.RUNNING:
            self.recorder.system_event("core_state", "core running normally again", "INFO", state=new.value)
        self.beats.wake()

    # ------------------------------------------------------------ heartbeat
    def heartbeat(self) -> Heartbeat:
        self._refresh_state()
        state = self.lifecycle.state
        return Heartbeat(
            pid=os.getpid(), ts_ms=self.clock.now_ms(), started_ms=self.started_ms, gateway=self.tracker.current,
            main_contract=self.rollover.main_symbol, trading_day=trading_day_str(self.core.market_time.now()),
            mysql_ok=self.writer.ok, mysql_backlog=self.writer.backlog,
            redis_backlog=self.publisher.backlog + self.recorder.backlog, last_tick_ms=self.recorder.last_tick_ms,
            session=current_session(self.config, self.main_engine, self.clock),
            state=state, state_reason=self.state_reason if state == S.DEGRADED else "",
        )

    def _status(self) -> dict[str, Any]:
        return self.heartbeat().model_dump(mode="json")

    def _beat_now(self, wait_s: float = 0.5) -> None:
        """One heartbeat written at once (the stop's: STOPPING), waited for at most `wait_s`: a hung Redis
        must not hold up the stop (the flush comes after)."""
        beat = self.heartbeat().to_json()

        def write() -> None:
            with contextlib.suppress(redis.RedisError):
                self.redis.set(self.keys.heartbeat, beat, ex=max(1, int(self.beats.ttl_s)))

        writer = threading.Thread(target=write, name="arbig-last-beat", daemon=True)
        writer.start()
        writer.join(wait_s)

    # ------------------------------------------------------------ stop
    def stop(self, reason: str = "asked to stop") -> None:
        """Stop everything (what start() started, in reverse); `reason` (signal, crash, dependency) is
        recorded as the stop's cause. A step that fails is logged and the stop goes on."""
        with self._state_lock:  # one stop; no DEGRADED/RUNNING decided before this lands after it
            if self.lifecycle.state in (S.STOPPING, S.STOPPED):
                return
            log.info("core stopping: %s", reason)
            self.lifecycle.transition(S.STOPPING)
        core, services = self.core, self.services
        steps: list[tuple[str, Callable[[], object]]] = [
            ("config watcher", lambda: self.rollover.watcher.stop(timeout=2.0)),
            ("command loop", lambda: services.commands.stop(timeout=2.0)),
            ("login watchdog", core.watchdog.disarm),
            ("heartbeat", self.beats.stop),
            ("control channel", lambda: services.control.stop(timeout=1.0)),
            ("stop event", lambda: self.recorder.system_event(
                "stop", f"core stopping: {reason}", "INFO" if reason.startswith(("SIG", "asked")) else "ERROR",
                reason=reason)),
            ("sync layer", self.sync.stop),
            ("exit plans", core.exit_plans.stop),  # no close fires any more; their last changes written
            ("event runner", self.runner.close),
            ("vnpy", self.main_engine.close),  # stops strategies, closes the gateway and the event engine
            ("gateway state", lambda: self.tracker.set(GatewayState.STOPPED)),
            ("recorder", self.recorder.stop),
            ("redis publisher", lambda: self.publisher.stop(timeout=2.0)),
            ("mysql writer", lambda: self.writer.stop(timeout=3.0)),
            ("heartbeat key", lambda: self.redis.delete(self.keys.heartbeat)),
            ("instance lock", self.lock.release),
        ]
        for name, step in steps:
            try:
                step()
            except Exception as exc:  # the rest of the stop (the lock above all) must still happen
                log.warning("core stop: %s failed: %s: %s", name, type(exc).__name__, exc)
        self.lifecycle.transition(S.STOPPED)
        log.info("core stopped (mysql spool: %d records waiting)", len(self.writer.spool))
