"""Row shapes of risk events and execution reports, one per kind whether it comes from MySQL (the API,
the WebSocket snapshots) or live from the core's events stream, so the browser renders both the same way.

A risk event row is the `RiskEvent` shape plus `id` (MySQL's, None when pushed live) and `ts` (ISO UTC);
a risk update row is the `RiskEventUpdate` shape plus `"update": true`; an execution step row is the
`ExecutionReport` shape plus `id` and `ts`. Executions group their steps in order.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from common.contract import ExecutionReport, RiskEvent, RiskEventUpdate
from common.performance.rows import ts_ms
from web_service.shapes import dashed_day, iso_utc

RISK_COLUMNS = (
    "id, uid, ts, trading_day, type, severity, key_, symbol, message, detail, cleared_at,"
    " acknowledged_by, acknowledged_at"
)
EXECUTION_COLUMNS = (
    "id, uid, ts, trading_day, execution_id, source, vt_symbol, direction, offset_, step,"
    " vt_orderid, price, volume, traded, attempt, message"
)


def _day(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else dashed_day(str(value))


def _ms(value: Any) -> int | None:
    return ts_ms(value) if value is not None else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, Decimal | int | float) else None


def risk_row(event: RiskEvent, row_id: int | None = None) -> dict[str, Any]:
    data = event.model_dump(mode="json")
    data.update(id=row_id, ts=iso_utc(event.ts_ms), trading_day=dashed_day(event.trading_day))
    return data


def risk_row_from_db(row: dict[str, Any]) -> dict[str, Any]:
    """A `risk_events` row (sql/0006) in the shape of `risk_row`."""
    detail = row["detail"]
    if isinstance(detail, str | bytes):
        try:
            detail = json.loads(detail)
        except ValueError:
            detail = {"raw": detail if isinstance(detail, str) else detail.decode(errors="replace")}
    stamp = ts_ms(row["ts"])
    return {
        "uid": row["uid"],
        "ts_ms": stamp,
        "trading_day": _day(row["trading_day"]),
        "type": row["type"],
        "severity": row["severity"],
        "key": row["key_"],
        "symbol": row["symbol"] or "",
        "message": row["message"],
        "detail": detail if isinstance(detail, dict) else {},
        "cleared_ms": _ms(row["cleared_at"]),
        "acknowledged_by": row["acknowledged_by"] or "",
        "acknowledged_ms": _ms(row["acknowledged_at"]),
        "id": row["id"],
        "ts": iso_utc(stamp),
    }


def risk_update_row(update: RiskEventUpdate) -> dict[str, Any]:
    """A cleared or acknowledged event: only the fields that changed are set; `update` tells it from a new event."""
    return {**update.model_dump(mode="json"), "update": True}


def execution_row(report: ExecutionReport, row_id: int | None = None) -> dict[str, Any]:
    data = report.model_dump(mode="json")
    data.update(id=row_id, ts=iso_utc(report.ts_ms), trading_day=dashed_day(report.trading_day))
    return data


def execution_row_from_db(row: dict[str, Any]) -> dict[str, Any]:
    """An `execution_reports` row (sql/0006) in the shape of `execution_row`."""
    stamp = ts_ms(row["ts"])
    return {
        "uid": row["uid"],
        "ts_ms": stamp,
        "trading_day": _day(row["trading_day"]),
        "execution_id": row["execution_id"],
        "source": row["source"],
        "vt_symbol": row["vt_symbol"],
        "direction": row["direction"],
        "offset": row["offset_"],
        "step": row["step"],
        "vt_orderid": row["vt_orderid"],
        "price": _float(row["price"]),
        "volume": _float(row["volume"]),
        "traded": _float(row["traded"]),
        "attempt": int(row["attempt"]),
        "message": row["message"],
        "id": row["id"],
        "ts": iso_utc(stamp),
    }


def group_executions(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Execution step rows -> one entry per execution_id, its steps oldest first; the most recently active
    execution first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        groups.setdefault(step["execution_id"], []).append(step)
    out = []
    for execution_id, rows in groups.items():
        rows.sort(key=lambda s: (s["ts_ms"], s["id"] if s["id"] is not None else 0))
        first, last = rows[0], rows[-1]
        out.append(
            {
                "execution_id": execution_id,
                "source": first["source"],
                "vt_symbol": first["vt_symbol"],
                "direction": first["direction"],
                "offset": first["offset"],
                "trading_day": first["trading_day"],
                "started_ms": first["ts_ms"],
                "updated_ms": last["ts_ms"],
                "last_step": last["step"],
                "steps": rows,
            }
        )
    out.sort(key=lambda g: g["updated_ms"], reverse=True)
    return out
