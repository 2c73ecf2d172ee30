"""`python -m web_service`: migrate the database, make sure an operator password exists, serve.

Reads the config from ARBIG_CONFIG or config/arbig.json and binds web.host:web.port. Refuses to
start on a non-loopback address while no operator password is set.
"""

from __future__ import annotations

import logging
import sys
import time

import uvicorn

from common.config import ConfigError
from common.db import Database, migrate
from common.trading_calendar import check_holidays
from web_service.app import create_app
from web_service.passwords import OperatorStore, ensure_initial_password
from web_service.settings import UVICORN_WS_OPTIONS, WebSettings, is_loopback, load_settings

log = logging.getLogger("web_service")
MIGRATE_ATTEMPTS = 10


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def migrate_with_retry(web: WebSettings) -> None:
    for attempt in range(1, MIGRATE_ATTEMPTS + 1):
        try:
            applied = migrate(web.config.mysql, web.secrets)
            if applied:
                log.info("applied migrations %s", ", ".join(applied))
            return
        except Exception as exc:
            if attempt == MIGRATE_ATTEMPTS:
                raise
            log.warning("MySQL not ready (%s: %s); retrying (%d/%d)", type(exc).__name__, exc, attempt,
                        MIGRATE_ATTEMPTS)
            time.sleep(2)


def ensure_password(web: WebSettings) -> bool:
    """False when the service must not start (non-loopback host and no password)."""
    db = Database(web.config.mysql, web.secrets, max_connections=1)
    try:
        store = OperatorStore(db)
        if store.get_hash():
            return True
        host = web.config.web.host
        if not is_loopback(host):
            log.error(
                "refusing to start on %s (not a loopback address) while no operator password is set:"
                " run `python -m web_service.set_password` first", host,
            )
            return False
        ensure_initial_password(store, web.initial_password_file)
        return True
    finally:
        db.close()


def main() -> int:
    setup_logging()
    try:
        web = load_settings()
        check_holidays()
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    try:
        migrate_with_retry(web)
    except Exception as exc:
        log.error("cannot prepare the MySQL schema: %s: %s", type(exc).__name__, exc)
        return 3
    if not ensure_password(web):
        return 2
    if web.fallback:
        from common.event_log import record_event

        log.error("%s", web.fallback)
        record_event(web.config, web.secrets, "config", f"web service: {web.fallback}", "ERROR")
    cfg = web.config.web
    log.info("web service on http://%s:%d (config %s)", cfg.host, cfg.port, web.config_file)
    uvicorn.run(create_app(web), host=cfg.host, port=cfg.port, log_level="info", access_log=False,
                timeout_graceful_shutdown=3, proxy_headers=False, **UVICORN_WS_OPTIONS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
