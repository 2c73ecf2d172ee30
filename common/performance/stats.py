"""Trading performance statistics (pure functions, no I/O).

Closed trades are the core's `positions_closed` rows (closing fills matched to the lots they close
the SHFE way, when the fill was recorded: core_service/closed_positions.py), one closed trade per
closing fill (its entry is the volume-weighted open price of the lots it took). PnL is
(exit - entry) x volume x multiplier, sign by side, before commission.

Drawdown and the daily Sharpe/Sortino ratios come from the account balance (equity) series.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True)
class ClosedTrade:
    symbol: str
    side: str  # the position closed: LONG or SHORT
    volume: Decimal
    entry_price: Decimal
    exit_price: Decimal
    opened: datetime  # the oldest lot taken
    closed: datetime
    trading_day: date
    pnl: Decimal
    strategy: str | None = None  # of the closing fill
    exit_reason: str = ""  # strategy | operator | emergency | external
    commission: Decimal | None = None  # the lots' opening share + the closing fill's


def _money(value: Decimal | float) -> float:
    return round(float(value), 2)


def trade_stats(closed: list[ClosedTrade]) -> dict[str, Any]:
    """Win rate, profit factor, expectancy ... over closed trades (None where undefined)."""
    wins = [t.pnl for t in closed if t.pnl > 0]
    losses = [t.pnl for t in closed if t.pnl < 0]
    gross_profit = sum(wins, Decimal(0))
    gross_loss = sum(losses, Decimal(0))
    net = gross_profit + gross_loss
    n = len(closed)
    held = [(t.closed - t.opened).total_seconds() for t in closed]
    return {
        "closed_trades": n,
        "closed_volume": float(sum((t.volume for t in closed), Decimal(0))),
        "wins": len(wins),
        "losses": len(losses),
        "breakeven": n - len(wins) - len(losses),
        "win_rate": round(len(wins) / n, 4) if n else None,
        "net_pnl": _money(net),
        "gross_profit": _money(gross_profit),
        "gross_loss": _money(gross_loss),
        "profit_factor": round(float(gross_profit / -gross_loss), 3) if gross_loss else None,
        "avg_win": _money(gross_profit / len(wins)) if wins else None,
        "avg_loss": _money(gross_loss / len(losses)) if losses else None,
        "expectancy": _money(net / n) if n else None,
        "best": _money(max(t.pnl for t in closed)) if n else None,
        "worst": _money(min(t.pnl for t in closed)) if n else None,
        "avg_holding_s": round(sum(held) / n, 1) if n else None,
    }


MANUAL = "(manual)"


def stats_by_strategy(closed: list[ClosedTrade]) -> dict[str, dict[str, Any]]:
    """trade_stats per strategy of the closing fill; the operator's own closes under MANUAL."""
    groups: dict[str, list[ClosedTrade]] = {}
    for trade in closed:
        groups.setdefault(trade.strategy or MANUAL, []).append(trade)
    return {name: trade_stats(trades) for name, trades in sorted(groups.items())}


def stats_by_exit_reason(closed: list[ClosedTrade]) -> dict[str, dict[str, Any]]:
    """trade_stats per exit reason of the closing fill (strategy, operator, emergency, external)."""
    groups: dict[str, list[ClosedTrade]] = {}
    for trade in closed:
        groups.setdefault(trade.exit_reason or "external", []).append(trade)
    return {name: trade_stats(trades) for name, trades in sorted(groups.items())}


def max_drawdown(points: Iterable[tuple[datetime, float]]) -> dict[str, Any]:
    """Largest fall of the balance from a running peak: amount, fraction of the peak, and when."""
    peak: tuple[datetime, float] | None = None
    worst: dict[str, Any] = {"amount": 0.0, "pct": 0.0, "peak_ts": None, "trough_ts": None,
                             "peak": None, "trough": None}
    for ts, balance in points:
        if peak is None or balance > peak[1]:
            peak = (ts, balance)
            continue
        fall = peak[1] - balance
        if fall > worst["amount"]:
            worst = {"amount": round(fall, 2), "pct": round(fall / peak[1], 6) if peak[1] > 0 else None,
                     "peak_ts": peak[0], "trough_ts": ts, "peak": peak[1], "trough": balance}
    return worst


def daily_ratios(day_closes: list[tuple[date, float]]) -> dict[str, Any]:
    """Annualised Sharpe and Sortino (risk-free 0) from each trading day's closing balance."""
    returns = [(b / a - 1.0) for (_, a), (_, b) in zip(day_closes, day_closes[1:], strict=False) if a > 0]
    return {"days": len(day_closes), "returns": len(returns), **return_ratios(returns)}


def return_ratios(values: list[float]) -> dict[str, float | None]:
    """Annualised Sharpe and Sortino (risk-free 0) of daily values (returns, or PnL amounts); None with
    fewer than 2 values or no spread."""
    out: dict[str, float | None] = {"sharpe": None, "sortino": None}
    if len(values) < 2:
        return out
    mean = statistics.fmean(values)
    scale = math.sqrt(TRADING_DAYS_PER_YEAR)
    stdev = statistics.stdev(values)
    if stdev > 0:
        out["sharpe"] = round(mean / stdev * scale, 3)
    downside = math.sqrt(sum(min(v, 0.0) ** 2 for v in values) / len(values))
    if downside > 0:
        out["sortino"] = round(mean / downside * scale, 3)
    return out
