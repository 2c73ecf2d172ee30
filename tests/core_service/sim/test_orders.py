"""Order handling: fills at the best price, partial fills, resting orders, cancel, FAK/FOK/MARKET, rejections."""

from __future__ import annotations

import pytest
from vnpy.trader.constant import Direction, Offset, OrderType, Status

from tests.core_service.sim.simkit import Sim
from tests.helpers import eventually

BUY, SELL = Direction.LONG, Direction.SHORT


def _trades_of(sim: Sim, vt_orderid: str) -> list[tuple[float, float]]:
    return [(t.price, t.volume) for t in sim.rec.trades() if t.vt_orderid == vt_orderid]


def test_limit_buy_fills_at_the_ask_and_sell_at_the_bid(sim: Sim) -> None:
    sim.tick(last=950.0, bid=949.98, ask=950.00)
    buy = sim.send(BUY, 2, 950.10)
    order = sim.wait_order(buy, Status.ALLTRADED)
    assert _trades_of(sim, buy) == [(950.00, 2)]
    assert order.vt_orderid == buy and order.traded == 2
    statuses = [o.status for o in sim.rec.orders(buy)]
    assert statuses[0] == Status.SUBMITTING and statuses[-1] == Status.ALLTRADED
    trade = sim.rec.trades()[0]
    assert trade.vt_orderid == buy and trade.direction == BUY and trade.offset == Offset.OPEN
    assert trade.datetime is not None and trade.datetime.tzinfo is not None

    sell = sim.send(SELL, 1, 949.50, Offset.CLOSETODAY)
    sim.wait_order(sell, Status.ALLTRADED)
    assert _trades_of(sim, sell) == [(949.98, 1)]


def test_partial_fill_against_ask_volume_then_later_ticks_then_cancel(start_sim) -> None:
    sim = start_sim(initial_balance=10_000_000.0)
    sim.tick(last=950.0, bid=949.98, ask=950.00, ask_volume=3)
    vt = sim.send(BUY, 10, 950.00)
    order = sim.wait_order(vt, Status.PARTTRADED)
    assert order.traded == 3 and _trades_of(sim, vt) == [(950.00, 3)]

    sim.tick(last=950.02, bid=950.00, ask=950.02, ask_volume=50)  # ask above the order: nothing
    sim.settle()
    assert sim.engine.get_order(vt).traded == 3

    sim.tick(last=949.96, bid=949.94, ask=949.96, ask_volume=4)  # crossed: fills by the three-price rule
    eventually(lambda: sim.engine.get_order(vt).traded == 7, what="second fill")
    # SHFE prices a trade at median(buy 950.00, sell 949.96, last 949.96) = 949.96, no longer the resting
    # order's own price (the old rule said 950.00)
    assert _trades_of(sim, vt) == [(950.00, 3), (949.96, 4)]

    sim.cancel(vt)
    order = sim.wait_order(vt, Status.CANCELLED)
    assert order.traded == 7
    eventually(lambda: sim.account().frozen == 0, what="frozen released")

    vt2 = sim.send(BUY, 5, 950.00)
    sim.wait_order(vt2, Status.NOTTRADED)
    sim.tick(last=950.0, bid=949.98, ask=950.00, ask_volume=2)
    eventually(lambda: sim.engine.get_order(vt2).traded == 2, what="partial")
    sim.tick(last=950.0, bid=949.98, ask=950.00, ask_volume=10)
    sim.wait_order(vt2, Status.ALLTRADED)


def test_orders_on_one_tick_share_its_volume_best_price_first(sim: Sim) -> None:
    sim.tick(last=950.0, bid=949.98, ask=950.00, ask_volume=5)
    first = sim.send(BUY, 3, 950.00)
    second = sim.send(BUY, 3, 950.00)
    sim.wait_order(first, Status.ALLTRADED)
    assert sim.wait_order(second, Status.PARTTRADED).traded == 2

    low = sim.send(BUY, 2, 949.90)
    high = sim.send(BUY, 2, 949.94)
    sim.tick(last=949.90, bid=949.88, ask=949.90, ask_volume=3)  # 1 lot left for second, then high, then low
    eventually(lambda: sim.engine.get_order(second).status == Status.ALLTRADED, what="second done")
    assert sim.wait_order(high, Status.ALLTRADED).traded == 2
    assert sim.engine.get_order(low).traded == 0


def test_fak_fills_what_it_can_and_cancels_the_rest(sim: Sim) -> None:
    sim.tick(last=950.0, bid=949.98, ask=950.00, ask_volume=3)
    vt = sim.send(BUY, 5, 950.00, order_type=OrderType.FAK)
    order = sim.wait_order(vt, Status.CANCELLED)
    assert order.traded == 3 and _trades_of(sim, vt) == [(950.00, 3)]
    assert "FAK" in order.extra["reason"]
    miss = sim.send(BUY, 1, 949.90, order_type=OrderType.FAK)
    assert sim.wait_order(miss, Status.CANCELLED).traded == 0


def test_fok_is_all_or_nothing(sim: Sim) -> None:
    sim.tick(last=950.0, bid=949.98, ask=950.00, ask_volume=3)
    too_big = sim.send(BUY, 5, 950.00, order_type=OrderType.FOK)
    assert sim.wait_order(too_big, Status.CANCELLED).traded == 0
    fits = sim.send(BUY, 3, 950.00, order_type=OrderType.FOK)
    sim.wait_order(fits, Status.ALLTRADED)
    assert _trades_of(sim, too_big) == [] and _trades_of(sim, fits) == [(950.00, 3)]


