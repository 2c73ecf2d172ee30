"""Response models of the AI page's API (api_ai.py) and of the AI topics pushed over the WebSocket."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from common.contract import AiState
from web_service.schemas import Number, Page, Row

# ---------------------------------------------------------------- the AI trader (api_ai.py)


class AiStateView(BaseModel):
    """What the core says about AI trading (`arbig:state:ai`), and how old that is. `known` False: the key is
    absent (the core is not running, or is older than the AI trader) and nothing is known about AI trading."""

    known: bool
    state: AiState | None
    age_s: float | None = Field(description="seconds since the core wrote this state (it rewrites it every heartbeat)")
    stale: bool = Field(description="older than stale_after_s: the core stopped updating it")
    stale_after_s: float
    server_ms: int
    detail: str = Field(description="why the state is unknown or stale (English); empty when it is current")


class McpCallRow(Row):
    """One MCP tool call (mcp_tool_calls): `id` MySQL's (None when pushed live), `request` already masked,
    `response` None with `response_truncated` when it is too long for a list (GET /api/ai/calls/{call_id})."""

    id: int | None
    call_id: str
    tool: str
    status: str
    reason: str
    latency_ms: Number
    ts: str
    ts_ms: int
    client_request_id: str | None
    request: Any
    response: Any
    response_truncated: bool = False
    response_chars: int = 0


class McpCallPage(BaseModel):
    items: list[McpCallRow]
    next_before_id: int | None = Field(description="before_id of the next (older) page; None on the last page")
    limit: int


class AiOrderRow(Row):
    """An order the AI agent sent (orders.tool_call_id set), with the reason it gave in that tool call."""

    id: int
    gateway: str
    orderid: str
    vt_orderid: str
    trading_day: str
    symbol: str
    direction: str
    offset: str
    order_type: str
    price: Number
    volume: Number
    traded: Number
    status: str
    order_reason: str = Field(description="the broker's reason (a rejection)")
    exit_reason: str | None = Field(description="stop_loss | take_profit: a close the agent's exit plan sent")
    confidence: int | None
    tool_call_id: str
    tool: str | None = Field(description="the tool call's tool (None: the call is not on record)")
    reason: str | None = Field(description="the agent's reason, from the tool call's request")
    ts: str
    ts_ms: int


class AiOrderPage(Page):
    items: list[AiOrderRow]


class AiPerformance(BaseModel):
    """The AI agent's performance beside the strategies' (web_service/ai_metrics.py): every strategy with closes
    in the window, the AI's under `ai_strategy`, the operator's own under "(manual)"."""

    window: Literal["daily", "weekly", "all"]
    as_of_ms: int = Field(description="the market clock's now the window ends at")
    ai_strategy: str
    strategies: dict[str, dict[str, Any]] = Field(description="strategy -> its figures (ai_metrics.strategy_metrics)")
