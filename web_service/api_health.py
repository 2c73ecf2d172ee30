"""Health endpoint for process monitors: no login, no secrets, no positions — just whether the
web service, the core (its lifecycle state), its gateway, Redis and MySQL are fine. 200 when all are
(the core RUNNING), 503 otherwise. A holiday calendar that does not cover the coming year is reported
(`calendar_warning`) without making the answer unhealthy.

It answers within a few seconds even with Redis or MySQL hung: Redis is read with the client's short
socket timeout, MySQL's state is the read model's last probe (never a query here)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from common.lifecycle import ComponentState
from common.trading_calendar import calendar_coverage_warning
from web_service.services import Svc

router = APIRouter(tags=["health"])


class Health(BaseModel):
    web: bool = Field(description="The web service answers (always true in an answer)")
    redis: bool = Field(description="Redis answered the heartbeat read")
    mysql: bool = Field(description="The web service's last MySQL probe succeeded")
    core: bool = Field(description="A core heartbeat is present")
    gateway: str | None = Field(description="The core's gateway state (LOGGED_IN when ready); null without a core")
    core_mysql: bool | None = Field(description="The core reaches MySQL (else it spools records)")
    core_state: ComponentState | None = Field(
        description="The core's lifecycle state: starting, running, degraded, stopping, stopped; null without a core")
    core_state_reason: str = Field("", description="Why the core is degraded (empty otherwise)")
    calendar_warning: str | None = Field(
        None, description="Set when the holiday calendar does not cover the coming year")


@router.get("/healthz", summary="Liveness of the web service, the core, its gateway, Redis and MySQL",
            response_model=Health, responses={503: {"model": Health, "description": "Something is not fine"}})
async def healthz(svc: Svc, response: Response) -> Health:
    heartbeat, _, redis_ok = await svc.live.core_status()
    health = Health(
        web=True,
        redis=redis_ok,
        mysql=svc.cache.mysql_ok,
        core=heartbeat is not None,
        gateway=heartbeat.gateway.state.value if heartbeat else None,
        core_mysql=heartbeat.mysql_ok if heartbeat else None,
        core_state=heartbeat.state if heartbeat else None,
        core_state_reason=heartbeat.state_reason if heartbeat else "",
        calendar_warning=calendar_coverage_warning(svc.clock.now().date()),
    )
    healthy = (health.redis and health.mysql and health.gateway == "LOGGED_IN" and bool(health.core_mysql)
               and health.core_state == ComponentState.RUNNING)
    response.status_code = 200 if healthy else 503
    return health
