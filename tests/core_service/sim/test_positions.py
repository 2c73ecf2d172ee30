"""SHFE positions and money: today/yesterday closes, frozen lots, PnL, margin, commission, day roll."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from vnpy.trader.constant import Direction, Exchange, Offset, OrderType, Status
from vnpy.trader.object import OrderRequest

from common.trading_calendar import CHINA_TZ, next_weekday, trading_day, trading_day_str
from tests.core_service.sim.simkit import SYMBOL, Sim
from tests.helpers import eventually

BUY, SELL = Direction.LONG, Direction.SHORT
INITIAL = 1_000_000.0


def _next_trading_day_time() -> datetime:
    """A time whose trading day is the one after today's (so the sim rolls when it sees it)."""
    return datetime.combine(next_weekday(trading_day(datetime.now(CHINA_TZ))), time(10, 0), CHINA_TZ)


def _roll(sim: Sim, last: float) -> None:
    day = trading_day_str(_next_trading_day_time())
    sim.tick(last=last, bid=last, ask=round(last + 0.02, 2), dt=_next_trading_day_time())
    eventually(lambda: sim.account().extra["trading_day"] == day, what="day rolled")


def _long(sim: Sim):  # noqa: ANN202 - PositionData | None
    return sim.position(BUY)


def test_pnl_margin_and_commission_on_hand_computed_figures(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00)
    sim.wait_order(sim.send(BUY, 2, 950.00), Status.ALLTRADED)
    eventually(lambda: sim.account().balance == pytest.approx(INITIAL - 20), what="commission 2 x 10")
    account = sim.account()
    assert account.extra["margin"] == pytest.approx(0.10 * 950.00 * 1000 * 2)  # 190,000
    assert account.available == pytest.approx(INITIAL - 20 - 190_000)

    sim.tick(last=951.50, bid=951.50, ask=951.52)
    eventually(lambda: sim.account().extra["unrealized_pnl"] == pytest.approx(3000), what="(951.50-950)*2*1000")
    account, position = sim.account(), _long(sim)
    assert account.balance == pytest.approx(INITIAL + 3000 - 20)
    assert account.extra["margin"] == pytest.approx(0.10 * 951.50 * 1000 * 2)  # 190,300
    assert account.available == pytest.approx(INITIAL + 3000 - 20 - 190_300)
    assert (position.volume, position.yd_volume, position.price, position.pnl) == (2, 0, 950.00, pytest.approx(3000))

    sim.wait_order(sim.send(SELL, 2, 951.50, Offset.CLOSETODAY), Status.ALLTRADED)
    eventually(lambda: sim.account().extra["realized_pnl"] == pytest.approx(3000), what="realized")
    account = sim.account()
    assert account.extra["commission"] == pytest.approx(20 + 2 * 5.0)  # close-today rate 5
    assert account.extra["unrealized_pnl"] == 0 and account.extra["margin"] == 0
    assert account.balance == pytest.approx(INITIAL + 3000 - 30) == account.available
    assert sim.rec.trades()[-1].extra["realized_pnl"] == pytest.approx(3000)
    eventually(lambda: _long(sim).volume == 0, what="flat position pushed")


def test_close_today_takes_todays_lots_oldest_first_as_ctp_does(sim: Sim) -> None:
    """Open 1 @ 950.00 then 1 @ 952.00, close-today 1 @ 953.00: the 950.00 lot goes (+3000), not the
    average (+2000); the remaining lot is marked from 952.00. Same as positions_closed and CTP."""
    sim.tick(last=950.00, bid=949.98, ask=950.00)
    sim.wait_order(sim.send(BUY, 1, 950.00), Status.ALLTRADED)
    sim.tick(last=952.00, bid=951.98, ask=952.00)
    sim.wait_order(sim.send(BUY, 1, 952.00), Status.ALLTRADED)
    sim.tick(last=953.00, bid=953.00, ask=953.02)
    sim.wait_order(sim.send(SELL, 1, 953.00, Offset.CLOSETODAY), Status.ALLTRADED)
    eventually(lambda: sim.account().extra["realized_pnl"] == pytest.approx(3000), what="oldest lot closed")
    assert sim.rec.trades()[-1].extra["realized_pnl"] == pytest.approx(3000)
    eventually(lambda: _long(sim).volume == 1)
    assert _long(sim).price == pytest.approx(952.00)
    assert sim.account().extra["unrealized_pnl"] == pytest.approx(1000)  # (953 - 952) x 1 x 1000


def test_margin_follows_the_single_side_rule_for_long_and_short_in_au(sim: Sim) -> None:
    sim.tick(last=950.00, bid=950.00, ask=950.00)
    sim.wait_order(sim.send(BUY, 2, 950.00), Status.ALLTRADED)
    sim.wait_order(sim.send(SELL, 1, 950.00), Status.ALLTRADED)  # opens a short: the account holds both sides
    eventually(lambda: sim.position(SELL) is not None and sim.position(SELL).volume == 1, what="short opened")
    account = sim.account()
    # SHFE 单向大边: only the larger side (2 long lots) is charged, not 3 lots
    assert account.extra["margin"] == pytest.approx(0.10 * 950.00 * 1000 * 2)  # 190,000
    assert account.available == pytest.approx(INITIAL - 30 - 190_000)
    sim.wait_order(sim.send(SELL, 2, 950.00), Status.ALLTRADED)  # the short side becomes the larger one
    eventually(lambda: sim.position(SELL).volume == 3, what="3 short")
    assert sim.account().extra["margin"] == pytest.approx(0.10 * 950.00 * 1000 * 3)  # 285,000


