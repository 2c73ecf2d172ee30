"""Performance over a range, read from MySQL: closed trades from the trades table, drawdown and daily
ratios from account_snapshots (the account of the newest snapshot), commission from the account.

Opening lots can predate the range, so fills are matched from the start of the records (at most
MAX_FILLS, newest kept; the answer says when it was cut) and closed trades are then kept by range.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from common.db import Database
from common.trading_calendar import trading_day
from web_service import performance
from web_service.history import RANGE_DAYS, range_filter, ts_ms

MAX_FILLS = 200_000


def load_fills(db: Database) -> tuple[list[performance.Fill], bool]:
    rows = db.query(
        "SELECT symbol, direction, offset_, price, volume, trading_day, ts, id FROM"
        " (SELECT * FROM trades ORDER BY ts DESC, id DESC LIMIT %s) newest ORDER BY ts, id",
        [MAX_FILLS + 1],
    )
    truncated = len(rows) > MAX_FILLS
    rows = rows[1:] if truncated else rows
    fills = [performance.Fill(r["symbol"], r["direction"], r["offset_"], Decimal(r["price"]), Decimal(r["volume"]),
                              r["trading_day"], r["ts"]) for r in rows]
    return fills, truncated


def _in_range(trade: performance.ClosedTrade, range_name: str, now: datetime) -> bool:
    if range_name == "today":
        return trade.trading_day == trading_day(now)
    if range_name in RANGE_DAYS:
        return trade.closed >= (now - timedelta(days=RANGE_DAYS[range_name])).replace(tzinfo=None)
    return True


def equity_stats(db: Database, range_name: str, now: datetime) -> dict[str, Any]:
    newest = db.query("SELECT gateway, accountid FROM account_snapshots ORDER BY ts DESC, id DESC LIMIT 1")
    if not newest:
        return {"account": None, "snapshots": 0, "drawdown": performance.max_drawdown([]),
                "ratios": performance.daily_ratios([]), "commission": None}
    where, args = range_filter(range_name, now)
    where += " AND gateway = %s AND accountid = %s"
    args += [newest[0]["gateway"], newest[0]["accountid"]]
    rows = db.query(f"SELECT ts, trading_day, balance FROM account_snapshots WHERE {where} ORDER BY ts, id", args)
    points = [(r["ts"], float(r["balance"])) for r in rows]
    day_close = {r["trading_day"]: float(r["balance"]) for r in rows}  # rows are in time order: the last wins
    commission = db.query(  # each trading day's commission is cumulative in the account: take its largest
        f"SELECT SUM(c) AS total FROM (SELECT MAX(commission) AS c FROM account_snapshots WHERE {where}"
        " GROUP BY trading_day) per_day", args)[0]["total"]
    drawdown = performance.max_drawdown(points)
    for key in ("peak_ts", "trough_ts"):
        drawdown[key] = ts_ms(drawdown[key]) if drawdown[key] else None
    return {"account": f"{newest[0]['gateway']}.{newest[0]['accountid']}", "snapshots": len(rows),
            "drawdown": drawdown, "ratios": performance.daily_ratios(sorted(day_close.items())),
            "commission": round(float(commission), 2) if commission is not None else None}


def performance_report(db: Database, range_name: str, multiplier_of: Callable[[str], Decimal],
                       now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    fills, truncated = load_fills(db)
    matching = performance.match_fills(fills, multiplier_of)
    closed = [t for t in matching.closed if _in_range(t, range_name, now.astimezone(UTC))]
    return {
        "range": range_name,
        "trades": performance.trade_stats(closed),
        "equity": equity_stats(db, range_name, now),
        "unmatched_close_volume": float(matching.unmatched_volume),
        "open_lots": matching.open_volume(),
        "fills_considered": len(fills),
        "fills_truncated": truncated,
        "pnl_basis": "before commission",
    }
