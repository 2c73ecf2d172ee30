"""The state file: atomic, complete, and a restarted gateway carries on where the last one stopped."""

from __future__ import annotations

import json
import time

import pytest
from vnpy.trader.constant import Direction, Offset, Status

from common.contract import GatewayState
from core_service.gateway_status import GatewayStatusTracker
from tests.core_service.sim.simkit import Sim
from tests.helpers import eventually

BUY, SELL = Direction.LONG, Direction.SHORT


def test_state_survives_a_restart_with_the_same_trades_and_new_unique_ids(start_sim, tmp_path) -> None:
    first = start_sim()
    first.tick(last=950.00, bid=949.98, ask=950.00)
    first.wait_order(first.send(BUY, 3, 950.00), Status.ALLTRADED)
    first.wait_order(first.send(SELL, 1, 949.98, Offset.CLOSETODAY), Status.ALLTRADED)
    resting = first.send(BUY, 1, 940.00)
    first.wait_order(resting, Status.NOTTRADED)
    first.tick(last=951.00, bid=950.98, ask=951.00)
    eventually(lambda: first.position(BUY).pnl == pytest.approx(2000), what="marked")
    before_trades = [(t.vt_tradeid, t.price, t.volume, t.offset) for t in first.rec.trades()]
    before_account = first.account()
    first.engine.close()

    saved = json.loads((tmp_path / "sim_state.json").read_text())
    assert saved["counters"] == {"order": 3, "trade": 2}
    assert [p["td"] for p in saved["ledger"]["positions"] if p["direction"] == "LONG"] == [2]

    second: Sim = start_sim()
    eventually(lambda: len(second.rec.trades()) == 2, what="today's trades replayed")
    assert [(t.vt_tradeid, t.price, t.volume, t.offset) for t in second.rec.trades()] == before_trades
    assert second.wait_order(resting, Status.NOTTRADED).price == 940.00  # still resting at the exchange
    position = eventually(lambda: second.position(BUY), what="position")
    assert (position.volume, position.yd_volume, position.price) == (2, 0, 950.00)
    account = eventually(lambda: second.engine.get_account("SIM.SIM"), what="account")
    assert account.balance == pytest.approx(before_account.balance)
    assert account.frozen == pytest.approx(before_account.frozen) and account.frozen > 0

    second.tick(last=951.00, bid=950.98, ask=951.00)
    new = second.send(BUY, 1, 951.00)
    second.wait_order(new, Status.ALLTRADED)
    assert new == "SIM.00000004"
    assert second.rec.trades()[-1].vt_tradeid == "SIM.00000003"


def test_state_file_is_replaced_atomically_and_bad_files_stop_the_start(start_sim, engines, tmp_path) -> None:
    sim = start_sim()
    sim.tick()
    sim.wait_order(sim.send(BUY, 1, 950.00), Status.ALLTRADED)
    assert [p.name for p in tmp_path.iterdir()] == ["sim_state.json"]  # no temp files left behind
    sim.engine.close()

    (tmp_path / "sim_state.json").write_text("{ half a file")
    from core_service.sim import SimGateway

    tracker = GatewayStatusTracker("sim")
    gateway = engines().add_gateway(SimGateway)
    gateway.status_tracker = tracker
    from tests.core_service.sim.simkit import base_setting

    gateway.connect(base_setting(tmp_path))
    assert tracker.current.state == GatewayState.LOGIN_FAILED
    assert "cannot read sim state file" in tracker.current.reason
    assert (tmp_path / "sim_state.json").read_text() == "{ half a file"  # left for the operator


def test_close_stops_threads_promptly(start_sim) -> None:
    from vnpy.trader.constant import Exchange
    from vnpy.trader.object import SubscribeRequest

    sim = start_sim(tick_interval_ms=500)
    sim.engine.subscribe(SubscribeRequest("au2702", Exchange.SHFE), "SIM")
    eventually(lambda: sim.rec.ticks(), what="a tick")
    started = time.monotonic()
    sim.gateway.close()
    assert time.monotonic() - started < 1.0
    assert not sim.gateway._feed.is_alive()
