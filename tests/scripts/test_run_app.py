"""scripts/run_app: a web service that fails to start stops the whole app (no restart loop), and
SIGTERM stops both services. (A web crash after start is restarted: see the browser tests.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

from common.config import PROJECT_ROOT
from tests.helpers import deep_merge, eventually, write_config
from tests.web_service.conftest import free_port


def run_app(config: dict[str, Any], tmp_path: Path) -> subprocess.Popen[str]:
    path = write_config(tmp_path / "arbig.json", config)
    env = dict(os.environ, ARBIG_CONFIG=str(path), PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.Popen([sys.executable, "-m", "scripts.run_app"], cwd=str(PROJECT_ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_a_web_service_that_cannot_start_stops_the_app(config_dict: dict[str, Any], tmp_path: Path,
                                                      redis_client: redis.Redis) -> None:
    port = free_port()
    config = deep_merge(config_dict, {"web": {"host": "127.0.0.1", "port": port}})
    with socket.socket() as taken:  # something else already listens on the web port
        taken.bind(("127.0.0.1", port))
        taken.listen()
        proc = run_app(config, tmp_path)
        try:
            output, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode not in (0, None), output[-2000:]
    assert "after its start; stopping the core" in output, output[-2000:]
    assert "restarting the web service" not in output
    assert "core stopped" in output


def test_sigterm_stops_both_services(config_dict: dict[str, Any], tmp_path: Path, redis_client: redis.Redis) -> None:
    config = deep_merge(config_dict, {"web": {"host": "127.0.0.1", "port": free_port()}})
    from common.contract import Keys

    heartbeat = Keys(config["redis"]["key_prefix"]).heartbeat
    proc = run_app(config, tmp_path)
    try:
        eventually(lambda: redis_client.exists(heartbeat), timeout=60, what="the core's heartbeat")
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, output[-2000:]
    assert "core stopped" in output and not redis_client.exists(heartbeat)
