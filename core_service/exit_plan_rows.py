"""MySQL `exit_plans` (sql/0008_ai_trader.sql) for the core's exit plans (exit_plans.py): written from
a thread of its own, loaded back at start.

`put(key, state)` only records the newest state of a plan (None: removed) and wakes the thread, so
vnpy's event thread never waits on MySQL; the thread upserts or deletes each changed plan's row. A
write that fails (MySQL down) is kept and tried again with a backoff; a newer change of the same plan
replaces it. On stop, what is left is written once more (an error then is logged: the plans in memory
went with the process anyway, and the next start reloads what MySQL has).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pymysql

from common.contract import ExitPlanState
from common.lifecycle import LoopThread
from core_service import serializers as ser

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (vt_symbol, LONG | SHORT)
UPSERT = (
    "INSERT INTO exit_plans (gateway, vt_symbol, direction, stop_loss, take_profit, invalidation, tool_call_id,"
    " triggered, set_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE"
    " stop_loss=VALUES(stop_loss), take_profit=VALUES(take_profit), invalidation=VALUES(invalidation),"
    " tool_call_id=VALUES(tool_call_id), triggered=VALUES(triggered), set_at=VALUES(set_at)"
)
DELETE = "DELETE FROM exit_plans WHERE gateway=%s AND vt_symbol=%s AND direction=%s"
SELECT = ("SELECT vt_symbol, direction, stop_loss, take_profit, invalidation, tool_call_id, triggered, set_at"
          " FROM exit_plans WHERE gateway=%s")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _ms(value: datetime) -> int:
    """A naive UTC DATETIME(3) -> epoch ms."""
    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


class ExitPlanRows(LoopThread):
    def __init__(self, gateway: str, connect: Callable[[], Any]) -> None:
        super().__init__("arbig-exit-plans", what="exit plans: writing to MySQL", interval_s=1.0, wakeable=True,
                         expected_errors=(pymysql.err.MySQLError, OSError), logger=log)
        self.gateway = gateway
        self.connect = connect
        self._dirty: dict[Key, ExitPlanState | None] = {}
        self._lock = threading.Lock()
        self._conn: Any = None

    def put(self, key: Key, state: ExitPlanState | None) -> None:
        """Any thread, never blocks: the plan's newest state (None: its row goes)."""
        with self._lock:
            self._dirty[key] = state
        self.wake()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._dirty)

    def load(self) -> list[ExitPlanState]:
        conn = self.connect()
        try:
            with conn.cursor(pymysql.cursors.DictCursor) as cur:
                cur.execute(SELECT, (self.gateway,))
                rows = list(cur.fetchall())
        finally:
            conn.close()
        plans = []
        for row in rows:
            try:
                plans.append(ExitPlanState(
                    vt_symbol=row["vt_symbol"], direction=row["direction"], stop_loss=_number(row["stop_loss"]),
                    take_profit=_number(row["take_profit"]), invalidation=row["invalidation"],
                    tool_call_id=row["tool_call_id"], triggered=row["triggered"], set_ms=_ms(row["set_at"])))
            except ValueError as exc:  # a row the contract no longer accepts: skipped, said once
                log.error("exit plans: row %s %s skipped: %s", row["vt_symbol"], row["direction"], exc)
        return plans

    def step(self) -> None:
        with self._lock:
            batch, self._dirty = self._dirty, {}
        if not batch:
            return
        try:
            self._write(batch)
        except BaseException:
            with self._lock:  # newer changes win; the failed ones are tried again after the backoff
                self._dirty = {**batch, **self._dirty}
            self._drop_connection()
            raise

    def on_stop(self) -> None:
        try:
            self.step()
        except Exception as exc:
            log.error("exit plans: %d changes not written to MySQL at stop (%s: %s)", self.pending,
                      type(exc).__name__, exc)
        self._drop_connection()

    def _write(self, batch: dict[Key, ExitPlanState | None]) -> None:
        if self._conn is None:
            self._conn = self.connect()
        with self._conn.cursor() as cur:
            for (vt_symbol, direction), state in batch.items():
                if state is None:
                    cur.execute(DELETE, (self.gateway, vt_symbol, direction))
                else:
                    cur.execute(UPSERT, (self.gateway, vt_symbol, direction, state.stop_loss, state.take_profit,
                                         state.invalidation, state.tool_call_id, state.triggered,
                                         ser.ms_to_db(state.set_ms)))
        self._conn.commit()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # already broken
                self._conn.close()
            self._conn = None
