"""Safety drills against the real core (vnpy engines, simulated SHFE gateway, real MariaDB/Redis):
one core per account, a stop that works while Redis hangs, the CLI's own timeouts, config refusals."""

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
from vnpy.trader.constant import Direction, Offset, Status

from common.config import Secrets, load_config
from common.contract import Command, CommandStatus, CommandType, Keys
from common.db import Database
from core_service.control_socket import send_local, socket_path
from core_service.instance_lock import AlreadyRunning, account_of
from tests.conftest import ROOT
from tests.core_service.harness import CoreHarness
from tests.helpers import deep_merge, eventually
from tests.netproxy import TcpProxy


def run_module(config_path: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, ARBIG_CONFIG=str(config_path), PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", *args], cwd=str(ROOT), env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def events(db: Database, kind: str) -> list[dict[str, Any]]:
    return db.query("SELECT level, kind, message FROM system_events WHERE kind=%s ORDER BY id", (kind,))


# ---------------------------------------------------------------- one core per account


def test_a_second_core_is_refused_and_the_first_keeps_trading(core: CoreHarness, db: Database) -> None:
    started = time.monotonic()
    second = run_module(core.config_path, "core_service")
    elapsed = time.monotonic() - started
    assert second.returncode == 4, second.stderr[-2000:]
    print(f"\nDRILL second core refused in {elapsed:.2f} s (process start to exit 4)")
    assert elapsed < 20  # interpreter + vnpy import on a busy machine; refusal itself is immediate
    assert f"pid {os.getpid()}" in second.stderr and "already running" in second.stderr
    assert "Traceback" not in second.stderr
    rows = eventually(lambda: events(db, "second_instance"), what="refusal recorded")
    assert rows[0]["level"] == "ERROR" and f"pid {os.getpid()}" in rows[0]["message"]
    # the first core is untouched: still logged in, still answering, still trading
    core.open_position(Direction.LONG, 1)
    assert core.send(CommandType.EMERGENCY_STOP).status == CommandStatus.DONE
    assert socket_path(core.config.runtime_path()).exists()


def test_a_core_killed_with_sigkill_leaves_no_lock_behind(config_dict: dict[str, Any], tmp_path: Path,
                                                         redis_client: redis.Redis, keys: Keys) -> None:
    config_path = tmp_path / "arbig.json"
    config_path.write_text(json.dumps(config_dict), encoding="utf-8")
    env = dict(os.environ, ARBIG_CONFIG=str(config_path), PYTHONPATH=str(ROOT))
    config = load_config(config_path)
    lease = keys.core_lease(account_of(config, Secrets()))

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "core_service"], cwd=str(ROOT), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def logged_in(pid: int) -> bool:
        raw = redis_client.get(keys.heartbeat)
        beat = json.loads(raw) if raw else {}
        return beat.get("pid") == pid and beat["gateway"]["state"] == "LOGGED_IN"

    first = start()
    try:
        eventually(lambda: logged_in(first.pid), timeout=40, what="first core up")
        assert json.loads(redis_client.get(lease))["pid"] == first.pid
        first.kill()
        first.wait(10)
        assert redis_client.exists(lease), "the dead core's lease is still there (it expires later)"
        second = start()
        try:
            eventually(lambda: logged_in(second.pid), timeout=40, what="restarted core up despite the stale lock")
            assert json.loads(redis_client.get(lease))["pid"] == second.pid
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
        assert not redis_client.exists(lease), "a clean stop releases the lease"
    finally:
        for proc in (first,):
            if proc.poll() is None:
                proc.kill()


def test_a_lease_held_from_another_host_refuses_the_core(config_dict: dict[str, Any], tmp_path: Path,
                                                         redis_client: redis.Redis, keys: Keys) -> None:
    harness = CoreHarness(config_dict, tmp_path / "arbig.json")
    account = account_of(harness.config, Secrets())
    holder = {"pid": 4242, "host": "trader-box-2", "since_ms": 1_700_000_000_000, "account": account,
              "runtime": "/srv/arbig/var", "token": "f" * 32}
    redis_client.set(keys.core_lease(account), json.dumps(holder), px=30_000)
    with pytest.raises(AlreadyRunning, match="pid 4242 on trader-box-2"):
        harness.start()
    assert harness.app is None, "refused before the core was built: nothing started, nothing connected"
    assert not socket_path(harness.config.runtime_path()).exists()


