"""The AI trader's records in MySQL as the AI page reads them: the MCP tool calls (mcp_tool_calls) and the
orders the agent sent (orders with a tool_call_id), each with the reason it gave in that call.

Synchronous (pymysql); the API runs these in worker threads. Lists are newest first, paged by id. A call's
row has the same shape read from MySQL (`call_page`) and pushed live (`call_row`, from the dict the MCP call
log hands the hub): `request` as recorded (secrets already masked), `response` left out of a list when its
JSON is longer than RESPONSE_INLINE_MAX (`response_truncated`; GET /api/ai/calls/{call_id} has it whole).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from common.contract import EXIT_REFERENCE
from common.db import Database
from common.performance.rows import jsonable

RESPONSE_INLINE_MAX = 4000  # characters of a response's JSON shown in a list; longer ones are fetched alone
CALL_COLUMNS = "id, call_id, tool, status, reason, latency_ms, ts, client_request_id, request, response"
# The agent's reason: execute_trade's `reason` argument, at the top of the recorded request or under `arguments`.
REASON_SQL = ("COALESCE(JSON_UNQUOTE(JSON_EXTRACT(c.request, '$.reason')),"
              " JSON_UNQUOTE(JSON_EXTRACT(c.request, '$.arguments.reason')))")
ORDER_COLUMNS = ("o.id, o.gateway, o.orderid, o.trading_day, o.symbol, o.exchange, o.direction, o.offset_,"
                 " o.order_type, o.price, o.volume, o.traded, o.status, o.reason AS order_reason, o.confidence,"
                 " o.tool_call_id, o.reference, o.ts, o.updated_at, c.tool, " + REASON_SQL + " AS agent_reason")


def _loads(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _fit_response(row: dict[str, Any], whole: bool) -> dict[str, Any]:
    response = row.get("response")
    text = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False, default=str)
    size = 0 if response is None else len(text)
    row["response_chars"] = size
    row["response_truncated"] = not whole and size > RESPONSE_INLINE_MAX
    row["response"] = None if row["response_truncated"] else _loads(response)
    row["request"] = _loads(row.get("request"))
    return row


def _db_row(raw: dict[str, Any], whole: bool = False) -> dict[str, Any]:
    row = jsonable(raw)
    row["latency_ms"] = float(row["latency_ms"])
    return _fit_response(row, whole)


def call_row(call: dict[str, Any]) -> dict[str, Any]:
    """A tool call as the MCP call log reports it (call_id, tool, status, reason, latency_ms, ts_ms,
    client_request_id, request, response) in the list's row shape (`id` None: not read from MySQL)."""
    ms = int(call.get("ts_ms") or 0)
    row = {
        "id": None, "call_id": str(call.get("call_id", "")), "tool": str(call.get("tool", "")),
        "status": str(call.get("status", "")), "reason": str(call.get("reason") or ""),
        "latency_ms": float(call.get("latency_ms") or 0.0), "ts_ms": ms,
        "ts": datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "client_request_id": call.get("client_request_id"), "request": call.get("request"),
        "response": call.get("response"),
    }
    return _fit_response(row, whole=False)


def call_page(db: Database, limit: int, before_id: int | None) -> dict[str, Any]:
    """Tool calls, newest first: `limit` rows older than `before_id` (None: the newest)."""
    where, args = ("WHERE id < %s", [before_id]) if before_id else ("", [])
    rows = db.query(f"SELECT {CALL_COLUMNS} FROM mcp_tool_calls {where} ORDER BY id DESC LIMIT %s", [*args, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [_db_row(r) for r in rows], "next_before_id": int(rows[-1]["id"]) if more and rows else None,
            "limit": limit}


def call_by_id(db: Database, call_id: str) -> dict[str, Any] | None:
    """One tool call with its whole response; None when there is none with this id."""
    rows = db.query(f"SELECT {CALL_COLUMNS} FROM mcp_tool_calls WHERE call_id = %s", [call_id])
    return _db_row(rows[0], whole=True) if rows else None


def order_page(db: Database, page_size: int, cursor: int | None) -> dict[str, Any]:
    """The agent's orders (a tool_call_id), newest first, each with its call's tool and the agent's reason."""
    where, args = ["o.tool_call_id IS NOT NULL"], []
    if cursor:
        where.append("o.id < %s")
        args.append(cursor)
    sql = (f"SELECT {ORDER_COLUMNS} FROM orders o LEFT JOIN mcp_tool_calls c ON c.call_id = o.tool_call_id"
           f" WHERE {' AND '.join(where)} ORDER BY o.id DESC LIMIT %s")
    rows = db.query(sql, [*args, page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    items = []
    for raw in rows:
        row = jsonable(raw)
        row["vt_orderid"] = f"{row['gateway']}.{row['orderid']}"
        row["reason"] = row.pop("agent_reason")
        parts = str(row.pop("reference", "") or "").split(":")
        row["exit_reason"] = parts[1] if len(parts) == 3 and parts[0] == EXIT_REFERENCE else None
        items.append(row)
    return {"items": items, "next_cursor": str(rows[-1]["id"]) if more and rows else None, "page_size": page_size}

