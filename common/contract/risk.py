"""Risk events and execution reports: what the sync layer and the order follow-up tell the operator.

A risk event is raised once per `key` and window (a drift that persists is not repeated), may be
cleared when its cause heals, and stays on the pages until the operator acknowledges it (an
audited command). Execution reports are the steps of one order the app sends itself (an operator
close, an AI entry): submitted, partially filled, timeout, cancelled, repriced, rejected, filled,
position closed; a strategy order keeps vnpy's semantics and only its timeout is reported.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from common.contract.messages import Message, new_uid, now_ms


class RiskEventType(StrEnum):
    FRONT_DISCONNECT = "FRONT_DISCONNECT"  # the broker's front dropped while logged in
    RATE_LIMIT = "RATE_LIMIT"  # CTP flow control refused a request (-2/-3)
    ORDER_TIMEOUT = "ORDER_TIMEOUT"  # an order rested unfilled past its timeout
    ORDER_PARTIAL_FILL = "ORDER_PARTIAL_FILL"  # a partial fill stalled past partial_fill_timeout
    ORDER_REJECTED = "ORDER_REJECTED"  # an order the app sent itself was rejected
    CONSISTENCY_DRIFT = "CONSISTENCY_DRIFT"  # our recorded position differs from the broker's
    POSITION_SYNC_FAILED = "POSITION_SYNC_FAILED"  # the comparison could not run (MySQL, no broker reply)
    EXTERNAL_CLOSE = "EXTERNAL_CLOSE"  # the broker no longer holds a position we recorded
    POSITION_ADOPTED = "POSITION_ADOPTED"  # the broker holds a position without our trades: carried in
    MISSED_BY_PUSH = "MISSED_BY_PUSH"  # a trade or order state found only by the query fallback
    QUERY_FAILED = "QUERY_FAILED"  # the broker answered an order/trade query with an error
    AI_DAILY_LOSS = "AI_DAILY_LOSS"  # the account's day PnL reached -ai.max_daily_loss: AI trading switched off


RiskSeverity = Literal["INFO", "WARNING", "CRITICAL"]


class RiskEvent(Message):
    """One risk event (MySQL `risk_events`, pushed as event type "risk_event")."""

    uid: str = Field(default_factory=new_uid)
    ts_ms: int = Field(default_factory=now_ms)
    trading_day: str
    type: RiskEventType
    severity: RiskSeverity = "WARNING"
    key: str  # raised once per key and window: "CONSISTENCY_DRIFT:au2612.SHFE:LONG"
    symbol: str = ""
    message: str
    detail: dict[str, Any] = {}
    cleared_ms: int | None = None  # its cause healed (a drift that closed again)
    acknowledged_by: str = ""
    acknowledged_ms: int | None = None


class RiskEventUpdate(Message):
    """A risk event cleared or acknowledged (pushed as event type "risk_update")."""

    uid: str
    cleared_ms: int | None = None
    acknowledged_by: str = ""
    acknowledged_ms: int | None = None
    message: str = ""


class ExecutionStep(StrEnum):
    SUBMITTED = "SUBMITTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    TIMEOUT = "TIMEOUT"  # unfilled (or a partial fill stalled) past its timeout: cancel sent
    CANCELLED = "CANCELLED"
    REPRICED = "REPRICED"  # the rest sent again, `reprice_ticks` nearer the market
    FALLBACK = "FALLBACK"  # the rest sent at the most aggressive price inside the daily limit
    REJECTED = "REJECTED"
    GAVE_UP = "GAVE_UP"  # retries spent, no fallback: the rest is not sent again
    POSITION_CLOSED = "POSITION_CLOSED"  # every lot the execution was asked to close is closed


ExecutionSource = Literal["operator", "emergency", "ai", "strategy"]


class ExecutionReport(Message):
    """One step of an order the app follows up (MySQL `execution_reports`, event type "execution")."""

    uid: str = Field(default_factory=new_uid)
    ts_ms: int = Field(default_factory=now_ms)
    trading_day: str
    execution_id: str  # one per request (the command id): every order and retry of it
    source: ExecutionSource
    vt_symbol: str
    direction: str  # the order's direction: LONG (buy) | SHORT (sell)
    offset: str  # OPEN | CLOSE | CLOSETODAY | CLOSEYESTERDAY
    step: ExecutionStep
    vt_orderid: str = ""
    price: float | None = None
    volume: float | None = None  # this order's volume
    traded: float | None = None  # filled so far (this order)
    attempt: int = 0  # 0 the first order, 1.. the retries
    message: str = ""


class SideVolume(Message):
    volume: float = 0
    yd: float = 0  # yesterday's lots (SHFE close-yesterday takes them)
    td: float = 0  # today's lots


class PositionComparison(Message):
    """One position (contract and direction): our records (open lots) beside the broker's."""

    vt_symbol: str
    direction: Literal["LONG", "SHORT"]
    ours: SideVolume  # open lots built from our recorded trades (position_lots)
    broker: SideVolume  # the broker's last position reply (vnpy's OmsEngine)
    difference: float  # ours.volume - broker.volume
    unbooked_trades: int = 0  # trades of this contract not written to MySQL yet: the comparison waits
    action: Literal["none", "external_close", "adopt", "wait"] = "none"
    message: str = ""


class SyncReport(Message):
    """What `sync.check` finds (and `sync.apply` applies): every position on either side."""

    checked_ms: int = Field(default_factory=now_ms)
    gateway: str
    positions: list[PositionComparison] = []
    differences: int = 0  # positions whose volumes differ
    applied: bool = False
    notes: list[str] = []


class DiagnoseCheck(Message):
    name: str  # gateway_ready | trading_session | contract_known | price_within_limits | funds_for_margin | ...
    ok: bool
    detail: str = ""


class DiagnoseReport(Message):
    """`order.diagnose`: why an order would fail now (every check, PASS or FAIL)."""

    vt_symbol: str
    side: Literal["BUY", "SELL"]
    offset: str
    volume: int
    price: float | None = None
    checks: list[DiagnoseCheck] = []
    ok: bool = False  # every check passed
