"""Lots reconciled with the broker's positions (core_service.position_reconcile), against the real MariaDB
through the MySQL writer wired to a recorder as in the core: a position held before recording is
carried in once (hand-computed open prices, settlement, closes and ledger to 0.01 CNY), replayed
position records and a restart create nothing more, a position record racing its fill (the trade still
on the queue, or a close booked after the record was stated) never carries a lot in, records written
from the spool are never acted on, and more lots than the broker holds is one ERROR event per
difference. End to end on the real core with the simulated gateway: a position opened, the core
stopped, its lots lost (yesterday's: the sim rolled; today's: trades kept), the core restarted and
the position closed: PnL booked, marked opened_before_recording, the day's ledger ok."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from vnpy.event import EventEngine
from vnpy.trader.constant import Direction, Offset

from common.config import MysqlConfig
from common.contract import CommandStatus, CommandType, Keys, new_uid
from common.db import Database
from core_service.closed_positions import Lot
from core_service.mysql_writer import MysqlWriter
from core_service.position_reconcile import Statement, plan, previous_trading_day
from core_service.recorder import Recorder
from core_service.records import parse_record
from core_service.redis_publisher import RedisPublisher
from tests.core_service.harness import CoreHarness
from tests.core_service.test_mysql_writer import count, make_writer
from tests.core_service.test_pnl_ledger import ledger, money
from tests.core_service.test_positions_closed import D0, D1, fill
from tests.helpers import eventually
from tests.netproxy import TcpProxy


def position(clock: str, volume: float, yd: float, price: float, cost: float, settlement: float = 0.0,
             direction: str = "LONG", day: str = D1) -> dict[str, Any]:
    """A position record as the recorder sends it to the writer (what the broker states)."""
    return {
        "kind": "position", "gateway": "SIM", "vt_symbol": "au2702.SHFE", "symbol": "au2702", "exchange": "SHFE",
        "direction": direction, "volume": volume, "yd_volume": yd, "td_volume": volume - yd, "frozen": 0.0,
        "price": price, "pnl": 0.0, "margin": 0.0, "cost_price": cost, "unrealized_pnl": 0.0, "ts_ms": 0,
        "trading_day": day, "settlement_price": settlement, "updated_at": f"{day} {clock}.000",
    }


Rig = Callable[..., MysqlWriter]


@pytest.fixture
def rig(mysql_cfg: MysqlConfig, tmp_path: Path, redis_client: redis.Redis, keys: Keys,
        db: Database) -> Iterator[Rig]:
    """Starts a writer wired to a recorder (which raises the writer's findings as system events) with
    `records` already on its queue, so the first batches are exactly those; waits until written."""
    publisher = RedisPublisher(redis_client, keys.main_contract)
    publisher.start()
    started: list[MysqlWriter] = []

    def start(records: list[dict[str, Any]], batch_size: int = 500, port: int | None = None) -> MysqlWriter:
        for writer in started:
            writer.stop()
        writer = make_writer(mysql_cfg, tmp_path, port)
        writer.batch_size = batch_size
        Recorder(EventEngine(), keys, publisher, writer, tick_maxlen=1000, event_maxlen=1000,
                 main_symbol=lambda: "au2702", strategy_of_order=lambda _vt_orderid: None)
        for record in records:
            writer.put(parse_record(record))
        writer.start()
        started.append(writer)
        if port is None:
            settle(writer, db, len(records))
        return writer

    yield start
    for writer in started:
        writer.stop()
    publisher.stop()


def settle(writer: MysqlWriter, db: Database, target: int) -> None:
    """Until `target` records are written and what they gave rise to (system events) is too."""
    eventually(lambda: writer.written >= target, what=f"{target} records written")
    uid = new_uid()  # a marker behind everything put so far (the queue and the batches keep order)
    writer.put(parse_record({"kind": "broker_reply", "uid": uid, "received_at": f"{D1} 00:00:00.000", "gateway": "SIM",
                "reply_kind": "marker", "key": "marker", "raw": {}}))
    eventually(lambda: db.query("SELECT id FROM broker_replies WHERE uid = %s", [uid]), what="marker written")


def put(writer: MysqlWriter, db: Database, records: list[dict[str, Any]]) -> None:
    target = writer.written + len(records)
    for record in records:
        writer.put(parse_record(record))
    settle(writer, db, target)


def lots(db: Database) -> list[tuple[Any, ...]]:
    rows = db.query("SELECT open_tradeid, opened_before_recording, open_trading_day, open_price, volume, remaining,"
                    " commission, commission_left, open_ts FROM position_lots ORDER BY id")
    return [(r["open_tradeid"], r["opened_before_recording"], str(r["open_trading_day"]), f"{r['open_price']:.2f}",
             float(r["volume"]), float(r["remaining"]), r["commission"], r["commission_left"], str(r["open_ts"]))
            for r in rows]


def events(db: Database, kind: str) -> list[dict[str, Any]]:
    return db.query("SELECT level, message, detail FROM system_events WHERE kind = %s ORDER BY id", [kind])


# The broker holds LONG 3 at D1: 2 of yesterday's opened before recording at 498.00 (D0's settlement
# 503.00) and 1 of today's at 505.00 (t2, recorded). Average open price (2 x 498 + 505) / 3, cost price
# (2 x 503 + 505) / 3, as the gateways round them.
HELD = dict(volume=3, yd=2, price=500.333333, cost=503.666667, settlement=503.0)
CARRIED = (None, 1, D0, "498.00", 2.0, 2.0, None, Decimal("0.0000"), f"{D1} 01:41:00")
T2_LOT = ("t2", 0, D1, "505.00", 1.0, 1.0, Decimal("10.0000"), Decimal("10.0000"), f"{D1} 01:30:00")


def test_a_position_held_before_recording_is_carried_in_once(rig: Rig, db: Database) -> None:
    writer = rig([fill("t2", D1, "01:30:00", "LONG", "OPEN", 505.00, 1, 10.0),
                  position("01:40:00", **HELD), position("01:41:00", **HELD)])
    assert lots(db) == [T2_LOT, CARRIED]  # yesterday's 2: (3 x 500.333333 - 505.000001) / 2 = 498.00
    price = db.query("SELECT price, source FROM settlement_prices WHERE symbol = 'au2702' AND trading_day = %s",
                     [D1])
    assert [(f"{r['price']:.2f}", r["source"]) for r in price] == [("503.00", "position")]
    found = events(db, "position_carried_in")
    assert [(e["level"], e["message"]) for e in found] == [(
        "WARNING", "position SIM au2702.SHFE LONG: 2 lot(s) the broker holds carried in as opened before recording"
                   " (2 yesterday's at 498.00; recorded 1, the broker 3)")]
    assert json.loads(found[0]["detail"])["carried_yd"] == "2.0000"

    put(writer, db, [position("01:41:00", **HELD), position("01:45:00", **HELD), position("01:50:00", **HELD)])
    writer = rig([position("02:00:00", **HELD), position("02:05:00", **HELD)])  # a restart, the same statement
    assert lots(db) == [T2_LOT, CARRIED]
    assert count(db, "position_reconciliations") == 1 and len(events(db, "position_carried_in")) == 1

    put(writer, db, [fill("t3", D1, "02:10:00", "SHORT", "CLOSEYESTERDAY", 508.00, 2, 20.0),
                     fill("t4", D1, "02:20:00", "SHORT", "CLOSETODAY", 507.00, 1, 5.0),
                     position("02:21:00", 0, 0, 0, 0), position("02:26:00", 0, 0, 0, 0),
                     ledger(D1, 12_000.0, 35.0)])
    rows = db.query("SELECT open_tradeid, opened_before_recording, volume, open_price, close_price, carried,"
                    " settlement_price, pnl_open, pnl_settlement, commission FROM positions_closed ORDER BY id")
    assert [(r["open_tradeid"], r["opened_before_recording"], float(r["volume"]), f"{r['open_price']:.2f}",
             f"{r['close_price']:.2f}", r["carried"], money(r["settlement_price"]), money(r["pnl_open"]),
             money(r["pnl_settlement"]), money(r["commission"])) for r in rows] == [
        (None, 1, 2.0, "498.00", "508.00", 1, 503.0, 20_000.0, 10_000.0, 20.0),  # (508-498)x2000, (508-503)x2000
        ("t2", 0, 1.0, "505.00", "507.00", 0, None, 2_000.0, 2_000.0, 15.0),  # 10 open + 5 close-today
    ]
    day = db.query("SELECT * FROM pnl_records WHERE symbol = '' AND trading_day = %s", [D1])[0]
    assert (money(day["realized_pnl"]), money(day["realized_pnl_open"]), money(day["commission"])) == (
        12_000.0, 22_000.0, 35.0)
    assert (day["verdict"], money(day["pnl_diff"])) == ("ok", 0.0)
    assert day["note"] == "1 close(s) of lots opened before recording (PnL by open price approximate)"
    assert count(db, "position_reconciliations") == 1 and events(db, "position_drift") == []


def test_an_open_still_on_the_writers_queue_is_not_counted_twice(rig: Rig, db: Database) -> None:
    """The broker states a fill whose trade the writer has not taken yet: the first batch holds the
    two records (they agree: without the rule they would carry a lot in), the trade is on the queue."""
    today = dict(volume=1, yd=0, price=505.0, cost=505.0)
    writer = rig([position("01:30:01", **today), position("01:30:02", **today),
                  fill("t2", D1, "01:30:00", "LONG", "OPEN", 505.00, 1, 10.0)], batch_size=2)
    put(writer, db, [position("01:35:00", **today), position("01:40:00", **today)])
    assert [lot[:2] for lot in lots(db)] == [("t2", 0)]
    assert count(db, "position_reconciliations") == 0 and events(db, "position_carried_in") == []


def test_a_record_stated_before_a_booked_close_carries_nothing_in(rig: Rig, db: Database) -> None:
    """Stated before the close but reaching the writer after it (CTP's query answers lag its trade
    pushes): two records of 2 lots, a close between them, in one batch (trades are booked first)."""
    two = dict(volume=2, yd=0, price=500.0, cost=500.0)
    writer = rig([fill("t1", D1, "01:00:00", "LONG", "OPEN", 500.00, 2, 20.0), position("01:01:00", **two),
                  fill("t2", D1, "01:02:00", "SHORT", "CLOSETODAY", 501.00, 1, 5.0), position("01:03:00", **two)])
    one = dict(volume=1, yd=0, price=500.0, cost=500.0)
    put(writer, db, [position("01:08:00", **one), position("01:13:00", **one)])
    assert [(lot[0], lot[5]) for lot in lots(db)] == [("t1", 1.0)]
    assert count(db, "position_reconciliations") == 0


def test_records_written_from_the_spool_are_not_acted_on(rig: Rig, db: Database,
                                                        mysql_cfg: MysqlConfig) -> None:
    proxy = TcpProxy(mysql_cfg.host, mysql_cfg.port)
    try:
        proxy.down()
        today = dict(volume=1, yd=0, price=505.0, cost=505.0)
        writer = rig([position("01:30:00", **today), position("01:35:00", **today)], port=proxy.port)
        eventually(lambda: not writer.ok and len(writer.spool) >= 1, timeout=20, what="records spooled")
        proxy.up()
        eventually(lambda: len(writer.spool) == 0 and count(db, "positions") == 1, timeout=15, what="spool drained")
        settle(writer, db, 2)
        assert count(db, "position_lots") == 0  # kept while MySQL was away: old
        put(writer, db, [position("01:40:00", **today)])  # fresh, and the broker said the same before
        assert [lot[:5] for lot in lots(db)] == [(None, 1, D1, "505.00", 1.0)]  # today's, at the cost price
    finally:
        proxy.down()


def test_more_lots_than_the_broker_holds_is_one_error_per_difference(rig: Rig, db: Database) -> None:
    one = dict(volume=1, yd=0, price=500.0, cost=500.0)
    writer = rig([fill("t1", D1, "01:00:00", "LONG", "OPEN", 500.00, 2, 20.0),
                  position("01:10:00", **one), position("01:15:00", **one)])
    found = eventually(lambda: events(db, "position_drift"), what="drift raised")
    assert [(e["level"], e["message"]) for e in found] == [(
        "ERROR", f"position drift SIM au2702.SHFE LONG: we hold 2 lot(s) in records, the broker 1 (trading day {D1});"
                 " none deleted: a close we never saw (the broker's terminal, a forced liquidation) or one whose"
                 " trade has not arrived yet")]
    assert (json.loads(found[0]["detail"])["lots"], json.loads(found[0]["detail"])["volume"]) == ("2.0000", "1.0000")
    put(writer, db, [position("01:20:00", **one), position("01:25:00", **one)])
    writer = rig([position("01:30:00", **one), position("01:35:00", **one)])  # a restart: still once
    assert len(events(db, "position_drift")) == 1
    none = dict(volume=0, yd=0, price=0.0, cost=0.0)
    put(writer, db, [position("01:40:00", **none), position("01:45:00", **none)])  # another difference
    found = events(db, "position_drift")
    assert len(found) == 2 and "we hold 2 lot(s) in records, the broker 0" in found[1]["message"]
    assert [lot[5] for lot in lots(db)] == [2.0]  # nothing deleted


def test_the_carry_in_plan_prices_each_part_from_the_brokers_figures() -> None:
    """Broker: LONG 4 at D1, yesterday's 1 opened at 496 (settlement 498), today's 500, 502, 504; we
    recorded today's 500. Average open (496 + 1506) / 4 = 500.5, cost (498 + 1506) / 4 = 501."""
    day = date(2027, 1, 12)
    recorded = Lot(1, 1, "t1", datetime(2027, 1, 12, 1, 0), day, Decimal("500"), Decimal(1), Decimal(10))
    stated = Statement("SIM", "au2702", "SHFE", "LONG", Decimal(4), Decimal(1), day, Decimal("500.5"),
                       Decimal("501"), Decimal("498"), datetime(2027, 1, 12, 2, 0))
    p = plan(stated, [recorded])
    # today's average (501 x 4 - 498) / 3 = 502, less ours: (502 x 3 - 500) / 2 = 503; yesterday's
    # (500.5 x 4 - 502 x 3) / 1 = 496
    assert (p.held, p.carry_yd, p.price_yd, p.carry_td, p.price_td) == (
        1, 1, Decimal("496.0000"), 2, Decimal("503.0000"))
    unsettled = plan(Statement(**{**stated.__dict__, "settlement": None}), [recorded])
    # no settlement: both parts at the average open price, today's less ours: (500.5 x 3 - 500) / 2
    assert (unsettled.price_yd, unsettled.price_td) == (Decimal("500.5000"), Decimal("500.7500"))
    assert plan(Statement(**{**stated.__dict__, "volume": Decimal(1)}), [recorded]).carry_td == 0
    assert previous_trading_day(date(2027, 1, 11)) == date(2027, 1, 8)  # a Monday: the Friday before


# ---------------------------------------------------------------- the real core on the simulated gateway

def _state_file(core: CoreHarness) -> Path:
    return core.config.runtime_path() / core.config.gateway.sim.state_file


def _close_all(core: CoreHarness, db: Database, volume: int) -> list[dict[str, Any]]:
    """The operator closes the whole long position; the closed rows once booked."""
    reply = core.send(CommandType.POSITION_CLOSE, vt_symbol="au2702.SHFE", direction="LONG", volume=volume)
    assert reply.status == CommandStatus.DONE, reply.reason

    def booked() -> list[dict[str, Any]]:
        rows = db.query("SELECT * FROM positions_closed ORDER BY id")
        return rows if sum(float(r["volume"]) for r in rows) == volume else []

    return eventually(booked, timeout=15, what="the close booked")


def _sim_day(core: CoreHarness) -> str:
    day = json.loads(_state_file(core).read_text(encoding="utf-8"))["ledger"]["trading_day"]
    return f"{day[:4]}-{day[4:6]}-{day[6:]}"


def _ledger_ok(db: Database, day: str, closed: int) -> dict[str, Any]:
    return eventually(lambda: db.query("SELECT * FROM pnl_records WHERE symbol = '' AND trading_day = %s"
                                       " AND closed_volume = %s", [day, closed]), timeout=15,
                      what="the ledger after the close")[0]


def test_end_to_end_yesterdays_position_held_before_recording(core: CoreHarness, db: Database) -> None:
    core.order(Direction.LONG, Offset.OPEN, 2)  # sent past the core, as from the broker's terminal
    eventually(lambda: core.position_volume(Direction.LONG) == 2, what="2 long opened")
    eventually(lambda: count(db, "position_lots") == 1, what="the opening booked")
    core.stop()
    day = _sim_day(core)
    state = json.loads(_state_file(core).read_text(encoding="utf-8"))
    slot = next(p for p in state["ledger"]["positions"] if p["direction"] == "LONG" and p["td"] == 2)
    paid = slot["td_price"]
    yesterday = previous_trading_day(date.fromisoformat(day))
    state["ledger"]["trading_day"] = yesterday.strftime("%Y%m%d")  # opened yesterday: the sim rolls at start
    _state_file(core).write_text(json.dumps(state), encoding="utf-8")
    for table in ("positions_closed", "position_lots", "trades", "orders", "settlement_prices", "pnl_records"):
        db.execute(f"DELETE FROM {table}")  # nothing recorded of it: as a fresh database
    core.start()
    assert _sim_day(core) == day  # rolled to the day it was
    carried = eventually(lambda: db.query("SELECT * FROM position_lots"), timeout=20, what="lots carried in")
    assert [(r["opened_before_recording"], r["open_trade_id"], float(r["remaining"]), str(r["open_trading_day"]),
             money(r["open_price"])) for r in carried] == [(1, None, 2.0, str(yesterday), round(paid, 2))]
    position = core.main_engine.get_position(f"SIM.{core.config.market_data.vt_symbol}.{Direction.LONG.value}")
    settled = position.extra["settlement_price"]  # the sim's settlement at its roll
    rows = _close_all(core, db, 2)
    assert all(r["opened_before_recording"] == 1 and r["lot_id"] is not None and r["carried"] == 1 for r in rows)
    closing = db.query("SELECT price, volume FROM trades WHERE offset_ <> 'OPEN' ORDER BY id")
    expected = sum(round((float(t["price"]) - settled) * float(t["volume"]) * 1000, 2) for t in closing)
    assert money(sum(r["pnl_settlement"] for r in rows)) == money(expected)
    assert money(sum(r["pnl_open"] for r in rows)) == money(
        sum((float(t["price"]) - paid) * float(t["volume"]) * 1000 for t in closing))
    account = _ledger_ok(db, day, 2)
    assert account["verdict"] == "ok", account["note"]
    assert money(account["realized_pnl"]) == money(account["broker_realized_pnl"]) == money(expected)
    assert account["note"] == f"{len(rows)} close(s) of lots opened before recording (PnL by open price approximate)"
    assert events(db, "position_drift") == []


def test_end_to_end_todays_position_whose_lots_were_lost(core: CoreHarness, db: Database) -> None:
    core.order(Direction.LONG, Offset.OPEN, 2)
    eventually(lambda: core.position_volume(Direction.LONG) == 2, what="2 long opened")
    eventually(lambda: count(db, "position_lots") == 1, what="the opening booked")
    paid = float(db.query("SELECT SUM(price * volume) / SUM(volume) AS p FROM trades")[0]["p"])
    day = _sim_day(core)
    core.stop()
    db.execute("DELETE FROM position_lots")  # the trades stay: the sim's replay of them books nothing
    core.start()
    carried = eventually(lambda: db.query("SELECT * FROM position_lots"), timeout=20, what="lots carried in")
    assert [(r["opened_before_recording"], float(r["remaining"]), str(r["open_trading_day"]),
             money(r["open_price"])) for r in carried] == [(1, 2.0, day, round(paid, 2))]
    rows = _close_all(core, db, 2)
    closing = db.query("SELECT price, volume FROM trades WHERE offset_ <> 'OPEN' ORDER BY id")
    expected = sum(round((float(t["price"]) - paid) * float(t["volume"]) * 1000, 2) for t in closing)
    assert all(r["opened_before_recording"] == 1 and r["carried"] == 0 for r in rows)
    assert money(sum(r["pnl_settlement"] for r in rows)) == money(expected)
    account = _ledger_ok(db, day, 2)
    assert account["verdict"] == "ok", account["note"]
    assert money(account["realized_pnl"]) == money(account["broker_realized_pnl"]) == money(expected)
    assert events(db, "position_drift") == []