def test_market_orders_are_fak_limits_five_ticks_through_the_best_clamped(sim: Sim) -> None:
    sim.tick(last=950.0, bid=949.98, ask=950.00, bid_volume=1)
    buy = sim.send(BUY, 2, order_type=OrderType.MARKET)
    order = sim.wait_order(buy, Status.ALLTRADED)
    assert order.price == 950.10 and _trades_of(sim, buy) == [(950.00, 2)]
    sell = sim.send(SELL, 2, offset=Offset.CLOSETODAY, order_type=OrderType.MARKET)
    order = sim.wait_order(sell, Status.CANCELLED)
    assert order.price == 949.88 and order.traded == 1 and _trades_of(sim, sell) == [(949.98, 1)]

    sim.tick(last=1006.96, bid=1006.94, ask=1006.96)
    near_limit = sim.send(BUY, 1, order_type=OrderType.MARKET)
    assert sim.wait_order(near_limit, Status.ALLTRADED).price == 1007.0


@pytest.mark.parametrize(
    ("symbol", "volume", "price", "offset", "reason"),
    [
        ("au9901", 1, 950.0, Offset.OPEN, "unknown contract au9901.SHFE"),
        ("au2704", 1, 950.0, Offset.OPEN, "no market data yet for au2704"),
        ("au2702", 0, 950.0, Offset.OPEN, "not a positive whole number"),
        ("au2702", 1.5, 950.0, Offset.OPEN, "not a positive whole number"),
        ("au2702", 1, 950.01, Offset.OPEN, "not on the 0.02 tick"),
        ("au2702", 1, 1007.02, Offset.OPEN, "above the limit-up price 1007.00"),
        ("au2702", 1, 892.98, Offset.OPEN, "below the limit-down price 893.00"),
        ("au2702", 11, 950.0, Offset.OPEN, "not enough available funds"),
        ("au2702", 1, 950.0, Offset.CLOSETODAY, "not enough closable position"),
        ("au2702", 1, 950.0, Offset.CLOSE, "not enough closable position"),
    ],
)
def test_rejections_carry_a_reason(sim: Sim, symbol: str, volume: float, price: float, offset: Offset,
                                   reason: str) -> None:
    sim.tick(last=950.0, bid=949.98, ask=950.00)
    vt = sim.send(SELL if offset != Offset.OPEN else BUY, volume, price, offset, symbol=symbol)
    assert vt.startswith("SIM.")
    order = sim.wait_order(vt, Status.REJECTED)
    assert reason in order.extra["reason"]
    assert [o.status for o in sim.rec.orders(vt)] == [Status.SUBMITTING, Status.REJECTED]
    eventually(lambda: any(vt in m and reason in m for m in sim.rec.logs()), what="rejection logged")
    assert sim.rec.trades() == []


def test_pending_opens_freeze_funds(start_sim) -> None:
    sim = start_sim(initial_balance=1_000_000.0)
    sim.tick(last=950.0, bid=949.98, ask=950.00)
    resting = sim.send(BUY, 5, 949.00)
    sim.wait_order(resting, Status.NOTTRADED)
    frozen = 0.10 * 949.00 * 1000 * 5 + 5 * 10.0
    eventually(lambda: sim.account().frozen == pytest.approx(frozen), what="frozen")
    extra = sim.account().extra  # split as CTP's FrozenMargin / FrozenCommission
    assert extra["frozen_margin"] == pytest.approx(0.10 * 949.00 * 1000 * 5)
    assert extra["frozen_commission"] == pytest.approx(5 * 10.0)
    assert sim.account().available == pytest.approx(1_000_000.0 - frozen)
    too_much = sim.send(BUY, 6, 949.00)
    assert "not enough available funds" in sim.wait_order(too_much, Status.REJECTED).extra["reason"]
    sim.cancel(resting)
    sim.wait_order(resting, Status.CANCELLED)
    eventually(lambda: sim.account().available == pytest.approx(1_000_000.0), what="unfrozen")


def test_ids_are_unique_and_cancel_of_unknown_or_done_orders_is_logged(sim: Sim) -> None:
    sim.tick(last=950.0, bid=949.98, ask=950.00, ask_volume=100, bid_volume=100)
    ids = [sim.send(BUY, 1, 950.00) for _ in range(5)] + [sim.send(SELL, 1, 949.98, Offset.CLOSETODAY) for _ in range(5)]
    for vt in ids:
        sim.wait_order(vt, Status.ALLTRADED)
    assert len(set(ids)) == 10
    tradeids = [t.vt_tradeid for t in sim.rec.trades()]
    assert len(tradeids) == 10 and len(set(tradeids)) == 10

    sim.cancel(ids[0])
    from vnpy.trader.constant import Exchange
    from vnpy.trader.object import CancelRequest

    sim.engine.cancel_order(CancelRequest("nope", "au2702", Exchange.SHFE), "SIM")
    eventually(lambda: any("already ALLTRADED" in m for m in sim.rec.logs()), what="done-order log")
    eventually(lambda: any("SIM.nope is unknown" in m for m in sim.rec.logs()), what="unknown-order log")
