"""Operator audit: GET /api/audit pages the core's command_audit table newest first, and the
WebSocket topic "audit" pushes each new command's answer live in the same row shape."""

from __future__ import annotations

import redis

from common.db import Database
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, WebServer
from tests.web_service.test_ws import is_, open_ws, recv_until, subscribe


def test_audit_pages_newest_first(api: ApiClient, db: Database) -> None:
    records = [seed.audit("strategy.start", params={"name": "ma"}, received_ms=1_800_000_000_000 + i * 1000,
                          issued_ms=1_800_000_000_000 + i * 1000 - 5, replied_ms=1_800_000_000_000 + i * 1000 + 9)
               for i in range(3)]
    records.append(seed.audit("emergency.stop", status="refused", params={}, reason="expired: issued 9.1 s ago"))
    for record in records:
        seed.insert_audit(db, record)
    first = api.get("/api/audit", params={"page_size": 2}).json()
    assert [a["uid"] for a in first["items"]] == [records[3].uid, records[2].uid]
    newest = first["items"][0]
    assert newest["type"] == "emergency.stop" and newest["status"] == "refused"
    assert newest["reason"] == "expired: issued 9.1 s ago" and newest["params"] == {}
    rest = api.get("/api/audit", params={"page_size": 2, "cursor": first["next_cursor"]}).json()
    assert [a["uid"] for a in rest["items"]] == [records[1].uid, records[0].uid] and rest["next_cursor"] is None
    oldest = rest["items"][-1]
    assert oldest["params"] == {"name": "ma"} and oldest["received_at_ms"] == 1_800_000_000_000
    assert oldest["received_at"] == "2027-01-15T08:00:00.000Z"
    assert api.get("/api/audit", params={"cursor": "abc"}).status_code == 422
    assert api.get("/api/audit", params={"page_size": 501}).status_code == 422


def test_audit_is_pushed_live_in_the_api_row_shape(web: WebServer, api: ApiClient, db: Database,
                                                   redis_client: redis.Redis) -> None:
    stored = seed.audit("position.close")
    seed.insert_audit(db, stored)
    api_row = api.get("/api/audit").json()["items"][0]
    with open_ws(web, api) as ws:
        subscribe(ws, "audit")
        snapshot = recv_until(ws, is_("snapshot", "audit"))["data"]
        assert [a["uid"] for a in snapshot] == [stored.uid]
        live = seed.audit("strategy.stop", params={"name": "ma"}, status="done")
        seed.publish(redis_client, web.keys, "command", live.model_dump())
        pushed = recv_until(ws, is_("update", "audit"))["data"]
    assert pushed["uid"] == live.uid and pushed["params"] == {"name": "ma"}
    assert set(pushed) == set(api_row), "one row shape, live or from MySQL"
    assert pushed["received_at_ms"] == live.received_ms
