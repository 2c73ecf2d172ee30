"""JSON API for 1-minute candles built from the recorded ticks (web_service/bars.py): GET /api/bars.

Login required; strict query (patterned symbol, digits-only minutes in range, no unknown names): a bad
one is a 422 and reads nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from web_service import bars
from web_service.auth import require_session
from web_service.errors import VALIDATION_RESPONSES, QueryInt, refuse_unknown_query
from web_service.schemas import Bars
from web_service.services import Svc

router = APIRouter(prefix="/api", tags=["live state"], dependencies=[Depends(require_session), Depends(refuse_unknown_query)],
                   responses=VALIDATION_RESPONSES)
SYMBOL = r"^[A-Za-z]{1,2}\d{3,4}$"
MINUTES_DEFAULT = 240
MINUTES_MAX = 1440  # one day; the stream's length (redis.tick_maxlen ticks) bounds it too
COLUMNS = ["ts_ms", "open", "high", "low", "close", "volume"]


@router.get("/bars", summary="1-minute OHLCV candles of a contract, built from its recorded ticks", response_model=Bars)
async def get_bars(
    request: Request,
    svc: Svc,
    symbol: Annotated[str | None, Query(pattern=SYMBOL, description="contract, e.g. au2606 (default: the main contract)")] = None,
    minutes: Annotated[QueryInt, Query(ge=1, le=MINUTES_MAX, description="the last N minutes up to the newest tick")] = MINUTES_DEFAULT,
) -> Bars:
    """`bars`: rows of `columns`; `ts_ms` is the minute's start (exchange time, epoch ms UTC), `volume` what
    traded in that minute. `last_tick`: the newest tick's time, cumulative volume and trading day, from which
    live ticks continue the last candle (same rules: see web_service/bars.py)."""
    symbol = symbol or await svc.cache.main_contract()
    points = await svc.ticks.points(svc.live.redis, svc.web.keys.tick_stream(symbol))
    answer = {"symbol": symbol, "minutes": minutes, "interval_s": 60, "columns": COLUMNS}
    return Bars.model_validate(answer | bars.minute_bars(points, minutes))
