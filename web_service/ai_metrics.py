"""Performance of one strategy (the AI trader's by default) for the `get_performance_metrics` MCP tool and the
AI page (issue 13), read from the closed positions the core books (`positions_closed`) and its lots
(`position_lots`), with one `performance_snapshots` row per tool call.

- Windows: daily = the trading day of `now` (the closes' trading day), weekly = closes of the last 7 days,
  all = everything; `now` is the market clock's (common/performance/ranges.market_now), as passed.
- A strategy's closed trades are its closing fills (the `strategy` column: "ai" for the AI's orders and
  its exit-plan closes), one trade per closing fill as in the performance report (common/performance);
  PnL by open price, before commission (the commission is summed beside it). Closes with no recorded
  opening (lot_id NULL) have no PnL: they are counted in the notes, never guessed.
- Sharpe and Sortino are daily and annualised (252 days, risk-free 0) on the strategy's PnL per trading
  day, from its first trading day with a close in the window to `now`'s, a trading day without a close
  counting 0; null (with a note) below 2 days.
- Max drawdown is the largest fall of the cumulative closed PnL (starting at 0) from a running peak, CNY.
- Average confidence: the closed volume's opening confidence, weighted by volume, of the rows that have one.
- Hold ratios are time-weighted over the window's wall-clock time (nights and weekends included): long /
  short = the share of the window with a long / short lot of the strategy open (the lot's opening strategy:
  closed pieces open_ts..close_ts, still-open lots open_ts..now), flat = neither. Holding both sides at
  once counts in long and short, so the three can add up to more than 1. The window runs from the trading
  day's start (the previous trading date's 20:00) for daily, 7 days back for weekly, the strategy's first
  opening for all, to `now`.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from common.db import Database
from common.performance import stats
from common.performance.report import CLOSED_BY_FILL, closed_filter, closed_trade
from common.performance.rows import ts_ms
from common.trading_calendar import CHINA_TZ, NIGHT_START, is_trading_date, trading_day

log = logging.getLogger(__name__)

WINDOWS = {"daily": "today", "weekly": "week", "all": "all"}  # window -> common/performance range
WEEK = timedelta(days=7)
Span = tuple[datetime, datetime]  # naive UTC, like the MySQL columns
SNAPSHOT_SQL = "INSERT INTO performance_snapshots (call_id, window_name, ts, metrics) VALUES (%s, %s, %s, %s)"


def check_window(window: str) -> str:
    """The performance range of a window; ValueError for anything but daily, weekly or all."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)} (got {str(window)[:20]!r})")
    return WINDOWS[window]


