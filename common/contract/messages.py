"""Message shapes pushed through Redis (state, events, records); enums travel by `.name`."""

from __future__ import annotations

import json
import uuid
from enum import Enum, StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.clock import now_ms
from common.lifecycle import ComponentState


def enum_name(value: Any) -> str:
    """Serialise a vnpy enum by name; pass strings through; None becomes ''."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return value.name
    return str(value)


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> str:
        return self.model_dump_json()


# ---------------------------------------------------------------- ticks

BOOK_DEPTH = 5  # book levels a tick can carry; levels 2..5 stay 0 when the gateway sends level 1 only
BOOK_FIELDS = tuple(f"{side}_{kind}_{level}" for level in range(1, BOOK_DEPTH + 1)
                    for side in ("bid", "ask") for kind in ("price", "volume"))
TICK_FLOAT_FIELDS = (
    "last_price", "volume", "turnover", "open_interest",
    "bid_price_1", "bid_volume_1", "ask_price_1", "ask_volume_1",
    "open_price", "high_price", "low_price", "pre_close", "pre_settlement",
    "limit_up", "limit_down",
    *(name for name in BOOK_FIELDS if not name.endswith("_1")),
)


class TickMessage(Message):
    """One tick as stored in `market_data:{symbol}`: level 1, plus book levels 2..5 when the gateway has
    them (0 = no such level)."""

    symbol: str
    exchange: str
    ts_ms: int  # exchange time, epoch milliseconds (UTC)
    datetime: str  # exchange time, ISO 8601 with offset (Asia/Shanghai)
    trading_day: str  # YYYYMMDD
    local_ts: float  # epoch seconds (microseconds) when the gateway created the tick
    last_price: float = 0.0
    volume: float = 0.0  # cumulative
    turnover: float = 0.0  # cumulative
    open_interest: float = 0.0
    bid_price_1: float = 0.0
    bid_volume_1: float = 0.0
    ask_price_1: float = 0.0
    ask_volume_1: float = 0.0
    open_price: float = 0.0
    high_price: float = 0.0
    low_price: float = 0.0
    pre_close: float = 0.0
    pre_settlement: float = 0.0
    limit_up: float = 0.0
    limit_down: float = 0.0
    bid_price_2: float = 0.0
    bid_volume_2: float = 0.0
    ask_price_2: float = 0.0
    ask_volume_2: float = 0.0
    bid_price_3: float = 0.0
    bid_volume_3: float = 0.0
    ask_price_3: float = 0.0
    ask_volume_3: float = 0.0
    bid_price_4: float = 0.0
    bid_volume_4: float = 0.0
    ask_price_4: float = 0.0
    ask_volume_4: float = 0.0
    bid_price_5: float = 0.0
    bid_volume_5: float = 0.0
    ask_price_5: float = 0.0
    ask_volume_5: float = 0.0

    def to_fields(self) -> dict[str, str]:
        return {k: repr(v) if isinstance(v, float) else str(v) for k, v in self.model_dump().items()}

    @classmethod
    def from_fields(cls, fields: dict[str | bytes, str | bytes]) -> TickMessage:
        data = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
        return cls.model_validate(data)


# ---------------------------------------------------------------- liveness


class GatewayState(StrEnum):
    STARTING = "STARTING"
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"  # front connected, not logged in yet (or a transient login error, retrying)
    SETTLING = "SETTLING"  # logged in; settlement confirmation and/or the instrument list pending
    LOGGED_IN = "LOGGED_IN"  # ready to trade: logged in, settlement confirmed, instruments loaded
    SETTLEMENT_FAILED = "SETTLEMENT_FAILED"  # the broker refused the settlement confirmation: no trading
    DISCONNECTED = "DISCONNECTED"
    LOGIN_FAILED = "LOGIN_FAILED"  # permanent until the gateway is rebuilt; never retried
    LOGIN_TIMEOUT = "LOGIN_TIMEOUT"  # watchdog: not logged in after N seconds
    STOPPED = "STOPPED"


class GatewayStatus(Message):
    name: str  # sim | ctp
    state: GatewayState
    reason: str = ""
    since_ms: int = Field(default_factory=now_ms)
    md_state: GatewayState | None = None
    md_reason: str = ""


class SessionState(Message):
    """Whether the exchange trades now (common/trading_sessions.py): `mode` always (the simulator's
    24 h demo) or shfe (the exchange's sessions and holidays)."""

    mode: Literal["always", "shfe"]
    state: Literal["open", "break", "closed"]
    reason: str = ""  # e.g. "lunch break", "weekend", "holiday 2026-10-01"
    next_open_ms: int | None = None  # when trading resumes (None while open)
    closes_ms: int | None = None  # when the current session ends (None while not open, or always)


class Heartbeat(Message):
    pid: int
    ts_ms: int
    started_ms: int
    gateway: GatewayStatus
    main_contract: str
    trading_day: str
    mysql_ok: bool
    mysql_backlog: int  # records waiting in the durable spool
    redis_backlog: int  # ticks/events waiting to be published
    last_tick_ms: int | None = None
    session: SessionState | None = None
    # the core's lifecycle state and why it is degraded; a heartbeat from an older core has none: it ran
    state: ComponentState = ComponentState.RUNNING
    state_reason: str = ""
    version: str = "1"


class MainContract(Message):
    symbol: str
    exchange: str
    vt_symbol: str
    since_ms: int


class ContractInfo(Message):
    symbol: str
    exchange: str
    vt_symbol: str
    name: str
    size: float
    pricetick: float
    min_volume: float
    is_main: bool = False


# ---------------------------------------------------------------- live state


class AccountState(Message):
    """The account as the gateway states it (on CTP: CThostFtdcTradingAccountField), one shape for both
    gateways. `balance` includes the position profit (`unrealized_pnl`, marked against today's open
    price for today's lots and yesterday's settlement for older ones), as CTP's Balance does."""

    gateway: str
    accountid: str
    balance: float
    available: float
    frozen: float
    margin: float = 0.0  # CurrMargin
    frozen_margin: float = 0.0  # FrozenMargin: margin of open orders
    frozen_commission: float = 0.0  # FrozenCommission
    frozen_cash: float = 0.0  # FrozenCash
    commission: float = 0.0  # Commission, today
    realized_pnl: float = 0.0  # CloseProfit, today
    unrealized_pnl: float = 0.0  # PositionProfit
    pre_balance: float = 0.0  # PreBalance
    deposit: float = 0.0
    withdraw: float = 0.0
    withdraw_quota: float = 0.0
    trading_day: str = ""
    ts_ms: int = Field(default_factory=now_ms)

    @property
    def static_balance(self) -> float:
        """The balance without the position profit: live equity = this + the live position profit."""
        return round(self.balance - self.unrealized_pnl, 2)


class PositionState(Message):
    gateway: str
    vt_symbol: str
    symbol: str
    exchange: str
    direction: Literal["LONG", "SHORT", "NET"]
    volume: float
    yd_volume: float
    td_volume: float
    frozen: float
    price: float  # average open price: what the trader paid
    pnl: float  # as reported by the gateway
    margin: float = 0.0  # UseMargin
    cost_price: float = 0.0  # the mark-to-market base: open price of today's lots, settlement of older ones
    unrealized_pnl: float = 0.0  # the gateway's position profit against cost_price (part of the balance)
    ts_ms: int = Field(default_factory=now_ms)


class OrderState(Message):
    gateway: str
    vt_orderid: str
    orderid: str
    symbol: str
    exchange: str
    direction: str
    offset: str
    type: str
    price: float
    volume: float
    traded: float
    status: str  # SUBMITTING NOTTRADED PARTTRADED ALLTRADED CANCELLED REJECTED
    reference: str = ""
    reason: str = ""
    datetime: str = ""
    ts_ms: int = Field(default_factory=now_ms)
    confidence: int | None = None  # the AI agent's (0-100), from the reference; None: not an AI order
    tool_call_id: str | None = None  # the MCP tool call that sent it (an exit plan's, for its closes)

    @property
    def active(self) -> bool:
        return self.status in ("SUBMITTING", "NOTTRADED", "PARTTRADED")


class TradeState(Message):
    gateway: str
    vt_tradeid: str
    tradeid: str
    vt_orderid: str
    symbol: str
    exchange: str
    direction: str
    offset: str
    price: float
    volume: float
    datetime: str
    trading_day: str
    ts_ms: int
    confidence: int | None = None  # the AI agent's (0-100), from its order's reference; None: not an AI order
    tool_call_id: str | None = None  # the MCP tool call that sent its order


class StrategyState(Message):
    name: str
    class_name: str
    vt_symbol: str
    author: str = ""
    parameters: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    inited: bool = False
    trading: bool = False
    state: Literal["ADDED", "INITING", "INITED", "TRADING", "STOPPED", "ERROR"] = "ADDED"
    error: str = ""
    note: str = ""  # why it is not running though the config would start it (e.g. after a crash)
    ts_ms: int = Field(default_factory=now_ms)


def new_uid() -> str:
    return uuid.uuid4().hex


class TriggerRecord(Message):
    uid: str = Field(default_factory=new_uid)
    ts_ms: int
    trading_day: str
    strategy: str
    vt_symbol: str
    condition: str
    price: float
    volume: float
    # pos_sync: not a signal; a hand trade brought the strategy's pos to the account (strategy_pos_sync.py)
    action: Literal["buy", "sell", "short", "cover", "close", "hold", "pos_sync"]
    result: Literal["success", "failed", "pending"]
    vt_orderids: list[str] = []
    error: str = ""


class CommandAudit(Message):
    """One operator command and its answer, as audited in MySQL (command_audit) and pushed live
    (event type "command"). An unparsable command has type "invalid" and its raw text in params."""

    uid: str = Field(default_factory=new_uid)
    command_id: str
    type: str
    params: dict[str, Any] = {}
    source: str
    operator: str
    issued_ms: int
    received_ms: int
    replied_ms: int
    status: str
    reason: str = ""
    result: dict[str, Any] | None = None


class SystemEvent(Message):
    uid: str = Field(default_factory=new_uid)
    ts_ms: int = Field(default_factory=now_ms)
    level: Literal["INFO", "WARNING", "ERROR"] = "INFO"
    kind: str  # connect | disconnect | login | login_failed | rollover | error | start | stop | config ...
    message: str
    detail: dict[str, Any] = {}


EventType = Literal[
    "account", "position", "order", "trade", "strategy", "trigger", "system", "main_contract",
    "command", "risk_event", "risk_update", "execution", "ai_state",
]


class EventMessage(Message):
    """One entry of the `arbig:events` stream (stored under the field `json`)."""

    type: EventType
    ts_ms: int = Field(default_factory=now_ms)
    data: dict[str, Any]




def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
