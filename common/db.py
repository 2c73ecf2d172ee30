"""MySQL access: a pymysql connection pool and the versioned schema migrations in `sql/`.

Migrations are files `sql/NNNN_name.sql`, applied in order, each once, recorded in
`schema_migrations`. A MySQL named lock serialises concurrent starts (core and web).

Why this runner and not a migration library (issue 12, weighed against yoyo-migrations 9.0):
- yoyo would give plain-SQL files as now, sqlparse's statement splitting, `yoyo list/apply/mark`
  on the command line, rollback steps and dependencies between migrations (neither is used here).
- It would cost: its lock is a row in a `yoyo_lock` table keyed by pid, so a core killed while
  migrating (SIGKILL, power loss) leaves the lock behind and every later start of core and web
  fails after 10 s until someone runs `yoyo break-lock`; MariaDB's GET_LOCK used here is released
  by the server when the connection dies. It connects through a URI carrying the password (to be
  URL-quoted and kept out of logs) and without our timeouts and `time_zone '+00:00'`; it adds four
  bookkeeping tables (`_yoyo_migrations`, `_yoyo_log`, `_yoyo_version`, `yoyo_lock`) beside
  `schema_migrations`, a permanent bridge marking 0001..0007 applied on existing databases, and
  three dependencies (sqlparse, tabulate, importlib-metadata). Neither tool can roll back a
  half-applied MySQL migration (DDL commits implicitly), so that risk is the same.
- Decision: keep this runner (about 40 lines, tested against the real MariaDB: fresh database,
  re-run, two concurrent starts, a lock holder that died). Revisit if migrations need rollback
  steps or Python code, keeping GET_LOCK around the library's apply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymysql
from dbutils.pooled_db import PooledDB
from pymysql.cursors import DictCursor

from common.config import MysqlConfig, Secrets

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


CONNECT_TIMEOUT_S = 3
IO_TIMEOUT_S = 10  # per socket read or write (not per query): a query streaming rows never hits it


def connect_kwargs(cfg: MysqlConfig, secrets: Secrets | None, database: str | None,
                   connect_timeout: float = CONNECT_TIMEOUT_S, read_timeout: float = IO_TIMEOUT_S,
                   write_timeout: float = IO_TIMEOUT_S) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "host": cfg.host,
        "port": cfg.port,
        "user": cfg.user,
        "password": secrets.mysql_password.get_secret_value() if secrets else "",
        "charset": "utf8mb4",
        "autocommit": True,
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "write_timeout": write_timeout,
        "init_command": "SET time_zone = '+00:00'",
    }
    if database:
        kwargs["database"] = database
    return kwargs


def connect(cfg: MysqlConfig, secrets: Secrets | None = None, database: str | None = "") -> pymysql.Connection:
    """One plain connection; `database=""` means the configured one, None means none."""
    db = cfg.database if database == "" else database
    return pymysql.connect(**connect_kwargs(cfg, secrets, db))


class Database:
    """A small pool of autocommit connections to the configured database. The timeouts are in seconds
    (pymysql's: the handshake and each socket read/write); a caller that must answer fast passes shorter ones."""

    def __init__(self, cfg: MysqlConfig, secrets: Secrets | None = None, max_connections: int = 8, *,
                 connect_timeout: float = CONNECT_TIMEOUT_S, read_timeout: float = IO_TIMEOUT_S,
                 write_timeout: float = IO_TIMEOUT_S) -> None:
        self.cfg = cfg
        self._pool = PooledDB(
            creator=pymysql,
            maxconnections=max_connections,
            blocking=True,
            ping=1,
            **connect_kwargs(cfg, secrets, cfg.database, connect_timeout, read_timeout, write_timeout),
        )

    @contextmanager
    def connection(self) -> Iterator[pymysql.Connection]:
        conn = self._pool.connection()
        try:
            yield conn
        finally:
            conn.close()

    def query(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        with self.connection() as conn, conn.cursor(DictCursor) as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def execute(self, sql: str, args: Any = None) -> int:
        with self.connection() as conn, conn.cursor() as cur:
            return cur.execute(sql, args)

    def executemany(self, sql: str, rows: list[Any]) -> int:
        with self.connection() as conn, conn.cursor() as cur:
            return cur.executemany(sql, rows)

    def close(self) -> None:
        self._pool.close()


def migration_files(sql_dir: Path = SQL_DIR) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = MIGRATION_RE.match(path.name)
        if not match:
            raise RuntimeError(f"migration file name {path.name!r} must look like 0001_name.sql")
        files.append((match.group(1), path))
    return files


def split_statements(text: str) -> list[str]:
    """Split a migration into statements (no procedures or string literals holding ';')."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrate(cfg: MysqlConfig, secrets: Secrets | None = None, sql_dir: Path = SQL_DIR) -> list[str]:
    """Create the database if needed and apply pending migrations; return the versions applied."""
    with connect(cfg, secrets, database=None) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{cfg.database}` CHARACTER SET utf8mb4")
    applied: list[str] = []
    with connect(cfg, secrets) as conn, conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 30)", (f"arbig_migrate_{cfg.database}",))
        if cur.fetchone()[0] != 1:
            raise RuntimeError("could not take the migration lock within 30 s")
        try:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version CHAR(4) NOT NULL PRIMARY KEY, name VARCHAR(128) NOT NULL,"
                " applied_at DATETIME(3) NOT NULL) ENGINE=InnoDB"
            )
            cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            for version, path in migration_files(sql_dir):
                if version in done:
                    continue
                for statement in split_statements(path.read_text(encoding="utf-8")):
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, UTC_TIMESTAMP(3))",
                    (version, path.name),
                )
                log.info("applied schema migration %s", path.name)
                applied.append(version)
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", (f"arbig_migrate_{cfg.database}",))
    return applied
