"""When Redis or MySQL fails: the web's short timeouts, a MySQL pool that gives up within seconds on a
hung server, and the 503 answers (JSON for the API, a page for browsers) naming the dependency.

Redis holds the sessions, the live state and the command lists: without it nobody can log in, see live
data or send a command, but the core keeps trading. Every answer says so, and how to stop trading
anyway (`make stop`, the core's local channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any, TypeVar

import pymysql
import redis.asyncio as aioredis
import redis.exceptions
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from common.clock import LIVE, Clock
from common.config import PROJECT_ROOT, MysqlConfig, RedisConfig, Secrets
from common.contract import now_ms
from common.db import Database, connect_kwargs
from common.trading_calendar import CHINA_TZ

log = logging.getLogger(__name__)
T = TypeVar("T")

REDIS_SOCKET_TIMEOUT_S = 2.5  # every Redis read/write; a hung Redis costs a request this long, then 503
REDIS_CONNECT_TIMEOUT_S = 2.0
REDIS_BLOCK_S = 1.0  # XREAD BLOCK / BRPOP wait at most this per call: always shorter than the socket timeout
MYSQL_CONNECT_TIMEOUT_S = 2.0
MYSQL_IO_TIMEOUT_S = 8.0  # per socket read: the slowest real first row (~2.6 s with 1M trades) fits
MYSQL_PROBE_TIMEOUT_S = 2.0
MYSQL_PROBE_EVERY_S = 1.0
MYSQL_WAIT_SLICE_S = 0.1
RETRY_AFTER_S = 5

REDIS_ERRORS: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
REDIS_DETAIL = ("Redis unreachable: live data, login and commands are unavailable; trading continues in the core."
                " Stop trading with `make stop` on the trading host (local channel, works without Redis).")
templates = Jinja2Templates(directory=str(PROJECT_ROOT / "templates"))


def redis_client(cfg: RedisConfig, password: str | None, client_name: str) -> aioredis.Redis:
    """The web's Redis client: short timeouts, and one retry on a dropped connection (a stale pooled one
    after an outage) but none on a timeout, which would only double the wait."""
    assert REDIS_BLOCK_S < REDIS_SOCKET_TIMEOUT_S
    return aioredis.Redis(
        host=cfg.host, port=cfg.port, db=cfg.db, password=password, decode_responses=True,
        socket_timeout=REDIS_SOCKET_TIMEOUT_S, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
        health_check_interval=15, client_name=client_name,
    )


class WebDatabase(Database):
    """The web's MySQL pool. A call waits for MySQL only while the health probe (its own connection,
    short timeouts; the hub runs it every MYSQL_PROBE_EVERY_S) gets answers: once the probe fails,
    waiting calls and new ones raise OperationalError at once (the API answers 503). So a hung MySQL
    costs a request a few seconds, while a slow query on a healthy server still completes. (Socket
    timeouts alone cannot do both: the pool's ping and reconnect retries multiply them.)"""

    def __init__(self, cfg: MysqlConfig, secrets: Secrets | None = None, max_connections: int = 16,
                 clock: Clock = LIVE) -> None:
        super().__init__(cfg, secrets, max_connections, connect_timeout=MYSQL_CONNECT_TIMEOUT_S,
                         read_timeout=MYSQL_IO_TIMEOUT_S, write_timeout=MYSQL_IO_TIMEOUT_S)
        self._probe_kwargs = connect_kwargs(cfg, secrets, cfg.database, MYSQL_PROBE_TIMEOUT_S,
                                            MYSQL_PROBE_TIMEOUT_S, MYSQL_PROBE_TIMEOUT_S)
        self.clock = clock  # dates an outage (down_since_ms)
        self._workers = ThreadPoolExecutor(max_connections, thread_name_prefix="web-mysql")
        self._probe_conn: pymysql.Connection | None = None
        self._probe_lock = threading.Lock()
        self.down_since_ms: int | None = None
        self.probed = False
        self.last_error = ""

    @property
    def ok(self) -> bool:
        """MySQL answered the last probe."""
        return self.probed and self.down_since_ms is None

    async def probe_async(self) -> bool:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.probe), MYSQL_PROBE_TIMEOUT_S * 3)
        except TimeoutError:
            self._mark_down("the probe itself did not finish")
            return False

    def probe(self) -> bool:
        """One SELECT 1 on the probe connection; records whether (and since when) MySQL is down."""
        with self._probe_lock:
            try:
                if self._probe_conn is None:
                    self._probe_conn = pymysql.connect(**self._probe_kwargs)
                with self._probe_conn.cursor() as cur:
                    cur.execute("SELECT 1")
                    cur.fetchall()
            except Exception as exc:
                self._close_probe()
                self._mark_down(f"{type(exc).__name__}: {exc}")
                return False
            self.probed = True
            if self.down_since_ms is not None:
                log.info("MySQL answers again after %.0f s", (self.clock.now_ms() - self.down_since_ms) / 1000)
                self.down_since_ms = None
            return True

    def _mark_down(self, error: str) -> None:
        self.probed, self.last_error = True, error[:200]
        if self.down_since_ms is None:
            self.down_since_ms = self.clock.now_ms()
            log.warning("MySQL is not answering (%s): history requests get 503 until it does", self.last_error)

    def _close_probe(self) -> None:
        conn, self._probe_conn = self._probe_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closes the socket even when the QUIT cannot be sent
                conn.close()

    def _refuse_if_down(self) -> None:
        since = self.down_since_ms
        if since is not None:
            raise pymysql.err.OperationalError(
                2013, f"MySQL is not answering (since {china_time(since)}; health probe: {self.last_error})")

    def _bounded(self, call: Callable[[], T]) -> T:
        self._refuse_if_down()
        future = self._workers.submit(call)
        while True:
            try:
                return future.result(timeout=MYSQL_WAIT_SLICE_S)
            except FutureTimeout:
                self._refuse_if_down()  # the call ends by itself later (socket timeouts) and frees its thread

    def query(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        return self._bounded(lambda: Database.query(self, sql, args))

    def execute(self, sql: str, args: Any = None) -> int:
        return self._bounded(lambda: Database.execute(self, sql, args))

    def executemany(self, sql: str, rows: list[Any]) -> int:
        return self._bounded(lambda: Database.executemany(self, sql, rows))

    def close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)
        with self._probe_lock:
            self._close_probe()
        super().close()


