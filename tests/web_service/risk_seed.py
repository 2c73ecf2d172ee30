"""Risk events and execution reports in the core's shapes: MySQL rows exactly as its writer stores them
(core_service/writer_statements.py, sql/0006) and pushes exactly as its risk desk publishes them
(core_service/risk_events.py). Used by the web tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis

from common.contract import (
    Command,
    CommandReply,
    CommandStatus,
    ExecutionReport,
    ExecutionStep,
    Keys,
    RiskEvent,
    RiskEventType,
    RiskEventUpdate,
    now_ms,
)
from common.db import Database
from tests.web_service import seed

DAY = "2027-01-15"


def db_time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(tzinfo=None)


def risk_event(kind: RiskEventType = RiskEventType.CONSISTENCY_DRIFT, **extra: Any) -> RiskEvent:
    data: dict[str, Any] = dict(
        trading_day=DAY,
        type=kind,
        severity="WARNING",
        key=f"{kind.value}:au2702.SHFE:LONG",
        symbol="au2702.SHFE",
        message="我们记录的多头 3 手，柜台 2 手 / ours 3 lots, broker 2",
        detail={"ours": 3, "broker": 2, "direction": "LONG"},
    )
    data.update(extra)
    return RiskEvent(**data)


def insert_risk_event(db: Database, event: RiskEvent) -> None:
    db.execute(
        "INSERT INTO risk_events (uid, ts, trading_day, type, severity, key_, symbol, message, detail, cleared_at,"
        " acknowledged_by, acknowledged_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (
            event.uid,
            db_time(event.ts_ms),
            event.trading_day,
            event.type.value,
            event.severity,
            event.key,
            event.symbol,
            event.message,
            json.dumps(event.detail, ensure_ascii=False),
            db_time(event.cleared_ms) if event.cleared_ms else None,
            event.acknowledged_by or None,
            db_time(event.acknowledged_ms) if event.acknowledged_ms else None,
        ),
    )


def acknowledge_in_db(db: Database, uid: str, by: str, at_ms: int) -> None:
    """What the core's writer does with a `risk_ack` record."""
    db.execute(
        "UPDATE risk_events SET acknowledged_by=%s, acknowledged_at=%s WHERE uid=%s AND acknowledged_at IS NULL",
        (by, db_time(at_ms), uid),
    )


def publish_risk_event(r: redis.Redis, keys: Keys, event: RiskEvent) -> None:
    seed.publish(r, keys, "risk_event", event.model_dump(mode="json"))


def publish_risk_update(r: redis.Redis, keys: Keys, update: RiskEventUpdate) -> None:
    seed.publish(r, keys, "risk_update", update.model_dump(mode="json"))


def step(execution_id: str, kind: ExecutionStep, ts_ms: int | None = None, **extra: Any) -> ExecutionReport:
    data: dict[str, Any] = dict(
        trading_day=DAY,
        execution_id=execution_id,
        source="operator",
        vt_symbol="au2702.SHFE",
        direction="SHORT",
        offset="CLOSE",
        step=kind,
        vt_orderid="SIM.1",
        price=600.0,
        volume=2,
        traded=0,
        ts_ms=ts_ms or now_ms(),
    )
    data.update(extra)
    return ExecutionReport(**data)


def insert_step(db: Database, report: ExecutionReport) -> None:
    db.execute(
        "INSERT INTO execution_reports (uid, ts, trading_day, execution_id, source, vt_symbol, direction, offset_, step,"
        " vt_orderid, price, volume, traded, attempt, message) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (
            report.uid,
            db_time(report.ts_ms),
            report.trading_day,
            report.execution_id,
            report.source,
            report.vt_symbol,
            report.direction,
            report.offset,
            report.step.value,
            report.vt_orderid,
            report.price,
            report.volume,
            report.traded,
            report.attempt,
            report.message,
        ),
    )


def publish_step(r: redis.Redis, keys: Keys, report: ExecutionReport) -> None:
    seed.publish(r, keys, "execution", report.model_dump(mode="json"))


def core_acknowledges(db: Database, r: redis.Redis, keys: Keys, command: Command) -> CommandReply:
    """What the core does with risk.ack: records it, pushes a risk_update, answers done with the result."""
    at, uid = now_ms(), command.params["uid"]
    acknowledge_in_db(db, uid, command.operator, at)
    publish_risk_update(r, keys, RiskEventUpdate(uid=uid, acknowledged_by=command.operator, acknowledged_ms=at))
    return CommandReply(command_id=command.id, status=CommandStatus.DONE, reason="acknowledged",
                        result={"uid": uid, "acknowledged_by": command.operator, "acknowledged_ms": at})
