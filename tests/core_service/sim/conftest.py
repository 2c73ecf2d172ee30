"""Fixtures for the sim gateway tests: real vnpy engines in a throwaway TRADER_DIR.

vnpy fixes its folder (TRADER_DIR) at first import and MainEngine chdirs into it. This conftest is
imported before the test modules of this folder, so unless something imported vnpy earlier, vnpy
settles in a temporary folder (deleted at exit) instead of the repository or ~/.vntrader.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def _private_trader_dir() -> None:
    if "vnpy.trader.utility" in sys.modules:
        return
    base = Path(tempfile.mkdtemp(prefix="arbig-sim-vntrader-"))
    (base / ".vntrader").mkdir()
    (base / ".vntrader" / "vt_setting.json").write_text(json.dumps({"log.file": False}), encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(base)
    try:
        import vnpy.trader.utility  # noqa: F401  (fixes TRADER_DIR to `base`)
    finally:
        os.chdir(cwd)
    atexit.register(shutil.rmtree, base, True)


_private_trader_dir()

from vnpy.trader.engine import MainEngine  # noqa: E402

from core_service.sim import SimGateway  # noqa: E402
from tests.core_service.sim.simkit import Recorder, Sim, base_setting  # noqa: E402


@pytest.fixture
def engines() -> Iterator[Callable[[], MainEngine]]:
    """Make real MainEngines; every one is closed (its threads are not daemons) and cwd restored."""
    made: list[MainEngine] = []
    cwd = os.getcwd()

    def make() -> MainEngine:
        engine = MainEngine()
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()
    os.chdir(cwd)


@pytest.fixture
def start_sim(engines: Callable[[], MainEngine], tmp_path: Path) -> Callable[..., Sim]:
    """start_sim(**setting_overrides) -> a connected Sim on a fresh MainEngine."""

    def start(**overrides: Any) -> Sim:
        engine = engines()
        recorder = Recorder(engine.event_engine)
        gateway = engine.add_gateway(SimGateway)
        assert isinstance(gateway, SimGateway)
        engine.connect(base_setting(tmp_path, **overrides), "SIM")
        return Sim(engine, gateway, recorder)

    return start


@pytest.fixture
def sim(start_sim: Callable[..., Sim]) -> Sim:
    return start_sim()
