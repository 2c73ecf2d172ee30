"""JSON API of the AI page: the core's AI state with its age, the MCP tool calls, the orders the agent sent
(with its confidence and reason) and its performance beside the strategies'.

Behind login like every /api route; query values are strict (digits-only numbers, known windows) and an unknown
or repeated one is a 422 with a readable sentence (nothing is read then). The switch itself (a command) is
POST /api/ai/switch in web_service/api_commands.py.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from common.performance.ranges import market_now
from web_service import ai_history
from web_service.ai_schemas import AiOrderPage, AiPerformance, AiStateView, McpCallPage, McpCallRow
from web_service.auth import require_session
from web_service.errors import VALIDATION_RESPONSES, QueryInt, Refusal, refuse_unknown_query
from web_service.services import Svc
from web_service.settings import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX

router = APIRouter(prefix="/api/ai", tags=["AI trader"],
                   dependencies=[Depends(require_session), Depends(refuse_unknown_query)],
                   responses=VALIDATION_RESPONSES)
AI_STRATEGY = "ai"  # the strategy the AI's orders and its exit plans' closes are booked under (closed_positions.py)
CALLS_MAX = 500
Limit = Annotated[QueryInt, Query(ge=1, le=CALLS_MAX, description=f"rows, 1..{CALLS_MAX}")]
BeforeId = Annotated[QueryInt | None, Query(ge=1, description="next_before_id of the previous page")]
PageSize = Annotated[QueryInt, Query(ge=1, le=PAGE_SIZE_MAX, description=f"rows per page, at most {PAGE_SIZE_MAX}")]
Cursor = Annotated[str | None, Query(max_length=18, pattern=r"^[0-9]+$", description="next_cursor of the previous page")]
Window = Literal["daily", "weekly", "all"]


@router.get("/state", summary="The core's AI trading state (switch, live-account opt-in, limits, exit plans) and"
            " its age; known false when the core has not published one", response_model=AiStateView)
async def get_ai_state(svc: Svc) -> AiStateView:
    await svc.cache.read_ai_state()  # a Redis outage is the app's 503 naming Redis
    return AiStateView.model_validate(svc.cache.ai_view())


@router.get("/calls", summary="MCP tool calls, newest first (request masked; a long response is left out of the"
            " list: GET /api/ai/calls/{call_id})", response_model=McpCallPage)
async def get_calls(svc: Svc, limit: Limit = 50, before_id: BeforeId = None) -> McpCallPage:
    return McpCallPage.model_validate(await asyncio.to_thread(ai_history.call_page, svc.db, limit, before_id))


@router.get("/calls/{call_id}", summary="One MCP tool call with its whole response", response_model=McpCallRow,
            responses={404: {"description": "no tool call with this id"}})
async def get_call(svc: Svc, call_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> McpCallRow:
    row = await asyncio.to_thread(ai_history.call_by_id, svc.db, call_id)
    if row is None:
        raise Refusal(404, "ai_call_unknown", f"no tool call {call_id}", call_id=call_id)
    return McpCallRow.model_validate(row)


@router.get("/orders", summary="The orders the AI agent sent (and its exit plans' closes), newest first, with"
            " confidence, status, fill and the reason given in the tool call", response_model=AiOrderPage)
async def get_orders(svc: Svc, page_size: PageSize = PAGE_SIZE_DEFAULT, cursor: Cursor = None) -> AiOrderPage:
    page = await asyncio.to_thread(ai_history.order_page, svc.db, page_size, int(cursor) if cursor else None)
    return AiOrderPage.model_validate(page)


@router.get("/performance", summary="Win rate, profit factor, Sharpe, Sortino, drawdown, confidence and hold ratios"
            " of the AI agent and of every strategy with closes in the window", response_model=AiPerformance,
            responses={503: {"description": "the metrics module is not installed in this build"}})
async def get_performance(svc: Svc, window: Window = "daily") -> AiPerformance:
    try:
        from web_service.ai_metrics import metrics_by_strategy  # the MARKET part of issue 13
    except ImportError as exc:
        raise Refusal(503, "ai_metrics_missing", f"the AI performance metrics are not available: {exc}",
                      error=str(exc)) from exc

    def compute() -> AiPerformance:
        now = market_now(svc.db, svc.clock)
        return AiPerformance(window=window, as_of_ms=int(now.timestamp() * 1000), ai_strategy=AI_STRATEGY,
                             strategies=metrics_by_strategy(svc.db, window, now))

    return await asyncio.to_thread(compute)
