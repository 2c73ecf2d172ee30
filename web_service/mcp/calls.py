"""The MCP tool-call log: every call (answered, refused, failed) becomes one `mcp_tool_calls` row and is handed to
the listeners (the console's hub pushes it to the AI page).

- `record(call)` never blocks the event loop and never fails the call: the row is queued and written by one writer
  task on a worker thread. While MySQL is down the rows wait (at most MAX_PENDING, oldest dropped with an error
  in the log) and are written when it answers again; the agent gets its answer either way.
- The request is stored with secrets masked (`mask`: any argument whose name contains token, password, secret
  or key, client_request_id excepted); a very large answer (market data with hundreds of bars) is stored
  summarised (`compact`).
- Idempotency (execute_trade's client_request_id): `claim` remembers which call first sent a request id to the
  core and what it answered, in memory at once (a repeat a moment later finds it even before the row is written
  or while MySQL is down) and in the row's `client_request_id` (unique with the tool; a restart finds it there).
  `find_claim` looks in memory, then in MySQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymysql

from common.db import Database

log = logging.getLogger(__name__)

STATUSES = ("ok", "refused", "failed", "preview", "replayed")
SECRET_WORDS = ("token", "password", "secret", "key")
NOT_SECRET = frozenset({"client_request_id"})
MASK = "***"
MAX_STORED_CHARS = 32_768  # a larger answer is stored summarised
MAX_PENDING = 10_000
CLAIMS_IN_MEMORY = 2_000
RETRY_S = 1.0
FLUSH_ON_STOP_S = 3.0

INSERT = ("INSERT INTO mcp_tool_calls (call_id, tool, client_request_id, request, response, status, reason,"
          " latency_ms, ts) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")
FIND_CLAIM = ("SELECT call_id, response FROM mcp_tool_calls WHERE tool = %s AND client_request_id = %s")

Listener = Callable[[dict[str, Any]], object]


def mask(value: Any) -> Any:
    """`value` with every (nested) entry whose name looks secret replaced by MASK."""
    if isinstance(value, dict):
        return {k: MASK if _secret(str(k)) else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def _secret(name: str) -> bool:
    lowered = name.lower()
    return lowered not in NOT_SECRET and any(word in lowered for word in SECRET_WORDS)


def compact(value: dict[str, Any], limit: int = MAX_STORED_CHARS) -> dict[str, Any]:
    """`value` as stored: itself when its JSON is at most `limit` characters, else with every long list and big
    object at its top level replaced by a summary (how many items, the last one)."""
    if len(json.dumps(value, default=str)) <= limit:
        return value
    out: dict[str, Any] = {"stored_summary": f"answer larger than {limit} characters: long parts summarised"}
    for key, item in value.items():
        size = len(json.dumps(item, default=str))
        if isinstance(item, list) and size > 1024:
            out[key] = {"items": len(item), "last": item[-1] if item else None}
        elif isinstance(item, dict) and size > limit // 4:
            out[key] = compact(item, limit // 4)
        else:
            out[key] = item
    return out


@dataclass
class ToolCall:
    """One tool call as recorded. `client_request_id` is set only on the call that claimed it (the first one the
    core saw); a replay names the call it replayed in its response and reason."""

    call_id: str
    tool: str
    request: dict[str, Any]
    ts_ms: int
    status: str = "ok"
    reason: str = ""
    response: dict[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0
    client_request_id: str | None = None

    def view(self) -> dict[str, Any]:
        """What the listeners get (and what the row holds)."""
        return {"call_id": self.call_id, "tool": self.tool, "status": self.status, "reason": self.reason,
                "latency_ms": self.latency_ms, "ts_ms": self.ts_ms, "client_request_id": self.client_request_id,
                "request": self.request, "response": self.response}

    def row(self) -> tuple[Any, ...]:
        ts = datetime.fromtimestamp(self.ts_ms / 1000, tz=UTC).replace(tzinfo=None)
        return (self.call_id, self.tool[:32], self.client_request_id, json.dumps(self.request, default=str),
                json.dumps(self.response, default=str), self.status, self.reason[:1000], round(self.latency_ms, 3), ts)


@dataclass
class CurrentCall:
    """The tool call being served (set by the server around each call, read by the tools): its id, and what the
    tool says about its row (the request id it claimed, a reason other than the answer's)."""

    call_id: str
    tool: str
    claimed_request_id: str | None = None
    reason: str | None = None


CURRENT: ContextVar[CurrentCall] = ContextVar("mcp_current_call")


def current_call() -> CurrentCall:
    """The call being served (LookupError outside a tool call)."""
    return CURRENT.get()


@dataclass(frozen=True)
class Claim:
    """The call that first sent a client_request_id to the core, and what it answered."""

    call_id: str
    response: dict[str, Any]


class CallLog:
    def __init__(self, db: Database | None = None) -> None:
        self.db = db
        self._listeners: list[Listener] = []
        self._pending: asyncio.Queue[ToolCall] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._claims: OrderedDict[tuple[str, str], Claim] = OrderedDict()
        self._failing = False

    # ------------------------------------------------------------ lifecycle

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self, db: Database) -> None:
        self.db = db
        self._pending = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="mcp:call-writer")

    async def stop(self) -> None:
        """Write what is still queued (for at most FLUSH_ON_STOP_S), then stop."""
        if self._writer is None or self._pending is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pending.join(), FLUSH_ON_STOP_S)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        left = self._pending.qsize()
        if left:
            log.error("MCP call log: %d tool call(s) could not be written to mcp_tool_calls before the stop", left)
        self._writer = None

    # ------------------------------------------------------------ recording

    def record(self, call: ToolCall) -> None:
        """Queue `call` for MySQL and hand it to the listeners (never raises, never blocks)."""
        if self._pending is not None:
            if self._pending.qsize() >= MAX_PENDING:
                dropped = self._pending.get_nowait()
                self._pending.task_done()
                log.error("MCP call log: %d rows waiting for MySQL; dropped call %s (%s)", MAX_PENDING,
                          dropped.call_id, dropped.tool)
            self._pending.put_nowait(call)
        view = call.view()
        for listener in self._listeners:
            try:
                listener(view)
            except Exception as exc:
                log.warning("MCP call listener failed: %s: %s", type(exc).__name__, str(exc)[:200])

    async def _write_loop(self) -> None:
        assert self._pending is not None
        while True:
            call = await self._pending.get()
            while not await asyncio.to_thread(self._write, call):
                await asyncio.sleep(RETRY_S)
            self._pending.task_done()

    def _write(self, call: ToolCall) -> bool:
        """True once the row is written (or cannot ever be: then logged); False to retry later."""
        assert self.db is not None
        try:
            try:
                self.db.execute(INSERT, call.row())
            except pymysql.IntegrityError as exc:
                if call.client_request_id is None:
                    log.error("MCP call %s not recorded: %s", call.call_id, exc)
                    return True
                # another process claimed the same request id first: keep this row, without the claim
                log.warning("MCP call %s: client_request_id already claimed by another call; stored without it",
                            call.call_id)
                call.client_request_id = None
                self.db.execute(INSERT, call.row())
        except (pymysql.OperationalError, pymysql.InterfaceError) as exc:
            if not self._failing:
                log.warning("MCP call log: MySQL unavailable (%s); rows wait and are written when it answers",
                            type(exc).__name__)
                self._failing = True
            return False
        except Exception as exc:
            log.error("MCP call %s not recorded: %s: %s", call.call_id, type(exc).__name__, exc)
            return True
        if self._failing:
            log.info("MCP call log: MySQL answers again; writing the waiting rows")
            self._failing = False
        return True

    # ------------------------------------------------------------ idempotency

    def claim(self, tool: str, client_request_id: str, call_id: str, response: dict[str, Any]) -> None:
        self._claims[(tool, client_request_id)] = Claim(call_id, response)
        self._claims.move_to_end((tool, client_request_id))
        while len(self._claims) > CLAIMS_IN_MEMORY:
            self._claims.popitem(last=False)

    def claimed(self, tool: str, client_request_id: str) -> Claim | None:
        """The claim this process remembers (no I/O)."""
        return self._claims.get((tool, client_request_id))

    async def find_claim(self, tool: str, client_request_id: str) -> Claim | None:
        """The claim of `client_request_id`: remembered here, else in MySQL (pymysql errors are raised)."""
        known = self.claimed(tool, client_request_id)
        if known is not None or self.db is None:
            return known
        db = self.db
        rows = await asyncio.to_thread(db.query, FIND_CLAIM, (tool, client_request_id))
        if not rows:
            return None
        response = rows[0]["response"]
        parsed = json.loads(response) if isinstance(response, str | bytes) else (response or {})
        return Claim(rows[0]["call_id"], parsed)
