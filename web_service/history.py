"""History from MySQL (the system of record): trades, equity curve, strategy triggers, system events.

Synchronous (pymysql); the API runs these in worker threads. Lists are newest first with keyset
pagination (a cursor naming the last row seen), so page 1 and page 10,000 cost the same.
Timestamps are stored as naive UTC; rows leave here with `ts_ms` (epoch ms) and ISO UTC `ts`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from common.clock import LIVE, Clock
from common.db import Database
from common.performance.ranges import market_now, range_filter
from common.performance.rows import jsonable, ts_ms, utc_naive

CURSOR_RE = re.compile(r"^(\d{8})\.(\d{1,16})\.(\d{1,18})$", re.ASCII)
TRADE_COLUMNS = (
    "id, gateway, exchange, tradeid, direction, trading_day, symbol, orderid, offset_, price, volume, strategy, ts"
)
EQUITY_MAX_POINTS = 2000


class BadCursor(ValueError):
    """The pagination cursor is not one this service produced."""


@dataclass(frozen=True)
class TradeQuery:
    symbol: str | None = None
    direction: str | None = None
    day_from: date | None = None
    day_to: date | None = None
    time_from: datetime | None = None  # naive UTC
    time_to: datetime | None = None  # naive UTC
    page_size: int = 50
    cursor: str | None = None

    @property
    def by_day(self) -> bool:
        return self.day_from is not None or self.day_to is not None


def parse_cursor(cursor: str) -> tuple[date, datetime, int]:
    match = CURSOR_RE.match(cursor)
    try:
        if not match:
            raise ValueError("no match")
        day = datetime.strptime(match.group(1), "%Y%m%d").date()
        return day, utc_naive(int(match.group(2))), int(match.group(3))
    except (ValueError, OverflowError, OSError) as exc:  # 20251399, a time past year 9999 ...
        raise BadCursor("cursor must be the next_cursor value of a previous page") from exc


def make_cursor(row: dict[str, Any]) -> str:
    return f"{row['trading_day'].strftime('%Y%m%d')}.{ts_ms(row['ts'])}.{row['id']}"


def _trade_where(q: TradeQuery, cursor: str | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    for column, value, op in (
        ("symbol", q.symbol, "="), ("direction", q.direction, "="),
        ("trading_day", q.day_from, ">="), ("trading_day", q.day_to, "<="),
        ("ts", q.time_from, ">="), ("ts", q.time_to, "<"),
    ):
        if value is not None:
            where.append(f"{column} {op} %s")
            args.append(value)
    if cursor:
        day, ts, row_id = parse_cursor(cursor)
        if q.by_day:
            where.append("(trading_day < %s OR (trading_day = %s AND (ts < %s OR (ts = %s AND id < %s))))")
            args += [day, day, ts, ts, row_id]
        else:
            where.append("(ts < %s OR (ts = %s AND id < %s))")
            args += [ts, ts, row_id]
    return where, args


def _trade_sql(q: TradeQuery, cursor: str | None, limit: int) -> tuple[str, list[Any]]:
    where, args = _trade_where(q, cursor)
    order = "trading_day DESC, ts DESC, id DESC" if q.by_day else "ts DESC, id DESC"
    sql = f"SELECT {TRADE_COLUMNS} FROM trades"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order} LIMIT %s"
    return sql, [*args, limit]


def trade_page(db: Database, q: TradeQuery) -> dict[str, Any]:
    sql, args = _trade_sql(q, q.cursor, q.page_size + 1)
    rows = db.query(sql, args)
    more = len(rows) > q.page_size
    rows = rows[: q.page_size]
    return {
        "items": [jsonable(r) for r in rows],
        "next_cursor": make_cursor(rows[-1]) if more and rows else None,
        "page_size": q.page_size,
    }


def trade_batches(db: Database, q: TradeQuery, batch: int = 5000) -> Iterator[list[dict[str, Any]]]:
    """Every trade matching `q` (ignoring its page size), newest first, in batches."""
    cursor = q.cursor
    while True:
        sql, args = _trade_sql(q, cursor, batch)
        rows = db.query(sql, args)
        if not rows:
            return
        yield rows
        if len(rows) < batch:
            return
        cursor = make_cursor(rows[-1])


def equity_curve(db: Database, range_name: str, now: datetime | None = None, clock: Clock = LIVE) -> dict[str, Any]:
    """Balance over time from account_snapshots, at most EQUITY_MAX_POINTS points (bucketed)."""
    now = now or market_now(db, clock)
    where, args = range_filter(range_name, now)
    stats = db.query(f"SELECT COUNT(*) n, MIN(ts) lo, MAX(ts) hi FROM account_snapshots WHERE {where}", args)[0]
    bucket_s = 0
    if stats["n"] > EQUITY_MAX_POINTS:
        span = (stats["hi"] - stats["lo"]).total_seconds()
        bucket_s = max(1, math.ceil(span / (EQUITY_MAX_POINTS - 2)))  # aligned buckets: at most MAX
        sql = (  # the last snapshot of each bucket
            "SELECT s.ts, s.balance, s.unrealized_pnl, s.margin FROM account_snapshots s JOIN"
            f" (SELECT MAX(ts) ts FROM account_snapshots WHERE {where}"
            " GROUP BY FLOOR(UNIX_TIMESTAMP(ts) / %s)) b ON b.ts = s.ts ORDER BY s.ts, s.id"
        )
        rows = list({r["ts"]: r for r in db.query(sql, [*args, bucket_s])}.values())
    else:
        rows = db.query(
            f"SELECT ts, balance, unrealized_pnl, margin FROM account_snapshots WHERE {where} ORDER BY ts", args
        )
    points = [[ts_ms(r["ts"]), float(r["balance"]), float(r["unrealized_pnl"]), float(r["margin"])] for r in rows]
    return {"range": range_name, "as_of_ms": ts_ms(now.astimezone(UTC).replace(tzinfo=None)),
            "bucket_s": bucket_s, "points": points, "columns": ["ts_ms", "balance", "unrealized_pnl", "margin"]}


def split_ids(text: str) -> list[str]:
    """vt_orderids as stored: a JSON list or comma-separated."""
    text = (text or "").strip()
    if text.startswith("["):
        try:
            return [str(x) for x in json.loads(text)]
        except ValueError:
            pass
    return [part.strip() for part in text.strip("[]").split(",") if part.strip()]


def _id_page(db: Database, select: str, cursor: int | None, page_size: int,
             where: list[str] | None = None, args: list[Any] | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of `select`, newest id first, after `cursor` (an id); with the next page's cursor."""
    where, args = list(where or []), list(args or [])
    if cursor:
        where.append("id < %s")
        args.append(cursor)
    sql = select + (" WHERE " + " AND ".join(where) if where else "")
    rows = db.query(sql + " ORDER BY id DESC LIMIT %s", [*args, page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    return [jsonable(r) for r in rows], (str(rows[-1]["id"]) if more else None)


def _json_field(items: list[dict[str, Any]], name: str) -> None:
    for item in items:
        if isinstance(item.get(name), str):
            item[name] = json.loads(item[name])


def trigger_page(db: Database, strategy: str | None, cursor: int | None, page_size: int) -> dict[str, Any]:
    where, args = (["strategy = %s"], [strategy]) if strategy else ([], [])
    items, next_cursor = _id_page(db, "SELECT * FROM strategy_triggers", cursor, page_size, where, args)
    for item in items:
        item["vt_orderids"] = split_ids(item["vt_orderids"])
    return {"items": items, "next_cursor": next_cursor, "page_size": page_size}


def system_events(db: Database, cursor: int | None, page_size: int) -> dict[str, Any]:
    select = "SELECT id, ts, level, kind, message, detail FROM system_events"
    items, next_cursor = _id_page(db, select, cursor, page_size)
    _json_field(items, "detail")
    return {"items": items, "next_cursor": next_cursor, "page_size": page_size}


AUDIT_COLUMNS = ("id, uid, command_id, type, params, source, operator, issued_at, received_at, status, reason,"
                 " replied_at")


def command_audit_page(db: Database, cursor: int | None, page_size: int) -> dict[str, Any]:
    """Operator commands and their answers, newest first (the core's audit table)."""
    items, next_cursor = _id_page(db, f"SELECT {AUDIT_COLUMNS} FROM command_audit", cursor, page_size)
    _json_field(items, "params")
    return {"items": items, "next_cursor": next_cursor, "page_size": page_size}


def mysql_ok(db: Database) -> bool:
    try:
        return db.query("SELECT 1 AS ok")[0]["ok"] == 1
    except Exception:
        return False
