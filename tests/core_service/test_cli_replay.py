"""`cli replay`: a recorded SHFE day through the real core (run as the trader runs it, in a subprocess:
vnpy is already imported in this process), into throwaway records that are gone afterwards (kept with
--keep); bad input is refused before anything is created."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pymysql
import pytest
import redis

from common.config import MysqlConfig
from tests.conftest import ROOT, SHARED_DATA
from tests.helpers import write_config

REPLAY = SHARED_DATA / "shfe_ticks_20220218" / "au2206_20220218_L1.csv"
STRATEGY = "AuTickBreakoutStrategy"
SETTING = '{"window_ticks": 20}'  # trades dozens of times on this file
REPLAY_TIMEOUT_S = 300
DAY = date(2022, 2, 18)


@pytest.fixture
def config_file(config_dict: dict[str, Any], tmp_path: Path) -> Path:
    """The test servers (MySQL, Redis); the replay makes its own database and prefix on them."""
    return write_config(tmp_path / "arbig.json", config_dict)


def replay(config_file: Path, *args: str, timeout: float = REPLAY_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARBIG_CONFIG"} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "core_service.cli", "replay", *args, "--config", str(config_file)],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=timeout)


def replay_databases(cfg: MysqlConfig) -> set[str]:
    conn = pymysql.connect(host=cfg.host, port=cfg.port, user=cfg.user, password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE 'arbig\\_replay\\_%'")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def drop_database(cfg: MysqlConfig, name: str) -> None:
    assert name.startswith("arbig_replay_")
    conn = pymysql.connect(host=cfg.host, port=cfg.port, user=cfg.user, password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def prefix_keys(client: redis.Redis, prefix: str) -> list[str]:
    return list(client.scan_iter(match=f"{prefix}*", count=1000))


def file_ticks() -> int:
    with REPLAY.open(newline="", encoding="utf-8") as handle:
        return sum(1 for row in csv.DictReader(handle) if row["InstrumentID"] == "au2206")


def test_replay_prints_trades_and_statistics_then_removes_its_records(
        config_file: Path, mysql_cfg: MysqlConfig, redis_client: redis.Redis) -> None:
    done = replay(config_file, str(REPLAY), "--strategy", STRATEGY, "--setting", SETTING, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["contract"], out["strategy"], out["ticks"]) == ("au2206", STRATEGY, file_ticks())
    assert out["setting"]["window_ticks"] == 20
    trades = out["trades"]
    assert len(trades) >= 4, trades
    assert all(datetime.fromisoformat(t["time"]).date() == DAY for t in trades)  # exchange time, China
    assert {t["strategy"] for t in trades} == {STRATEGY}
    closing = [t for t in trades if t["offset"] != "OPEN"]
    assert closing and out["report"]["trades"]["closed_trades"] == len(closing)
    assert set(out["report"]["by_strategy"]) == {STRATEGY}
    assert out["final_balance"] is not None and out["database"] is None
    name, prefix = f"arbig_replay_{out['run_id']}", f"arbig:replay:{out['run_id']}:"
    assert name in done.stderr  # it said where it wrote
    assert name not in replay_databases(mysql_cfg)
    assert prefix_keys(redis_client, prefix) == []


def test_keep_leaves_the_records_where_it_says(config_file: Path, mysql_cfg: MysqlConfig,
                                                redis_client: redis.Redis) -> None:
    done = replay(config_file, str(REPLAY), "--strategy", STRATEGY, "--setting", SETTING, "--capital", "500000",
                  "--keep")
    kept = re.search(r"Kept: MySQL database (arbig_replay_[0-9a-f]{8}), Redis keys (arbig:replay:[0-9a-f]{8}:)\*",
                     done.stdout)
    try:
        assert done.returncode == 0, done.stderr
        assert kept, done.stdout
        assert kept.group(1) in replay_databases(mysql_cfg)
        assert prefix_keys(redis_client, kept.group(2))
        shown = int(re.search(r"^Trades \((\d+)\)$", done.stdout, re.M).group(1))
        conn = pymysql.connect(host=mysql_cfg.host, port=mysql_cfg.port, user=mysql_cfg.user, password="",
                               database=kept.group(1))
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*), COUNT(DISTINCT strategy), MIN(strategy) FROM trades")
            assert cur.fetchone() == (shown, 1, STRATEGY)
        conn.close()
        assert "capital   500,000.00" in done.stdout
        for label in ("closed trades", "win rate", "profit factor", "expectancy", "net PnL", "commission",
                      "final balance", "max drawdown", "Sharpe / Sortino"):
            assert re.search(rf"^  {re.escape(label)} ", done.stdout, re.M), label
    finally:
        if kept:
            drop_database(mysql_cfg, kept.group(1))
            found = prefix_keys(redis_client, kept.group(2))
            if found:
                redis_client.delete(*found)


@pytest.mark.parametrize(("case", "problem"), [
    ("missing file", "does not exist"),
    ("not a CSV", "is not a CTP level-1 CSV"),
    ("unknown class", "unknown strategy class 'NoSuchStrategy'; known: "),
    ("bad setting JSON", "--setting is not valid JSON"),
    ("unknown parameter", "has no parameter window"),
])
def test_bad_input_is_refused_before_anything_is_created(
        case: str, problem: str, config_file: Path, mysql_cfg: MysqlConfig, tmp_path: Path) -> None:
    notes = tmp_path / "notes.csv"
    notes.write_text("day,price\n20220218,386.8\n", encoding="utf-8")
    args = {
        "missing file": [str(tmp_path / "no_such_day.csv"), "--strategy", STRATEGY],
        "not a CSV": [str(notes), "--strategy", STRATEGY],
        "unknown class": [str(REPLAY), "--strategy", "NoSuchStrategy"],
        "bad setting JSON": [str(REPLAY), "--strategy", STRATEGY, "--setting", '{"window_ticks": 20'],
        "unknown parameter": [str(REPLAY), "--strategy", STRATEGY, "--setting", '{"window": 20}'],
    }[case]
    before = replay_databases(mysql_cfg)
    refused = replay(config_file, *args, timeout=120)
    assert refused.returncode == 2, refused.stderr
    assert problem in refused.stderr
    if case == "unknown class":
        assert STRATEGY in refused.stderr and "AuDualMaStrategy" in refused.stderr  # the known ones listed
    assert refused.stdout == ""
    assert "replay: database" not in refused.stderr  # never got as far as creating one
    assert replay_databases(mysql_cfg) - before == set()
