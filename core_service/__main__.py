"""Entry point: `python -m core_service` runs the core until SIGTERM or Ctrl-C (clean stop within 5 s).

Exit codes: 0 stopped on request, 1 crashed, 2 bad configuration, 4 another core already runs for
this account (refused before anything connected). ARBIG_RECOVERY, set by the supervisor when it
restarts a crashed core, says why (strategies then restart only where `auto_restart` is set).
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading

from common.config import AppConfig, ConfigError, Secrets, config_path, load_config, load_secrets
from common.trading_calendar import check_holidays

log = logging.getLogger("core_service")
STOP_DEADLINE_S = 10
EXIT_ALREADY_RUNNING = 4


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s core %(name)s: %(message)s")
    path = config_path()
    try:
        config = load_config(path)
        secrets = load_secrets()
        check_holidays()
    except ConfigError as exc:
        print(f"core: cannot start: {exc}", file=sys.stderr)
        return 2
    from core_service.runtime import prepare_runtime

    runtime = prepare_runtime(config)
    from core_service.app import CoreApp  # imports vnpy: only after prepare_runtime
    from core_service.instance_lock import AlreadyRunning

    stop = threading.Event()
    cause = ["asked to stop"]

    def on_signal(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        log.info("received %s, stopping", name)
        cause[0] = f"{name} received"
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:  # building the core takes the instance lock: AlreadyRunning before anything connects
        app = CoreApp(config, path.resolve(), secrets, runtime, recovery=os.environ.get("ARBIG_RECOVERY", ""))
    except AlreadyRunning as exc:
        return refuse_second_core(config, secrets, str(exc))
    except Exception:  # whatever was built is closed again, the lock released
        log.exception("core failed while being built")
        return 1
    try:
        app.start()
        log.info("core running (config %s, runtime %s)", path, runtime)
        while not stop.wait(0.5):
            pass
    except Exception as exc:
        log.exception("core failed")
        app.stop(f"crashed: {type(exc).__name__}: {exc}")
        return 1
    # vnpy_ctp's release can hang for good if a callback is running (vnpy/vnpy_ctp#108): a last resort.
    faulthandler.dump_traceback_later(STOP_DEADLINE_S, exit=True)
    app.stop(cause[0])
    faulthandler.cancel_dump_traceback_later()
    return 0


def refuse_second_core(config: AppConfig, secrets: Secrets, reason: str) -> int:
    from common.event_log import record_event

    print(f"core: refused to start: {reason}", file=sys.stderr, flush=True)
    record_event(config, secrets, "second_instance", f"a second core was refused (pid {os.getpid()}): {reason}", "ERROR", pid=os.getpid())
    return EXIT_ALREADY_RUNNING


if __name__ == "__main__":
    sys.exit(main())
