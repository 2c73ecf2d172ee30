"""The follow-up of the orders the app sends itself (core_service/execution.py), end to end on the real
core (vnpy engines, simulated SHFE gateway, MariaDB, Redis): timeout -> cancel -> reprice -> retry ->
fallback or give up, partial fills that stall, strategy orders only reported; and the price rule."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from copy import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from vnpy.trader.constant import Direction, Exchange, Offset
from vnpy.trader.object import TickData
from vnpy_ctastrategy import CtaTemplate

from common.contract import CommandStatus, CommandType, RiskEventType
from common.db import Database
from common.trading_calendar import CHINA_TZ
from core_service.execution import fallback_price, reprice
from tests.core_service.harness import CoreHarness
from tests.helpers import deep_merge, eventually

VT = "au2702.SHFE"
FAR = 3.0  # CNY beyond the best price: 150 ticks, far more than the sim's walk moves in a test


@contextmanager
def running_core(config_dict: dict[str, Any], tmp_path: Path, **execution: Any) -> Iterator[CoreHarness]:
    """The core with these `execution` settings, stopped afterwards (also when the test fails)."""
    harness = CoreHarness(deep_merge(config_dict, {"execution": execution}), tmp_path / "arbig.json")
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture
def chase_core(config_dict: dict[str, Any], tmp_path: Path) -> Iterator[CoreHarness]:
    with running_core(config_dict, tmp_path, timeout_s=0.5, reprice_ticks=1, max_retries=2) as core:
        yield core


@pytest.fixture
def no_fallback_core(config_dict: dict[str, Any], tmp_path: Path) -> Iterator[CoreHarness]:
    with running_core(
        config_dict, tmp_path, timeout_s=0.5, reprice_ticks=1, max_retries=1, fallback_to_limit=False
    ) as core:
        yield core


def steps(db: Database, execution_id: str) -> list[dict[str, Any]]:
    return db.query(
        "SELECT step, vt_orderid, price, volume, traded, attempt, offset_, direction, source, message"
        " FROM execution_reports WHERE execution_id=%s ORDER BY id",
        (execution_id,),
    )


def step_names(db: Database, execution_id: str) -> list[str]:
    return [row["step"] for row in steps(db, execution_id)]


def finished(db: Database, execution_id: str, last: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The execution's rows once `last` is recorded (a step that ends it)."""
    return eventually(
        lambda: (rows := steps(db, execution_id)) and rows[-1]["step"] == last and rows,
        timeout=timeout,
        what=f"execution {execution_id} ends with {last}",
    )


def close_orders(db: Database) -> list[dict[str, Any]]:
    return db.query(
        "SELECT orderid, price, volume, traded, status FROM orders WHERE offset_ LIKE 'CLOSE%%' ORDER BY id"
    )


def risk_rows(db: Database, kind: RiskEventType) -> list[dict[str, Any]]:
    return db.query(
        "SELECT key_, severity, symbol, message, detail FROM risk_events WHERE type=%s ORDER BY id",
        (kind.value,),
    )


def chase_close(core: CoreHarness, direction: str, volume: int, **params: Any) -> tuple[str, float]:
    """An operator LIMIT close with chase, priced FAR from the market: (execution id, price)."""
    tick = core.tick(VT)
    price = round(tick.bid_price_1 + FAR if direction == "LONG" else tick.ask_price_1 - FAR, 2)
    reply = core.send(
        CommandType.POSITION_CLOSE,
        vt_symbol=VT,
        direction=direction,
        volume=volume,
        price_type="LIMIT",
        price=price,
        chase=True,
        **params,
    )
    assert reply.status == CommandStatus.DONE, reply.reason
    assert reply.result["execution_id"] == reply.command_id
    return reply.result["execution_id"], price


# ------------------------------------------------------------ the price rule
def _tick(bid: float, ask: float, limit_down: float = 560.0, limit_up: float = 640.0) -> TickData:
    return TickData(
        symbol="au2702",
        exchange=Exchange.SHFE,
        datetime=datetime.now(CHINA_TZ),
        gateway_name="SIM",
        bid_price_1=bid,
        ask_price_1=ask,
        limit_down=limit_down,
        limit_up=limit_up,
    )


