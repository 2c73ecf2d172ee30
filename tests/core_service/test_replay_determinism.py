"""A replay of real SHFE au2206 ticks through the simulated gateway, with a strategy that trades,
produces the same trades in MySQL on two runs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pymysql

from common.config import MysqlConfig
from common.db import Database, migrate
from tests.conftest import SHARED_DATA
from tests.core_service.harness import CoreHarness
from tests.helpers import deep_merge, eventually

REPLAY = SHARED_DATA / "shfe_ticks_20220218" / "au2206_20220218_L1.csv"


def replay_trades(config_dict: dict[str, Any], mysql_cfg: MysqlConfig, workdir: Path) -> list[tuple]:
    config = deep_merge(config_dict, {
        "market_data": {"main_contract": "au2206"},
        "mysql": mysql_cfg.model_dump(),
        "core": {"runtime_dir": str(workdir / "runtime")},
        "gateway": {"sim": {"replay_file": str(REPLAY), "replay_speed": 0}},
        "strategies": [{"name": "ma_replay", "class_name": "AuDualMaStrategy", "auto_init": True,
                        "auto_start": True, "setting": {"fast_window": 2, "slow_window": 5}}],
    })
    workdir.mkdir(parents=True, exist_ok=True)
    core = CoreHarness(config, workdir / "arbig.json")
    core.start(wait_ticks=False)
    try:
        gateway = core.main_engine.get_gateway("SIM")
        assert gateway.replay_done.wait(120), "replay did not finish"
        eventually(lambda: core.app.recorder.backlog == 0 and core.app.writer.backlog == 0)
    finally:
        core.stop()
    db = Database(mysql_cfg)
    try:
        rows = db.query("SELECT ts, direction, offset_, price, volume, strategy FROM trades ORDER BY ts, id")
    finally:
        db.close()
    return [(r["ts"], r["direction"], r["offset_"], str(r["price"]), str(r["volume"]), r["strategy"]) for r in rows]


def test_replay_gives_the_same_trades_twice(config_dict: dict[str, Any], mysql_cfg: MysqlConfig,
                                             tmp_path: Path) -> None:
    first = replay_trades(config_dict, mysql_cfg, tmp_path / "run1")
    second_cfg = mysql_cfg.model_copy(update={"database": f"arbig_test_{uuid.uuid4().hex[:10]}"})
    migrate(second_cfg)
    try:
        second = replay_trades(config_dict, second_cfg, tmp_path / "run2")
    finally:
        conn = pymysql.connect(host=second_cfg.host, port=second_cfg.port, user="root", autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{second_cfg.database}`")
        conn.close()
    assert len(first) >= 2, f"the strategy should trade on the replay, got {first}"
    print(f"replay trades: {len(first)}")
    assert first == second
    assert {row[5] for row in first} == {"ma_replay"}
    assert all(row[0].date().isoformat() == "2022-02-18" for row in first)  # exchange time, not wall clock
