"""The records the core hands to the MySQL writer: one pydantic model per kind, `Record` their union.

Each model is the one definition of what its kind carries: the writer's statement for the kind names
its columns by these fields (`writer_statements` checks them at import), so a misspelled or missing
field fails where the record is built (pydantic's ValidationError), never as a silent NULL.
Builders construct models; `MysqlWriter.put` keeps them as JSON-safe dicts (`model_dump(mode="json")`)
on its queue and in its spool, so a spool line stays readable text. A line spooled by an earlier
version is validated on replay (`parse_record`): the fields older versions spread from the Redis
states (e.g. a trade's `vt_tradeid`, never written) are dropped first, fields added since take their
defaults (e.g. an order's `confidence`: None); a line that still does not validate is set aside with
the reason.

Value types match the columns: DATETIME(3) fields are naive UTC `datetime`s, written as
"YYYY-MM-DD HH:MM:SS.fff"; DATE fields are `date`s; JSON columns take any JSON-safe value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter

from common.contract import AccountState, OrderState, PositionState, TradeState, TriggerRecord


def db_text(moment: datetime) -> str:
    """A DATETIME(3) value as MySQL reads it (and as the spool keeps it)."""
    return moment.isoformat(sep=" ", timespec="milliseconds")  # naive UTC: no offset


DbTime = Annotated[datetime, PlainSerializer(db_text, return_type=str, when_used="json")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- the gateway's state (recorder)


class TradeRecord(_Model):
    kind: Literal["trade"] = "trade"
    gateway: str
    exchange: str
    tradeid: str
    direction: str
    trading_day: date
    symbol: str
    orderid: str
    offset: str
    price: float
    volume: float
    commission: float | None = None  # None while the contract's rates are unknown (backfilled later)
    strategy: str | None = None
    ts: DbTime
    recorded_at: DbTime
    raw: Any = None  # JSON columns: dicts and lists are stored as JSON text
    size: float | None = None  # the contract's size (positions_closed); None: looked up in `contracts`
    exit_reason: str = ""  # strategy | operator | emergency | ai | stop_loss | take_profit | external ("": external)
    confidence: int | None = None  # the AI's (0-100) from its order's reference; None: not an AI order
    tool_call_id: str | None = None  # the MCP tool call that sent the order (an exit plan's, for its closes)
    exit_plan: dict[str, Any] | None = None  # a closing fill: the exit plan in force on the position it closes


class OrderRecord(_Model):
    kind: Literal["order"] = "order"
    gateway: str
    orderid: str
    trading_day: date
    symbol: str
    exchange: str
    direction: str
    offset: str
    type: str
    price: float
    volume: float
    traded: float
    status: str
    reference: str = ""
    strategy: str | None = None
    reason: str = ""
    ts: DbTime
    updated_at: DbTime
    raw: Any = None
    confidence: int | None = None  # the AI's (0-100) from the reference; None: not an AI order
    tool_call_id: str | None = None


class _PositionFields(_Model):
    gateway: str
    symbol: str
    exchange: str
    direction: str
    volume: float
    yd_volume: float
    frozen: float
    price: float  # the average open price
    pnl: float
    margin: float = 0.0
    trading_day: date | None  # the broker's trading day (None: not stated yet)
    updated_at: DbTime
    cost_price: float = 0.0  # what the broker marks from (position_reconcile)
    settlement_price: float | None = None


class PositionRecord(_PositionFields):
    kind: Literal["position"] = "position"


class PositionAdoptRecord(_PositionFields):
    """The operator's `sync`: carry in what the broker's latest position record states, now."""

    kind: Literal["position_adopt"] = "position_adopt"


class _AccountFigures(_Model):
    gateway: str
    accountid: str
    balance: float
    available: float
    frozen: float
    margin: float = 0.0
    commission: float = 0.0
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0


ACCOUNT_FIGURES = frozenset(_AccountFigures.model_fields)  # AccountState.model_dump(include=...) gives them


class AccountRecord(_AccountFigures):
    kind: Literal["account"] = "account"
    trading_day: date | None
    updated_at: DbTime


class SnapshotRecord(_AccountFigures):
    """A point of the equity curve (`equity_marks`)."""

    kind: Literal["snapshot"] = "snapshot"
    uid: str
    ts: DbTime  # the market time it refers to
    reason: str
    recorded_at: DbTime
    trading_day: date


# ---------------------------------------------------------------- strategies, events, commands


class StrategyTriggerRecord(_Model):
    kind: Literal["trigger"] = "trigger"
    uid: str
    ts: DbTime
    trading_day: date
    strategy: str
    vt_symbol: str
    condition: str
    price: float
    volume: float
    action: str
    result: str
    vt_orderids: str = ""  # comma-separated
    error: str = ""


class TriggerResultRecord(_Model):
    kind: Literal["trigger_result"] = "trigger_result"
    uid: str
    result: str
    error: str = ""


class StrategyConfigRecord(_Model):
    kind: Literal["strategy_config"] = "strategy_config"
    name: str
    class_name: str
    vt_symbol: str
    setting: dict[str, Any]
    updated_at: DbTime


class SystemEventRecord(_Model):
    kind: Literal["system_event"] = "system_event"
    uid: str
    ts: DbTime
    level: str
    event_kind: str
    message: str
    detail: dict[str, Any] = {}


class AuditRecord(_Model):
    kind: Literal["audit"] = "audit"
    uid: str
    command_id: str
    type: str
    params: dict[str, Any] = {}
    source: str
    operator: str
    issued_at: DbTime
    received_at: DbTime
    status: str
    reason: str = ""
    result: dict[str, Any] | None = None
    replied_at: DbTime


class RiskEventRecord(_Model):
    kind: Literal["risk_event"] = "risk_event"
    uid: str
    ts: DbTime
    trading_day: date
    type: str
    severity: str
    key: str
    symbol: str = ""
    message: str
    detail: dict[str, Any] = {}


class RiskClearedRecord(_Model):
    kind: Literal["risk_cleared"] = "risk_cleared"
    uid: str
    cleared_at: DbTime


class RiskAckRecord(_Model):
    kind: Literal["risk_ack"] = "risk_ack"
    uid: str
    acknowledged_by: str
    acknowledged_at: DbTime


class ExecutionReportRecord(_Model):
    kind: Literal["execution_report"] = "execution_report"
    uid: str
    ts: DbTime
    trading_day: date
    execution_id: str
    source: str
    vt_symbol: str
    direction: str
    offset: str
    step: str
    vt_orderid: str = ""
    price: float | None = None
    volume: float | None = None
    traded: float | None = None
    attempt: int = 0
    message: str = ""


# ---------------------------------------------------------------- broker truth


class BrokerReplyRecord(_Model):
    kind: Literal["broker_reply"] = "broker_reply"
    uid: str
    received_at: DbTime
    gateway: str
    reply_kind: str
    key: str
    raw: Any


class SettlementRecord(_Model):
    kind: Literal["settlement"] = "settlement"
    symbol: str
    trading_day: date
    price: float
    source: str = "tick"  # tick | position (the broker's own statement outranks a tick's)
    updated_at: DbTime


class ContractRecord(_Model):
    """Merged into the contract's row: a field left None keeps the column's value."""

    kind: Literal["contract"] = "contract"
    symbol: str
    exchange: str | None = None  # None: rates before the contract (the book sends them again)
    name: str | None = None
    size: float | None = None
    pricetick: float | None = None
    min_volume: float | None = None
    max_volume: float | None = None
    long_margin_ratio_by_money: float | None = None
    long_margin_ratio_by_volume: float | None = None
    short_margin_ratio_by_money: float | None = None
    short_margin_ratio_by_volume: float | None = None
    open_ratio_by_money: float | None = None
    open_ratio_by_volume: float | None = None
    close_ratio_by_money: float | None = None
    close_ratio_by_volume: float | None = None
    close_today_ratio_by_money: float | None = None
    close_today_ratio_by_volume: float | None = None
    margin_is_relative: int | None = None
    rates_instrument: str | None = None
    source: str | None = None
    info_synced_at: DbTime | None = None
    margin_synced_at: DbTime | None = None
    commission_synced_at: DbTime | None = None
    last_sync: DbTime


class LedgerRecord(_Model):
    """The broker's figures of a trading day; the writer compares ours with them (`pnl_ledger`)."""

    kind: Literal["ledger"] = "ledger"
    gateway: str
    accountid: str
    trading_day: date
    broker_realized_pnl: float | None
    broker_commission: float | None
    contracts: dict[str, dict[str, float]] = {}  # symbol -> {"realized_pnl": .., "commission": ..}
    broker_at: DbTime | None = None


