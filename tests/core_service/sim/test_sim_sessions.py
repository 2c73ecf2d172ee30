"""The simulated exchange with `sessions` = shfe: orders outside au's sessions are rejected with the
reason by the sim's market clock (here a replay's, moved by the ticks' exchange time), orders inside
are accepted; the random walk is quiet outside the sessions; `always` trades on a Saturday; the
heartbeat's session state follows the sim clock (core_service/session_clock.py)."""

from __future__ import annotations

import csv
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from vnpy.trader.constant import Direction, Status
from vnpy.trader.object import TickData

from common.config import AppConfig
from common.trading_calendar import CHINA_TZ, NO_HOLIDAYS
from common.trading_sessions import session_state
from core_service.session_clock import current_session
from core_service.sim.feeds import RandomFeed
from core_service.sim.market import RandomWalk
from core_service.sim.replay import REQUIRED
from core_service.sim.settings import SettingError, parse_settings
from tests.core_service.sim.simkit import SYMBOL, Sim

BUY = Direction.LONG
THURSDAY_10 = datetime(2026, 11, 19, 10, 0, tzinfo=CHINA_TZ)
THURSDAY_LUNCH = datetime(2026, 11, 19, 12, 0, tzinfo=CHINA_TZ)
THURSDAY_1330 = datetime(2026, 11, 19, 13, 30, tzinfo=CHINA_TZ)
SATURDAY_10 = datetime(2026, 11, 21, 10, 0, tzinfo=CHINA_TZ)


def one_row_csv(path: Path, at: datetime) -> Path:
    """A CTP level-1 CSV of one au2702 tick at `at`: the replay sim's clock starts there."""
    row = {name: "0" for name in REQUIRED}
    row.update(TradingDay=at.strftime("%Y%m%d"), ActionDay=at.strftime("%Y%m%d"), UpdateTime=at.strftime("%H:%M:%S"),
               ExchangeID="SHFE", InstrumentID=SYMBOL, LastPrice="950", Volume="10", BidPrice1="949.98",
               BidVolume1="5", AskPrice1="950", AskVolume1="5", UpperLimitPrice="1007", LowerLimitPrice="893",
               PreSettlementPrice="950")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["TradingDay", *REQUIRED])
        writer.writeheader()
        writer.writerow(row)
    return path


def replay_sim(start_sim: Any, tmp_path: Path, sessions: str, start: datetime = THURSDAY_10) -> Sim:
    """A sim on the replay clock; the file is held (never played), the test moves the clock with ticks."""
    sim = start_sim(replay_file=str(one_row_csv(tmp_path / "one.csv", start)), hold_replay=True,
                    sessions=sessions)
    assert sim.gateway.exchange is not None, sim.rec.logs()
    return sim


def test_an_order_on_a_saturday_is_rejected_with_the_reason(start_sim: Any, tmp_path: Path) -> None:
    sim = replay_sim(start_sim, tmp_path, "shfe")
    sim.tick(last=950.0, dt=SATURDAY_10)
    assert sim.gateway.market_now() == SATURDAY_10

    vt = sim.send(BUY, 1, 950.0)
    order = sim.wait_order(vt, Status.REJECTED)
    assert order.extra["reason"] == ("outside the trading sessions (weekend): the market is closed, "
                                     "next open 2026-11-23 09:00 China time")
    assert order.datetime == SATURDAY_10
    assert sim.rec.trades() == []
    assert any("rejected: outside the trading sessions (weekend)" in line for line in sim.rec.logs())


