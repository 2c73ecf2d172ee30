"""The service objects one running web app shares (clock, Redis, MySQL, sessions, read model, hub, commands).

Redis and MySQL are reached with short timeouts (web_service.dependency_errors), so an outage or a hung
server turns into a 503 within seconds instead of a request that never ends. Routes take the narrow
dependencies at the bottom (`State`, `WebClock`) rather than the whole container where they can."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request, WebSocket

from common.clock import LIVE, Clock
from common.performance.report import FillLedger
from web_service.bars import READ_CHUNK, TickCache
from web_service.commands import CommandSender
from web_service.dependency_errors import WebDatabase, redis_client
from web_service.live_cache import LiveCache
from web_service.live_state import LiveState
from web_service.passwords import OperatorStore
from web_service.sessions import LoginThrottle, SessionStore
from web_service.settings import SESSION_TTL_S, WebSettings
from web_service.ws_hub import Hub

log = logging.getLogger(__name__)
STARTUP_READ_S = 5.0  # a hung MySQL at start delays serving by this much, not by the pool's retries
# Visible in CLIENT LIST (one XREAD connection per followed stream), with the pid so that two web
# services on one Redis (another instance, a test run beside the app) are told apart.
REDIS_CLIENT_NAME = f"arbig-web-{os.getpid()}"


@dataclass
class Services:
    web: WebSettings
    clock: Clock
    redis: aioredis.Redis
    db: WebDatabase
    operator: OperatorStore
    sessions: SessionStore
    throttle: LoginThrottle
    live: LiveState
    cache: LiveCache
    hub: Hub
    commands: CommandSender
    fills: FillLedger
    ticks: TickCache  # the recorded ticks /api/bars and the MCP market tool read (one copy per app)

    @classmethod
    def build(cls, web: WebSettings, clock: Clock = LIVE) -> Services:
        """Everything, built once; `clock` is the one the web reads time from (tests may pass a TestClock)."""
        cfg = web.config
        password = web.secrets.redis_password.get_secret_value() or None
        client = redis_client(cfg.redis, password, REDIS_CLIENT_NAME)  # short timeouts: see dependency_errors
        db = WebDatabase(cfg.mysql, web.secrets, max_connections=16, clock=clock)
        live = LiveState(client, web.keys, clock)
        cache = LiveCache(live, web, db, clock)
        return cls(
            web=web,
            clock=clock,
            redis=client,
            db=db,
            operator=OperatorStore(db),
            sessions=SessionStore(client, web.keys, SESSION_TTL_S),
            throttle=LoginThrottle(client, web.keys),
            live=live,
            cache=cache,
            hub=Hub(cache, client, web.keys, clock),
            commands=CommandSender(client, web.keys, cfg.web.command_timeout_s, clock),
            fills=FillLedger(),
            # as many ticks as the stream keeps (XADD's trimming is approximate: a chunk more)
            ticks=TickCache(cfg.redis.tick_maxlen + READ_CHUNK),
        )

    async def start(self) -> None:
        try:  # warm the hash cache so a later MySQL outage does not lock the operator out
            await asyncio.wait_for(asyncio.to_thread(self.operator.get_hash), STARTUP_READ_S)
        except Exception as exc:
            log.warning("cannot read the operator password hash yet: %s", type(exc).__name__)
        await self.cache.start()
        await self.hub.start()

    async def close(self) -> None:
        await self.hub.stop()
        await self.cache.stop()
        await self.redis.aclose()
        self.db.close()


def services(request: Request) -> Services:
    return request.app.state.services


def ws_services(websocket: WebSocket) -> Services:
    return websocket.app.state.services


Svc = Annotated[Services, Depends(services)]


def web_clock(request: Request) -> Clock:
    return services(request).clock


WebClock = Annotated[Clock, Depends(web_clock)]
