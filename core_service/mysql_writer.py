"""The MySQL writer thread: batches records into multi-row statements; never loses one.

Records are typed (`core_service.records`); the queue and the spool keep their JSON-safe dumps (a spooled
one is validated again when replayed). When MySQL is unreachable, each batch is
appended to the durable spool and retried every few seconds; while the spool holds anything, new
records go behind it so order is kept. At start-up the spool left by an earlier run is drained
first. Every statement is idempotent (unique keys + upserts), so a batch written
twice after a partial failure changes nothing.

A trade or order that collides with the stored one (same identity, other content) is not written
over it: it is kept in `record_conflicts` and handed to the conflict handler (the core raises an
ERROR system event), once. The check runs when the record is written, also from the spool.

Each batch is one transaction. A trade row that is new (not a replay) is booked in the same
transaction: a lot for an opening, `positions_closed` rows for a close (`closed_positions`), so a
close is written exactly once however often its trade arrives, and never lost to a crash or an
outage between the trade and its close. Settlement prices, contracts (`contracts_table`) and the
daily ledger (`pnl_ledger`) are written by code too; a ledger that turned mismatch is handed to the
ledger handler after the commit. Each position record is reconciled with our open lots in the same
transaction (`position_reconcile`: lots the broker holds that no recorded opening covers are carried
in, more lots than the broker holds are a drift), when no trade of its symbol is unbooked (none later
in the batch, none on the queue, not written from the spool); what it finds goes to the position
handler after the commit. `broker_replies` is pruned here: rows older than `reply_keep_days`, in
chunks, between batches.
"""

from __future__ import annotations

import contextlib
import logging
import queue
from collections.abc import Callable
from typing import Any

import pymysql

from common.clock import LIVE, Clock
from common.lifecycle import LoopThread
from core_service import (
    closed_positions,
    conflicts,
    contracts_table,
    external_close,
    pnl_ledger,
    position_reconcile,
)
from core_service.conflicts import Conflict
from core_service.pnl_ledger import LedgerReport
from core_service.position_reconcile import PositionReport, Reconciler
from core_service.records import Record, dump, revalidated
from core_service.spool import Spool
from core_service.writer_statements import KIND_ORDER, STATEMENTS, row_of
from core_service.writer_support import Reporter, is_transient

log = logging.getLogger(__name__)
REPLY_KEEP_DAYS = 7.0  # broker_replies older than this are deleted
PRUNE_INTERVAL_S = 600.0
PRUNE_CHUNK = 5_000  # rows per DELETE: a long backlog is pruned a chunk per loop, between batches

