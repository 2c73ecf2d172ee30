"""What the web service runs with: the validated config, the config file path, keys and secrets."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.config import AppConfig, ConfigError, Secrets, config_path, load_config, load_secrets
from common.contract import Keys

SESSION_TTL_S = 12 * 3600
SESSION_COOKIE = "arbig_session"
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500
WS_PING_INTERVAL_S = 5.0
WS_CLIENT_TIMEOUT_S = 20.0
WS_OUTBOX_MAX = 256
WS_MAX_TOPICS = 32
MAIN_SWITCH_WAIT_S = 15.0
# Small client messages only; no per-message compression (it costs CPU per client on every tick).
UVICORN_WS_OPTIONS: dict[str, Any] = {"ws": "websockets-sansio", "ws_max_size": 65536, "ws_per_message_deflate": False}


@dataclass(frozen=True)
class WebSettings:
    config: AppConfig
    config_file: Path
    secrets: Secrets = field(default_factory=Secrets)
    fallback: str = ""  # why the core's running settings are used instead of the (broken) file

    @property
    def keys(self) -> Keys:
        return Keys(self.config.redis.key_prefix)

    @property
    def runtime_dir(self) -> Path:
        return self.config.runtime_path()

    @property
    def initial_password_file(self) -> Path:
        return self.runtime_dir / "initial_password.txt"

    @property
    def multiplier(self) -> float:
        return float(self.config.market_data.contract_multiplier)


def load_settings(path: Path | None = None) -> WebSettings:
    """Load the config (ARBIG_CONFIG or config/arbig.json) and the secrets; raise ConfigError.

    If the file is broken but the core publishes the settings it runs with (ARBIG_RUNNING_CONFIG,
    set by the supervisor), serve with those: the core refused the edit and kept trading on them,
    so a web restart must not stop on the same edit. `fallback` then says why."""
    path = path or config_path()
    secrets = load_secrets()
    try:
        return WebSettings(config=load_config(path), config_file=path, secrets=secrets)
    except ConfigError as exc:
        running = Path(os.environ.get("ARBIG_RUNNING_CONFIG", ""))
        if not running.name or not running.is_file():
            raise
        try:
            config = load_config(running)
        except ConfigError:
            raise exc from None
        return WebSettings(config=config, config_file=path, secrets=secrets,
                           fallback=f"the config file is invalid ({exc}); serving with the settings the core"
                                    f" runs with ({running})")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'; 0.0.0.0 and real addresses are not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
