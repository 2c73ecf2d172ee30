"""The `connect()` setting dict of the simulated gateway, parsed and checked into a typed object.

Defaults follow `common.config.SimConfig`. A bad value raises `SettingError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from common.config import SimConfig
from common.trading_sessions import MODES

from .contracts import is_gold_symbol

_DEFAULTS = SimConfig()


class SettingError(ValueError):
    """A setting key has a value the simulator cannot use."""


@dataclass(frozen=True)
class SimSettings:
    main_contract: str = ""
    tick_interval_ms: int = _DEFAULTS.tick_interval_ms
    replay_file: str = ""
    replay_speed: float = _DEFAULTS.replay_speed
    replay_loop: bool = _DEFAULTS.replay_loop
    initial_balance: float = _DEFAULTS.initial_balance
    margin_rate: float = _DEFAULTS.margin_rate
    commission_per_lot: float = _DEFAULTS.commission_per_lot
    close_today_commission_per_lot: float = _DEFAULTS.close_today_commission_per_lot
    limit_rate: float = _DEFAULTS.limit_rate
    base_price: float = _DEFAULTS.base_price
    seed: int | None = _DEFAULTS.seed
    state_file: str = ""
    lockstep: bool = False
    hold_replay: bool = False  # replay waits for release_replay() (the core starts strategies first)
    sessions: Literal["always", "shfe"] = _DEFAULTS.sessions  # shfe: orders and random ticks only in sessions

    @property
    def replay(self) -> bool:
        return bool(self.replay_file)


def _number(setting: dict[str, Any], key: str, default: float, low: float, high: float | None = None) -> float:
    value = setting.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingError(f"setting '{key}' must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        raise SettingError(f"setting '{key}' = {value} is outside {low}..{high if high is not None else 'inf'}")
    return float(value)


def _seed(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingError(f"setting 'seed' must be an integer or None, got {value!r}")
    return value


def _sessions(value: Any) -> Literal["always", "shfe"]:
    if value is None or value == "":
        return _DEFAULTS.sessions
    if value not in MODES:
        raise SettingError(f"setting 'sessions' must be one of {', '.join(MODES)}, got {value!r}")
    return value


def parse_settings(setting: dict[str, Any]) -> SimSettings:
    """Check every key and fill in defaults. The state file must be an absolute path."""
    main = str(setting.get("main_contract") or "")
    if main and not is_gold_symbol(main):
        raise SettingError(f"setting 'main_contract' = {main!r} is not an au contract like 'au2702'")
    state_file = str(setting.get("state_file") or "")
    if not state_file or not Path(state_file).is_absolute():
        raise SettingError(f"setting 'state_file' must be an absolute path, got {state_file!r}")
    replay_file = str(setting.get("replay_file") or "")
    lockstep = setting.get("lockstep")
    return SimSettings(
        main_contract=main,
        tick_interval_ms=int(_number(setting, "tick_interval_ms", _DEFAULTS.tick_interval_ms, 1, 60_000)),
        replay_file=replay_file,
        replay_speed=_number(setting, "replay_speed", _DEFAULTS.replay_speed, 0),
        replay_loop=bool(setting.get("replay_loop", False)),
        initial_balance=_number(setting, "initial_balance", _DEFAULTS.initial_balance, 0),
        margin_rate=_number(setting, "margin_rate", _DEFAULTS.margin_rate, 0, 1),
        commission_per_lot=_number(setting, "commission_per_lot", _DEFAULTS.commission_per_lot, 0),
        close_today_commission_per_lot=_number(
            setting, "close_today_commission_per_lot", _DEFAULTS.close_today_commission_per_lot, 0
        ),
        limit_rate=_number(setting, "limit_rate", _DEFAULTS.limit_rate, 0.001, 0.5),
        base_price=_number(setting, "base_price", _DEFAULTS.base_price, 1),
        seed=_seed(setting.get("seed")),
        state_file=state_file,
        lockstep=bool(replay_file) if lockstep is None else bool(lockstep),
        hold_replay=bool(setting.get("hold_replay", False)),
        sessions=_sessions(setting.get("sessions")),
    )
