"""External closes booked by the MySQL writer (core_service.external_close), against the real MariaDB:
the lots the broker no longer holds are closed where its yesterday/today figures say they went, with
PnL at the detection price, exit reason external_close, tied to one reconciliation row; a replay or a
second request books nothing more; a split that disagrees with ours takes the oldest lots."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from common.db import Database
from core_service import external_close
from core_service.closed_positions import Lot
from core_service.records import dump
from tests.core_service import test_position_reconcile
from tests.core_service.test_position_reconcile import Rig, events, lots, put
from tests.core_service.test_positions_closed import D0, D1, fill, settlement

rig = test_position_reconcile.rig  # the writer-and-recorder fixture

# Our records at D1: LONG 1 opened D0 at 500.00 (yesterday's), LONG 2 opened D1 at 505.00 / 506.00.
OPENS = [fill("y1", D0, "01:30:00", "LONG", "OPEN", 500.00, 1, 10.0),
         fill("t1", D1, "01:30:00", "LONG", "OPEN", 505.00, 1, 10.0),
         fill("t2", D1, "01:31:00", "LONG", "OPEN", 506.00, 1, 10.0),
         settlement(D1, 503.00)]


def request(broker_volume: float, broker_yd: float, price: float = 510.00,
            detected: str = f"{D1} 02:00:00.000") -> dict[str, Any]:
    return dump(external_close.record("SIM", "au2702", "SHFE", "LONG", broker_volume, broker_yd, D1, price,
                                      detected, "auto"))


def closed(db: Database) -> list[tuple[Any, ...]]:
    rows = db.query("SELECT open_price, volume, close_offset, close_price, carried, pnl_open, pnl_settlement,"
                    " commission, exit_reason, close_trade_id, reconciliation_id IS NOT NULL AS tied"
                    " FROM positions_closed ORDER BY id")
    return [(f"{r['open_price']:.2f}", float(r["volume"]), r["close_offset"], f"{r['close_price']:.2f}",
             r["carried"], f"{r['pnl_open']:.2f}", f"{r['pnl_settlement']:.2f}", r["commission"], r["exit_reason"],
             r["close_trade_id"], r["tied"]) for r in rows]


def test_the_lots_the_broker_no_longer_holds_are_closed_in_the_records(rig: Rig, db: Database) -> None:
    writer = rig(OPENS)
    put(writer, db, [request(broker_volume=1, broker_yd=1)])  # today's two are gone, yesterday's kept
    assert closed(db) == [
        ("505.00", 1.0, "CLOSETODAY", "510.00", 0, "5000.00", "5000.00", None, "external_close", None, 1),
        ("506.00", 1.0, "CLOSETODAY", "510.00", 0, "4000.00", "4000.00", None, "external_close", None, 1),
    ]
    assert [row[5] for row in lots(db)] == [1.0, 0.0, 0.0]  # remaining: yesterday's lot untouched
    rec = db.query("SELECT kind, lots_volume, broker_volume, closed_yd, closed_td, close_price"
                   " FROM position_reconciliations")
    assert [(r["kind"], float(r["lots_volume"]), float(r["broker_volume"]), float(r["closed_yd"]),
             float(r["closed_td"]), f"{r['close_price']:.2f}") for r in rec] == [
        ("external_close", 3.0, 1.0, 0.0, 2.0, "510.00")]
    [event] = events(db, "external_close")
    assert event["level"] == "WARNING" and "the broker holds 1 lot(s), our records 3" in event["message"]

    put(writer, db, [request(1, 1), request(1, 1, detected=f"{D1} 02:00:05.000")])  # again, and a later one
    assert len(closed(db)) == 2 and len(events(db, "external_close")) == 1


def test_a_yesterday_lot_closed_elsewhere_is_priced_from_the_settlement(rig: Rig, db: Database) -> None:
    writer = rig(OPENS)
    put(writer, db, [request(broker_volume=2, broker_yd=0, price=501.00)])
    assert closed(db) == [
        ("500.00", 1.0, "CLOSEYESTERDAY", "501.00", 1, "1000.00", "-2000.00", None, "external_close", None, 1)]


def test_split_takes_the_oldest_lots_when_the_brokers_figures_disagree() -> None:
    def lot(n: int, day: str) -> Lot:
        return Lot(n, n, f"t{n}", datetime(2027, 1, 12, 1, n), date.fromisoformat(day), Decimal(500), Decimal(1),
                   None)

    ours = [lot(1, D0), lot(2, D1), lot(3, D1)]
    day = date.fromisoformat(D1)
    assert external_close.split(ours, day, Decimal(1), Decimal(1)) == (0, 2)
    assert external_close.split(ours, day, Decimal(2), Decimal(0)) == (1, 0)
    assert external_close.split(ours, day, Decimal(0), Decimal(0)) == (1, 2)
    # the broker states 2 yesterday's where we have 1: the surplus is today's
    assert external_close.split(ours, day, Decimal(2), Decimal(2)) == (0, 1)
