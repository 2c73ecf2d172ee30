"""The `/ws` WebSocket route: handshake checks, then the client protocol.

Client -> server (JSON text):
  {"op": "subscribe", "topics": ["tick:au2702", "positions", ...]}   snapshot per topic, then updates
  {"op": "unsubscribe", "topics": [...]}
  {"op": "pong", "t": <the ping's t>}                                  answer to the server's ping
  {"op": "ping", "t": <any>}                                           server answers {"type": "pong"}
Server -> client:
  {"type": "hello", ...settings}            once, after the handshake
  {"type": "snapshot", "topic", "data"}     current value of a topic
  {"type": "update", "topic", "data"}       a change (full value for tick/positions/account/heartbeat)
  {"type": "ping", "t"}                     every few seconds; no answer for 20 s closes the socket
  {"type": "error", "message", "topic"?}    a bad message; the connection stays open
  {"type": "resync", "reason"}              updates were dropped: subscribe again for fresh snapshots
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from web_service.auth import websocket_session
from web_service.services import ws_services
from web_service.ws_client import Client, encode
from web_service.ws_hub import Hub

log = logging.getLogger(__name__)
router = APIRouter()
MAX_MESSAGE_CHARS = 8192


def _parse(text: str) -> tuple[dict[str, Any] | None, str | None]:
    if len(text) > MAX_MESSAGE_CHARS:
        return None, f"message longer than {MAX_MESSAGE_CHARS} characters"
    try:
        message = json.loads(text)
    except ValueError:
        return None, "message is not JSON"
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        return None, 'message must be a JSON object with an "op" field'
    return message, None


async def _handle(hub: Hub, client: Client, message: dict[str, Any]) -> None:
    op = message["op"]
    if op in ("subscribe", "unsubscribe"):
        topics = message.get("topics")
        if not isinstance(topics, list) or not topics:
            client.send(encode("error", message=f'"{op}" needs a non-empty "topics" list'))
        elif op == "subscribe":
            await hub.subscribe(client, topics)
        else:
            hub.unsubscribe(client, topics)
    elif op == "ping":
        client.send(encode("pong", t=message.get("t"), server_ms=int(time.time() * 1000)))
    elif op != "pong":
        client.send(encode("error", message=f"unknown op {op[:40]!r}; use subscribe, unsubscribe, ping or pong"))


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    svc = ws_services(websocket)
    session = await websocket_session(websocket, svc)
    if session is None:
        await websocket.close(code=1008, reason="login required (or cross-origin)")
        return
    await websocket.accept()
    hub = svc.hub
    client = hub.connect(websocket, session.token_hash)
    web = svc.web.config.web
    client.send(encode("hello", server_ms=int(time.time() * 1000), client_id=client.id,
                       stale_after_s=web.stale_after_s, main_contract=hub.main_symbol))
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            client.last_seen = time.monotonic()
            text = frame.get("text")
            message, error = _parse(text) if text is not None else (None, "binary frames are not supported")
            if error:
                client.send(encode("error", message=error))
                continue
            await _handle(hub, client, message)
    except WebSocketDisconnect:
        pass
    except Exception as exc:  # a bad frame (binary, ...) ends this client only
        log.info("ws client %s: %s", client.id, type(exc).__name__)
    finally:
        await hub.disconnect(client)
