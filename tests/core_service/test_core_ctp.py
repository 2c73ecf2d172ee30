"""The whole core process on the real CTP gateway (vnpy_ctp's C++ library) against local fronts:
one where nothing listens and one that accepts and closes. The core stays up, shows the state in
its heartbeat and system events, and stops cleanly on SIGTERM."""

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

from common.contract import Heartbeat, Keys
from common.db import Database
from tests.conftest import ROOT
from tests.core_service.ctp_fronts import DroppingFront, free_port
from tests.helpers import deep_merge, eventually

SECRETS = {"ARBIG_CTP_USERID": "000001", "ARBIG_CTP_PASSWORD": "not-a-real-password",
           "ARBIG_CTP_BROKER_ID": "9999"}


def run_core(config: dict[str, Any], tmp_path: Path) -> subprocess.Popen[bytes]:
    path = tmp_path / "arbig.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    env = dict(os.environ, ARBIG_CONFIG=str(path), PYTHONPATH=str(ROOT), **SECRETS)
    return subprocess.Popen([sys.executable, "-m", "core_service"], cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def heartbeat(client: redis.Redis, keys: Keys) -> Heartbeat | None:
    raw = client.get(keys.heartbeat)
    return Heartbeat.model_validate_json(raw) if raw else None


def stop(proc: subprocess.Popen[bytes]) -> tuple[float, str]:
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    return time.monotonic() - start, output


@pytest.mark.parametrize("front", ["nothing_listens", "accepts_and_closes"])
def test_core_on_ctp_shows_the_state_and_stops_cleanly(front: str, config_dict: dict[str, Any], db: Database,
                                                        tmp_path: Path) -> None:
    dropping = DroppingFront() if front == "accepts_and_closes" else None
    address = dropping.address if dropping else f"127.0.0.1:{free_port()}"
    config = deep_merge(config_dict, {"gateway": {"name": "ctp", "login_timeout_s": 3,
                                                  "ctp": {"td_address": address, "md_address": address,
                                                          "environment": "测试"}}})
    client = redis.Redis(host=config["redis"]["host"], port=config["redis"]["port"], db=config["redis"]["db"],
                         decode_responses=True)
    keys = Keys(config["redis"]["key_prefix"])
    proc = run_core(config, tmp_path)
    try:
        beat = eventually(lambda: (hb := heartbeat(client, keys)) and hb.gateway.state.value == "LOGIN_TIMEOUT"
                          and hb, timeout=30, what="watchdog reports not logged in")
        assert "not logged in after 3 s" in beat.gateway.reason
        if dropping:
            assert "0x1001" in beat.gateway.reason  # the disconnect reason stays visible
        assert proc.poll() is None  # the core is still up
        kinds = {r["kind"] for r in db.query("SELECT kind FROM system_events")}
        assert "login_timeout" in kinds
        if dropping:
            assert "disconnect" in kinds
        assert "not-a-real-password" not in json.dumps(db.query("SELECT message, detail FROM system_events"),
                                                       default=str)
    finally:
        elapsed, output = stop(proc)
        if dropping:
            dropping.close()
    assert proc.returncode == 0, output[-3000:]
    assert elapsed < 5.0
    assert "not-a-real-password" not in output
