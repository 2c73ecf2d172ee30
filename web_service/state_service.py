"""The live-state queries behind /api/status, /api/market, /api/positions ... (web_service/api_state.py),
answered from the read model (web_service/live_cache.py) and the core's Redis state, as response models
(web_service/schemas.py). Routes take it as the `State` dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel

from common.contract import StrategyState
from web_service.live_cache import LiveCache
from web_service.live_state import LiveState
from web_service.schemas import (
    AccountView,
    Contracts,
    Market,
    OrderRow,
    PositionRow,
    Status,
    TickHistory,
)
from web_service.services import services


class NoAccount(LookupError):
    """The core has not published an account yet."""


class StateService:
    def __init__(self, cache: LiveCache, live: LiveState) -> None:
        self.cache = cache
        self.live = live

    async def status(self) -> Status:
        return Status.model_validate(await self.cache.current_status())

    async def market(self, symbol: str | None) -> Market:
        main = await self.cache.main_contract()
        symbol = symbol or main
        tick = await self.live.latest_tick(symbol)
        return Market(symbol=symbol, main_contract=main, tick=tick)

    async def ticks(self, symbol: str | None, limit: int) -> TickHistory:
        """The newest trading day's prices in the stream (at most `limit` ticks read)."""
        symbol = symbol or await self.cache.main_contract()
        ticks = await self.live.tick_history(symbol, limit)
        day = ticks[-1].trading_day if ticks else None
        points = [(t.ts_ms, t.last_price, t.volume) for t in ticks if t.trading_day == day and t.last_price > 0]
        return TickHistory(symbol=symbol, trading_day=day, columns=["ts_ms", "last_price", "volume"], points=points)

    async def positions(self) -> list[PositionRow]:
        return [PositionRow.model_validate(row) for row in await self.cache.read_positions()]

    async def orders(self, active_only: bool) -> list[BaseModel]:  # OrderRow
        return [OrderRow.model_validate(o.model_dump() | {"active": o.active}) for o in await self.live.orders()
                if o.active or not active_only]

    async def account(self) -> BaseModel:  # AccountView
        account = await self.cache.read_account()
        if account is None:
            raise NoAccount("the core has not published an account yet")
        return AccountView.model_validate(account)

    async def strategies(self) -> list[StrategyState]:
        return await self.live.strategies()

    async def contracts(self) -> Contracts:
        return Contracts(main_contract=await self.live.main_contract(), contracts=await self.live.contracts())


def state_service(request: Request) -> StateService:
    svc = services(request)
    return StateService(svc.cache, svc.live)


State = Annotated[StateService, Depends(state_service)]
