"""JSON API for the live state: status, market, positions, orders, account, strategies, contracts.

Each route parses its query and asks the live-state service (web_service/state_service.py), which answers
from the read model both this API and the WebSocket read. Query values are strict (digits-only numbers,
patterned symbols); unknown or repeated ones are a 422."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from common.contract import StrategyState
from web_service.auth import LoggedIn, require_session
from web_service.errors import VALIDATION_RESPONSES, QueryInt, refuse_unknown_query
from web_service.schemas import (
    AccountView,
    Contracts,
    Market,
    OrderRow,
    PositionRow,
    SessionInfo,
    Status,
    TickHistory,
)
from web_service.state_service import NoAccount, State

router = APIRouter(prefix="/api", tags=["live state"], dependencies=[Depends(require_session), Depends(refuse_unknown_query)],
                   responses=VALIDATION_RESPONSES)
SYMBOL = r"^[A-Za-z]{1,2}\d{3,4}$"
TICK_HISTORY_MAX = 20_000


@router.get("/session", summary="The current session's CSRF token (send it as X-CSRF-Token)", response_model=SessionInfo)
async def get_session(session: LoggedIn) -> SessionInfo:
    return SessionInfo(operator="operator", csrf_token=session.csrf, created_ms=session.created_ms)


@router.get("/status", summary="Core alive, gateway, Redis, MySQL, last tick age, stale flag", response_model=Status)
async def get_status(state: State) -> Status:
    return await state.status()


@router.get("/market", summary="Latest tick of a contract (default: the main contract)", response_model=Market)
async def get_market(state: State, symbol: Annotated[str | None, Query(pattern=SYMBOL)] = None) -> Market:
    return await state.market(symbol)


@router.get("/market/ticks", summary="Intraday prices from the tick stream: [ts_ms, last_price, volume]",
            response_model=TickHistory)
async def get_ticks(
    state: State,
    symbol: Annotated[str | None, Query(pattern=SYMBOL)] = None,
    limit: Annotated[QueryInt, Query(ge=1, le=TICK_HISTORY_MAX)] = TICK_HISTORY_MAX,
) -> TickHistory:
    return await state.ticks(symbol, limit)


@router.get("/positions", summary="Open positions with live PnL ((last - average) x volume x multiplier)",
            response_model=list[PositionRow])
async def get_positions(state: State) -> list[PositionRow]:
    return await state.positions()


@router.get("/orders", summary="Today's orders (newest first)", response_model=list[OrderRow])
async def get_orders(state: State, active_only: bool = False) -> list[BaseModel]:
    return await state.orders(active_only)


@router.get("/account", summary="Account with live unrealized PnL and live balance", response_model=AccountView,
            responses={404: {"description": "the core has not published an account yet"}})
async def get_account(state: State) -> BaseModel:
    try:
        return await state.account()
    except NoAccount as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/strategies", summary="Strategies with class, contract, parameters, variables and state",
            response_model=list[StrategyState])
async def get_strategies(state: State) -> list[StrategyState]:
    return await state.strategies()


@router.get("/contracts", summary="Contracts the gateway knows, and the main contract", response_model=Contracts)
async def get_contracts(state: State) -> Contracts:
    return await state.contracts()