# ---------------------------------------------------------------- 503 answers


def china_time(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S") + " (UTC+8)"


def down_since(request: Request, dependency: str) -> int | None:
    """Since when the running app has seen `dependency` ("redis" or "mysql") down, or None when it is up."""
    services = getattr(request.app.state, "services", None)
    if dependency == "redis":
        return getattr(getattr(services, "live", None), "redis_down_since_ms", None)
    return getattr(getattr(services, "db", None), "down_since_ms", None)


def install_template_globals(env: Environment) -> None:
    """What login.html and unavailable.html use to name a dependency that is down."""
    env.globals["dependency_down_since"] = down_since
    env.globals["china_time"] = china_time


install_template_globals(templates.env)


def _wants_page(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path in ("/openapi.json", "/healthz", "/logout"):
        return False
    return request.method == "GET" or not request.headers.get("content-type", "").startswith("application/json")


async def on_redis_error(request: Request, exc: Exception) -> Response:
    """Redis refused or did not answer in time: 503 naming Redis (never a 500, never a hang)."""
    since = down_since(request, "redis") or now_ms()
    log.info("503 for %s %s: Redis unreachable (%s)", request.method, request.url.path, type(exc).__name__)
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if not _wants_page(request):
        body = {"detail": REDIS_DETAIL, "dependency": "redis", "down_since_ms": since, "error": type(exc).__name__}
        return JSONResponse(body, status_code=503, headers=headers)
    context = {"dependency": "redis", "down_since_ms": since, "refresh_s": RETRY_AFTER_S * 2}
    if request.url.path == "/login":
        context |= {"error": "", "next": request.query_params.get("next", "/"), "redis_down_since": since}
        return templates.TemplateResponse(request, "login.html", context, status_code=503, headers=headers)
    return templates.TemplateResponse(request, "unavailable.html", context, status_code=503, headers=headers)
