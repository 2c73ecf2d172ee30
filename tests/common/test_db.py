"""Schema migrations against the real MariaDB: applied once, safe to re-run, money as DECIMAL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.config import MysqlConfig
from common.db import Database, connect, migrate, migration_files
from tests.conftest import unique


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


@pytest.fixture
def fresh_cfg(mysql_cfg: MysqlConfig) -> Iterator[MysqlConfig]:
    """A database name nobody has migrated yet (dropped afterwards)."""
    cfg = mysql_cfg.model_copy(update={"database": unique("arbig_fresh_")})
    yield cfg
    with connect(cfg, database=None) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{cfg.database}`")


def test_two_concurrent_starts_apply_each_migration_once(fresh_cfg: MysqlConfig) -> None:
    versions = [v for v, _ in migration_files()]
    with ThreadPoolExecutor(2) as pool:  # core and web starting together, each on its own connection
        results = list(pool.map(lambda _: migrate(fresh_cfg), range(2)))
    assert sorted(results[0] + results[1]) == versions, "every version applied exactly once"
    assert migrate(fresh_cfg) == []


def test_a_lock_holder_that_died_does_not_block_the_next_start(fresh_cfg: MysqlConfig) -> None:
    with connect(fresh_cfg, database=None) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{fresh_cfg.database}`")
    dead = connect(fresh_cfg)
    with dead.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0)", (f"arbig_migrate_{fresh_cfg.database}",))
        assert cur.fetchone()[0] == 1
    dead.close()  # a process killed mid-migration: the server releases its lock with the connection
    assert migrate(fresh_cfg) == [v for v, _ in migration_files()]
