"""Shared fixtures: a throwaway MariaDB database and a throwaway Redis key prefix per test.

Servers come from ARBIG_TEST_MYSQL_HOST/PORT and ARBIG_TEST_REDIS_HOST/PORT (defaults: the local
ones on 127.0.0.1). Nothing here mocks a server: tests talk to the real MariaDB and Redis.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# vnpy fixes its TRADER_DIR at first import (the cwd if it holds .vntrader/) and MainEngine
# chdirs there: give the whole test session one throwaway vnpy home before anything imports vnpy.
VNPY_HOME = Path(tempfile.mkdtemp(prefix="arbig-test-vnpy-"))
(VNPY_HOME / ".vntrader").mkdir()
(VNPY_HOME / ".vntrader" / "vt_setting.json").write_text(
    json.dumps({"log.console": False, "log.file": False, "database.name": "sqlite"}), encoding="utf-8"
)
_cwd = os.getcwd()
os.chdir(VNPY_HOME)
import vnpy.trader.utility  # noqa: E402,F401  (fixes TRADER_DIR = VNPY_HOME)

os.chdir(_cwd)

from common.config import MysqlConfig, RedisConfig  # noqa: E402
from common.contract import Keys  # noqa: E402
from common.db import Database, migrate  # noqa: E402
from tests.helpers import deep_merge  # noqa: E402


def _shared_data() -> Path:
    """The real SHFE data the replay tests read (never copied into the repo): ARBIG_SHARED_DATA, else
    ../shared/data beside the checkout, else the workplace's /work/shared/data (a clone made elsewhere)."""
    if os.environ.get("ARBIG_SHARED_DATA"):
        return Path(os.environ["ARBIG_SHARED_DATA"])
    for candidate in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data"  # missing: the replay tests fail naming this path


SHARED_DATA = _shared_data()
MYSQL_HOST = os.environ.get("ARBIG_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("ARBIG_TEST_MYSQL_PORT", "3306"))
REDIS_HOST = os.environ.get("ARBIG_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("ARBIG_TEST_REDIS_PORT", "6379"))
REDIS_DB = int(os.environ.get("ARBIG_TEST_REDIS_DB", "0"))


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def mysql_cfg() -> Iterator[MysqlConfig]:
    """A freshly migrated throwaway database, dropped afterwards."""
    cfg = MysqlConfig(host=MYSQL_HOST, port=MYSQL_PORT, user="root", database=unique("arbig_test_"))
    migrate(cfg)
    yield cfg
    conn = pymysql.connect(host=cfg.host, port=cfg.port, user=cfg.user, password="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{cfg.database}`")
    conn.close()


@pytest.fixture
def db(mysql_cfg: MysqlConfig) -> Iterator[Database]:
    database = Database(mysql_cfg)
    yield database
    database.close()


def _drop_keys(client: redis.Redis, prefix: str) -> None:
    for pattern in Keys(prefix).all_patterns():
        found = list(client.scan_iter(match=pattern, count=1000))
        if found:
            client.delete(*found)


@pytest.fixture
def redis_cfg() -> Iterator[RedisConfig]:
    """A unique key prefix; every key under it is deleted afterwards (whoever wrote it)."""
    cfg = RedisConfig(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, key_prefix=unique("arbig_test:") + ":")
    yield cfg
    client = redis.Redis(host=cfg.host, port=cfg.port, db=cfg.db)
    _drop_keys(client, cfg.key_prefix)
    client.close()


@pytest.fixture
def redis_client(redis_cfg: RedisConfig) -> Iterator[redis.Redis]:
    client = redis.Redis(host=redis_cfg.host, port=redis_cfg.port, db=redis_cfg.db, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def keys(redis_cfg: RedisConfig) -> Keys:
    return Keys(redis_cfg.key_prefix)


@pytest.fixture
def config_dict(tmp_path: Path, mysql_cfg: MysqlConfig, redis_cfg: RedisConfig) -> dict[str, Any]:
    """An app configuration pointing at the throwaway database, prefix and runtime folder."""
    return {
        "market_data": {"main_contract": "au2702", "contract_multiplier": 1000, "exchange": "SHFE"},
        "gateway": {"name": "sim", "login_timeout_s": 10, "sim": {"tick_interval_ms": 100, "seed": 7}},
        "redis": redis_cfg.model_dump(),
        "mysql": mysql_cfg.model_dump(),
        "core": {"runtime_dir": str(tmp_path / "runtime"), "command_ttl_s": 5, "config_poll_s": 0.2},
        "strategies": [],
    }


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    return deep_merge(base, override)
