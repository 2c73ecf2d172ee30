"""The WebSocket hub: connected clients, their topics, and fan-out from Redis.

One `StreamReader` per tick stream that anyone needs (a subscribed client, an open position, or
the main contract for the staleness check) and one for the events stream, however many clients.
Each message is serialised once and put into every subscriber's `Outbox` (never blocking); one
sender task per client drains its outbox. Position and account PnL are recomputed as prices move
(at most every PNL_PUSH_S); the status ("heartbeat" topic) is pushed every STATUS_EVERY_S. While
Redis is down it says so (`redis_ok` false, `redis_down_since_ms`) and the readers keep retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from typing import Any

from fastapi import WebSocket
from pydantic import ValidationError

from common.contract import (
    AccountState,
    CommandAudit,
    ContractInfo,
    EventMessage,
    MainContract,
    PositionState,
    SystemEvent,
    TickMessage,
    TradeState,
    TriggerRecord,
    position_field,
)
from web_service import settings
from web_service.aio import cancel_and_wait
from web_service.dependency_errors import MYSQL_PROBE_EVERY_S, WebDatabase
from web_service.live_state import LiveState, build_status, tick_time_ms
from web_service.pnl import account_view, position_rows
from web_service.redis_reader import Entry, StreamReader
from web_service.risk_feed import FEED_EVENTS, RiskFeed
from web_service.settings import WebSettings
from web_service.shapes import audit_row, system_row, trade_row, trigger_row
from web_service.snapshots import PLAIN_TOPICS, Snapshots
from web_service.ws_client import Client, encode

log = logging.getLogger(__name__)

TICK_TOPIC_RE = re.compile(r"^tick:([A-Za-z]{1,2}\d{3,4})$")
MAX_TICK_READERS = 32
STATUS_EVERY_S = 1.0
RESYNC_EVERY_S = 5.0
PNL_PUSH_S = 0.2
SEND_TIMEOUT_S = 10.0
STOP_WAIT_S = 3.0


class Hub:
    def __init__(self, live: LiveState, web: WebSettings, db: WebDatabase | None) -> None:
        self.live = live
        self.web = web
        self.db = db
        self.keys = web.keys
        self.snapshots = Snapshots(live, db, web.multiplier)
        self.clients: set[Client] = set()
        self.by_topic: dict[str, set[Client]] = {}
        self.tick_readers: dict[str, StreamReader] = {}
        self.event_reader = StreamReader(live.redis, self.keys.events, self._on_events, "events")
        self.last_prices: dict[str, tuple[float, int]] = {}
        self.positions: dict[str, PositionState] = {}
        self.account: AccountState | None = None
        self.multipliers: dict[str, float] = {}
        self.main_symbol: str = web.config.market_data.main_contract
        self.status: dict[str, Any] = {}
        self.risk = RiskFeed(self.broadcast)  # risk events, their updates, execution reports
        # Full-state snapshots queued but not sent yet: an update replacing one in the outbox stays a snapshot.
        self._unsent: dict[Client, set[str]] = {}
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: set[asyncio.Task[None]] = set()  # reader stops in flight (kept referenced)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.db is not None:
            await self.db.probe_async()  # the first status then knows MySQL's state
        with contextlib.suppress(Exception):
            await self._resync()
        self.event_reader.start()
        self._reconcile_readers()
        for loop in (self._status_loop, self._pnl_loop, self._ping_loop, self._mysql_loop):
            self._tasks.append(asyncio.create_task(loop(), name=f"hub:{loop.__name__}"))

    async def stop(self) -> None:
        stuck = await cancel_and_wait(self._tasks, STOP_WAIT_S)
        if stuck:
            log.warning("hub: %s did not stop within %.0fs", sorted(t.get_name() for t in stuck), STOP_WAIT_S)
        await self.event_reader.stop()
        for reader in list(self.tick_readers.values()):
            await reader.stop()
        for client in list(self.clients):
            await self.close_client(client, 1001, "server shutting down")

    # ------------------------------------------------------------ clients

    def connect(self, ws: WebSocket, session_hash: str) -> Client:
        client = Client(ws, session_hash, settings.WS_OUTBOX_MAX)
        self.clients.add(client)
        client.sender = asyncio.create_task(self._send_loop(client), name=f"ws-send:{client.id}")
        return client

    async def disconnect(self, client: Client) -> None:
        self.clients.discard(client)
        self._unsent.pop(client, None)
        for topic in client.topics:
            self.by_topic.get(topic, set()).discard(client)
        client.topics.clear()
        client.outbox.close()
        if client.sender is not None and client.sender is not asyncio.current_task():
            client.sender.cancel()
        self._reconcile_readers()

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
                client.sending_since = time.monotonic()
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
        if match and match.group(1) not in self.tick_readers and len(self.tick_readers) >= MAX_TICK_READERS:
            return "too many tick streams are followed already"
        return None

    async def subscribe(self, client: Client, topics: list[Any]) -> None:
        for topic in topics:
            error = self.topic_error(client, topic)
            if error:
                client.send(encode("error", topic if isinstance(topic, str) else None, message=error))
                continue
            # Register first, then read the snapshot: it is then at least as new as any update sent before it.
            self.by_topic.setdefault(topic, set()).add(client)
            client.topics.add(topic)
            self._reconcile_readers()
            try:
                data = await self._snapshot(topic)
            except Exception as exc:
                client.send(encode("error", topic, message=f"snapshot failed: {type(exc).__name__}: {exc}"[:300]))
                continue
            key = topic if self._full_state(topic) else None
            client.send(encode("snapshot", topic, data, server_ms=int(time.time() * 1000)), key)
            if key:
                self._unsent.setdefault(client, set()).add(topic)

    async def _snapshot(self, topic: str) -> Any:
        if topic in ("positions", "account"):
            # From the hub's own cache, freshly re-read, so later PnL pushes continue from the same state.
            await self._resync()
            rows = self.live_rows()
            return rows if topic == "positions" else account_view(self.account, rows)
        fresh = topic == "heartbeat" and (self.live.redis_down_since_ms is None or not self.status)
        return await self.snapshots.get(topic, self.last_prices, await self._current_status() if fresh else self.status)

    def unsubscribe(self, client: Client, topics: list[Any]) -> None:
        for topic in topics:
            if isinstance(topic, str):
                client.topics.discard(topic)
                self.by_topic.get(topic, set()).discard(client)
        self._reconcile_readers()

    @staticmethod
    def _full_state(topic: str) -> bool:
        return topic in ("positions", "account", "heartbeat") or topic.startswith("tick:")

    def broadcast(self, topic: str, data: Any, key: str | None = None) -> int:
        subscribers = self.by_topic.get(topic)
        if not subscribers:
            return 0
        text, as_snapshot, unsent = encode("update", topic, data), "", self._unsent
        for client in subscribers:
            if unsent and key == topic and topic in unsent.get(client, ()):  # replaces the pending snapshot
                as_snapshot = as_snapshot or encode("snapshot", topic, data, server_ms=int(time.time() * 1000))
                client.send(as_snapshot, key)
            else:
                client.send(text, key)
        return len(subscribers)

    def _sent(self, client: Client, text: str) -> None:
        if client in self._unsent and text.startswith('{"type":"snapshot"'):
            unsent = self._unsent[client]
            unsent.discard(json.loads(text).get("topic"))
            if not unsent:
                del self._unsent[client]

    # ------------------------------------------------------------ readers

    def needed_symbols(self) -> set[str]:
        needed = {t[5:] for t, subs in self.by_topic.items() if subs and t.startswith("tick:")}
        needed |= {p.symbol for p in self.positions.values()}
        needed.add(self.main_symbol)
        return needed

    def _reconcile_readers(self) -> None:
        needed = self.needed_symbols()
        for symbol in needed - self.tick_readers.keys():
            if len(self.tick_readers) >= MAX_TICK_READERS:
                break
            reader = StreamReader(self.live.redis, self.keys.tick_stream(symbol), self._tick_handler(symbol), symbol)
            self.tick_readers[symbol] = reader
            reader.start()
        for symbol in self.tick_readers.keys() - needed:
            task = asyncio.get_running_loop().create_task(self.tick_readers.pop(symbol).stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _tick_handler(self, symbol: str) -> Any:
        async def handle(entries: list[Entry]) -> None:
            self.on_ticks(symbol, entries)

        return handle

    def on_ticks(self, symbol: str, entries: list[Entry]) -> None:
        """Only the newest tick of a batch is fanned out: a batch means we are behind."""
        for _, fields in reversed(entries):
            try:
                tick = TickMessage.from_fields(fields)
            except ValidationError:
                continue
            self.last_prices[symbol] = (tick.last_price, tick_time_ms(tick))
            topic = f"tick:{symbol}"
            self.broadcast(topic, tick.model_dump(), topic)
            if any(p.symbol == symbol for p in self.positions.values()):
                self._dirty.set()
            return

    # ------------------------------------------------------------ events

    async def _on_events(self, entries: list[Entry]) -> None:
        for _, fields in entries:
            try:
                event = EventMessage.model_validate_json(fields.get("json", ""))
                self.apply_event(event)
            except (ValidationError, ValueError) as exc:
                log.warning("ignoring unparsable event: %s", str(exc)[:200])

    def apply_event(self, event: EventMessage) -> None:
        data = event.data
        kind = event.type
        if kind == "account":
            self.account = AccountState.model_validate(data)
            self._dirty.set()
        elif kind == "position":
            self._apply_position(PositionState.model_validate(data))
        elif kind == "order":
            self.broadcast("orders", data, f"orders:{data.get('vt_orderid')}")
        elif kind == "trade":
            self.broadcast("trades", trade_row(TradeState.model_validate(data)))
        elif kind == "strategy":
            self.broadcast("strategies", data, f"strategies:{data.get('name')}")
        elif kind == "trigger":
            self._apply_trigger(data)
        elif kind == "system":
            self.broadcast("system", system_row(SystemEvent.model_validate(data)))
        elif kind == "contract":
            contract = ContractInfo.model_validate(data)
            self.multipliers[contract.symbol] = contract.size
            self.broadcast("contracts", data, f"contracts:{contract.symbol}")
        elif kind == "main_contract":
            self._set_main(MainContract.model_validate(data).symbol)
        elif kind == "command":
            self.broadcast("audit", audit_row(CommandAudit.model_validate(data)))
        elif kind in FEED_EVENTS:
            self.risk.apply(kind, data)

    def _apply_trigger(self, data: dict[str, Any]) -> None:
        """A new trigger record, or a later result for one ({"uid", "result", "error", "update": true})."""
        if data.get("update"):
            update = {"uid": str(data.get("uid", "")), "result": str(data.get("result", "")),
                      "error": str(data.get("error", "")), "update": True}
            self.broadcast("triggers", update, f"trigger-result:{update['uid']}")
        else:
            self.broadcast("triggers", trigger_row(TriggerRecord.model_validate(data)))

    def _apply_position(self, pos: PositionState) -> None:
        field = position_field(pos.vt_symbol, pos.direction)
        if pos.volume > 0:
            self.positions[field] = pos
        else:
            self.positions.pop(field, None)
        self._reconcile_readers()
        self._dirty.set()

    def _set_main(self, symbol: str) -> None:
        if symbol and symbol != self.main_symbol:
            log.info("main contract is now %s", symbol)
            self.main_symbol = symbol
            self._reconcile_readers()

    # ------------------------------------------------------------ periodic work

    async def _resync(self) -> None:
        """Re-read the cached state from Redis so a missed event cannot leave it wrong for long."""
        self.positions = {position_field(p.vt_symbol, p.direction): p for p in await self.live.positions()}
        self.account = await self.live.account()
        self.multipliers = {c.symbol: c.size for c in await self.live.contracts() if c.size > 0}
        prices = await self.snapshots.prices_for(list(self.positions.values()), self.last_prices)
        for symbol, price in prices.items():
            self.last_prices.setdefault(symbol, price)  # a price the readers have not seen yet
        main = await self.live.main_contract()
        if main:
            self._set_main(main.symbol)
        self._reconcile_readers()
        self._dirty.set()

    async def _current_status(self) -> dict[str, Any]:
        """The status pushed to every page: with Redis down it says since when (the pages' banner)."""
        heartbeat, main, redis_ok = await self.live.core_status()
        last = self.last_prices.get(self.main_symbol)
        mysql_since = self.db.down_since_ms if self.db is not None else None
        return build_status(heartbeat, redis_ok, self.mysql_ok, last[1] if last else None,
                            self.web.config.web.stale_after_s, main, self.live.redis_down_since_ms, mysql_since)

    async def _status_loop(self) -> None:
        last_resync = 0.0
        while True:
            was_ok = self.status.get("redis_ok", True)
            self.status = await self._current_status()
            if self.status["main_contract"]:
                self._set_main(self.status["main_contract"])
            self.broadcast("heartbeat", self.status, "heartbeat")
            if not was_ok:
                last_resync = 0.0  # Redis is back: re-read the state now
            if time.monotonic() - last_resync > RESYNC_EVERY_S and self.status["redis_ok"]:
                last_resync = time.monotonic()
                try:
                    await self._resync()
                except Exception as exc:
                    log.warning("state resync failed: %s", exc)
            await asyncio.sleep(STATUS_EVERY_S)

    def live_rows(self) -> list[dict[str, Any]]:
        return position_rows(
            list(self.positions.values()), self.last_prices, self.multipliers, self.web.multiplier
        )

    async def _pnl_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self.by_topic.get("positions") or self.by_topic.get("account"):
                rows = self.live_rows()
                self.broadcast("positions", rows, "positions")
                self.broadcast("account", account_view(self.account, rows), "account")
            await asyncio.sleep(PNL_PUSH_S)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(settings.WS_PING_INTERVAL_S)
            now = time.monotonic()
            ping = encode("ping", t=int(time.time() * 1000))
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
            async with self.live.redis.pipeline(transaction=False) as pipe:
                for client in clients:
                    pipe.exists(self.keys.web_session(client.session_hash))
                alive = await pipe.execute()
        except Exception:
            return  # Redis down: the status tells the operator; do not drop clients for it
        for client, ok in zip(clients, alive, strict=True):
            if not ok:
                client.send(encode("logout", message="session ended; log in again"))
                await self.close_client(client, 4401, "session ended")

    @property
    def mysql_ok(self) -> bool:
        return self.db is not None and self.db.ok

    async def _mysql_loop(self) -> None:
        """A failed probe also cuts short the queries waiting on a hung MySQL (see WebDatabase)."""
        while self.db is not None:
            await asyncio.sleep(MYSQL_PROBE_EVERY_S)
            await self.db.probe_async()
