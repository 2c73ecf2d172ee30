"""Turn vnpy's data objects into the contract's messages and into MySQL rows.

Runs on the dispatcher thread, never on vnpy's event thread. Enums go by `.name`. A record without a
time of its own is stamped by the `clock` passed in (the core's: in a replay, the replayed time).
Orders and trades of the AI agent carry its confidence and tool call, read back from the order's
reference (`ai_marks`).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from vnpy.trader.constant import Direction
from vnpy.trader.object import (
    AccountData,
    ContractData,
    OrderData,
    PositionData,
    TickData,
    TradeData,
)

from common.clock import LIVE, Clock
from common.contract import (
    AccountState,
    ContractInfo,
    OrderState,
    PositionState,
    TickMessage,
    TradeState,
    enum_name,
)
from common.contract.ai import TOOL_CALL_ID_PATTERN, parse_ai_reference
from common.contract.messages import BOOK_FIELDS
from common.trading_calendar import CHINA_TZ, to_china, trading_day_str, utc_naive_ms

DIRECTIONS: dict[Direction, Literal["LONG", "SHORT", "NET"]] = {
    Direction.LONG: "LONG", Direction.SHORT: "SHORT", Direction.NET: "NET"}


def epoch_ms(dt: datetime | None, clock: Clock = LIVE) -> int:
    """A time as epoch ms; no time: the clock's now."""
    if dt is None:
        return clock.now_ms()
    return int(to_china(dt).timestamp() * 1000)


def raw_record(obj: Any) -> dict[str, Any]:
    """The gateway's whole record, JSON-safe, enums by name (kept beside orders and trades)."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if isinstance(value, Enum):
            value = value.name
        elif isinstance(value, datetime):
            value = to_china(value).isoformat()
        out[field.name] = value
    return out


def tick_message(tick: TickData) -> TickMessage:
    dt = to_china(tick.datetime)
    extra = tick.extra or {}
    local = tick.localtime.timestamp() if tick.localtime else dt.timestamp()
    return TickMessage(
        symbol=tick.symbol,
        exchange=tick.exchange.name,
        ts_ms=int(dt.timestamp() * 1000),
        datetime=dt.isoformat(timespec="milliseconds"),
        trading_day=trading_day_str(dt),
        local_ts=local,
        last_price=tick.last_price,
        volume=tick.volume,
        turnover=tick.turnover,
        open_interest=tick.open_interest,
        open_price=tick.open_price,
        high_price=tick.high_price,
        low_price=tick.low_price,
        pre_close=tick.pre_close,
        pre_settlement=float(extra.get("pre_settlement") or 0.0),
        limit_up=tick.limit_up,
        limit_down=tick.limit_down,
        **{name: float(getattr(tick, name) or 0.0) for name in BOOK_FIELDS},  # levels 2..5: 0 when absent
    )


def contract_info(contract: ContractData, main_symbol: str) -> ContractInfo:
    return ContractInfo(
        symbol=contract.symbol,
        exchange=contract.exchange.name,
        vt_symbol=contract.vt_symbol,
        name=contract.name,
        size=contract.size,
        pricetick=contract.pricetick,
        min_volume=contract.min_volume,
        is_main=contract.symbol == main_symbol,
    )


# Figures both gateways put in AccountData.extra under these names (CTP: from the trading account reply).
ACCOUNT_FIGURES = ("frozen_margin", "frozen_commission", "frozen_cash", "commission", "realized_pnl", "unrealized_pnl",
                   "pre_balance", "deposit", "withdraw", "withdraw_quota")


def account_state(account: AccountData) -> AccountState:
    extra = account.extra or {}
    return AccountState(
        gateway=account.gateway_name,
        accountid=account.accountid,
        balance=account.balance,
        available=account.available,
        frozen=account.frozen,
        margin=float(extra.get("margin", account.balance - account.available - account.frozen)),
        trading_day=str(extra.get("trading_day", "")),
        **{name: float(extra.get(name, 0.0)) for name in ACCOUNT_FIGURES},
    )


def position_state(position: PositionData) -> PositionState:
    extra = position.extra or {}
    return PositionState(
        gateway=position.gateway_name,
        vt_symbol=f"{position.symbol}.{position.exchange.name}",
        symbol=position.symbol,
        exchange=position.exchange.name,
        direction=DIRECTIONS[position.direction],
        volume=position.volume,
        yd_volume=position.yd_volume,
        td_volume=position.volume - position.yd_volume,
        frozen=position.frozen,
        price=position.price,
        pnl=position.pnl,
        margin=float(extra.get("margin", 0.0)),
        cost_price=float(extra.get("cost_price") or position.price),
        unrealized_pnl=float(extra.get("unrealized_pnl", position.pnl)),
    )


def ai_marks(reference: str | None) -> tuple[int | None, str | None]:
    """(confidence, tool_call_id) of an AI order's or exit-plan close's reference (`parse_ai_reference`),
    each None unless it fits its column (0-100; 32 hex digits): a stray reference never fails a write."""
    confidence, tool_call_id = parse_ai_reference(reference)
    if confidence is not None and not 0 <= confidence <= 100:
        confidence = None
    if tool_call_id is not None and not re.fullmatch(TOOL_CALL_ID_PATTERN, tool_call_id):
        tool_call_id = None
    return confidence, tool_call_id


def order_state(order: OrderData, reference: str | None = None) -> OrderState:
    """`reference`: the one the order was sent with when this update does not state it (vnpy states it
    on the first update only); None: the update's own."""
    extra = order.extra or {}
    reference = order.reference if reference is None else reference
    confidence, tool_call_id = ai_marks(reference)
    return OrderState(
        gateway=order.gateway_name,
        vt_orderid=order.vt_orderid,
        orderid=order.orderid,
        symbol=order.symbol,
        exchange=order.exchange.name,
        direction=enum_name(order.direction),
        offset=enum_name(order.offset),
        type=enum_name(order.type),
        price=order.price,
        volume=order.volume,
        traded=order.traded,
        status=enum_name(order.status),
        reference=reference,
        reason=str(extra.get("reason", "")),
        confidence=confidence,
        tool_call_id=tool_call_id,
        datetime=to_china(order.datetime).isoformat(timespec="milliseconds") if order.datetime else "",
    )


