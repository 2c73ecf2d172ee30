"""Runs the real core (CoreApp: vnpy MainEngine, CtaEngine, the simulated SHFE gateway, the
recorders) in the test process against the throwaway MariaDB database and Redis prefix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import redis
from vnpy.trader.constant import Direction, Exchange, Offset, OrderType
from vnpy.trader.object import OrderRequest, TickData
from vnpy.trader.utility import get_folder_path

from common.command_client import send_command
from common.config import Secrets, load_config
from common.contract import Command, CommandReply, CommandType, GatewayState, Heartbeat, Keys
from common.db import Database
from common.lifecycle import ComponentState
from core_service.app import CoreApp
from tests.helpers import eventually


def reset_vnpy_files() -> None:
    """CtaEngine keeps strategies in json files in vnpy's folder: start each core from none."""
    folder = get_folder_path("")
    for name in ("cta_strategy_setting.json", "cta_strategy_data.json"):
        (folder / name).unlink(missing_ok=True)


class CoreHarness:
    def __init__(self, config_dict: dict[str, Any], config_path: Path) -> None:
        self.config_path = config_path
        config_path.write_text(json.dumps(config_dict, ensure_ascii=False, indent=2), encoding="utf-8")
        self.config = load_config(config_path)
        self.keys = Keys(self.config.redis.key_prefix)
        self.redis = redis.Redis(host=self.config.redis.host, port=self.config.redis.port,
                                 db=self.config.redis.db, decode_responses=True)
        self.app: CoreApp | None = None  # None: not built (never started, stopped, or refused)
        self.states: list[tuple[ComponentState, ComponentState]] = []  # the core's state changes (old, new)

    def start(self, wait_ticks: bool = True) -> CoreApp:
        """Build the core (AlreadyRunning comes from here, with `app` left None) and start it."""
        reset_vnpy_files()
        runtime = self.config.runtime_path()
        runtime.mkdir(parents=True, exist_ok=True)
        app = self.app = CoreApp(self.config, self.config_path, Secrets(), runtime)
        app.lifecycle.add_listener(lambda old, new: self.states.append((old, new)))
        app.start()
        eventually(lambda: app.tracker.current.state == GatewayState.LOGGED_IN, what="sim logged in")
        if wait_ticks:
            eventually(lambda: self.tick(self.config.market_data.vt_symbol) is not None, what="first tick")
        return app

    def stop(self) -> None:
        if self.app:
            self.app.stop()
            self.app = None

    # ------------------------------------------------------------ helpers
    @property
    def main_engine(self) -> Any:
        if self.app is None:
            raise RuntimeError("the core is not running")
        return self.app.main_engine

    def tick(self, vt_symbol: str) -> TickData | None:
        return self.main_engine.get_tick(vt_symbol)

    def heartbeat(self) -> Heartbeat | None:
        raw = self.redis.get(self.keys.heartbeat)
        return Heartbeat.model_validate_json(raw) if raw else None

    def send(self, kind: CommandType, timeout: float = 5.0, **params: Any) -> CommandReply:
        return send_command(self.redis, self.keys, Command(type=kind, params=params, source="test"), timeout)

    def order(self, direction: Direction, offset: Offset, volume: int, price: float | None = None,
              vt_symbol: str | None = None) -> str:
        """Send an order straight to the gateway, as a trader on the broker's terminal would."""
        vt_symbol = vt_symbol or self.config.market_data.vt_symbol
        tick = eventually(lambda: self.tick(vt_symbol))
        if price is None:  # marketable: cross the spread by a few ticks
            price = tick.ask_price_1 + 0.1 if direction == Direction.LONG else tick.bid_price_1 - 0.1
        symbol = vt_symbol.split(".")[0]
        req = OrderRequest(symbol=symbol, exchange=Exchange.SHFE, direction=direction, offset=offset,
                           type=OrderType.LIMIT, price=round(price / 0.02) * 0.02, volume=volume)
        return self.main_engine.send_order(req, "SIM")

    def open_position(self, direction: Direction, volume: int) -> None:
        vt_positionid = f"SIM.{self.config.market_data.vt_symbol}.{direction.value}"
        before = self.position_volume(direction)
        vt_orderid = self.order(direction, Offset.OPEN, volume)
        assert vt_orderid, "sim refused the opening order"

        def filled() -> bool:
            position = self.main_engine.get_position(vt_positionid)
            return bool(position) and position.volume >= before + volume

        eventually(filled, what=f"{volume} {direction.name} opened")

    def position_volume(self, direction: Direction) -> float:
        position = self.main_engine.get_position(f"SIM.{self.config.market_data.vt_symbol}.{direction.value}")
        return position.volume if position else 0.0


def table(db: Database, sql: str, *args: Any) -> list[dict[str, Any]]:
    return db.query(sql, args or None)
