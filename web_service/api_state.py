"""JSON API for the live state: status, market, positions, orders, account, strategies, contracts.

Query values are strict (digits-only numbers, patterned symbols); unknown or repeated ones are a 422."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from web_service.auth import LoggedIn, require_session
from web_service.errors import VALIDATION_RESPONSES, QueryInt, refuse_unknown_query
from web_service.live_state import build_status
from web_service.services import Services, Svc

router = APIRouter(prefix="/api", tags=["live state"], dependencies=[Depends(require_session), Depends(refuse_unknown_query)],
                   responses=VALIDATION_RESPONSES)
SYMBOL = r"^[A-Za-z]{1,2}\d{3,4}$"
TICK_HISTORY_MAX = 20_000


@router.get("/session", summary="The current session's CSRF token (send it as X-CSRF-Token)")
async def get_session(session: LoggedIn) -> dict[str, Any]:
    return {"operator": "operator", "csrf_token": session.csrf, "created_ms": session.created_ms}


@router.get("/status", summary="Core alive, gateway, Redis, MySQL, last tick age, stale flag")
async def get_status(svc: Svc) -> dict[str, Any]:
    redis_ok = await svc.live.redis_ok()
    heartbeat = main = None
    if redis_ok:
        heartbeat, main = await svc.live.heartbeat(), await svc.live.main_contract()
    last = svc.hub.last_prices.get(main.symbol if main else svc.hub.main_symbol)
    if last is None and redis_ok:
        tick = await svc.live.latest_tick(main.symbol if main else svc.hub.main_symbol)
        last = (tick.last_price, int(tick.local_ts * 1000)) if tick else None
    return build_status(
        heartbeat, redis_ok, svc.hub.mysql_ok, last[1] if last else None, svc.web.config.web.stale_after_s, main,
        redis_down_since_ms=svc.live.redis_down_since_ms, mysql_down_since_ms=svc.db.down_since_ms,
    )


async def _main_symbol(svc: Services) -> str:
    main = await svc.live.main_contract()
    return main.symbol if main else svc.hub.main_symbol


@router.get("/market", summary="Latest tick of a contract (default: the main contract)")
async def get_market(svc: Svc, symbol: Annotated[str | None, Query(pattern=SYMBOL)] = None) -> dict[str, Any]:
    main = await _main_symbol(svc)
    symbol = symbol or main
    tick = await svc.live.latest_tick(symbol)
    return {"symbol": symbol, "main_contract": main, "tick": tick.model_dump() if tick else None}


@router.get("/market/ticks", summary="Intraday prices from the tick stream: [ts_ms, last_price, volume]")
async def get_ticks(
    svc: Svc,
    symbol: Annotated[str | None, Query(pattern=SYMBOL)] = None,
    limit: Annotated[QueryInt, Query(ge=1, le=TICK_HISTORY_MAX)] = TICK_HISTORY_MAX,
) -> dict[str, Any]:
    symbol = symbol or await _main_symbol(svc)
    ticks = await svc.live.tick_history(symbol, limit)
    day = ticks[-1].trading_day if ticks else None
    points = [[t.ts_ms, t.last_price, t.volume] for t in ticks if t.trading_day == day and t.last_price > 0]
    return {"symbol": symbol, "trading_day": day, "columns": ["ts_ms", "last_price", "volume"], "points": points}


@router.get("/positions", summary="Open positions with live PnL ((last - average) x volume x multiplier)")
async def get_positions(svc: Svc) -> list[dict[str, Any]]:
    return await svc.hub.snapshots.position_rows(svc.hub.last_prices)


@router.get("/orders", summary="Today's orders (newest first)")
async def get_orders(svc: Svc, active_only: bool = False) -> list[dict[str, Any]]:
    orders = await svc.live.orders()
    return [o.model_dump() | {"active": o.active} for o in orders if o.active or not active_only]


@router.get("/account", summary="Account with live unrealized PnL and live balance")
async def get_account(svc: Svc) -> dict[str, Any]:
    account = await svc.hub.snapshots.account(svc.hub.last_prices)
    if account is None:
        raise HTTPException(404, "the core has not published an account yet")
    return account


@router.get("/strategies", summary="Strategies with class, contract, parameters, variables and state")
async def get_strategies(svc: Svc) -> list[dict[str, Any]]:
    return [s.model_dump() for s in await svc.live.strategies()]


@router.get("/contracts", summary="Contracts the gateway knows, and the main contract")
async def get_contracts(svc: Svc) -> dict[str, Any]:
    main = await svc.live.main_contract()
    contracts = [c.model_dump() for c in await svc.live.contracts()]
    return {"main_contract": main.model_dump() if main else None, "contracts": contracts}