def test_reprice_moves_ticks_toward_the_market_within_the_daily_limits() -> None:
    tick = _tick(600.0, 600.02)
    assert reprice(Direction.SHORT, 603.0, 2, 0.02, tick) == 602.96  # a sell comes down
    assert reprice(Direction.LONG, 597.0, 2, 0.02, tick) == 597.04  # a buy goes up
    assert reprice(Direction.SHORT, 603.0, 0, 0.02, tick) == 603.0
    assert reprice(Direction.SHORT, 560.02, 3, 0.02, tick) == 560.0  # never below limit down
    assert reprice(Direction.LONG, 639.98, 3, 0.02, tick) == 640.0  # never above limit up
    assert reprice(Direction.LONG, 639.98, 3, 0.02, None) == 640.04  # no tick: no limits known
    # a MARKET close chases a market that ran away: at least the opposite best at once
    assert reprice(Direction.LONG, 597.0, 2, 0.02, tick, marketable=True) == 600.02
    assert reprice(Direction.SHORT, 603.0, 2, 0.02, tick, marketable=True) == 600.0
    assert (
        reprice(Direction.LONG, 600.1, 2, 0.02, tick, marketable=True) == 600.14
    )  # already beyond: the step
    assert reprice(Direction.LONG, 639.0, 100, 0.02, _tick(639.9, 639.98), marketable=True) == 640.0


def test_fallback_is_the_most_aggressive_price_inside_the_limit() -> None:
    tick = _tick(600.0, 600.02)
    assert fallback_price(Direction.LONG, tick) == 640.0
    assert fallback_price(Direction.SHORT, tick) == 560.0
    assert fallback_price(Direction.SHORT, None) is None
    assert fallback_price(Direction.SHORT, _tick(600.0, 600.02, limit_down=0.0)) is None


# ------------------------------------------------------------ end to end
def test_chased_limit_close_is_repriced_then_filled_by_the_fallback(
    chase_core: CoreHarness, db: Database
) -> None:
    core = chase_core
    core.open_position(Direction.LONG, 1)
    execution_id, price = chase_close(core, "LONG", 1)
    rows = finished(db, execution_id, "POSITION_CLOSED")
    assert [r["step"] for r in rows] == [
        "SUBMITTED",
        "TIMEOUT",
        "CANCELLED",
        "REPRICED",
        "TIMEOUT",
        "CANCELLED",
        "REPRICED",
        "TIMEOUT",
        "CANCELLED",
        "FALLBACK",
        "FILLED",
        "POSITION_CLOSED",
    ]
    assert {r["source"] for r in rows} == {"operator"} and {r["direction"] for r in rows} == {"SHORT"}
    assert {r["offset_"] for r in rows} == {"CLOSETODAY"}
    sent = [r for r in rows if r["step"] in ("SUBMITTED", "REPRICED", "FALLBACK")]
    assert [r["attempt"] for r in sent] == [0, 1, 2, 3]
    assert [float(r["price"]) for r in sent[:3]] == [price, round(price - 0.02, 2), round(price - 0.04, 2)]
    assert float(sent[3]["price"]) == core.tick(VT).limit_down  # the most aggressive sell inside the limit
    assert len({r["vt_orderid"] for r in sent}) == 4
    # nothing sent twice: exactly those 4 orders, each cancelled before the next, one lot traded in all
    orders = eventually(lambda: (o := close_orders(db)) and o[-1]["status"] == "ALLTRADED" and o)
    assert [f"SIM.{o['orderid']}" for o in orders] == [r["vt_orderid"] for r in sent]
    assert [o["status"] for o in orders] == ["CANCELLED", "CANCELLED", "CANCELLED", "ALLTRADED"]
    assert sum(float(o["traded"]) for o in orders) == 1
    eventually(lambda: core.position_volume(Direction.LONG) == 0, what="position flat")
    assert not core.main_engine.get_all_active_orders()
    pushed = [json.loads(f["json"]) for _, f in core.redis.xrange(core.keys.events)]
    live = [
        e["data"]["step"]
        for e in pushed
        if e["type"] == "execution" and e["data"]["execution_id"] == execution_id
    ]
    assert live == [r["step"] for r in rows], "every step is pushed to the pages, in order"


