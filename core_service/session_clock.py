"""The exchange session state the core puts in its heartbeat (header pill, market page box).

The CTP gateway always follows SHFE's sessions by the core's clock (the wall clock, China time). The
simulated gateway follows its own rule (`gateway.sim.sessions`: always or shfe) by its own market
clock: the replayed time in replay mode, the core's clock otherwise.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from common.clock import LIVE, Clock
from common.config import AppConfig
from common.contract import SessionState
from common.trading_sessions import session_state

log = logging.getLogger(__name__)


def _gateway(main_engine: Any | None) -> Any | None:
    """The one gateway the core added (None before it has one)."""
    names = main_engine.get_all_gateway_names() if main_engine is not None else []
    return main_engine.get_gateway(names[0]) if names else None


def _market_now(gateway: Any | None) -> datetime | None:
    """The sim gateway's market time (the replayed time in a replay), or None for another gateway."""
    market_now = getattr(gateway, "market_now", None)
    return market_now() if callable(market_now) else None


def current_session(config: AppConfig, main_engine: Any | None = None,
                    clock: Clock = LIVE) -> SessionState | None:
    """The session state now for the configured gateway (found in vnpy's MainEngine); None when it
    cannot be worked out (logged), so a heartbeat is never lost to it."""
    try:
        if config.gateway.name == "ctp":
            return session_state(clock.now(), "shfe")
        at = _market_now(_gateway(main_engine))
        # the rule is the config's: before the sim has connected, its own setting is still the default
        return session_state(at or clock.now(), config.gateway.sim.sessions)
    except Exception as exc:  # the heartbeat must go out whatever happens here
        log.warning("session state unavailable: %s: %s", type(exc).__name__, exc)
        return None
