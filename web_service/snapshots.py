"""The current value of each WebSocket topic the read model does not keep itself, read fresh from Redis
(orders, strategies, contracts, a contract's latest tick) or MySQL (recent history). Sent to a client when
it subscribes, before any change for that topic. (Positions, account and the status come from the read
model, web_service/live_cache.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

from common.db import Database
from web_service import history, risk_history
from web_service.history import TradeQuery
from web_service.live_state import LiveState

RECENT_ROWS = 50
RISK_BADGE_ROWS = 100  # the unacknowledged events the header badge knows by uid (the count covers all)
RECENT_EXECUTIONS = 20
PLAIN_TOPICS = frozenset(
    {"positions", "account", "orders", "trades", "strategies", "triggers", "system", "heartbeat", "contracts",
     "audit", "risk", "executions", "ai_state", "mcp_call"}
)  # (positions, account, heartbeat, ai_state and mcp_call are answered by the read model, live_cache.py)


class Snapshots:
    def __init__(self, live: LiveState, db: Database | None) -> None:
        self.live = live
        self.db = db

    async def _mysql(self, func: Any, *args: Any) -> Any:
        if self.db is None:
            return {"items": [], "error": "MySQL is not configured"}
        try:
            return await asyncio.to_thread(func, self.db, *args)
        except Exception as exc:
            return {"items": [], "error": f"MySQL unavailable: {type(exc).__name__}"}

    async def get(self, topic: str) -> Any:
        if topic.startswith("tick:"):
            tick = await self.live.latest_tick(topic[5:])
            return tick.model_dump() if tick else None
        if topic == "orders":
            return [o.model_dump() for o in await self.live.orders()]
        if topic == "strategies":
            return [s.model_dump() for s in await self.live.strategies()]
        if topic == "contracts":
            return [c.model_dump() for c in await self.live.contracts()]
        if topic == "trades":
            return (await self._mysql(history.trade_page, TradeQuery(page_size=RECENT_ROWS)))["items"]
        if topic == "triggers":
            return (await self._mysql(history.trigger_page, None, None, RECENT_ROWS))["items"]
        if topic == "system":
            return (await self._mysql(history.system_events, None, RECENT_ROWS))["items"]
        if topic == "audit":
            return (await self._mysql(history.command_audit_page, None, RECENT_ROWS))["items"]
        if topic == "risk":  # the header badge's baseline: GET /api/risk-events?unacked=1&page_size=100
            query = risk_history.RiskQuery(unacked=True, page_size=RISK_BADGE_ROWS)
            return await self._mysql(risk_history.risk_page, query)
        if topic == "executions":
            return (await self._mysql(risk_history.recent_executions, None, RECENT_EXECUTIONS))["items"]
        raise KeyError(topic)
