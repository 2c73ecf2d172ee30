"""Performance over a range, read from MySQL: closed trades from `positions_closed` (booked by the core as
fills close positions, so nothing is matched here), drawdown and daily ratios from account_snapshots
(the account of the newest snapshot), commission from the account, and the daily ledger (`pnl_records`).

One closed trade per closing fill: its rows (one per lot taken) are grouped, entry = volume-weighted
open price, PnL by open price before commission. Closes the core could not match to a recorded
opening are counted (`unmatched_close_volume`, in the range), never guessed. `FillLedger` keeps only
the count of recorded trades between requests (`fills_considered`), read incrementally.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from common.clock import LIVE, Clock
from common.db import Database
from common.performance import stats as performance
from common.performance.ranges import day_filter, market_now, range_filter
from common.performance.rows import jsonable, ts_ms
from common.trading_calendar import trading_day

MAX_FILLS = 0  # no cap any more: closed positions are stored, not matched from fills here
LEDGER_DAYS = 31  # daily ledger rows returned, newest first
CLOSED_BY_FILL = (
    "SELECT close_trade_id, MAX(symbol) AS symbol, MAX(direction) AS side, SUM(volume) AS volume,"
    " SUM(open_price * volume) / SUM(volume) AS entry, MAX(close_price) AS exit_price, MIN(open_ts) AS opened,"
    " MAX(close_ts) AS closed, MAX(trading_day) AS trading_day, SUM(pnl_open) AS pnl, MAX(strategy) AS strategy,"
    " MAX(exit_reason) AS exit_reason, SUM(commission) AS commission"
    " FROM positions_closed WHERE lot_id IS NOT NULL AND {where}"
    " GROUP BY close_trade_id, reconciliation_id ORDER BY closed, close_trade_id"  # external closes: no trade
)


def closed_filter(range_name: str, now: datetime) -> tuple[str, list[Any]]:
    """The range on positions_closed: today = the close's trading day, week/month = close time."""
    return range_filter(range_name, now, time_column="close_ts")


def closed_trade(row: dict[str, Any]) -> performance.ClosedTrade:
    return performance.ClosedTrade(
        row["symbol"], row["side"], Decimal(row["volume"]), Decimal(row["entry"]), Decimal(row["exit_price"]),
        row["opened"], row["closed"], row["trading_day"], Decimal(row["pnl"]), row["strategy"], row["exit_reason"],
        None if row["commission"] is None else Decimal(row["commission"]),
    )  # fmt: skip


class FillLedger:
    """What the report keeps between requests: the number of recorded trades, counted incrementally
    (trades recorded since the last read only; a trades table that went backwards is counted anew)."""

    def __init__(self, max_fills: int = MAX_FILLS) -> None:
        self.max_fills = max_fills  # kept for callers; there is no cap
        self._lock = threading.Lock()
        self.recounts = 0
        self.fills = 0
        self.last_id = 0

    def count(self, db: Database) -> int:
        with self._lock:
            row = db.query("SELECT COUNT(*) AS n, MAX(id) AS id FROM trades WHERE id > %s", [self.last_id])[0]
            if row["id"] is None and self.last_id:  # nothing new, or the table was emptied: check which
                newest = db.query("SELECT MAX(id) AS id FROM trades")[0]["id"] or 0
                if newest < self.last_id:
                    self.recounts += 1
                    self.fills, self.last_id = 0, 0
                    row = db.query("SELECT COUNT(*) AS n, MAX(id) AS id FROM trades")[0]
            self.fills += int(row["n"])
            self.last_id = max(self.last_id, int(row["id"] or 0))
            return self.fills

    def view(self, db: Database, range_name: str, now: datetime) -> dict[str, Any]:
        where, args = closed_filter(range_name, now)
        closed = [closed_trade(r) for r in db.query(CLOSED_BY_FILL.format(where=where), args)]
        unmatched = db.query(f"SELECT COALESCE(SUM(volume), 0) AS v FROM positions_closed WHERE lot_id IS NULL"
                             f" AND {where}", args)[0]["v"]
        lots = db.query("SELECT symbol, direction, SUM(remaining) AS v FROM position_lots WHERE remaining > 0"
                        " GROUP BY symbol, direction ORDER BY symbol, direction")
        return {
            "closed": closed,
            "unmatched_close_volume": float(unmatched),
            "open_lots": {f"{r['symbol']} {r['direction']}": float(r["v"]) for r in lots},
            "fills_considered": self.count(db),
            "fills_truncated": False,
        }


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


def ledger_rows(db: Database, range_name: str, now: datetime) -> list[dict[str, Any]]:
    """The account's daily ledger (ours beside the broker's, the verdict), newest day first."""
    where, args = day_filter(range_name, now)
    rows = db.query(
        "SELECT gateway, accountid, trading_day, realized_pnl, realized_pnl_open, commission, broker_realized_pnl,"
        " broker_commission, pnl_diff, commission_diff, verdict, note FROM pnl_records"
        f" WHERE symbol = '' AND {where} ORDER BY trading_day DESC LIMIT %s", [*args, LEDGER_DAYS])
    return [jsonable(r) for r in rows]


def performance_report(db: Database, ledger: FillLedger, range_name: str,
                       now: datetime | None = None, clock: Clock = LIVE) -> dict[str, Any]:
    """The /api/performance answer (each closed row carries its contract size: no multiplier needed);
    `now` defaults to the market's time on record (`clock`'s without records)."""
    now = (now or market_now(db, clock)).astimezone(UTC)
    view = ledger.view(db, range_name, now)
    closed = view.pop("closed")
    return {
        "range": range_name,
        "as_of_ms": ts_ms(now.replace(tzinfo=None)),  # the market time the range is counted from
        "trading_day": trading_day(now).isoformat(),
        "trades": performance.trade_stats(closed),
        "by_strategy": performance.stats_by_strategy(closed),
        "by_exit_reason": performance.stats_by_exit_reason(closed),
        "equity": equity_stats(db, range_name, now),
        "ledger": ledger_rows(db, range_name, now),
        **view,
        "pnl_basis": "before commission",
    }
