"""The web's read model of the core's live state: the one place REST answers and WebSocket pushes read.

It keeps last prices, open positions, the account, contract sizes, the main contract, the system
status and the core's AI trading state (`arbig:state:ai`, event "ai_state"), fed by one `StreamReader` per
tick stream that anyone needs (a followed topic, an open position, the main contract) and one for the events
stream. Every change it learns of is handed to its listeners as (topic, data, coalesce key): the hub
(web_service/ws_hub.py) fans those out to the browsers; the hub reads positions and account from here when
`changed` is set (prices or positions moved).

Positions and the account are re-read from Redis on every read (`read_positions`, `read_account`) and
every RESYNC_EVERY_S, so a fresh process, a missed event or a hash written without an event cannot leave
an answer wrong. The status ("heartbeat" topic) is recomputed every STATUS_EVERY_S; while Redis is down it
says so (`redis_ok` false, `redis_down_since_ms`) and the readers keep retrying. Time is the injected
`Clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from common.clock import Clock
from common.contract import (
    AccountState,
    AiState,
    CommandAudit,
    EventMessage,
    MainContract,
    PositionState,
    SystemEvent,
    TickMessage,
    TradeState,
    TriggerRecord,
    position_field,
)
from web_service import ai_history
from web_service.aio import cancel_and_wait
from web_service.dependency_errors import MYSQL_PROBE_EVERY_S, WebDatabase
from web_service.live_state import LiveState, build_status, tick_time_ms
from web_service.pnl import account_view, position_rows
from web_service.redis_reader import Entry, StreamReader
from web_service.risk_feed import FEED_EVENTS, RiskFeed
from web_service.settings import WebSettings
from web_service.shapes import audit_row, system_row, trade_row, trigger_row
from web_service.snapshots import Snapshots

log = logging.getLogger(__name__)

Listener = Callable[[str, Any, str | None], object]  # (topic, data, coalesce key)
Prices = dict[str, tuple[float, int]]  # symbol -> (last price, tick time ms)
MAX_TICK_READERS = 32
STATUS_EVERY_S = 1.0
RESYNC_EVERY_S = 5.0
STOP_WAIT_S = 3.0
# The core rewrites its AI state every heartbeat and this cache re-reads it every RESYNC_EVERY_S: older than
# this, the core has stopped updating it.
AI_STATE_STALE_S = 15.0
RECENT_CALLS = 50  # the "mcp_call" topic's snapshot: the newest tool calls (GET /api/ai/calls?limit=50)
AI_UNKNOWN = ("the core has not published its AI state (the key arbig:state:ai is absent): the core is not running,"
              " or it is older than the AI trader")


class LiveCache:
    def __init__(self, live: LiveState, web: WebSettings, db: WebDatabase | None, clock: Clock) -> None:
        self.live = live
        self.web = web
        self.db = db
        self.clock = clock
        self.snapshots = Snapshots(live, db)
        self.last_prices: Prices = {}
        self.positions: dict[str, PositionState] = {}
        self.account: AccountState | None = None
        self.multipliers: dict[str, float] = {}
        self.main_symbol: str = web.config.market_data.main_contract
        self.status: dict[str, Any] = {}
        self.ai_state: AiState | None = None  # the core's AI trading state (None: not published)
        self.changed = asyncio.Event()  # prices, positions or the account moved: PnL to recompute
        self.risk = RiskFeed(self._emit)  # risk events, their updates, execution reports
        self.followed: set[str] = set()  # tick streams the clients follow (set by the hub)
        self.tick_readers: dict[str, StreamReader] = {}
        self.event_reader = StreamReader(live.redis, web.keys.events, self._on_events, "events")
        self._listeners: list[Listener] = []
        self._running = False  # readers are started by start(), never before (a unit test runs without them)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: set[asyncio.Task[None]] = set()  # reader stops in flight (kept referenced)

    # ------------------------------------------------------------ lifecycle

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, topic: str, data: Any, key: str | None = None) -> None:
        for listener in self._listeners:
            listener(topic, data, key)

    async def start(self) -> None:
        if self.db is not None:
            await self.db.probe_async()  # the first status then knows MySQL's state
        with contextlib.suppress(Exception):
            await self.refresh()
        self._running = True
        self.event_reader.start()
        self._reconcile_readers()
        for loop in (self._status_loop, self._mysql_loop):
            self._tasks.append(asyncio.create_task(loop(), name=f"cache:{loop.__name__}"))

    async def stop(self) -> None:
        self._running = False
        stuck = await cancel_and_wait(self._tasks, STOP_WAIT_S)
        if stuck:
            log.warning("live cache: %s did not stop within %.0fs", sorted(t.get_name() for t in stuck), STOP_WAIT_S)
        await self.event_reader.stop()
        for reader in list(self.tick_readers.values()):
            await reader.stop()

    # ------------------------------------------------------------ tick streams

    def can_follow(self, symbol: str) -> bool:
        return symbol in self.tick_readers or len(self.tick_readers) < MAX_TICK_READERS

    def follow(self, symbols: set[str]) -> None:
        """The tick streams the clients want (besides the positions' and the main contract's)."""
        self.followed = set(symbols)
        self._reconcile_readers()

    def needed_symbols(self) -> set[str]:
        return self.followed | {p.symbol for p in self.positions.values()} | {self.main_symbol}

    def _reconcile_readers(self) -> None:
        if not self._running:
            return
        needed = self.needed_symbols()
        for symbol in needed - self.tick_readers.keys():
            if len(self.tick_readers) >= MAX_TICK_READERS:
                break
            stream = self.web.keys.tick_stream(symbol)
            reader = StreamReader(self.live.redis, stream, self._tick_handler(symbol), symbol)
            self.tick_readers[symbol] = reader
            reader.start()
        for symbol in self.tick_readers.keys() - needed:
            task = asyncio.get_running_loop().create_task(self.tick_readers.pop(symbol).stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _tick_handler(self, symbol: str) -> Callable[[list[Entry]], Any]:
        async def handle(entries: list[Entry]) -> None:
            self.on_ticks(symbol, entries)

        return handle

    def on_ticks(self, symbol: str, entries: list[Entry]) -> None:
        """Only the newest tick of a batch counts: a batch means we are behind."""
        for _, fields in reversed(entries):
            try:
                tick = TickMessage.from_fields(fields)
            except ValidationError:
                continue
            self.last_prices[symbol] = (tick.last_price, tick_time_ms(tick))
            topic = f"tick:{symbol}"
            self._emit(topic, tick.model_dump(), topic)
            if any(p.symbol == symbol for p in self.positions.values()):
                self.changed.set()
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
        """One event of the core's stream. Raises pydantic's ValidationError for a malformed one. (The core
        never publishes "contract": contract sizes come from the contracts hash, re-read on every resync.)"""
        data, kind = event.data, event.type
        if kind == "account":
            self.account = AccountState.model_validate(data)
            self.changed.set()
        elif kind == "position":
            self._apply_position(PositionState.model_validate(data))
        elif kind == "order":
            self._emit("orders", data, f"orders:{data.get('vt_orderid')}")
        elif kind == "trade":
            self._emit("trades", trade_row(TradeState.model_validate(data)))
        elif kind == "strategy":
            self._emit("strategies", data, f"strategies:{data.get('name')}")
        elif kind == "trigger":
            self._apply_trigger(data)
        elif kind == "system":
            self._emit("system", system_row(SystemEvent.model_validate(data)))
        elif kind == "main_contract":
            self._set_main(MainContract.model_validate(data).symbol)
        elif kind == "command":
            self._emit("audit", audit_row(CommandAudit.model_validate(data)))
        elif kind == "ai_state":
            state = AiState.model_validate(data)
            if self.ai_state is None or state.ts_ms >= self.ai_state.ts_ms:  # not older than the key read last
                self._set_ai_state(state)
        elif kind in FEED_EVENTS:
            self.risk.apply(kind, data)

    def _apply_trigger(self, data: dict[str, Any]) -> None:
        """A new trigger record, or a later result for one ({"uid", "result", "error", "update": true})."""
        if data.get("update"):
            update = {"uid": str(data.get("uid", "")), "result": str(data.get("result", "")),
                      "error": str(data.get("error", "")), "update": True}
            self._emit("triggers", update, f"trigger-result:{update['uid']}")
        else:
            self._emit("triggers", trigger_row(TriggerRecord.model_validate(data)))

    def _apply_position(self, pos: PositionState) -> None:
        field = position_field(pos.vt_symbol, pos.direction)
        if pos.volume > 0:
            self.positions[field] = pos
        else:
            self.positions.pop(field, None)
        self._reconcile_readers()
        self.changed.set()

    def _set_main(self, symbol: str) -> None:
        if symbol and symbol != self.main_symbol:
            log.info("main contract is now %s", symbol)
            self.main_symbol = symbol
            self._reconcile_readers()

    # ------------------------------------------------------------ reads

    async def refresh(self) -> None:
        """Re-read positions, account, contract sizes and the main contract from Redis (a missed event
        cannot leave them wrong for long; a process that just started is primed)."""
        positions = await self.live.positions()
        self.positions = {position_field(p.vt_symbol, p.direction): p for p in positions}
        self.account = await self.live.account()
        self.multipliers = {c.symbol: c.size for c in await self.live.contracts() if c.size > 0}
        for symbol in {p.symbol for p in positions} - self.last_prices.keys():
            price = await self._stream_price(symbol)  # a price the readers have not seen yet
            if price is not None:
                self.last_prices.setdefault(symbol, price)
        main = await self.live.main_contract()
        if main:
            self._set_main(main.symbol)
        await self.read_ai_state()
        self._reconcile_readers()
        self.changed.set()

    # ------------------------------------------------------------ the AI trader's state

    async def read_ai_state(self) -> AiState | None:
        """Re-read the core's AI state from Redis (pushed to the "ai_state" topic when it changed: the core
        rewrites it every heartbeat, so its age stays true). An unparsable one is logged and kept as it was."""
        raw = await self.live.redis.get(self.web.keys.ai_state)
        try:
            state = AiState.model_validate_json(raw) if raw else None
        except ValidationError as exc:
            log.warning("ignoring unparsable AI state: %s", exc.errors()[:1])
            return self.ai_state
        self._set_ai_state(state)
        return state

    def _set_ai_state(self, state: AiState | None) -> None:
        if state != self.ai_state:
            self.ai_state = state
            self._emit("ai_state", self.ai_view(), "ai_state")

    def ai_view(self) -> dict[str, Any]:
        """The AI state with its age as of now (ai_schemas.AiStateView)."""
        now, state = self.clock.now_ms(), self.ai_state
        view: dict[str, Any] = {"known": state is not None, "state": None, "age_s": None, "stale": True,
                                "stale_after_s": AI_STATE_STALE_S, "server_ms": now, "detail": AI_UNKNOWN}
        if state is not None:
            age = max(0.0, (now - state.ts_ms) / 1000.0)
            stale = age > AI_STATE_STALE_S
            view.update(state=state.model_dump(), age_s=round(age, 3), stale=stale,
                        detail=f"the core has not updated its AI state for {age:.0f} s: it may have stopped" if stale
                        else "")
        return view

    async def recent_calls(self) -> dict[str, Any]:
        """The "mcp_call" topic's snapshot: the newest tool calls, as GET /api/ai/calls gives them."""
        if self.db is None:
            return {"items": [], "next_before_id": None, "limit": RECENT_CALLS, "error": "MySQL is not configured"}
        try:
            return await asyncio.to_thread(ai_history.call_page, self.db, RECENT_CALLS, None)
        except Exception as exc:
            return {"items": [], "next_before_id": None, "limit": RECENT_CALLS,
                    "error": f"MySQL unavailable: {type(exc).__name__}"}

    async def _stream_price(self, symbol: str) -> tuple[float, int] | None:
        tick = await self.live.latest_tick(symbol)
        return (tick.last_price, tick_time_ms(tick)) if tick is not None and tick.last_price > 0 else None

    def position_rows(self) -> list[dict[str, Any]]:
        """The open positions with live PnL, from what the cache holds now (no I/O)."""
        return position_rows(list(self.positions.values()), self.last_prices, self.multipliers, self.web.multiplier)

    def account_row(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        return account_view(self.account, rows)

    async def read_positions(self) -> list[dict[str, Any]]:
        await self.refresh()
        return self.position_rows()

    async def read_account(self) -> dict[str, Any] | None:
        await self.refresh()
        return self.account_row(self.position_rows())

    async def main_contract(self) -> str:
        """The main contract as Redis says now, else the last one known."""
        main = await self.live.main_contract()
        return main.symbol if main else self.main_symbol

    async def snapshot(self, topic: str) -> Any:
        """The current value of a WebSocket topic (`KeyError` for an unknown one)."""
        if topic == "positions":
            return await self.read_positions()
        if topic == "account":
            return await self.read_account()
        if topic == "heartbeat":
            fresh = self.live.redis_down_since_ms is None or not self.status
            return await self.current_status() if fresh else self.status
        if topic == "ai_state":
            with contextlib.suppress(Exception):  # Redis down: the last state known, its age growing
                await self.read_ai_state()
            return self.ai_view()
        if topic == "mcp_call":
            return await self.recent_calls()
        return await self.snapshots.get(topic)

    @property
    def mysql_ok(self) -> bool:
        return self.db is not None and self.db.ok

    async def current_status(self) -> dict[str, Any]:
        """The status every page shows: with Redis down it says since when (the pages' banner)."""
        heartbeat, main, redis_ok = await self.live.core_status()
        symbol = main.symbol if main else self.main_symbol
        last = self.last_prices.get(symbol)
        if last is None and redis_ok:  # no tick seen since the start: the stream's newest
            with contextlib.suppress(Exception):
                tick = await self.live.latest_tick(symbol)
                last = (tick.last_price, tick_time_ms(tick)) if tick else None
        mysql_since = self.db.down_since_ms if self.db is not None else None
        return build_status(self.clock, heartbeat, redis_ok, self.mysql_ok, last[1] if last else None,
                            self.web.config.web.stale_after_s, main, self.live.redis_down_since_ms, mysql_since)

    # ------------------------------------------------------------ periodic work

    async def _status_loop(self) -> None:
        last_resync = 0.0
        while True:
            was_ok = self.status.get("redis_ok", True)
            self.status = await self.current_status()
            if self.status["main_contract"]:
                self._set_main(self.status["main_contract"])
            self._emit("heartbeat", self.status, "heartbeat")
            if not was_ok:
                last_resync = 0.0  # Redis is back: re-read the state now
            now = self.clock.monotonic()
            if now - last_resync > RESYNC_EVERY_S and self.status["redis_ok"]:
                last_resync = now
                try:
                    await self.refresh()
                except Exception as exc:
                    log.warning("state resync failed: %s", exc)
            await asyncio.sleep(STATUS_EVERY_S)

    async def _mysql_loop(self) -> None:
        """A failed probe also cuts short the queries waiting on a hung MySQL (see WebDatabase)."""
        while self.db is not None:
            await asyncio.sleep(MYSQL_PROBE_EVERY_S)
            await self.db.probe_async()
