"""One row shape per kind of record, whether it comes from MySQL (API pages) or live from the
core's events stream (WebSocket), so the browser renders both the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from common.contract import CommandAudit, SystemEvent, TradeState, TriggerRecord


def iso_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dashed_day(day: str) -> str:
    """'20270115' -> '2027-01-15' (already dashed days pass through)."""
    return f"{day[:4]}-{day[4:6]}-{day[6:8]}" if len(day) == 8 and day.isdigit() else day


def trade_row(trade: TradeState) -> dict[str, Any]:
    return {
        "id": None,
        "gateway": trade.gateway,
        "exchange": trade.exchange,
        "tradeid": trade.tradeid,
        "direction": trade.direction,
        "trading_day": dashed_day(trade.trading_day),
        "symbol": trade.symbol,
        "orderid": trade.vt_orderid.split(".", 1)[-1],
        "offset": trade.offset,
        "price": trade.price,
        "volume": trade.volume,
        "strategy": None,
        "ts": iso_utc(trade.ts_ms),
        "ts_ms": trade.ts_ms,
    }


def trigger_row(trigger: TriggerRecord) -> dict[str, Any]:
    data = trigger.model_dump()
    data.update(id=None, ts=iso_utc(trigger.ts_ms), trading_day=dashed_day(trigger.trading_day))
    return data


def system_row(event: SystemEvent) -> dict[str, Any]:
    data = event.model_dump()
    data.update(id=None, ts=iso_utc(event.ts_ms))
    return data


def audit_row(audit: CommandAudit) -> dict[str, Any]:
    """The columns of GET /api/audit (its datetimes as ISO UTC plus *_ms)."""
    row: dict[str, Any] = {"id": None, "uid": audit.uid, "command_id": audit.command_id, "type": audit.type,
                           "params": audit.params, "source": audit.source, "operator": audit.operator,
                           "status": audit.status, "reason": audit.reason}
    for name, ms in (("issued_at", audit.issued_ms), ("received_at", audit.received_ms),
                     ("replied_at", audit.replied_ms)):
        row[name], row[f"{name}_ms"] = iso_utc(ms), ms
    return row
