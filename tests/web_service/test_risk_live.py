"""Execution reports (GET /api/executions: grouped by execution, steps in order) and the live push of risk
events, their updates and execution steps (WebSocket topics "risk" and "executions", in the API's row shapes,
never coalesced)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import redis
import redis.asyncio as aioredis
from fastapi import WebSocket

from common.clock import TestClock
from common.contract import EventMessage, ExecutionReport, ExecutionStep, RiskEventType, RiskEventUpdate
from common.db import Database
from tests.web_service import risk_seed
from tests.web_service.conftest import ApiClient, WebServer
from tests.web_service.test_risk_events import BASE_MS
from tests.web_service.test_ws import is_, open_ws, recv_until, subscribe
from web_service.live_cache import LiveCache
from web_service.live_state import LiveState
from web_service.settings import load_settings
from web_service.ws_client import Client
from web_service.ws_hub import Hub

STEP_KEYS = set(ExecutionReport.model_fields) | {"id", "ts"}


def test_executions_are_grouped_with_their_steps_in_order(api: ApiClient, db: Database) -> None:
    close = [
        risk_seed.step("exec-close-1", kind, BASE_MS + i * 1000, attempt=attempt, traded=traded)
        for i, (kind, attempt, traded) in enumerate(
            [
                (ExecutionStep.SUBMITTED, 0, 0),
                (ExecutionStep.TIMEOUT, 0, 0),
                (ExecutionStep.CANCELLED, 0, 0),
                (ExecutionStep.REPRICED, 1, 0),
                (ExecutionStep.FILLED, 1, 2),
                (ExecutionStep.POSITION_CLOSED, 1, 2),
            ]
        )
    ]
    entry = [
        risk_seed.step(
            "exec-ai-2",
            ExecutionStep.SUBMITTED,
            BASE_MS + 2500,
            source="ai",
            direction="LONG",
            offset="OPEN",
            volume=1,
        )
    ]
    for report in reversed(close + entry):  # stored out of order: the answer orders them
        risk_seed.insert_step(db, report)
    body = api.get("/api/executions").json()
    assert [g["execution_id"] for g in body["items"]] == ["exec-close-1", "exec-ai-2"], (
        "most recently active first"
    )
    group = body["items"][0]
    assert [s["step"] for s in group["steps"]] == [
        "SUBMITTED",
        "TIMEOUT",
        "CANCELLED",
        "REPRICED",
        "FILLED",
        "POSITION_CLOSED",
    ]
    assert group["last_step"] == "POSITION_CLOSED" and group["started_ms"] == BASE_MS
    assert (
        group["updated_ms"] == BASE_MS + 5000 and group["source"] == "operator" and group["offset"] == "CLOSE"
    )
    assert set(group["steps"][0]) == STEP_KEYS
    filled = group["steps"][4]
    assert filled["attempt"] == 1 and filled["traded"] == 2.0 and filled["price"] == 600.0
    only = api.get("/api/executions", params={"execution_id": "exec-ai-2"}).json()["items"]
    assert [g["execution_id"] for g in only] == ["exec-ai-2"] and only[0]["direction"] == "LONG"
    assert [g["execution_id"] for g in api.get("/api/executions", params={"limit": "1"}).json()["items"]] == [
        "exec-close-1"
    ]
    assert api.get("/api/executions", params={"execution_id": "nope-nope"}).json()["items"] == []
    for bad in (
        {"execution_id": "a b"},
        {"execution_id": "x" * 65},
        {"limit": "0"},
        {"limit": "101"},
        {"day": "1"},
    ):
        assert api.get("/api/executions", params=bad).status_code == 422, bad


def test_live_push_in_the_api_row_shapes(
    web: WebServer, api: ApiClient, db: Database, redis_client: redis.Redis
) -> None:
    stored = risk_seed.risk_event(RiskEventType.EXTERNAL_CLOSE)
    risk_seed.insert_risk_event(db, stored)
    risk_seed.insert_step(db, risk_seed.step("exec-stored-01", ExecutionStep.SUBMITTED))
    api_row = api.get("/api/risk-events").json()["items"][0]
    with open_ws(web, api) as ws:
        subscribe(ws, "risk", "executions")
        snapshot = recv_until(ws, is_("snapshot", "risk"))["data"]
        assert snapshot["unacked_count"] == 1 and [r["uid"] for r in snapshot["items"]] == [stored.uid]
        executions = recv_until(ws, is_("snapshot", "executions"))["data"]
        assert [g["execution_id"] for g in executions] == ["exec-stored-01"]
        live = risk_seed.risk_event(RiskEventType.ORDER_TIMEOUT, severity="CRITICAL")
        risk_seed.publish_risk_event(redis_client, web.keys, live)
        pushed = recv_until(ws, is_("update", "risk"))["data"]
        assert pushed["uid"] == live.uid and pushed["type"] == "ORDER_TIMEOUT" and pushed["id"] is None
        assert set(pushed) == set(api_row), "one row shape, live or from MySQL"
        risk_seed.publish_risk_update(
            redis_client, web.keys, RiskEventUpdate(uid=live.uid, cleared_ms=BASE_MS)
        )
        update = recv_until(ws, is_("update", "risk"))["data"]
        assert update == {
            "uid": live.uid,
            "cleared_ms": BASE_MS,
            "acknowledged_by": "",
            "acknowledged_ms": None,
            "message": "",
            "update": True,
        }
        report = risk_seed.step("exec-live-0001", ExecutionStep.REPRICED, attempt=1)
        risk_seed.publish_step(redis_client, web.keys, report)
        step = recv_until(ws, is_("update", "executions"))["data"]
        assert step["uid"] == report.uid and step["step"] == "REPRICED" and set(step) == STEP_KEYS


def test_risk_pushes_are_never_coalesced(web_config: Path) -> None:
    """Every risk event, update and execution step reaches a client that has not read any yet, in order; the
    cleared and the acknowledged update of one event both arrive (each carries only what changed)."""
    settings = load_settings(web_config)
    clock = TestClock(datetime(2027, 1, 15, 2, 0, tzinfo=UTC))
    live = LiveState(aioredis.Redis(), settings.keys, clock)
    cache = LiveCache(live, settings, None, clock)
    hub = Hub(cache, live.redis, settings.keys, clock)
    client = Client(1, cast(WebSocket, None), "session", 256, clock.monotonic())  # never sends: its outbox only fills
    for topic in ("risk", "executions"):
        hub.by_topic[topic] = {client}
    event = risk_seed.risk_event()
    pushes = [
        ("risk_event", event.model_dump(mode="json")),
        ("risk_update", RiskEventUpdate(uid=event.uid, cleared_ms=BASE_MS).model_dump(mode="json")),
        (
            "risk_update",
            RiskEventUpdate(
                uid=event.uid, acknowledged_by="operator", acknowledged_ms=BASE_MS + 1
            ).model_dump(mode="json"),
        ),
    ]
    pushes += [
        ("execution", risk_seed.step("exec-1", kind).model_dump(mode="json"))
        for kind in (ExecutionStep.SUBMITTED, ExecutionStep.TIMEOUT, ExecutionStep.REPRICED)
    ]
    for kind, data in pushes:
        cache.apply_event(EventMessage(type=kind, data=data))

    async def drain() -> list[dict]:
        return [json.loads(await client.outbox.get()) for _ in range(len(client.outbox))]

    got = asyncio.run(drain())
    assert [
        (
            m["topic"],
            m["data"].get("step")
            or m["data"].get("cleared_ms")
            or m["data"].get("acknowledged_ms")
            or m["data"]["type"],
        )
        for m in got
    ] == [
        ("risk", "CONSISTENCY_DRIFT"),
        ("risk", BASE_MS),
        ("risk", BASE_MS + 1),
        ("executions", "SUBMITTED"),
        ("executions", "TIMEOUT"),
        ("executions", "REPRICED"),
    ]
    assert cache.risk.seen(event.uid) == ("operator", BASE_MS + 1)
