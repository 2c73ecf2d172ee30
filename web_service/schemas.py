"""The response models of the JSON API: what each route answers, as the OpenAPI document (/docs) shows it.

They describe the shapes the pages (static/*.js) and the tests read; the contract's models
(common/contract) are reused where a route hands one out as it is. Rows read from MySQL carry every
column of their SELECT, so their models name the columns the pages use and allow the others
(`extra="allow"`). Numbers that MySQL or the core may give as an integer or a decimal are `Number`,
so an answer keeps its values as they were (5 stays 5, 5.5 stays 5.5).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model

from common.contract import (
    AccountState,
    ContractInfo,
    GatewayStatus,
    Heartbeat,
    MainContract,
    OrderState,
    TickMessage,
)

Number = int | float


def extended(base: type[BaseModel], name: str, doc: str, **fields: Any) -> type[BaseModel]:
    """A model with every field of `base` (a contract model, reused as it is) plus `fields` ((type, default)
    pairs), named `name`. (A subclass would not do: a field cannot replace one of `base`'s properties.)"""
    own: dict[str, Any] = {key: (info.annotation, info) for key, info in base.model_fields.items()}
    return create_model(name, __config__=base.model_config, __doc__=doc, **own, **fields)


class Row(BaseModel):
    """A row read from MySQL: the named fields, plus every other column of the query."""

    model_config = ConfigDict(extra="allow")


class Page(BaseModel):
    next_cursor: str | None
    page_size: int


# ---------------------------------------------------------------- live state (api_state.py, api_bars.py)


class SessionInfo(BaseModel):
    operator: str
    csrf_token: str
    created_ms: int


class Status(BaseModel):
    """The system status every page's header shows (also the WebSocket topic "heartbeat")."""

    server_ms: int
    core_alive: bool | None  # None: unknown (Redis is down)
    heartbeat: Heartbeat | None
    gateway: GatewayStatus | None
    gateway_logged_in: bool
    redis_ok: bool
    redis_down_since_ms: int | None
    mysql_ok: bool
    mysql_down_since_ms: int | None
    core_mysql_ok: bool | None
    main_contract: str | None
    trading_day: str | None
    last_tick_ms: int | None
    tick_age_s: float | None
    in_session: bool
    stale: bool
    stale_after_s: float


class Market(BaseModel):
    symbol: str
    main_contract: str
    tick: TickMessage | None


class TickHistory(BaseModel):
    symbol: str
    trading_day: str | None
    columns: list[str]
    points: list[tuple[int, float, float]]  # [ts_ms, last_price, volume]


class PositionRow(BaseModel):
    """An open position with live PnL (web_service/pnl.py); `key` is "{vt_symbol}|{direction}"."""

    key: str
    vt_symbol: str
    symbol: str
    exchange: str
    direction: Literal["LONG", "SHORT", "NET"]
    volume: float
    td_volume: float
    yd_volume: float
    frozen: float
    price: float
    last_price: float | None
    multiplier: float
    pnl: float
    pnl_source: str  # live | core
    gateway_pnl: float
    cost_price: float
    mtm_pnl: float
    gateway_mtm_pnl: float
    margin: float
    tick_ms: int | None
    ts_ms: int


OrderRow = extended(OrderState, "OrderRow", "An order of today, and whether it is still working.", active=(bool, ...))
AccountView = extended(
    AccountState, "AccountView",
    "The account plus its live figures: equity moves from the static balance with the live position profit.",
    static_balance=(float, ...), live_unrealized_pnl=(float, ...), live_balance=(float, ...),
    position_margin=(float, ...),
)


class Contracts(BaseModel):
    main_contract: MainContract | None
    contracts: list[ContractInfo]


class LastTick(BaseModel):
    ts_ms: int
    volume: float
    trading_day: str


class Bars(BaseModel):
    symbol: str
    minutes: int
    interval_s: int
    columns: list[str]
    bars: list[list[Number]]  # rows of `columns`
    last_tick: LastTick | None


# ---------------------------------------------------------------- history (api_history.py)


class TradeRow(Row):
    """A trade, from MySQL (`id` set) or live from the core (`id` None, `strategy` None)."""

    id: int | None
    gateway: str
    exchange: str
    tradeid: str
    direction: str
    trading_day: str
    symbol: str
    orderid: str
    offset: str
    price: Number
    volume: Number
    strategy: str | None
    ts: str
    ts_ms: int


class TradePage(Page):
    items: list[TradeRow]


class EquityCurve(BaseModel):
    range: str
    as_of_ms: int
    bucket_s: int
    points: list[list[Number]]  # rows of `columns`
    columns: list[str]


class Performance(Row):
    """Closed-trade statistics (overall, by strategy, by exit reason), equity figures and the daily ledger."""

    range: str
    as_of_ms: int
    trading_day: str
    trades: dict[str, Any]
    by_strategy: dict[str, dict[str, Any]]
    by_exit_reason: dict[str, dict[str, Any]]
    equity: dict[str, Any]
    ledger: list[dict[str, Any]]
    pnl_basis: str


class TriggerRow(Row):
    id: int | None
    uid: str
    strategy: str
    vt_symbol: str
    action: str
    result: str
    vt_orderids: list[str]
    ts: str
    ts_ms: int


class TriggerPage(Page):
    items: list[TriggerRow]


class SystemEventRow(Row):
    """A system event; from MySQL without `uid`, live from the core with it."""

    id: int | None
    level: str
    kind: str
    message: str
    detail: Any
    ts: str
    ts_ms: int


class SystemEventPage(Page):
    items: list[SystemEventRow]


class AuditRow(Row):
    id: int | None
    uid: str
    command_id: str
    type: str
    params: Any
    source: str
    operator: str
    status: str
    reason: str


class AuditPage(Page):
    items: list[AuditRow]


# ---------------------------------------------------------------- risk (api_risk.py)


class RiskRow(Row):
    """A risk event (the `RiskEvent` shape) plus `id` (MySQL's, None when pushed live) and `ts` (ISO UTC)."""

    uid: str
    ts_ms: int
    trading_day: str
    type: str
    severity: str
    key: str
    symbol: str
    message: str
    detail: dict[str, Any]
    cleared_ms: int | None
    acknowledged_by: str
    acknowledged_ms: int | None
    id: int | None
    ts: str


class RiskPage(Page):
    items: list[RiskRow]
    unacked_count: int


class ExecutionStepRow(Row):
    uid: str
    ts_ms: int
    trading_day: str
    execution_id: str
    source: str
    vt_symbol: str
    direction: str
    offset: str
    step: str
    vt_orderid: str
    price: float | None
    volume: float | None
    traded: float | None
    attempt: int
    message: str
    id: int | None
    ts: str


class Execution(BaseModel):
    execution_id: str
    source: str
    vt_symbol: str
    direction: str
    offset: str
    trading_day: str
    started_ms: int
    updated_ms: int
    last_step: str
    steps: list[ExecutionStepRow]


class Executions(BaseModel):
    items: list[Execution]
    limit: int


class AckRefused(BaseModel):
    """409 of POST /api/risk-events/{uid}/ack when the event was acknowledged already (nothing sent)."""

    uid: str
    status: str
    acknowledged_by: str
    acknowledged_ms: int | None
    detail: str


# ---------------------------------------------------------------- trigger statistics (api_triggers.py)


class Tally(BaseModel):
    signals: int
    actions: dict[str, int]
    results: dict[str, int]
    pos_sync: int
    unlinked: int
    requested_volume: float
    filled_volume: float
    fill_ratio: float | None
    filled_signals: int
    slippage: float | None
    slippage_ticks: float | None


class StrategyDayTally(Tally):
    strategy: str
    trading_day: str


class DayTally(Tally):
    trading_day: str


class StrategyTally(Tally):
    strategy: str


class TriggerStats(BaseModel):
    days: int
    day_from: str
    day_to: str
    strategy: str | None
    default_tick: float
    rows: list[StrategyDayTally]
    by_day: list[DayTally]
    by_strategy: list[StrategyTally]
    total: Tally
