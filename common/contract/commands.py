"""Operator commands: types, strict parameter shapes, the command, its reply and its audit row."""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, Strict, ValidationInfo, field_validator, model_validator

from common.contract.ai import AiExitPlanParams, AiSwitchParams, AiTradeParams
from common.contract.messages import Message, now_ms

COMMAND_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


class CommandType(StrEnum):
    STRATEGY_INIT = "strategy.init"
    STRATEGY_START = "strategy.start"
    STRATEGY_STOP = "strategy.stop"
    POSITION_CLOSE = "position.close"
    ORDER_CANCEL = "order.cancel"
    EMERGENCY_STOP = "emergency.stop"
    CONTRACT_SWITCH = "contract.switch"
    RISK_ACK = "risk.ack"  # the operator acknowledges a risk event
    SYNC_CHECK = "sync.check"  # our records vs the broker's positions, and what a sync would change (read only)
    SYNC_APPLY = "sync.apply"  # apply what sync.check reports
    ORDER_DIAGNOSE = "order.diagnose"  # PASS/FAIL checks: why an order would fail now (read only)
    DRILL_EXTERNAL_CLOSE = "drill.external_close"  # sim only: the exchange closes a position behind our back
    ORDER_SEND = "order.send"  # the order ticket: open or close by hand
    ORDER_PREVIEW = "order.preview"  # what order.send would send, cost and closable volume (read only)
    POSITIONS_FLATTEN = "positions.flatten"  # close every position the operator confirmed (after an emergency stop)
    AI_TRADE = "ai.trade"  # the AI agent's trade (MCP execute_trade), checked against the AI limits
    AI_PREVIEW = "ai.preview"  # what ai.trade would send, with every refusal (read only)
    AI_EXIT_PLAN = "ai.exit_plan"  # set the exit plan of an open position (MCP update_exit_plan)
    AI_SWITCH = "ai.switch"  # the operator turns AI trading on/off (system page; never from a tool)


# Commands that change nothing: answered, never audited in MySQL (a dry run writes nothing).
READ_ONLY_COMMANDS = frozenset({CommandType.SYNC_CHECK, CommandType.ORDER_DIAGNOSE, CommandType.ORDER_PREVIEW,
                                CommandType.AI_PREVIEW})
# Commands an MCP tool may send (web_service/mcp/); everything else is the operator's.
AI_TOOL_COMMANDS = frozenset({CommandType.AI_TRADE, CommandType.AI_PREVIEW, CommandType.AI_EXIT_PLAN})


# Strict shapes for everything an operator sends (web, CLI, raw Redis): no bool -> int, no 1.0 lots,
# no numeric strings, no NaN/inf, bounded strings and containers, unknown fields refused.
PRICE_MAX = 1_000_000.0  # far above any SHFE price; stops 1e300 from reaching the gateway
NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
Lots = Annotated[int, Strict(), Field(ge=1, le=1000, description="whole lots, 1..1000 (JSON integer)")]
Price = Annotated[float, Strict(), Field(gt=0, le=PRICE_MAX, allow_inf_nan=False, description="finite, > 0")]
Name = Annotated[str, Strict(), Field(min_length=1, max_length=64, pattern=NO_CONTROL)]


class StrategyParams(Message):
    name: Name


class ClosePositionParams(Message):
    vt_symbol: Annotated[str, Strict(), Field(max_length=32, pattern=r"^[A-Za-z]{1,2}\d{3,4}\.[A-Z]+$")]
    direction: Literal["LONG", "SHORT"]  # the direction of the position to close
    volume: Lots
    price_type: Literal["LIMIT", "MARKET"] = "MARKET"
    price: Price | None = None
    # a LIMIT close followed up like a MARKET one (timeout -> cancel -> reprice -> retry, see
    # ExecutionConfig); a MARKET close is always followed up
    chase: Annotated[bool, Strict()] = False
    # stop the running strategies that trade this contract before the close is sent
    stop_strategies: Annotated[bool, Strict()] = False

    @model_validator(mode="after")
    def _price_for_limit(self) -> ClosePositionParams:
        if self.price_type == "LIMIT" and self.price is None:
            raise ValueError("price is required when price_type is LIMIT")
        return self


class CancelOrderParams(Message):
    vt_orderid: Annotated[str, Strict(), Field(min_length=1, max_length=128, pattern=NO_CONTROL)]


class EmptyParams(Message):
    pass


class SwitchContractParams(Message):
    symbol: Annotated[str, Strict(), Field(max_length=8, pattern=r"^[a-z]{1,2}\d{4}$")]


class RiskAckParams(Message):
    uid: Annotated[str, Strict(), Field(pattern=r"^[0-9a-f]{32}$")]


VtSymbol = Annotated[str, Strict(), Field(max_length=32, pattern=r"^[A-Za-z]{1,2}\d{3,4}\.[A-Z]+$")]


class DiagnoseParams(Message):
    vt_symbol: VtSymbol
    side: Literal["BUY", "SELL"]
    offset: Literal["OPEN", "CLOSE", "CLOSETODAY", "CLOSEYESTERDAY"] = "OPEN"
    volume: Lots = 1
    price: Price | None = None  # None: the marketable price (best opposite quote)


