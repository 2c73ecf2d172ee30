"""positions_closed written by the MySQL writer as fills close positions, against the real MariaDB:
SHFE matching (close-today takes today's lots FIFO, close-yesterday the carried ones, a partial close
splits a lot, a close across two lots), PnL by open price and by settlement and commission per row
checked against hand-computed figures to 0.01 CNY; a replayed day changes nothing; MySQL down while
a close happens (also across a writer restart) gives the close exactly once afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pymysql
import pytest

from common.config import MysqlConfig
from common.db import Database
from core_service import closed_positions
from core_service.closed_positions import Close, Lot, pool, split_close
from core_service.mysql_writer import MysqlWriter
from core_service.records import parse_record
from tests.core_service.test_mysql_writer import count, make_writer
from tests.helpers import eventually
from tests.netproxy import TcpProxy

D0, D1 = "2027-01-11", "2027-01-12"
SETTLE_D1 = 503.00  # D0's settlement: what lots carried into D1 are marked from


def fill(tradeid: str, day: str, clock: str, direction: str, offset: str, price: float, volume: int,
         commission: float | None, exit_reason: str = "external", strategy: str | None = None,
         orderid: str | None = None) -> dict[str, Any]:
    """A trade record as the recorder sends it (ts in UTC; 01:30 UTC is 09:30 in Shanghai)."""
    return {
        "kind": "trade", "gateway": "SIM", "exchange": "SHFE", "tradeid": tradeid, "direction": direction,
        "trading_day": day, "symbol": "au2702", "orderid": orderid or f"o-{tradeid}", "offset": offset,
        "price": price, "volume": volume, "commission": commission, "size": 1000, "strategy": strategy,
        "exit_reason": exit_reason, "ts": f"{day} {clock}.000", "recorded_at": f"{day} {clock}.100",
        "raw": {"tradeid": tradeid},
    }


def settlement(day: str, price: float, source: str = "tick") -> dict[str, Any]:
    return {"kind": "settlement", "symbol": "au2702", "trading_day": day, "price": price, "source": source,
            "updated_at": f"{day} 00:00:00.000"}


def operator_order(orderid: str) -> dict[str, Any]:
    """The operator's close as stored in `orders` (reference set by core_service.actions)."""
    return {"kind": "order", "gateway": "SIM", "orderid": orderid, "trading_day": D1, "symbol": "au2702",
            "exchange": "SHFE", "direction": "SHORT", "offset": "CLOSETODAY", "type": "LIMIT", "price": 503.0,
            "volume": 2, "traded": 2, "status": "ALLTRADED", "reference": "ARBIG_operator", "strategy": None,
            "reason": "", "ts": f"{D1} 02:19:00.000", "updated_at": f"{D1} 02:20:00.000", "raw": {}}


