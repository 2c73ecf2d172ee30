"""The operator CLI with no core listening: the command is queued, then withdrawn when the wait ends, so a
core starting later never runs it; the CLI says so (in the web's words) and exits 3."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

from common.command_client import Unanswered
from common.contract import Command, Keys
from tests.conftest import ROOT
from tests.helpers import eventually, write_config


def test_a_timed_out_command_is_withdrawn(
    config_dict: dict[str, Any], tmp_path: Path, redis_client: redis.Redis, keys: Keys
) -> None:
    config = write_config(tmp_path / "arbig.json", config_dict)
    env = dict(os.environ, ARBIG_CONFIG=str(config), PYTHONPATH=str(ROOT))
    cli = subprocess.Popen([sys.executable, "-m", "core_service.cli", "--via", "redis", "--timeout", "1.5",
                            "emergency-stop"], cwd=str(ROOT), env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        queued = eventually(lambda: redis_client.lrange(keys.commands, 0, -1), what="the command queued")
        [command] = [Command.model_validate_json(text) for text in queued]
        assert command.type == "emergency.stop" and command.source == "cli"
        _, stderr = cli.communicate(timeout=30)
    finally:
        cli.kill()
    assert cli.returncode == 3, stderr
    assert f"command {command.id} (emergency.stop): {Unanswered(1.5, True).detail}" in stderr
    assert redis_client.llen(keys.commands) == 0
    assert redis_client.brpop([keys.commands], timeout=0.2) is None, "a core starting now would run it"