class SettlementStatementRecord(_Model):
    kind: Literal["settlement_statement"] = "settlement_statement"
    gateway: str
    accountid: str
    trading_day: date
    settlement_text: str
    computed_at: DbTime


class ExternalCloseRecord(_Model):
    """Close in the records the lots the broker no longer holds (`external_close`)."""

    kind: Literal["external_close"] = "external_close"
    gateway: str
    symbol: str
    exchange: str
    direction: str
    broker_volume: float
    broker_yd: float
    trading_day: date
    price: float  # the last price when detected
    detected_at: DbTime
    source: str  # auto | operator


Record = Annotated[
    TradeRecord | OrderRecord | PositionRecord | PositionAdoptRecord | AccountRecord | SnapshotRecord
    | StrategyTriggerRecord | TriggerResultRecord | StrategyConfigRecord | SystemEventRecord | AuditRecord
    | RiskEventRecord | RiskClearedRecord | RiskAckRecord | ExecutionReportRecord | BrokerReplyRecord
    | SettlementRecord | ContractRecord | LedgerRecord | SettlementStatementRecord | ExternalCloseRecord,
    Field(discriminator="kind"),
]
RECORD: TypeAdapter[Record] = TypeAdapter(Record)
Put = Callable[[Record], None]  # the MySQL writer's `put`
MODELS: dict[str, type[BaseModel]] = {
    model.model_fields["kind"].default: model
    for model in (TradeRecord, OrderRecord, PositionRecord, PositionAdoptRecord, AccountRecord, SnapshotRecord,
                  StrategyTriggerRecord, TriggerResultRecord, StrategyConfigRecord, SystemEventRecord, AuditRecord,
                  RiskEventRecord, RiskClearedRecord, RiskAckRecord, ExecutionReportRecord, BrokerReplyRecord,
                  SettlementRecord, ContractRecord, LedgerRecord, SettlementStatementRecord, ExternalCloseRecord)
}


