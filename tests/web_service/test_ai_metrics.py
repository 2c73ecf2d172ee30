"""The AI trader's performance metrics (web_service/ai_metrics.py) against the real MariaDB: hand-made lots and
closed positions of the AI, a strategy and an old AI close outside the week; win rate, profit factor, biggest
win/loss, average confidence, drawdown, Sharpe/Sortino and hold ratios checked against figures worked out here,
window filtering, the figures per strategy, and the performance_snapshots row of a tool call."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from common.db import Database
from common.trading_calendar import CHINA_TZ
from web_service.ai_metrics import metrics_by_strategy, performance_metrics

NOW = datetime(2026, 1, 7, 10, 0, tzinfo=CHINA_TZ)  # Wednesday; trading days Mon 5th, Tue 6th, Wed 7th
SIZE = 1000


def cn(day: int, hhmm: str, month: int = 1, year: int = 2026) -> datetime:
    """China time -> naive UTC, as MySQL stores it."""
    h, m = map(int, hhmm.split(":"))
    return datetime(year, month, day, h, m, tzinfo=CHINA_TZ).astimezone(UTC).replace(tzinfo=None)


LOT_SQL = (
    "INSERT INTO position_lots (id, gateway, symbol, exchange, direction, open_trade_id, open_tradeid, open_ts,"
    " open_trading_day, open_price, size, volume, remaining, commission, commission_left, strategy, confidence)"
    " VALUES (%s, 'SIM', 'au2602', 'SHFE', %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, 0, %s, %s)"
)
CLOSED_SQL = (
    "INSERT INTO positions_closed (gateway, symbol, exchange, direction, volume, size, lot_id, open_trade_id,"
    " open_tradeid, open_ts, open_trading_day, open_price, open_strategy, close_trade_id, piece, close_tradeid,"
    " close_orderid, close_offset, close_ts, close_price, trading_day, carried, pnl_open, pnl_settlement,"
    " commission, strategy, exit_reason, recorded_at, confidence)"
    " VALUES ('SIM', 'au2602', 'SHFE', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'CLOSE', %s, %s,"
    " %s, 0, %s, %s, %s, %s, 'strategy', %s, %s)"
)


class Book:
    """Lots and their closes, written as the core books them (one positions_closed row per lot taken)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.lots: dict[int, dict[str, Any]] = {}

    def lot(self, lot_id: int, side: str, opened: datetime, price: float, volume: int, strategy: str | None,
            confidence: int | None, remaining: int = 0) -> None:
        day = (opened.replace(tzinfo=UTC).astimezone(CHINA_TZ)).date()
        self.lots[lot_id] = dict(side=side, opened=opened, day=day, price=price, strategy=strategy, conf=confidence)
        self.db.execute(LOT_SQL, (lot_id, side, 1000 + lot_id, f"T{lot_id}", opened, day, price, SIZE, volume,
                                  remaining, strategy, confidence))

    def close(self, trade_id: int, closed: datetime, trading_day: date, price: float,
              pieces: list[tuple[int, int]], strategy: str | None, commission: float = 5.0) -> None:
        for n, (lot_id, volume) in enumerate(pieces):
            lot = self.lots[lot_id]
            sign = 1 if lot["side"] == "LONG" else -1
            pnl = sign * (price - lot["price"]) * volume * SIZE
            self.db.execute(CLOSED_SQL, (lot["side"], volume, SIZE, lot_id, 1000 + lot_id, f"T{lot_id}", lot["opened"],
                                         lot["day"], lot["price"], lot["strategy"], trade_id, n, f"C{trade_id}",
                                         f"O{trade_id}", closed, price, trading_day, pnl, pnl, commission, strategy,
                                         closed, lot["conf"]))


