"""scripts/run_app as a supervisor: it refuses to start beside a running core or on a bad file,
restarts a crashed core (recording why), and restarts a crashed web service on the settings the
core runs with when the file has been broken by a refused edit, without touching the core."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from common.config import PROJECT_ROOT
from common.contract import Keys
from common.db import Database
from tests.core_service.harness import CoreHarness
from tests.helpers import deep_merge, eventually, write_config
from tests.web_service.conftest import free_port

WEB_MIN_UPTIME_S = 3.0


class App:
    """`python -m scripts.run_app` with its output collected line by line."""

    def __init__(self, config: dict[str, Any], tmp_path: Path) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.path = write_config(tmp_path / "arbig.json", config)
        env = dict(os.environ, ARBIG_CONFIG=str(self.path), PYTHONPATH=str(PROJECT_ROOT),
                   ARBIG_WEB_MIN_UPTIME_S=str(WEB_MIN_UPTIME_S))
        self.proc = subprocess.Popen([sys.executable, "-m", "scripts.run_app"], cwd=str(PROJECT_ROOT), env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def web_pid(self) -> int | None:
        pids = [int(line.split("web (pid ")[1].split(")")[0]) for line in self.lines if "web (pid " in line]
        pids += [int(line.split("restarted (pid ")[1].split(")")[0]) for line in self.lines if "restarted (pid " in line]
        return pids[-1] if pids else None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def heartbeat(client: redis.Redis, keys: Keys) -> dict[str, Any]:
    raw = client.get(keys.heartbeat)
    return json.loads(raw) if raw else {}


def test_refuses_to_start_on_a_bad_file_naming_the_field(config_dict: dict[str, Any], tmp_path: Path) -> None:
    app = App(deep_merge(config_dict, {"core": {"command_ttl_s": 600}}), tmp_path)
    assert app.proc.wait(30) == 2
    eventually(lambda: "field 'core.command_ttl_s'" in app.output and "nothing started" in app.output)


def test_refuses_to_start_beside_a_running_core(config_dict: dict[str, Any], tmp_path: Path) -> None:
    core = CoreHarness(config_dict, tmp_path / "arbig.json")
    core.start(wait_ticks=False)
    try:
        app = App(deep_merge(config_dict, {"web": {"port": free_port()}}), tmp_path / "second")
        assert app.proc.wait(30) == 4
        eventually(lambda: f"pid {os.getpid()}" in app.output and "another core already runs" in app.output)
    finally:
        core.stop()


def test_a_crashed_core_is_restarted_and_a_broken_file_never_stops_a_web_restart(
        config_dict: dict[str, Any], tmp_path: Path, redis_client: redis.Redis, keys: Keys, db: Database) -> None:
    port = free_port()
    app = App(deep_merge(config_dict, {"web": {"host": "127.0.0.1", "port": port}}), tmp_path)
    try:
        first = eventually(lambda: heartbeat(redis_client, keys).get("pid"), timeout=60, what="core up")
        os.kill(first, signal.SIGKILL)
        second = eventually(lambda: (pid := heartbeat(redis_client, keys).get("pid")) != first and pid,
                            timeout=60, what="core restarted")
        crash = eventually(lambda: db.query("SELECT level, message FROM system_events WHERE kind='supervisor'"))
        assert crash[0]["level"] == "ERROR" and "SIGKILL" in crash[0]["message"] and "restarting" in crash[0]["message"]
        start = eventually(lambda: db.query("SELECT message FROM system_events WHERE kind='start' AND level='WARNING'"))
        assert "SIGKILL" in start[0]["message"]

        # an edit the core refuses, then the web service dies: it comes back on the core's settings
        app.path.write_text("{ not json", encoding="utf-8")
        eventually(lambda: db.query("SELECT 1 FROM system_events WHERE kind='config' AND level='ERROR'"))
        web = eventually(app.web_pid)
        eventually(lambda: healthy(port),
                   timeout=60, what="web up")
        time.sleep(WEB_MIN_UPTIME_S + 0.5)  # one that dies sooner after its first start stops the app
        os.kill(web, signal.SIGKILL)
        eventually(lambda: (pid := app.web_pid()) != web and pid, timeout=30, what="web restarted")
        eventually(lambda: healthy(port),
                   timeout=60, what="restarted web serving")
        rows = eventually(lambda: db.query("SELECT message FROM system_events WHERE kind='config'"
                                           " AND message LIKE 'web service:%%'"))
        assert "settings the core runs with" in rows[0]["message"]
        assert heartbeat(redis_client, keys)["pid"] == second, "the core was never touched"
        assert app.proc.poll() is None
    finally:
        app.close()
    assert "SIGTERM received" in app.output
