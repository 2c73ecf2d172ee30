"""Health endpoint for process monitors: no login, no secrets, no positions — just whether the
web service, the core, its gateway, Redis and MySQL are fine. 200 when all are, 503 otherwise.

It answers within a few seconds even with Redis or MySQL hung: Redis is read with the client's short
socket timeout, MySQL's state is the hub's last probe (never a query here)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from web_service.services import Svc

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness of the web service, the core, its gateway, Redis and MySQL")
async def healthz(svc: Svc) -> JSONResponse:
    heartbeat, _, redis_ok = await svc.live.core_status()
    body = {
        "web": True,
        "redis": redis_ok,
        "mysql": svc.hub.mysql_ok,
        "core": heartbeat is not None,
        "gateway": heartbeat.gateway.state.value if heartbeat else None,
        "core_mysql": heartbeat.mysql_ok if heartbeat else None,
    }
    healthy = redis_ok and body["mysql"] and heartbeat is not None and body["gateway"] == "LOGGED_IN" \
        and bool(body["core_mysql"])
    return JSONResponse(body, status_code=200 if healthy else 503)
