"""scripts/setup_venv.sh (what `make run` / `make test` run first): the console says what it installs and why the
first time takes minutes, pip's own output goes to the log, and a failure prints the log's tail and its path.
Runs against a fresh throwaway venv with an unreachable package index, so pip fails within seconds."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from common.config import PROJECT_ROOT


def test_a_failed_install_says_what_failed_with_the_logs_tail_and_path(tmp_path: Path) -> None:
    log = tmp_path / "install.log"
    env = dict(os.environ, ARBIG_VENV=str(tmp_path / "venv"), ARBIG_INSTALL_LOG=str(log), PIP_CONFIG_FILE=os.devnull,
               PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_FIND_LINKS="", PIP_NO_CACHE_DIR="1", PIP_RETRIES="0",
               PIP_TIMEOUT="1")
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(["bash", "scripts/setup_venv.sh"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == f"==> creating the Python 3.11 virtual environment {tmp_path / 'venv'}"
    assert any("first set-up" in line for line in out)
    assert any("vnpy_ctp" in line and "C++" in line and "minutes" in line for line in out)
    assert all(line.startswith(("==> ", "    ")) for line in out), "only short progress lines on the console"
    assert not any("Looking in indexes" in line for line in out), "pip's own output stays in the log"
    err = proc.stderr.splitlines()
    assert err[0].startswith("ERROR: ") and "failed" in err[0] and str(log) in err[0]
    assert err[-1] == f"The whole output is in {log}"
    assert any("ERROR" in line for line in err[1:-1]), "the tail of the log shows pip's error"
    text = log.read_text()
    assert "Looking in indexes: http://127.0.0.1:9/simple" in text and "---- installing packages" in text
    assert not (tmp_path / "venv" / ".installed").exists()
