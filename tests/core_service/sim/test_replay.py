"""Replay of real CTP ticks (au2206, 2022-02-18): the file's prices, sim-clock timestamps, determinism."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vnpy.event import Event
from vnpy.trader.constant import Direction, Exchange, Offset, OrderType
from vnpy.trader.event import EVENT_TICK
from vnpy.trader.object import OrderRequest, SubscribeRequest, TickData

from common.trading_calendar import CHINA_TZ
from core_service.sim.replay import read_ticks
from tests.core_service.sim.simkit import AU2206_CSV, Sim
from tests.helpers import eventually

REPLAY_SYMBOL = "au2206"


class TickStrategy:
    """A stand-in strategy on the real event thread: buy at the ask every 150th tick, sell 75 ticks later."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.count = 0
        self.sent: list[tuple[str, int, TickData]] = []  # (vt_orderid, tick number, tick)
        self.errors: list[BaseException] = []
        sim.engine.event_engine.register(EVENT_TICK, self.on_tick)

    def on_tick(self, event: Event) -> None:
        try:
            tick: TickData = event.data
            self.count += 1
            if self.count % 150 == 0:
                self._send(tick, Direction.LONG, tick.ask_price_1, Offset.OPEN)
            elif self.count % 150 == 75 and self.count > 150:
                self._send(tick, Direction.SHORT, tick.bid_price_1, Offset.CLOSETODAY)
        except Exception as exc:  # an exception would kill vnpy's event thread
            self.errors.append(exc)

    def _send(self, tick: TickData, direction: Direction, price: float, offset: Offset) -> None:
        req = OrderRequest(REPLAY_SYMBOL, Exchange.SHFE, direction, OrderType.LIMIT, 1, price, offset)
        self.sent.append((self.sim.engine.send_order(req, "SIM"), self.count, tick))


def _run(start_sim: Callable[..., Sim], state_file: Path) -> tuple[Sim, TickStrategy]:
    sim = start_sim(replay_file=str(AU2206_CSV), replay_speed=0, state_file=str(state_file),
                    main_contract="au2702", initial_balance=10_000_000.0)
    strategy = TickStrategy(sim)
    sim.engine.subscribe(SubscribeRequest(REPLAY_SYMBOL, Exchange.SHFE), "SIM")
    eventually(sim.gateway.replay_done.is_set, timeout=40, what="replay finished")
    sim.settle()
    assert strategy.errors == []
    return sim, strategy


def _file_rows() -> list[dict[str, Any]]:
    with AU2206_CSV.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _outcome(sim: Sim, strategy: TickStrategy) -> list[Any]:
    orders = [(o.vt_orderid, o.status.name, o.traded, o.datetime) for o in sim.engine.get_all_orders()]
    trades = [(t.vt_tradeid, t.vt_orderid, t.price, t.volume, t.offset.name, t.datetime) for t in sim.rec.trades()]
    account = sim.account()
    return [sorted(orders), trades, [(vt, n) for vt, n, _ in strategy.sent], account.balance, account.extra]


def test_replay_is_the_file_and_is_deterministic(start_sim, tmp_path) -> None:
    sim, strategy = _run(start_sim, tmp_path / "run1.json")
    rows = _file_rows()
    ticks = sim.rec.ticks()
    assert len(ticks) == len(rows) == 2234
    assert [t.last_price for t in ticks] == [float(r["LastPrice"]) for r in rows]
    assert [t.ask_price_1 for t in ticks] == [float(r["AskPrice1"]) for r in rows]
    assert [t.turnover for t in ticks] == [float(r["Turnover"]) for r in rows]
    first = ticks[0]
    assert first.datetime.isoformat() == "2022-02-18T11:20:02+08:00" and first.datetime.tzinfo == CHINA_TZ
    assert (first.limit_up, first.limit_down, first.extra["pre_settlement"]) == (404.6, 358.78, 381.7)
    assert any("replay finished" in m for m in sim.rec.logs())
    assert "au2206" in sim.gateway.get_contract_symbols() and "au2702" in sim.gateway.get_contract_symbols()

    # Lockstep: every order was matched against the very tick it was sent on, stamped with its time.
    trades = sim.rec.trades()
    assert len(strategy.sent) == 28 and len(trades) == 28
    by_order = {vt: (n, tick) for vt, n, tick in strategy.sent}
    for trade in trades:
        _, tick = by_order[trade.vt_orderid]
        expected = tick.ask_price_1 if trade.direction == Direction.LONG else tick.bid_price_1
        assert trade.price == expected and trade.datetime == tick.datetime
    assert sim.account().extra["trading_day"] == "20220218"
    outcome1 = _outcome(sim, strategy)
    sim.engine.close()

    sim2, strategy2 = _run(start_sim, tmp_path / "run2.json")
    assert _outcome(sim2, strategy2) == outcome1


def test_read_ticks_parses_ctp_rows() -> None:
    items = list(read_ticks(AU2206_CSV, "SIM"))
    assert all(error == "" for _, _, error in items)
    tick = items[1][1]
    assert tick is not None and tick.symbol == REPLAY_SYMBOL and tick.exchange == Exchange.SHFE
    assert (tick.volume, tick.last_volume, tick.bid_volume_1, tick.ask_volume_1) == (135976, 4, 1, 12)
    assert tick.datetime.hour == 11 and tick.datetime.minute == 20 and tick.datetime.second == 4


def test_replay_speed_paces_ticks(start_sim, tmp_path) -> None:
    lines = AU2206_CSV.read_text().splitlines()
    short = tmp_path / "short.csv"
    short.write_text("\n".join(lines[:4]) + "\n")  # 11:20:02, :04, :06 -> 4 s of market time
    sim = start_sim(replay_file=str(short), replay_speed=8, state_file=str(tmp_path / "s.json"))
    started = threading.Event()
    sim.engine.event_engine.register(EVENT_TICK, lambda event: started.set())
    sim.engine.subscribe(SubscribeRequest(REPLAY_SYMBOL, Exchange.SHFE), "SIM")
    eventually(sim.gateway.replay_done.is_set, timeout=5, what="done")
    ticks = sim.rec.ticks()
    span = (ticks[-1].localtime - ticks[0].localtime).total_seconds()
    assert len(ticks) == 3 and 0.4 <= span <= 1.0, span  # 4 s / 8 = 0.5 s


def test_replay_loop_starts_over_and_a_missing_file_fails_the_login(start_sim, engines, tmp_path) -> None:
    lines = AU2206_CSV.read_text().splitlines()
    short = tmp_path / "short.csv"
    short.write_text("\n".join(lines[:4]) + "\n")
    sim = start_sim(replay_file=str(short), replay_speed=0, replay_loop=True, state_file=str(tmp_path / "s.json"))
    sim.engine.subscribe(SubscribeRequest(REPLAY_SYMBOL, Exchange.SHFE), "SIM")
    eventually(lambda: len(sim.rec.ticks()) >= 9, what="three passes")
    assert not sim.gateway.replay_done.is_set()
    assert [t.last_price for t in sim.rec.ticks()[:6]] == [386.8] * 6

    from common.contract import GatewayState
    from core_service.gateway_status import GatewayStatusTracker
    from core_service.sim import SimGateway
    from tests.core_service.sim.simkit import base_setting

    tracker = GatewayStatusTracker("sim")
    gateway = engines().add_gateway(SimGateway)
    gateway.status_tracker = tracker
    gateway.connect(base_setting(tmp_path, replay_file=str(tmp_path / "missing.csv")))
    assert tracker.current.state == GatewayState.LOGIN_FAILED
    assert "cannot open replay file" in tracker.current.reason