# ---------------------------------------------------------------- stop without Redis


@pytest.fixture
def hung_redis_core(config_dict: dict[str, Any], tmp_path: Path) -> Any:
    proxy = TcpProxy(config_dict["redis"]["host"], config_dict["redis"]["port"])
    config = deep_merge(config_dict, {
        "redis": {"port": proxy.port},
        "strategies": [{"name": "tick", "class_name": "AuTickBreakoutStrategy", "auto_init": True,
                        "auto_start": True, "setting": {"window_ticks": 100000}}]})
    harness = CoreHarness(config, tmp_path / "arbig.json")
    harness.start()
    yield harness, proxy
    proxy.resume()
    harness.stop()
    proxy.down()


def test_emergency_stop_through_the_local_channel_while_redis_hangs(hung_redis_core: Any, db: Database) -> None:
    core, proxy = hung_redis_core
    cta = core.app.cta
    eventually(lambda: cta.strategies["tick"].trading, timeout=30, what="strategy trading")
    tick = core.tick(core.config.market_data.vt_symbol)
    resting = core.order(Direction.LONG, Offset.OPEN, 1, price=tick.bid_price_1 - 5)
    eventually(lambda: core.main_engine.get_order(resting).status == Status.NOTTRADED)
    proxy.hang()
    started = time.monotonic()
    reply = send_local(socket_path(core.config.runtime_path()),
                       Command(type=CommandType.EMERGENCY_STOP, source="cli-local"), timeout_s=5)
    assert reply.status == CommandStatus.DONE, reply.reason
    eventually(lambda: core.main_engine.get_order(resting).status == Status.CANCELLED, timeout=2.0)
    elapsed = time.monotonic() - started
    assert not cta.strategies["tick"].trading
    assert elapsed < 2.0, f"emergency stop took {elapsed:.2f} s"
    print(f"\nDRILL emergency stop over the local channel during a Redis hang: {elapsed * 1000:.0f} ms to"
          " strategies stopped and the resting order cancelled")
    assert proxy.hung
    rows = eventually(lambda: db.query("SELECT status, source FROM command_audit WHERE command_id=%s",
                                       (reply.command_id,)), what="audit row written while Redis hangs")
    assert rows[0]["status"] == "done" and rows[0]["source"] == "cli-local"
    # the CLI takes the same channel by itself (the socket is there) and says so in its answer
    out = run_module(core.config_path, "core_service.cli", "strategy-stop", "tick", timeout=30)
    assert out.returncode == 1 and json.loads(out.stdout)["status"] == "refused", out.stderr
    proxy.resume()


def test_the_cli_over_redis_fails_fast_and_clearly_when_redis_is_down_or_hangs(
        config_dict: dict[str, Any], tmp_path: Path) -> None:
    proxy = TcpProxy(config_dict["redis"]["host"], config_dict["redis"]["port"])
    path = tmp_path / "arbig.json"
    path.write_text(json.dumps(deep_merge(config_dict, {"redis": {"port": proxy.port}})), encoding="utf-8")
    try:
        for fault in (proxy.hang, proxy.down):
            fault()
            started = time.monotonic()
            out = run_module(path, "core_service.cli", "--via", "redis", "--timeout", "2", "emergency-stop")
            elapsed = time.monotonic() - started
            assert out.returncode == 3, out.stderr
            assert "Redis" in out.stderr and "make stop" in out.stderr and "Traceback" not in out.stderr
            assert elapsed < 12, f"{fault.__name__}: {elapsed:.1f} s"  # own timeout 2 s + 1 s, + interpreter start
            print(f"\nDRILL CLI over Redis, Redis {fault.__name__}: exit 3 after {elapsed:.1f} s (--timeout 2)")
            proxy.resume()
        local = run_module(path, "core_service.cli", "--via", "local", "emergency-stop")
        assert local.returncode == 3 and "not running" in local.stderr
    finally:
        proxy.down()


