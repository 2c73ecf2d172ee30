"""Entry point: `python -m core_service` runs the core until SIGTERM or Ctrl-C (clean stop within 5 s)."""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
import threading

from common.config import ConfigError, config_path, load_config, load_secrets
from common.trading_calendar import check_holidays

log = logging.getLogger("core_service")
STOP_DEADLINE_S = 10


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

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    app = CoreApp(config, path.resolve(), secrets, runtime)
    try:
        app.start()
        log.info("core running (config %s, runtime %s)", path, runtime)
        while not stop.wait(0.5):
            pass
    except Exception:
        log.exception("core failed")
        app.stop()
        return 1
    # vnpy_ctp's release can hang for good if a callback is running (vnpy/vnpy_ctp#108): a last resort.
    faulthandler.dump_traceback_later(STOP_DEADLINE_S, exit=True)
    app.stop()
    faulthandler.cancel_dump_traceback_later()
    return 0


if __name__ == "__main__":
    sys.exit(main())