def test_short_pnl_has_the_opposite_sign(sim: Sim) -> None:
    sim.tick(last=951.50, bid=951.50, ask=951.52)
    sim.wait_order(sim.send(SELL, 1, 951.50), Status.ALLTRADED)
    sim.tick(last=950.00, bid=949.98, ask=950.00)
    eventually(lambda: sim.position(SELL).pnl == pytest.approx(1500), what="(951.50-950.00)*1*1000")
    assert sim.account().extra["unrealized_pnl"] == pytest.approx(1500)
    sim.tick(last=952.00, bid=951.98, ask=952.00)
    eventually(lambda: sim.position(SELL).pnl == pytest.approx(-500), what="loss")


def test_day_roll_moves_today_to_yesterday_and_carries_the_balance(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00)
    sim.wait_order(sim.send(BUY, 2, 950.00), Status.ALLTRADED)
    sim.tick(last=951.50, bid=951.48, ask=951.50)
    resting = sim.send(BUY, 1, 940.00)
    sim.wait_order(resting, Status.NOTTRADED)

    _roll(sim, 951.50)
    order = sim.wait_order(resting, Status.CANCELLED)  # the exchange drops resting orders at day end
    assert "ended" in order.extra["reason"]
    eventually(lambda: _long(sim).yd_volume == 2, what="td -> yd")
    account = sim.account()
    assert account.extra["pre_balance"] == pytest.approx(INITIAL - 20 + 3000)
    assert account.extra["commission"] == 0 and account.extra["realized_pnl"] == 0
    assert account.extra["unrealized_pnl"] == 0  # marked to the settlement (last) price
    assert account.balance == pytest.approx(INITIAL - 20 + 3000)
    assert (_long(sim).price, _long(sim).pnl) == (950.00, pytest.approx(3000))  # since opening

    sim.tick(last=952.00, bid=952.00, ask=952.02, dt=_next_trading_day_time())
    today_close = sim.send(SELL, 1, 952.00, Offset.CLOSETODAY)
    assert "today's" in sim.wait_order(today_close, Status.REJECTED).extra["reason"]
    sim.wait_order(sim.send(SELL, 2, 952.00, Offset.CLOSE), Status.ALLTRADED)  # CLOSE = yesterday on SHFE
    eventually(lambda: sim.account().extra["realized_pnl"] == pytest.approx(1000), what="(952-951.50)*2*1000")
    account = sim.account()
    assert account.extra["commission"] == pytest.approx(2 * 10.0)  # close-yesterday pays the normal rate
    assert account.balance == pytest.approx(INITIAL + (952.00 - 950.00) * 2 * 1000 - 20 - 20)


def test_close_on_a_today_only_position_is_rejected_and_converter_splits_close(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00, bid_volume=50, ask_volume=50)
    sim.wait_order(sim.send(BUY, 2, 950.00), Status.ALLTRADED)
    close = sim.send(SELL, 1, 949.98, Offset.CLOSE)
    assert "CLOSE and CLOSEYESTERDAY close yesterday's lots only" in sim.wait_order(close, Status.REJECTED).extra["reason"]

    _roll(sim, 950.00)
    sim.tick(last=950.00, bid=949.98, ask=950.00, bid_volume=50, ask_volume=50, dt=_next_trading_day_time())
    sim.wait_order(sim.send(BUY, 1, 950.00), Status.ALLTRADED)
    eventually(lambda: (_long(sim).volume, _long(sim).yd_volume) == (3, 2), what="td 1 + yd 2")

    req = OrderRequest(SYMBOL, Exchange.SHFE, SELL, OrderType.LIMIT, 3, 949.98, Offset.CLOSE)
    split = sim.engine.convert_order_request(req, "SIM", False, False)
    assert [(r.offset, r.volume) for r in split] == [(Offset.CLOSETODAY, 1), (Offset.CLOSEYESTERDAY, 2)]
    for part in split:
        sim.wait_order(sim.engine.send_order(part, "SIM"), Status.ALLTRADED)
    eventually(lambda: _long(sim).volume == 0, what="flat")
    too_many = OrderRequest(SYMBOL, Exchange.SHFE, SELL, OrderType.LIMIT, 1, 949.98, Offset.CLOSE)
    assert sim.engine.convert_order_request(too_many, "SIM", False, False) == []


def test_pending_close_freezes_lots(sim: Sim) -> None:
    sim.tick(last=950.00, bid=949.98, ask=950.00)
    sim.wait_order(sim.send(BUY, 3, 950.00), Status.ALLTRADED)
    pending = sim.send(SELL, 2, 960.00, Offset.CLOSETODAY)  # above the bid: rests
    sim.wait_order(pending, Status.NOTTRADED)
    eventually(lambda: _long(sim).frozen == 2, what="2 lots frozen")
    assert _long(sim).extra["td_frozen"] == 2
    over = sim.send(SELL, 2, 960.00, Offset.CLOSETODAY)
    reason = sim.wait_order(over, Status.REJECTED).extra["reason"]
    assert "1 of today's LONG lots can be closed" in reason
    sim.cancel(pending)
    sim.wait_order(pending, Status.CANCELLED)
    eventually(lambda: _long(sim).frozen == 0, what="unfrozen")
    sim.wait_order(sim.send(SELL, 3, 949.98, Offset.CLOSETODAY), Status.ALLTRADED)
