"""Typed records (core_service/records.py): a misspelled or missing field fails where the record is
built, every statement names fields its kind's model has, and a record's dump (what the writer's queue
and spool keep) reads back as the same record."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from types import UnionType
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from common.clock import LIVE
from common.config import MysqlConfig
from common.db import Database
from core_service.contracts_table import COLUMNS as CONTRACT_COLUMNS
from core_service.records import (
    MODELS,
    RECORD,
    AccountRecord,
    AuditRecord,
    BrokerReplyRecord,
    ExecutionReportRecord,
    PositionRecord,
    Record,
    RiskAckRecord,
    RiskClearedRecord,
    RiskEventRecord,
    SettlementStatementRecord,
    SnapshotRecord,
    StrategyConfigRecord,
    StrategyTriggerRecord,
    SystemEventRecord,
    TradeRecord,
    TriggerResultRecord,
    dump,
    parse_record,
    revalidated,
)
from core_service.serializers import ms_to_db
from core_service.writer_statements import KIND_ORDER, STATEMENTS, row_of
from tests.core_service.test_mysql_writer import make_writer
from tests.helpers import eventually


def trade_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "gateway": "SIM", "exchange": "SHFE", "tradeid": "T1", "direction": "LONG", "trading_day": "2026-11-20",
        "symbol": "au2702", "orderid": "o1", "offset": "OPEN", "price": 950.02, "volume": 1.0,
        "ts": datetime(2026, 11, 19, 13, 0, 0, 123_000), "recorded_at": datetime(2026, 11, 19, 13, 0, 0, 200_000),
    }
    fields.update(changes)
    return fields


def test_a_misspelled_field_fails_loudly() -> None:
    fields = trade_fields(prise=950.02)
    del fields["price"]
    with pytest.raises(ValidationError) as failed:
        TradeRecord(**fields)
    assert {e["loc"][0] for e in failed.value.errors()} == {"price", "prise"}  # missing and not permitted


def test_a_missing_field_fails_loudly() -> None:
    fields = trade_fields()
    del fields["orderid"]
    with pytest.raises(ValidationError, match="orderid"):
        TradeRecord(**fields)


def test_a_value_of_the_wrong_type_fails_loudly() -> None:
    with pytest.raises(ValidationError, match="trading_day"):
        TradeRecord(**trade_fields(trading_day="not-a-date"))
    with pytest.raises(ValidationError, match="price"):
        TradeRecord(**trade_fields(price="a lot"))


def test_an_unknown_kind_or_a_misspelled_field_is_refused_when_read_back() -> None:
    with pytest.raises(ValueError, match="unknown record kind 'no-such-kind'"):
        parse_record({"kind": "no-such-kind"})
    with pytest.raises(ValidationError, match="event_knd"):
        parse_record({"kind": "system_event", "uid": "u", "ts": "2026-11-19 13:00:00.000", "level": "INFO",
                      "event_knd": "start", "event_kind": "start", "message": "m"})
    kept, refused = revalidated([{"kind": "nope"}, ["not", "a", "dict"], dump(TradeRecord(**trade_fields()))])
    assert [r["tradeid"] for r in kept] == ["T1"]
    assert [r["error"] for r in refused][0] == "unknown record kind 'nope'"
    assert refused[1]["error"].startswith("not a record")


def test_the_dump_is_json_safe_and_reads_back_as_the_same_record() -> None:
    record = TradeRecord(**trade_fields(raw={"tradeid": "T1"}))
    data = dump(record)
    assert data["ts"] == "2026-11-19 13:00:00.123" and data["trading_day"] == "2026-11-20"
    assert data["commission"] is None and data["kind"] == "trade"  # every field present
    assert parse_record(data) == record
    event = SystemEventRecord(uid="u", ts=datetime(2026, 1, 1), level="INFO", event_kind="k", message="m",
                              detail={"at": date(2026, 1, 2), "obj": object()})
    assert dump(event)["detail"]["at"] == "2026-01-02" and dump(event)["detail"]["obj"].startswith("<object")


def test_a_record_spooled_by_an_earlier_version_with_the_state_fields_spread_in_still_reads() -> None:
    old = {**dump(TradeRecord(**trade_fields())), "vt_tradeid": "SIM.T1", "vt_orderid": "SIM.o1",
           "datetime": "2026-11-19T21:00:00.123+08:00", "ts_ms": 1_795_611_600_123,
           "ts": "2026-11-19 13:00:00.123000"}  # str() of a datetime, as it was spooled then
    record = parse_record(old)
    assert isinstance(record, TradeRecord) and dump(record)["ts"] == "2026-11-19 13:00:00.123"
    with pytest.raises(ValidationError, match="vt_tradeid"):
        TradeRecord(**{**trade_fields(), "vt_tradeid": "SIM.T1"})  # a builder may not add it


def test_every_statement_column_is_a_field_of_its_model() -> None:
    for kind, (_, columns) in STATEMENTS.items():
        fields = MODELS[kind].model_fields
        assert [c for c in columns if c not in fields] == [], kind
    assert [c for c in CONTRACT_COLUMNS if c not in MODELS["contract"].model_fields] == []
    assert sorted(KIND_ORDER) == sorted(MODELS)


def test_every_kind_has_a_model_that_forbids_extra_fields_and_is_in_the_union() -> None:
    for kind, model in MODELS.items():
        assert issubclass(model, BaseModel) and model.model_config.get("extra") == "forbid", kind
        required = {name: _sample(info.annotation) for name, info in model.model_fields.items()
                    if info.is_required()}
        record = RECORD.validate_python({"kind": kind, **required})
        assert type(record) is model
        if kind in STATEMENTS:
            assert len(row_of(dump(record))) == len(STATEMENTS[kind][1])


def _sample(annotation: Any) -> Any:
    """A valid value for a required field of these models."""
    types = get_args(annotation) if isinstance(annotation, UnionType) else (annotation,)
    if datetime in types:
        return "2026-11-19 13:00:00.000"
    if date in types:
        return "2026-11-20"
    if float in types or int in types:
        return 1
    if any(get_origin(t) is dict for t in types):
        return {}
    return "x"


# ---------------------------------------------------------------- through the real writer into MariaDB

T0 = "2026-11-19 13:00:00.123"
DAY = "2026-11-20"


def one_of_each() -> list[Record]:
    """A record of each kind with a plain statement (the booked kinds have their own tests)."""
    figures = {"gateway": "SIM", "accountid": "sim001", "balance": 1e6, "available": 9e5, "frozen": 0.0,
               "margin": 1e5, "commission": 12.5, "realized_pnl": 100.0, "unrealized_pnl": -50.0}
    return [
        AccountRecord(**figures, trading_day=DAY, updated_at=T0),
        SnapshotRecord(**figures, uid="s1", ts=T0, reason="fill", recorded_at=T0, trading_day=DAY),
        PositionRecord(gateway="SIM", symbol="au2702", exchange="SHFE", direction="LONG", volume=2, yd_volume=1,
                       frozen=0, price=950.0, pnl=10.0, trading_day=None, updated_at=T0),
        StrategyTriggerRecord(uid="g1", ts=T0, trading_day=DAY, strategy="s1", vt_symbol="au2702.SHFE",
                              condition="breakout", price=950.0, volume=1, action="buy", result="pending"),
        TriggerResultRecord(uid="g1", result="success"),
        StrategyConfigRecord(name="s1", class_name="Breakout", vt_symbol="au2702.SHFE", setting={"n": 20},
                             updated_at=T0),
        SystemEventRecord(uid="e1", ts=T0, level="INFO", event_kind="start", message="started", detail={"a": 1}),
        AuditRecord(uid="a1", command_id="c1", type="sync", params={"x": 1}, source="cli", operator="op",
                    issued_at=T0, received_at=T0, status="done", result={"ok": True}, replied_at=T0),
        RiskEventRecord(uid="r1", ts=T0, trading_day=DAY, type="CONSISTENCY_DRIFT", severity="CRITICAL",
                        key="k1", symbol="au2702.SHFE", message="drift", detail={"d": 1}),
        RiskClearedRecord(uid="r1", cleared_at=T0),
        RiskAckRecord(uid="r1", acknowledged_by="op", acknowledged_at=T0),
        ExecutionReportRecord(uid="x1", ts=T0, trading_day=DAY, execution_id="c1", source="operator",
                              vt_symbol="au2702.SHFE", direction="LONG", offset="OPEN", step="SUBMITTED",
                              vt_orderid="SIM.1", price=950.0, volume=1, traded=0),
        BrokerReplyRecord(uid="b1", received_at=ms_to_db(LIVE.now_ms()), gateway="SIM", reply_kind="order",
                          key="SIM.1", raw=[{"a": 1}]),  # now: older ones are pruned
        SettlementStatementRecord(gateway="SIM", accountid="sim001", trading_day=DAY, settlement_text="text",
                                  computed_at=T0),
    ]


def test_every_plain_kind_is_written_with_its_fields(mysql_cfg: MysqlConfig, db: Database, tmp_path: Path) -> None:
    writer = make_writer(mysql_cfg, tmp_path)
    records = one_of_each()
    writer.start()
    try:
        for record in records:
            writer.put(record)
        eventually(lambda: writer.written >= len(records) and not writer.backlog, what="every record written")
    finally:
        writer.stop()
    assert len(writer.rejected) == 0
    assert float(db.query("SELECT unrealized_pnl FROM accounts")[0]["unrealized_pnl"]) == -50.0
    assert db.query("SELECT reason FROM account_snapshots")[0]["reason"] == "fill"
    assert db.query("SELECT trading_day FROM positions")[0]["trading_day"] is None
    assert db.query("SELECT result FROM strategy_triggers")[0]["result"] == "success"
    assert json.loads(db.query("SELECT setting FROM strategy_configs")[0]["setting"]) == {"n": 20}
    event = db.query("SELECT kind, ts, detail FROM system_events")[0]
    assert (event["kind"], str(event["ts"]), json.loads(event["detail"])) == (
        "start", "2026-11-19 13:00:00.123000", {"a": 1})
    assert json.loads(db.query("SELECT result FROM command_audit")[0]["result"]) == {"ok": True}
    risk = db.query("SELECT key_, cleared_at, acknowledged_by FROM risk_events")[0]
    assert (risk["key_"], risk["cleared_at"] is not None, risk["acknowledged_by"]) == ("k1", True, "op")
    assert db.query("SELECT offset_ FROM execution_reports")[0]["offset_"] == "OPEN"
    assert json.loads(db.query("SELECT raw FROM broker_replies")[0]["raw"]) == [{"a": 1}]
    assert db.query("SELECT settlement_text FROM pnl_records")[0]["settlement_text"] == "text"
