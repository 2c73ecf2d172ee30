"""JSON API for strategy trigger statistics (web_service/trigger_stats.py): per strategy and trading day,
signals by action and result, fill ratio and average slippage against the trigger price.

GET /api/triggers/stats?days=N&strategy=NAME is behind login; bad or unknown parameters are a 422 with
one readable sentence (nothing is read then).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from web_service import trigger_stats
from web_service.auth import require_session
from web_service.errors import VALIDATION_RESPONSES, QueryInt, refuse_unknown_query
from web_service.schemas import TriggerStats
from web_service.services import Svc

router = APIRouter(
    prefix="/api",
    tags=["history"],
    dependencies=[Depends(require_session), Depends(refuse_unknown_query)],
    responses=VALIDATION_RESPONSES,
)
Days = Annotated[
    QueryInt,
    Query(ge=1, le=trigger_stats.MAX_DAYS,
          description=f"the last N SHFE trading days, ending with the current one (1..{trigger_stats.MAX_DAYS})"),
]
StrategyName = Annotated[
    str | None,
    Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$", description="only this strategy"),
]


@router.get(
    "/triggers/stats",
    summary="Trigger statistics per strategy and trading day: signals by action and result (success, failed,"
    " pending, refused), pos_sync apart, fill ratio, average slippage against the trigger price",
    response_model=TriggerStats,
)
async def get_trigger_stats(svc: Svc, days: Days = trigger_stats.DEFAULT_DAYS,
                            strategy: StrategyName = None) -> TriggerStats:
    stats = await asyncio.to_thread(trigger_stats.trigger_stats, svc.db, days, strategy, None, svc.clock)
    return TriggerStats.model_validate(stats)
