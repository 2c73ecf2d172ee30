"""Fixtures for the core service tests: a running core on the simulated gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.core_service.harness import CoreHarness


@pytest.fixture
def core(config_dict: dict[str, Any], tmp_path: Path) -> Iterator[CoreHarness]:
    harness = CoreHarness(config_dict, tmp_path / "arbig.json")
    harness.start()
    yield harness
    harness.stop()