def aware_utc(now: datetime) -> datetime:
    """`now` in UTC; ValueError for a naive time (whose zone would be a guess)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (the market clock's, e.g. ranges.market_now)")
    return now.astimezone(UTC)


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def _is(column: str, strategy: str) -> tuple[str, list[Any]]:
    """SQL for `column` being the strategy (the operator's own, MANUAL, is NULL)."""
    if strategy == stats.MANUAL:
        return f"{column} IS NULL", []
    return f"{column} = %s", [strategy]


# ---------------------------------------------------------------- pure figures


def pnl_ratios(day_pnl: list[float]) -> dict[str, float | None]:
    """Annualised Sharpe and Sortino of daily PnL (risk-free 0; the conventions of stats.daily_ratios)."""
    return stats.return_ratios(day_pnl)


def trading_days(first: date, last: date, extra: set[date]) -> list[date]:
    """The trading dates from `first` to `last`, plus the `extra` days (days that had closes)."""
    days, day = [], first
    while day <= last:
        if is_trading_date(day) or day in extra:
            days.append(day)
        day += timedelta(days=1)
    return days


def covered(intervals: list[Span], start: datetime, end: datetime) -> tuple[float, list[Span]]:
    """Seconds of [start, end] covered by the union of `intervals`, and that union (clipped)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if min(b, end) > max(a, start))
    merged: list[Span] = []
    for a, b in clipped:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return sum((b - a).total_seconds() for a, b in merged), merged


def hold_ratios(long: list[Span], short: list[Span], start: datetime, end: datetime) -> dict[str, Any]:
    """Shares of [start, end] held long, short, and neither (see the module doc)."""
    total = (end - start).total_seconds()
    out: dict[str, Any] = {"long": None, "short": None, "flat": None, "window_start_ms": ts_ms(start),
                           "window_end_ms": ts_ms(end)}
    if total <= 0:
        return out
    long_s, _ = covered(long, start, end)
    short_s, _ = covered(short, start, end)
    either_s, _ = covered(long + short, start, end)
    out |= {"long": round(long_s / total, 6), "short": round(short_s / total, 6),
            "flat": round((total - either_s) / total, 6)}
    return out


def drawdown(closed: list[stats.ClosedTrade]) -> dict[str, Any]:
    """stats.max_drawdown of the cumulative closed PnL, starting at 0 when the first trade opened."""
    if not closed:
        return {"amount": 0.0, "peak": None, "trough": None, "peak_ts_ms": None, "trough_ts_ms": None}
    points, total = [(closed[0].opened, 0.0)], 0.0
    for trade in closed:
        total += float(trade.pnl)
        points.append((trade.closed, total))
    worst = stats.max_drawdown(points)
    return {"amount": worst["amount"], "peak": worst["peak"], "trough": worst["trough"],
            "peak_ts_ms": ts_ms(worst["peak_ts"]) if worst["peak_ts"] else None,
            "trough_ts_ms": ts_ms(worst["trough_ts"]) if worst["trough_ts"] else None}


# ---------------------------------------------------------------- MySQL reads


def _window_start(db: Database, window: str, now: datetime, lot_is: tuple[str, list[Any]]) -> datetime | None:
    """The hold window's start (naive UTC; see the module doc), None when `all` has no lot."""
    if window == "weekly":
        return _naive(now - WEEK)
    if window == "daily":
        day = trading_day(now) - timedelta(days=1)
        while not is_trading_date(day):
            day -= timedelta(days=1)
        return _naive(datetime.combine(day, NIGHT_START, tzinfo=CHINA_TZ))
    first = db.query(f"SELECT MIN(open_ts) AS t FROM position_lots WHERE {lot_is[0]}", lot_is[1])[0]["t"]
    return first


def _holdings(db: Database, strategy: str, start: datetime, end: datetime) -> dict[str, list[Span]]:
    """The strategy's lots' holding intervals overlapping [start, end], by direction."""
    piece_is, lot_is = _is("open_strategy", strategy), _is("strategy", strategy)
    rows = db.query(
        f"SELECT direction, open_ts AS a, close_ts AS b FROM positions_closed WHERE {piece_is[0]}"
        " AND open_ts IS NOT NULL AND open_ts < %s AND close_ts > %s", [*piece_is[1], end, start])
    still_open = db.query(f"SELECT direction, open_ts AS a FROM position_lots WHERE {lot_is[0]} AND remaining > 0"
                          " AND open_ts < %s", [*lot_is[1], end])
    out: dict[str, list[Span]] = {"LONG": [], "SHORT": []}
    for row in rows + [r | {"b": end} for r in still_open]:
        out.setdefault(row["direction"], []).append((row["a"], row["b"]))
    return out


def strategy_metrics(db: Database, window: str, now: datetime, strategy: str) -> dict[str, Any]:
    """Every figure of one strategy over a window (see the module doc); `now` aware."""
    range_name = check_window(window)
    now = aware_utc(now)
    where, args = closed_filter(range_name, now)
    strategy_is = _is("strategy", strategy)
    where, args = f"{where} AND {strategy_is[0]}", [*args, *strategy_is[1]]
    closed = [closed_trade(r) for r in db.query(CLOSED_BY_FILL.format(where=where), args)]
    extra = db.query(
        "SELECT SUM(IF(lot_id IS NULL, volume, 0)) AS unmatched, SUM(IF(confidence IS NULL OR lot_id IS NULL, 0,"
        " volume)) AS conf_volume, SUM(IF(lot_id IS NULL, 0, confidence * volume)) AS conf_sum,"
        " SUM(lot_id IS NOT NULL AND commission IS NULL) AS no_commission"
        f" FROM positions_closed WHERE {where}", args)[0]
    notes: list[str] = []
    trades = stats.trade_stats(closed)
    commission = sum((t.commission for t in closed if t.commission is not None), Decimal(0))

    day_pnl: dict[date, float] = defaultdict(float)
    for trade in closed:
        day_pnl[trade.trading_day] += float(trade.pnl)
    days = trading_days(min(day_pnl), max(trading_day(now), max(day_pnl)), set(day_pnl)) if day_pnl else []
    ratios = pnl_ratios([day_pnl.get(d, 0.0) for d in days])
    if len(days) < 2:
        notes.append(f"sharpe and sortino need at least 2 trading days of closes; this window has {len(days)}")
    elif ratios["sharpe"] is None or ratios["sortino"] is None:
        notes.append("sharpe/sortino undefined: the daily PnL does not vary or never falls below 0")
    if trades["closed_trades"] and trades["profit_factor"] is None:
        notes.append("profit factor undefined: no losing trade")

    conf_volume = float(extra["conf_volume"] or 0)
    if trades["closed_trades"] and not conf_volume:
        notes.append("no closed volume carries a confidence")
    if extra["unmatched"]:
        notes.append(f"{float(extra['unmatched']):g} lot(s) closed with no recorded opening: not in the figures")
    if extra["no_commission"]:
        notes.append("some closes have no recorded commission: the commission is incomplete")

    lot_is = _is("strategy", strategy)
    start, end = _window_start(db, window, now, lot_is), _naive(now)
    if start is None or start >= end:
        holds: dict[str, Any] = {"long": None, "short": None, "flat": None, "window_start_ms": None,
                                 "window_end_ms": ts_ms(end)}
        notes.append("hold ratios undefined: the strategy never held a position before now")
    else:
        held = _holdings(db, strategy, start, end)
        holds = hold_ratios(held["LONG"], held["SHORT"], start, end)

    best, worst = trades["best"], trades["worst"]
    return {
        "window": window,
        "strategy": strategy,
        "as_of_ms": ts_ms(_naive(now)),
        "trading_day": trading_day(now).isoformat(),
        **trades,
        "biggest_win": best if best is not None and best > 0 else None,
        "biggest_loss": worst if worst is not None and worst < 0 else None,
        "commission": round(float(commission), 2),
        "net_pnl_after_commission": round(trades["net_pnl"] - float(commission), 2),
        "days": len(days),
        **ratios,
        "max_drawdown": drawdown(closed),
        "average_confidence": round(float(extra["conf_sum"]) / conf_volume, 2) if conf_volume else None,
        "hold_ratios": holds,
        "pnl_basis": "before commission",
        "notes": notes,
    }


# ---------------------------------------------------------------- entry points


def performance_metrics(db: Database, window: str, now: datetime, call_id: str | None = None,
                        strategy: str = "ai") -> dict[str, Any]:
    """The get_performance_metrics answer (sync: run it in a thread). With `call_id`, one performance_snapshots
    row is written too (`snapshot_saved`); ValueError for a bad window, before anything is read."""
    check_window(window)
    metrics = strategy_metrics(db, window, now, strategy)
    if call_id is not None:
        metrics["snapshot_saved"] = save_snapshot(db, call_id, window, now, metrics)
    return metrics


def metrics_by_strategy(db: Database, window: str, now: datetime) -> dict[str, dict[str, Any]]:
    """The same figures for every strategy with closes in the window (the operator's under stats.MANUAL)."""
    where, args = closed_filter(check_window(window), aware_utc(now))
    rows = db.query(f"SELECT DISTINCT strategy FROM positions_closed WHERE lot_id IS NOT NULL AND {where}", args)
    names = sorted(r["strategy"] or stats.MANUAL for r in rows)
    return {name: strategy_metrics(db, window, now, name) for name in names}


def save_snapshot(db: Database, call_id: str, window: str, now: datetime, metrics: dict[str, Any]) -> bool:
    """One performance_snapshots row; False (logged) when MySQL cannot take it."""
    try:
        db.execute(SNAPSHOT_SQL, (call_id, window, _naive(now), json.dumps(metrics, allow_nan=False)))
    except Exception as exc:
        log.warning("performance snapshot of call %s not saved: %s: %s", call_id, type(exc).__name__, exc)
        return False
    return True
