"""Risk events in the web API (issue 8): GET /api/risk-events (login, keyset pages, filters, the unacknowledged
count), POST /api/risk-events/{uid}/ack (the risk.ack command through the command path; 422/404/409 with
nothing sent; an event seen live before its row is stored), and the generic command endpoint refusing the
CLI-only types. Executions and the live push: test_risk_live.py."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import redis

from common.contract import (
    Command,
    CommandReply,
    CommandStatus,
    Keys,
    RiskEvent,
    RiskEventType,
    now_ms,
)
from common.db import Database
from tests.helpers import eventually
from tests.web_service import risk_seed
from tests.web_service.conftest import ApiClient, CommandResponder, WebServer

BASE_MS = 1_800_000_000_000  # 2027-01-15T08:00:00Z
ROW_KEYS = set(RiskEvent.model_fields) | {"id", "ts"}


def _events(db: Database) -> list[RiskEvent]:
    """Six events, oldest first; two share one millisecond; the 2nd and 4th are acknowledged, the 3rd cleared."""
    stamps = [BASE_MS, BASE_MS + 1000, BASE_MS + 2000, BASE_MS + 2000, BASE_MS + 3000, BASE_MS + 4000]
    kinds = [
        RiskEventType.CONSISTENCY_DRIFT,
        RiskEventType.EXTERNAL_CLOSE,
        RiskEventType.MISSED_BY_PUSH,
        RiskEventType.ORDER_TIMEOUT,
        RiskEventType.CONSISTENCY_DRIFT,
        RiskEventType.FRONT_DISCONNECT,
    ]
    severities = ["WARNING", "CRITICAL", "INFO", "WARNING", "WARNING", "CRITICAL"]
    events = []
    for i, (ts, kind, severity) in enumerate(zip(stamps, kinds, severities, strict=True)):
        extra: dict = {"ts_ms": ts, "severity": severity, "key": f"{kind.value}:{i}"}
        if i in (1, 3):
            extra.update(acknowledged_by="operator", acknowledged_ms=ts + 500)
        if i == 2:
            extra["cleared_ms"] = ts + 700
        event = risk_seed.risk_event(kind, **extra)
        risk_seed.insert_risk_event(db, event)
        events.append(event)
    return events


def test_login_is_required(web: WebServer, redis_client: redis.Redis, db: Database) -> None:
    event = risk_seed.risk_event()
    risk_seed.insert_risk_event(db, event)
    anon = web.client(login=False)
    for url in ("/api/risk-events", "/api/risk-events?unacked=1", "/api/executions"):
        res = anon.get(url)
        assert res.status_code == 401 and "login required" in res.json()["detail"], url
    res = anon.post(f"/api/risk-events/{event.uid}/ack", {})
    assert res.status_code == 401 and "login required" in res.json()["detail"]
    assert redis_client.llen(web.keys.commands) == 0


def test_pages_newest_first_with_the_unacked_count(api: ApiClient, db: Database) -> None:
    events = _events(db)
    newest_first = [e.uid for e in reversed(events)]
    first = api.get("/api/risk-events", params={"page_size": 3}).json()
    assert first["unacked_count"] == 4 and first["page_size"] == 3
    assert [r["uid"] for r in first["items"]] == newest_first[:3]
    # the page ends between the two events of one millisecond: the cursor carries the id, so none is skipped
    rest = api.get("/api/risk-events", params={"page_size": 3, "cursor": first["next_cursor"]}).json()
    assert [r["uid"] for r in rest["items"]] == newest_first[3:] and rest["next_cursor"] is None
    assert rest["unacked_count"] == 4, "the count does not depend on the page"
    row = next(r for r in api.get("/api/risk-events").json()["items"] if r["uid"] == events[1].uid)
    assert set(row) == ROW_KEYS
    assert (
        row["type"] == "EXTERNAL_CLOSE"
        and row["severity"] == "CRITICAL"
        and row["trading_day"] == "2027-01-15"
    )
    assert (
        row["ts_ms"] == BASE_MS + 1000
        and row["ts"] == "2027-01-15T08:00:01.000Z"
        and isinstance(row["id"], int)
    )
    assert row["acknowledged_by"] == "operator" and row["acknowledged_ms"] == BASE_MS + 1500
    assert row["detail"] == {"ours": 3, "broker": 2, "direction": "LONG"} and "柜台" in row["message"]
    cleared = next(r for r in api.get("/api/risk-events").json()["items"] if r["uid"] == events[2].uid)
    assert cleared["cleared_ms"] == BASE_MS + 2700 and cleared["acknowledged_ms"] is None
    assert cleared["acknowledged_by"] == ""


def test_filters(api: ApiClient, db: Database) -> None:
    events = _events(db)

    def uids(**params: str) -> list[str]:
        res = api.get("/api/risk-events", params=params)
        assert res.status_code == 200, res.text
        return [r["uid"] for r in res.json()["items"]]

    assert uids(unacked="1") == [events[i].uid for i in (5, 4, 2, 0)]
    assert uids(type="CONSISTENCY_DRIFT") == [events[4].uid, events[0].uid]
    assert uids(severity="CRITICAL") == [events[5].uid, events[1].uid]
    assert uids(unacked="1", severity="CRITICAL") == [events[5].uid]
    assert uids(unacked="1", type="EXTERNAL_CLOSE") == []
    assert (
        api.get("/api/risk-events", params={"unacked": "1", "type": "EXTERNAL_CLOSE"}).json()["unacked_count"]
        == 4
    )
    first = api.get("/api/risk-events", params={"unacked": "1", "page_size": 3}).json()
    rest = api.get(
        "/api/risk-events", params={"unacked": "1", "page_size": 3, "cursor": first["next_cursor"]}
    ).json()
    assert [r["uid"] for r in rest["items"]] == [events[0].uid] and rest["next_cursor"] is None
    for bad in (
        {"type": "NOPE"},
        {"severity": "ERROR"},
        {"unacked": "yes please"},
        {"cursor": "abc"},
        {"cursor": "1.2.3"},
        {"cursor": "99999999999999999.1"},
        {"page_size": "0"},
        {"page_size": "501"},
        {"pagesize": "5"},
    ):
        res = api.get("/api/risk-events", params=bad)
        assert res.status_code == 422, (bad, res.text)
        assert isinstance(res.json()["detail"], str) and len(res.json()["detail"]) > 10


def _core_acknowledges(db: Database, r: redis.Redis, keys: Keys) -> Callable[[Command], CommandReply]:
    """What the core does with risk.ack: records it, pushes a risk_update, answers done with the result."""

    def decide(command: Command) -> CommandReply:
        return risk_seed.core_acknowledges(db, r, keys, command)

    return decide


def test_ack_sends_the_risk_ack_command_and_answers_like_the_command_endpoint(
    api: ApiClient, web: WebServer, db: Database, redis_client: redis.Redis, responder: CommandResponder
) -> None:
    event = risk_seed.risk_event()
    risk_seed.insert_risk_event(db, event)
    responder.decide = _core_acknowledges(db, redis_client, web.keys)
    res = api.post(f"/api/risk-events/{event.uid}/ack", {"id": "ack-0123456789ab"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert (
        body["command_id"] == "ack-0123456789ab" and body["type"] == "risk.ack" and body["status"] == "done"
    )
    assert body["result"]["uid"] == event.uid and body["result"]["acknowledged_by"] == "operator"
    [sent] = responder.received
    assert sent.type == "risk.ack" and sent.params == {"uid": event.uid} and sent.id == "ack-0123456789ab"
    assert sent.source == "web" and sent.operator == "operator" and sent.ttl_s == 5
    listed = api.get("/api/risk-events").json()
    assert listed["unacked_count"] == 0 and listed["items"][0]["acknowledged_by"] == "operator"
    again = api.post(f"/api/risk-events/{event.uid}/ack", {})
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
    assert "风险事件已被确认" in again.json()["detail"] and again.json()["acknowledged_by"] == "operator"
    assert len(responder.received) == 1, "nothing sent for an acknowledged event"
    plain = risk_seed.risk_event(RiskEventType.RATE_LIMIT)
    risk_seed.insert_risk_event(db, plain)
    res = api.http.post(
        f"/api/risk-events/{plain.uid}/ack", headers={"Origin": web.base_url, "X-CSRF-Token": api.csrf}
    )
    assert res.status_code == 200, "no body: the web makes the command id"
    assert len(responder.received) == 2 and responder.received[1].params == {"uid": plain.uid}


def test_ack_refusals_send_nothing(
    api: ApiClient, web: WebServer, db: Database, redis_client: redis.Redis
) -> None:
    acked = risk_seed.risk_event(acknowledged_by="someone", acknowledged_ms=BASE_MS)
    open_event = risk_seed.risk_event()
    for event in (acked, open_event):
        risk_seed.insert_risk_event(db, event)
    res = api.post(f"/api/risk-events/{'0' * 32}/ack", {})
    assert (
        res.status_code == 404
        and "no risk event" in res.json()["detail"]
        and "没有这个风险事件" in res.json()["detail"]
    )
    res = api.post(f"/api/risk-events/{acked.uid}/ack", {})
    assert res.status_code == 409, res.text
    assert "already acknowledged by someone at 2027-01-15T08:00:00.000Z" in res.json()["detail"]
    for bad_uid in (
        "XYZ",
        open_event.uid.upper(),
        open_event.uid[:31],
        open_event.uid + "0",
        "g" * 32,
        "a" * 64,
    ):
        res = api.post(f"/api/risk-events/{bad_uid}/ack", {})
        assert res.status_code == 422, (bad_uid, res.text)
        assert "invalid risk event uid" in res.json()["detail"] and "nothing sent" in res.json()["detail"]
    for bad_body in ({"id": "short"}, {"id": 12345678901}, {"uid": open_event.uid}, [1]):
        res = api.post(f"/api/risk-events/{open_event.uid}/ack", bad_body)
        assert res.status_code == 422, (bad_body, res.text)
    assert redis_client.llen(web.keys.commands) == 0, "nothing was sent"
    assert api.get("/api/risk-events", params={"unacked": "1"}).json()["unacked_count"] == 1


def test_core_refusal_passes_through_and_is_not_taken_for_an_ack(
    api: ApiClient, db: Database, responder: CommandResponder
) -> None:
    event = risk_seed.risk_event()
    risk_seed.insert_risk_event(db, event)
    responder.decide = lambda c: CommandReply(command_id=c.id, status=CommandStatus.REFUSED, reason="expired")
    res = api.post(f"/api/risk-events/{event.uid}/ack", {"id": "ack-refused-00001"})
    assert res.status_code == 409 and res.json()["status"] == "refused" and "expired" in res.json()["detail"]
    responder.decide = lambda c: CommandReply(
        command_id=c.id, status=CommandStatus.DONE, result={"uid": event.uid}
    )
    assert api.post(f"/api/risk-events/{event.uid}/ack", {"id": "ack-second-000001"}).status_code == 200
    assert [c.id for c in responder.received] == ["ack-refused-00001", "ack-second-000001"]


def test_an_event_seen_live_before_its_row_is_stored_can_be_acknowledged_once(
    api: ApiClient, web: WebServer, redis_client: redis.Redis, responder: CommandResponder
) -> None:
    event = risk_seed.risk_event(RiskEventType.MISSED_BY_PUSH)
    assert api.post(f"/api/risk-events/{event.uid}/ack", {}).status_code == 404
    risk_seed.publish_risk_event(
        redis_client, web.keys, event
    )  # pushed; the core's writer has not stored it yet
    eventually(lambda: web.cache.risk.seen(event.uid), what="the hub saw the event")
    responder.decide = lambda c: CommandReply(
        command_id=c.id,
        status=CommandStatus.DONE,
        result={"uid": event.uid, "acknowledged_by": "operator", "acknowledged_ms": now_ms()},
    )
    results: list = []
    clicks = [
        threading.Thread(target=lambda: results.append(api.post(f"/api/risk-events/{event.uid}/ack", {})))
        for _ in range(2)
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    assert len(responder.received) == 1, (
        "two clicks with two command ids: sent once (the second waits, then 409)"
    )


@pytest.mark.parametrize("kind", ["drill.external_close", "sync.apply", "risk.ack"])
def test_the_command_endpoint_refuses_cli_only_and_routed_types(
    api: ApiClient, web: WebServer, redis_client: redis.Redis, kind: str
) -> None:
    params = {
        "drill.external_close": {"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 1},
        "sync.apply": {},
        "risk.ack": {"uid": "0" * 32},
    }[kind]
    res = api.post("/api/commands", {"id": "cli-only-000001", "type": kind, "params": params})
    assert res.status_code == 422 and f"{kind} is not sent from here, nothing sent" in res.json()["detail"]
    assert redis_client.llen(web.keys.commands) == 0


def test_the_command_endpoint_sends_the_read_only_ones(api: ApiClient, responder: CommandResponder) -> None:
    assert (
        api.post("/api/commands", {"id": "sync-check-00001", "type": "sync.check", "params": {}}).status_code
        == 200
    )
    diagnose = {"vt_symbol": "au2702.SHFE", "side": "SELL", "offset": "CLOSE", "volume": 1}
    assert (
        api.post(
            "/api/commands", {"id": "diagnose-0000001", "type": "order.diagnose", "params": diagnose}
        ).status_code
        == 200
    )
    assert [(c.type, c.params) for c in responder.received] == [
        ("sync.check", {}),
        ("order.diagnose", diagnose),
    ]