def test_without_fallback_the_close_gives_up_with_an_order_timeout_event(
    no_fallback_core: CoreHarness, db: Database
) -> None:
    core = no_fallback_core
    core.open_position(Direction.SHORT, 2)
    execution_id, price = chase_close(core, "SHORT", 2)
    rows = finished(db, execution_id, "GAVE_UP")
    assert [r["step"] for r in rows] == [
        "SUBMITTED",
        "TIMEOUT",
        "CANCELLED",
        "REPRICED",
        "TIMEOUT",
        "CANCELLED",
        "GAVE_UP",
    ]
    assert float(rows[3]["price"]) == round(price + 0.02, 2)  # a buy (closing a short) comes up
    assert float(rows[-1]["volume"]) == 2 and "retries spent" in rows[-1]["message"]
    event = eventually(lambda: risk_rows(db, RiskEventType.ORDER_TIMEOUT)[0])
    assert event["symbol"] == VT and json.loads(event["detail"])["execution_id"] == execution_id
    assert event["severity"] == "CRITICAL" and "left unsent" in event["message"]
    assert [o["status"] for o in close_orders(db)] == ["CANCELLED", "CANCELLED"]
    assert core.position_volume(Direction.SHORT) == 2
    assert not core.main_engine.get_all_active_orders()


def test_market_close_is_followed_until_the_position_is_closed(core: CoreHarness, db: Database) -> None:
    core.open_position(Direction.LONG, 1)
    reply = core.send(
        CommandType.POSITION_CLOSE, vt_symbol=VT, direction="LONG", volume=1, price_type="MARKET"
    )
    assert reply.status == CommandStatus.DONE, reply.reason
    rows = finished(db, reply.result["execution_id"], "POSITION_CLOSED")
    assert [r["step"] for r in rows] == ["SUBMITTED", "FILLED", "POSITION_CLOSED"]
    assert float(rows[1]["traded"]) == 1 and rows[1]["vt_orderid"] == reply.result["orders"][0]["vt_orderid"]
    assert core.position_volume(Direction.LONG) == 0


def test_a_limit_close_without_chase_is_not_followed(core: CoreHarness, db: Database) -> None:
    core.open_position(Direction.LONG, 1)
    price = round(core.tick(VT).bid_price_1 + FAR, 2)
    reply = core.send(
        CommandType.POSITION_CLOSE, vt_symbol=VT, direction="LONG", volume=1, price_type="LIMIT", price=price
    )
    assert reply.status == CommandStatus.DONE and reply.result["execution_id"] == ""
    assert not core.app.sync.execution._legs  # nothing followed: the order rests as the operator priced it


def test_a_partial_fill_that_stalls_is_timed_out_and_the_rest_sent_again(
    config_dict: dict[str, Any], tmp_path: Path, db: Database
) -> None:
    with running_core(config_dict, tmp_path, timeout_s=60, partial_fill_timeout_s=0.5, max_retries=0) as core:
        core.open_position(Direction.LONG, 3)
        execution_id, price = chase_close(core, "LONG", 3)
        eventually(lambda: step_names(db, execution_id) == ["SUBMITTED"])
        tick = copy(core.tick(VT))  # one buyer of 1 lot at our price: 1 of 3 fills, then nothing
        tick.datetime = datetime.now(CHINA_TZ)
        tick.bid_price_1, tick.ask_price_1, tick.bid_volume_1 = price, round(price + 0.02, 2), 1
        core.main_engine.get_gateway("SIM").inject_tick(tick)
        rows = finished(db, execution_id, "POSITION_CLOSED")
        names = [r["step"] for r in rows]
        assert names[:5] == ["SUBMITTED", "PARTIALLY_FILLED", "TIMEOUT", "CANCELLED", "FALLBACK"]
        assert names[-2:] == ["FILLED", "POSITION_CLOSED"] and set(names[5:-2]) <= {"PARTIALLY_FILLED"}
        assert float(rows[1]["traded"]) == 1 and "stalled" in rows[2]["message"]
        assert float(rows[4]["volume"]) == 2  # only the rest is sent again
        event = eventually(lambda: risk_rows(db, RiskEventType.ORDER_PARTIAL_FILL)[0])
        assert event["key_"] == f"ORDER_PARTIAL_FILL:{rows[0]['vt_orderid']}"
        eventually(lambda: core.position_volume(Direction.LONG) == 0)
        orders = eventually(lambda: (o := close_orders(db)) and o[-1]["status"] == "ALLTRADED" and o)
        assert [(float(o["volume"]), float(o["traded"])) for o in orders] == [(3, 1), (2, 2)]


