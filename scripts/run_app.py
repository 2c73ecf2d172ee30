"""Run the whole app: the core service and the web service as two child processes, supervised.

- Before anything starts: the config file must be valid (else exit 2 naming the field) and no other
  core may hold this runtime folder's lock (else exit 4 naming it). The core takes the lock itself;
  this check only keeps `make run` from starting a web service beside a refused core.
- Ctrl-C or SIGTERM stops both. Every stop and restart is recorded as a system event with its cause.
- The core: exit 0 (stopped), 2 (bad config) or 4 (another core runs) stops everything. A crash
  (any other code, or a signal) is recorded and the core restarted, with ARBIG_RECOVERY saying why
  (strategies then restart only where `auto_restart` is set), at most CORE_MAX_RESTARTS times in
  CORE_RESTART_WINDOW_S; past that it stays down and says so (the web service keeps showing it).
- The web service holds no trading state. If its first start fails within WEB_MIN_UPTIME_S (port in
  use, bad config) both stop. Later it is restarted whenever it dies, with a growing delay; it then
  reads the settings the core actually runs with (ARBIG_RUNNING_CONFIG) if the file has been broken
  by an edit the core refused, so a bad edit plus a web crash never stops trading.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from common.clock import LIVE  # noqa: E402
from common.config import AppConfig, ConfigError, Secrets, config_path, load_config, load_secrets  # noqa: E402

STOP_TIMEOUT_S = 8.0
# a web service that dies sooner after its first start is failing to start
WEB_MIN_UPTIME_S = float(os.environ.get("ARBIG_WEB_MIN_UPTIME_S", "10"))
WEB_RESTART_DELAY_S = 1.0
WEB_RESTART_DELAY_MAX_S = 30.0
CORE_MAX_RESTARTS = 3
CORE_RESTART_WINDOW_S = 600.0
EXIT_CONFIG = 2
EXIT_ALREADY_RUNNING = 4


def say(text: str, error: bool = False) -> None:
    print(f"run_app: {text}", file=sys.stderr if error else sys.stdout, flush=True)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    def __init__(self, config: AppConfig, secrets: Secrets) -> None:
        self.config = config
        self.secrets = secrets
        self.running_config = config.runtime_path() / "running_config.json"
        self.stopping = ""
        self.core: subprocess.Popen[bytes] | None = None
        self.web: subprocess.Popen[bytes] | None = None
        self.web_started = 0.0
        self.web_restarts = 0
        self.web_first_start = True  # a failure of the very first start stops both (nothing to keep)
        self.web_next_start = 0.0
        self.core_crashes: deque[float] = deque()
        self.code = 0

    def record(self, kind: str, message: str, level: str = "INFO") -> None:
        from common.event_log import record_event

        say(message, error=level != "INFO")
        record_event(self.config, self.secrets, kind, message, level, source="supervisor")

    def start(self, module: str, recovery: str = "") -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["ARBIG_RUNNING_CONFIG"] = str(self.running_config)
        env.pop("ARBIG_RECOVERY", None)
        if recovery:
            env["ARBIG_RECOVERY"] = recovery
        return subprocess.Popen([sys.executable, "-m", module], cwd=str(ROOT), env=env)

    # ------------------------------------------------------------ the loop
    def run(self) -> int:
        self.core, self.web = self.start("core_service"), self.start("web_service")
        self.web_started = LIVE.monotonic()
        say(f"core (pid {self.core.pid}) and web (pid {self.web.pid}) started; open "
            f"http://{self.config.web.host}:{self.config.web.port} (Ctrl-C stops both)")
        while not self.stopping:
            self.watch_core()
            if not self.stopping:
                self.watch_web()
            time.sleep(0.2)
        self.stop_children()
        return self.code

    def watch_core(self) -> None:
        rc = self.core.poll() if self.core else None
        if rc is None:
            return
        self.core = None
        if rc in (0, EXIT_CONFIG, EXIT_ALREADY_RUNNING):
            why = {0: "the core stopped", EXIT_CONFIG: "the core refused its configuration",
                   EXIT_ALREADY_RUNNING: "another core already runs for this account"}[rc]
            say(f"{why} ({describe_exit(rc)}); stopping the web service", error=rc != 0)
            self.code, self.stopping = rc, why
            return
        now = LIVE.monotonic()
        self.core_crashes.append(now)
        while self.core_crashes and now - self.core_crashes[0] > CORE_RESTART_WINDOW_S:
            self.core_crashes.popleft()
        crash = f"the core crashed ({describe_exit(rc)})"
        if len(self.core_crashes) > CORE_MAX_RESTARTS:
            self.record("supervisor", f"{crash}: {len(self.core_crashes)} crashes in"
                        f" {CORE_RESTART_WINDOW_S / 60:.0f} minutes, it stays down until restarted by hand"
                        " (`make run`); the web service keeps running to show it", "ERROR")
            self.code = 1
            return
        self.record("supervisor", f"{crash}; restarting it ({len(self.core_crashes)}/{CORE_MAX_RESTARTS} in"
                    f" {CORE_RESTART_WINDOW_S / 60:.0f} minutes); strategies come back only where auto_restart"
                    " is set", "ERROR")
        self.core = self.start("core_service", recovery=crash.removeprefix("the core "))

    def watch_web(self) -> None:
        if self.web is None:
            if LIVE.monotonic() >= self.web_next_start:
                self.web, self.web_started = self.start("web_service"), LIVE.monotonic()
                say(f"web service restarted (pid {self.web.pid})")
            return
        rc = self.web.poll()
        if rc is None:
            if LIVE.monotonic() - self.web_started > WEB_MIN_UPTIME_S:
                self.web_first_start = False
                self.web_restarts = 0
            return
        self.web = None
        uptime = LIVE.monotonic() - self.web_started
        if self.web_first_start and uptime < WEB_MIN_UPTIME_S:
            say(f"the web service exited with {describe_exit(rc)} {uptime:.1f}s after its start; "
                "stopping the core", error=True)
            self.code, self.stopping = rc or 1, "the web service could not start"
            return
        delay = min(WEB_RESTART_DELAY_S * 2 ** self.web_restarts, WEB_RESTART_DELAY_MAX_S)
        self.web_restarts += 1
        self.web_first_start = False
        self.web_next_start = LIVE.monotonic() + delay
        self.record("supervisor", f"the web service exited with {describe_exit(rc)} after {uptime:.0f}s; the core"
                    f" keeps trading, restarting the web service in {delay:.0f}s", "WARNING")

    def stop_children(self) -> None:
        children = [c for c in (self.web, self.core) if c is not None]
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = LIVE.monotonic() + STOP_TIMEOUT_S
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - LIVE.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{child.args[-1]} did not stop in {STOP_TIMEOUT_S:.0f}s, killing it", error=True)
                child.kill()
                child.wait()


def preflight() -> tuple[AppConfig, Secrets] | int:
    """The config and secrets, or the exit code when nothing may start."""
    try:
        config, secrets = load_config(config_path()), load_secrets()
    except ConfigError as exc:
        say(f"cannot start, nothing started: {exc}", error=True)
        return EXIT_CONFIG
    from core_service.instance_lock import probe

    holder = probe(config.runtime_path())
    if holder is not None:
        say(f"cannot start, nothing started: another core already runs here: {holder.describe()}", error=True)
        return EXIT_ALREADY_RUNNING
    return config, secrets


def main() -> int:
    ready = preflight()
    if isinstance(ready, int):
        return ready
    supervisor = Supervisor(*ready)

    def on_signal(signum: int, _frame: object) -> None:
        supervisor.stopping = f"{signal.Signals(signum).name} received"

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = supervisor.run()
    if supervisor.stopping.endswith("received"):
        supervisor.record("supervisor", f"the app stopped: {supervisor.stopping}")
    return code


if __name__ == "__main__":
    sys.exit(main())
