"""Builds the configured gateway (simulated SHFE or CTP) and connects it.

The gateway gets the status tracker before connecting, and the login watchdog is armed, so the
operator always sees the real state: connecting, logged in, disconnected with the reason, login
failed (transient errors retried with a capped backoff, the rest never), settling, or "not logged
in after N s".
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vnpy.trader.engine import MainEngine
from vnpy.trader.gateway import BaseGateway

from common.config import PROJECT_ROOT, AppConfig, Secrets
from common.contract import GatewayState
from core_service.gateway_status import GatewayStatusTracker, LoginWatchdog

log = logging.getLogger(__name__)


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


def add_gateway(main_engine: MainEngine, config: AppConfig) -> BaseGateway:
    if config.gateway.name == "sim":
        from core_service.sim.gateway import SimGateway

        return main_engine.add_gateway(SimGateway)
    from core_service.ctp_gateway import ArbigCtpGateway

    return main_engine.add_gateway(ArbigCtpGateway)


def connect_gateway(
    gateway: BaseGateway, config: AppConfig, secrets: Secrets, runtime: Path, tracker: GatewayStatusTracker
) -> LoginWatchdog:
    """Connect; returns the armed login watchdog. Configuration errors become LOGIN_FAILED."""
    timeout_s = config.gateway.login_timeout_s
    if config.gateway.name == "ctp":
        from core_service.ctp_gateway import connect_with_watchdog, ctp_setting, redacted

        try:
            setting = ctp_setting(config.gateway.ctp, secrets.ctp)
        except ValueError as exc:
            tracker.set(GatewayState.LOGIN_FAILED, f"CTP configuration: {exc}")
            return LoginWatchdog(tracker, timeout_s)
        log.info("connecting the CTP gateway with %s", redacted(setting))
        return connect_with_watchdog(gateway, setting, tracker, timeout_s)  # type: ignore[arg-type]
    gateway.status_tracker = tracker  # type: ignore[attr-defined]
    watchdog = LoginWatchdog(tracker, timeout_s)
    setting = sim_setting(config, runtime)
    log.info("connecting the simulated SHFE gateway (main contract %s)", setting["main_contract"])
    tracker.set(GatewayState.CONNECTING)
    watchdog.arm()
    gateway.connect(setting)
    return watchdog
