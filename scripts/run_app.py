"""Run the whole app: the core service and the web service as two child processes.

Ctrl-C or SIGTERM stops both. The core holds the trading state: if it exits, the web service is
stopped too and the core's exit code is passed on. The web service holds none: if it dies after
having run a while, it is started again (the core keeps trading; pages reconnect by themselves).
A web service that exits within WEB_MIN_UPTIME_S of its start (a configuration error, a port in
use) is not restarted: both stop and its code is passed on. Both children read the same
configuration file (ARBIG_CONFIG or config/arbig.json).
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
WEB_MIN_UPTIME_S = 10.0  # a web service that dies sooner is failing to start: do not loop
WEB_RESTART_DELAY_S = 1.0


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
    core, web = _start("core_service"), _start("web_service")
    web_started = time.monotonic()
    print(f"run_app: core (pid {core.pid}) and web (pid {web.pid}) started; open {_url()} (Ctrl-C stops both)",
          flush=True)
    code = 0
    while not stopping:
        rc = core.poll()
        if rc is not None:
            print(f"run_app: the core exited with code {rc}; stopping the web service", file=sys.stderr, flush=True)
            code, stopping = rc or 1, True
            break
        rc = web.poll()
        if rc is not None:
            uptime = time.monotonic() - web_started
            if uptime < WEB_MIN_UPTIME_S:
                print(f"run_app: the web service exited with code {rc} {uptime:.1f}s after its start; "
                      "stopping the core", file=sys.stderr, flush=True)
                code, stopping = rc or 1, True
                break
            print(f"run_app: the web service exited with code {rc} after {uptime:.0f}s; the core keeps "
                  f"running, restarting the web service in {WEB_RESTART_DELAY_S:.0f}s", file=sys.stderr, flush=True)
            time.sleep(WEB_RESTART_DELAY_S)
            web, web_started = _start("web_service"), time.monotonic()
            print(f"run_app: web service restarted (pid {web.pid})", flush=True)
        time.sleep(0.2)
    _stop([web, core])
    return code


if __name__ == "__main__":
    sys.exit(main())
