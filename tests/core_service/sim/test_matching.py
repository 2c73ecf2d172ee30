"""SHFE matching in the simulated exchange: the three-price rule, depth, resting orders traded through,
shared level volume in price-time priority, FOK across levels, and the five-level book of the feeds."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from vnpy.trader.constant import Direction, Offset, OrderType, Status

from common.trading_calendar import CHINA_TZ
from core_service.serializers import tick_message
from core_service.sim.market import RandomWalk
from core_service.sim.replay import read_ticks
from tests.core_service.sim.simkit import AU2206_CSV, SYMBOL, Sim
from tests.helpers import eventually

BUY, SELL = Direction.LONG, Direction.SHORT


def _trades_of(sim: Sim, vt_orderid: str) -> list[tuple[float, float]]:
    return [(t.price, t.volume) for t in sim.rec.trades() if t.vt_orderid == vt_orderid]


def _traded(sim: Sim, vt_orderid: str, lots: int) -> None:
    eventually(lambda: sim.engine.get_order(vt_orderid).traded == lots, what=f"{vt_orderid} traded {lots}")


# ------------------------------------------------------------ the three-price rule


@pytest.mark.parametrize(
    ("direction", "limit", "bid", "ask", "cases"),
    [
        # buy 950.10 against the ask 950.00: the last price between, above and below the two
        (BUY, 950.10, 949.98, 950.00, [(950.04, 950.04), (950.20, 950.10), (949.90, 950.00), (0.0, 950.00)]),
        # sell 949.90 against the bid 950.00
        (SELL, 949.90, 950.00, 950.02, [(949.96, 949.96), (949.80, 949.90), (950.10, 950.00), (0.0, 950.00)]),
    ],
)
def test_an_arriving_order_trades_at_the_median_of_its_price_the_counter_price_and_the_last(
        sim: Sim, direction: Direction, limit: float, bid: float, ask: float,
        cases: list[tuple[float, float]]) -> None:
    for last, expected in cases:  # a new tick each time: the last price is the tick's again
        sim.tick(last=last, bid=bid, ask=ask)
        vt = sim.send(direction, 1, limit)
        sim.wait_order(vt, Status.ALLTRADED)
        assert _trades_of(sim, vt) == [(expected, 1)], f"last {last}"  # no last price (0): the counter price


def test_our_fills_move_the_last_price_for_the_next_order_until_the_next_tick(sim: Sim) -> None:
    sim.tick(last=950.20, bid=949.98, ask=950.00, ask_volume=1, asks=[(950.02, 1)])
    first = sim.send(BUY, 1, 950.04)
    sim.wait_order(first, Status.ALLTRADED)
    assert _trades_of(sim, first) == [(950.04, 1)]  # median(950.04, 950.00, 950.20): now the last price
    second = sim.send(BUY, 1, 950.10)
    sim.wait_order(second, Status.ALLTRADED)
    assert _trades_of(sim, second) == [(950.04, 1)]  # median(950.10, 950.02, 950.04), not 950.10 by the tick's last

    sim.tick(last=950.20, bid=949.98, ask=950.00, ask_volume=1)  # a new tick: its last price again
    third = sim.send(BUY, 1, 950.10)
    sim.wait_order(third, Status.ALLTRADED)
    assert _trades_of(sim, third) == [(950.10, 1)]


# ------------------------------------------------------------ resting orders


def test_a_resting_order_crossed_by_the_opposite_quote_fills_by_the_three_price_rule(sim: Sim) -> None:
    sim.tick(last=950.18, bid=950.16, ask=950.20)
    buy = sim.send(BUY, 2, 950.10)
    sim.wait_order(buy, Status.NOTTRADED)
    sim.tick(last=950.04, bid=949.98, ask=950.00, ask_volume=5)
    sim.wait_order(buy, Status.ALLTRADED)
    assert _trades_of(sim, buy) == [(950.04, 2)]  # median(950.10, 950.00, 950.04), not its own 950.10

    sell = sim.send(SELL, 1, 950.30, Offset.CLOSETODAY)
    sim.wait_order(sell, Status.NOTTRADED)
    sim.tick(last=950.34, bid=950.40, ask=950.42)
    sim.wait_order(sell, Status.ALLTRADED)
    assert _trades_of(sim, sell) == [(950.34, 1)]  # median(950.30, 950.40, 950.34), not its own 950.30


def test_a_resting_order_traded_through_by_the_last_price_fills_up_to_the_last_volume(sim: Sim) -> None:
    sim.tick(last=950.06, bid=950.04, ask=950.06)
    buy = sim.send(BUY, 5, 950.00)
    sim.wait_order(buy, Status.NOTTRADED)
    sim.tick(last=950.00, bid=949.98, ask=950.02, last_volume=9)  # traded at our price, not through it
    sim.tick(last=949.96, bid=949.94, ask=950.02, last_volume=0)  # through it, but no volume reported
    sim.settle()
    assert sim.engine.get_order(buy).traded == 0

    sim.tick(last=949.96, bid=949.94, ask=950.02, last_volume=3)  # the ask does not cross: the last does
    _traded(sim, buy, 3)
    sim.tick(last=949.94, bid=949.92, ask=950.02, last_volume=4)
    sim.wait_order(buy, Status.ALLTRADED)
    assert _trades_of(sim, buy) == [(949.96, 3), (949.94, 2)]  # the last price, capped by last_volume

    sell = sim.send(SELL, 2, 950.10, Offset.CLOSETODAY)
    sim.wait_order(sell, Status.NOTTRADED)
    sim.tick(last=950.14, bid=950.08, ask=950.16, last_volume=1)
    _traded(sim, sell, 1)
    assert _trades_of(sim, sell) == [(950.14, 1)]


# ------------------------------------------------------------ depth


def test_depth_is_taken_level_by_level_then_the_rest_rests_and_fills_later(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00, ask_volume=2, asks=[(950.02, 3), (950.04, 4), (950.06, 5)])
    buy = sim.send(BUY, 10, 950.04)
    order = sim.wait_order(buy, Status.PARTTRADED)
    assert order.traded == 9
    # each level at its price and volume: median(950.04, Q, last) with the last moving with our fills
    assert _trades_of(sim, buy) == [(950.00, 2), (950.02, 3), (950.04, 4)]
    assert buy in {o.vt_orderid for o in sim.engine.get_all_active_orders()}

    sim.tick(last=949.98, bid=949.96, ask=950.00, ask_volume=1)
    sim.wait_order(buy, Status.ALLTRADED)
    assert _trades_of(sim, buy)[-1] == (950.00, 1)  # median(950.04, 950.00, 949.98)


def test_fak_sells_through_the_bids_and_cancels_the_rest(sim: Sim) -> None:
    sim.tick(last=949.98, bid=949.98, ask=950.00, bid_volume=1, bids=[(949.96, 2), (949.94, 3)])
    fak = sim.send(SELL, 5, 949.96, order_type=OrderType.FAK)
    order = sim.wait_order(fak, Status.CANCELLED)
    assert order.traded == 3 and _trades_of(sim, fak) == [(949.98, 1), (949.96, 2)]
    again = sim.send(SELL, 1, 949.96, order_type=OrderType.FAK)  # those levels are used up on this tick
    assert sim.wait_order(again, Status.CANCELLED).traded == 0


def test_fok_counts_the_whole_volume_across_the_crossing_levels(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00, ask_volume=2, asks=[(950.02, 2), (950.04, 9)])
    only_level_one = sim.send(BUY, 3, 950.00, order_type=OrderType.FOK)
    assert sim.wait_order(only_level_one, Status.CANCELLED).traded == 0
    too_big = sim.send(BUY, 5, 950.02, order_type=OrderType.FOK)
    assert "only 4 of 5" in sim.wait_order(too_big, Status.CANCELLED).extra["reason"]
    fits = sim.send(BUY, 4, 950.02, order_type=OrderType.FOK)
    sim.wait_order(fits, Status.ALLTRADED)
    assert _trades_of(sim, fits) == [(950.00, 2), (950.02, 2)]
    assert _trades_of(sim, only_level_one) == [] and _trades_of(sim, too_big) == []


def test_resting_orders_share_a_tick_by_price_then_time_and_with_arriving_orders(sim: Sim) -> None:
    sim.tick(last=950.10, bid=950.08, ask=950.10)
    a = sim.send(BUY, 3, 950.00)
    b = sim.send(BUY, 3, 950.04)
    c = sim.send(BUY, 3, 950.00)
    for vt in (a, b, c):
        sim.wait_order(vt, Status.NOTTRADED)

    sim.tick(last=949.98, bid=949.96, ask=949.98, ask_volume=5, asks=[(950.00, 2)])
    sim.wait_order(b, Status.ALLTRADED)  # best price first
    sim.wait_order(a, Status.ALLTRADED)  # then arrival
    _traded(sim, c, 1)
    assert _trades_of(sim, b) == [(949.98, 3)]
    assert _trades_of(sim, a) == [(949.98, 2), (950.00, 1)]
    assert _trades_of(sim, c) == [(950.00, 1)]
    late = sim.send(BUY, 1, 950.00)  # nothing left on this tick for an arriving order either
    sim.wait_order(late, Status.NOTTRADED)

    sim.tick(last=950.00, bid=949.98, ask=950.00, ask_volume=2)  # a new tick: fresh volume
    sim.wait_order(c, Status.ALLTRADED)
    assert sim.engine.get_order(late).traded == 0  # c arrived first
    sim.tick(last=950.00, bid=949.98, ask=950.00, ask_volume=2)
    sim.wait_order(late, Status.ALLTRADED)


# ------------------------------------------------------------ the feeds' book


def test_the_random_walk_shows_five_consistent_levels_inside_the_limits() -> None:
    walk = RandomWalk(SYMBOL, 950.0, 0.0002, 3, "SIM")  # limits 9 ticks away: outer levels fall off
    start = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ)
    cut = 0
    for i in range(2000):
        tick = walk.next_tick(start + timedelta(seconds=i / 2), datetime(2026, 3, 2, 1, 0))
        for side, step in (("bid", -1), ("ask", 1)):
            prices = [getattr(tick, f"{side}_price_{k}") for k in range(1, 6)]
            volumes = [getattr(tick, f"{side}_volume_{k}") for k in range(1, 6)]
            shown = [p for p in prices if p > 0]
            assert prices[:len(shown)] == shown, f"{side} gap in {prices}"
            assert all(round((b - a) / 0.02) == step for a, b in zip(shown, shown[1:], strict=False)), prices
            assert all(tick.limit_down <= p <= tick.limit_up for p in shown)
            assert all(1 <= v <= 60 for v in volumes[:len(shown)]) and not any(volumes[len(shown):])
            if len(shown) < 5:  # only a limit price empties a level
                next_out = round(shown[-1] + step * 0.02, 2)
                assert next_out < tick.limit_down or next_out > tick.limit_up, (side, prices)
                cut += 1
    assert cut > 0, "the narrow limits should cut some levels"
    message = tick_message(tick)  # the core's serializer carries the levels
    assert (message.bid_price_5, message.ask_volume_2) == (tick.bid_price_5, tick.ask_volume_2)


def test_the_replay_reads_depth_columns_when_the_file_has_them(tmp_path: Path) -> None:
    lines = AU2206_CSV.read_text().splitlines()
    names = [f"{side}{kind}{k}" for k in range(2, 6) for side in ("Bid", "Ask") for kind in ("Price", "Volume")]
    values = {f"BidPrice{k}": 386.7 - 0.02 * k for k in range(2, 6)} | {f"AskPrice{k}": 386.9 + 0.02 * k
                                                                         for k in range(2, 6)}
    values |= {f"{side}Volume{k}": 10 * k + (side == "Ask") for k in range(2, 6) for side in ("Bid", "Ask")}
    deep = tmp_path / "deep.csv"
    deep.write_text("\n".join([lines[0] + "," + ",".join(names)]
                              + [line + "," + ",".join(f"{values[n]:.2f}" for n in names) for line in lines[1:3]]))
    tick = next(read_ticks(deep, "SIM"))[1]
    assert tick is not None
    assert (tick.bid_price_2, tick.bid_volume_2, tick.ask_price_5, tick.ask_volume_5) == (386.66, 20, 387.0, 51)
    l1 = next(read_ticks(AU2206_CSV, "SIM"))[1]  # the shared file is level 1 only: no deeper levels
    assert l1 is not None and l1.bid_price_1 > 0
    assert all(getattr(l1, f"{side}_{kind}_{k}") == 0 for side in ("bid", "ask") for kind in ("price", "volume")
               for k in range(2, 6))
