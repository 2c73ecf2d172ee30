"""/healthz: the core's lifecycle state from its heartbeat, an older core's heartbeat, the calendar warning,
the typed answer in the OpenAPI schema."""

from __future__ import annotations

import json
from datetime import date

import redis

from common.clock import LIVE
from common.contract import GatewayState, Heartbeat
from common.lifecycle import ComponentState
from common.trading_calendar import calendar_coverage_warning
from tests.helpers import eventually
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, WebServer


def write_state(r: redis.Redis, web: WebServer, state: ComponentState, reason: str = "") -> None:
    seed.write_heartbeat(r, web.keys, state=GatewayState.LOGGED_IN)
    beat = Heartbeat.model_validate_json(r.get(web.keys.heartbeat) or "")
    r.set(web.keys.heartbeat, beat.model_copy(update={"state": state, "state_reason": reason}).to_json(), ex=5)


def test_healthz_shows_the_cores_state_and_only_running_is_healthy(web: WebServer, redis_client: redis.Redis) -> None:
    anonymous = web.client(login=False)
    write_state(redis_client, web, ComponentState.RUNNING)
    assert eventually(lambda: anonymous.get("/healthz").status_code == 200, what="healthy once MySQL is probed")
    reason = "MySQL unreachable, records spooled (2003: Can't connect)"
    write_state(redis_client, web, ComponentState.DEGRADED, reason)
    degraded = anonymous.get("/healthz")
    assert degraded.status_code == 503
    assert degraded.json()["core_state"] == "degraded" and degraded.json()["core_state_reason"] == reason
    for state in (ComponentState.STARTING, ComponentState.STOPPING):
        write_state(redis_client, web, state)
        answer = anonymous.get("/healthz")
        assert answer.status_code == 503 and answer.json()["core_state"] == state.value
    redis_client.delete(web.keys.heartbeat)
    gone = anonymous.get("/healthz").json()
    assert gone["core"] is False and gone["core_state"] is None


def test_a_heartbeat_from_an_older_core_without_state_reads_as_running(web: WebServer,
                                                                      redis_client: redis.Redis) -> None:
    seed.write_heartbeat(redis_client, web.keys, state=GatewayState.LOGGED_IN)
    raw = json.loads(redis_client.get(web.keys.heartbeat) or "{}")
    del raw["state"], raw["state_reason"]
    redis_client.set(web.keys.heartbeat, json.dumps(raw), ex=5)
    anonymous = web.client(login=False)
    health = eventually(lambda: (h := anonymous.get("/healthz")).status_code == 200 and h.json())
    assert health["core_state"] == "running"


def test_healthz_carries_the_calendar_warning(web: WebServer) -> None:
    body = web.client(login=False).get("/healthz").json()
    assert body["calendar_warning"] == calendar_coverage_warning(LIVE.now().date())
    assert calendar_coverage_warning(date(2024, 6, 1)) is None  # a year the calendar covers: no warning


def test_healthz_declares_its_answer_in_the_api_schema(api: ApiClient) -> None:
    schema = api.get("/openapi.json").json()
    answer = schema["paths"]["/healthz"]["get"]["responses"]
    assert answer["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Health")
    assert "503" in answer
    fields = schema["components"]["schemas"]["Health"]["properties"]
    assert {"core_state", "core_state_reason", "calendar_warning"} <= set(fields)
