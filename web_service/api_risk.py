"""JSON API for risk events and execution reports (issue 8): listing them, and acknowledging a risk event.

GET /api/risk-events and GET /api/executions are behind login. POST /api/risk-events/{uid}/ack is
behind login and CSRF like every state-changing route; it checks before anything is sent: a malformed
uid is a 422, an unknown one a 404, one already acknowledged a 409. Otherwise it sends the audited
command `risk.ack` through the same path as every other command (one push per command id, the core's
answer mapped to 200/409/422, no answer 503) and answers as POST /api/commands does.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Annotated, Literal

import pymysql
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from common.contract import COMMAND_ID_RE, Command, CommandType, RiskEventType
from web_service import risk_history
from web_service.auth import require_csrf, require_session
from web_service.command_schemas import CommandAnswer
from web_service.errors import VALIDATION_RESPONSES, QueryInt, refuse_unknown_query, validation_response
from web_service.history import BadCursor
from web_service.risk_history import RiskQuery
from web_service.schemas import AckRefused, Executions, RiskPage
from web_service.services import Services, Svc
from web_service.settings import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from web_service.shapes import iso_utc

log = logging.getLogger(__name__)
read = APIRouter(
    prefix="/api",
    tags=["risk"],
    dependencies=[Depends(require_session), Depends(refuse_unknown_query)],
    responses=VALIDATION_RESPONSES,
)
write = APIRouter(
    prefix="/api", tags=["risk"], dependencies=[Depends(require_csrf)], responses=VALIDATION_RESPONSES
)

UID_RE = re.compile(r"^[0-9a-f]{32}$", re.ASCII)
EXECUTION_ID = r"^[A-Za-z0-9_\-]{1,64}$"  # the command id of the request it follows up
EXECUTIONS_DEFAULT = 20
EXECUTIONS_MAX = 100
PageSize = Annotated[
    QueryInt, Query(ge=1, le=PAGE_SIZE_MAX, description=f"rows per page, at most {PAGE_SIZE_MAX}")
]
RiskCursor = Annotated[
    str | None,
    Query(
        max_length=40, pattern=r"^[0-9]{1,16}\.[0-9]{1,18}$", description="next_cursor of the previous page"
    ),
]
Flag = Annotated[
    Literal["0", "1", "true", "false"] | None, Query(description="1: only events not acknowledged yet")
]


@read.get(
    "/risk-events",
    summary="Risk events, newest first, keyset-paginated; with the count of unacknowledged"
    " events (the header badge)",
    response_model=RiskPage,
)
def get_risk_events(
    svc: Svc,
    unacked: Flag = None,
    type: Annotated[RiskEventType | None, Query(description="one type, e.g. CONSISTENCY_DRIFT")] = None,
    severity: Literal["INFO", "WARNING", "CRITICAL"] | None = None,
    cursor: RiskCursor = None,
    page_size: PageSize = PAGE_SIZE_DEFAULT,
) -> RiskPage:
    query = RiskQuery(
        unacked=unacked in ("1", "true"),
        type=type.value if type else None,
        severity=severity,
        page_size=page_size,
        cursor=cursor,
    )
    try:
        return RiskPage.model_validate(risk_history.risk_page(svc.db, query))
    except BadCursor as exc:
        raise HTTPException(422, str(exc)) from exc


@read.get(
    "/executions",
    summary="Execution reports of the orders the app follows up, grouped by execution"
    " (steps in order), the most recently active first",
    response_model=Executions,
)
def get_executions(
    svc: Svc,
    execution_id: Annotated[
        str | None, Query(max_length=64, pattern=EXECUTION_ID, description="only this execution")
    ] = None,
    limit: Annotated[
        QueryInt, Query(ge=1, le=EXECUTIONS_MAX, description="executions, at most 100")
    ] = EXECUTIONS_DEFAULT,
) -> Executions:
    return Executions.model_validate(risk_history.recent_executions(svc.db, execution_id, limit))


class AckRequest(BaseModel):
    """Optional body: the command id the page made when its confirmation opened (a retry re-sends it)."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str | None, Strict(), Field(max_length=64, pattern=COMMAND_ID_RE.pattern)] = None


def _acknowledged(by: str, at_ms: int | None, uid: str) -> JSONResponse:
    when = f" at {iso_utc(at_ms)}" if at_ms else ""
    detail = f"风险事件已被确认，未再发送 / risk event {uid} was already acknowledged by {by or 'the operator'}{when}; nothing sent"
    return JSONResponse(
        {"uid": uid, "status": "refused", "acknowledged_by": by, "acknowledged_ms": at_ms, "detail": detail},
        status_code=409,
    )


async def _known_state(svc: Services, uid: str) -> tuple[str, int | None] | None:
    """(acknowledged_by, acknowledged_ms) from MySQL or, for an event seen live whose row is not written yet
    (or an acknowledgement not stored yet), from the read model; None when neither knows the uid."""
    live = svc.cache.risk.seen(uid)
    try:
        row = await asyncio.to_thread(risk_history.risk_state, svc.db, uid)
    except pymysql.MySQLError as exc:
        if live is None:  # nothing to check against: do not send blind
            raise HTTPException(
                503,
                f"MySQL is unavailable ({type(exc).__name__}): cannot check that the risk event"
                " exists; nothing sent. Try again when MySQL answers.",
            ) from exc
        row = None  # seen live: acknowledged by the read model's knowledge alone
    if row is not None and row["acknowledged_ms"] is not None:
        return row["acknowledged_by"], row["acknowledged_ms"]
    if live is not None and live[1] is not None:
        return live
    if row is not None or live is not None:
        return "", None
    return None


@write.post(
    "/risk-events/{uid}/ack",
    summary="Acknowledge a risk event: sends the audited command risk.ack and waits for the core's answer",
    response_model=CommandAnswer,
    responses={409: {"model": AckRefused, "description": "already acknowledged (nothing sent), or the core refused"}},
)
async def post_ack(
    uid: Annotated[str, Path(max_length=64, description="the event's uid (32 hex digits)")],
    svc: Svc,
    body: AckRequest | None = None,
) -> JSONResponse:
    if not UID_RE.match(uid):
        raise HTTPException(
            422,
            "风险事件编号无效 / invalid risk event uid: it must be 32 lowercase hex digits"
            " (the uid of a row of GET /api/risk-events); nothing sent",
        )
    try:
        command = Command(
            id=(body.id if body and body.id else uuid.uuid4().hex),
            type=CommandType.RISK_ACK,
            params={"uid": uid},
            source="web",
            operator="operator",
            ttl_s=svc.web.config.core.command_ttl_s,
        )
    except ValidationError as exc:
        return validation_response(exc.errors(), "invalid risk.ack command, nothing sent")
    async with svc.cache.risk.ack_lock(uid):
        known = await _known_state(svc, uid)
        if known is None:
            raise HTTPException(404, f"没有这个风险事件 / no risk event with uid {uid}; nothing sent")
        if known[1] is not None:
            return _acknowledged(known[0], known[1], uid)
        outcome = await svc.commands.send(command)
        if outcome.http_status == 200:
            result = outcome.body.get("result") or {}
            at_ms = result.get("acknowledged_ms")
            svc.cache.risk.note_acknowledged(
                uid,
                str(result.get("acknowledged_by") or command.operator),
                at_ms if isinstance(at_ms, int) else command.issued_ms,
            )
        log.info("risk.ack %s: HTTP %s", uid, outcome.http_status)
    return JSONResponse(outcome.body, status_code=outcome.http_status)
