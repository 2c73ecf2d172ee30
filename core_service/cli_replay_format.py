"""What `cli replay` prints: the header, the trades table and the statistics as text, or one JSON object.

Times are shown in China time (MySQL keeps naive UTC; the report gives epoch ms). Pure functions, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from common.trading_calendar import CHINA_TZ


@dataclass(frozen=True)
class ReplayFile:
    path: Path
    contract: str
    first: datetime  # China time
    last: datetime
    ticks: int


@dataclass
class ReplayResult:
    file: ReplayFile
    strategy: str  # the class, also the strategy's name in the records
    setting: dict[str, Any]  # every parameter, as the strategy ran
    capital: float
    trades: list[dict[str, Any]]
    report: dict[str, Any]  # common.performance.report.performance_report(..., "all")
    final_balance: float | None
    errors: list[str] = field(default_factory=list)  # the core's ERROR system events
    run_id: str = ""
    wall_s: float = 0.0
    database: str | None = None  # set with --keep
    redis_prefix: str | None = None


def china_time(value: datetime | int | None) -> str:
    """A naive-UTC MySQL time or epoch ms, as China time with milliseconds."""
    if value is None:
        return "-"
    if isinstance(value, int):
        value = datetime.fromtimestamp(value / 1000, tz=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA_TZ).isoformat(sep=" ", timespec="milliseconds")[:23]


def _number(value: Any) -> float | None:
    return None if value is None else float(value) if isinstance(value, Decimal | int | float) else value


def trade_row(row: dict[str, Any]) -> dict[str, Any]:
    """A `trades` row as printed and in --json."""
    ts = row["ts"].replace(tzinfo=UTC)
    return {
        "time": ts.astimezone(CHINA_TZ).isoformat(timespec="milliseconds"),
        "ts_ms": int(ts.timestamp() * 1000),
        "symbol": row["symbol"],
        "direction": row["direction"],
        "offset": row["offset_"],
        "price": _number(row["price"]),
        "volume": _number(row["volume"]),
        "commission": _number(row.get("commission")),
        "strategy": row["strategy"],
    }


def progress(replay_file: ReplayFile, last_tick_ms: int | None) -> str:
    """How far the replay is, by the replayed time."""
    if last_tick_ms is None:
        return "no tick replayed yet"
    span = (replay_file.last - replay_file.first).total_seconds()
    done = last_tick_ms / 1000 - replay_file.first.timestamp()
    share = f" ({min(max(done / span, 0.0), 1.0):.0%})" if span > 0 else ""
    return f"replayed up to {china_time(last_tick_ms)[11:19]}{share}"


# ---------------------------------------------------------------- JSON


def to_json(result: ReplayResult) -> str:
    return json.dumps({
        "file": str(result.file.path),
        "contract": result.file.contract,
        "first_tick": result.file.first.isoformat(timespec="milliseconds"),
        "last_tick": result.file.last.isoformat(timespec="milliseconds"),
        "ticks": result.file.ticks,
        "strategy": result.strategy,
        "setting": result.setting,
        "capital": result.capital,
        "trades": result.trades,
        "report": result.report,
        "final_balance": result.final_balance,
        "errors": result.errors,
        "run_id": result.run_id,
        "wall_s": result.wall_s,
        "database": result.database,
        "redis_prefix": result.redis_prefix,
    }, ensure_ascii=False, default=str)


# ---------------------------------------------------------------- text


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def to_text(result: ReplayResult) -> str:
    return "\n".join([*_header(result), "", *_trades(result.trades), "", *_statistics(result), *_footer(result)])


def _header(result: ReplayResult) -> list[str]:
    f = result.file
    setting = " ".join(f"{k}={v}" for k, v in result.setting.items()) or "(no parameters)"
    return [
        f"Replay of {f.path}",
        f"  contract  {f.contract}, {f.ticks} ticks from {china_time(f.first)} to {china_time(f.last)} (China time)",
        f"  strategy  {result.strategy}  {setting}",
        f"  capital   {_money(result.capital)}",
    ]


def _trades(trades: list[dict[str, Any]]) -> list[str]:
    if not trades:
        return ["Trades: none"]
    with_fee = any(t["commission"] is not None for t in trades)
    head = f"  {'time (China)':<23}  {'direction':<9}  {'offset':<14}  {'price':>9}  {'volume':>6}"
    lines = [f"Trades ({len(trades)})", head + (f"  {'commission':>10}" if with_fee else "")]
    for t in trades:
        line = (f"  {t['time'][:23].replace('T', ' '):<23}  {t['direction']:<9}  {t['offset']:<14}"
                f"  {t['price']:>9.2f}  {t['volume']:>6g}")
        lines.append(line + (f"  {_money(t['commission']):>10}" if with_fee else ""))
    return lines


def _statistics(result: ReplayResult) -> list[str]:
    stats, equity = result.report["trades"], result.report["equity"]
    commission = equity.get("commission")
    net = stats["net_pnl"]
    rows = [
        ("closed trades", f"{stats['closed_trades']} (wins {stats['wins']}, losses {stats['losses']},"
                          f" breakeven {stats['breakeven']})"),
        ("win rate", "-" if stats["win_rate"] is None else f"{stats['win_rate']:.1%}"),
        ("profit factor", "-" if stats["profit_factor"] is None else f"{stats['profit_factor']:.3f}"),
        ("expectancy", _money(stats["expectancy"])),
        ("net PnL", f"{_money(net)} (before commission)"),
        ("commission", _money(commission)),
        ("net after commission", _money(None if commission is None else net - commission)),
        ("final balance", _money(result.final_balance)),
        ("max drawdown", _drawdown(equity["drawdown"])),
        ("Sharpe / Sortino", _ratios(equity["ratios"])),
        ("ledger check", ", ".join(f"{r['trading_day']} {r['verdict']}" for r in result.report.get("ledger", []))
         or "-"),
    ]
    lines = ["Statistics (the web's /api/performance over the replay)"]
    lines += [f"  {name:<21} {value}" for name, value in rows]
    open_lots = result.report.get("open_lots") or {}
    if open_lots:
        lines.append(f"  {'open at the end':<21} " + ", ".join(f"{k} {v:g}" for k, v in open_lots.items()))
    return lines


def _drawdown(drawdown: dict[str, Any]) -> str:
    if not drawdown.get("amount"):
        return "0.00"
    pct = f" ({drawdown['pct']:.2%})" if drawdown.get("pct") is not None else ""
    return (f"{_money(drawdown['amount'])}{pct}, peak {_money(drawdown.get('peak'))} at"
            f" {china_time(drawdown.get('peak_ts'))}, trough {_money(drawdown.get('trough'))} at"
            f" {china_time(drawdown.get('trough_ts'))}")


def _ratios(ratios: dict[str, Any]) -> str:
    if ratios.get("sharpe") is None and ratios.get("sortino") is None:
        return f"not defined ({ratios.get('days', 0)} trading day(s); daily ratios need 3 or more)"
    show = (lambda v: "-" if v is None else f"{v:.3f}")  # noqa: E731
    return f"{show(ratios.get('sharpe'))} / {show(ratios.get('sortino'))}"


def _footer(result: ReplayResult) -> list[str]:
    lines = []
    if result.errors:
        lines += ["", f"Errors reported by the core ({len(result.errors)})", *(f"  {e}" for e in result.errors[:20])]
    if result.database:
        lines += ["", f"Kept: MySQL database {result.database}, Redis keys {result.redis_prefix}*"
                      " (drop them when done)"]
    lines += ["", f"({result.wall_s:g} s, run {result.run_id})"]
    return lines
