"""Position sync: our open lots (built from our recorded trades) against the broker's positions.

Every `sync.position_interval_s` the lots in MySQL (`position_lots`) are compared, per contract and
direction, with the positions the broker last stated (vnpy's OmsEngine: CTP's position replies that
vnpy polls, the sim's pushes). A difference of more than `drift_threshold_lots`:
- is acted on only when it is stable: the same difference at two checks in a row with no trade of
  the contract in between (none unbooked on the writer's queue, none new in OmsEngine), so a
  position reply racing a fill never counts; the first sight asks the order/trade query fallback
  to run at once (`order_sync.request_now`), so a trade the push missed is recovered first;
- then raises CONSISTENCY_DRIFT (once per `drift_window_s`; cleared when the difference heals);
- our lots above the broker's, once a query answered after the difference was first seen and
  found nothing: the surplus is closed in the records (`external_close`, EXIT_REASON
  external_close) and an EXTERNAL_CLOSE risk event raised;
- the broker's above ours: the writer carries the missing lots in from the broker's statement
  (`position_reconcile`), reported back here as POSITION_ADOPTED.
`report()` is the read-only comparison (command sync.check, `cli positions` / `sync --dry-run`);
`apply()` acts on every difference at once, without the stability wait (command sync.apply).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import pymysql
from vnpy.trader.engine import MainEngine

from common.config import SyncConfig
from common.contract import PositionComparison, RiskEventType, SideVolume, SyncReport, now_ms, position_field
from common.lifecycle import LoopThread
from core_service import external_close
from core_service import serializers as ser
from core_service.mysql_writer import MysqlWriter
from core_service.position_reconcile import PositionReport
from core_service.recorder import Recorder
from core_service.records import PositionAdoptRecord
from core_service.risk_events import RiskDesk

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # symbol, exchange, direction
OUR_LOTS = (
    "SELECT symbol, exchange, direction, SUM(remaining) AS volume,"
    " SUM(CASE WHEN open_trading_day < %s THEN remaining ELSE 0 END) AS yd"
    " FROM position_lots WHERE gateway = %s AND remaining > 0 GROUP BY symbol, exchange, direction"
)


class QueryFallback(Protocol):
    last_completed: float

    def request_now(self) -> None: ...


@dataclass
class Drift:
    difference: float
    fingerprint: tuple[int, int]
    first_seen: float  # monotonic
    seen: int = 1


def _side(volume: float, yd: float) -> SideVolume:
    return SideVolume(volume=volume, yd=yd, td=volume - yd)


class PositionSync:
    def __init__(self, config: SyncConfig, main_engine: MainEngine, gateway_name: str, db_connect: Callable[[], Any],
                 writer: MysqlWriter, recorder: Recorder, risk: RiskDesk, trading_day: Callable[[], str],
                 clock: Callable[[], float], queries: QueryFallback | None = None) -> None:
        self.config = config
        self.main_engine = main_engine
        self.gateway_name = gateway_name
        self.db_connect = db_connect
        self.writer = writer
        self.recorder = recorder
        self.risk = risk
        self.trading_day = trading_day  # YYYY-MM-DD
        self.clock = clock
        self.queries = queries
        self.drifts: dict[Key, Drift] = {}
        self.checks = 0
        self._lock = threading.Lock()  # one comparison at a time (the thread, sync.check, sync.apply)
        self._thread = LoopThread("arbig-position-sync", what="position sync", step=self.check, logger=log,
                                  interval_s=config.position_interval_s)
        recorder.position_check_listeners.append(self._on_position_check)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._thread.stop(timeout)

    # ------------------------------------------------------------ the comparison
    def _ours(self, day: str) -> dict[Key, SideVolume]:
        conn = self.db_connect()
        try:
            with conn.cursor() as cur:
                cur.execute(OUR_LOTS, (day, self.gateway_name))
                rows = cur.fetchall()
        finally:
            conn.close()
        return {(str(r[0]), str(r[1]), str(r[2])): _side(float(r[3]), float(r[4])) for r in rows}

    def _broker(self) -> dict[Key, SideVolume]:
        found: dict[Key, SideVolume] = {}
        for position in self.main_engine.get_all_positions():
            if position.gateway_name == self.gateway_name and position.volume:
                key = (position.symbol, position.exchange.value, position.direction.name)
                found[key] = _side(float(position.volume), float(position.yd_volume))
        return found

    def _fingerprint(self, symbol: str) -> tuple[int, int]:
        """(trades of `symbol` OmsEngine has seen, trades of it not booked yet): a trade between two
        checks changes it."""
        seen = sum(1 for trade in self.main_engine.get_all_trades() if trade.symbol == symbol)
        return seen, self.writer.reconciler.unbooked(self.gateway_name, symbol)

    def compare(self) -> list[PositionComparison]:
        """Every position on either side, ours beside the broker's (reads MySQL)."""
        ours = self._ours(self.trading_day())
        broker = self._broker()
        rows = []
        for key in sorted(set(ours) | set(broker)):
            symbol, exchange, direction = key
            mine, theirs = ours.get(key, _side(0, 0)), broker.get(key, _side(0, 0))
            difference = mine.volume - theirs.volume
            unbooked = self.writer.reconciler.unbooked(self.gateway_name, symbol)
            action = "none"
            if abs(difference) > self.config.drift_threshold_lots:
                if unbooked:
                    action = "wait"
                elif difference > 0:
                    action = "external_close"  # `sync.external_close` says whether the periodic check may
                else:
                    action = "adopt"
            rows.append(PositionComparison(
                vt_symbol=f"{symbol}.{exchange}", direction=cast(Literal["LONG", "SHORT"], direction), ours=mine,
                broker=theirs, difference=difference, unbooked_trades=unbooked, action=action, message=_describe(action, difference)))
        return rows

    def report(self) -> SyncReport:
        with self._lock:
            rows = self.compare()
        return SyncReport(gateway=self.gateway_name, positions=rows,
                          differences=sum(1 for r in rows if r.difference != 0))

    def apply(self) -> SyncReport:
        """Act on every difference now (the operator's `sync`)."""
        with self._lock:
            rows = self.compare()
            notes = [self._act(row, "operator") for row in rows if row.action in ("external_close", "adopt")]
        return SyncReport(gateway=self.gateway_name, positions=rows, applied=True, notes=notes,
                          differences=sum(1 for r in rows if r.difference != 0))

    # ------------------------------------------------------------ the periodic check
    def check(self) -> None:
        if not self.writer.ok:
            self.risk.raise_event(RiskEventType.POSITION_SYNC_FAILED, "position sync skipped: MySQL unreachable"
                                  " (our lots cannot be read)", key="POSITION_SYNC_FAILED:mysql", window_s=600.0)
            return
        with self._lock:
            try:
                rows = self.compare()
            except pymysql.err.MySQLError as exc:
                self.risk.raise_event(RiskEventType.POSITION_SYNC_FAILED, f"position sync failed: {exc}",
                                      key="POSITION_SYNC_FAILED:mysql", window_s=600.0)
                return
            self.checks += 1
            differing = {(r.vt_symbol, r.direction): r for r in rows if r.action != "none" or r.difference}
            for key in list(self.drifts):
                vt_symbol = f"{key[0]}.{key[1]}"
                row = differing.get((vt_symbol, key[2]))
                if row is None or abs(row.difference) <= self.config.drift_threshold_lots:
                    self._healed(key)
            for row in differing.values():
                if abs(row.difference) > self.config.drift_threshold_lots:
                    self._drift(row)

    def _key(self, row: PositionComparison) -> Key:
        symbol, exchange = row.vt_symbol.split(".")
        return symbol, exchange, row.direction

    def _healed(self, key: Key) -> None:
        self.drifts.pop(key, None)
        self.risk.clear(_drift_key(key), "our records and the broker's position agree again")

    def _drift(self, row: PositionComparison) -> None:
        key = self._key(row)
        fingerprint = self._fingerprint(key[0])
        now = self.clock()
        drift = self.drifts.get(key)
        if drift is None or drift.difference != row.difference or drift.fingerprint != fingerprint:
            self.drifts[key] = Drift(row.difference, fingerprint, now)
            if self.queries is not None:
                self.queries.request_now()  # recover a trade the push missed before acting
            return
        drift.seen += 1
        self.risk.raise_event(
            RiskEventType.CONSISTENCY_DRIFT, f"{row.vt_symbol} {row.direction}: our records hold"
            f" {row.ours.volume:g} lot(s), the broker {row.broker.volume:g} (difference {row.difference:+g})",
            key=_drift_key(key), severity="CRITICAL", symbol=row.vt_symbol, window_s=self.config.drift_window_s,
            ours=row.ours.model_dump(), broker=row.broker.model_dump(), difference=row.difference)
        queried = self.queries is None or self.queries.last_completed > drift.first_seen
        if row.action == "external_close" and self.config.external_close and queried and fingerprint[1] == 0:
            self._act(row, "auto")

    # ------------------------------------------------------------ acting
    def _act(self, row: PositionComparison, source: str) -> str:
        symbol, exchange, direction = self._key(row)
        if row.action == "adopt":
            stated = self.recorder.position_records.get(position_field(row.vt_symbol, direction))
            if stated is None:
                return f"{row.vt_symbol} {direction}: no broker statement to adopt from yet"
            self.writer.put(PositionAdoptRecord(**stated.model_dump(exclude={"kind"})))
            return f"{row.vt_symbol} {direction}: {-row.difference:g} lot(s) the broker holds carried in"
        tick = self.main_engine.get_tick(row.vt_symbol)
        price = (tick.last_price or tick.pre_close) if tick else 0.0
        if not price:
            return f"{row.vt_symbol} {direction}: no price yet to close {row.difference:g} lot(s) at; not closed"
        day = self.trading_day()
        self.writer.put(external_close.record(
            self.gateway_name, symbol, exchange, direction, row.broker.volume, row.broker.yd, day, price,
            ser.ms_to_db(now_ms()), source))
        self.risk.raise_event(
            RiskEventType.EXTERNAL_CLOSE, f"{row.vt_symbol} {direction}: the broker no longer holds"
            f" {row.difference:g} of our {row.ours.volume:g} lot(s) (holds {row.broker.volume:g}); closed in the"
            f" records at {price:.2f} (exit reason external_close, {source})",
            key=f"EXTERNAL_CLOSE:{row.vt_symbol}:{direction}:{day}:{row.ours.volume:g}:{row.broker.volume:g}",
            severity="CRITICAL", symbol=row.vt_symbol, window_s=86_400.0, closed=row.difference, price=price,
            source=source)
        return f"{row.vt_symbol} {direction}: {row.difference:g} lot(s) closed in the records at {price:.2f}"

    def _on_position_check(self, report: PositionReport) -> None:
        """The writer's reconciliation reports (writer's thread): lots carried in become POSITION_ADOPTED."""
        if report.event_kind == "position_carried_in":
            d = report.detail
            vt_symbol = f"{d.get('symbol')}.{d.get('exchange')}"
            self.risk.raise_event(RiskEventType.POSITION_ADOPTED, report.message, symbol=vt_symbol,
                                  key=f"POSITION_ADOPTED:{vt_symbol}:{d.get('direction')}:{d.get('at')}",
                                  window_s=86_400.0, statement={k: str(v) for k, v in d.items()})


def _drift_key(key: Key) -> str:
    return f"CONSISTENCY_DRIFT:{key[0]}.{key[1]}:{key[2]}"


def _describe(action: str, difference: float) -> str:
    if action == "external_close":
        return f"the broker holds {difference:g} lot(s) fewer: close them in the records (external_close)"
    if action == "adopt":
        return f"the broker holds {-difference:g} lot(s) more: carry them in (opened before recording)"
    if action == "wait":
        return "trades of this contract are still being written: compare again shortly"
    return "in agreement" if not difference else f"difference {difference:+g} within the drift threshold"

