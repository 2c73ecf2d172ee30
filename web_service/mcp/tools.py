"""The five MCP tools as the agent sees them: names, typed parameters (the SDK derives each input schema from
these hints), descriptions, annotations and structured answers. The work is elsewhere: tools_account.py,
tools_trade.py, and the MARKET helper's web_service/mcp_market.py and web_service/ai_metrics.py.

Numbers are strict (a JSON integer for lots and confidence: no 1.0, no "1", no true) and bounded in the schema;
an argument outside it is refused by the SDK's validation before the tool runs, which the server turns into a
structured refusal {status: "refused", code: "invalid_input", reason} and records like any call.

(No `from __future__ import annotations` here: the SDK reads the tools' hints at registration, and a
description names a configured limit.)
"""

import asyncio
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pymysql
import redis
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, Strict

from common.contract.ai import ExitPlan
from web_service.mcp.calls import CurrentCall, current_call
from web_service.mcp.tools_account import AccountStateAnswer, account_state
from web_service.mcp.tools_trade import TradeAnswer

if TYPE_CHECKING:
    from web_service.mcp.server import ArbigMcpServer, McpEndpoint

Symbol = Annotated[str, Strict(), Field(pattern=r"^[a-z]{1,2}\d{4}$", max_length=8,
                                        description="contract code, e.g. au2702")]
Direction = Literal["long", "short"]
Price = Annotated[float, Strict(), Field(gt=0, le=1_000_000.0, allow_inf_nan=False, description="CNY per gram")]

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
TRADING = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)
EXIT_PLAN = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


def as_answer(call: CurrentCall, value: Any) -> dict[str, Any]:
    """A helper's answer as this tool's structured content (with the call id, and status ok unless it says)."""
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else dict(value)
    return {"status": "ok", "call_id": call.call_id} | data


def failed(call: CurrentCall, code: str, reason: str) -> dict[str, Any]:
    return {"status": "failed", "call_id": call.call_id, "code": code, "reason": reason}


def refused(call: CurrentCall, code: str, reason: str) -> dict[str, Any]:
    return {"status": "refused", "call_id": call.call_id, "code": code, "reason": reason}


