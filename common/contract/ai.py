"""The AI trader's side of the contract: its commands' parameters, its exit plans and the AI state the
core publishes (`arbig:state:ai`, event type "ai_state").

An AI agent reaches ARBIG through the web service's MCP tools (web_service/mcp/); the tools turn a trade
into an `ai.trade` command (or `ai.preview`, read only) and an exit plan into `ai.exit_plan`, sent through
the same command path as the web page. The core (core_service/ai_desk.py) holds everything the agent may
not change: the on/off switch (`ai.switch`, the operator's only, never sent by a tool), the live-account
opt-in and the server-side limits.

Orders the AI sends carry the reference `ARBIG_ai:{tool_call_id}:{confidence}`; the closes an exit plan
triggers carry `ARBIG_exit:{reason}:{tool_call_id}` (reason stop_loss | take_profit). The recorder
reads confidence and tool_call_id back from the reference (`parse_ai_reference`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, model_validator

from common.contract.messages import Message, now_ms

AI_REFERENCE = "ARBIG_ai"
EXIT_REFERENCE = "ARBIG_exit"
TOOL_CALL_ID_PATTERN = r"^[0-9a-f]{32}$"
ExitReason = Literal["stop_loss", "take_profit"]

ToolCallId = Annotated[str, Strict(), Field(pattern=TOOL_CALL_ID_PATTERN)]
Confidence = Annotated[int, Strict(), Field(ge=0, le=100)]
AiPrice = Annotated[float, Strict(), Field(gt=0, le=1_000_000.0, allow_inf_nan=False)]
Text = Annotated[str, Strict(), Field(min_length=1, max_length=1000)]


class ExitPlan(Message):
    """Where the agent wants out: the core closes the position when the last price crosses a level
    (LONG: last <= stop_loss or last >= take_profit; SHORT the other way). `invalidation` is the agent's
    own words (what would prove the idea wrong), stored and shown, not enforced."""

    stop_loss: AiPrice | None = None
    take_profit: AiPrice | None = None
    invalidation: Annotated[str, Strict(), Field(max_length=500)] | None = None


class AiTradeParams(Message):
    """One trade of the agent (`ai.trade`, or `ai.preview` for the dry run).

    `direction` is the position's: open long buys, close long sells. `marketable` is a limit at the
    opposite best price plus a few ticks, clamped to the daily limits (SHFE has no market orders).
    `symbol` None: the main contract (any other is refused)."""

    action: Literal["open", "close"]
    direction: Literal["long", "short"]
    volume: Annotated[int, Strict(), Field(ge=1, le=1000)]
    order_type: Literal["limit", "marketable"] = "marketable"
    price: AiPrice | None = None
    confidence: Confidence
    reason: Text
    exit_plan: ExitPlan | None = None
    symbol: Annotated[str, Strict(), Field(max_length=8, pattern=r"^[a-z]{1,2}\d{4}$")] | None = None
    tool_call_id: ToolCallId
    client_request_id: Annotated[str, Strict(), Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _price_for_limit(self) -> AiTradeParams:
        if self.order_type == "limit" and self.price is None:
            raise ValueError("price is required when order_type is limit")
        return self


class AiExitPlanParams(Message):
    """`ai.exit_plan`: set (or with every level None, clear) the plan of an open position."""

    symbol: Annotated[str, Strict(), Field(max_length=8, pattern=r"^[a-z]{1,2}\d{4}$")]
    direction: Literal["long", "short"]
    stop_loss: AiPrice | None = None
    take_profit: AiPrice | None = None
    invalidation: Annotated[str, Strict(), Field(max_length=500)] | None = None
    tool_call_id: ToolCallId


class AiSwitchParams(Message):
    """`ai.switch`: the operator turns AI trading on or off (system page; never reachable from a tool)."""

    enabled: Annotated[bool, Strict()]
    reason: Annotated[str, Strict(), Field(max_length=200)] = ""


class AiLimits(Message):
    """The server-side limits (config `ai`), as the core enforces them."""

    max_lots_per_order: int
    max_position_lots: int
    max_orders_per_minute: int
    max_daily_loss: float
    require_exit_plan: bool


class ExitPlanState(Message):
    """An exit plan in force on an open position."""

    vt_symbol: str
    direction: Literal["LONG", "SHORT"]
    stop_loss: float | None = None
    take_profit: float | None = None
    invalidation: str | None = None
    tool_call_id: str = ""
    set_ms: int
    triggered: ExitReason | None = None  # the close was sent for this reason (the plan goes when flat)


class AiState(Message):
    """What the core says about AI trading (`arbig:state:ai`, pushed as event "ai_state" on change)."""

    enabled: bool  # the operator's switch (and the daily-loss limit's) says trades may go
    reason: str = ""  # why it is off (operator, daily loss limit, ...)
    changed_ms: int = Field(default_factory=now_ms)
    gateway: str
    live_account: bool  # the gateway is a real broker (CTP)
    live_trading_allowed: bool  # config ai.live_trading (needed on a live account)
    limits: AiLimits
    day_pnl: float = 0.0  # the account's PnL today (realized + position profit - commission)
    orders_last_minute: int = 0
    exit_plans: list[ExitPlanState] = []
    ts_ms: int = Field(default_factory=now_ms)


def ai_reference(tool_call_id: str, confidence: int) -> str:
    return f"{AI_REFERENCE}:{tool_call_id}:{confidence}"


def exit_reference(reason: str, tool_call_id: str) -> str:
    return f"{EXIT_REFERENCE}:{reason}:{tool_call_id}"


def parse_ai_reference(reference: str | None) -> tuple[int | None, str | None]:
    """(confidence, tool_call_id) of an AI order's reference; an exit-plan close carries the plan's
    tool call and no confidence; any other reference (None, None)."""
    parts = (reference or "").split(":")
    if len(parts) == 3 and parts[0] == AI_REFERENCE and parts[2].isdigit():
        return int(parts[2]), parts[1]
    if len(parts) == 3 and parts[0] == EXIT_REFERENCE:
        return None, parts[2] or None
    return None, None
