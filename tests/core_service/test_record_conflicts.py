"""Colliding records against the real MariaDB and Redis: a trade or order replayed with other content
is never dropped silently. The first stays, the newcomer is kept in `record_conflicts` and raised as
an ERROR system event (through the recorder, as in the core); an identical replay stays silent.
Also while MySQL is away: the check happens when the spooled record is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from vnpy.event import EventEngine

from common.config import MysqlConfig
from common.contract import Keys
from common.db import Database
from core_service.mysql_writer import MysqlWriter
from core_service.recorder import Recorder
from core_service.redis_publisher import RedisPublisher
from tests.core_service.test_mysql_writer import changed, count, make_writer, order, trade
from tests.helpers import eventually
from tests.netproxy import TcpProxy


@pytest.fixture
def core_side(mysql_cfg: MysqlConfig, tmp_path: Path, redis_client: redis.Redis,
              keys: Keys) -> Iterator[tuple[MysqlWriter, TcpProxy]]:
    """The writer (behind a proxy the test may cut) wired to a recorder as in the core."""
    proxy = TcpProxy(mysql_cfg.host, mysql_cfg.port)
    writer = make_writer(mysql_cfg, tmp_path, proxy.port)
    publisher = RedisPublisher(redis_client, keys.main_contract)
    Recorder(EventEngine(), keys, publisher, writer, tick_maxlen=1000, event_maxlen=1000,
             main_symbol=lambda: "au2702", strategy_of_order=lambda _vt_orderid: None)
    writer.start()
    publisher.start()
    yield writer, proxy
    writer.stop()
    publisher.stop()
    proxy.down()


def events(db: Database) -> list[dict[str, Any]]:
    return db.query("SELECT level, kind, message, detail FROM system_events ORDER BY id")


def conflicts(db: Database) -> list[dict[str, Any]]:
    rows = db.query("SELECT kind, natural_key, stored, received, differences FROM record_conflicts ORDER BY id")
    for row in rows:
        for name in ("natural_key", "stored", "received", "differences"):
            row[name] = json.loads(row[name])
    return rows


def test_a_trade_replayed_with_another_price_is_kept_and_raised(core_side: tuple[MysqlWriter, TcpProxy],
                                                                 db: Database, redis_client: redis.Redis,
                                                                 keys: Keys) -> None:
    writer, _ = core_side
    writer.put(trade("12345", price=950.00))
    eventually(lambda: count(db, "trades") == 1)
    writer.put(trade("12345", price=951.02))
    writer.put(trade("12345", price=951.02))  # the same newcomer again (next reconnect): recorded once

    found = eventually(lambda: [e for e in events(db) if e["kind"] == "trade_conflict"], what="conflict event")
    assert found[0]["level"] == "ERROR"
    assert found[0]["message"] == ("trade 12345 LONG au2702 arrived again with price 951.02 (stored 950.00);"
                                   " kept the first, the second stored in record_conflicts")
    assert json.loads(found[0]["detail"])["differences"] == {"price": {"stored": "950.00", "received": "951.02"}}
    kept, = conflicts(db)
    assert kept["kind"] == "trade" and kept["natural_key"]["tradeid"] == "12345"
    assert kept["stored"]["price"] == "950.0000" and kept["received"]["price"] == 951.02
    assert kept["received"]["raw"] == {"tradeid": "12345"}
    row, = db.query("SELECT price, volume, ts FROM trades")
    assert (str(row["price"]), str(row["volume"])) == ("950.0000", "1.0000")  # the first is unchanged
    pushed = [json.loads(f["json"]) for _, f in redis_client.xrange(keys.events)]
    assert [p["data"]["kind"] for p in pushed if p["type"] == "system"] == ["trade_conflict"]
    eventually(lambda: writer.backlog == 0)
    assert len(events(db)) == 1 and len(conflicts(db)) == 1


def test_an_identical_replay_stays_silent(core_side: tuple[MysqlWriter, TcpProxy], db: Database) -> None:
    writer, _ = core_side
    writer.put(trade("T1", price=950.02))
    writer.put(order("ALLTRADED", 2))
    eventually(lambda: writer.written >= 2)
    for _ in range(3):  # CTP replays the day's trades and orders after every reconnect
        # when we saw it is not part of the trade
        writer.put(changed(trade("T1", price=950.02), recorded_at="2026-11-19 14:00:00.000"))
        writer.put(order("ALLTRADED", 2))
    writer.put(trade("T1", price=950.020000001))  # DECIMAL(20,4) holds this as 950.0200: the same trade
    writer.put(changed(trade("T1"), ts="2026-11-19 13:00:00.123400"))  # DATETIME(3) keeps 13:00:00.123
    eventually(lambda: writer.written >= 10 and writer.backlog == 0)
    assert conflicts(db) == [] and events(db) == []
    assert count(db, "trades") == 1 and count(db, "orders") == 1


def test_an_order_replayed_with_another_price_is_kept_and_raised(core_side: tuple[MysqlWriter, TcpProxy],
                                                                  db: Database) -> None:
    writer, _ = core_side
    writer.put(order("NOTTRADED", 0))
    writer.put(order("ALLTRADED", 2))  # status and traded change legitimately
    eventually(lambda: writer.written >= 2)
    writer.put(changed(order("ALLTRADED", 2), price=949.5, raw={"price": 949.5}))
    found = eventually(lambda: [e for e in events(db) if e["kind"] == "order_conflict"], what="conflict event")
    assert found[0]["level"] == "ERROR"
    assert found[0]["message"] == ("order o1 LONG au2702 arrived again with price 949.50 (stored 950.02);"
                                   " kept the first, the second stored in record_conflicts")
    kept, = conflicts(db)
    assert kept["kind"] == "order" and kept["received"]["raw"] == {"price": 949.5}
    row, = db.query("SELECT price, status, traded FROM orders")
    assert (str(row["price"]), row["status"], str(row["traded"])) == ("950.0200", "ALLTRADED", "2.0000")


def test_a_conflict_spooled_while_mysql_is_down_is_found_when_written(core_side: tuple[MysqlWriter, TcpProxy],
                                                                       db: Database) -> None:
    writer, proxy = core_side
    writer.put(trade("T7", price=950.00, volume=2))
    eventually(lambda: count(db, "trades") == 1)
    proxy.down()
    writer.put(changed(trade("T7", price=950.00, volume=3), offset="CLOSE"))
    writer.put(trade("T8"))
    eventually(lambda: not writer.ok and len(writer.spool) >= 1, timeout=20, what="records spooled")
    assert conflicts(db) == []
    proxy.up()
    found = eventually(lambda: [e for e in events(db) if e["kind"] == "trade_conflict"], timeout=15)
    assert found[0]["message"] == ("trade T7 LONG au2702 arrived again with offset CLOSE (stored OPEN),"
                                   " volume 3 (stored 2); kept the first, the second stored in record_conflicts")
    assert count(db, "trades") == 2 and len(conflicts(db)) == 1
    row = db.query("SELECT offset_, volume FROM trades WHERE tradeid = 'T7'")[0]
    assert (row["offset_"], str(row["volume"])) == ("OPEN", "2.0000")
