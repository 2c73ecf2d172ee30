"""Performance over a range, read from MySQL: closed trades from the trades table, drawdown and daily
ratios from account_snapshots (the account of the newest snapshot), commission from the account.

Opening lots can predate the range, so fills are matched from the start of the records (at most
MAX_FILLS, newest kept; the answer says when it was cut) and closed trades are then kept by range.
The matching is kept in a FillLedger between requests and extended with new trades only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from common.db import Database
from common.trading_calendar import trading_day
from web_service import performance
from web_service.history import RANGE_DAYS, range_filter, ts_ms

MAX_FILLS = 200_000
FILL_COLUMNS = "id, symbol, direction, offset_, price, volume, trading_day, ts, strategy"


def _fill(row: dict[str, Any]) -> performance.Fill:
    return performance.Fill(row["symbol"], row["direction"], row["offset_"], Decimal(row["price"]),
                            Decimal(row["volume"]), row["trading_day"], row["ts"], row["strategy"])


class FillLedger:
    """The matched fills, kept between requests: each read fetches only trades recorded since the last
    one (reading 200,000 rows costs seconds, a few new ones milliseconds). A fill recorded late with an
    older time than one already matched (a spool drained after an outage) rebuilds from scratch, as
    does a trades table that went backwards (recreated). The core's single writer commits trades in id
    order, so `id > last seen` misses none."""

    def __init__(self, max_fills: int = MAX_FILLS) -> None:
        self.max_fills = max_fills
        self._lock = threading.Lock()
        self.rebuilds = 0  # reads from scratch after the first, for tests and logs
        self._reset()

    def _reset(self) -> None:
        self.matching = performance.Matching()
        self.last_id = 0
        self.last_key: tuple[datetime, int] | None = None
        self.fills = 0
        self.truncated = False

    def _apply(self, rows: list[dict[str, Any]], multiplier_of: Callable[[str], Decimal]) -> None:
        performance.match_fills((_fill(r) for r in rows), multiplier_of, self.matching)
        self.fills += len(rows)
        self.last_id = max(self.last_id, *(r["id"] for r in rows))
        self.last_key = (rows[-1]["ts"], rows[-1]["id"])

    def _load_all(self, db: Database, multiplier_of: Callable[[str], Decimal]) -> None:
        self._reset()
        rows = db.query(f"SELECT {FILL_COLUMNS} FROM (SELECT {FILL_COLUMNS} FROM trades ORDER BY ts DESC, id DESC"
                        " LIMIT %s) newest ORDER BY ts, id", [self.max_fills + 1])
        self.truncated = len(rows) > self.max_fills
        rows = rows[1:] if self.truncated else rows
        if rows:
            self._apply(rows, multiplier_of)

    def _refresh(self, db: Database, multiplier_of: Callable[[str], Decimal]) -> None:
        newest = db.query("SELECT MAX(id) AS id FROM trades")[0]["id"] or 0
        if self.last_key is None or newest < self.last_id:
            self._load_all(db, multiplier_of)
            return
        if newest == self.last_id:
            return
        rows = db.query(f"SELECT {FILL_COLUMNS} FROM trades WHERE id > %s ORDER BY ts, id", [self.last_id])
        if rows and (rows[0]["ts"], rows[0]["id"]) < self.last_key:
            self.rebuilds += 1
            self._load_all(db, multiplier_of)
        elif rows:
            self._apply(rows, multiplier_of)

    def view(self, db: Database, multiplier_of: Callable[[str], Decimal],
             keep: Callable[[performance.ClosedTrade], bool]) -> dict[str, Any]:
        """Bring the matching up to date, then read it (under the lock: a consistent view)."""
        with self._lock:
            self._refresh(db, multiplier_of)
            return {
                "closed": [t for t in self.matching.closed if keep(t)],
                "unmatched_close_volume": float(self.matching.unmatched_volume),
                "open_lots": self.matching.open_volume(),
                "fills_considered": self.fills,
                "fills_truncated": self.truncated,
            }


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


def performance_report(db: Database, ledger: FillLedger, range_name: str,
                       multiplier_of: Callable[[str], Decimal], now: datetime | None = None) -> dict[str, Any]:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    view = ledger.view(db, multiplier_of, lambda trade: _in_range(trade, range_name, now))
    closed = view.pop("closed")
    return {
        "range": range_name,
        "trades": performance.trade_stats(closed),
        "by_strategy": performance.stats_by_strategy(closed),
        "equity": equity_stats(db, range_name, now),
        **view,
        "pnl_basis": "before commission",
    }
