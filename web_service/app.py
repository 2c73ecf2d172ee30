"""The FastAPI application: routers, static files, error handlers (a Redis or MySQL outage is a 503
naming it), and the services' lifespan.

The OpenAPI document (/openapi.json, 401 without a session) and its rendering at /docs (web_service/pages.py,
a redirect to the login page without one) are behind login like the rest. (No Swagger viewer: it would
load from a CDN.)

The MCP endpoint for AI agents (web_service/mcp/) is served at /mcp on the same port: `McpRoute` hands it those
requests ahead of the console's login and Origin checks (MCP clients carry a bearer token instead), and the
lifespan runs its session manager and tool-call log.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pymysql
from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.clock import LIVE, Clock
from common.config import PROJECT_ROOT
from web_service import (
    api_ai,
    api_bars,
    api_commands,
    api_health,
    api_history,
    api_risk,
    api_state,
    api_triggers,
    dependency_errors,
    errors,
    pages,
    ws_endpoint,
)
from web_service.auth import LoginRequired, OriginGuard, require_session
from web_service.mcp.server import McpEndpoint, McpRoute
from web_service.services import Services
from web_service.settings import WebSettings, is_loopback

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self';"
        " connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
}


class SecurityHeaders:
    """Pure ASGI middleware: security headers on every HTTP answer; pages and API are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Cache-Control", "no-cache" if static else "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(web: WebSettings, svc: Services | None = None, clock: Clock = LIVE) -> FastAPI:
    """The app; `svc` lets tests pass prepared services (otherwise built from `web` with `clock`)."""
    mcp = McpEndpoint(web, svc.clock if svc else clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = svc or Services.build(web, clock)
        app.state.services = services
        app.state.mcp = mcp
        await services.start()
        try:
            async with mcp.running(services):
                # Everything loaded so far lives for the whole process: keep it out of the cyclic GC, whose
                # full passes over it took ~20 ms and showed up as tick-latency spikes.
                gc.collect()
                gc.freeze()
                yield
        finally:
            await services.close()

    app = FastAPI(title="ARBIG web service", version="1", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=str(PROJECT_ROOT / "static")), name="static")
    for router in (pages.router, api_health.router, api_state.router, api_bars.router, api_history.router, api_risk.read,
                   api_commands.router, api_risk.write, ws_endpoint.router):
        app.include_router(router)
    app.include_router(api_triggers.router)
    app.include_router(api_ai.router)
    app.add_exception_handler(RequestValidationError, errors.on_request_validation)
    app.add_exception_handler(ValidationError, errors.on_pydantic_validation)
    app.add_exception_handler(LoginRequired, errors.on_login_required)
    app.add_exception_handler(errors.Refusal, errors.on_refusal)
    app.add_exception_handler(pymysql.MySQLError, errors.on_mysql_error)
    for redis_error in dependency_errors.REDIS_ERRORS:  # refused or hung Redis: 503 naming it, never 500
        app.add_exception_handler(redis_error, dependency_errors.on_redis_error)
    dependency_errors.install_template_globals(pages.templates.env)  # the login page names a Redis outage

    app.add_middleware(OriginGuard)
    app.add_middleware(McpRoute, endpoint=mcp.asgi)  # outside OriginGuard: /mcp never reaches the console's checks
    if is_loopback(web.config.web.host):  # DNS rebinding: only loopback names reach a loopback-bound app
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]", "::1"])
    app.add_middleware(SecurityHeaders)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_session)])
    async def openapi() -> dict[str, Any]:
        return app.openapi()

    return app
