"""The sim's order/trade query and its drills: lost pushes and a close behind the core's back."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from vnpy.trader.constant import Direction, Offset, Status
from vnpy.trader.event import EVENT_ORDER, EVENT_TRADE
from vnpy.trader.object import OrderData, TradeData

from tests.core_service.sim.simkit import SYMBOL, Sim
from tests.core_service.sim.test_positions import _next_trading_day_time, _roll
from tests.helpers import eventually

BUY, SELL = Direction.LONG, Direction.SHORT
Answer = tuple[list[OrderData], list[TradeData], str, str]  # orders, trades, error, the answering thread


def query(sim: Sim) -> Answer:
    """Ask the sim for today's orders and trades and wait for the answer."""
    answers: list[Answer] = []
    assert sim.gateway.query_orders_trades(
        lambda orders, trades, error: answers.append((orders, trades, error, threading.current_thread().name))
    )
    return eventually(lambda: answers and answers[0], timeout=5, what="query answered")


def test_the_query_answers_todays_orders_and_trades_on_its_own_thread(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00)
    filled = sim.send(BUY, 2, 950.00)
    sim.wait_order(filled, Status.ALLTRADED)
    resting = sim.send(BUY, 1, 940.00)
    sim.wait_order(resting, Status.NOTTRADED)

    orders, trades, error, thread = query(sim)
    assert error == "" and thread != threading.current_thread().name
    assert {o.vt_orderid: o.status for o in orders} == {filled: Status.ALLTRADED, resting: Status.NOTTRADED}
    assert [(t.vt_orderid, t.volume) for t in trades] == [(filled, 2)]
    assert trades[0] == sim.rec.trades()[0]  # the same TradeData the push carried


def test_one_query_at_a_time(sim: Sim) -> None:
    exchange = sim.gateway.exchange
    assert exchange is not None
    answers: list[int] = []
    with exchange.lock:  # the answering thread waits for the exchange
        assert sim.gateway.query_orders_trades(lambda o, t, e: answers.append(len(o)))
        assert not sim.gateway.query_orders_trades(lambda o, t, e: answers.append(-1))
    eventually(lambda: answers == [0], timeout=5, what="the first query answered")
    assert sim.gateway.query_orders_trades(lambda o, t, e: answers.append(len(o)))  # free again
    eventually(lambda: answers == [0, 0], timeout=5)


def test_lost_pushes_are_kept_by_the_exchange_and_shown_by_the_query(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00)
    sim.gateway.drill_lose_pushes(1)
    lost = sim.send(BUY, 1, 950.00)
    eventually(
        lambda: sim.position(BUY) is not None and sim.position(BUY).volume == 1, what="position pushed"
    )
    sim.settle()
    assert sim.rec.trades() == []  # neither the trade ...
    assert [o.status for o in sim.rec.orders(lost)] == [Status.SUBMITTING]  # ... nor the order's fill
    orders, trades, error, _ = query(sim)
    assert error == "" and [(o.vt_orderid, o.status, o.traded) for o in orders] == [
        (lost, Status.ALLTRADED, 1)
    ]
    assert [(t.vt_orderid, t.volume, t.price) for t in trades] == [(lost, 1, 950.00)]

    pushed = sim.send(BUY, 1, 950.00)  # the drill lost one fill only
    sim.wait_order(pushed, Status.ALLTRADED)
    eventually(lambda: [t.vt_orderid for t in sim.rec.trades()] == [pushed], timeout=5)


def test_lost_pushes_of_a_resting_order_lose_the_fill_and_its_order_update_only(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00)
    resting = sim.send(BUY, 1, 949.00)
    sim.wait_order(resting, Status.NOTTRADED)
    sim.gateway.drill_lose_pushes(1)
    sim.tick(last=949.00, bid=948.98, ask=949.00)  # the ask comes down to it: it fills
    eventually(
        lambda: sim.position(BUY) is not None and sim.position(BUY).volume == 1, what="position pushed"
    )
    sim.settle()
    assert sim.rec.trades() == []
    assert sim.engine.get_order(resting).status == Status.NOTTRADED  # the core still has it resting
    orders, trades, _, _ = query(sim)
    assert [(o.vt_orderid, o.status) for o in orders] == [(resting, Status.ALLTRADED)]
    assert [t.vt_orderid for t in trades] == [resting]


