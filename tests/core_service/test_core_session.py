"""The core's heartbeat carries the exchange session state (core_service/session_clock.py): the sim's
rule (`gateway.sim.sessions`) by its market clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from common.contract import Heartbeat
from common.trading_calendar import CHINA_TZ
from common.trading_sessions import session_state
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually


def run_core(config_dict: dict[str, Any], tmp_path: Path, sessions: str) -> Iterator[CoreHarness]:
    config_dict["gateway"]["sim"]["sessions"] = sessions
    harness = CoreHarness(config_dict, tmp_path / "arbig.json")
    harness.start(wait_ticks=False)  # shfe: no ticks outside the sessions
    yield harness
    harness.stop()


def beat_with_session(core: CoreHarness) -> Heartbeat:
    def check() -> Heartbeat | None:
        beat = core.heartbeat()
        return beat if beat is not None and beat.session is not None else None
    return eventually(check, what="a heartbeat with the session")


@pytest.fixture
def demo_core(config_dict: dict[str, Any], tmp_path: Path) -> Iterator[CoreHarness]:
    yield from run_core(config_dict, tmp_path, "always")


@pytest.fixture
def shfe_core(config_dict: dict[str, Any], tmp_path: Path) -> Iterator[CoreHarness]:
    yield from run_core(config_dict, tmp_path, "shfe")


def test_the_demo_heartbeat_says_24h_demo(demo_core: CoreHarness) -> None:
    session = beat_with_session(demo_core).session
    assert session is not None
    assert (session.mode, session.state, session.reason) == ("always", "open", "24h demo")


def test_the_shfe_heartbeat_follows_the_exchange_sessions(shfe_core: CoreHarness) -> None:
    beat = beat_with_session(shfe_core)
    assert beat.session is not None and beat.session.mode == "shfe"
    at = datetime.fromtimestamp(beat.ts_ms / 1000, tz=CHINA_TZ)
    assert beat.session.state == session_state(at, "shfe").state


def test_a_hand_order_outside_the_sessions_is_refused_with_the_next_open(shfe_core: CoreHarness) -> None:
    from common.contract import CommandStatus, CommandType

    reply = shfe_core.send(CommandType.ORDER_SEND, vt_symbol="au2702.SHFE", direction="LONG", offset="OPEN",
                           volume=1, price_type="LIMIT", price=600.0)
    state = session_state(datetime.now(CHINA_TZ), "shfe")
    if state.state == "open":  # the wall clock is inside a session: the session check lets it through
        assert reply.code != "market_closed"
    else:
        assert reply.status == CommandStatus.REFUSED and reply.code == "market_closed", reply.reason
        assert reply.vars["reason"] == state.reason and reply.vars["next_open"] != "unknown"
        assert shfe_core.main_engine.get_all_orders() == [], "nothing sent"
