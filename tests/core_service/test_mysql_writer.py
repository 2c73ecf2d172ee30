"""The MySQL writer against the real MariaDB: idempotent trades, order upserts, and no record lost
while MySQL is unreachable (a TCP proxy cuts the real server off), also across a restart; broker
replies kept raw and pruned, contract rates merged and pricing trades recorded before them; spooled
lines that are no longer records (an unknown kind, a field renamed) set aside with the reason, those an
earlier version spooled with the Redis state's extra fields still written."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from common.config import MysqlConfig
from common.db import Database
from common.db import connect as db_connect
from core_service.mysql_writer import MysqlWriter
from core_service.records import ContractRecord, OrderRecord, Record, TradeRecord, parse_record
from core_service.spool import Spool
from tests.helpers import eventually
from tests.netproxy import TcpProxy


def trade(tradeid: str, price: float = 950.02, volume: float = 1) -> TradeRecord:
    return TradeRecord(
        gateway="SIM", exchange="SHFE", tradeid=tradeid, direction="LONG", trading_day="2026-11-20",
        symbol="au2702", orderid="o1", offset="OPEN", price=price, volume=volume, strategy=None,
        ts="2026-11-19 13:00:00.123", recorded_at="2026-11-19 13:00:00.200", raw={"tradeid": tradeid},
    )  # fmt: skip


def order(status: str, traded: float) -> OrderRecord:
    return OrderRecord(
        gateway="SIM", orderid="o1", trading_day="2026-11-20", symbol="au2702", exchange="SHFE", direction="LONG",
        offset="OPEN", type="LIMIT", price=950.02, volume=2, traded=traded, status=status, reference="",
        strategy="s1", reason="", ts="2026-11-19 13:00:00.000", updated_at="2026-11-19 13:00:01.000", raw={},
    )  # fmt: skip


def changed(record: Record, **fields: Any) -> Record:
    """The record with other values (validated again, like any record built)."""
    return parse_record({**record.model_dump(), **fields})


def make_writer(cfg: MysqlConfig, tmp_path: Path, port: int | None = None) -> MysqlWriter:
    target = cfg.model_copy(update={"port": port}) if port else cfg
    return MysqlWriter(lambda: db_connect(target), Spool(tmp_path / "spool.jsonl"),
                       Spool(tmp_path / "rejected.jsonl"), retry_interval_s=0.3)


@pytest.fixture
def writer(mysql_cfg: MysqlConfig, tmp_path: Path) -> Iterator[MysqlWriter]:
    w = make_writer(mysql_cfg, tmp_path)
    w.start()
    yield w
    w.stop()


def count(db: Database, table: str) -> int:
    return db.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]


def test_replayed_trades_are_written_once(writer: MysqlWriter, db: Database) -> None:
    for _ in range(3):  # CTP replays the day's trades after every reconnect
        writer.put(trade("T1"))
        writer.put(trade("T2", price=951.5))
    eventually(lambda: writer.written >= 6)
    rows = db.query("SELECT tradeid, price, volume FROM trades ORDER BY tradeid")
    assert [(r["tradeid"], str(r["price"]), str(r["volume"])) for r in rows] == [
        ("T1", "950.0200", "1.0000"), ("T2", "951.5000", "1.0000")]


def test_order_upsert_never_goes_back_from_a_final_state(writer: MysqlWriter, db: Database) -> None:
    writer.put(order("NOTTRADED", 0))
    writer.put(order("PARTTRADED", 1))
    writer.put(order("ALLTRADED", 2))
    writer.put(order("NOTTRADED", 0))  # a stale replay
    eventually(lambda: writer.written >= 4)
    row = db.query("SELECT status, traded, strategy FROM orders")[0]
    assert (row["status"], str(row["traded"]), row["strategy"]) == ("ALLTRADED", "2.0000", "s1")
    assert count(db, "orders") == 1


def test_outage_buffers_durably_and_writes_when_mysql_returns(mysql_cfg: MysqlConfig, db: Database,
                                                              tmp_path: Path) -> None:
    proxy = TcpProxy(mysql_cfg.host, mysql_cfg.port)
    w = make_writer(mysql_cfg, tmp_path, proxy.port)
    w.start()
    try:
        w.put(trade("before"))
        eventually(lambda: count(db, "trades") == 1)
        proxy.down()
        for i in range(50):
            w.put(trade(f"during-{i}"))
        eventually(lambda: not w.ok and len(w.spool) >= 1, timeout=20, what="writer down, records spooled")
        eventually(lambda: w.backlog >= 50 or count(db, "trades") > 1, timeout=20,
                   what="every record held (a batch cut mid-query may have reached MySQL)")
        proxy.up()
        eventually(lambda: count(db, "trades") == 51, timeout=15, what="spool drained")
        eventually(lambda: len(w.spool) == 0 and w.ok)
    finally:
        w.stop()
        proxy.down()


def test_spooled_records_survive_a_restart(mysql_cfg: MysqlConfig, db: Database, tmp_path: Path) -> None:
    proxy = TcpProxy(mysql_cfg.host, mysql_cfg.port)
    proxy.down()
    first = make_writer(mysql_cfg, tmp_path, proxy.port)
    first.start()
    for i in range(20):
        first.put(trade(f"r-{i}"))
    first.stop()  # the core stops while MySQL is still away
    assert len(Spool(tmp_path / "spool.jsonl")) == 20
    proxy.up()
    second = make_writer(mysql_cfg, tmp_path, proxy.port)
    second.start()
    try:
        second.put(trade("after-restart"))
        eventually(lambda: count(db, "trades") == 21, timeout=15)
        assert len(second.spool) == 0
    finally:
        second.stop()
        proxy.down()


def test_a_record_mysql_refuses_is_set_aside_and_the_rest_written(writer: MysqlWriter, db: Database) -> None:
    bad = changed(trade("bad"), symbol="au" * 40)  # longer than the column
    writer.put(trade("good-1"))
    writer.put(bad)
    writer.put(trade("good-2"))
    eventually(lambda: count(db, "trades") == 2)
    eventually(lambda: len(writer.rejected) == 1)
    assert writer.rejected.read_all()[0]["record"]["tradeid"] == "bad"
    assert len(writer.spool) == 0


def reply(key: str, received_at: str) -> dict[str, Any]:
    return {"kind": "broker_reply", "uid": uuid.uuid4().hex, "received_at": received_at, "gateway": "CTP",
            "reply_kind": "order", "key": key, "raw": {"OrderSysID": key, "StatusMsg": "全部成交"}}


def test_broker_replies_are_kept_raw_and_pruned_after_the_keep_days(mysql_cfg: MysqlConfig, db: Database,
                                                                   tmp_path: Path) -> None:
    w = MysqlWriter(lambda: db_connect(mysql_cfg), Spool(tmp_path / "spool.jsonl"), Spool(tmp_path / "rej.jsonl"),
                    reply_keep_days=7, prune_interval_s=0.2)
    now = datetime.now(UTC).replace(tzinfo=None)
    old = [reply(f"old-{i}", str(now - timedelta(days=8, minutes=i))) for i in range(3)]
    fresh = [reply(f"new-{i}", str(now - timedelta(days=6, minutes=i))) for i in range(2)]
    db.executemany("INSERT INTO broker_replies (uid, received_at, gateway, kind, key_, raw) VALUES"
                   " (%s,%s,%s,%s,%s,%s)", [(r["uid"], r["received_at"], "CTP", "order", r["key"],
                                              json.dumps(r["raw"])) for r in old + fresh])
    w.start()
    try:
        w.put(parse_record(reply("live", str(now))))
        eventually(lambda: count(db, "broker_replies") == 3, what="the 8-day-old replies pruned")
        keys = sorted(r["key_"] for r in db.query("SELECT key_ FROM broker_replies"))
        assert keys == ["live", "new-0", "new-1"] and w.pruned == 3
        raw = json.loads(db.query("SELECT raw FROM broker_replies WHERE key_ = 'live'")[0]["raw"])
        assert raw == {"OrderSysID": "live", "StatusMsg": "全部成交"}
    finally:
        w.stop()


def test_rates_arriving_after_a_trade_price_its_commission(writer: MysqlWriter, db: Database) -> None:
    writer.put(trade("B1", price=950.0, volume=2))  # no commission: CTP replayed it before the rates
    writer.put(ContractRecord(symbol="au2702", exchange="SHFE", name="黄金2702", size=1000, pricetick=0.02,
                              min_volume=1, max_volume=1000, info_synced_at="2026-11-19 12:00:00",
                              last_sync="2026-11-19 12:00:00"))
    eventually(lambda: count(db, "contracts") == 1 and count(db, "position_lots") == 1)
    assert db.query("SELECT commission FROM trades")[0]["commission"] is None
    rates = {"long_margin_ratio_by_money": 0.08, "short_margin_ratio_by_money": 0.09,
             "long_margin_ratio_by_volume": 0.0, "short_margin_ratio_by_volume": 0.0,
             "open_ratio_by_money": 0.00005, "open_ratio_by_volume": 2.0, "close_ratio_by_money": 0.00005,
             "close_ratio_by_volume": 2.0, "close_today_ratio_by_money": 0.0, "close_today_ratio_by_volume": 0.0}
    writer.put(ContractRecord(symbol="au2702", exchange="SHFE", source="ctp", **rates,
                              margin_synced_at="2026-11-19 12:00:01", commission_synced_at="2026-11-19 12:00:02",
                              last_sync="2026-11-19 12:00:02"))
    # 2 lots x (0.00005 x 950 x 1000 + 2) = 2 x 49.50 = 99.00
    eventually(lambda: db.query("SELECT commission FROM trades")[0]["commission"] is not None)
    assert float(db.query("SELECT commission FROM trades")[0]["commission"]) == 99.0
    lot = db.query("SELECT commission, commission_left FROM position_lots")[0]
    assert (float(lot["commission"]), float(lot["commission_left"])) == (99.0, 99.0)
    row = db.query("SELECT * FROM contracts")[0]
    assert (row["name"], float(row["size"]), row["source"]) == ("黄金2702", 1000.0, "ctp")  # info kept, rates merged
    assert float(row["short_margin_ratio_by_money"]) == 0.09 and row["commission_synced_at"] is not None


def test_spooled_lines_are_validated_again_when_replayed(mysql_cfg: MysqlConfig, db: Database,
                                                        tmp_path: Path) -> None:
    """Lines another version spooled: an unknown kind and a field renamed since are set aside with the
    reason; a trade spooled with the Redis state's fields spread in (as before typed records) is written."""
    old = {**trade("K0").model_dump(mode="json"), "vt_tradeid": "SIM.K0", "vt_orderid": "SIM.o1",
           "datetime": "2026-11-19T21:00:00.123+08:00", "ts_ms": 1_795_611_600_123}
    renamed = {**trade("K2").model_dump(mode="json"), "prise": 950.02}
    del renamed["price"]
    Spool(tmp_path / "spool.jsonl").append([{"kind": "no-such-kind", "x": 1}, old, renamed])
    w = make_writer(mysql_cfg, tmp_path)
    w.start()
    try:
        w.put(trade("K1"))
        eventually(lambda: count(db, "trades") == 2 and len(w.rejected) == 2)
        assert sorted(r["tradeid"] for r in db.query("SELECT tradeid FROM trades")) == ["K0", "K1"]
        unknown, invalid = w.rejected.read_all()
        assert unknown["record"]["kind"] == "no-such-kind" and "unknown record kind 'no-such-kind'" in unknown["error"]
        assert invalid["record"]["tradeid"] == "K2" and "prise" in invalid["error"] and "price" in invalid["error"]
        assert len(w.spool) == 0
    finally:
        w.stop()
