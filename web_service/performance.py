"""Trading performance from recorded fills and equity (pure functions, no I/O).

Closed trades come from matching closing fills to the opening lots they close, per contract and
position side, the way SHFE does it: CLOSETODAY takes lots opened on the same trading day,
CLOSEYESTERDAY lots from earlier days, CLOSE (other exchanges) the oldest first. One closing fill is
one closed trade (its entry is the volume-weighted price of the lots it took). PnL is
(exit - entry) x volume x multiplier, sign by side, before commission. A close whose opening is not
in the records is counted as unmatched volume, never guessed.

Drawdown and the daily Sharpe/Sortino ratios come from the account balance (equity) series.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

TRADING_DAYS_PER_YEAR = 252
CLOSE_OFFSETS = {"CLOSE", "CLOSETODAY", "CLOSEYESTERDAY"}


@dataclass(frozen=True)
class Fill:
    symbol: str
    direction: str  # of the fill: LONG buys, SHORT sells
    offset: str  # OPEN, CLOSE, CLOSETODAY, CLOSEYESTERDAY
    price: Decimal
    volume: Decimal
    trading_day: date
    ts: datetime
    strategy: str | None = None  # the strategy that sent the order, None for the operator's own


@dataclass
class Lot:
    price: Decimal
    volume: Decimal
    trading_day: date
    ts: datetime


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


@dataclass
class Matching:
    closed: list[ClosedTrade] = field(default_factory=list)
    unmatched_volume: Decimal = Decimal(0)
    lots: dict[tuple[str, str], deque[Lot]] = field(default_factory=dict)

    def open_volume(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (symbol, side), lots in self.lots.items():
            volume = sum((lot.volume for lot in lots), Decimal(0))
            if volume:
                out[f"{symbol} {side}"] = float(volume)
        return out


def _pools(lots: deque[Lot], fill: Fill) -> list[Lot]:
    """The lots a close may take, in the order it takes them."""
    if fill.offset == "CLOSETODAY":
        first = [lot for lot in lots if lot.trading_day == fill.trading_day]
    elif fill.offset == "CLOSEYESTERDAY":
        first = [lot for lot in lots if lot.trading_day < fill.trading_day]
    else:
        first = list(lots)
    # records may disagree with the exchange's split (a trading day stamped differently): fall back to oldest first
    chosen = {id(lot) for lot in first}
    return first + [lot for lot in lots if id(lot) not in chosen]


def _close(matching: Matching, fill: Fill, multiplier: Decimal) -> None:
    side = "SHORT" if fill.direction == "LONG" else "LONG"
    lots = matching.lots.setdefault((fill.symbol, side), deque())
    wanted, taken, cost, opened = fill.volume, Decimal(0), Decimal(0), None
    for lot in _pools(lots, fill):
        if wanted <= 0:
            break
        take = min(lot.volume, wanted)
        lot.volume -= take
        wanted -= take
        taken += take
        cost += take * lot.price
        opened = lot.ts if opened is None else min(opened, lot.ts)
    for lot in [lot for lot in lots if lot.volume <= 0]:
        lots.remove(lot)
    matching.unmatched_volume += wanted
    if taken <= 0 or opened is None:
        return
    entry = cost / taken
    move = (fill.price - entry) if side == "LONG" else (entry - fill.price)
    matching.closed.append(ClosedTrade(fill.symbol, side, taken, entry, fill.price, opened, fill.ts,
                                       fill.trading_day, move * taken * multiplier, fill.strategy))


def match_fills(fills: Iterable[Fill], multiplier_of: Callable[[str], Decimal],
                matching: Matching | None = None) -> Matching:
    """Fills in time order -> closed trades, plus what is still open and what could not be matched.
    Given a `matching`, the fills continue it (they must all be later than what it has seen)."""
    matching = matching if matching is not None else Matching()
    for fill in fills:
        if fill.offset in CLOSE_OFFSETS:
            _close(matching, fill, multiplier_of(fill.symbol))
        elif fill.volume > 0:
            lots = matching.lots.setdefault((fill.symbol, fill.direction), deque())
            lots.append(Lot(fill.price, fill.volume, fill.trading_day, fill.ts))
    return matching


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
    out: dict[str, Any] = {"days": len(day_closes), "returns": len(returns), "sharpe": None, "sortino": None}
    if len(returns) < 2:
        return out
    mean = statistics.fmean(returns)
    scale = math.sqrt(TRADING_DAYS_PER_YEAR)
    stdev = statistics.stdev(returns)
    if stdev > 0:
        out["sharpe"] = round(mean / stdev * scale, 3)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    if downside > 0:
        out["sortino"] = round(mean / downside * scale, 3)
    return out