# Fields earlier versions spread into records from the Redis states (never written to a column).
LEGACY: dict[str, frozenset[str]] = {
    kind: frozenset(state.model_fields) - frozenset(MODELS[kind].model_fields)
    for kind, state in (("trade", TradeState), ("order", OrderState), ("position", PositionState),
                        ("position_adopt", PositionState), ("account", AccountState), ("snapshot", AccountState),
                        ("trigger", TriggerRecord))
}


def parse_record(data: Mapping[str, Any]) -> Record:
    """A record from its JSON-safe dict (a spool line): pydantic's ValidationError when it is not one
    (an unknown kind, a missing or misspelled field, a value of the wrong type)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"not a record: {data!r:.80}")
    kind = data.get("kind")
    if kind not in MODELS:
        raise ValueError(f"unknown record kind {kind!r}")
    legacy = LEGACY.get(kind)
    if legacy:
        data = {name: value for name, value in data.items() if name not in legacy}
    return RECORD.validate_python(data)


def dump(record: Record) -> dict[str, Any]:
    """The JSON-safe dict the writer's queue and spool keep (every field; a value JSON cannot hold as
    it is, as text)."""
    return record.model_dump(mode="json", fallback=str)


def revalidated(records: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records read back (the spool's) validated again and dumped as the current models dump them, and
    those that are no longer records, each as {"record": ..., "error": the reason}."""
    kept: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for data in records:
        try:
            kept.append(dump(parse_record(data)))
        except ValueError as exc:  # pydantic's ValidationError is one
            refused.append({"record": data, "error": str(exc)})
    return kept, refused
