"""The MySQL writer thread: batches records into multi-row statements; never loses one.

Records are plain dicts `{"kind": ..., ...}` (JSON-safe). When MySQL is unreachable, each batch is
appended to the durable spool and retried every few seconds; while the spool holds anything, new
records go behind it so order is kept. At start-up the spool left by an earlier run is drained
first. Every statement is idempotent (unique keys + upserts), so a batch written
twice after a partial failure changes nothing.

A trade or order that collides with the stored one (same identity, other content) is not written
over it: it is kept in `record_conflicts` and handed to the conflict handler (the core raises an
ERROR system event), once. The check runs when the record is written, also from the spool.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import pymysql

from core_service import conflicts
from core_service.conflicts import Conflict
from core_service.spool import Spool

log = logging.getLogger(__name__)

FINAL = "('ALLTRADED','CANCELLED','REJECTED')"
# A row already there (same trade identity or uid) is left as it is. Unlike INSERT IGNORE this
# still raises on bad data instead of silently storing a zero date.
NOOP = " ON DUPLICATE KEY UPDATE id = id"

STATEMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "trade": (
        "INSERT INTO trades (gateway, exchange, tradeid, direction, trading_day, symbol, orderid,"
        " offset_, price, volume, strategy, ts, recorded_at, raw) VALUES"
        " (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)" + NOOP,
        ("gateway", "exchange", "tradeid", "direction", "trading_day", "symbol", "orderid", "offset",
         "price", "volume", "strategy", "ts", "recorded_at", "raw"),
    ),
    "order": (
        "INSERT INTO orders (gateway, orderid, trading_day, symbol, exchange, direction, offset_, order_type,"
        " price, volume, traded, status, reference, strategy, reason, ts, updated_at, raw) VALUES"
        " (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE"
        f" status = IF(status IN {FINAL} AND VALUES(status) NOT IN {FINAL}, status, VALUES(status)),"
        " traded = GREATEST(traded, VALUES(traded)),"
        " reason = IF(VALUES(reason) <> '', VALUES(reason), reason),"
        " strategy = COALESCE(strategy, VALUES(strategy)),"
        " updated_at = VALUES(updated_at), raw = VALUES(raw)",
        ("gateway", "orderid", "trading_day", "symbol", "exchange", "direction", "offset", "type", "price",
         "volume", "traded", "status", "reference", "strategy", "reason", "ts", "updated_at", "raw"),
    ),
    "position": (
        "INSERT INTO positions (gateway, symbol, exchange, direction, volume, yd_volume, frozen, price, pnl,"
        " margin, trading_day, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE volume=VALUES(volume), yd_volume=VALUES(yd_volume), frozen=VALUES(frozen),"
        " price=VALUES(price), pnl=VALUES(pnl), margin=VALUES(margin), trading_day=VALUES(trading_day),"
        " updated_at=VALUES(updated_at)",
        ("gateway", "symbol", "exchange", "direction", "volume", "yd_volume", "frozen", "price", "pnl",
         "margin", "trading_day", "updated_at"),
    ),
    "account": (
        "INSERT INTO accounts (gateway, accountid, balance, available, frozen, margin, commission,"
        " realized_pnl, unrealized_pnl, trading_day, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE balance=VALUES(balance), available=VALUES(available), frozen=VALUES(frozen),"
        " margin=VALUES(margin), commission=VALUES(commission), realized_pnl=VALUES(realized_pnl),"
        " unrealized_pnl=VALUES(unrealized_pnl), trading_day=VALUES(trading_day), updated_at=VALUES(updated_at)",
        ("gateway", "accountid", "balance", "available", "frozen", "margin", "commission", "realized_pnl",
         "unrealized_pnl", "trading_day", "updated_at"),
    ),
    "snapshot": (
        "INSERT INTO account_snapshots (uid, ts, trading_day, gateway, accountid, balance, available,"
        " frozen, margin, commission, realized_pnl, unrealized_pnl) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        + NOOP,
        ("uid", "ts", "trading_day", "gateway", "accountid", "balance", "available", "frozen", "margin",
         "commission", "realized_pnl", "unrealized_pnl"),
    ),
    "trigger": (
        "INSERT INTO strategy_triggers (uid, ts, trading_day, strategy, vt_symbol, condition_, price,"
        " volume, action, result, vt_orderids, error) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)" + NOOP,
        ("uid", "ts", "trading_day", "strategy", "vt_symbol", "condition", "price", "volume", "action",
         "result", "vt_orderids", "error"),
    ),
    "trigger_result": (
        "UPDATE strategy_triggers SET result=%s, error=%s WHERE uid=%s",
        ("result", "error", "uid"),
    ),
    "system_event": (
        "INSERT INTO system_events (uid, ts, level, kind, message, detail) VALUES (%s,%s,%s,%s,%s,%s)" + NOOP,
        ("uid", "ts", "level", "event_kind", "message", "detail"),
    ),
    "audit": (
        "INSERT INTO command_audit (uid, command_id, type, params, source, operator, issued_at,"
        " received_at, status, reason, result, replied_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)" + NOOP,
        ("uid", "command_id", "type", "params", "source", "operator", "issued_at", "received_at", "status",
         "reason", "result", "replied_at"),
    ),
    "strategy_config": (
        "INSERT INTO strategy_configs (name, class_name, vt_symbol, setting, updated_at) VALUES (%s,%s,%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE class_name=VALUES(class_name), vt_symbol=VALUES(vt_symbol),"
        " setting=VALUES(setting), updated_at=VALUES(updated_at)",
        ("name", "class_name", "vt_symbol", "setting", "updated_at"),
    ),
}
# Updates run after the inserts of the same batch (a trigger's result after the trigger itself).
KIND_ORDER = [k for k in STATEMENTS if k != "trigger_result"] + ["trigger_result"]
# Server error codes that mean "try again later", not "this row is wrong".
TRANSIENT_CODES = {1040, 1053, 1205, 1213, 1290, 1927}


def is_transient(exc: BaseException) -> bool:
    """Connection trouble (retry later) as opposed to a record MySQL refuses (never retry)."""
    if isinstance(exc, OSError | pymysql.err.InterfaceError):
        return True
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return code >= 2000 or code in TRANSIENT_CODES


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def row_of(record: dict[str, Any]) -> tuple[Any, ...]:
    _, columns = STATEMENTS[record["kind"]]
    return tuple(_cell(record.get(column)) for column in columns)


class MysqlWriter(threading.Thread):
    """Owns every write to MySQL. `put()` is cheap and thread-safe."""

    def __init__(
        self,
        connect: Callable[[], pymysql.Connection],
        spool: Spool,
        rejected: Spool,
        batch_size: int = 500,
        flush_interval_s: float = 0.05,
        retry_interval_s: float = 2.0,
        on_state: Callable[[bool, str], None] | None = None,
    ) -> None:
        super().__init__(name="arbig-mysql-writer", daemon=True)
        self._connect = connect
        self._conn: pymysql.Connection | None = None
        self.spool = spool
        self.rejected = rejected  # records MySQL refused as invalid: kept for inspection, never retried
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_interval_s = retry_interval_s
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._halt = threading.Event()
        self._on_state = on_state
        self.ok = True
        self.last_error = ""
        self.written = 0  # records handled: written, or kept aside as a conflict or as refused
        self.conflicts = 0
        self._next_retry = 0.0
        self._conflict_lock = threading.Lock()
        self._on_conflict: Callable[[Conflict], None] | None = None
        self._held_conflicts: list[Conflict] = []  # found before a handler was set

    # ------------------------------------------------------------ API
    def set_conflict_handler(self, handler: Callable[[Conflict], None]) -> None:
        """Who hears about colliding records (also those found before this call, e.g. in the spool)."""
        with self._conflict_lock:
            self._on_conflict, held, self._held_conflicts = handler, self._held_conflicts, []
        for conflict in held:
            self._report(conflict)

    def put(self, record: dict[str, Any]) -> None:
        self._queue.put(record)

    @property
    def backlog(self) -> int:
        return len(self.spool) + self._queue.qsize()

    def stop(self, timeout: float = 3.0) -> None:
        self._halt.set()
        self.join(timeout)

    # ------------------------------------------------------------ thread
    def run(self) -> None:
        while not self._halt.is_set():
            batch = self._take(self.batch_size, self.flush_interval_s)
            try:
                self._handle(batch)
            except Exception:  # never let the writer die: spool and carry on
                log.exception("mysql writer: unexpected error; batch kept in the spool")
                self.spool.append(batch)
        self._final_flush()

    def _take(self, limit: int, wait_s: float) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        try:
            batch.append(self._queue.get(timeout=wait_s))
            while len(batch) < limit:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return batch

    def _handle(self, batch: list[dict[str, Any]]) -> None:
        if len(self.spool):
            self.spool.append(batch)
            if time.monotonic() >= self._next_retry:
                self._drain_spool()
            return
        if batch and not self._write(batch):
            self.spool.append(batch)

    def _drain_spool(self) -> None:
        records = self.spool.read_all()
        for start in range(0, len(records), self.batch_size):
            if not self._write(records[start:start + self.batch_size]):
                return
        self.spool.clear()
        log.info("mysql writer: spool drained, %d records written", len(records))

    def _final_flush(self) -> None:
        batch = self._take(1_000_000, 0.0)
        if len(self.spool):
            self.spool.append(batch)
            self._drain_spool()
        elif batch and not self._write(batch):
            self.spool.append(batch)
        self._drop_connection()

    # ------------------------------------------------------------ writing
    def _write(self, records: list[dict[str, Any]]) -> bool:
        """Write one batch; False (and schedule a retry) when MySQL is unreachable."""
        try:
            if self._conn is None:
                self._conn = self._connect()
            kept = self._screen(records)
            grouped: dict[str, list[tuple[Any, ...]]] = {}
            for record in kept:
                grouped.setdefault(record["kind"], []).append(row_of(record))
            try:
                self._execute(grouped)
            except pymysql.err.MySQLError as exc:
                if is_transient(exc):
                    raise
                log.error("mysql writer: batch refused (%s); writing its records one by one", exc)
                self._write_one_by_one(kept)
            self.written += len(records)
            self._set_ok(True, "")
            return True
        except (OSError, pymysql.err.MySQLError) as exc:
            if not is_transient(exc):
                raise
            self._drop_connection()
            self._next_retry = time.monotonic() + self.retry_interval_s
            self._set_ok(False, f"MySQL unreachable: {exc.args[-1] if exc.args else exc}")
            return False

    def _screen(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records to write: colliding trades and orders are kept aside and reported instead."""
        if not any(r.get("kind") in conflicts.IDENTITIES for r in records):
            return records
        assert self._conn is not None
        with self._conn.cursor() as cur:
            try:
                kept, found = conflicts.screen(cur, records)
            except pymysql.err.MySQLError as exc:
                if is_transient(exc):
                    raise
                log.error("mysql writer: could not look for colliding records (%s); writing the batch as it is", exc)
                return records
            fresh = [conflict for conflict in found if self._keep_conflict(cur, conflict)]
        for conflict in fresh:
            self.conflicts += 1
            self._report(conflict)
        return kept

    def _keep_conflict(self, cur: pymysql.cursors.Cursor, conflict: Conflict) -> bool:
        """Store the newcomer in record_conflicts; True the first time this newcomer is seen."""
        try:
            return conflicts.store(cur, conflict)
        except pymysql.err.MySQLError as exc:
            if is_transient(exc):
                raise
            self.rejected.append([{"record": conflict.received, "error": f"conflict not stored: {exc}"}])
            log.error("mysql writer: %s; could not store it (%s), kept in %s", conflict.message, exc,
                      self.rejected.path)
            return True

    def _report(self, conflict: Conflict) -> None:
        with self._conflict_lock:
            handler = self._on_conflict
            if handler is None:
                self._held_conflicts.append(conflict)
                log.error("mysql writer: %s", conflict.message)
                return
        try:
            handler(conflict)
        except Exception:  # the writer must carry on whatever the handler does
            log.exception("mysql writer: conflict handler failed for: %s", conflict.message)

    def _execute(self, grouped: dict[str, list[tuple[Any, ...]]]) -> None:
        assert self._conn is not None
        with self._conn.cursor() as cur:
            for kind in KIND_ORDER:
                if kind in grouped:
                    cur.executemany(STATEMENTS[kind][0], grouped[kind])

    def _write_one_by_one(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            try:
                self._execute({record["kind"]: [row_of(record)]})
            except pymysql.err.MySQLError as exc:
                if is_transient(exc):
                    raise
                self.rejected.append([{"record": record, "error": str(exc)}])
                log.error("mysql writer: record of kind %s rejected by MySQL (%s); kept in %s",
                          record.get("kind"), exc, self.rejected.path)

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # the connection may already be broken
                self._conn.close()
        self._conn = None

    def _set_ok(self, ok: bool, error: str) -> None:
        changed = ok != self.ok
        self.ok, self.last_error = ok, error
        if changed:
            if ok:
                log.info("mysql writer: MySQL reachable again")
            else:
                log.error("mysql writer: %s; buffering records in %s", error, self.spool.path)
            if self._on_state:
                self._on_state(ok, error)
