"""The `/ws` WebSocket route: handshake checks, then the client protocol.

Client -> server (JSON text):
  {"op": "subscribe", "topics": ["tick:au2702", "positions", ...]}   snapshot per topic, then updates
  {"op": "unsubscribe", "topics": [...]}
  {"op": "pong", "t": <the ping's t>}                                  answer to the server's ping
  {"op": "ping", "t": <number|string|null>}                            server answers {"type": "pong"}
Messages are strict (pydantic): unknown fields, unknown topics, non-string topics are refused.
Server -> client (web_service/ws_messages.py, one discriminated union by "type"):
  {"type": "hello", ...settings}            once, after the handshake
  {"type": "snapshot", "topic", "data"}     current value of a topic
  {"type": "update", "topic", "data"}       a change (full value for tick/positions/account/heartbeat)
  {"type": "ping", "t"}                     every few seconds; no answer for 20 s closes the socket
  {"type": "error", "message", "topic"?}    a bad message (nothing changed); the connection stays open
  {"type": "resync", "reason"}              updates were dropped: subscribe again for fresh snapshots
  {"type": "pong", "t", "server_ms"}        the answer to a client's ping
  {"type": "logout", "message"}             the session ended (the socket then closes with 4401)
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, TypeAdapter, ValidationError

from web_service.auth import websocket_session
from web_service.errors import describe_errors
from web_service.services import ws_services
from web_service.settings import WS_MAX_TOPICS
from web_service.snapshots import PLAIN_TOPICS
from web_service.ws_client import Client
from web_service.ws_hub import Hub
from web_service.ws_messages import Error, Hello, Pong

log = logging.getLogger(__name__)
router = APIRouter()
MAX_MESSAGE_CHARS = 8192
TICK_TOPIC = re.compile(r"^tick:[A-Za-z]{1,2}[0-9]{3,4}$", re.ASCII)
SHAPE_ERRORS = {"model_type", "model_attributes_type", "union_tag_not_found", "dict_type"}


def _known_topic(topic: str) -> str:
    if topic not in PLAIN_TOPICS and not TICK_TOPIC.match(topic):
        raise ValueError(f"unknown topic {topic[:40]!r}; use tick:<symbol> or one of {sorted(PLAIN_TOPICS)}")
    return topic


Topic = Annotated[str, Strict(), Field(max_length=64), AfterValidator(_known_topic)]
Stamp = Annotated[int, Strict()] | Annotated[float, Strict(), Field(allow_inf_nan=False)] \
    | Annotated[str, Strict(), Field(max_length=64)] | None


class TopicsMessage(BaseModel):
    """Every topic is checked before any is (un)subscribed: one bad topic refuses the whole message."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["subscribe", "unsubscribe"]
    topics: list[Topic] = Field(min_length=1, max_length=WS_MAX_TOPICS)


class PingMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Literal["ping", "pong"]
    t: Stamp = None


ClientMessage = TypeAdapter(Annotated[TopicsMessage | PingMessage, Field(discriminator="op")])


def _parse(text: str) -> tuple[TopicsMessage | PingMessage | None, str | None]:
    if len(text) > MAX_MESSAGE_CHARS:
        return None, f"message longer than {MAX_MESSAGE_CHARS} characters"
    try:
        return ClientMessage.validate_json(text), None
    except ValidationError as exc:
        errors = exc.errors()
        kinds = {e["type"] for e in errors}
        if "json_invalid" in kinds:
            return None, "message is not JSON"
        if kinds & SHAPE_ERRORS:
            return None, 'message must be a JSON object with an "op" field'
        if "union_tag_invalid" in kinds:
            return None, "unknown op; use subscribe, unsubscribe, ping or pong"
        return None, f"invalid message, nothing changed: {describe_errors(errors)}"


async def _handle(hub: Hub, client: Client, message: TopicsMessage | PingMessage) -> None:
    if isinstance(message, TopicsMessage):
        if message.op == "subscribe":
            await hub.subscribe(client, list(message.topics))
        else:
            hub.unsubscribe(client, list(message.topics))
    elif message.op == "ping":
        client.push(Pong(t=message.t, server_ms=hub.clock.now_ms()))


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
    client.push(Hello(server_ms=hub.clock.now_ms(), client_id=client.id, stale_after_s=web.stale_after_s,
                      main_contract=hub.main_symbol))
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            hub.seen(client)
            text = frame.get("text")
            message, error = _parse(text) if text is not None else (None, "binary frames are not supported")
            if message is None:
                client.push(Error(message=error or "invalid message"))
                continue
            await _handle(hub, client, message)
    except WebSocketDisconnect:
        pass
    except Exception as exc:  # a bad frame (binary, ...) ends this client only
        log.info("ws client %s: %s", client.id, type(exc).__name__)
    finally:
        await hub.disconnect(client)
