"""Schema migrations against the real MariaDB: applied once, safe to re-run, money as DECIMAL."""

from __future__ import annotations

from common.config import MysqlConfig
from common.db import Database, migrate, migration_files


def test_migrations_are_recorded_and_idempotent(mysql_cfg: MysqlConfig, db: Database) -> None:
    versions = [v for v, _ in migration_files()]
    rows = db.query("SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in rows] == versions
    assert migrate(mysql_cfg) == []  # nothing left to apply


def test_schema_has_the_system_of_record_tables(db: Database) -> None:
    tables = {r["t"] for r in db.query("SELECT table_name AS t FROM information_schema.tables "
                                       "WHERE table_schema = DATABASE()")}
    for name in ("accounts", "positions", "trades", "orders", "account_snapshots", "strategy_configs",
                 "strategy_triggers", "system_events", "command_audit"):
        assert name in tables
    price = db.query("SELECT data_type AS d, numeric_scale AS s FROM information_schema.columns "
                     "WHERE table_schema = DATABASE() AND table_name='trades' AND column_name='price'")[0]
    assert price["d"] == "decimal" and price["s"] == 4
    ts = db.query("SELECT datetime_precision AS p FROM information_schema.columns "
                  "WHERE table_schema = DATABASE() AND table_name='trades' AND column_name='ts'")[0]
    assert ts["p"] == 3