class DrillExternalCloseParams(Message):
    vt_symbol: VtSymbol
    direction: Literal["LONG", "SHORT"]  # the position the exchange closes
    volume: Lots


class OrderSendParams(Message):
    """The order ticket: one order as the operator means it; the core splits a CLOSE into
    close-today / close-yesterday where the exchange needs it (order.preview shows the split)."""

    vt_symbol: VtSymbol
    direction: Literal["LONG", "SHORT"]  # the order's side: LONG buys, SHORT sells
    offset: Literal["OPEN", "CLOSE", "CLOSETODAY", "CLOSEYESTERDAY"]
    volume: Lots
    price_type: Literal["LIMIT", "MARKET"] = "LIMIT"  # MARKET: marketable limit at the opposite best +- a few ticks
    price: Price | None = None
    stop_strategies: Annotated[bool, Strict()] = False  # stop the running strategies on this contract first
    chase: Annotated[bool, Strict()] = False  # follow a LIMIT up like a MARKET (timeout, reprice, retry)

    @model_validator(mode="after")
    def _price_for_limit(self) -> OrderSendParams:
        if self.price_type == "LIMIT" and self.price is None:
            raise ValueError("price is required when price_type is LIMIT")
        return self


class FlattenLeg(Message):
    vt_symbol: VtSymbol
    direction: Literal["LONG", "SHORT"]  # the position to close
    volume: Lots


class FlattenParams(Message):
    """Close every position; `expect` is the list the operator confirmed: if the positions differ
    from it the core refuses and sends nothing (what is sent is exactly what was shown)."""

    expect: list[FlattenLeg] = Field(max_length=50)


PARAMS_MODEL: dict[CommandType, type[Message]] = {
    CommandType.STRATEGY_INIT: StrategyParams,
    CommandType.STRATEGY_START: StrategyParams,
    CommandType.STRATEGY_STOP: StrategyParams,
    CommandType.POSITION_CLOSE: ClosePositionParams,
    CommandType.ORDER_CANCEL: CancelOrderParams,
    CommandType.EMERGENCY_STOP: EmptyParams,
    CommandType.CONTRACT_SWITCH: SwitchContractParams,
    CommandType.RISK_ACK: RiskAckParams,
    CommandType.SYNC_CHECK: EmptyParams,
    CommandType.SYNC_APPLY: EmptyParams,
    CommandType.ORDER_DIAGNOSE: DiagnoseParams,
    CommandType.DRILL_EXTERNAL_CLOSE: DrillExternalCloseParams,
    CommandType.ORDER_SEND: OrderSendParams,
    CommandType.ORDER_PREVIEW: OrderSendParams,
    CommandType.POSITIONS_FLATTEN: FlattenParams,
    CommandType.AI_TRADE: AiTradeParams,
    CommandType.AI_PREVIEW: AiTradeParams,
    CommandType.AI_EXIT_PLAN: AiExitPlanParams,
    CommandType.AI_SWITCH: AiSwitchParams,
}
PARAMS_MAX_KEYS = 16


class Command(Message):
    """An operator command. Refused by the core once older than its ttl.

    `params` stays a plain object on the wire; it is checked strictly against the type's model
    (errors are located under `params`)."""

    id: Annotated[str, Strict(), Field(default_factory=lambda: uuid.uuid4().hex, max_length=64)]
    type: CommandType
    params: dict[str, Any] = Field(default={}, max_length=PARAMS_MAX_KEYS)
    issued_ms: Annotated[int, Strict(), Field(default_factory=now_ms, ge=0, le=10**14)]
    ttl_s: Annotated[float, Strict(), Field(5.0, gt=0, le=60, allow_inf_nan=False)]
    source: Annotated[str, Strict(), Field("cli", max_length=32)]
    operator: Annotated[str, Strict(), Field("operator", max_length=64)]

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not COMMAND_ID_RE.match(value):
            raise ValueError("command id must be 8-64 letters, digits, '-' or '_'")
        return value

    @field_validator("params")
    @classmethod
    def _check_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("type")
        if kind is not None:  # a bad type is reported on its own
            PARAMS_MODEL[kind].model_validate(value)
        return value

    def typed_params(self) -> Any:
        return PARAMS_MODEL[self.type].model_validate(self.params)

    def age_s(self, at_ms: int | None = None) -> float:
        return ((at_ms or now_ms()) - self.issued_ms) / 1000.0


class CommandStatus(StrEnum):
    DONE = "done"
    REFUSED = "refused"  # not executed: expired, duplicate, invalid, not allowed now
    FAILED = "failed"  # tried, and the gateway or engine said no


class CommandReply(Message):
    command_id: str
    status: CommandStatus
    reason: str = ""  # English, for logs and the CLI
    # a refusal's stable code and its values, translated by the browser (static/i18n.js "rc_<code>")
    code: str = ""
    vars: dict[str, str | int | float] = {}
    result: dict[str, Any] = {}
    replied_ms: int = Field(default_factory=now_ms)
