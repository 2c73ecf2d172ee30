"""The main contract: which one it is, its market data, and the rollover to the next one.

- `RunningConfig`: the settings the core runs with; only `market_data.main_contract` changes live.
- `Subscriptions`: the contracts whose market data the core subscribed and publishes (the main one,
  every held one, a hand order's); `subscribe` never blocks (vnpy's event thread calls it).
- `Rollover`: subscribes the main contract once the gateway announces it (then tells `main_known`),
  publishes it (Redis state + `main_contract` event), and rolls it, from an edit of the configuration
  file (its `ConfigWatcher`) or from the operator's `contract.switch` command: the new contract is
  subscribed, the old one's live data cleared unless a strategy or a position still uses it, the
  contracts table re-marked and the rollover recorded as a system event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vnpy.trader.constant import Exchange
from vnpy.trader.engine import MainEngine
from vnpy.trader.object import SubscribeRequest

from common.clock import Clock
from common.config import AppConfig, update_main_contract_file
from common.contract import Command, Keys, MainContract
from core_service import serializers as ser
from core_service.commands import Refused
from core_service.config_watcher import ConfigWatcher
from core_service.cta import ArbigCtaEngine
from core_service.held_contracts import HeldContracts
from core_service.recorder import Recorder
from core_service.redis_publisher import RedisPublisher
from core_service.runtime import write_running_config


class RunningConfig:
    """The running settings; a rollover swaps in a copy with the new main contract (any thread reads)."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.lock = threading.RLock()

    @property
    def main_symbol(self) -> str:
        return self.config.market_data.main_contract

    def roll_to(self, symbol: str) -> None:
        market_data = self.config.market_data.model_copy(update={"main_contract": symbol})
        self.config = self.config.model_copy(update={"market_data": market_data})


class Subscriptions:
    """Market data the core follows. A symbol is always published; it is subscribed at the gateway
    once (and only with `market_data.auto_subscribe`)."""

    def __init__(self, main_engine: MainEngine, gateway_name: str, published: set[str], auto_subscribe: bool) -> None:
        self.main_engine = main_engine
        self.gateway_name = gateway_name
        self.published = published  # the recorder's: ticks of these symbols reach Redis
        self.auto_subscribe = auto_subscribe
        self._subscribed: set[str] = set()
        self._lock = threading.Lock()

    def subscribe(self, symbol: str) -> None:
        with self._lock:
            self.published.add(symbol)
            if symbol in self._subscribed or not self.auto_subscribe:
                return
            self._subscribed.add(symbol)
        self.main_engine.subscribe(SubscribeRequest(symbol=symbol, exchange=Exchange.SHFE), self.gateway_name)

    def drop(self, symbol: str) -> None:
        """No more ticks of `symbol` to Redis; unsubscribed where the gateway can."""
        with self._lock:
            self.published.discard(symbol)
            gateway = self.main_engine.get_gateway(self.gateway_name)
            unsubscribe: Callable[[str], None] | None = getattr(gateway, "unsubscribe", None)
            if unsubscribe is None:
                return
            self._subscribed.discard(symbol)
        unsubscribe(symbol)


class Rollover:
    def __init__(self, running: RunningConfig, config_file: Path, runtime: Path, main_engine: MainEngine,
                 cta: ArbigCtaEngine, recorder: Recorder, publisher: RedisPublisher, keys: Keys,
                 subscriptions: Subscriptions, held: HeldContracts, clock: Clock) -> None:
        self.running = running
        self.config_file = config_file
        self.runtime = runtime
        self.main_engine = main_engine
        self.cta = cta
        self.recorder = recorder
        self.publisher = publisher
        self.keys = keys
        self.subscriptions = subscriptions
        self.held = held
        self.clock = clock
        self.main_known: list[Callable[[], None]] = []  # the gateway announced the main contract
        self.watcher = ConfigWatcher(config_file, lambda: running.config, self.switch, recorder.system_event,
                                     running.config.core.config_poll_s)

    @property
    def main_symbol(self) -> str:
        return self.running.main_symbol

    def _vt(self, symbol: str) -> str:
        return f"{symbol}.{self.running.config.market_data.exchange}"

    def on_contract(self, symbol: str) -> None:
        """The recorder's contract listener (dispatcher thread): every contract the gateway announces."""
        if symbol == self.main_symbol:
            self.subscriptions.subscribe(symbol)
            for listener in self.main_known:
                listener()

    def publish_main_contract(self) -> None:
        symbol = self.main_symbol
        main = MainContract(symbol=symbol, exchange=self.running.config.market_data.exchange,
                            vt_symbol=self._vt(symbol), since_ms=self.clock.now_ms())
        self.publisher.set_state(self.keys.main_contract, main.to_json())
        self.recorder.publish_event("main_contract", main.model_dump())

    def command(self, command: Command) -> dict[str, Any]:
        """The operator's `contract.switch` (command loop thread): the file first, then the switch."""
        symbol = command.typed_params().symbol
        if self.main_engine.get_contract(f"{symbol}.SHFE") is None:
            raise Refused(f"contract {symbol} is not known to the gateway", "contract_unknown", symbol=symbol)
        if symbol == self.main_symbol:
            raise Refused(f"{symbol} is already the main contract", "contract_is_main", symbol=symbol)
        update_main_contract_file(self.config_file, symbol, self.clock)
        self.watcher.mark_seen()  # our own write, not an outside edit
        self.switch(symbol)
        return {"main_contract": symbol}

    def switch(self, symbol: str) -> None:
        """Roll the main contract: subscribe the new one, clear the old one's live data, record it."""
        with self.running.lock:
            old = self.main_symbol
            if symbol == old:
                return
            if self.main_engine.get_contract(f"{symbol}.SHFE") is None:
                raise Refused(f"contract {symbol} is not known to the gateway; main contract stays {old}",
                              "contract_unknown", symbol=symbol)
            self.running.roll_to(symbol)
        self.subscriptions.subscribe(symbol)
        strategies = list(self.cta.strategies.values())
        users = [s.strategy_name for s in strategies if s.vt_symbol == f"{old}.SHFE"]
        if not users and not self.held.is_held(old):  # a held contract keeps its price and its close
            self.subscriptions.drop(old)
            self.publisher.delete(self.keys.tick_stream(old))
        self.publish_main_contract()
        write_running_config(self.runtime, self.running.config)
        for contract in self.main_engine.get_all_contracts():
            if contract.symbol in (old, symbol):
                info = ser.contract_info(contract, symbol)
                self.publisher.hset_state(self.keys.contracts, info.symbol, info.to_json())
        elsewhere = sorted(f"{s.strategy_name} ({s.vt_symbol.split('.')[0]})" for s in strategies
                           if s.vt_symbol != f"{symbol}.SHFE")
        note = f"; strategies still on older contracts: {', '.join(elsewhere)}" if elsewhere else ""
        self.recorder.system_event("rollover", f"main contract rolled from {old} to {symbol}{note}",
                                   old=old, new=symbol, strategies_on_old=users)