def test_orders_inside_a_session_are_accepted_and_the_lunch_break_refused(start_sim: Any, tmp_path: Path) -> None:
    sim = replay_sim(start_sim, tmp_path, "shfe")
    sim.tick(last=950.0, bid=949.98, ask=950.0, dt=THURSDAY_10)
    filled = sim.send(BUY, 1, 950.0)
    sim.wait_order(filled, Status.ALLTRADED)

    sim.tick(last=950.0, bid=949.98, ask=950.0, dt=THURSDAY_LUNCH)
    refused = sim.send(BUY, 1, 950.0)
    reason = sim.wait_order(refused, Status.REJECTED).extra["reason"]
    assert "(lunch break): the market is in a break, next open 2026-11-19 13:30" in reason

    sim.tick(last=950.0, bid=949.98, ask=950.0, dt=THURSDAY_1330)
    resting = sim.send(BUY, 1, 949.0)
    sim.wait_order(resting, Status.NOTTRADED)  # accepted, resting below the ask
    assert [t.vt_orderid for t in sim.rec.trades()] == [filled]


def test_always_mode_trades_on_a_saturday(start_sim: Any, tmp_path: Path) -> None:
    sim = replay_sim(start_sim, tmp_path, "always")
    sim.tick(last=950.0, bid=949.98, ask=950.0, dt=SATURDAY_10)
    vt = sim.send(BUY, 1, 950.0)
    sim.wait_order(vt, Status.ALLTRADED)
    assert sim.gateway.session_mode() == "always"


def _feed(now: datetime, delivered: list[TickData]) -> RandomFeed:
    walk = RandomWalk(SYMBOL, 950.0, 0.06, 7, "SIM")
    shfe = lambda at: session_state(at, "shfe", NO_HOLIDAYS).state == "open"  # noqa: E731
    return RandomFeed({SYMBOL: walk}, lambda: [SYMBOL], 0.05, delivered.append, lambda at: None,
                      threading.Event(), lambda msg: None, shfe, lambda: now)


@pytest.mark.parametrize(("now", "ticks"), [(SATURDAY_10, 0), (THURSDAY_LUNCH, 0), (THURSDAY_10, 1)])
def test_the_random_walk_is_quiet_outside_the_sessions(now: datetime, ticks: int) -> None:
    delivered: list[TickData] = []
    feed = _feed(now, delivered)
    feed._round()  # one round of the feed thread, on the feed's clock
    assert len(delivered) == ticks
    assert all(t.datetime == now for t in delivered)


def test_the_random_walk_gateway_gates_its_feed_by_the_sessions(start_sim: Any) -> None:
    shfe = start_sim(sessions="shfe")
    feed = shfe.gateway._feed
    assert isinstance(feed, RandomFeed) and feed.trading is not None
    assert feed.trading(SATURDAY_10) is False and feed.trading(THURSDAY_10) is True
    assert abs((feed.now() - datetime.now(CHINA_TZ)).total_seconds()) < 5  # the wall clock in random mode


def test_a_bad_sessions_setting_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match="setting 'sessions' must be one of always, shfe, got 'nyse'"):
        parse_settings({"state_file": str(tmp_path / "s.json"), "sessions": "nyse"})
    assert parse_settings({"state_file": str(tmp_path / "s.json")}).sessions == "always"


def test_the_heartbeat_session_follows_the_sim_clock(start_sim: Any, tmp_path: Path) -> None:
    sim = replay_sim(start_sim, tmp_path, "shfe")
    sim.tick(last=950.0, dt=SATURDAY_10)
    config = AppConfig.model_validate({"gateway": {"name": "sim", "sim": {"sessions": "shfe"}}})
    state = current_session(config, sim.engine)  # the configured rule, by the sim's market clock (a Saturday)
    assert state is not None
    assert (state.mode, state.state, state.reason) == ("shfe", "closed", "weekend")
    assert state.next_open_ms == int(datetime(2026, 11, 23, 9, tzinfo=CHINA_TZ).timestamp() * 1000)

    ctp = AppConfig.model_validate({"gateway": {"name": "ctp"}})
    assert current_session(ctp, None).mode == "shfe"
    # the rule is the config's, also before the sim has connected and taken its settings (its default is always)
    assert current_session(config, None).mode == "shfe"
    demo = AppConfig.model_validate({"gateway": {"name": "sim", "sim": {"sessions": "always"}}})
    assert current_session(demo, None).mode == "always"
