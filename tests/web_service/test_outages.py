"""Redis and MySQL outages as the web sees them (real servers behind TcpProxy, cut off or hung): every
answer is a quick 503 naming the dependency (never a 500, never a hang), the open pages are told over
WebSocket, and everything works again when the server returns, without restarting the app."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import redis

from tests.helpers import eventually
from tests.web_service import seed
from tests.web_service.conftest import PASSWORD, CommandResponder, ProxiedWeb, done
from tests.web_service.test_ws import is_, open_ws, recv_until, subscribe

DOWN_BOUND_S = 3.0  # refused connections: immediate, plus a busy machine's slack
HANG_BOUND_S = 8.0  # hung server: ~2.5 s socket timeout (Redis) / probe detection (MySQL), generous for CI


def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    res = call()
    return res, time.monotonic() - started


def answer_when(call: Any, ok: Any, what: str, timeout: float = 10.0) -> httpx.Response:
    """Repeat `call` until its answer passes `ok`; return that answer."""
    seen: list[httpx.Response] = []

    def check() -> bool:
        seen.append(call())
        return bool(ok(seen[-1]))

    eventually(check, timeout=timeout, what=what)
    return seen[-1]


def assert_redis_503(res: httpx.Response) -> None:
    assert res.status_code == 503, (res.status_code, res.text[:300])
    body = res.json()
    assert body["dependency"] == "redis" and body["down_since_ms"] > 0
    assert "Redis unreachable" in body["detail"] and "make stop" in body["detail"]
    assert "trading continues in the core" in body["detail"]


def assert_redis_page(res: httpx.Response) -> None:
    assert res.status_code == 503, (res.status_code, res.text[:300])
    assert res.headers["content-type"].startswith("text/html")
    for text in ("Redis 不可达", "Redis is unreachable", "make stop", "核心仍在交易"):
        assert text in res.text, text


def test_redis_cut_off_gives_quick_503s_and_recovers(proxied_web: ProxiedWeb) -> None:
    web, proxy = proxied_web.server, proxied_web.redis_proxy
    api, anonymous = web.client(), web.client(login=False)
    api.http.headers["Accept"] = "text/html"  # pages and API alike, as a browser sends
    assert api.get("/api/positions").status_code == 200
    proxy.down()
    res, took = timed(lambda: api.get("/api/positions"))
    assert_redis_503(res)
    assert took < DOWN_BOUND_S, took
    page, took = timed(lambda: api.get("/market"))
    assert_redis_page(page)
    assert took < DOWN_BOUND_S, took
    command = api.post("/api/commands", {"id": "cmd0123456789abc", "type": "strategy.start", "params": {"name": "x"}})
    assert_redis_503(command)
    health, took = timed(lambda: anonymous.get("/healthz"))
    assert health.status_code == 503 and health.json()["redis"] is False and took < DOWN_BOUND_S
    login = anonymous.http.post("/login", json={"password": PASSWORD}, headers={"Origin": web.base_url})
    assert_redis_503(login)  # sessions live in Redis: say so, do not fail with a 500
    form = answer_when(lambda: anonymous.get("/login"), lambda r: "Redis 不可达" in r.text,
                       "the login page names the Redis outage")
    assert "make stop" in form.text and "disabled" in form.text

    proxy.up()
    eventually(lambda: api.get("/api/positions").status_code == 200, what="API back after Redis returns")
    assert api.get("/market").status_code == 200
    assert anonymous.http.post("/login", json={"password": PASSWORD}, headers={"Origin": web.base_url}).status_code == 200
    answer_when(lambda: anonymous.get("/login"), lambda r: "Redis 不可达" not in r.text, "the login page is plain again")


def test_hung_redis_gives_503_within_seconds_and_recovers(proxied_web: ProxiedWeb) -> None:
    web, proxy = proxied_web.server, proxied_web.redis_proxy
    api, anonymous = web.client(), web.client(login=False)
    proxy.hang()
    res, took = timed(lambda: api.get("/api/positions"))
    assert_redis_503(res)
    assert took < HANG_BOUND_S, took
    print(f"hung Redis: /api/positions 503 in {took:.2f} s")
    page, took = timed(lambda: api.get("/positions"))
    assert_redis_page(page)
    assert took < HANG_BOUND_S, took
    health, took = timed(lambda: anonymous.get("/healthz"))
    assert health.status_code == 503 and health.json()["redis"] is False and took < HANG_BOUND_S, took
    print(f"hung Redis: /healthz in {took:.2f} s")

    proxy.resume()
    eventually(lambda: api.get("/api/positions").status_code == 200, what="API back after the hang ends")
    assert api.get("/positions").status_code == 200
    assert anonymous.get("/healthz").json()["redis"] is True


def test_pages_are_told_over_websocket_when_redis_goes_and_returns(proxied_web: ProxiedWeb,
                                                                   redis_client: redis.Redis) -> None:
    web, proxy = proxied_web.server, proxied_web.redis_proxy
    api = web.client()
    seed.write_heartbeat(redis_client, web.keys, ttl_s=60)
    with open_ws(web, api) as ws:
        subscribe(ws, "heartbeat")
        assert recv_until(ws, is_("snapshot", "heartbeat"))["data"]["redis_ok"] is True
        proxy.hang()
        down = recv_until(ws, lambda m: m.get("topic") == "heartbeat" and m["data"]["redis_ok"] is False,
                          timeout=HANG_BOUND_S)["data"]
        assert down["redis_down_since_ms"] > 0 and down["core_alive"] is None  # unknown, not "stopped"
        proxy.resume()
        back = recv_until(ws, lambda m: m.get("topic") == "heartbeat" and m["data"]["redis_ok"] is True,
                          timeout=HANG_BOUND_S)["data"]
        assert back["redis_down_since_ms"] is None and back["core_alive"] is True


def test_redis_lost_after_a_command_was_sent_says_it_may_have_run(
    proxied_web: ProxiedWeb, redis_client: redis.Redis
) -> None:
    web, proxy = proxied_web.server, proxied_web.redis_proxy
    api = web.client()
    body = {"id": "cmdlost0123456789", "type": "strategy.start", "params": {"name": "au_dual_ma"}}
    answers: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: answers.append(api.post("/api/commands", body)))
    sender.start()
    eventually(lambda: redis_client.llen(web.keys.commands) == 1, what="the command pushed")
    proxy.hang()  # the core has not answered yet; now the web cannot hear it
    sender.join(timeout=HANG_BOUND_S + 2)
    [lost] = answers
    assert lost.status_code == 503 and lost.json()["status"] == "redis_unreachable"
    assert lost.json()["dependency"] == "redis" and "may have" in lost.json()["detail"]

    proxy.resume()
    responder = CommandResponder(redis_client, web.keys, done)
    thread = threading.Thread(target=responder.run, daemon=True)
    thread.start()
    try:
        retry = answer_when(lambda: api.post("/api/commands", body), lambda r: r.status_code == 200,
                            "the retry (same id) gets the core's answer", timeout=15)
        assert retry.json()["status"] == "done" and retry.json()["repeated"] is True
        assert [c.id for c in responder.received] == [body["id"]]  # pushed once, run once
    finally:
        responder.stop()
        thread.join(timeout=2)


def test_hung_mysql_gives_503_for_history_within_seconds_and_recovers(proxied_web: ProxiedWeb) -> None:
    web, proxy = proxied_web.server, proxied_web.mysql_proxy
    api, anonymous = web.client(), web.client(login=False)
    assert api.get("/api/trades").status_code == 200
    eventually(lambda: anonymous.get("/healthz").json()["mysql"] is True, what="first MySQL probe")
    proxy.hang()
    res, took = timed(lambda: api.get("/api/trades"))
    assert res.status_code == 503 and "MySQL" in res.json()["detail"], res.text
    assert took < HANG_BOUND_S, took
    print(f"hung MySQL: /api/trades 503 in {took:.2f} s")
    res, took = timed(lambda: api.get("/api/trades"))  # known down now: no waiting at all
    assert res.status_code == 503 and took < DOWN_BOUND_S, took
    eventually(lambda: anonymous.get("/healthz").json()["mysql"] is False, what="healthz says MySQL is down")
    health, took = timed(lambda: anonymous.get("/healthz"))
    assert health.json()["mysql"] is False and health.json()["redis"] is True and took < DOWN_BOUND_S, took
    assert api.get("/api/positions").status_code == 200  # live data does not need MySQL

    proxy.resume()
    eventually(lambda: api.get("/api/trades").status_code == 200, what="history back after the hang ends")
    proxy.down()
    res, took = timed(lambda: api.get("/api/trades"))
    assert res.status_code == 503 and took < HANG_BOUND_S, took
    proxy.up()
    eventually(lambda: api.get("/api/trades").status_code == 200, what="history back after MySQL returns")
    assert eventually(lambda: anonymous.get("/healthz").json()["mysql"] is True)


def test_login_page_explains_that_login_needs_redis(proxied_web: ProxiedWeb) -> None:
    web, proxy = proxied_web.server, proxied_web.redis_proxy
    anonymous = web.client(login=False)
    proxy.down()
    res = anonymous.http.post("/login", data={"password": PASSWORD, "next": "/market"}, headers={"Origin": web.base_url})
    assert res.status_code == 503 and res.headers["content-type"].startswith("text/html")
    assert "无法登录" in res.text and "sessions live in Redis" in res.text and "make stop" in res.text
    proxy.up()
    ok = anonymous.http.post("/login", data={"password": PASSWORD, "next": "/market"}, headers={"Origin": web.base_url})
    assert ok.status_code == 303 and ok.headers["location"] == "/market"
