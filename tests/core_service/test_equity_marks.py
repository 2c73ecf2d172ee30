"""Equity marks on the market clock (core_service/equity_marks.py): which points are written, when and
with which time, driven by hand-built ticks and account states (the writer is a list here; the replay
test in test_replay_equity.py goes through the real core and MySQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from common.clock import TestClock
from common.contract import AccountState
from common.market_clock import MarketClock
from common.trading_calendar import CHINA_TZ
from core_service.equity_marks import LATE_S, EquityMarks
from core_service.records import dump

DAY = datetime(2022, 2, 18, tzinfo=CHINA_TZ)


def at(hms: str, ms: int = 0) -> datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return DAY.replace(hour=h, minute=m, second=s, microsecond=ms * 1000)


def account(balance: float) -> AccountState:
    return AccountState(gateway="SIM", accountid="SIM", balance=balance, available=balance, frozen=0.0,
                        trading_day="20220218")


WALL = datetime(2026, 3, 1, tzinfo=CHINA_TZ)  # the wall clock: 2026-02-28 16:00 UTC


def marks(runs_on: bool) -> tuple[EquityMarks, list[dict[str, Any]], TestClock]:
    """Marks on a market clock over a test clock; the rows as the writer keeps them."""
    wall = TestClock(WALL)
    rows: list[dict[str, Any]] = []
    return EquityMarks(MarketClock(runs_on, wall), lambda record: rows.append(dump(record))), rows, wall


def china(ts: str) -> str:
    """A MySQL ts (naive UTC) as China time of day, to the millisecond."""
    return datetime.fromisoformat(ts).replace(tzinfo=UTC).astimezone(CHINA_TZ).strftime("%H:%M:%S.%f")[:12]


def points(rows: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    return [(china(r["ts"]), r["reason"], r["balance"]) for r in rows]


def test_one_point_per_market_minute_at_its_last_tick() -> None:
    m, rows, _ = marks(runs_on=False)
    m.on_tick(at("10:01:05"))
    m.on_account(account(100.0))
    m.on_tick(at("10:01:59", 500))
    m.on_account(account(101.0))
    assert rows == []  # the minute is still open
    m.on_tick(at("10:02:00"))  # a later minute closes 10:01 with the account after its last tick
    m.on_account(account(102.0))
    m.on_tick(at("10:04:30"))  # 10:03 had no tick: no point for it; 10:02 closes
    assert points(rows) == [("10:01:59.500", "minute", 101.0), ("10:02:00.000", "minute", 102.0)]
    # ts is the market time (naive UTC in MySQL), trading day the account's, wall clock beside it
    assert rows[0]["ts"] == "2022-02-18 02:01:59.500" and rows[0]["trading_day"] == "2022-02-18"
    assert rows[1]["ts"] == "2022-02-18 02:02:00.000"
    assert rows[0]["recorded_at"] == "2026-02-28 16:00:00.000"  # the injected wall clock


def test_a_fill_is_marked_at_once_and_not_twice_by_its_minute() -> None:
    m, rows, _ = marks(runs_on=False)
    m.on_tick(at("10:01:10"))
    m.on_account(account(100.0))
    m.on_trade()
    m.on_account(account(95.0))  # the account after the fill
    assert points(rows) == [("10:01:10.000", "fill", 95.0)]
    m.on_tick(at("10:02:01"))  # the minute's last state is the fill point: not written again
    assert len(rows) == 1
    m.on_account(account(96.0))
    m.on_tick(at("10:02:30"))
    m.on_account(account(97.0))
    m.on_tick(at("10:03:00"))
    assert points(rows)[1:] == [("10:02:30.000", "minute", 97.0)]


def test_the_sessions_last_minute_is_a_session_end() -> None:
    m, rows, _ = marks(runs_on=False)
    m.on_tick(at("11:29:59", 500))
    m.on_account(account(100.0))
    m.on_tick(at("13:30:00"))  # the afternoon opens: the morning's last minute is its session end
    m.on_account(account(100.5))
    m.on_tick(at("13:31:00"))
    assert points(rows) == [("11:29:59.500", "session_end", 100.0), ("13:30:00.000", "minute", 100.5)]


def test_live_the_clock_runs_on_and_closes_a_quiet_minute() -> None:
    m, rows, mono = marks(runs_on=True)
    m.on_tick(at("14:59:59", 500))
    m.on_account(account(100.0))
    mono.advance(1.0)
    m.on_timer()
    assert rows == []  # 15:00:00.5 by the market clock: the minute has only just ended
    mono.advance(LATE_S)
    m.on_timer()
    assert points(rows) == [("14:59:59.500", "session_end", 100.0)]
    m.on_timer()
    m.flush()
    assert len(rows) == 1  # closed once


def test_a_replay_clock_stands_still_and_the_stop_writes_the_last_minute() -> None:
    m, rows, mono = marks(runs_on=False)
    m.on_tick(at("10:00:01"))
    m.on_account(account(100.0))
    mono.advance(3600)
    m.on_timer()
    assert rows == [] and m.clock.now() == at("10:00:01")
    m.flush()
    assert points(rows) == [("10:00:01.000", "stop", 100.0)]


def test_ticks_out_of_order_never_move_the_clock_back() -> None:
    clock = MarketClock(runs_on=False)
    assert clock.now() is None
    clock.on_tick(at("10:00:05"))
    clock.on_tick(at("10:00:01"))
    assert clock.now() == at("10:00:05")
    assert clock.now() - at("10:00:01") == timedelta(seconds=4)
