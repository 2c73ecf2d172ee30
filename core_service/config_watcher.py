"""Watches the configuration file while the core runs and applies a main-contract change.

An edit that does not validate is refused, whatever the cause (invalid field, not JSON, not UTF-8,
unreadable, a main contract the gateway does not know): the error is logged and recorded as a
system event (shown on the system page), and the running settings stay. Only the main contract is applied live; other changed fields are
reported as needing a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from common.config import AppConfig, ConfigError, load_config
from common.lifecycle import LoopThread

log = logging.getLogger(__name__)


def changed_sections(old: AppConfig, new: AppConfig) -> list[str]:
    """Top-level fields that differ, with market_data.main_contract reported on its own."""
    changed = []
    old_d, new_d = old.model_dump(), new.model_dump()
    for key in new_d:
        if key == "market_data":
            if old_d[key]["main_contract"] != new_d[key]["main_contract"]:
                changed.append("market_data.main_contract")
            rolled = ("main_contract", "last_update")  # last_update is written by every rollover
            rest_old = {k: v for k, v in old_d[key].items() if k not in rolled}
            rest_new = {k: v for k, v in new_d[key].items() if k not in rolled}
            if rest_old != rest_new:
                changed.append("market_data")
        elif old_d[key] != new_d[key]:
            changed.append(key)
    return changed


class ConfigWatcher(LoopThread):
    """Checks the file's modification time and size every `poll_s`; a change is loaded and applied."""

    def __init__(
        self,
        path: Path,
        current: Callable[[], AppConfig],
        apply_main_contract: Callable[[str], None],
        report: Callable[[str, str, str], None],  # (kind, message, level)
        poll_s: float = 1.0,
    ) -> None:
        super().__init__("arbig-config-watcher", what="checking the configuration file", interval_s=poll_s,
                         logger=log)
        self.path = path
        self.current = current
        self.apply_main_contract = apply_main_contract
        self.report = report
        self.poll_s = poll_s
        self._seen = self._stamp()

    def _stamp(self) -> tuple[float, int] | None:
        try:
            stat = self.path.stat()
            return (stat.st_mtime, stat.st_size)
        except OSError:
            return None

    def mark_seen(self) -> None:
        """The core itself wrote the file: do not treat that write as an outside edit."""
        self._seen = self._stamp()

    def step(self) -> None:
        stamp = self._stamp()
        if stamp != self._seen:
            self._seen = stamp  # an edit that fails unexpectedly is not tried again until the next edit
            self.check_now()

    def check_now(self) -> None:
        try:
            new = load_config(self.path)
        except (ConfigError, OSError, ValueError) as exc:  # invalid, unreadable, not UTF-8: all refused
            self.report("config", f"configuration edit refused, running settings kept: {exc}", "ERROR")
            return
        old = self.current()
        changed = changed_sections(old, new)
        if not changed:
            return
        if "market_data.main_contract" in changed:
            try:
                self.apply_main_contract(new.market_data.main_contract)
            except Exception as exc:  # unknown or expired contract, gateway trouble: refused, said so
                self.report("config", f"configuration edit refused, field 'market_data.main_contract':"
                                      f" {exc}", "ERROR")
                return
        others = [c for c in changed if c != "market_data.main_contract"]
        if others:
            self.report("config", f"configuration changes to {', '.join(others)} take effect after a restart",
                        "WARNING")