# Commission: open 10/lot, close(-yesterday) 10/lot, close-today 5/lot.
DAY = [
    fill("t1", D0, "02:00:00", "LONG", "OPEN", 500.00, 1, 10.0),  # lot A, carried into D1
    settlement(D1, SETTLE_D1),
    fill("t2", D1, "01:30:00", "LONG", "OPEN", 505.00, 2, 20.0),  # lot B: two lots in one fill
    fill("t3", D1, "01:40:00", "SHORT", "CLOSETODAY", 507.00, 1, 5.0, "operator"),  # half of B (split)
    fill("t4", D1, "01:50:00", "SHORT", "CLOSEYESTERDAY", 508.00, 1, 10.0, "strategy", "ma"),  # A, not B
    fill("t5", D1, "02:00:00", "SHORT", "CLOSETODAY", 504.50, 1, 5.0),  # the rest of B
    fill("t6", D1, "02:10:00", "LONG", "OPEN", 501.00, 1, 10.0),  # lot C
    fill("t7", D1, "02:11:00", "LONG", "OPEN", 502.00, 2, 20.0),  # lot D
    operator_order("o-t8"),
    fill("t8", D1, "02:20:00", "SHORT", "CLOSETODAY", 503.00, 2, 10.0),  # C whole + half of D
    fill("t9", D1, "02:30:00", "SHORT", "OPEN", 510.00, 2, 20.0),  # a short round trip
    fill("t10", D1, "02:40:00", "LONG", "CLOSETODAY", 509.50, 2, 10.0, "emergency"),
]
# (close trade, open trade, side, volume, open price, close price, carried, settlement, pnl by open,
#  pnl by settlement, commission, exit reason, strategy) -- by hand:
EXPECTED = [
    ("t3", "t2", "LONG", 1, "505.00", "507.00", 0, None, 2000, 2000, "15.00", "operator", None),  # 20/2 + 5
    ("t4", "t1", "LONG", 1, "500.00", "508.00", 1, "503.00", 8000, 5000, "20.00", "strategy", "ma"),  # 10 + 10
    ("t5", "t2", "LONG", 1, "505.00", "504.50", 0, None, -500, -500, "15.00", "external", None),  # 10 + 5
    ("t8", "t6", "LONG", 1, "501.00", "503.00", 0, None, 2000, 2000, "15.00", "operator", None),  # 10 + 10/2
    ("t8", "t7", "LONG", 1, "502.00", "503.00", 0, None, 1000, 1000, "15.00", "operator", None),  # 20/2 + 10/2
    ("t10", "t9", "SHORT", 2, "510.00", "509.50", 0, None, 1000, 1000, "30.00", "emergency", None),  # 20 + 10
]
DAY_PNL_SETTLEMENT = 2000 + 5000 - 500 + 2000 + 1000 + 1000  # 10,500: what the broker's CloseProfit says
DAY_PNL_OPEN = 2000 + 8000 - 500 + 2000 + 1000 + 1000  # 13,500
DAY_COMMISSION = 20 + 5 + 10 + 5 + 10 + 20 + 10 + 20 + 10  # 110: every fill of D1, opens included


@pytest.fixture
def writer(mysql_cfg: MysqlConfig, tmp_path: Path) -> Iterator[MysqlWriter]:
    w = make_writer(mysql_cfg, tmp_path)
    w.start()
    yield w
    w.stop()


def closed_rows(db: Database) -> list[tuple[Any, ...]]:
    rows = db.query(
        "SELECT p.close_tradeid, p.open_tradeid, p.direction, p.volume, p.open_price, p.close_price, p.carried,"
        " p.settlement_price, p.pnl_open, p.pnl_settlement, p.commission, p.exit_reason, p.strategy"
        " FROM positions_closed p ORDER BY p.close_trade_id, p.piece")
    return [(r["close_tradeid"], r["open_tradeid"], r["direction"], int(r["volume"]), f"{r['open_price']:.2f}",
             f"{r['close_price']:.2f}", r["carried"],
             None if r["settlement_price"] is None else f"{r['settlement_price']:.2f}",
             None if r["pnl_open"] is None else round(float(r["pnl_open"]), 2),
             None if r["pnl_settlement"] is None else round(float(r["pnl_settlement"]), 2),
             None if r["commission"] is None else f"{r['commission']:.2f}", r["exit_reason"], r["strategy"])
            for r in rows]