def record_trading_day(obj: OrderData | TradeData, clock: Clock = LIVE) -> str:
    """The trading day of an order or trade, YYYYMMDD: the gateway's own when it gives one (CTP's
    TradingDay, the sim's trading_day), else derived from its time (night session -> next day), else
    from the clock's now."""
    extra = obj.extra or {}
    given = str((extra.get("ctp") or {}).get("TradingDay") or extra.get("trading_day") or "")
    if len(given) == 8 and given.isdigit():
        return given
    return trading_day_str(obj.datetime or clock.now())


def trade_state(trade: TradeData, clock: Clock = LIVE, reference: str = "") -> TradeState:
    """A trade without a time (never seen from a gateway) is stamped with the clock's now. `reference`:
    the one its order was sent with (a trade does not carry it)."""
    dt = to_china(trade.datetime) if trade.datetime else clock.now()
    confidence, tool_call_id = ai_marks(reference)
    return TradeState(
        gateway=trade.gateway_name,
        vt_tradeid=trade.vt_tradeid,
        tradeid=trade.tradeid,
        vt_orderid=trade.vt_orderid,
        symbol=trade.symbol,
        exchange=trade.exchange.name,
        direction=enum_name(trade.direction),
        offset=enum_name(trade.offset),
        price=trade.price,
        volume=trade.volume,
        datetime=dt.isoformat(timespec="milliseconds"),
        trading_day=record_trading_day(trade, clock),
        ts_ms=int(dt.timestamp() * 1000),
        confidence=confidence,
        tool_call_id=tool_call_id,
    )


def ms_to_db(ms: int) -> datetime:
    """Epoch milliseconds -> naive UTC DATETIME(3)."""
    return utc_naive_ms(datetime.fromtimestamp(ms / 1000, tz=CHINA_TZ))


def day_to_db(day: str) -> str:
    """YYYYMMDD -> YYYY-MM-DD."""
    return f"{day[:4]}-{day[4:6]}-{day[6:8]}"
