"""The core's lifecycle state (core_service/app.py, common/lifecycle.py) on the real core: STARTING ->
RUNNING -> STOPPING -> STOPPED as the heartbeat in Redis tells it, DEGRADED while MySQL is unreachable
(records spooled) and RUNNING again once it is back, and a replayed day's heartbeat on that day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vnpy.trader.constant import Direction

from common.config import MysqlConfig
from common.contract import Heartbeat
from common.db import Database
from common.lifecycle import ComponentState
from tests.conftest import SHARED_DATA
from tests.core_service.harness import CoreHarness
from tests.helpers import deep_merge, eventually
from tests.netproxy import TcpProxy

S = ComponentState
REPLAY = SHARED_DATA / "shfe_ticks_20220218" / "au2206_20220218_L1.csv"


def test_the_state_goes_starting_running_stopping_stopped(config_dict: dict[str, Any], tmp_path: Path) -> None:
    core = CoreHarness(config_dict, tmp_path / "arbig.json")
    app = core.start()
    assert app.state == S.RUNNING
    assert core.states == [(S.STARTING, S.RUNNING)]
    beat = eventually(lambda: (hb := core.heartbeat()) and hb.state == S.RUNNING and hb, what="a running beat")
    assert beat.state_reason == ""
    seen: dict[ComponentState, Heartbeat | None] = {}
    app.lifecycle.add_listener(lambda old, new: seen.__setitem__(new, core.heartbeat()))  # after the core's own
    core.stop()
    assert core.states == [(S.STARTING, S.RUNNING), (S.RUNNING, S.STOPPING), (S.STOPPING, S.STOPPED)]
    stopping = seen[S.STOPPING]
    assert stopping is not None and stopping.state == S.STOPPING, "the stop's first act is a STOPPING beat"
    assert seen[S.STOPPED] is None, "a stopped core leaves no heartbeat"
    assert app.state == S.STOPPED
    app.stop()  # a second stop does nothing
    assert app.state == S.STOPPED and len(core.states) == 3


def test_degraded_while_mysql_is_unreachable_then_running_again(
    config_dict: dict[str, Any], mysql_cfg: MysqlConfig, db: Database, tmp_path: Path
) -> None:
    proxy = TcpProxy(mysql_cfg.host, mysql_cfg.port)
    core = CoreHarness(deep_merge(config_dict, {"mysql": {"port": proxy.port}}), tmp_path / "arbig.json")
    core.start()
    try:
        eventually(lambda: (hb := core.heartbeat()) and hb.state == S.RUNNING, what="a running beat")
        proxy.down()
        core.open_position(Direction.LONG, 1)  # a trade to write: the writer finds MySQL gone and spools
        beat = eventually(lambda: (hb := core.heartbeat()) and hb.state == S.DEGRADED and hb,
                          what="heartbeat says degraded")
        assert not beat.mysql_ok and "MySQL unreachable" in beat.state_reason
        assert (S.RUNNING, S.DEGRADED) in core.states
        proxy.up()
        eventually(lambda: (hb := core.heartbeat()) and hb.state == S.RUNNING and hb.mysql_ok, timeout=20,
                   what="running again once MySQL is back")
        assert core.states[-1] == (S.DEGRADED, S.RUNNING)
        rows = eventually(lambda: db.query("SELECT level, message FROM system_events WHERE kind='core_state'"
                                           " ORDER BY id"), what="state changes recorded (spooled, then written)")
        assert [r["level"] for r in rows] == ["WARNING", "INFO"] and "MySQL unreachable" in rows[0]["message"]
    finally:
        core.stop()
        proxy.down()


def test_a_replayed_days_heartbeat_says_that_trading_day(config_dict: dict[str, Any], tmp_path: Path) -> None:
    config = deep_merge(config_dict, {
        "market_data": {"main_contract": "au2206"},
        "gateway": {"sim": {"replay_file": str(REPLAY), "replay_speed": 0}},
    })
    core = CoreHarness(config, tmp_path / "arbig.json")
    core.start(wait_ticks=False)
    try:
        assert core.main_engine.get_gateway("SIM").replay_done.wait(180), "replay did not finish"
        eventually(lambda: (hb := core.heartbeat()) and hb.last_tick_ms and hb.trading_day == "20220218",
                   what="the heartbeat on the replayed day")
    finally:
        core.stop()
