"""The operator CLI against the running core: answers, exit codes, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.core_service.harness import CoreHarness


def cli(core: CoreHarness, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ARBIG_CONFIG=str(core.config_path), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "core_service.cli", *args], cwd=str(ROOT), env=env,
                          capture_output=True, text=True, timeout=30)


def test_cli_status_and_commands(core: CoreHarness) -> None:
    status = cli(core, "status")
    assert status.returncode == 0
    assert json.loads(status.stdout)["gateway"]["state"] == "LOGGED_IN"
    refused = cli(core, "strategy-stop", "no_such_strategy")
    assert refused.returncode == 1 and json.loads(refused.stdout)["status"] == "refused"
    done = cli(core, "emergency-stop")
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "done"
    bad = cli(core, "close", "au2702.SHFE", "LONG", "0")
    assert bad.returncode == 2 and "greater than" in bad.stderr
    usage = cli(core, "close", "au2702.SHFE", "UP", "1")
    assert usage.returncode == 2
