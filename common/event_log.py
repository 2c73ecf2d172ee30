"""Record one system event from outside a running core: the supervisor (a core crashed, restarted,
gave up), a second core refused at start, a web service started on the core's running settings.

Written straight to MySQL (`system_events`) and pushed to the pages (`keys.events`), each with short
timeouts and best effort: a dependency that is down must not stop the caller from saying why it
stops. Inside the core, `Recorder.system_event` does the same through its spooling writers.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pymysql
import redis

from common.config import AppConfig, Secrets
from common.contract import EventMessage, Keys, SystemEvent
from common.db import connect_kwargs

log = logging.getLogger(__name__)
TIMEOUT_S = 2


def record_event(config: AppConfig, secrets: Secrets, kind: str, message: str, level: str = "INFO",
                 **detail: Any) -> bool:
    """True when the event reached MySQL (the system of record)."""
    # validated as the model says (level INFO/WARNING/ERROR): a bad level raises before anything is written
    event = SystemEvent.model_validate({"kind": kind, "message": message[:1024], "level": level,
                                        "detail": detail})
    stored = _to_mysql(config, secrets, event)
    _to_redis(config, secrets, event)
    return stored


def _to_mysql(config: AppConfig, secrets: Secrets, event: SystemEvent) -> bool:
    kwargs = connect_kwargs(config.mysql, secrets, config.mysql.database)
    kwargs.update(connect_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S, write_timeout=TIMEOUT_S)
    ts = datetime.fromtimestamp(event.ts_ms / 1000, UTC).replace(tzinfo=None)
    try:
        conn = pymysql.connect(**kwargs)
        try:
            with conn.cursor() as cur:
                cur.execute("INSERT INTO system_events (uid, ts, level, kind, message, detail) VALUES"
                            " (%s,%s,%s,%s,%s,%s)", (event.uid, ts, event.level, event.kind, event.message,
                                                     json.dumps(event.detail, ensure_ascii=False)))
        finally:
            conn.close()
        return True
    except pymysql.MySQLError as exc:
        log.warning("system event [%s] not stored, MySQL unavailable (%s): %s", event.kind, exc, event.message)
        return False


def _to_redis(config: AppConfig, secrets: Secrets, event: SystemEvent) -> None:
    client = redis.Redis(host=config.redis.host, port=config.redis.port, db=config.redis.db,
                         password=secrets.redis_password.get_secret_value() or None,
                         socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S)
    message = EventMessage(type="system", data=event.model_dump())
    try:
        client.xadd(Keys(config.redis.key_prefix).events, {"json": message.to_json()},
                    maxlen=config.redis.event_maxlen, approximate=True)
    except redis.RedisError as exc:
        log.warning("system event [%s] not pushed to the pages, Redis unavailable (%s)", event.kind, exc)
    finally:
        client.close()