@pytest.fixture
def book(db: Database) -> Book:
    b = Book(db)
    mon, tue, wed = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
    # an old AI trade, outside the week: +1000
    b.lot(7, "LONG", cn(22, "09:00", 12, 2025), 590.0, 1, "ai", 50)
    b.close(105, cn(22, "09:30", 12, 2025), date(2025, 12, 22), 591.0, [(7, 1)], "ai")
    # Monday: long 2 @600 -> 602: +4000 (conf 80)
    b.lot(1, "LONG", cn(5, "09:30"), 600.0, 2, "ai", 80)
    b.close(101, cn(5, "10:00"), mon, 602.0, [(1, 2)], "ai", commission=20.0)
    # the strategy's trade on Monday: -1000
    b.lot(6, "LONG", cn(5, "09:05"), 600.0, 1, "au_dual_ma", None)
    b.close(104, cn(5, "09:45"), mon, 599.0, [(6, 1)], "au_dual_ma")
    # Tuesday: short 1 @610 -> 613: -3000 (conf 60)
    b.lot(2, "SHORT", cn(6, "09:00"), 610.0, 1, "ai", 60)
    b.close(102, cn(6, "09:30"), tue, 613.0, [(2, 1)], "ai")
    # Tuesday afternoon two longs (no confidence, 90), closed together Wednesday 09:10 @607: +2000 +1000
    b.lot(3, "LONG", cn(6, "13:30"), 605.0, 1, "ai", None)
    b.lot(4, "LONG", cn(6, "13:40"), 606.0, 1, "ai", 90)
    b.close(103, cn(7, "09:10"), wed, 607.0, [(3, 1), (4, 1)], "ai")
    # Wednesday: short 2 @608 at 09:20 (conf 70), one closed 09:50 @607: +1000, one still open
    b.lot(5, "SHORT", cn(7, "09:20"), 608.0, 2, "ai", 70, remaining=1)
    b.close(107, cn(7, "09:50"), wed, 607.0, [(5, 1)], "ai")
    # a close with no recorded opening: counted in the notes, no PnL
    db.execute("INSERT INTO positions_closed (gateway, symbol, exchange, direction, volume, size, close_trade_id,"
               " piece, close_tradeid, close_orderid, close_offset, close_ts, close_price, trading_day, carried,"
               " strategy, exit_reason, recorded_at) VALUES ('SIM', 'au2602', 'SHFE', 'LONG', 1, 1000, 106, 0,"
               " 'C106', 'O106', 'CLOSE', %s, 607, %s, 0, 'ai', 'strategy', %s)", (cn(7, "09:15"), wed, cn(7, "09:15")))
    return b


def sharpe_sortino(day_pnl: list[float]) -> tuple[float, float]:
    mean = sum(day_pnl) / len(day_pnl)
    sd = math.sqrt(sum((p - mean) ** 2 for p in day_pnl) / (len(day_pnl) - 1))
    downside = math.sqrt(sum(min(p, 0) ** 2 for p in day_pnl) / len(day_pnl))
    return round(mean / sd * math.sqrt(252), 3), round(mean / downside * math.sqrt(252), 3)


def test_weekly_figures_of_the_ai(db: Database, book: Book) -> None:
    m = performance_metrics(db, "weekly", NOW)
    assert m["window"] == "weekly" and m["strategy"] == "ai"
    # 101 +4000, 102 -3000, 103 +3000, 107 +1000 (105 is older than 7 days, 104 is the strategy's)
    assert (m["closed_trades"], m["wins"], m["losses"]) == (4, 3, 1)
    assert m["win_rate"] == 0.75
    assert m["gross_profit"] == 8000.0 and m["gross_loss"] == -3000.0 and m["net_pnl"] == 5000.0
    assert m["profit_factor"] == round(8000 / 3000, 3)
    assert m["biggest_win"] == 4000.0 and m["biggest_loss"] == -3000.0
    assert m["commission"] == 20 + 5 + 5 * 2 + 5 and m["net_pnl_after_commission"] == 5000 - 40
    # volume-weighted confidence of the rows with one: 2x80, 1x60, lot 4's 1x90 (lot 3 has none), 1x70
    assert m["average_confidence"] == (2 * 80 + 60 + 90 + 70) / 5
    # cumulative PnL 0, 4000, 1000, 4000, 5000: the fall from 4000 to 1000
    assert m["max_drawdown"]["amount"] == 3000.0
    assert (m["max_drawdown"]["peak"], m["max_drawdown"]["trough"]) == (4000.0, 1000.0)
    assert m["days"] == 3
    assert (m["sharpe"], m["sortino"]) == sharpe_sortino([4000, -3000, 4000])
    assert any("1 lot(s) closed with no recorded opening" in n for n in m["notes"]), m["notes"]

    # the window 31 Dec 10:00 .. 7 Jan 10:00: long Mon 09:30-10:00 and Tue 13:30 .. Wed 09:10 (lots 3 and 4
    # overlap), short Tue 09:00-09:30 and Wed 09:20-10:00 (lot 5's closed piece and its open rest overlap)
    week = 7 * 86400
    long_s, short_s = 1800 + (10 * 3600 + 30 * 60 + 9 * 3600 + 10 * 60), 1800 + 2400
    holds = m["hold_ratios"]
    assert holds["long"] == round(long_s / week, 6) and holds["short"] == round(short_s / week, 6)
    assert holds["flat"] == round((week - long_s - short_s) / week, 6)
    assert holds["window_end_ms"] - holds["window_start_ms"] == week * 1000