# ---------------------------------------------------------------- config refusals


@pytest.mark.parametrize("symbol", ["au2799", "cu2702", "au2201"])
def test_an_unknown_main_contract_edit_is_refused_and_recorded(core: CoreHarness, db: Database, symbol: str) -> None:
    data = json.loads(core.config_path.read_text(encoding="utf-8"))
    data["market_data"]["main_contract"] = symbol
    core.config_path.write_text(json.dumps(data), encoding="utf-8")
    rows = eventually(lambda: [r for r in events(db, "config") if symbol in r["message"]], what="refusal recorded")
    assert rows[0]["level"] == "ERROR" and "market_data.main_contract" in rows[0]["message"]
    assert core.heartbeat().main_contract == "au2702"


def test_a_config_file_that_is_not_utf8_is_refused_and_recorded(core: CoreHarness, db: Database) -> None:
    core.config_path.write_bytes(core.config_path.read_bytes().replace(b'"SHFE"', b'"SHFE\xb9\xfa"'))
    rows = eventually(lambda: [r for r in events(db, "config") if "UTF-8" in r["message"]], what="refusal recorded")
    assert rows[0]["level"] == "ERROR"
    assert core.heartbeat().main_contract == "au2702"


def test_an_unknown_main_contract_at_start_is_reported(config_dict: dict[str, Any], tmp_path: Path,
                                                       db: Database) -> None:
    """On the sim the gateway refuses it at login; on CTP the core says so when the contract has not
    arrived `contract_check_s` after login. Either way an ERROR naming the field and the symbol."""
    from core_service.app import CoreApp

    harness = CoreHarness(deep_merge(config_dict, {"market_data": {"main_contract": "au2799"}}),
                          tmp_path / "arbig.json")
    app = CoreApp(harness.config, harness.config_path, Secrets(), harness.config.runtime_path())
    app.contract_check_s = 0.5
    try:
        app.start()
        rows = eventually(lambda: db.query("SELECT level, kind, message FROM system_events WHERE level='ERROR'"
                                           " AND message LIKE %s", ("%au2799%",)), what="refusal recorded")
        assert "main_contract" in rows[0]["message"]
        assert app.tracker.current.state.value in ("LOGIN_FAILED", "LOGGED_IN")
        assert not app.cta.strategies
    finally:
        app.stop()


# ---------------------------------------------------------------- recovery after a crash


def test_after_a_crash_only_auto_restart_strategies_come_back_running(config_dict: dict[str, Any], tmp_path: Path,
                                                                      db: Database) -> None:
    config = deep_merge(config_dict, {"strategies": [
        {"name": "keep", "class_name": "AuTickBreakoutStrategy", "auto_init": True, "auto_start": True,
         "auto_restart": True, "setting": {"window_ticks": 100000}},
        {"name": "hold", "class_name": "AuTickBreakoutStrategy", "auto_init": True, "auto_start": True,
         "setting": {"window_ticks": 100000}}]})
    harness = CoreHarness(config, tmp_path / "arbig.json")
    from core_service.app import CoreApp

    harness.start()
    harness.stop()
    runtime = harness.config.runtime_path()
    harness.app = CoreApp(harness.config, harness.config_path, Secrets(),
                          runtime, recovery="core exited with code -9 (SIGKILL)")
    try:
        harness.app.start()

        def state(name: str) -> dict[str, Any]:
            raw = harness.redis.hget(harness.keys.strategies, name)
            return json.loads(raw) if raw else {}

        eventually(lambda: state("keep").get("state") == "TRADING", timeout=30, what="auto_restart strategy running")
        hold = eventually(lambda: (s := state("hold")).get("state") == "INITED" and s, timeout=30)
        assert "crash" in hold["note"] and "SIGKILL" in hold["note"]
        start = db.query("SELECT level, message FROM system_events WHERE kind='start' ORDER BY id DESC LIMIT 1")
        assert start[0]["level"] == "WARNING" and "SIGKILL" in start[0]["message"]
    finally:
        harness.stop()

