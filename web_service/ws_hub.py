"""The WebSocket hub: connected clients, their topics, and fan-out of the read model's changes.

The hub listens to the read model (web_service/live_cache.py) and keeps no state of its own beyond the
clients. Each change is serialised once (web_service/ws_messages.py) and put into every subscriber's
`Outbox` (never blocking); one sender task per client drains its outbox. Position and account PnL are
pushed as prices move (at most every PNL_PUSH_S). The MCP call log pushes each tool call through
`publish_mcp_call` (topic "mcp_call", never coalesced; the AI state, "ai_state", comes from the read model).
Clients are pinged every WS_PING_INTERVAL_S; a silent one, one whose send is stuck, or one whose session ended
is closed. Time is the injected `Clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import threading
from typing import Any

import redis.asyncio as aioredis
from fastapi import WebSocket

from common.clock import Clock
from common.contract import Keys
from web_service import ai_history, settings
from web_service.aio import cancel_and_wait
from web_service.live_cache import LiveCache
from web_service.snapshots import PLAIN_TOPICS
from web_service.ws_client import Client
from web_service.ws_messages import SNAPSHOT_PREFIX, Error, Logout, Ping, Snapshot, Update

log = logging.getLogger(__name__)

TICK_TOPIC_RE = re.compile(r"^tick:([A-Za-z]{1,2}\d{3,4})$")
PNL_PUSH_S = 0.2
SEND_TIMEOUT_S = 10.0
STOP_WAIT_S = 3.0
FULL_STATE = frozenset({"positions", "account", "heartbeat", "ai_state"})  # each update is the whole value


class Hub:
    def __init__(self, cache: LiveCache, redis: aioredis.Redis, keys: Keys, clock: Clock) -> None:
        self.cache = cache
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.clients: set[Client] = set()
        self.by_topic: dict[str, set[Client]] = {}
        # Full-state snapshots queued but not sent yet: an update replacing one in the outbox stays a snapshot.
        self._unsent: dict[Client, set[str]] = {}
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the hub runs on (set by start)
        self._loop_thread = 0
        cache.listen(self.broadcast)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        for loop in (self._pnl_loop, self._ping_loop):
            self._tasks.append(asyncio.create_task(loop(), name=f"hub:{loop.__name__}"))

    async def stop(self) -> None:
        stuck = await cancel_and_wait(self._tasks, STOP_WAIT_S)
        if stuck:
            log.warning("hub: %s did not stop within %.0fs", sorted(t.get_name() for t in stuck), STOP_WAIT_S)
        for client in list(self.clients):
            await self.close_client(client, 1001, "server shutting down")

    @property
    def main_symbol(self) -> str:
        return self.cache.main_symbol

    # ------------------------------------------------------------ clients

    def connect(self, ws: WebSocket, session_hash: str) -> Client:
        client = Client(next(self._ids), ws, session_hash, settings.WS_OUTBOX_MAX, self.clock.monotonic())
        self.clients.add(client)
        client.sender = asyncio.create_task(self._send_loop(client), name=f"ws-send:{client.id}")
        return client

    def seen(self, client: Client) -> None:
        """The client just sent a frame: it is alive."""
        client.last_seen = self.clock.monotonic()

    async def disconnect(self, client: Client) -> None:
        self.clients.discard(client)
        self._unsent.pop(client, None)
        for topic in client.topics:
            self.by_topic.get(topic, set()).discard(client)
        client.topics.clear()
        client.outbox.close()
        if client.sender is not None and client.sender is not asyncio.current_task():
            client.sender.cancel()
        self._follow_ticks()

    async def close_client(self, client: Client, code: int, reason: str) -> None:
        if client.closing:
            return
        client.closing = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await client.ws.close(code=code, reason=reason)
        await self.disconnect(client)

    async def _send_loop(self, client: Client) -> None:
        """Drain one client's outbox. A send blocked by a full socket stalls only this client; the
        ping loop closes a client whose send has been stuck for SEND_TIMEOUT_S (no per-send timer:
        that would cost more than the send itself at 100 clients x 100 ticks/s)."""
        try:
            while True:
                text = await client.outbox.get()
                client.sending_since = self.clock.monotonic()
                await client.ws.send_text(text)
                self._sent(client, text)
                client.sending_since = 0.0
                client.sent += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not client.closing:
                log.info("ws client %s: send failed (%s); closing", client.id, type(exc).__name__)
                await self.close_client(client, 1011, "send failed")

    # ------------------------------------------------------------ topics

    def topic_error(self, client: Client, topic: Any) -> str | None:
        if not isinstance(topic, str):
            return "topics must be strings"
        match = TICK_TOPIC_RE.match(topic)
        if topic not in PLAIN_TOPICS and not match:
            return f"unknown topic {topic[:40]!r}; use tick:<symbol> or one of {sorted(PLAIN_TOPICS)}"
        if len(client.topics | {topic}) > settings.WS_MAX_TOPICS:
            return f"at most {settings.WS_MAX_TOPICS} topics per connection"
        if match and not self.cache.can_follow(match.group(1)):
            return "too many tick streams are followed already"
        return None

    async def subscribe(self, client: Client, topics: list[Any]) -> None:
        for topic in topics:
            error = self.topic_error(client, topic)
            if error:
                client.push(Error(topic=topic if isinstance(topic, str) else None, message=error))
                continue
            # Register first, then read the snapshot: it is then at least as new as any update sent before it.
            self.by_topic.setdefault(topic, set()).add(client)
            client.topics.add(topic)
            self._follow_ticks()
            try:
                data = await self.cache.snapshot(topic)
            except Exception as exc:
                client.push(Error(topic=topic, message=f"snapshot failed: {type(exc).__name__}: {exc}"[:300]))
                continue
            key = topic if self._full_state(topic) else None
            client.push(Snapshot(topic=topic, data=data, server_ms=self.clock.now_ms()), key)
            if key:
                self._unsent.setdefault(client, set()).add(topic)

    def unsubscribe(self, client: Client, topics: list[Any]) -> None:
        for topic in topics:
            if isinstance(topic, str):
                client.topics.discard(topic)
                self.by_topic.get(topic, set()).discard(client)
        self._follow_ticks()

    def _follow_ticks(self) -> None:
        self.cache.follow({t[5:] for t, subs in self.by_topic.items() if subs and t.startswith("tick:")})

    @staticmethod
    def _full_state(topic: str) -> bool:
        return topic in FULL_STATE or topic.startswith("tick:")

    def broadcast(self, topic: str, data: Any, key: str | None = None) -> int:
        """Queue an update of `topic` for its subscribers; the number of them."""
        subscribers = self.by_topic.get(topic)
        if not subscribers:
            return 0
        text, as_snapshot, unsent = Update(topic=topic, data=data).to_json(), "", self._unsent
        for client in subscribers:
            if unsent and key == topic and topic in unsent.get(client, ()):  # replaces the pending snapshot
                as_snapshot = as_snapshot or Snapshot(topic=topic, data=data, server_ms=self.clock.now_ms()).to_json()
                client.send(as_snapshot, key)
            else:
                client.send(text, key)
        return len(subscribers)

    def publish_mcp_call(self, call: dict[str, Any]) -> None:
        """Push one MCP tool call to the "mcp_call" topic (the MCP call log calls this after recording it).
        Never blocks and never raises; callable from the hub's loop or from any other thread. Not coalesced:
        a client too slow for it gets a resync (fresh snapshot), never a silent gap."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            row = ai_history.call_row(call)
            if threading.get_ident() == self._loop_thread:
                self.broadcast("mcp_call", row)
            else:
                loop.call_soon_threadsafe(self.broadcast, "mcp_call", row)
        except Exception as exc:  # a bad call dict or a loop shutting down must not fail the tool call
            log.warning("mcp_call push failed: %s: %s", type(exc).__name__, str(exc)[:200])

    def _sent(self, client: Client, text: str) -> None:
        if client in self._unsent and text.startswith(SNAPSHOT_PREFIX):
            unsent = self._unsent[client]
            unsent.discard(json.loads(text).get("topic"))
            if not unsent:
                del self._unsent[client]

    # ------------------------------------------------------------ periodic work

    async def _pnl_loop(self) -> None:
        changed = self.cache.changed
        while True:
            await changed.wait()
            changed.clear()
            if self.by_topic.get("positions") or self.by_topic.get("account"):
                rows = self.cache.position_rows()
                self.broadcast("positions", rows, "positions")
                self.broadcast("account", self.cache.account_row(rows), "account")
            await asyncio.sleep(PNL_PUSH_S)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(settings.WS_PING_INTERVAL_S)
            now = self.clock.monotonic()
            ping = Ping(t=self.clock.now_ms()).to_json()
            for client in list(self.clients):
                if now - client.last_seen > settings.WS_CLIENT_TIMEOUT_S:
                    log.info("ws client %s: silent for %.0f s; closing", client.id, now - client.last_seen)
                    await self.close_client(client, 4408, "no pong")
                elif client.sending_since and now - client.sending_since > SEND_TIMEOUT_S:
                    log.info("ws client %s: a send is stuck for %.0f s; closing", client.id, now - client.sending_since)
                    await self.close_client(client, 4408, "not reading")
                else:
                    client.send(ping, "ping")
            await self._check_sessions()

    async def _check_sessions(self) -> None:
        clients = list(self.clients)
        if not clients:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for client in clients:
                    pipe.exists(self.keys.web_session(client.session_hash))
                alive = await pipe.execute()
        except Exception:
            return  # Redis down: the status tells the operator; do not drop clients for it
        for client, ok in zip(clients, alive, strict=True):
            if not ok:
                client.push(Logout(message="session ended; log in again"))
                await self.close_client(client, 4401, "session ended")
