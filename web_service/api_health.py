"""Health endpoint for process monitors: no login, no secrets, no positions — just whether the
web service, the core, its gateway, Redis and MySQL are fine. 200 when all are, 503 otherwise."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from web_service.services import Svc

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness of the web service, the core, its gateway, Redis and MySQL")
async def healthz(svc: Svc) -> JSONResponse:
    redis_ok = await svc.live.redis_ok()
    heartbeat = await svc.live.heartbeat() if redis_ok else None
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
