"""What the web pushes to browsers over /ws: one discriminated union (`ServerMessage`, by `type`).

The hub and the endpoint build every outgoing message as one of these models and send `to_json()`
(serialised once per message, however many clients get it). The wire shapes are the ones static/live.js
reads:
  hello     once, after the handshake: server clock, client id, staleness limit, main contract
  snapshot  the current value of a topic (sent on subscribe, and when a queued snapshot is replaced)
  update    a change of a topic (the full value for tick:*/positions/account/heartbeat)
  ping/pong the server's keep-alive, and its answer to a client's ping
  error     a refused message (the connection stays open); `topic` only when it concerns one
  resync    the client's outbox overflowed: subscribe again for fresh snapshots
  logout    the session ended (the socket closes with 4401 right after)
A topic's `data` is the row shape the REST API gives for the same thing (web_service/schemas.py). The AI
trader's topics are typed here (`TOPIC_SNAPSHOTS`, `TOPIC_UPDATES`: a message whose data does not fit is
refused when it is built):
  ai_state  snapshot and update: the core's AI state with its age (AiStateView, as GET /api/ai/state)
  mcp_call  snapshot: the newest tool calls (McpCallSnapshot, as GET /api/ai/calls); update: one call as the
            MCP call log recorded it (McpCallRow), never coalesced
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from web_service.ai_schemas import AiStateView, McpCallPage, McpCallRow

Stamp = int | float | str | None  # a client's ping stamp, echoed back as sent


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> str:
        return self.model_dump_json(fallback=str)


class McpCallSnapshot(McpCallPage):
    """The "mcp_call" topic's snapshot; `error` says why it is empty when MySQL could not be read."""

    error: str | None = None


TOPIC_SNAPSHOTS: dict[str, type[BaseModel]] = {"ai_state": AiStateView, "mcp_call": McpCallSnapshot}
TOPIC_UPDATES: dict[str, type[BaseModel]] = {"ai_state": AiStateView, "mcp_call": McpCallRow}


class Hello(_Message):
    type: Literal["hello"] = "hello"
    server_ms: int
    client_id: int
    stale_after_s: float
    main_contract: str


class Snapshot(_Message):
    type: Literal["snapshot"] = "snapshot"
    topic: str
    data: Any
    server_ms: int

    @model_validator(mode="after")
    def _typed_data(self) -> Snapshot:
        model = TOPIC_SNAPSHOTS.get(self.topic)
        if model is not None:
            model.model_validate(self.data)
        return self


class Update(_Message):
    type: Literal["update"] = "update"
    topic: str
    data: Any

    @model_validator(mode="after")
    def _typed_data(self) -> Update:
        model = TOPIC_UPDATES.get(self.topic)
        if model is not None:
            model.model_validate(self.data)
        return self


class Ping(_Message):
    type: Literal["ping"] = "ping"
    t: int


class Pong(_Message):
    type: Literal["pong"] = "pong"
    t: Stamp
    server_ms: int


class Error(_Message):
    type: Literal["error"] = "error"
    topic: str | None = None
    message: str

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


class Resync(_Message):
    type: Literal["resync"] = "resync"
    reason: str


class Logout(_Message):
    type: Literal["logout"] = "logout"
    message: str


ServerMessage = Annotated[
    Hello | Snapshot | Update | Ping | Pong | Error | Resync | Logout, Field(discriminator="type")
]
SERVER_MESSAGE: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
SNAPSHOT_PREFIX = '{"type":"snapshot"'  # how a sent text is told to be a snapshot without parsing it
RESYNC_TEXT = Resync(reason="client too slow: updates were dropped; re-subscribing").to_json()
