"""Strategies in the running core: init/start/stop by command, every signal in strategy_triggers
(also one the offset converter turns into nothing), and a strategy that raises shown as stopped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from vnpy.trader.object import TickData
from vnpy_ctastrategy import CtaTemplate

from common.contract import CommandStatus, CommandType
from common.db import Database
from tests.core_service.harness import CoreHarness
from tests.helpers import deep_merge, eventually


class _TickCounter(CtaTemplate):
    """A test strategy that counts its ticks and acts in `on_count`."""

    author = "test"
    parameters: list[str] = []
    variables = ["ticks"]
    ticks = 0

    def on_init(self) -> None:
        pass

    def on_bar(self, bar: object) -> None:
        pass

    def on_tick(self, tick: TickData) -> None:
        self.ticks += 1
        self.on_count(tick)

    def on_count(self, tick: TickData) -> None:
        """What the subclass does on its n-th tick (`self.ticks`); the base does nothing."""


class ExplodingStrategy(_TickCounter):
    """Raises on its third tick, the way a buggy user strategy does."""

    def on_count(self, tick: TickData) -> None:
        if self.ticks == 3:
            raise ZeroDivisionError("division by zero in user code")


class SignalStrategy(_TickCounter):
    """Sends one opening buy on its first tick and one close it cannot have on its second."""

    def on_count(self, tick: TickData) -> None:
        if self.ticks == 1:
            self.signal_condition = "first tick seen"
            self.buy(tick.ask_price_1 + 0.1, 1)
        elif self.ticks == 2:
            self.signal_condition = "close a short we never had"
            self.cover(tick.ask_price_1 + 0.1, 5)


class StopOrderStrategy(_TickCounter):
    """On its first tick: a stop buy the next tick triggers, and a stop short far below the market."""

    def on_count(self, tick: TickData) -> None:
        if self.ticks == 1:
            self.signal_condition = "stop buy below the market: triggers at once"
            self.buy(tick.last_price - 1.0, 1, stop=True)
            self.signal_condition = "stop short far below the market: never triggers"
            self.short(tick.last_price - 100.0, 1, stop=True)


@pytest.fixture
def strat_core(config_dict: dict[str, Any], tmp_path) -> Any:
    config = deep_merge(config_dict, {"strategies": [
        {"name": "ma", "class_name": "AuDualMaStrategy", "setting": {"fast_window": 2, "slow_window": 4}}]})
    harness = CoreHarness(config, tmp_path / "arbig.json")
    harness.start()
    yield harness
    harness.stop()


def strategy_state(core: CoreHarness, name: str) -> dict:
    raw = core.redis.hget(core.keys.strategies, name)
    return json.loads(raw) if raw else {}


def test_init_start_stop_by_command(strat_core: CoreHarness, db: Database) -> None:
    core = strat_core
    assert strategy_state(core, "ma")["state"] == "ADDED"
    early = core.send(CommandType.STRATEGY_START, name="ma")
    assert early.status == CommandStatus.REFUSED and "not initialised" in early.reason
    assert core.send(CommandType.STRATEGY_INIT, name="ma").status == CommandStatus.DONE
    eventually(lambda: strategy_state(core, "ma")["state"] == "INITED", what="init finished")
    assert core.send(CommandType.STRATEGY_START, name="ma").status == CommandStatus.DONE
    eventually(lambda: strategy_state(core, "ma")["state"] == "TRADING")
    assert core.send(CommandType.STRATEGY_START, name="ma").status == CommandStatus.REFUSED
    assert core.send(CommandType.STRATEGY_STOP, name="ma").status == CommandStatus.DONE
    eventually(lambda: strategy_state(core, "ma")["state"] == "STOPPED")
    rows = db.query("SELECT class_name, vt_symbol, setting FROM strategy_configs WHERE name='ma'")
    assert rows and rows[0]["class_name"] == "AuDualMaStrategy" and rows[0]["vt_symbol"] == "au2702.SHFE"
    assert json.loads(rows[0]["setting"])["fast_window"] == 2


def test_a_strategy_is_not_started_while_the_gateway_is_not_ready(strat_core: CoreHarness) -> None:
    """On CTP the gateway is SETTLING between login and the settlement confirmation: no trading."""
    from common.contract import GatewayState

    core = strat_core
    assert core.send(CommandType.STRATEGY_INIT, name="ma").status == CommandStatus.DONE
    eventually(lambda: strategy_state(core, "ma")["state"] == "INITED")
    core.app.tracker.set(GatewayState.SETTLING, "settlement confirmation pending")
    refused = core.send(CommandType.STRATEGY_START, name="ma")
    assert refused.status == CommandStatus.REFUSED and "SETTLING" in refused.reason
    assert not core.app.cta.strategies["ma"].trading
    core.app.tracker.set(GatewayState.LOGGED_IN, "ready")
    assert core.send(CommandType.STRATEGY_START, name="ma").status == CommandStatus.DONE


def start_class(core: CoreHarness, cls: type, name: str) -> None:
    cta = core.app.cta
    cta.classes[cls.__name__] = cls
    cta.add_strategy(cls.__name__, name, "au2702.SHFE", {})
    cta.init_strategy(name).result(timeout=10)
    assert core.send(CommandType.STRATEGY_START, name=name).status == CommandStatus.DONE


def test_every_signal_is_recorded_with_its_result(core: CoreHarness, db: Database) -> None:
    start_class(core, SignalStrategy, "signals")

    def triggers() -> list[dict]:
        return db.query("SELECT action, result, condition_, vt_orderids, error, volume FROM strategy_triggers "
                        "WHERE strategy='signals' ORDER BY id")

    rows = eventually(lambda: len(triggers()) == 2 and triggers(), what="two triggers")
    buy, cover = rows
    assert buy["action"] == "buy" and buy["condition_"] == "first tick seen" and buy["vt_orderids"]
    assert cover["action"] == "cover" and cover["result"] == "failed" and cover["vt_orderids"] == ""
    assert "close of 5 refused" in cover["error"]
    eventually(lambda: triggers()[0]["result"] == "success", what="buy filled -> success")
    trade = eventually(lambda: db.query("SELECT strategy FROM trades WHERE strategy='signals'"))
    assert trade[0]["strategy"] == "signals"


def test_local_stop_order_triggers_follow_the_stop(core: CoreHarness, db: Database) -> None:
    start_class(core, StopOrderStrategy, "stops")

    def triggers() -> list[dict]:
        return db.query("SELECT action, result, vt_orderids, error FROM strategy_triggers "
                        "WHERE strategy='stops' ORDER BY id")

    eventually(lambda: len(triggers()) == 2, what="two stop signals recorded")
    assert all(row["vt_orderids"].startswith("STOP.") for row in triggers())
    eventually(lambda: triggers()[0]["result"] == "success", what="the triggered stop's limit order filled")
    assert triggers()[1]["result"] == "pending", "the far stop is still waiting"
    assert db.query("SELECT COUNT(*) AS n FROM trades WHERE strategy='stops'")[0]["n"] == 1
    assert core.send(CommandType.STRATEGY_STOP, name="stops").status == CommandStatus.DONE  # cancels its stops
    far = eventually(lambda: triggers()[1]["result"] == "failed" and triggers()[1])
    assert far["action"] == "short" and "cancelled before it triggered" in far["error"]


def test_a_strategy_that_raises_is_recorded_and_shown_stopped(core: CoreHarness, db: Database) -> None:
    start_class(core, ExplodingStrategy, "boom")
    state = eventually(lambda: strategy_state(core, "boom").get("state") == "ERROR" and strategy_state(core, "boom"))
    assert state["trading"] is False and "ZeroDivisionError" in state["error"]
    events = eventually(lambda: db.query("SELECT level, message FROM system_events WHERE kind='strategy_error'"))
    assert events[0]["level"] == "ERROR" and "boom" in events[0]["message"]
    assert core.app.event_engine._active  # vnpy's event thread is still alive and dispatching
    stream = core.keys.tick_stream("au2702")
    before = core.redis.xlen(stream)
    eventually(lambda: core.redis.xlen(stream) > before + 2, what="ticks still flowing")


def test_project_and_bundled_strategy_classes_load(core: CoreHarness) -> None:
    classes = set(core.app.cta.classes)
    assert {"AuDualMaStrategy", "AuTickBreakoutStrategy"} <= classes  # ours, from strategies/
    assert {"DoubleMaStrategy", "AtrRsiStrategy", "BollChannelStrategy"} <= classes  # vnpy's bundled examples


def test_tick_breakout_strategy_trades_on_the_sim_and_every_signal_is_recorded(
    config_dict: dict[str, Any], db: Database, tmp_path
) -> None:
    config = deep_merge(config_dict, {"strategies": [
        {"name": "tick", "class_name": "AuTickBreakoutStrategy", "auto_init": True, "auto_start": True,
         "setting": {"window_ticks": 3}}]})
    core = CoreHarness(config, tmp_path / "arbig.json")
    core.start()
    try:
        rows = eventually(lambda: (r := db.query("SELECT action, result, condition_ FROM strategy_triggers "
                                                 "WHERE strategy='tick' AND result='success'")) and len(r) >= 2 and r,
                          timeout=30, what="two filled signals")
        assert all("broke" in r["condition_"] for r in rows)
        assert {r["action"] for r in rows} <= {"buy", "short", "sell", "cover"}
        assert core.send(CommandType.STRATEGY_STOP, name="tick").status == CommandStatus.DONE
        eventually(lambda: strategy_state(core, "tick")["state"] == "STOPPED")
        traded = db.query("SELECT COUNT(*) AS n FROM trades WHERE strategy='tick'")[0]["n"]
        assert traded >= 2
    finally:
        core.stop()
