"""Random-walk ticks: a consistent book inside the limits, day roll, determinism, rate, (un)subscribe."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from vnpy.trader.constant import Exchange
from vnpy.trader.object import SubscribeRequest

from common.trading_calendar import CHINA_TZ, trading_day
from core_service.sim.market import RandomWalk, symbol_base_price
from tests.core_service.sim.simkit import SYMBOL
from tests.helpers import eventually


def _on_grid(price: float) -> bool:
    return abs(price / 0.02 - round(price / 0.02)) < 1e-6


def _walk(seed: int | None = 3, limit_rate: float = 0.06) -> RandomWalk:
    return RandomWalk(SYMBOL, 950.0, limit_rate, seed, "SIM")


def test_ticks_are_consistent_and_inside_the_limits() -> None:
    walk = _walk(limit_rate=0.002)  # narrow limits: the walk keeps running into them
    start = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ)
    previous = None
    for i in range(3000):
        tick = walk.next_tick(start + timedelta(seconds=i / 2), datetime(2026, 3, 2, 1, 0))
        assert tick.bid_price_1 < tick.ask_price_1
        assert round((tick.ask_price_1 - tick.bid_price_1) / 0.02) in (1, 2)
        assert tick.bid_price_1 <= tick.last_price <= tick.ask_price_1
        assert tick.limit_down <= tick.bid_price_1 and tick.ask_price_1 <= tick.limit_up
        assert (tick.limit_up, tick.limit_down) == (951.9, 948.1)
        assert all(_on_grid(p) for p in (tick.last_price, tick.bid_price_1, tick.ask_price_1, tick.high_price))
        assert tick.low_price <= tick.last_price <= tick.high_price
        assert tick.bid_volume_1 > 0 and tick.ask_volume_1 > 0 and tick.open_interest >= 0
        assert tick.extra == {"pre_settlement": 950.0}
        assert tick.datetime.tzinfo is not None and tick.localtime is not None and tick.localtime.tzinfo is None
        if previous:
            assert tick.volume - previous.volume == tick.last_volume > 0
            expected = previous.turnover + tick.last_price * tick.last_volume * 1000
            assert abs(tick.turnover - expected) < 0.01
            assert tick.open_price == previous.open_price
        previous = tick


def test_a_new_trading_day_settles_at_the_last_price_and_resets_the_day() -> None:
    walk = _walk()
    friday_day = datetime(2026, 3, 6, 14, 59, tzinfo=CHINA_TZ)
    for i in range(200):
        last_day_tick = walk.next_tick(friday_day + timedelta(seconds=i / 10), datetime.now())
    night = walk.next_tick(datetime(2026, 3, 6, 21, 0, tzinfo=CHINA_TZ), datetime.now())  # Monday's day
    assert trading_day(night.datetime).isoformat() == "2026-03-09"
    assert night.extra == {"pre_settlement": last_day_tick.last_price}
    assert night.pre_close == last_day_tick.last_price
    assert night.volume == night.last_volume  # cumulative volume restarted
    assert night.open_price == night.last_price
    assert night.limit_up == round(int(last_day_tick.last_price * 1.06 / 0.02 + 1e-7) * 0.02, 2)


def test_same_seed_same_prices_and_months_differ() -> None:
    now = datetime(2026, 3, 2, 10, 0, tzinfo=CHINA_TZ)
    a, b = _walk(seed=11), _walk(seed=11)
    assert [a.next_tick(now, now).last_price for _ in range(50)] == [b.next_tick(now, now).last_price for _ in range(50)]
    assert symbol_base_price("au2702", "au2702", 950.0) == 950.0
    assert symbol_base_price("au2706", "au2702", 950.0) > 950.0 > symbol_base_price("au2612", "au2702", 950.0)


def test_about_two_ticks_a_second_at_500_ms(start_sim) -> None:
    sim = start_sim(tick_interval_ms=500)
    sim.engine.subscribe(SubscribeRequest(SYMBOL, Exchange.SHFE), "SIM")
    eventually(lambda: len(sim.rec.ticks()) >= 5, timeout=6, what="5 ticks")
    ticks = sim.rec.ticks()[:5]
    span = (ticks[-1].localtime - ticks[0].localtime).total_seconds()
    assert 1.7 <= span <= 2.4, f"4 intervals took {span:.2f} s"
    assert all(t.symbol == SYMBOL and t.extra["pre_settlement"] == 950.0 for t in ticks)
    assert all(abs((t.datetime - datetime.now(CHINA_TZ)).total_seconds()) < 10 for t in ticks)
    volumes = [t.volume for t in ticks]
    assert volumes == sorted(volumes)


def test_unsubscribe_stops_ticks_and_unknown_symbols_are_logged(sim) -> None:
    sim.engine.subscribe(SubscribeRequest(SYMBOL, Exchange.SHFE), "SIM")
    sim.engine.subscribe(SubscribeRequest("au9901", Exchange.SHFE), "SIM")
    eventually(lambda: len(sim.rec.ticks()) >= 3, what="ticks")
    sim.gateway.unsubscribe(SYMBOL)
    sim.settle()
    count = len(sim.rec.ticks())
    eventually(lambda: any("unsubscribed" in m for m in sim.rec.logs()), what="unsubscribe log")
    time.sleep(0.3)  # six tick intervals: proving an absence needs a wait
    sim.settle()
    assert len(sim.rec.ticks()) <= count + 1  # at most one tick already in flight
    assert any("unknown contract au9901.SHFE" in m for m in sim.rec.logs())
    assert {t.symbol for t in sim.rec.ticks()} == {SYMBOL}
