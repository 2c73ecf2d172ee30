"""One connected WebSocket client (its outbox, topics, liveness) and the message encoder."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from fastapi import WebSocket

from web_service.ws_outbox import Outbox

_client_ids = itertools.count(1)


def encode(kind: str, topic: str | None = None, data: Any = None, **extra: Any) -> str:
    message: dict[str, Any] = {"type": kind}
    if topic is not None:
        message["topic"] = topic
    if data is not None or kind in ("snapshot", "update"):
        message["data"] = data
    message.update(extra)
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


class Client:
    def __init__(self, ws: WebSocket, session_hash: str, outbox_max: int) -> None:
        self.id = next(_client_ids)
        self.ws = ws
        self.session_hash = session_hash
        self.outbox = Outbox(outbox_max)
        self.topics: set[str] = set()
        self.last_seen = time.monotonic()
        self.sent = 0
        self.sending_since = 0.0  # monotonic time the pending send started; 0 when not sending
        self.sender: asyncio.Task[None] | None = None
        self.closing = False

    def send(self, text: str, key: str | None = None) -> None:
        self.outbox.put(text, key)
