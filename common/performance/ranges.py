"""Report ranges on the market's clock: today (the trading day), week, month or all.

"Now" for a range is the market's time as the records show it: the newest equity mark or trade (the
core stamps both with the market clock: the replayed tick's time in a replay, the exchange's time live),
so trades and equity points of a replayed day fall in that day's `today`, never in the wall clock's.
With no records yet it is the clock passed in (the wall clock unless injected). Times in MySQL are naive UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from common.clock import LIVE, Clock
from common.db import Database
from common.trading_calendar import trading_day

RANGE_DAYS = {"week": 7, "month": 30}
NEWEST_RECORD = (
    "SELECT GREATEST(COALESCE((SELECT MAX(ts) FROM account_snapshots), '1970-01-01'),"
    " COALESCE((SELECT MAX(ts) FROM trades), '1970-01-01')) AS t"
)
EPOCH = datetime(1970, 1, 2)


def market_now(db: Database, clock: Clock = LIVE) -> datetime:
    """The market clock's latest time on record (aware UTC), else `clock`'s now."""
    newest = db.query(NEWEST_RECORD)[0]["t"]
    if isinstance(newest, str):  # GREATEST over mixed arguments may come back as text
        newest = datetime.fromisoformat(newest)
    if newest is None or newest < EPOCH:
        return clock.now().astimezone(UTC)
    return newest.replace(tzinfo=UTC)


def _since(now: datetime, days: int) -> datetime:
    return (now - timedelta(days=days)).astimezone(UTC).replace(tzinfo=None)


def range_filter(range_name: str, now: datetime, time_column: str = "ts") -> tuple[str, list[Any]]:
    """SQL condition for a range: today = the trading day of `now`, week/month = the time column."""
    if range_name == "today":
        return "trading_day = %s", [trading_day(now)]
    if range_name in RANGE_DAYS:
        return f"{time_column} >= %s", [_since(now, RANGE_DAYS[range_name])]
    return "1=1", []


def day_filter(range_name: str, now: datetime) -> tuple[str, list[Any]]:
    """The same range on a table with only a trading day (the daily ledger)."""
    if range_name == "today":
        return "trading_day = %s", [trading_day(now)]
    if range_name in RANGE_DAYS:
        return "trading_day >= %s", [trading_day(now - timedelta(days=RANGE_DAYS[range_name]))]
    return "1=1", []
