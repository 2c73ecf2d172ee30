"""Faults: MySQL cut off while trades happen (and across a restart), CTP-style replay of the day's
trades after a restart, a raising event handler, SIGTERM/Ctrl-C of the real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from vnpy.event import Event
from vnpy.trader.constant import Direction
from vnpy.trader.event import EVENT_TICK

from common.config import MysqlConfig
from common.contract import CommandStatus, CommandType, Keys
from common.db import Database
from tests.conftest import ROOT
from tests.core_service.harness import CoreHarness
from tests.helpers import deep_merge, eventually
from tests.netproxy import TcpProxy

OUTAGE_S = float(os.environ.get("ARBIG_TEST_MYSQL_OUTAGE_S", "60"))


def trade_count(db: Database) -> int:
    return db.query("SELECT COUNT(*) AS n FROM trades")[0]["n"]


def sleep_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.monotonic()))


def test_mysql_outage_loses_no_trade_also_across_a_restart(
    config_dict: dict[str, Any], mysql_cfg: MysqlConfig, db: Database, tmp_path: Path
) -> None:
    """MySQL is unreachable for OUTAGE_S (a minute by default) while trades keep happening; the core
    restarts in the middle of it. Every trade reaches MySQL once it returns, each exactly once."""
    proxy = TcpProxy(mysql_cfg.host, mysql_cfg.port)
    config = deep_merge(config_dict, {"mysql": {"port": proxy.port}})
    core = CoreHarness(config, tmp_path / "arbig.json")
    core.start()
    try:
        core.open_position(Direction.LONG, 1)
        eventually(lambda: trade_count(db) == 1)
        proxy.down()
        started = time.monotonic()
        core.open_position(Direction.LONG, 2)
        eventually(lambda: not core.heartbeat().mysql_ok and core.heartbeat().mysql_backlog > 0,
                   what="heartbeat shows MySQL down and a backlog")
        sleep_until(started + OUTAGE_S * 0.3)
        core.open_position(Direction.SHORT, 1)
        sleep_until(started + OUTAGE_S * 0.5)
        assert trade_count(db) == 1
        core.stop()  # the core restarts while MySQL is still unreachable
        assert (core.config.runtime_path() / "mysql_spool.jsonl").exists()
        core.start()
        core.open_position(Direction.SHORT, 1)  # a trade after the restart, MySQL still down
        sleep_until(started + OUTAGE_S)
        assert trade_count(db) == 1
        assert not core.heartbeat().mysql_ok
        proxy.up()
        eventually(lambda: trade_count(db) == 4, timeout=20, what="spooled trades written when MySQL returned")
        eventually(lambda: core.heartbeat().mysql_ok and core.heartbeat().mysql_backlog == 0)
        time.sleep(1.0)  # the sim replayed today's trades on reconnect, as CTP does: still four rows
        assert trade_count(db) == 4
        assert db.query("SELECT COUNT(DISTINCT tradeid) AS n FROM trades")[0]["n"] == 4
        volumes = db.query("SELECT direction, SUM(volume) AS v FROM trades GROUP BY direction ORDER BY direction")
        assert [(row["direction"], int(row["v"])) for row in volumes] == [("LONG", 3), ("SHORT", 2)]
    finally:
        core.stop()
        proxy.down()


def test_a_raising_event_handler_does_not_stop_dispatch(core: CoreHarness) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("a buggy handler")

    core.app.event_engine.register(EVENT_TICK, broken)
    stream = core.keys.tick_stream("au2702")
    before = core.redis.xlen(stream)
    eventually(lambda: core.redis.xlen(stream) >= before + 3, what="ticks keep flowing")
    assert any("RuntimeError" in key for key in core.app.event_engine.handler_errors)
    assert core.send(CommandType.EMERGENCY_STOP).status == CommandStatus.DONE  # the event thread still runs jobs


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_real_process_stops_cleanly_within_5s(config_dict: dict[str, Any], tmp_path: Path,
                                                   sig: signal.Signals) -> None:
    config_path = tmp_path / "arbig.json"
    config_path.write_text(json.dumps(config_dict), encoding="utf-8")
    env = dict(os.environ, ARBIG_CONFIG=str(config_path), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "core_service"], cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = redis.Redis(host=config_dict["redis"]["host"], port=config_dict["redis"]["port"],
                         db=config_dict["redis"]["db"], decode_responses=True)
    keys = Keys(config_dict["redis"]["key_prefix"])
    try:
        eventually(lambda: client.exists(keys.heartbeat) and
                   json.loads(client.get(keys.heartbeat))["gateway"]["state"] == "LOGGED_IN", timeout=30)
        start = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - start
        output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        assert code == 0, output[-2000:]
        assert elapsed < 5.0, f"took {elapsed:.1f}s to stop"
        assert "core stopped" in output
        assert not client.exists(keys.heartbeat)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_config_stops_start_up_with_the_field_named(tmp_path: Path) -> None:
    config_path = tmp_path / "arbig.json"
    config_path.write_text(json.dumps({"gateway": {"name": "nasdaq"}}), encoding="utf-8")
    env = dict(os.environ, ARBIG_CONFIG=str(config_path), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "core_service"], cwd=str(ROOT), env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert "field 'gateway.name'" in result.stderr


def test_a_bad_holiday_file_stops_start_up_with_the_entry_named(config_dict: dict[str, Any], tmp_path: Path) -> None:
    config_path = tmp_path / "arbig.json"
    config_path.write_text(json.dumps(config_dict), encoding="utf-8")
    holidays = tmp_path / "holidays.json"
    holidays.write_text(json.dumps({"holidays": ["2027-01-01", "2027-02-30"]}), encoding="utf-8")
    env = dict(os.environ, ARBIG_CONFIG=str(config_path), ARBIG_HOLIDAYS_FILE=str(holidays), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "core_service"], cwd=str(ROOT), env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert "field 'holidays[1]'" in result.stderr and "Traceback" not in result.stderr
