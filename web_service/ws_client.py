"""One connected WebSocket client: its outbox, topics and liveness, and how a message is queued for it."""

from __future__ import annotations

import asyncio

from fastapi import WebSocket

from web_service.ws_messages import ServerMessage
from web_service.ws_outbox import Outbox


class Client:
    def __init__(self, client_id: int, ws: WebSocket, session_hash: str, outbox_max: int, now: float) -> None:
        """`now`: the hub clock's monotonic time at the handshake (the client counts as seen then)."""
        self.id = client_id
        self.ws = ws
        self.session_hash = session_hash
        self.outbox = Outbox(outbox_max)
        self.topics: set[str] = set()
        self.last_seen = now
        self.sent = 0
        self.sending_since = 0.0  # monotonic time the pending send started; 0 when not sending
        self.sender: asyncio.Task[None] | None = None
        self.closing = False

    def send(self, text: str, key: str | None = None) -> None:
        """Queue an already-serialised message (fan-out serialises once for every client)."""
        self.outbox.put(text, key)

    def push(self, message: ServerMessage, key: str | None = None) -> None:
        """Queue one message for this client only."""
        self.outbox.put(message.to_json(), key)