def _latest_ledgers(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the last ledger record of each account and day in a batch: the earlier ones are superseded."""
    latest = {(r.get("gateway"), r.get("accountid"), r.get("trading_day")): r for r in records}
    return list(latest.values())


class MysqlWriter(LoopThread):
    """Owns every write to MySQL; `put()` is cheap and thread-safe. Stopping writes (or spools) the rest."""

    def __init__(
        self,
        connect: Callable[[], pymysql.Connection],
        spool: Spool,
        rejected: Spool,
        batch_size: int = 500,
        flush_interval_s: float = 0.05,
        retry_interval_s: float = 2.0,
        on_state: Callable[[bool, str], None] | None = None,
        reply_keep_days: float = REPLY_KEEP_DAYS,
        prune_interval_s: float = PRUNE_INTERVAL_S,
        clock: Clock = LIVE,
    ) -> None:
        super().__init__("arbig-mysql-writer", what="writing to MySQL", logger=log)
        self.clock = clock
        self._connect = connect
        self._conn: pymysql.Connection | None = None
        self.spool = spool
        self.rejected = rejected  # records MySQL refused as invalid: kept for inspection, never retried
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_interval_s = retry_interval_s
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._on_state = on_state
        self.ok = True
        self.last_error = ""
        self.written = 0  # records handled: written, or kept aside as a conflict or as refused
        self.conflicts = 0
        self.closes = 0  # positions_closed rows written
        self.pruned = 0  # broker_replies rows deleted
        self.reply_keep_days = reply_keep_days
        self.prune_interval_s = prune_interval_s
        self._next_retry = 0.0
        self._next_prune = 0.0
        self._conflicts: Reporter[Conflict] = Reporter(lambda c: c.message)
        self._ledgers: Reporter[LedgerReport] = Reporter(lambda r: r.message)
        self._positions: Reporter[PositionReport] = Reporter(lambda r: r.message)
        self.reconciler = Reconciler()
        self._order: dict[int, tuple[int, bool]] = {}  # the batch's position records: Reconciler.batch

    # ------------------------------------------------------------ API
    def set_conflict_handler(self, handler: Callable[[Conflict], None]) -> None:
        """Who hears about colliding records (also those found before this call, e.g. in the spool)."""
        self._conflicts.set_handler(handler)

    def set_ledger_handler(self, handler: Callable[[LedgerReport], None]) -> None:
        """Who hears about a day's ledger turning mismatch (our figures against the broker's)."""
        self._ledgers.set_handler(handler)

    def set_position_handler(self, handler: Callable[[PositionReport], None]) -> None:
        """Who hears about lots carried in from the broker's positions, and about drifts."""
        self._positions.set_handler(handler)

    def put(self, record: Record) -> None:
        data = dump(record)  # as the spool keeps it
        self.reconciler.put(data)
        self._queue.put(data)

    @property
    def backlog(self) -> int:
        return len(self.spool) + self._queue.qsize()

    def stop(self, timeout: float = 3.0) -> bool:  # the final flush may take a while
        return super().stop(timeout)

    # ------------------------------------------------------------ thread
    def step(self) -> None:
        batch = self._take(self.batch_size, self.flush_interval_s)
        try:
            self._handle(batch)
        except Exception:  # never let the writer die: spool and carry on
            log.exception("mysql writer: unexpected error; batch kept in the spool")
            self.spool.append(batch)
        self._prune()

    def _take(self, limit: int, wait_s: float) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        try:
            batch.append(self._queue.get(timeout=wait_s))
            while len(batch) < limit:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        self.reconciler.taken(batch)
        return batch

    def _handle(self, batch: list[dict[str, Any]]) -> None:
        if len(self.spool):
            self.spool.append(batch)
            if self.clock.monotonic() >= self._next_retry:
                self._drain_spool()
            return
        if batch and not self._write(batch, fresh=True):
            self.spool.append(batch)

    def _drain_spool(self) -> None:
        records = self.spool.read_all()
        for start in range(0, len(records), self.batch_size):
            if not self._write(records[start:start + self.batch_size]):
                return
        self.spool.clear()
        log.info("mysql writer: spool drained, %d records written", len(records))

    def on_stop(self) -> None:  # the final flush
        batch = self._take(1_000_000, 0.0)
        if len(self.spool):
            self.spool.append(batch)
            self._drain_spool()
        elif batch and not self._write(batch):
            self.spool.append(batch)
        self._drop_connection()

    # ------------------------------------------------------------ writing
    def _write(self, records: list[dict[str, Any]], fresh: bool = False) -> bool:
        """Write one batch (`fresh`: not from the spool); False (and schedule a retry) when MySQL is
        unreachable."""
        try:
            if self._conn is None:
                self._conn = self._connect()
            kept = pnl_ledger.settled(self._screen(records if fresh else self._valid(records)))
            self._order = self.reconciler.batch(kept, fresh)
            grouped: dict[str, list[dict[str, Any]]] = {}
            for record in kept:
                grouped.setdefault(record["kind"], []).append(record)
            try:
                self._report_all(self._execute(grouped))
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
            self._next_retry = self.clock.monotonic() + self.retry_interval_s
            self._set_ok(False, f"MySQL unreachable: {exc.args[-1] if exc.args else exc}")
            return False

    def _valid(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Spooled records validated again; one no longer a record is set aside with the reason."""
        kept, refused = revalidated(records)
        if refused:
            self.rejected.append(refused)
            log.error("mysql writer: %d invalid records set aside in %s", len(refused), self.rejected.path)
        return kept

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
            self._conflicts.report(conflict)
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

    def _report_all(self, reports: list[LedgerReport | PositionReport]) -> None:
        for report in reports:
            if isinstance(report, PositionReport):
                self._positions.report(report)
            else:
                self._ledgers.report(report)

    def _execute(self, grouped: dict[str, list[dict[str, Any]]]) -> list[LedgerReport | PositionReport]:
        """Write grouped records in one transaction; the reports to hand on once committed."""
        assert self._conn is not None
        conn = self._conn
        reports: list[LedgerReport | PositionReport] = []
        conn.begin()
        try:
            with conn.cursor() as cur:
                for kind in KIND_ORDER:
                    if grouped.get(kind):
                        self._write_kind(cur, kind, grouped[kind], reports)
            conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):  # a broken connection rolls back by itself
                conn.rollback()
            raise
        return reports

    def _write_kind(self, cur: pymysql.cursors.Cursor, kind: str, records: list[dict[str, Any]],
                    reports: list[LedgerReport | PositionReport]) -> None:
        try:
            if kind == "trade":
                for record in records:
                    cur.execute(STATEMENTS["trade"][0], row_of(record))
                    if cur.rowcount == 1:  # new: not a replay of a stored trade
                        self.closes += closed_positions.apply_trade(cur, record, cur.lastrowid)
                    self.reconciler.trade_written(record)
            elif kind == "position":
                cur.executemany(STATEMENTS[kind][0], [row_of(r) for r in records])
                for record in records:
                    stated = self.reconciler.due(record, *self._order.get(id(record), (-1, False)))
                    if stated and (found := position_reconcile.guarded(cur, stated, is_transient)):
                        reports.append(found)
            elif kind == "external_close":
                for record in records:
                    if found := external_close.book(cur, record):
                        reports.append(found)
            elif kind == "position_adopt":  # the operator's `sync`: act on the broker's latest statement now
                for record in records:
                    stated = position_reconcile.statement_of(record)
                    if stated and stated.trading_day and (found := position_reconcile.guarded(cur, stated,
                                                                                              is_transient)):
                        reports.append(found)
            elif kind == "settlement":
                for record in records:
                    closed_positions.apply_settlement(cur, record)
            elif kind == "contract":
                contracts_table.upsert(cur, records)
            elif kind == "ledger":
                for record in _latest_ledgers(records):
                    report = pnl_ledger.apply_ledger(cur, record)
                    if report is not None:
                        reports.append(report)
            else:
                cur.executemany(STATEMENTS[kind][0], [row_of(r) for r in records])
        except (OSError, pymysql.err.MySQLError):
            raise
        except Exception as exc:  # a record the code cannot book: refused like one MySQL refuses
            raise pymysql.err.DataError(0, f"{kind} record not booked: {exc!r}") from exc

    def _write_one_by_one(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            try:
                self._report_all(self._execute({record["kind"]: [record]}))
            except pymysql.err.MySQLError as exc:
                if is_transient(exc):
                    raise
                self.rejected.append([{"record": record, "error": str(exc)}])
                log.error("mysql writer: record of kind %s rejected by MySQL (%s); kept in %s",
                          record.get("kind"), exc, self.rejected.path)

    def _prune(self) -> None:
        """Delete broker replies older than `reply_keep_days`, a chunk at a time, when MySQL is fine."""
        now = self.clock.monotonic()
        if self.reply_keep_days <= 0 or now < self._next_prune or len(self.spool) or self._conn is None:
            return
        try:
            with self._conn.cursor() as cur:
                deleted = cur.execute(
                    "DELETE FROM broker_replies WHERE received_at < UTC_TIMESTAMP(3) - INTERVAL %s SECOND"
                    " ORDER BY received_at LIMIT %s", (int(self.reply_keep_days * 86400), PRUNE_CHUNK))
        except (OSError, pymysql.err.MySQLError) as exc:
            log.warning("mysql writer: pruning broker_replies failed (%s); trying again later", exc)
            self._next_prune = now + self.prune_interval_s
            if is_transient(exc):
                self._drop_connection()
            return
        self.pruned += deleted
        self._next_prune = now if deleted >= PRUNE_CHUNK else now + self.prune_interval_s

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
