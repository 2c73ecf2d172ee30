"""Risk events and execution reports from MySQL (sql/0006), as the core's writer records them.

Synchronous (pymysql); the API and the snapshots run these in worker threads. Risk events are listed
newest first (ts, then id) with a keyset cursor "<ts_ms>.<id>" naming the last row seen; the count of
unacknowledged events (the header badge) does not depend on the filters. Executions are the newest
`limit` execution ids by their latest step, each with every step in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from common.db import Database
from common.performance.rows import ts_ms, utc_naive
from web_service.history import BadCursor
from web_service.risk_shapes import (
    EXECUTION_COLUMNS,
    RISK_COLUMNS,
    execution_row_from_db,
    group_executions,
    risk_row_from_db,
)

RISK_CURSOR_RE = re.compile(r"^(\d{1,16})\.(\d{1,18})$", re.ASCII)
MAX_STEPS = (
    5000  # steps read for one answer (an execution has a handful; this only bounds a pathological table)
)


@dataclass(frozen=True)
class RiskQuery:
    unacked: bool = False
    type: str | None = None
    severity: str | None = None
    page_size: int = 50
    cursor: str | None = None


def parse_risk_cursor(cursor: str) -> tuple[Any, int]:
    match = RISK_CURSOR_RE.match(cursor)
    try:
        if not match:
            raise ValueError("no match")
        return utc_naive(int(match.group(1))), int(match.group(2))
    except (ValueError, OverflowError, OSError) as exc:
        raise BadCursor("cursor must be the next_cursor value of a previous page") from exc


def unacked_count(db: Database) -> int:
    return int(db.query("SELECT COUNT(*) AS n FROM risk_events WHERE acknowledged_at IS NULL")[0]["n"])


def risk_page(db: Database, q: RiskQuery) -> dict[str, Any]:
    where: list[str] = []
    args: list[Any] = []
    if q.unacked:
        where.append("acknowledged_at IS NULL")
    for column, value in (("type", q.type), ("severity", q.severity)):
        if value is not None:
            where.append(f"{column} = %s")
            args.append(value)
    if q.cursor:
        ts, row_id = parse_risk_cursor(q.cursor)
        where.append("(ts < %s OR (ts = %s AND id < %s))")
        args += [ts, ts, row_id]
    sql = f"SELECT {RISK_COLUMNS} FROM risk_events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = db.query(sql + " ORDER BY ts DESC, id DESC LIMIT %s", [*args, q.page_size + 1])
    more = len(rows) > q.page_size
    rows = rows[: q.page_size]
    return {
        "items": [risk_row_from_db(r) for r in rows],
        "next_cursor": f"{ts_ms(rows[-1]['ts'])}.{rows[-1]['id']}" if more and rows else None,
        "page_size": q.page_size,
        "unacked_count": unacked_count(db),
    }


def risk_state(db: Database, uid: str) -> dict[str, Any] | None:
    """One risk event by uid (None when MySQL has no such row)."""
    rows = db.query(f"SELECT {RISK_COLUMNS} FROM risk_events WHERE uid = %s", (uid,))
    return risk_row_from_db(rows[0]) if rows else None


def recent_executions(db: Database, execution_id: str | None, limit: int) -> dict[str, Any]:
    """The newest `limit` executions (or the one named), each with its steps oldest first."""
    if execution_id is not None:
        ids = [execution_id]
    else:
        found = db.query(
            "SELECT execution_id, MAX(ts) AS last_ts FROM execution_reports GROUP BY execution_id"
            " ORDER BY last_ts DESC LIMIT %s",
            (limit,),
        )
        ids = [r["execution_id"] for r in found]
    steps: list[dict[str, Any]] = []
    if ids:
        marks = ",".join(["%s"] * len(ids))
        rows = db.query(
            f"SELECT {EXECUTION_COLUMNS} FROM execution_reports WHERE execution_id IN ({marks})"
            " ORDER BY ts, id LIMIT %s",
            [*ids, MAX_STEPS],
        )
        steps = [execution_row_from_db(r) for r in rows]
    return {"items": group_executions(steps), "limit": limit}
