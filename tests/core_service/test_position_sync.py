"""The position sync end to end on the real core (simulated SHFE gateway, MariaDB, Redis): our lots
against the broker's positions. Lost lots are adopted back (POSITION_ADOPTED); a surplus lot is one
CONSISTENCY_DRIFT per window, reported by `sync.check` without writing anything (no audit row
either), closed by `sync.apply` (audited) as external_close, and the drift is cleared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.contract import CommandStatus, CommandType, SyncReport
from common.db import Database
from tests.conftest import merged
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually

FAST = {"sync": {"position_interval_s": 1, "order_query_interval_s": 2, "drift_window_s": 600}}
EXTRA_LOT = (
    "INSERT INTO position_lots (gateway, symbol, exchange, direction, open_trade_id, open_tradeid, open_ts,"
    " open_trading_day, open_price, size, volume, remaining, commission, commission_left, strategy)"
    " SELECT gateway, symbol, exchange, direction, NULL, NULL, open_ts, open_trading_day, open_price, size, 1, 1,"
    " NULL, NULL, NULL FROM position_lots WHERE remaining > 0 LIMIT 1"
)


def run(config_dict: dict[str, Any], tmp_path: Path, override: dict[str, Any]) -> CoreHarness:
    harness = CoreHarness(merged(merged(config_dict, FAST), override), tmp_path / "arbig.json")
    harness.start()
    return harness


def open_lots(db: Database) -> float:
    return float(db.query("SELECT COALESCE(SUM(remaining), 0) AS v FROM position_lots")[0]["v"])


def risk(db: Database, kind: str) -> list[dict[str, Any]]:
    return db.query("SELECT uid, severity, message, cleared_at FROM risk_events WHERE type = %s ORDER BY id", [kind])


def counts(db: Database) -> tuple[int, ...]:
    """What a sync writes. The reconciler's own `drift` findings are left out: it records one whenever its
    check runs into the surplus lot, independently of any sync command (a race, seen once in a full run)."""
    return tuple(db.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] for table in (
        "positions_closed", "position_reconciliations WHERE kind <> 'drift'", "position_lots", "command_audit"))


def test_a_surplus_lot_is_a_drift_reported_by_the_dry_run_and_closed_by_sync(
        config_dict: dict[str, Any], tmp_path: Path, db: Database) -> None:
    from vnpy.trader.constant import Direction

    h = run(config_dict, tmp_path, {"sync": {"external_close": False}})
    try:
        h.open_position(Direction.LONG, 1)
        eventually(lambda: open_lots(db) == 1, what="the opening booked as a lot")
        db.execute(EXTRA_LOT)  # our records now hold 2, the broker 1
        [drift] = eventually(lambda: risk(db, "CONSISTENCY_DRIFT"), what="the drift raised")
        assert drift["severity"] == "CRITICAL" and "our records hold 2 lot(s), the broker 1" in drift["message"]
        sync = h.app.sync.position_sync  # type: ignore[union-attr]
        checks = sync.checks
        eventually(lambda: sync.checks >= checks + 3, what="three more checks")
        assert len(risk(db, "CONSISTENCY_DRIFT")) == 1 and open_lots(db) == 2  # once per window; not closed

        before = counts(db)
        reply = h.send(CommandType.SYNC_CHECK)
        assert reply.status == CommandStatus.DONE, reply.reason
        report = SyncReport.model_validate(reply.result)
        [row] = report.positions
        assert (row.vt_symbol, row.direction, row.ours.volume, row.broker.volume, row.difference, row.action) == (
            "au2702.SHFE", "LONG", 2, 1, 1, "external_close")
        assert report.differences == 1 and not report.applied
        assert counts(db) == before  # the dry run wrote nothing, not even an audit row

        reply = h.send(CommandType.SYNC_APPLY)
        assert reply.status == CommandStatus.DONE and SyncReport.model_validate(reply.result).applied
        eventually(lambda: open_lots(db) == 1, what="the surplus lot closed in the records")
        [row] = db.query("SELECT exit_reason, volume, close_trade_id FROM positions_closed")
        assert (row["exit_reason"], float(row["volume"]), row["close_trade_id"]) == ("external_close", 1.0, None)
        eventually(lambda: risk(db, "CONSISTENCY_DRIFT")[0]["cleared_at"] is not None, what="the drift cleared")
        assert risk(db, "EXTERNAL_CLOSE")
        assert db.query("SELECT status FROM command_audit WHERE type = 'sync.apply'")[0]["status"] == "done"
        assert SyncReport.model_validate(h.send(CommandType.SYNC_CHECK).result).differences == 0
    finally:
        h.stop()


def test_lost_lots_are_adopted_back_from_the_brokers_position(
        config_dict: dict[str, Any], tmp_path: Path, db: Database) -> None:
    from vnpy.trader.constant import Direction

    h = run(config_dict, tmp_path, {})
    try:
        h.open_position(Direction.SHORT, 2)
        eventually(lambda: open_lots(db) == 2, what="the opening booked as lots")
        db.execute("UPDATE position_lots SET remaining = 0")  # our records lost them
        reply = h.send(CommandType.SYNC_APPLY)
        assert reply.status == CommandStatus.DONE, reply.reason
        eventually(lambda: open_lots(db) == 2, what="the lots carried in again")
        adopted = db.query("SELECT COUNT(*) AS n FROM position_lots WHERE opened_before_recording = 1"
                           " AND remaining > 0")
        assert adopted[0]["n"] >= 1
        [event] = eventually(lambda: risk(db, "POSITION_ADOPTED"), what="POSITION_ADOPTED raised")
        assert "carried in" in event["message"]
    finally:
        h.stop()


def test_the_external_close_drill_is_detected_and_closed_in_the_records_within_15_s(
        config_dict: dict[str, Any], tmp_path: Path, db: Database) -> None:
    """Default intervals (position sync 5 s, order query 15 s): found by the second check after the drill
    (the first sees the difference and asks the order/trade query, the second acts), a third at most if
    the broker's position reply lands just after a check: within 15 s at 5 s a check. Counted in checks,
    not seconds, so a busy machine cannot fail it; the time is printed."""
    import time

    from vnpy.trader.constant import Direction

    harness = CoreHarness(config_dict, tmp_path / "arbig.json")
    harness.start()
    try:
        harness.open_position(Direction.LONG, 2)
        eventually(lambda: open_lots(db) == 2, what="the opening booked as lots")
        reply = harness.send(CommandType.DRILL_EXTERNAL_CLOSE, vt_symbol="au2702.SHFE", direction="LONG", volume=1)
        assert reply.status == CommandStatus.DONE, reply.reason
        drilled, checks = time.monotonic(), harness.app.sync.position_sync.checks  # type: ignore[union-attr]
        [event] = eventually(lambda: risk(db, "EXTERNAL_CLOSE"), timeout=30, what="EXTERNAL_CLOSE raised")
        detected, after = time.monotonic() - drilled, harness.app.sync.position_sync.checks - checks  # type: ignore[union-attr]
        print(f"external close detected {detected:.1f} s ({after} checks) after the drill")
        assert after <= 3
        assert "no longer holds 1 of our 2 lot(s)" in event["message"]
        eventually(lambda: open_lots(db) == 1, what="the lot closed in the records")
        [row] = db.query("SELECT exit_reason, volume, pnl_open IS NOT NULL AS priced FROM positions_closed")
        assert (row["exit_reason"], float(row["volume"]), row["priced"]) == ("external_close", 1.0, 1)
        assert not db.query("SELECT id FROM trades WHERE offset_ <> 'OPEN'")  # no closing trade was ever seen
        assert not risk(db, "MISSED_BY_PUSH")
    finally:
        harness.stop()
