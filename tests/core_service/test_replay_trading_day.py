"""A replayed day is recorded under its own trading day (issue 12, one clock): the real core replays
the shared au2206 file of 2022-02-18 with a trading strategy, and every recorded row of every table
with a trading day (orders, trades, strategy triggers, account snapshots and the rest) carries
2022-02-18, never the wall clock's day."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from common.config import MysqlConfig
from common.db import Database
from tests.core_service.test_replay_equity import run_replay

DAY = date(2022, 2, 18)
MUST_HAVE_ROWS = ("orders", "trades", "strategy_triggers", "account_snapshots")
DAY_COLUMNS = ("trading_day", "open_trading_day")


def day_columns(db: Database, schema: str) -> list[tuple[str, str]]:
    """(table, column) of every trading-day column of the schema."""
    rows = db.query("SELECT table_name AS t, column_name AS c FROM information_schema.columns"
                    " WHERE table_schema = %s AND column_name IN %s ORDER BY table_name, column_name",
                    [schema, DAY_COLUMNS])
    return [(str(r["t"]), str(r["c"])) for r in rows]


def test_every_record_of_a_replayed_day_is_stamped_with_that_day(
        config_dict: dict[str, Any], mysql_cfg: MysqlConfig, tmp_path: Path) -> None:
    run_replay(config_dict, tmp_path / "run")
    db = Database(mysql_cfg)
    try:
        columns = day_columns(db, mysql_cfg.database)
        counts = {table: int(db.query(f"SELECT COUNT(*) AS n FROM `{table}`")[0]["n"])
                  for table in MUST_HAVE_ROWS}
        days = {(table, column): db.query(f"SELECT `{column}` AS d, COUNT(*) AS n FROM `{table}`"
                                          f" WHERE `{column}` IS NOT NULL GROUP BY `{column}`")
                for table, column in columns}
    finally:
        db.close()
    assert {table for table, _ in columns} >= set(MUST_HAVE_ROWS)
    assert all(counts[table] > 0 for table in MUST_HAVE_ROWS), f"the replay should record these: {counts}"
    for table in MUST_HAVE_ROWS:  # the trading day is a required column of these: no row without it
        assert sum(int(r["n"]) for r in days[(table, "trading_day")]) == counts[table], table
    wrong = {f"{table}.{column}": {str(r["d"]): int(r["n"]) for r in rows}
             for (table, column), rows in days.items() if any(r["d"] != DAY for r in rows)}
    assert not wrong, f"rows of the replayed day stamped with another trading day: {wrong}"
