"""Acknowledging a risk event on the real core (command risk.ack): recorded once with who and when,
pushed to the pages; an unknown or already acknowledged event is refused and changes nothing."""

from __future__ import annotations

import json

from common.contract import CommandStatus, CommandType, RiskEventType
from common.db import Database
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually


def test_an_acknowledgement_is_recorded_once(core: CoreHarness, db: Database) -> None:
    event = core.app.sync.risk.raise_event(RiskEventType.QUERY_FAILED, "test: query failed", key="t1")  # type: ignore[union-attr]
    assert event is not None
    eventually(lambda: db.query("SELECT id FROM risk_events WHERE uid = %s", [event.uid]), what="event stored")

    reply = core.send(CommandType.RISK_ACK, uid=event.uid)
    assert reply.status == CommandStatus.DONE, reply.reason
    row = eventually(lambda: db.query("SELECT acknowledged_by, acknowledged_at FROM risk_events WHERE uid = %s"
                                      " AND acknowledged_at IS NOT NULL", [event.uid])[0], what="ack stored")
    assert row["acknowledged_by"] == "operator"
    pushed = [json.loads(f["json"]) for _, f in core.redis.xrange(core.keys.events)]
    assert [e["data"]["uid"] for e in pushed if e["type"] == "risk_update"] == [event.uid]

    again = core.send(CommandType.RISK_ACK, uid=event.uid)
    assert again.status == CommandStatus.REFUSED and "already" in again.reason
    unknown = core.send(CommandType.RISK_ACK, uid="0" * 32)
    assert unknown.status == CommandStatus.REFUSED and "unknown risk event" in unknown.reason
    after = db.query("SELECT acknowledged_at FROM risk_events WHERE uid = %s", [event.uid])
    assert after[0]["acknowledged_at"] == row["acknowledged_at"]
