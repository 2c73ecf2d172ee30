"""The market's clock (common/market_clock.py) driven by a TestClock: it follows ticks, never goes back,
runs on between ticks only live, and falls back to its clock before the first tick. No sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta

from common.clock import Clock, TestClock
from common.market_clock import MarketClock
from common.trading_calendar import CHINA_TZ

WALL = datetime(2026, 3, 11, 12, 0, tzinfo=CHINA_TZ)
TICK = datetime(2022, 2, 18, 10, 1, 5, tzinfo=CHINA_TZ)


def test_before_the_first_tick_it_has_no_time_and_falls_back_to_its_clock() -> None:
    clock = TestClock(WALL)
    market = MarketClock(runs_on=True, clock=clock)
    assert market.now() is None and market.latest_tick() is None
    assert market.now_or_base() == WALL
    clock.advance(5)
    assert market.now_or_base() == WALL + timedelta(seconds=5)


def test_live_it_runs_on_between_ticks_by_the_clocks_monotonic_time() -> None:
    clock = TestClock(WALL)
    market = MarketClock(runs_on=True, clock=clock)
    market.on_tick(TICK)
    assert market.now() == TICK
    clock.advance(2.5)
    assert market.now() == TICK + timedelta(seconds=2.5)
    assert market.now_or_base() == TICK + timedelta(seconds=2.5)  # the market's time, not the wall clock's
    market.on_tick(TICK + timedelta(seconds=1))  # a tick restarts the count from its own time
    assert market.now() == TICK + timedelta(seconds=1)
    assert market.latest_tick() == TICK + timedelta(seconds=1)


def test_in_a_replay_it_stands_still_between_ticks() -> None:
    clock = TestClock(WALL)
    market = MarketClock(runs_on=False, clock=clock)
    market.on_tick(TICK)
    clock.advance(3600)
    assert market.now() == TICK


def test_an_older_tick_never_moves_it_back() -> None:
    clock = TestClock(WALL)
    market = MarketClock(runs_on=False, clock=clock)
    market.on_tick(TICK)
    market.on_tick(TICK - timedelta(minutes=1))
    assert market.now() == TICK == market.latest_tick()


def test_naive_tick_times_are_china_time_and_the_default_clock_is_the_wall_clock() -> None:
    market = MarketClock(runs_on=False)
    assert isinstance(market.base, Clock)
    market.on_tick(TICK.replace(tzinfo=None))
    assert market.now() == TICK and market.now().tzinfo is not None
