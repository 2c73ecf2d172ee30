"""Adds the configured strategies to the CtaEngine and brings them up as the config says.

Runs once, when the gateway first announces the main contract. `auto_init` strategies are
initialised; `auto_start` ones are then started on vnpy's event thread, but never before the
gateway is logged in and has reported the account (a strategy must not trade on a picture older
than the broker's). After a crash restart by the supervisor (`recovery` set), only strategies with
`auto_restart` start again; the others stay stopped with the reason shown on the strategy page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from vnpy.trader.engine import MainEngine

from common.clock import LIVE, Clock
from common.config import AppConfig
from core_service.commands import EventThreadRunner
from core_service.cta import ArbigCtaEngine

Report = Callable[[str, str, str], None]  # (kind, message, level)
ACCOUNT_WAIT_S = 60.0
INIT_WAIT_S = 120.0


class StrategySetup:
    def __init__(self, config: AppConfig, cta: ArbigCtaEngine, main_engine: MainEngine, runner: EventThreadRunner,
                 report: Report, recovery: str, ready: Callable[[], bool], halted: Callable[[], bool],
                 clock: Clock = LIVE) -> None:
        self.config = config
        self.clock = clock
        self.cta = cta
        self.main_engine = main_engine
        self.runner = runner
        self.report = report
        self.recovery = recovery
        self.ready = ready
        self.halted = halted

    def run(self, main_symbol: str) -> None:
        """Add and auto-init now; wait and auto-start in a background thread."""
        futures: list[tuple[str, bool, Any]] = []
        for item in self.config.strategies:
            vt_symbol = item.vt_symbol or f"{main_symbol}.{self.config.market_data.exchange}"
            if item.name not in self.cta.strategies and not self._add(item.name, item.class_name, vt_symbol,
                                                                      dict(item.setting)):
                continue
            if item.auto_init and item.name in self.cta.strategies:
                start = item.auto_start and (not self.recovery or item.auto_restart)
                if item.auto_start and not start:
                    self.cta.notes[item.name] = (f"not restarted after the core's crash ({self.recovery}): check"
                                                 " positions and orders, then start it (auto_restart is off)")
                    self.report("strategy", f"strategy {item.name} left stopped after the core's crash;"
                                            " auto_restart is off", "WARNING")
                futures.append((item.name, start, self.cta.init_strategy(item.name)))
        threading.Thread(target=self._finish, args=(futures,), name="arbig-strategy-setup", daemon=True).start()

    def _add(self, name: str, class_name: str, vt_symbol: str, setting: dict[str, Any]) -> bool:
        if class_name not in self.cta.classes:
            self.report("strategy", f"strategy {name}: class {class_name} not found", "ERROR")
            return False
        try:
            self.cta.add_strategy(class_name, name, vt_symbol, setting)
        except Exception as exc:  # a bad setting must not stop the core
            self.report("strategy", f"strategy {name} not added: {type(exc).__name__}: {exc}", "ERROR")
            return False
        return True

    def _finish(self, futures: list[tuple[str, bool, Any]]) -> None:
        """Wait for auto-init, auto-start on the event thread, then let a held replay begin."""
        if any(start for _, start, _ in futures):
            self._wait_for_account()
        for name, auto_start, future in futures:
            try:
                future.result(timeout=INIT_WAIT_S)
            except Exception as exc:
                self.report("strategy", f"strategy {name} init failed: {exc}", "ERROR")
                continue
            strategy = self.cta.strategies.get(name)
            if auto_start and strategy is not None and strategy.inited:
                self.runner.run(lambda n=name: self.cta.start_strategy(n) or {}, 10.0)
        gateway = self.main_engine.get_gateway(self.main_engine.get_all_gateway_names()[0])
        if hasattr(gateway, "release_replay"):
            gateway.release_replay()

    def _wait_for_account(self) -> None:
        deadline = self.clock.monotonic() + ACCOUNT_WAIT_S
        while self.clock.monotonic() < deadline and not self.halted():
            if self.ready():
                return
            time.sleep(0.1)
        if not self.halted():
            self.report("strategy", f"the gateway had not reported the account within {ACCOUNT_WAIT_S:.0f} s;"
                                    " strategies are started anyway", "WARNING")
