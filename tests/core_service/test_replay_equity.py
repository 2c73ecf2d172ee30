"""The equity curve of a replay is marked on the market's clock: the real core replays the shared au2206
file with the tick-breakout strategy, and the test checks the stored points against balances it computes
itself from the recorded trades and the file's ticks (every fill marked to the last price)."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from common.config import MysqlConfig
from common.db import Database
from common.performance.report import FillLedger, performance_report
from common.performance.stats import max_drawdown
from common.trading_calendar import CHINA_TZ
from tests.conftest import SHARED_DATA
from tests.core_service.harness import CoreHarness
from tests.helpers import deep_merge, eventually

REPLAY = SHARED_DATA / "shfe_ticks_20220218" / "au2206_20220218_L1.csv"
CAPITAL = 1_000_000.0
SIZE = 1000


def file_ticks() -> list[tuple[datetime, float]]:
    """(exchange time as naive UTC, last price) of every au2206 row, read with the csv module alone."""
    out = []
    with REPLAY.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            stamp = datetime.strptime(f"{row['ActionDay']} {row['UpdateTime']}", "%Y%m%d %H:%M:%S")
            stamp = stamp.replace(microsecond=int(row["UpdateMillisec"]) * 1000, tzinfo=CHINA_TZ)
            out.append((stamp.astimezone(UTC).replace(tzinfo=None), float(row["LastPrice"])))
    return out


def run_replay(config_dict: dict[str, Any], workdir: Path) -> None:
    config = deep_merge(config_dict, {
        "market_data": {"main_contract": "au2206"},
        "core": {"runtime_dir": str(workdir / "runtime")},
        "gateway": {"sim": {"replay_file": str(REPLAY), "replay_speed": 0, "initial_balance": CAPITAL}},
        "strategies": [{"name": "breakout", "class_name": "AuTickBreakoutStrategy", "auto_init": True,
                        "auto_start": True, "setting": {"window_ticks": 20}}],
    })
    workdir.mkdir(parents=True, exist_ok=True)
    core = CoreHarness(config, workdir / "arbig.json")
    core.start(wait_ticks=False)
    try:
        assert core.main_engine.get_gateway("SIM").replay_done.wait(180), "replay did not finish"
        eventually(lambda: core.app.recorder.backlog == 0 and core.app.writer.backlog == 0)
    finally:
        core.stop()  # the stop closes the last minute


def independent_balance(trades: list[dict[str, Any]], ticks: list[tuple[datetime, float]],
                        ts: datetime) -> float:
    """Capital - commission + every fill up to `ts` marked to the last price at `ts`."""
    last = [price for t, price in ticks if t <= ts][-1]
    done = [t for t in trades if t["ts"] <= ts]
    marked = sum((1 if t["direction"] == "LONG" else -1) * (last - float(t["price"])) * float(t["volume"]) * SIZE
                 for t in done)
    return CAPITAL - sum(float(t["commission"]) for t in done) + marked


def test_replay_equity_is_marked_every_market_minute_and_every_fill(
        config_dict: dict[str, Any], mysql_cfg: MysqlConfig, tmp_path: Path) -> None:
    run_replay(config_dict, tmp_path / "run")
    ticks = file_ticks()
    db = Database(mysql_cfg)
    try:
        trades = db.query("SELECT ts, direction, price, volume, commission FROM trades ORDER BY ts, id")
        marks = db.query("SELECT ts, reason, balance, trading_day FROM account_snapshots ORDER BY ts, id")
        signals = db.query("SELECT ts, trading_day FROM strategy_triggers WHERE strategy = 'breakout'")
        report = performance_report(db, FillLedger(), "all")
        today = performance_report(db, FillLedger(), "today")
    finally:
        db.close()
    assert len(trades) >= 10, f"the strategy should trade on the replay, got {len(trades)} trades"
    assert all(t["commission"] is not None for t in trades)

    # a point for every minute of market time, at that minute's last tick
    last_tick_of_minute: dict[datetime, datetime] = {}
    for t, _ in ticks:
        last_tick_of_minute[t.replace(second=0, microsecond=0)] = t
    marked_at = {m["ts"] for m in marks}
    missing = sorted(m for m, t in last_tick_of_minute.items() if t not in marked_at)
    assert not missing, f"{len(missing)} market minutes without an equity point, first {missing[:3]}"
    assert {m["reason"] for m in marks} >= {"minute", "fill"}
    assert all(m["trading_day"].isoformat() == "2022-02-18" for m in marks)  # the market's day, not today's
    # the strategy's signals are stamped with the replayed tick they came on, not the wall clock
    assert signals and {s["trading_day"].isoformat() for s in signals} == {"2022-02-18"}
    assert all(ticks[0][0] <= s["ts"] <= ticks[-1][0] for s in signals)

    # every fill's point: the first point at or after each trade's time is that of the fill
    fill_times = {m["ts"] for m in marks if m["reason"] == "fill"}
    assert {t["ts"] for t in trades} <= fill_times

    # each point equals the balance computed here from the trades and ticks (the last point per time:
    # orders sent on one tick each restate the account)
    last_per_time: dict[datetime, float] = {}
    for m in marks:
        last_per_time[m["ts"]] = float(m["balance"])
    wrong = [(ts, bal, round(independent_balance(trades, ticks, ts), 2)) for ts, bal in last_per_time.items()
             if abs(bal - independent_balance(trades, ticks, ts)) > 0.005]
    assert not wrong, f"{len(wrong)} points differ from the independent balance, first {wrong[:3]}"

    # the reported drawdown equals the one computed from the independent balances at the same times
    expected = max_drawdown((ts, round(independent_balance(trades, ticks, ts), 2)) for ts in sorted(last_per_time))
    drawdown = report["equity"]["drawdown"]
    assert drawdown["amount"] > 0
    print(f"trades {len(trades)} marks {len(marks)} drawdown {drawdown['amount']} expected {expected['amount']}")
    assert abs(drawdown["amount"] - expected["amount"]) < 0.01, (drawdown, expected)
    final = independent_balance(trades, ticks, ticks[-1][0])
    assert abs(float(marks[-1]["balance"]) - final) < 0.005
    assert drawdown["trough"] <= drawdown["peak"]

    # ranges count on the market clock: the replayed day is "today"
    assert today["as_of_ms"] == report["as_of_ms"] and today["trading_day"] == "2022-02-18"
    assert today["equity"]["snapshots"] == report["equity"]["snapshots"] == len(marks)
    assert today["trades"]["closed_trades"] == report["trades"]["closed_trades"] > 0
    by_day: dict[str, Decimal] = defaultdict(Decimal)
    for t in trades:
        by_day[t["ts"].date().isoformat()] += t["volume"]
    assert set(by_day) == {"2022-02-18"}
