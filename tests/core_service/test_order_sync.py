"""The order/trade query fallback on the real core (simulated SHFE gateway, vnpy engines, MariaDB, Redis).

A fill whose pushes are lost (the sim's drill) is found by the query, delivered through the gateway's
push path, recorded once and raised once as MISSED_BY_PUSH; a late push of the same trade changes
nothing; a pushed trade that the query also returns is stored once and raises nothing. The external
close drill shrinks the sim's position with no trade anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from copy import copy
from pathlib import Path
from typing import Any

import pytest
from vnpy.trader.constant import Direction, Offset, Status
from vnpy.trader.object import TradeData

from common.db import Database
from core_service.order_sync import OrderSync
from tests.conftest import merged
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually

FAST = {"sync": {"order_query_interval_s": 2, "missed_grace_s": 0.5, "external_close": False}}


@pytest.fixture
def core(config_dict: dict[str, Any], tmp_path: Path) -> Iterator[CoreHarness]:
    harness = CoreHarness(merged(config_dict, FAST), tmp_path / "arbig.json")
    harness.start()
    yield harness
    harness.stop()


def order_sync(core: CoreHarness) -> OrderSync:
    assert core.app and core.app.sync
    return core.app.sync.order_sync


def trade_rows(db: Database) -> list[dict[str, Any]]:
    return db.query("SELECT tradeid, orderid, direction, offset_, volume FROM trades ORDER BY id")


def missed_events(db: Database) -> list[dict[str, Any]]:
    return db.query("SELECT key_, message, detail FROM risk_events WHERE type = 'MISSED_BY_PUSH' ORDER BY id")


def redis_events(core: CoreHarness, kind: str) -> list[dict[str, Any]]:
    pushed = [json.loads(fields["json"]) for _, fields in core.redis.xrange(core.keys.events)]
    return [event["data"] for event in pushed if event["type"] == kind]


def trades_of(core: CoreHarness, vt_orderid: str) -> list[TradeData]:
    return [t for t in core.main_engine.get_all_trades() if t.vt_orderid == vt_orderid]


def two_more_queries(core: CoreHarness) -> None:
    """Wait until two more queries were answered and everything they found was settled."""
    sync = order_sync(core)
    done = sync.queries_done
    eventually(
        lambda: sync.queries_done >= done + 2 and sync.pending == 0, timeout=20, what="two more queries"
    )


def test_a_trade_only_the_query_finds_is_recorded_once_and_raised_once(
    core: CoreHarness, db: Database
) -> None:
    gateway = core.main_engine.get_gateway("SIM")
    gateway.drill_lose_pushes(1)
    vt_orderid = core.order(Direction.LONG, Offset.OPEN, 1)
    assert vt_orderid

    [trade] = eventually(
        lambda: trades_of(core, vt_orderid), timeout=20, what="the trade delivered by the query"
    )
    eventually(lambda: core.main_engine.get_order(vt_orderid).status == Status.ALLTRADED,
               what="the order's fill delivered too")  # fmt: skip
    rows = eventually(lambda: trade_rows(db), what="the trade recorded")
    [event] = eventually(lambda: missed_events(db), what="MISSED_BY_PUSH recorded")
    assert event["key_"] == f"MISSED_BY_PUSH:{trade.vt_tradeid}"
    assert "reached the core only through the order/trade query" in event["message"]
    assert json.loads(event["detail"])["order_status"] == "ALLTRADED"  # the order update is named in it
    assert order_sync(core).missed_trades == 1 and order_sync(core).missed_orders == 0
    eventually(lambda: core.position_volume(Direction.LONG) == 1, what="OmsEngine's position")

    two_more_queries(core)  # the query keeps returning the trade: known now, nothing again
    assert trade_rows(db) == rows and len(rows) == 1
    assert (rows[0]["tradeid"], rows[0]["orderid"], rows[0]["direction"]) == (
        trade.tradeid,
        trade.orderid,
        "LONG",
    )
    assert len(missed_events(db)) == 1
    assert [t["vt_tradeid"] for t in redis_events(core, "trade")] == [trade.vt_tradeid]
    assert [e["key"] for e in redis_events(core, "risk_event") if e["type"] == "MISSED_BY_PUSH"] == [
        event["key_"]
    ]

    gateway.on_trade(copy(trade))  # the lost push arrives after all, late
    two_more_queries(core)
    assert len(trade_rows(db)) == 1 and len(missed_events(db)) == 1
    assert [t["vt_tradeid"] for t in redis_events(core, "trade")] == [trade.vt_tradeid]  # published once
    assert core.position_volume(Direction.LONG) == 1 and len(trades_of(core, vt_orderid)) == 1


def test_a_pushed_trade_the_query_also_returns_is_stored_once_and_raises_nothing(
    core: CoreHarness, db: Database
) -> None:
    core.open_position(Direction.SHORT, 2)
    pushed = sorted(t.vt_tradeid for t in core.main_engine.get_all_trades())
    eventually(lambda: len(trade_rows(db)) == len(pushed), what="the trades recorded")

    answers: list[list[str]] = []
    assert eventually(lambda: core.main_engine.get_gateway("SIM").query_orders_trades(
        lambda orders, trades, error: answers.append(sorted(t.vt_tradeid for t in trades))), what="a query taken")  # fmt: skip
    assert eventually(lambda: answers) == [pushed]  # the query returns the pushed trades
    two_more_queries(core)
    assert len(trade_rows(db)) == len(pushed) and missed_events(db) == []
    assert order_sync(core).missed_trades == 0 and order_sync(core).missed_orders == 0
    assert order_sync(core).last_completed > 0
    assert sorted(t["vt_tradeid"] for t in redis_events(core, "trade")) == pushed
    assert core.position_volume(Direction.SHORT) == 2


def test_the_external_close_drill_shrinks_the_position_and_emits_no_trade(
    core: CoreHarness, db: Database
) -> None:
    core.open_position(Direction.LONG, 2)
    gateway = core.main_engine.get_gateway("SIM")
    trades_before = len(core.main_engine.get_all_trades())
    eventually(lambda: len(trade_rows(db)) == trades_before, what="the opening recorded")

    result = gateway.drill_external_close("au2702", Direction.LONG, 1)

    assert (result["volume"], result["td_closed"], result["position_left"]) == (1, 1, 1)
    eventually(lambda: core.position_volume(Direction.LONG) == 1, what="the new position pushed")
    two_more_queries(core)  # the query shows no trade of it, so the fallback delivers nothing
    assert len(core.main_engine.get_all_trades()) == trades_before
    assert len(trade_rows(db)) == trades_before and missed_events(db) == []
    with pytest.raises(ValueError, match="holds 1 lots, 1 closable"):
        gateway.drill_external_close("au2702", Direction.LONG, 2)