def test_daily_and_all_windows(db: Database, book: Book) -> None:
    daily = performance_metrics(db, "daily", NOW)
    assert daily["trading_day"] == "2026-01-07"
    assert (daily["closed_trades"], daily["wins"], daily["net_pnl"]) == (2, 2, 4000.0)  # 103 and 107
    assert daily["profit_factor"] is None and daily["biggest_loss"] is None and daily["biggest_win"] == 3000.0
    assert daily["average_confidence"] == (90 + 70) / 2
    assert daily["sharpe"] is None and daily["sortino"] is None and daily["days"] == 1
    assert any("at least 2 trading days" in n for n in daily["notes"])
    assert any("no losing trade" in n for n in daily["notes"])
    # the trading day began Tue 20:00; long until Wed 09:10, flat 09:10-09:20, short 09:20-10:00
    span = 14 * 3600
    assert daily["hold_ratios"]["long"] == round((13 * 3600 + 10 * 60) / span, 6)
    assert daily["hold_ratios"]["short"] == round(2400 / span, 6)
    assert daily["hold_ratios"]["flat"] == round(600 / span, 6)

    everything = performance_metrics(db, "all", NOW)
    assert (everything["closed_trades"], everything["wins"], everything["losses"]) == (5, 4, 1)
    assert everything["win_rate"] == 0.8 and everything["profit_factor"] == 3.0 and everything["net_pnl"] == 6000.0
    assert everything["average_confidence"] == round((50 + 2 * 80 + 60 + 90 + 70) / 6, 2)
    assert everything["max_drawdown"]["amount"] == 3000.0  # 0, 1000, 5000, 2000, 5000, 6000
    assert everything["hold_ratios"]["window_start_ms"] == int(cn(22, "09:00", 12, 2025).replace(tzinfo=UTC)
                                                               .timestamp() * 1000)
    assert everything["days"] > 3 and everything["sharpe"] is not None

    with pytest.raises(ValueError, match="window must be one of daily, weekly, all"):
        performance_metrics(db, "monthly", NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        metrics_by_strategy(db, "all", NOW.replace(tzinfo=None))


def test_by_strategy_and_the_snapshot_row(db: Database, book: Book) -> None:
    by = metrics_by_strategy(db, "weekly", NOW)
    assert set(by) == {"ai", "au_dual_ma"}
    assert by["ai"]["net_pnl"] == 5000.0
    dual = by["au_dual_ma"]
    assert (dual["closed_trades"], dual["win_rate"], dual["biggest_loss"], dual["biggest_win"]) == (1, 0.0, -1000.0, None)
    assert dual["average_confidence"] is None and any("confidence" in n for n in dual["notes"])
    assert dual["hold_ratios"]["long"] == round(2400 / (7 * 86400), 6) and dual["hold_ratios"]["short"] == 0.0
    assert set(metrics_by_strategy(db, "all", NOW + timedelta(days=30))) == {"ai", "au_dual_ma"}
    assert metrics_by_strategy(db, "daily", NOW + timedelta(days=30)) == {}
    assert db.query("SELECT COUNT(*) AS n FROM performance_snapshots")[0]["n"] == 0, "no snapshot without a call"

    call_id = uuid.uuid4().hex
    answer = performance_metrics(db, "weekly", NOW, call_id=call_id)
    assert answer["snapshot_saved"] is True
    [row] = db.query("SELECT call_id, window_name, ts, metrics FROM performance_snapshots")
    assert row["call_id"] == call_id and row["window_name"] == "weekly"
    assert row["ts"] == NOW.astimezone(UTC).replace(tzinfo=None)
    stored = json.loads(row["metrics"])
    assert stored == {k: v for k, v in answer.items() if k != "snapshot_saved"}


def test_no_trades_at_all(db: Database) -> None:
    m = performance_metrics(db, "all", NOW)
    assert m["closed_trades"] == 0 and m["win_rate"] is None and m["average_confidence"] is None
    assert m["max_drawdown"]["amount"] == 0.0 and m["sharpe"] is None
    assert m["hold_ratios"]["long"] is None and any("never held" in n for n in m["notes"])
