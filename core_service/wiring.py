"""The core's composition root: every part built once, fully, in dependency order.

`build_core` takes the instance lock first (AlreadyRunning is raised before anything that could
connect or trade exists), then builds the stores' writers, vnpy's MainEngine (which chdirs to vnpy's
folder, the runtime) with the gateway and the CtaEngine, the recorder, the sync layer, the main
contract's rollover, the heartbeat, the AI trader's guard (ai_guard.py) and exit plans (exit_plans.py).
`build_services` adds what answers the operator (the command
loop and the local control channel) once the core application holds the parts. Nothing here starts a
thread or connects: `CoreApp.start()` starts the parts in order and `stop()` stops them in reverse.

Two clocks come in: `clock` is the wall clock (deadlines, heartbeats, commands' ages); `market_time`
is what records are stamped with: in a replay the simulator's `SimClock`, driven by the replayed
ticks (so a replayed day is recorded, and its heartbeat shows, as that day), otherwise `clock`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pymysql
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from vnpy.trader.engine import MainEngine
from vnpy.trader.gateway import BaseGateway
from vnpy_ctastrategy import CtaStrategyApp

from common.clock import Clock
from common.config import AppConfig, MysqlConfig, Secrets
from common.contract import CommandType, GatewayState, GatewayStatus, Heartbeat, Keys
from common.db import connect as db_connect
from common.db import migrate
from common.market_clock import MarketClock
from core_service.ai_guard import AiGuard
from core_service.broker_errors import BrokerError
from core_service.commands import CommandProcessor, EventThreadRunner, Handler
from core_service.contracts_table import wire_rates
from core_service.control_socket import ControlServer, socket_path
from core_service.cta import ArbigCtaEngine
from core_service.cta_sink import RecordingSink
from core_service.exit_plans import ExitPlans
from core_service.gateway_status import GatewayStatusTracker, LoginWatchdog
from core_service.gateways import add_gateway, attach_gateway
from core_service.guarded_events import GuardedEventEngine
from core_service.heartbeat import HeartbeatThread
from core_service.held_contracts import HeldContracts
from core_service.instance_lock import InstanceLock, account_of
from core_service.mysql_writer import MysqlWriter
from core_service.pretrade import MarginGuard
from core_service.recorder import Recorder
from core_service.redis_publisher import RedisPublisher
from core_service.rollover import Rollover, RunningConfig, Subscriptions
from core_service.sim.clock import SimClock
from core_service.spool import Spool
from core_service.strategy_pos_sync import StrategyPosSync
from core_service.sync_layer import SyncLayer

log = logging.getLogger(__name__)


class ArbigCtaApp(CtaStrategyApp):
    engine_class = ArbigCtaEngine


@dataclass(frozen=True)
class CoreHooks:
    """What the parts call back into the core application (all may come on any thread: never block)."""

    on_mysql_state: Callable[[bool, str], None]
    on_redis_state: Callable[[bool, str], None]
    on_gateway_status: Callable[[GatewayStatus, GatewayStatus], None]
    on_broker_error: Callable[[BrokerError], None]
    on_settlement_statement: Callable[[str, str, str], None]  # (accountid, trading_day, text)
    on_main_contract_known: Callable[[], None]
    heartbeat: Callable[[], Heartbeat]


class Schema:
    """MySQL's schema: migrated at start (a few tries), else before the writer's next connection."""

    def __init__(self, mysql: MysqlConfig, secrets: Secrets) -> None:
        self.mysql = mysql
        self.secrets = secrets
        self.ready = False

    def ensure(self, attempts: int) -> None:
        for attempt in range(attempts):
            try:
                applied = migrate(self.mysql, self.secrets)
                self.ready = True
                if applied:
                    log.info("MySQL schema migrations applied: %s", applied)
                return
            except pymysql.err.MySQLError as exc:
                log.error("MySQL not available for migrations (%s); records are spooled until it is", exc)
                if attempt + 1 < attempts:
                    time.sleep(1.0)

    def connect(self) -> pymysql.Connection:
        if not self.ready:
            self.ensure(attempts=1)
            if not self.ready:
                raise pymysql.err.OperationalError(2003, "schema not ready (MySQL unreachable)")
        return db_connect(self.mysql, self.secrets)


@dataclass(frozen=True)
class Core:
    """Every part of the core, built and wired (none started)."""

    replaying: bool
    clock: Clock
    market_time: Clock
    keys: Keys
    redis: redis.Redis
    lock: InstanceLock
    schema: Schema
    writer: MysqlWriter
    publisher: RedisPublisher
    event_engine: GuardedEventEngine
    main_engine: MainEngine
    gateway: BaseGateway
    tracker: GatewayStatusTracker
    watchdog: LoginWatchdog
    cta: ArbigCtaEngine
    sink: RecordingSink
    recorder: Recorder
    margin_guard: MarginGuard
    runner: EventThreadRunner
    running: RunningConfig
    subscriptions: Subscriptions
    held: HeldContracts
    pos_sync: StrategyPosSync
    sync: SyncLayer
    rollover: Rollover
    beats: HeartbeatThread
    ai_guard: AiGuard
    exit_plans: ExitPlans

    def not_ready(self) -> str:
        return not_ready(self.tracker)


@dataclass(frozen=True)
class Services:
    """What answers the operator: the command loop (Redis) and the local control channel."""

    commands: CommandProcessor
    control: ControlServer


def not_ready(tracker: GatewayStatusTracker) -> str:
    """Why the gateway cannot trade now ("" when it can)."""
    status = tracker.current
    if status.state == GatewayState.LOGGED_IN:
        return ""
    return f"the gateway is not ready to trade ({status.state.value}{': ' + status.reason if status.reason else ''})"


def redis_client(config: AppConfig, secrets: Secrets) -> redis.Redis:
    return redis.Redis(
        host=config.redis.host, port=config.redis.port, db=config.redis.db,
        password=secrets.redis_password.get_secret_value() or None,
        decode_responses=True, socket_connect_timeout=2, socket_timeout=5, health_check_interval=10,
        retry=Retry(ExponentialBackoff(cap=1.0), 1),  # redis-py's default: 10 retries, ~50 s in a hang
    )


def replaying(config: AppConfig) -> bool:
    return config.gateway.name == "sim" and bool(config.gateway.sim.replay_file)


def build_core(config: AppConfig, config_file: Path, secrets: Secrets, runtime: Path, clock: Clock,
               hooks: CoreHooks) -> Core:
    """Take the instance lock (raises AlreadyRunning), then build every part. On a failure after the
    lock, whatever was built is closed and the lock released before the error goes on."""
    keys = Keys(config.redis.key_prefix)
    client = redis_client(config, secrets)
    account = account_of(config, secrets)
    lock = InstanceLock(runtime, account, client, keys.core_lease(account), clock=clock)
    lock.acquire()  # before anything connects or trades
    event_engine = GuardedEventEngine()
    try:
        return _build(config, config_file, secrets, runtime, clock, hooks, keys, client, lock, event_engine)
    except BaseException:
        event_engine.close()  # started by MainEngine, if it got that far
        lock.release()
        raise


def _build(config: AppConfig, config_file: Path, secrets: Secrets, runtime: Path, clock: Clock, hooks: CoreHooks,
           keys: Keys, client: redis.Redis, lock: InstanceLock, event_engine: GuardedEventEngine) -> Core:
    replay = replaying(config)
    market_time: Clock = SimClock(follow_ticks=True, base=clock) if replay else clock
    schema = Schema(config.mysql, secrets)
    writer = MysqlWriter(schema.connect, Spool(runtime / "mysql_spool.jsonl"), Spool(runtime / "mysql_rejected.jsonl"),
                         on_state=hooks.on_mysql_state, clock=clock)
    publisher = RedisPublisher(client, keys.main_contract, on_state=hooks.on_redis_state, clock=clock)
    main_engine = MainEngine(event_engine)  # also starts the event engine and chdirs to vnpy's folder (runtime)
    gateway = add_gateway(main_engine, config)
    tracker = GatewayStatusTracker(config.gateway.name, hooks.on_gateway_status)
    watchdog = LoginWatchdog(tracker, config.gateway.login_timeout_s)
    attach_gateway(gateway, config, tracker, watchdog, market_time, hooks.on_broker_error,
                   hooks.on_settlement_statement)
    cta = main_engine.add_app(ArbigCtaApp)
    if not isinstance(cta, ArbigCtaEngine):
        raise TypeError(f"vnpy built a {type(cta).__name__} for the CTA app")
    running = RunningConfig(config)
    exit_plans = ExitPlans(event_engine, main_engine, gateway.gateway_name, schema.connect, clock)

    def strategy_of_order(vt_orderid: str) -> str | None:
        strategy = cta.orderid_strategy_map.get(vt_orderid)
        return strategy.strategy_name if strategy else None

    recorder = Recorder(event_engine, keys, publisher, writer, tick_maxlen=config.redis.tick_maxlen,
                        event_maxlen=config.redis.event_maxlen, main_symbol=lambda: running.main_symbol,
                        strategy_of_order=strategy_of_order, exit_plan_of=exit_plans.plan_of,
                        clock=MarketClock(runs_on=not replay, clock=market_time))  # a replay's stands between ticks
    recorder.order_listeners.append(cta.on_order_update)
    sink = RecordingSink(recorder, writer, publisher, keys)
    wire_rates(recorder.contracts, gateway, config)  # sim: its settings; CTP: the rate queries
    margin_guard = MarginGuard(recorder.contracts.rates, recorder.contracts.size, main_engine.get_all_accounts)
    cta.sink = sink
    cta.margin_guard = margin_guard
    cta.clock = MarketClock(runs_on=not replay, clock=market_time)
    runner = EventThreadRunner(event_engine)
    subscriptions = Subscriptions(main_engine, gateway.gateway_name, recorder.published_symbols,
                                  config.market_data.auto_subscribe)
    held = HeldContracts(event_engine, subscriptions.subscribe)  # a held contract keeps its market data
    pos_sync = StrategyPosSync(event_engine, main_engine, cta, recorder.system_event, clock=market_time)
    parts = Core(
        replaying=replay, clock=clock, market_time=market_time, keys=keys, redis=client, lock=lock, schema=schema,
        writer=writer, publisher=publisher, event_engine=event_engine, main_engine=main_engine, gateway=gateway,
        tracker=tracker, watchdog=watchdog, cta=cta, sink=sink, recorder=recorder, margin_guard=margin_guard,
        runner=runner, running=running, subscriptions=subscriptions, held=held, pos_sync=pos_sync,
        sync=SyncLayer(config, main_engine, cta, recorder, writer, runner, gateway, partial(not_ready, tracker),
                       db_connect=schema.connect, clock=market_time),
        rollover=Rollover(running, config_file, runtime, main_engine, cta, recorder, publisher, keys, subscriptions,
                          held, clock),
        beats=HeartbeatThread(client, keys.heartbeat, config.core.heartbeat_interval_s, config.core.heartbeat_ttl_s,
                              hooks.heartbeat, lock, recorder.system_event),
        ai_guard=AiGuard(lambda: running.config.ai, config.gateway.name, clock), exit_plans=exit_plans,
    )
    recorder.contract_listeners.append(parts.rollover.on_contract)
    parts.rollover.main_known.append(hooks.on_main_contract_known)
    return parts


def build_services(core: Core, handlers: dict[CommandType, Handler], status: Callable[[], dict[str, Any]],
                   runtime: Path, command_ttl_s: float) -> Services:
    commands = CommandProcessor(core.redis, core.keys, handlers, core.recorder.command_audited, command_ttl_s,
                                clock=core.clock)
    return Services(commands=commands, control=ControlServer(socket_path(runtime), commands.process_local, status))
