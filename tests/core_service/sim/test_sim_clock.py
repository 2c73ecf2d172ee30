"""The simulator's clock (core_service/sim/clock.py) is a Clock: in replay mode the last replayed tick's
time, otherwise (and before the first tick) its base clock; deadlines always on the base's monotonic.
Driven by a TestClock, no sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vnpy.trader.constant import Direction, Status

from common.clock import Clock, TestClock
from common.trading_calendar import CHINA_TZ
from core_service.sim import SimGateway
from core_service.sim.clock import SimClock
from tests.core_service.sim.simkit import AU2206_CSV, Recorder, Sim, base_setting

WALL = datetime(2026, 3, 11, 12, 0, tzinfo=CHINA_TZ)
FIRST_ROW = datetime(2022, 2, 18, 8, 59, 0, 500_000, tzinfo=CHINA_TZ)
THURSDAY_10 = datetime(2026, 11, 19, 10, 0, tzinfo=CHINA_TZ)


def test_replay_mode_follows_the_ticks_not_the_base_clock() -> None:
    base = TestClock(WALL)
    clock = SimClock(follow_ticks=True, start=FIRST_ROW, base=base)
    assert isinstance(clock, Clock)
    assert clock.now() == FIRST_ROW
    assert clock.now_ms() == int(FIRST_ROW.timestamp() * 1000)
    base.advance(60)
    assert clock.now() == FIRST_ROW  # a replay's time moves only with its ticks
    tick = FIRST_ROW + timedelta(minutes=1, seconds=30)
    clock.advance(tick.replace(tzinfo=None))  # vnpy's naive exchange time is China time
    assert clock.now() == tick and clock.now().tzinfo is not None
    clock.advance(FIRST_ROW)  # a looping replay starts its day over
    assert clock.now() == FIRST_ROW


def test_replay_mode_before_the_first_tick_is_the_base_clock() -> None:
    base = TestClock(WALL)
    clock = SimClock(follow_ticks=True, base=base)
    assert clock.now() == WALL
    clock.advance(FIRST_ROW)
    assert clock.now() == FIRST_ROW


def test_random_walk_mode_is_the_base_clock_whatever_the_ticks() -> None:
    base = TestClock(WALL)
    clock = SimClock(follow_ticks=False, start=FIRST_ROW, base=base)
    clock.advance(FIRST_ROW)
    assert clock.now() == WALL
    base.advance(1.5)
    assert clock.now() == WALL + timedelta(seconds=1.5)
    assert clock.now_ms() == base.now_ms()


def test_monotonic_is_the_base_clocks_in_both_modes() -> None:
    base = TestClock(WALL)
    replay, walk = SimClock(True, FIRST_ROW, base), SimClock(False, None, base)
    before = base.monotonic()
    base.advance(7)
    replay.advance(FIRST_ROW + timedelta(hours=3))  # replayed time does not move the deadlines
    assert replay.monotonic() == walk.monotonic() == before + 7


def test_the_gateway_stamps_by_the_clock_the_core_gives_it(engines: Any, tmp_path: Path) -> None:
    """Random walk: the sim's time is the injected clock's (orders, the trading day), not the wall's."""
    engine = engines()
    gateway = engine.add_gateway(SimGateway)
    gateway.clock = TestClock(THURSDAY_10)
    engine.connect(base_setting(tmp_path), "SIM")
    sim = Sim(engine, gateway, Recorder(engine.event_engine))
    assert gateway.exchange is not None and gateway.market_now() == THURSDAY_10
    assert gateway.exchange.ledger.trading_day == "20261119"
    sim.tick(last=950.0, dt=THURSDAY_10)
    order = sim.wait_order(sim.send(Direction.LONG, 1, 950.0), Status.ALLTRADED)
    assert order.datetime == THURSDAY_10


def test_a_shared_sim_clock_is_driven_by_the_replay(engines: Any, tmp_path: Path) -> None:
    """The core may hand the gateway its SimClock: the replay's first row, then each tick, moves it."""
    shared = SimClock(follow_ticks=False, base=TestClock(WALL))
    engine = engines()
    gateway = engine.add_gateway(SimGateway)
    gateway.clock = shared
    setting = base_setting(tmp_path, replay_file=str(AU2206_CSV), main_contract="au2206", hold_replay=True)
    engine.connect(setting, "SIM")
    assert gateway.exchange is not None and gateway.exchange.clock is shared
    assert shared.follow_ticks and shared.now().date() == FIRST_ROW.date()
    assert gateway.exchange.ledger.trading_day == "20220218"
    later = datetime(2022, 2, 18, 11, 30, 1, tzinfo=CHINA_TZ)
    Sim(engine, gateway, Recorder(engine.event_engine)).tick(last=400.0, symbol="au2206", dt=later,
                                                              limit_up=420.0, limit_down=380.0)
    assert shared.now() == later