def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row the booking writes (what a replay must leave as it is)."""
    return {
        "trades": db.query("SELECT id, tradeid, commission FROM trades ORDER BY id"),
        "lots": db.query("SELECT * FROM position_lots ORDER BY id"),
        "closed": db.query("SELECT * FROM positions_closed ORDER BY id"),
        "settlements": db.query("SELECT symbol, trading_day, price, source FROM settlement_prices"),
    }


def put_all(writer: MysqlWriter, records: list[dict[str, Any]]) -> None:
    for record in records:
        writer.put(parse_record(record))


def test_a_day_of_fills_is_closed_the_shfe_way_with_hand_computed_figures(writer: MysqlWriter,
                                                                          db: Database) -> None:
    put_all(writer, DAY)
    eventually(lambda: writer.written >= len(DAY))
    assert closed_rows(db) == EXPECTED
    assert writer.closes == len(EXPECTED)
    day = db.query("SELECT SUM(pnl_settlement) AS s, SUM(pnl_open) AS o, SUM(volume) AS v FROM positions_closed"
                   " WHERE trading_day = %s", [D1])[0]
    assert (float(day["s"]), float(day["o"]), float(day["v"])) == (DAY_PNL_SETTLEMENT, DAY_PNL_OPEN, 7)
    still_open = db.query("SELECT open_tradeid, direction, remaining, commission_left FROM position_lots"
                          " WHERE remaining > 0")
    assert [(r["open_tradeid"], r["direction"], float(r["remaining"]), float(r["commission_left"]))
            for r in still_open] == [("t7", "LONG", 1.0, 10.0)]  # half of D, with half its commission
    # every fill's commission is in exactly one place: the closed rows or what an open lot still carries
    closed_commission = float(db.query("SELECT SUM(commission) AS c FROM positions_closed")[0]["c"])
    assert closed_commission + 10.0 == 10.0 + DAY_COMMISSION  # D0's open (10) + D1's fills = closed + lot D


def test_the_same_trades_replayed_change_nothing(writer: MysqlWriter, db: Database) -> None:
    put_all(writer, DAY)
    eventually(lambda: writer.written >= len(DAY))
    before = snapshot(db)
    for _ in range(2):  # CTP replays the day's trades after every reconnect and restart
        put_all(writer, DAY)
    eventually(lambda: writer.written >= 3 * len(DAY))
    assert snapshot(db) == before
    assert closed_rows(db) == EXPECTED and writer.closes == len(EXPECTED)


def test_a_close_without_its_opening_is_counted_not_guessed(writer: MysqlWriter, db: Database) -> None:
    put_all(writer, [fill("x1", D1, "01:00:00", "LONG", "OPEN", 500.0, 1, 10.0),
                     fill("x2", D1, "01:10:00", "SHORT", "CLOSETODAY", 501.0, 3, 15.0)])  # 2 more than held
    eventually(lambda: count(db, "positions_closed") == 2)
    rows = db.query("SELECT lot_id, volume, pnl_open, pnl_settlement, commission FROM positions_closed ORDER BY piece")
    assert [(r["lot_id"] is None, float(r["volume"]), r["pnl_open"] is None, float(r["commission"]))
            for r in rows] == [(False, 1.0, False, 15.0), (True, 2.0, True, 10.0)]  # 10 + 15/3; 2 x 15/3
    assert float(rows[0]["pnl_settlement"]) == 1000


def test_close_yesterday_never_takes_todays_lots(writer: MysqlWriter, db: Database) -> None:
    put_all(writer, [fill("y1", D1, "01:00:00", "LONG", "OPEN", 500.0, 1, 10.0),
                     fill("y2", D1, "01:10:00", "SHORT", "CLOSE", 501.0, 1, 10.0)])  # SHFE CLOSE = yesterday's
    eventually(lambda: count(db, "positions_closed") == 1)
    row = db.query("SELECT lot_id, volume FROM positions_closed")[0]
    assert row["lot_id"] is None  # no lot from an earlier day: unmatched, today's lot stays open
    assert float(db.query("SELECT remaining FROM position_lots")[0]["remaining"]) == 1


def test_a_settlement_recorded_after_the_close_fills_the_row_in(writer: MysqlWriter, db: Database) -> None:
    put_all(writer, [fill("s1", D0, "02:00:00", "SHORT", "OPEN", 500.0, 1, 10.0),
                     fill("s2", D1, "01:00:00", "LONG", "CLOSEYESTERDAY", 498.0, 1, 10.0)])
    eventually(lambda: count(db, "positions_closed") == 1)
    row = db.query("SELECT pnl_open, pnl_settlement, settlement_price FROM positions_closed")[0]
    assert (float(row["pnl_open"]), row["pnl_settlement"], row["settlement_price"]) == (2000.0, None, None)
    writer.put(parse_record(settlement(D1, 499.0)))
    eventually(lambda: db.query("SELECT pnl_settlement FROM positions_closed")[0]["pnl_settlement"] is not None)
    row = db.query("SELECT pnl_settlement, settlement_price FROM positions_closed")[0]
    assert (float(row["pnl_settlement"]), float(row["settlement_price"])) == (1000.0, 499.0)  # short: 499 - 498
    writer.put(parse_record(settlement(D1, 499.5, "position")))  # the broker's own statement outranks the tick's
    writer.put(parse_record(settlement(D1, 400.0, "tick")))  # ... and a tick never overrides it
    eventually(lambda: float(db.query("SELECT pnl_settlement FROM positions_closed")[0]["pnl_settlement"]) == 1500)
    eventually(lambda: writer.backlog == 0)
    assert float(db.query("SELECT price FROM settlement_prices")[0]["price"]) == 499.5


def test_mysql_down_while_a_close_happens_gives_the_close_exactly_once(mysql_cfg: MysqlConfig, db: Database,
                                                                       tmp_path: Path) -> None:
    proxy = TcpProxy(mysql_cfg.host, mysql_cfg.port)
    first = make_writer(mysql_cfg, tmp_path, proxy.port)
    first.start()
    try:
        put_all(first, DAY[:3])  # lot A carried, lot B opened
        eventually(lambda: count(db, "position_lots") == 2)
        proxy.down()
        put_all(first, DAY[3:6])  # three closes while MySQL is away ...
        put_all(first, DAY[3:6])  # ... and CTP's replay of them after a reconnect
        eventually(lambda: not first.ok and len(first.spool) >= 1, timeout=20, what="closes spooled")
        assert count(db, "positions_closed") == 0
        first.stop()  # and the core restarts before MySQL is back
        proxy.up()
        second = make_writer(mysql_cfg, tmp_path, proxy.port)
        second.start()
        try:
            put_all(second, DAY[6:])
            eventually(lambda: count(db, "positions_closed") == len(EXPECTED), timeout=15, what="spool drained")
            eventually(lambda: second.backlog == 0)
            written = second.written
            put_all(second, DAY)  # the whole day replayed once more
            eventually(lambda: second.written >= written + len(DAY))
            assert closed_rows(db) == EXPECTED
        finally:
            second.stop()
    finally:
        first.stop()
        proxy.down()


# ---------------------------------------------------------------- the matching rule, no database

def lot(n: int, day: date, price: str, volume: int, minute: int) -> Lot:
    return Lot(n, n, f"t{n}", datetime(2027, 1, 12, 1, minute), day, Decimal(price), Decimal(volume),
               Decimal(10 * volume))


def test_pools_follow_the_offset_and_the_exchange() -> None:
    lots = [lot(3, date(2027, 1, 12), "505", 1, 30), lot(1, date(2027, 1, 11), "500", 1, 0),
            lot(2, date(2027, 1, 12), "504", 1, 20)]
    close = Close("LONG", "CLOSETODAY", "SHFE", Decimal("506"), Decimal(1), Decimal(1000), date(2027, 1, 12), None)
    assert [x.id for x in pool(lots, close)] == [2, 3]  # today's, oldest first
    assert [x.id for x in pool(lots, Close(**{**close.__dict__, "offset": "CLOSE"}))] == [1]  # SHFE: yesterday's
    assert [x.id for x in pool(lots, Close(**{**close.__dict__, "offset": "CLOSE", "exchange": "DCE"}))] == [1, 2, 3]


def test_commission_shares_add_up_exactly_over_three_partial_closes() -> None:
    day = date(2027, 1, 12)
    open_lot = Lot(1, 1, "t1", datetime(2027, 1, 12, 1, 0), day, Decimal("500"), Decimal(3), Decimal("10.00"))
    shares = []
    for _ in range(3):
        close = Close("LONG", "CLOSETODAY", "SHFE", Decimal("501"), Decimal(1), Decimal(1000), day, Decimal("0"))
        piece, = split_close(close, [open_lot], None)
        assert piece.lot_after is not None
        open_lot = piece.lot_after
        shares.append(piece.commission)
    assert shares == [Decimal("3.3333"), Decimal("3.3334"), Decimal("3.3333")]
    assert sum(shares, Decimal(0)) == Decimal("10.00") and open_lot.remaining == 0


def test_a_failure_between_a_trade_and_its_close_loses_nothing(writer: MysqlWriter, db: Database,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The trade row and its booking are one transaction: the connection dropping after the trade's
    INSERT rolls both back; the retry from the spool books the close once."""
    real = closed_positions.apply_trade
    failures = []

    def cut_once(cur: Any, record: dict[str, Any], trade_id: int) -> int:
        if record["tradeid"] == "t4" and not failures:
            failures.append(trade_id)
            raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
        return real(cur, record, trade_id)

    monkeypatch.setattr(closed_positions, "apply_trade", cut_once)
    put_all(writer, DAY)
    eventually(lambda: count(db, "positions_closed") == len(EXPECTED), timeout=15, what="retried from the spool")
    eventually(lambda: writer.backlog == 0 and writer.ok)
    assert failures and closed_rows(db) == EXPECTED
