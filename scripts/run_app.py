"""Run the whole app: the core service and the web service as two child processes.

Ctrl-C or SIGTERM stops both; if either child exits, the other is stopped too and the exit code
is passed on. Both children read the same configuration file (ARBIG_CONFIG or config/arbig.json).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_S = 8.0


def _start(module: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return subprocess.Popen([sys.executable, "-m", module], cwd=str(ROOT), env=env)


def _url() -> str:
    sys.path.insert(0, str(ROOT))
    from common.config import ConfigError, load_config

    try:
        web = load_config().web
    except ConfigError:
        return "http://127.0.0.1:8000"  # the services themselves report the configuration error
    return f"http://{web.host}:{web.port}"


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            print(f"run_app: {child.args[-1]} did not stop in {STOP_TIMEOUT_S:.0f}s, killing it", file=sys.stderr)
            child.kill()
            child.wait()


def main() -> int:
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children = [_start("core_service"), _start("web_service")]
    print(f"run_app: core and web services started; open {_url()} (Ctrl-C stops both)", flush=True)
    code = 0
    while not stopping:
        for child in children:
            rc = child.poll()
            if rc is not None:
                print(f"run_app: {child.args[-1]} exited with code {rc}; stopping the other service", file=sys.stderr)
                code = rc or 1
                stopping = True
                break
        time.sleep(0.2)
    _stop(children)
    return code


if __name__ == "__main__":
    sys.exit(main())