def test_external_close_takes_yesterdays_lots_first_with_no_order_or_trade(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00)
    sim.wait_order(sim.send(BUY, 1, 950.00), Status.ALLTRADED)
    sim.tick(last=951.00, bid=950.98, ask=951.00)
    _roll(sim, 951.00)  # that lot is yesterday's now, marked from 951.00
    sim.tick(last=952.00, bid=951.98, ask=952.00, dt=_next_trading_day_time())
    sim.wait_order(sim.send(BUY, 1, 952.00), Status.ALLTRADED)
    eventually(lambda: (sim.position(BUY).volume, sim.position(BUY).yd_volume) == (2, 1), what="td 1 + yd 1")
    sim.tick(last=953.00, bid=952.98, ask=953.00, dt=_next_trading_day_time())
    events_before = len(sim.rec.events)

    result = sim.gateway.drill_external_close(SYMBOL, BUY, 1)

    assert result == {"symbol": SYMBOL, "direction": "LONG", "volume": 1, "yd_closed": 1, "td_closed": 0,
                      "price": 953.00, "realized_pnl": 2000.0, "commission": 10.0, "position_left": 1}  # fmt: skip
    # (953.00 - 951.00 settlement) x 1 x 1000 = 2000; close-yesterday at the normal rate, 10
    eventually(
        lambda: (sim.position(BUY).volume, sim.position(BUY).yd_volume) == (1, 0), what="position pushed"
    )
    eventually(lambda: sim.account().extra["realized_pnl"] == pytest.approx(2000), what="account pushed")
    assert sim.account().extra["commission"] == pytest.approx(10 + 10)  # today's open, then the close
    sim.settle()
    pushed = {kind for kind, _ in sim.rec.events[events_before:]}
    assert EVENT_ORDER not in pushed and EVENT_TRADE not in pushed
    orders, trades, _, _ = query(sim)
    assert len(orders) == 1 and len(trades) == 1  # today's open only: the close is not the core's to see


def test_external_close_refuses_frozen_lots_and_too_many(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00)
    sim.wait_order(sim.send(SELL, 2, 949.98), Status.ALLTRADED)
    pending = sim.send(BUY, 1, 940.00, Offset.CLOSETODAY)  # freezes one of the two lots
    sim.wait_order(pending, Status.NOTTRADED)
    with pytest.raises(ValueError, match="holds 2 lots, 1 closable"):
        sim.gateway.drill_external_close(SYMBOL, SELL, 2)
    with pytest.raises(ValueError, match="holds 0 lots"):
        sim.gateway.drill_external_close(SYMBOL, BUY, 1)
    with pytest.raises(ValueError, match="positive whole number"):
        sim.gateway.drill_external_close(SYMBOL, SELL, 0)
    assert sim.gateway.drill_external_close(f"{SYMBOL}.SHFE", SELL, 1)["td_closed"] == 1
    eventually(lambda: sim.position(SELL).volume == 1, what="one lot left, the frozen one")
    sim.wait_order(sim.send(BUY, 1, 950.00, Offset.CLOSETODAY), Status.REJECTED)  # it is frozen by `pending`


def test_external_close_without_a_price_is_refused(start_sim: Callable[..., Sim], tmp_path: Path) -> None:
    first = start_sim()
    first.tick(last=950.00, bid=949.98, ask=950.00)
    first.wait_order(first.send(BUY, 1, 950.00), Status.ALLTRADED)
    first.gateway.close()
    state = tmp_path / "sim_state.json"
    data = json.loads(state.read_text(encoding="utf-8"))
    data["ledger"]["last_prices"] = {}  # a state saved before any tick of that contract
    state.write_text(json.dumps(data), encoding="utf-8")

    again = start_sim()
    eventually(
        lambda: again.position(BUY) is not None and again.position(BUY).volume == 1, what="state loaded"
    )
    with pytest.raises(ValueError, match="no price for au2702 yet"):
        again.gateway.drill_external_close(SYMBOL, BUY, 1)
    assert again.position(BUY).volume == 1
