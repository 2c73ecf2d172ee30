"""The contract between the core service and the web service: Redis keys and message shapes.

This is the only module that spells a Redis key. Both services import it. Enums travel by
`.name` (LONG, SHORT, OPEN, ...), never by `.value` (which follows vnpy's locale). Every
message is a pydantic model serialised as JSON, except ticks, which are flat stream fields.

Redis layout (every key starts with the configured prefix, "" in production):
  market_data:{symbol}          stream   one entry per tick, bounded by MAXLEN
  arbig:heartbeat               string   Heartbeat JSON, expires when the core stops beating
  arbig:state:account           string   AccountState JSON
  arbig:state:positions         hash     "{vt_symbol}|{direction}" -> PositionState JSON
  arbig:state:orders            hash     vt_orderid -> OrderState JSON (today's orders)
  arbig:state:strategies        hash     strategy name -> StrategyState JSON
  arbig:state:contracts         hash     symbol -> ContractInfo JSON (what the gateway knows)
  arbig:state:main_contract     string   MainContract JSON
  arbig:events                  stream   EventMessage entries (field "json"), bounded by MAXLEN
  arbig:commands                list     Command JSON; web LPUSHes, core BRPOPs
  arbig:reply:{command_id}      list     CommandReply JSON; core LPUSHes, sender BRPOPs
  arbig:cmd_seen:{command_id}   string   set once by the core so one command id never runs twice
  arbig:core_lease:{account}    string   the core trading this account (pid, host, since), short lease
  arbig:web:session:{hash}      string   web login session (token hash -> JSON), with expiry
  arbig:web:login_failures:{ip} string   failed-login counter for throttling, with expiry
"""

from __future__ import annotations

import json
import re
import time
import uuid
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator, model_validator

# ---------------------------------------------------------------- keys


class Keys:
    """Every Redis key, built from one prefix."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def tick_stream(self, symbol: str) -> str:
        return f"{self.prefix}market_data:{symbol}"

    def tick_stream_pattern(self) -> str:
        return f"{self.prefix}market_data:*"

    def symbol_of_stream(self, key: str) -> str:
        return key[len(self.prefix) + len("market_data:"):]

    @property
    def heartbeat(self) -> str:
        return f"{self.prefix}arbig:heartbeat"

    @property
    def account(self) -> str:
        return f"{self.prefix}arbig:state:account"

    @property
    def positions(self) -> str:
        return f"{self.prefix}arbig:state:positions"

    @property
    def orders(self) -> str:
        return f"{self.prefix}arbig:state:orders"

    @property
    def strategies(self) -> str:
        return f"{self.prefix}arbig:state:strategies"

    @property
    def contracts(self) -> str:
        return f"{self.prefix}arbig:state:contracts"

    @property
    def main_contract(self) -> str:
        return f"{self.prefix}arbig:state:main_contract"

    @property
    def events(self) -> str:
        return f"{self.prefix}arbig:events"

    @property
    def commands(self) -> str:
        return f"{self.prefix}arbig:commands"

    def reply(self, command_id: str) -> str:
        return f"{self.prefix}arbig:reply:{command_id}"

    def command_seen(self, command_id: str) -> str:
        return f"{self.prefix}arbig:cmd_seen:{command_id}"

    def core_lease(self, account: str) -> str:
        """Held by the one core trading `account` (see core_service/instance_lock.py)."""
        return f"{self.prefix}arbig:core_lease:{account}"

    # web service (sessions and login throttling live in Redis too)
    def web_session(self, token_hash: str) -> str:
        return f"{self.prefix}arbig:web:session:{token_hash}"

    def login_failures(self, client: str) -> str:
        return f"{self.prefix}arbig:web:login_failures:{client}"

    def all_patterns(self) -> list[str]:
        """Patterns covering every key this prefix owns (used by tests to clean up)."""
        return [f"{self.prefix}market_data:*", f"{self.prefix}arbig:*"]


def position_field(vt_symbol: str, direction: str) -> str:
    return f"{vt_symbol}|{direction}"


# ---------------------------------------------------------------- helpers


def now_ms() -> int:
    return int(time.time() * 1000)


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

TICK_FLOAT_FIELDS = (
    "last_price", "volume", "turnover", "open_interest",
    "bid_price_1", "bid_volume_1", "ask_price_1", "ask_volume_1",
    "open_price", "high_price", "low_price", "pre_close", "pre_settlement",
    "limit_up", "limit_down",
)


class TickMessage(Message):
    """One level-1 tick as stored in `market_data:{symbol}`."""

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
    action: Literal["buy", "sell", "short", "cover", "close", "hold"]
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
    "account", "position", "order", "trade", "strategy", "trigger", "system", "main_contract", "contract",
    "command",
]


class EventMessage(Message):
    """One entry of the `arbig:events` stream (stored under the field `json`)."""

    type: EventType
    ts_ms: int = Field(default_factory=now_ms)
    data: dict[str, Any]


# ---------------------------------------------------------------- commands

COMMAND_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


class CommandType(StrEnum):
    STRATEGY_INIT = "strategy.init"
    STRATEGY_START = "strategy.start"
    STRATEGY_STOP = "strategy.stop"
    POSITION_CLOSE = "position.close"
    ORDER_CANCEL = "order.cancel"
    EMERGENCY_STOP = "emergency.stop"
    CONTRACT_SWITCH = "contract.switch"


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


PARAMS_MODEL: dict[CommandType, type[Message]] = {
    CommandType.STRATEGY_INIT: StrategyParams,
    CommandType.STRATEGY_START: StrategyParams,
    CommandType.STRATEGY_STOP: StrategyParams,
    CommandType.POSITION_CLOSE: ClosePositionParams,
    CommandType.ORDER_CANCEL: CancelOrderParams,
    CommandType.EMERGENCY_STOP: EmptyParams,
    CommandType.CONTRACT_SWITCH: SwitchContractParams,
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
    reason: str = ""
    result: dict[str, Any] = {}
    replied_ms: int = Field(default_factory=now_ms)


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
