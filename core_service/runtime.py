"""Prepare the core's runtime folder before vnpy is imported.

vnpy chooses its TRADER_DIR once, at first import: the current directory if it holds
`.vntrader/`. So we create `<runtime_dir>/.vntrader/vt_setting.json` (database adapter for the
CtaEngine: sqlite in the runtime folder) and chdir there first. Import vnpy only after this.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from common.config import PROJECT_ROOT, AppConfig

log = logging.getLogger(__name__)

VT_SETTING = {
    "log.active": True,
    "log.level": 20,
    "log.console": False,
    "log.file": False,
    "database.name": "sqlite",
    "database.database": "database.db",
}


RUNNING_CONFIG = "running_config.json"


def write_running_config(runtime: Path, config: AppConfig) -> None:
    """The settings the core runs with (no secrets in them), for a web service restarted while the
    file is broken: it serves with these instead of refusing to start (scripts/run_app.py)."""
    path = runtime / RUNNING_CONFIG
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(config.model_dump_json(indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)


def prepare_runtime(config: AppConfig) -> Path:
    """Create the runtime folder, write vnpy's settings, chdir into it; return the folder."""
    if "vnpy" in sys.modules:
        raise RuntimeError("prepare_runtime() must run before vnpy is imported")
    runtime = config.runtime_path()
    vntrader = runtime / ".vntrader"
    vntrader.mkdir(parents=True, exist_ok=True)
    setting_path = vntrader / "vt_setting.json"
    current = {}
    if setting_path.exists():
        try:
            current = json.loads(setting_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            current = {}
    current.update(VT_SETTING)
    setting_path.write_text(json.dumps(current, indent=2), encoding="utf-8")
    os.chdir(runtime)
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    return runtime
