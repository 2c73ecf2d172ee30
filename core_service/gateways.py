"""Builds the configured gateway (simulated SHFE or CTP), hands it the core's parts, and connects it.

`add_gateway` creates it in vnpy's MainEngine; `attach_gateway` gives it, before it connects, the
status tracker and the login watchdog (so the operator always sees the real state: connecting, logged
in, disconnected with the reason, login failed, settling, or "not logged in after N s"), the core's
clock (the simulator: a replay drives it) and, on CTP, the listeners for broker refusals and the
settlement statement; `connect_gateway` arms the watchdog and connects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vnpy.trader.engine import MainEngine
from vnpy.trader.gateway import BaseGateway

from common.clock import Clock
from common.config import PROJECT_ROOT, AppConfig, Secrets
from common.contract import GatewayState
from core_service.broker_errors import BrokerError
from core_service.gateway_status import GatewayStatusTracker, LoginWatchdog

if TYPE_CHECKING:
    from core_service.ctp_gateway import ArbigCtpGateway
    from core_service.sim.gateway import SimGateway

log = logging.getLogger(__name__)
G = TypeVar("G", bound=BaseGateway)


def sim_setting(config: AppConfig, runtime: Path) -> dict[str, Any]:
    sim = config.gateway.sim
    state_file = Path(sim.state_file)
    replay = sim.replay_file
    if replay and not Path(replay).is_absolute():
        replay = str((PROJECT_ROOT / replay).resolve())
    return {
        "main_contract": config.market_data.main_contract,
        "tick_interval_ms": sim.tick_interval_ms,
        "replay_file": replay or "",
        "replay_speed": sim.replay_speed,
        "replay_loop": sim.replay_loop,
        "initial_balance": sim.initial_balance,
        "margin_rate": sim.margin_rate,
        "commission_per_lot": sim.commission_per_lot,
        "close_today_commission_per_lot": sim.close_today_commission_per_lot,
        "limit_rate": sim.limit_rate,
        "base_price": sim.base_price,
        "seed": sim.seed,
        "sessions": sim.sessions,
        "state_file": str(state_file if state_file.is_absolute() else runtime / state_file),
        "hold_replay": bool(replay),  # the core releases it once auto-started strategies run
    }


def _as(gateway: BaseGateway, kind: type[G]) -> G:
    if not isinstance(gateway, kind):
        raise TypeError(f"expected a {kind.__name__}, vnpy built a {type(gateway).__name__}")
    return gateway


def _sim(gateway: BaseGateway) -> SimGateway:
    from core_service.sim.gateway import SimGateway

    return _as(gateway, SimGateway)


def _ctp(gateway: BaseGateway) -> ArbigCtpGateway:
    from core_service.ctp_gateway import ArbigCtpGateway

    return _as(gateway, ArbigCtpGateway)


def add_gateway(main_engine: MainEngine, config: AppConfig) -> BaseGateway:
    if config.gateway.name == "sim":
        from core_service.sim.gateway import SimGateway

        return main_engine.add_gateway(SimGateway)
    from core_service.ctp_gateway import ArbigCtpGateway

    return main_engine.add_gateway(ArbigCtpGateway)


def attach_gateway(gateway: BaseGateway, config: AppConfig, tracker: GatewayStatusTracker, watchdog: LoginWatchdog,
                   clock: Clock, on_broker_error: Callable[[BrokerError], None],
                   on_settlement: Callable[[str, str, str], None]) -> None:
    """What the gateway gets from the core before it connects (nothing here talks to the broker)."""
    if config.gateway.name == "sim":
        sim = _sim(gateway)
        sim.status_tracker = tracker
        sim.clock = clock
        return
    ctp = _ctp(gateway)
    ctp.status_tracker = tracker
    ctp.login_watchdog = watchdog  # the gateway disarms it when it closes
    ctp.broker_error_listener = on_broker_error
    ctp.settlement_listener = on_settlement  # kept raw beside the day's ledger (pnl_records)


def connect_gateway(gateway: BaseGateway, config: AppConfig, secrets: Secrets, runtime: Path,
                    tracker: GatewayStatusTracker, watchdog: LoginWatchdog) -> None:
    """Arm the login watchdog and connect. A configuration error becomes LOGIN_FAILED."""
    if config.gateway.name == "ctp":
        from core_service.ctp_gateway import ctp_setting, redacted

        try:
            setting = ctp_setting(config.gateway.ctp, secrets.ctp)
        except ValueError as exc:
            tracker.set(GatewayState.LOGIN_FAILED, f"CTP configuration: {exc}")
            return
        log.info("connecting the CTP gateway with %s", redacted(setting))
    else:
        setting = sim_setting(config, runtime)
        log.info("connecting the simulated SHFE gateway (main contract %s)", setting["main_contract"])
        tracker.set(GatewayState.CONNECTING)
    watchdog.arm()
    gateway.connect(setting)
