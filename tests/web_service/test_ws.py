"""WebSocket: subscribe -> snapshot -> live changes; one Redis reader per stream fanned out to all
clients; a slow client never delays a fast one; bad messages get an error; dead clients are dropped."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from common.contract import SystemEvent, TriggerRecord, now_ms
from tests.helpers import eventually
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, WebServer
from web_service.services import REDIS_CLIENT_NAME
from web_service.ws_messages import SERVER_MESSAGE


def open_ws(web: WebServer, api: ApiClient) -> ClientConnection:
    ws = connect(web.base_url.replace("http", "ws") + "/ws", origin=web.base_url,
                 additional_headers={"Cookie": api.cookie_header}, open_timeout=5, max_queue=None)
    assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    return ws


def recv_until(ws: ClientConnection, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no matching message in time")
        message = json.loads(ws.recv(timeout=left))
        SERVER_MESSAGE.validate_python(message)  # every message the web sends is one of the union's
        if match(message):
            return message


def is_(kind: str, topic: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == kind and (topic is None or m.get("topic") == topic)


def subscribe(ws: ClientConnection, *topics: str) -> None:
    ws.send(json.dumps({"op": "subscribe", "topics": list(topics)}))


def test_snapshots_then_updates(web: WebServer, api: ApiClient, redis_client: redis.Redis) -> None:
    seed.write_heartbeat(redis_client, web.keys)
    seed.write_tick(redis_client, web.keys, "au2702", 600.0)
    seed.write_position(redis_client, web.keys, seed.position("au2702", "LONG", 2, 599.0), event=False)
    seed.write_account(redis_client, web.keys, seed.account(), event=False)
    seed.write_strategy(redis_client, web.keys, seed.strategy("s1"), event=False)
    with open_ws(web, api) as ws:
        subscribe(ws, "heartbeat", "tick:au2702", "positions", "account", "strategies", "orders", "triggers", "system")
        assert recv_until(ws, is_("snapshot", "heartbeat"))["data"]["core_alive"] is True
        assert recv_until(ws, is_("snapshot", "tick:au2702"))["data"]["last_price"] == 600.0
        [row] = recv_until(ws, is_("snapshot", "positions"))["data"]
        assert row["pnl"] == (600.0 - 599.0) * 2 * 1000
        assert recv_until(ws, is_("snapshot", "account"))["data"]["live_unrealized_pnl"] == 2000.0
        assert recv_until(ws, is_("snapshot", "strategies"))["data"][0]["name"] == "s1"
        seed.write_tick(redis_client, web.keys, "au2702", 601.0)
        assert recv_until(ws, lambda m: is_("update", "tick:au2702")(m) and m["data"]["last_price"] == 601.0)
        moved = recv_until(ws, lambda m: is_("update", "positions")(m) and m["data"][0]["last_price"] == 601.0)
        assert moved["data"][0]["pnl"] == 4000.0, "PnL is recomputed as the price moves"
        seed.write_strategy(redis_client, web.keys, seed.strategy("s1", "TRADING"))
        assert recv_until(ws, is_("update", "strategies"))["data"]["state"] == "TRADING"
        seed.write_order(redis_client, web.keys, seed.order("SIM.5"))
        assert recv_until(ws, is_("update", "orders"))["data"]["vt_orderid"] == "SIM.5"
        record = TriggerRecord(ts_ms=now_ms(), trading_day="20270111", strategy="s1", vt_symbol="au2702.SHFE",
                               condition="x", price=600, volume=1, action="buy", result="pending")
        seed.publish(redis_client, web.keys, "trigger", record.model_dump())
        assert recv_until(ws, is_("update", "triggers"))["data"]["uid"] == record.uid
        seed.publish(redis_client, web.keys, "trigger", {"uid": record.uid, "result": "success", "error": "", "update": True})
        assert recv_until(ws, is_("update", "triggers"))["data"] == {"uid": record.uid, "result": "success",
                                                                       "error": "", "update": True}
        seed.publish(redis_client, web.keys, "system", SystemEvent(kind="login", message="logged in").model_dump())
        assert recv_until(ws, is_("update", "system"))["data"]["message"] == "logged in"
        seed.write_position(redis_client, web.keys, seed.position("au2702", "LONG", 0, 599.0))
        assert recv_until(ws, lambda m: is_("update", "positions")(m) and m["data"] == [])


def _xread_connections(r: redis.Redis) -> int:
    return sum(1 for c in r.client_list() if c.get("name") == REDIS_CLIENT_NAME and c.get("cmd") == "xread")


def test_one_reader_per_stream_for_many_clients(web: WebServer, api: ApiClient, redis_client: redis.Redis) -> None:
    clients = [open_ws(web, api) for _ in range(8)]
    try:
        for ws in clients:
            subscribe(ws, "tick:au2706")
            recv_until(ws, is_("snapshot", "tick:au2706"))
        assert set(web.cache.tick_readers) == {"au2702", "au2706"}, "main contract + the subscribed one"
        # events + au2702 (main) + au2706: three blocking readers however many clients
        eventually(lambda: _xread_connections(redis_client) == 3, timeout=5, what="three XREAD connections")
        seed.write_tick(redis_client, web.keys, "au2706", 590.5)
        for ws in clients:
            assert recv_until(ws, is_("update", "tick:au2706"))["data"]["last_price"] == 590.5
    finally:
        for ws in clients:
            ws.close()
    eventually(lambda: set(web.cache.tick_readers) == {"au2702"}, what="idle reader stopped")


def raw_ws(web: WebServer, api: ApiClient, rcvbuf: int = 4096) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads: the slowest client."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", web.settings.config.web.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{web.settings.config.web.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Origin: {web.base_url}\r\nCookie: {api.cookie_header}\r\n\r\n")
    sock.sendall(request.encode())
    assert b"101" in sock.recv(1024).split(b"\r\n")[0]
    payload = json.dumps({"op": "subscribe", "topics": ["tick:au2702", "system"]}).encode()
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return sock


def test_slow_client_never_delays_a_fast_one(web: WebServer, api: ApiClient, redis_client: redis.Redis) -> None:
    slow = raw_ws(web, api)
    try:
        with open_ws(web, api) as fast:
            subscribe(fast, "tick:au2702")
            recv_until(fast, is_("snapshot", "tick:au2702"))
            eventually(lambda: len(web.hub.clients) == 2 and all(c.topics for c in web.hub.clients))
            pipe = redis_client.pipeline()
            for i in range(3000):
                pipe.xadd(web.keys.tick_stream("au2702"), seed.tick("au2702", 600 + i * 0.01).to_fields())
                if i % 2 == 0:
                    seed.publish(pipe, web.keys, "system", SystemEvent(kind="x", message="y" * 4000).model_dump())
            pipe.execute()
            final = seed.write_tick(redis_client, web.keys, "au2702", 700.0)
            started = time.monotonic()
            got = recv_until(fast, lambda m: is_("update", "tick:au2702")(m) and m["data"]["last_price"] == 700.0)
            assert time.monotonic() - started < 2 and got["data"]["local_ts"] == final.local_ts
            slow_client = next(c for c in web.hub.clients if "system" in c.topics)
            assert len(slow_client.outbox) <= 256, "bounded: coalesced or dropped, never unbounded"
            assert slow_client.outbox.dropped > 0 or slow_client.outbox.coalesced > 0
    finally:
        slow.close()


def test_bad_messages_get_an_error_and_the_connection_survives(web: WebServer, api: ApiClient) -> None:
    with open_ws(web, api) as ws:
        for bad in ["not json", "[1,2]", '{"op": "explode"}', '{"op": "subscribe", "topics": "positions"}',
                    '{"op": "subscribe", "topics": ["tick:../../etc"]}', '{"op": "subscribe", "topics": ["nope"]}',
                    "x" * 9000]:
            ws.send(bad)
            assert recv_until(ws, is_("error"))["message"]
        ws.send(b"\x00\x01binary")
        assert "binary" in recv_until(ws, is_("error"))["message"]
        ws.send(json.dumps({"op": "ping", "t": 42}))
        assert recv_until(ws, is_("pong"))["t"] == 42
        subscribe(ws, "positions")
        assert recv_until(ws, is_("snapshot", "positions"))["data"] == []


@pytest.fixture
def fast_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ping every 0.2 s and drop a client silent for 1 s (set before the server starts)."""
    monkeypatch.setattr("web_service.settings.WS_PING_INTERVAL_S", 0.2)
    monkeypatch.setattr("web_service.settings.WS_CLIENT_TIMEOUT_S", 1.0)


def test_server_pings_and_drops_a_silent_client(fast_pings: None, web: WebServer, api: ApiClient) -> None:
    with open_ws(web, api) as answering, open_ws(web, api) as silent:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # answer every ping on one socket only
            ping = recv_until(answering, is_("ping"))
            answering.send(json.dumps({"op": "pong", "t": ping["t"]}))
        eventually(lambda: len(web.hub.clients) == 1, timeout=3, what="silent client dropped")
        eventually(lambda: _closed_with(silent, 4408), timeout=3, what="closed with 4408")


def test_logout_closes_the_socket(fast_pings: None, web: WebServer, api: ApiClient) -> None:
    with open_ws(web, api) as ws:
        ws.send(json.dumps({"op": "ping", "t": 1}))
        assert api.post("/logout").status_code == 200
        eventually(lambda: _closed_with(ws, 4401), timeout=5, what="closed with 4401")


def _closed_with(ws: ClientConnection, code: int) -> bool:
    try:
        ws.recv(timeout=0.1)
    except TimeoutError:
        return False
    except ConnectionClosed:
        return ws.close_code == code
    return False
