"""The Redis publisher thread: batches ticks, live state and events into pipelines.

It survives a Redis restart by itself: failed batches are kept and retried with backoff, and the
live state (account, positions, strategies, contracts, main contract ...) is cached here and
written again whenever Redis comes back empty. While Redis is down, at most `max_pending`
operations are held; past that the oldest ticks are dropped (and counted), never state or events.

Stream entries get explicit ids before their first attempt: the entry's time in ms (a tick's
`ts_ms`, else when it was offered), kept monotonic per stream by taking the sequence number when
the time is not above the stream's last id (read from Redis at the first write to a stream, reset
when we delete it). A batch that timed out may still have been executed by Redis: the retry sends
the same ids, and "ID equal or smaller than the top item" means an earlier attempt wrote it, so
nothing is written twice (ticks nor events) and a partly applied batch is completed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field

import redis

from common.clock import LIVE, Clock
from common.lifecycle import Backoff, LoopThread

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Op:
    kind: str  # xadd | set | hset | hdel | del
    key: str
    member: str = ""  # hash field
    value: str = ""
    fields: dict[str, str] = dc_field(default_factory=dict)
    maxlen: int = 0
    ts_ms: int = 0  # xadd: the entry's time, the base of its stream id
    entry_id: str = ""  # xadd: given before the first attempt; every retry sends the same
    prepared: bool = False  # ids assigned (xadd) or the stream's ids reset (del)


class RedisPublisher(LoopThread):
    """A round takes what was offered (waiting up to 20 ms when idle) and sends a batch; a failed
    batch is kept and retried after a backoff of 0.2-5 s. On stop, what is left is sent while Redis
    takes it."""

    def __init__(
        self,
        client: redis.Redis,
        sentinel_key: str,
        batch_size: int = 1000,
        max_pending: int = 500_000,
        on_state: Callable[[bool, str], None] | None = None,
        clock: Clock = LIVE,
    ) -> None:
        super().__init__("arbig-redis-publisher", what="publishing to Redis", logger=log)
        self.client = client
        self.sentinel_key = sentinel_key  # a state key that is always set: missing means Redis lost its data
        self.batch_size = batch_size
        self.max_pending = max_pending
        self._queue: queue.SimpleQueue[Op] = queue.SimpleQueue()
        self._pending: deque[Op] = deque()
        self._strings: dict[str, str] = {}
        self._hashes: dict[str, dict[str, str]] = {}
        self._cache_lock = threading.Lock()
        self._on_state = on_state
        self.clock = clock
        self._retry = Backoff(0.2, 5.0)
        self.ok = True
        self.last_error = ""
        self.published = 0
        self.dropped_ticks = 0
        self.already_written = 0  # entries a retried batch found written by an earlier attempt
        self.refused = 0  # operations Redis refused (wrong type ...): logged and dropped
        self._next_check = 0.0
        self._last_ids: dict[str, tuple[int, int]] = {}  # stream -> last id we know of (ms, seq)

    # ------------------------------------------------------------ API (any thread)
    def xadd(self, key: str, fields: dict[str, str], maxlen: int, ts_ms: int | None = None) -> None:
        """Append to a stream; its id follows `ts_ms`, else the tick's `ts_ms` field, else now."""
        if ts_ms is None:
            ts_ms = _time_of(fields, self.clock)
        self._queue.put(Op("xadd", key, fields=fields, maxlen=maxlen, ts_ms=ts_ms))

    def set_state(self, key: str, value: str) -> None:
        with self._cache_lock:
            self._strings[key] = value
        self._queue.put(Op("set", key, value=value))

    def hset_state(self, key: str, field_name: str, value: str) -> None:
        with self._cache_lock:
            self._hashes.setdefault(key, {})[field_name] = value
        self._queue.put(Op("hset", key, member=field_name, value=value))

    def hdel_state(self, key: str, field_name: str) -> None:
        with self._cache_lock:
            self._hashes.get(key, {}).pop(field_name, None)
        self._queue.put(Op("hdel", key, member=field_name))

    def delete(self, key: str) -> None:
        with self._cache_lock:
            self._strings.pop(key, None)
            self._hashes.pop(key, None)
        self._queue.put(Op("del", key))

    @property
    def backlog(self) -> int:
        return len(self._pending) + self._queue.qsize()

    # ------------------------------------------------------------ thread
    def step(self) -> float:
        self._fill(wait_s=0.02 if not self._pending else 0.0)
        if not self._pending:
            self._maybe_restore()
            return 0.0
        if self._flush():
            self._retry.reset()
            return 0.0
        return self._retry.next()

    def on_stop(self) -> None:
        self._fill(wait_s=0.0)
        while self._pending and self._flush():
            pass

    def _fill(self, wait_s: float) -> None:
        try:
            if wait_s:
                self._pending.append(self._queue.get(timeout=wait_s))
            while True:
                self._pending.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        if len(self._pending) > self.max_pending:
            self._drop_oldest_ticks(len(self._pending) - self.max_pending)

    def _drop_oldest_ticks(self, excess: int) -> None:
        kept: deque[Op] = deque()
        dropped = 0
        for op in self._pending:
            if dropped < excess and op.kind == "xadd":
                dropped += 1
                continue
            kept.append(op)
        self._pending = kept
        self.dropped_ticks += dropped
        log.warning("redis publisher: Redis unavailable, dropped %d oldest ticks (total %d)",
                    dropped, self.dropped_ticks)

    def _flush(self) -> bool:
        batch = [self._pending[i] for i in range(min(self.batch_size, len(self._pending)))]
        try:
            self._prepare(batch)
            pipe = self.client.pipeline(transaction=False)
            for op in batch:
                _apply(pipe, op)
            results = pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:
            self._set_ok(False, f"Redis unavailable: {exc}")
            return False
        for _ in batch:
            self._pending.popleft()
        self._check(batch, results)
        self.published += len(batch)
        if not self.ok:
            self._set_ok(True, "")
            self._restore_state()
        return True

    def _prepare(self, batch: list[Op]) -> None:
        """Give each new stream entry its id, in order, before its first attempt."""
        for op in batch:
            if op.prepared:
                continue
            if op.kind == "del":
                self._last_ids[op.key] = (0, 0)  # the stream is gone: its ids start again
            elif op.kind == "xadd":
                if op.key not in self._last_ids:
                    self._last_ids[op.key] = self._read_last_id(op.key)
                last_ms, last_seq = self._last_ids[op.key]
                ms, seq = (op.ts_ms, 0) if op.ts_ms > last_ms else (last_ms, last_seq + 1)
                op.entry_id = f"{ms}-{seq}"
                self._last_ids[op.key] = (ms, seq)
            op.prepared = True

    def _read_last_id(self, key: str) -> tuple[int, int]:
        """The stream's last generated id (also of trimmed entries): a new id must be above it."""
        try:
            info = self.client.xinfo_stream(key)
        except redis.ResponseError:  # no such key (not a stream: its XADD is refused and reported)
            return (0, 0)
        last = info.get("last-generated-id") or "0-0"
        ms, _, seq = (last.decode() if isinstance(last, bytes) else str(last)).partition("-")
        return int(ms), int(seq or 0)

    def _check(self, batch: list[Op], results: list[object]) -> None:
        again = 0
        redo: list[Op] = []
        for op, result in zip(batch, results, strict=True):
            if not isinstance(result, Exception):
                continue
            if op.kind == "xadd" and "equal or smaller" in str(result):
                written = self._written_before(op)
                if written:
                    again += 1  # an earlier attempt of ours wrote it
                else:  # another writer went above us (the supervisor's events): a new id, unless unsure
                    if written is not None:
                        self._last_ids.pop(op.key, None)  # re-read the stream's top for the new id
                        op.prepared = False
                    redo.append(op)
                continue
            self.refused += 1
            log.error("redis publisher: Redis refused %s %s (%s); dropped", op.kind, op.key, result)
        if redo:
            self._pending.extendleft(reversed(redo))
        if again:
            self.already_written += again
            log.info("redis publisher: %d stream entries were written by an earlier attempt; not written twice",
                     again)

    def _maybe_restore(self) -> None:
        """Every 2 s check that Redis still holds our state (it may have restarted empty)."""
        now = self.clock.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + 2.0
        with self._cache_lock:
            if self.sentinel_key not in self._strings:
                return
        try:
            if not self.client.exists(self.sentinel_key):
                log.warning("redis publisher: Redis lost the live state (restart?); publishing it again")
                self._restore_state()
            elif not self.ok:
                self._set_ok(True, "")
        except redis.RedisError as exc:
            self._set_ok(False, f"Redis unavailable: {exc}")

    def _restore_state(self) -> None:
        with self._cache_lock:
            ops = [Op("set", k, value=v) for k, v in self._strings.items()]
            for key, mapping in self._hashes.items():
                ops.extend(Op("hset", key, member=f, value=v) for f, v in mapping.items())
        self._pending.extendleft(reversed(ops))

    def _set_ok(self, ok: bool, error: str) -> None:
        if ok == self.ok:
            self.last_error = error or self.last_error
            return
        self.ok, self.last_error = ok, error
        if ok:
            log.info("redis publisher: Redis reachable again; publishing resumed")
        else:
            log.error("redis publisher: %s; holding updates until it returns", error)
        if self._on_state:
            self._on_state(ok, error)


    def _written_before(self, op: Op) -> bool | None:
        """True when the stream holds this very entry (same id, same fields): only then did an earlier
        attempt write it. An entry another writer added above our id is not ours. None: cannot tell
        now (Redis failed again); the entry is tried again with the same id."""
        try:
            found = self.client.xrange(op.key, op.entry_id, op.entry_id)
        except redis.RedisError:
            return None
        if not found:
            return False
        fields = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in found[0][1].items()}
        return fields == op.fields


def _apply(pipe: redis.client.Pipeline, op: Op) -> None:
    if op.kind == "xadd":
        pipe.xadd(op.key, op.fields, id=op.entry_id, maxlen=op.maxlen, approximate=True)
    elif op.kind == "set":
        pipe.set(op.key, op.value)
    elif op.kind == "hset":
        pipe.hset(op.key, op.member, op.value)
    elif op.kind == "hdel":
        pipe.hdel(op.key, op.member)
    elif op.kind == "del":
        pipe.delete(op.key)


def _time_of(fields: dict[str, str], clock: Clock) -> int:
    try:
        return int(fields["ts_ms"])
    except (KeyError, ValueError):
        return clock.now_ms()