def register_tools(server: "ArbigMcpServer", endpoint: "McpEndpoint") -> None:
    limits = endpoint.web.config.ai

    @server.tool(title="Account state", annotations=READ_ONLY)
    async def get_account_state() -> AccountStateAnswer:
        """The account (balance, available, margin, commission, realized and unrealized PnL, in CNY), open
        positions (direction, lots, yesterday's/today's lots, average open price, live PnL, margin, exit plan,
        opened at, average confidence), pending orders, trading day, gateway state, the AI trading switch and
        limits, and how fresh each figure is. Unknown or stale parts are None and explained in `notes`."""
        return await account_state(endpoint.services(), current_call())

    @server.tool(title="Market data", annotations=READ_ONLY)
    async def get_market_data(
        symbol: Annotated[Symbol | None, Field(description="contract code; omitted: the main contract")] = None,
        timeframe: Literal["1m", "5m", "15m", "1h", "1d"] = "5m",
        count: Annotated[int, Strict(), Field(ge=1, le=500, description="how many bars, newest last")] = 100,
    ) -> dict[str, Any]:
        """The latest tick (bid/ask/last, volume, open interest, daily limits) and the newest `count` bars of
        `timeframe` with EMA20, EMA50, MACD (line/signal/hist), RSI7, RSI14, ATR and open interest, computed
        from the core's recorded ticks and bars."""
        call = current_call()
        try:
            from web_service.mcp_market import market_data
        except ModuleNotFoundError as exc:
            if exc.name != "web_service.mcp_market":
                raise
            return failed(call, "not_available", "market data is not available in this version")
        try:
            return as_answer(call, await market_data(endpoint.services(), symbol, timeframe, count, call.call_id))
        except ValueError as exc:
            return refused(call, "invalid_input", f"invalid input: {exc}")
        except redis.RedisError as exc:
            return failed(call, "redis_unavailable", f"Redis unavailable ({type(exc).__name__}): no market data now")

    @server.tool(title="Performance metrics", annotations=READ_ONLY)
    async def get_performance_metrics(window: Literal["daily", "weekly", "all"] = "all") -> dict[str, Any]:
        """Your trading results over the window: win rate, profit factor, Sharpe, Sortino, max drawdown, biggest
        win and loss, average confidence, time spent long/short/flat."""
        call = current_call()
        try:
            from web_service.ai_metrics import performance_metrics
        except ModuleNotFoundError as exc:
            if exc.name != "web_service.ai_metrics":
                raise
            return failed(call, "not_available", "performance metrics are not available in this version")
        from common.performance.ranges import market_now

        svc = endpoint.services()

        def work() -> Any:
            return performance_metrics(svc.db, window, market_now(svc.db, svc.clock), call.call_id)

        try:
            return as_answer(call, await asyncio.to_thread(work))
        except ValueError as exc:
            return refused(call, "invalid_input", f"invalid input: {exc}")
        except pymysql.MySQLError as exc:
            return failed(call, "mysql_unavailable", f"MySQL unavailable ({type(exc).__name__}): no metrics now")

    @server.tool(title="Execute a trade", annotations=TRADING)
    async def execute_trade(
        action: Annotated[Literal["open", "close"], Field(description="open a new position or close one")],
        direction: Annotated[Direction, Field(description="the position's direction: open long buys, close long"
                                                          " sells, open short sells, close short buys")],
        volume: Annotated[int, Strict(), Field(ge=1, le=1000, description=(
            f"lots (1 lot = 1000 g); the server refuses more than {limits.max_lots_per_order} per order"
            " (ai.limits in get_account_state)"))],
        confidence: Annotated[int, Strict(), Field(ge=0, le=100, description="how sure you are, 0-100")],
        reason: Annotated[str, Strict(), Field(min_length=1, max_length=1000, description="why, in a sentence")],
        order_type: Annotated[Literal["limit", "marketable"], Field(description=(
            "marketable: a limit at the opposite best price plus a few ticks, within the daily limits (SHFE has"
            " no market orders); limit: at `price`"))] = "marketable",
        price: Annotated[Price | None, Field(description="limit price (required for a limit order)")] = None,
        exit_plan: Annotated[ExitPlan | None, Field(description=(
            "stop loss / take profit the core enforces on the position once open"))] = None,
        preview: Annotated[bool, Strict(), Field(description=(
            "true: answer the exact order(s) the core would send (offsets, price, margin, commission, limits"
            " checked) and send nothing"))] = False,
        client_request_id: Annotated[str | None, Strict(), Field(min_length=1, max_length=64, description=(
            "your idempotency key: a repeat returns the first call's answer instead of trading again"))] = None,
        symbol: Annotated[Symbol | None, Field(description="contract; omitted: the main contract (the only one"
                                                           " the agent may trade)")] = None,
    ) -> TradeAnswer:
        """Open or close a position on the main contract, with your confidence and reason (stored with the
        orders). Closes are split into close-today / close-yesterday as SHFE needs. Refused, with a code and
        reason, when AI trading is off, a limit would be passed, the market is closed, margin is short, or the
        input is invalid."""
        trade = {"action": action, "direction": direction, "volume": volume, "order_type": order_type,
                 "price": price, "confidence": confidence, "reason": reason, "exit_plan": exit_plan,
                 "symbol": symbol}
        return await endpoint.desk.execute_trade(current_call(), trade, preview, client_request_id)

    @server.tool(title="Update an exit plan", annotations=EXIT_PLAN)
    async def update_exit_plan(
        symbol: Symbol,
        direction: Annotated[Direction, Field(description="the open position's direction")],
        stop_loss: Annotated[Price | None, Field(description=(
            "close when the last price crosses it against you (long: at or below, short: at or above)"))] = None,
        take_profit: Annotated[Price | None, Field(description="close when the last price reaches it")] = None,
        invalidation: Annotated[str | None, Strict(), Field(max_length=500, description=(
            "what would prove the idea wrong (stored and shown, not enforced)"))] = None,
    ) -> TradeAnswer:
        """Set the exit plan of an open position (every level omitted: clear it). The core closes the position
        when the last price crosses a level, recorded with that exit reason."""
        plan = {"symbol": symbol, "direction": direction, "stop_loss": stop_loss, "take_profit": take_profit,
                "invalidation": invalidation}
        return await endpoint.desk.update_exit_plan(current_call(), plan)