def test_emergency_stop_ends_the_follow_up_and_sends_nothing_more(
    config_dict: dict[str, Any], tmp_path: Path, db: Database
) -> None:
    with running_core(config_dict, tmp_path, timeout_s=60) as core:
        core.open_position(Direction.LONG, 1)
        execution_id, _ = chase_close(core, "LONG", 1)
        eventually(lambda: step_names(db, execution_id) == ["SUBMITTED"])
        reply = core.send(CommandType.EMERGENCY_STOP)
        assert reply.status == CommandStatus.DONE and reply.result["ended_executions"] == [execution_id]
        rows = finished(db, execution_id, "CANCELLED")
        assert [r["step"] for r in rows] == ["SUBMITTED", "GAVE_UP", "CANCELLED"]
        assert "emergency stop" in rows[1]["message"]
        core.app.sync.execution.check()  # a check after the cancel: nothing is due, nothing sent
        assert len(close_orders(db)) == 1 and core.position_volume(Direction.LONG) == 1


def test_a_position_closed_elsewhere_meanwhile_is_not_sent_again(
    config_dict: dict[str, Any], tmp_path: Path, db: Database
) -> None:
    with running_core(config_dict, tmp_path, timeout_s=0.5) as core:
        execution = core.app.sync.execution
        execution.stop()  # the test drives the checks itself, to act between the cancel and the re-send
        core.open_position(Direction.LONG, 1)
        execution_id, _ = chase_close(core, "LONG", 1)
        execution.check(time.monotonic() + 1.0)  # past the timeout: TIMEOUT, cancel sent
        eventually(lambda: step_names(db, execution_id) == ["SUBMITTED", "TIMEOUT", "CANCELLED"])
        assert core.order(Direction.SHORT, Offset.CLOSETODAY, 1), "another terminal closes the lot meanwhile"
        eventually(lambda: core.position_volume(Direction.LONG) == 0)
        execution.check()
        rows = finished(db, execution_id, "GAVE_UP")
        assert [r["step"] for r in rows] == ["SUBMITTED", "TIMEOUT", "CANCELLED", "GAVE_UP"]
        assert "position is gone" in rows[-1]["message"]
        assert db.query("SELECT COUNT(*) AS n FROM orders WHERE reference='ARBIG_operator'")[0]["n"] == 1


# ------------------------------------------------------------ strategy orders
class FarBuyStrategy(CtaTemplate):
    """Places one buy far below the market on its first tick: it rests."""

    author = "test"
    parameters: list[str] = []
    variables: list[str] = []

    def on_init(self) -> None:
        pass

    def on_bar(self, bar: object) -> None:
        pass

    def on_tick(self, tick: TickData) -> None:
        if not getattr(self, "placed", False):
            self.placed = True
            self.buy(round(tick.bid_price_1 - FAR, 2), 1)


def test_a_strategy_order_timeout_is_reported_once_and_not_repriced(
    config_dict: dict[str, Any], tmp_path: Path, db: Database
) -> None:
    with running_core(config_dict, tmp_path, strategy_order_timeout_s=0.5) as core:
        cta = core.app.cta
        cta.classes[FarBuyStrategy.__name__] = FarBuyStrategy
        cta.add_strategy(FarBuyStrategy.__name__, "far", VT, {})
        cta.init_strategy("far").result(timeout=10)
        assert core.send(CommandType.STRATEGY_START, name="far").status == CommandStatus.DONE
        vt_orderid = eventually(lambda: sorted(cta.strategy_orderid_map["far"])[0], what="strategy order")
        price = core.main_engine.get_order(vt_orderid).price
        event = eventually(lambda: risk_rows(db, RiskEventType.ORDER_TIMEOUT)[0], what="ORDER_TIMEOUT")
        assert event["key_"] == f"ORDER_TIMEOUT:{vt_orderid}" and "strategy far" in event["message"]
        assert json.loads(event["detail"])["strategy"] == "far"
        for _ in range(3):
            core.app.sync.execution.check()  # more checks: the same order is not reported again
        core.app.sync.risk.raise_event(
            RiskEventType.RATE_LIMIT, "marker", key="marker"
        )  # behind them in the queue
        eventually(lambda: risk_rows(db, RiskEventType.RATE_LIMIT), what="marker written")
        assert len(risk_rows(db, RiskEventType.ORDER_TIMEOUT)) == 1
        order = core.main_engine.get_order(vt_orderid)
        assert order.is_active() and order.price == price  # left to the strategy: not cancelled, not repriced
        assert db.query("SELECT COUNT(*) AS n FROM execution_reports")[0]["n"] == 0
        assert list(cta.strategy_orderid_map["far"]) == [vt_orderid]
