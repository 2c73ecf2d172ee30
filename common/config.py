"""Application configuration: the JSON file in `config/`, validated with pydantic.

Secrets (CTP credentials, database passwords) never live in the committed file: they come from
environment variables or from the git-ignored `config/secrets.json`. `load_config` raises
`ConfigError` naming the offending field, so an invalid file stops start-up with a clear message.
The block `market_data` follows seed 004, including `last_update` (the date the main contract last
changed, written with it by `update_main_contract_file`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

if TYPE_CHECKING:  # common.clock imports this module (through common.trading_calendar)
    from common.clock import Clock

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "arbig.json"
SECRETS_PATH = PROJECT_ROOT / "config" / "secrets.json"

# SHFE contract code: product letters followed by YYMM (au2612).
CONTRACT_RE = re.compile(r"^[a-z]{1,2}\d{4}$")


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketDataConfig(_Strict):
    main_contract: str = "au2612"
    contract_multiplier: int = Field(1000, gt=0)
    exchange: Literal["SHFE"] = "SHFE"
    last_update: date | None = None  # "YYYY-MM-DD" (China time) of the last main-contract change
    auto_subscribe: bool = True

    @field_validator("main_contract")
    @classmethod
    def _contract_code(cls, value: str) -> str:
        if not CONTRACT_RE.match(value):
            raise ValueError(f"{value!r} is not a SHFE contract code like 'au2612'")
        return value

    @property
    def vt_symbol(self) -> str:
        return f"{self.main_contract}.{self.exchange}"


class SimConfig(_Strict):
    tick_interval_ms: int = Field(500, ge=1, le=60_000)
    replay_file: str | None = None
    replay_speed: float = Field(1.0, ge=0)  # 0: as fast as the strategies keep up
    replay_loop: bool = False
    initial_balance: float = Field(1_000_000.0, gt=0)
    margin_rate: float = Field(0.10, gt=0, lt=1)
    commission_per_lot: float = Field(10.0, ge=0)
    close_today_commission_per_lot: float = Field(0.0, ge=0)
    limit_rate: float = Field(0.06, gt=0, lt=0.5)
    base_price: float = Field(600.0, gt=0)
    seed: int | None = None
    state_file: str = "sim_state.json"
    # always: the 24 h demo; shfe: au's real sessions and holidays (orders outside refused, no random ticks)
    sessions: Literal["always", "shfe"] = "always"


class CtpConfig(_Strict):
    """Non-secret CTP settings. Credentials come from the environment or secrets.json."""

    td_address: str = ""
    md_address: str = ""
    product_name: str = ""
    environment: Literal["实盘", "测试"] = "实盘"


class GatewayConfig(_Strict):
    name: Literal["sim", "ctp"] = "sim"
    login_timeout_s: float = Field(30.0, gt=0)
    sim: SimConfig = SimConfig()
    ctp: CtpConfig = CtpConfig()


class RedisConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(6379, gt=0, lt=65536)
    db: int = Field(0, ge=0, le=15)
    key_prefix: str = ""
    tick_maxlen: int = Field(20_000, ge=100)
    event_maxlen: int = Field(10_000, ge=100)


class MysqlConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(3306, gt=0, lt=65536)
    user: str = "root"
    database: str = "arbig"

    @field_validator("database")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", value):
            raise ValueError("database name must be letters, digits and underscores")
        return value


class CoreConfig(_Strict):
    runtime_dir: str = "var"
    command_ttl_s: float = Field(5.0, gt=0, le=60)
    heartbeat_interval_s: float = Field(1.0, gt=0, le=30)
    heartbeat_ttl_s: float = Field(5.0, gt=0, le=120)
    config_poll_s: float = Field(1.0, gt=0, le=60)


class StrategyConfig(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    class_name: str = Field(min_length=1)
    vt_symbol: str | None = None  # None: the main contract at start-up
    setting: dict[str, Any] = {}
    auto_init: bool = False
    auto_start: bool = False
    auto_restart: bool = False  # also start it again when the supervisor restarts a crashed core


class WebConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, gt=0, lt=65536)
    reconnect_max_attempts: int = Field(10, ge=5, le=10)  # seed 004: the page gives up after 5-10 tries
    stale_after_s: float = Field(10.0, gt=0)
    command_timeout_s: float = Field(5.0, gt=0, le=60)


class SyncConfig(_Strict):
    """The sync layer (core_service/order_sync.py, position_sync.py): what the push stream missed."""

    order_query_interval_s: float = Field(15.0, ge=2, le=3600)  # orders + trades queried (and after each login)
    missed_grace_s: float = Field(2.0, ge=0, le=60)  # a queried trade the push has not brought this long after: missed
    position_interval_s: float = Field(5.0, ge=1, le=600)  # our lots vs the broker's positions
    drift_threshold_lots: int = Field(0, ge=0, le=1000)  # a difference of more lots than this is a drift
    drift_window_s: float = Field(300.0, gt=0, le=86_400)  # a persisting drift is raised once per window
    external_close: bool = True  # lots the broker no longer holds are closed in the records (EXTERNAL_CLOSE)


class ExecutionConfig(_Strict):
    """Follow-up of the orders the app sends itself (core_service/execution.py)."""

    timeout_s: float = Field(5.0, gt=0, le=600)  # unfilled this long: cancel, reprice, retry
    reprice_ticks: int = Field(2, ge=0, le=100)  # each retry this many ticks nearer the market
    max_retries: int = Field(3, ge=0, le=20)
    fallback_to_limit: bool = True  # retries spent: the rest at the daily limit price (most aggressive)
    partial_fill_timeout_s: float = Field(10.0, gt=0, le=600)  # a partial fill stalled this long: as a timeout
    strategy_order_timeout_s: float = Field(60.0, gt=0, le=86_400)  # strategy orders: a risk event, no reprice


class AiConfig(_Strict):
    """The AI trader (MCP tools, core_service/ai_desk.py): limits the agent cannot change."""

    enabled: bool = True  # AI trading on at the core's start (the operator switches it on the system page)
    live_trading: bool = False  # on a live account (CTP) the trading tools are refused unless true
    max_lots_per_order: int = Field(1, ge=1, le=1000)
    max_position_lots: int = Field(3, ge=1, le=10_000)  # per contract and direction, whoever opened it
    max_orders_per_minute: int = Field(6, ge=1, le=600)  # ai.trade commands sent (refusals do not count)
    max_daily_loss: float = Field(10_000.0, gt=0)  # CNY; reached: AI trading switches itself off
    require_exit_plan: bool = False  # an open without an exit plan (a stop loss or take profit) is refused


class AppConfig(_Strict):
    market_data: MarketDataConfig = MarketDataConfig()
    gateway: GatewayConfig = GatewayConfig()
    redis: RedisConfig = RedisConfig()
    mysql: MysqlConfig = MysqlConfig()
    core: CoreConfig = CoreConfig()
    web: WebConfig = WebConfig()
    sync: SyncConfig = SyncConfig()
    execution: ExecutionConfig = ExecutionConfig()
    ai: AiConfig = AiConfig()
    strategies: list[StrategyConfig] = []

    @field_validator("strategies")
    @classmethod
    def _unique_names(cls, value: list[StrategyConfig]) -> list[StrategyConfig]:
        names = [s.name for s in value]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate strategy names: {sorted(dupes)}")
        return value

    def runtime_path(self) -> Path:
        path = Path(self.core.runtime_dir)
        return path if path.is_absolute() else PROJECT_ROOT / path


class CtpSecrets(_Strict):
    userid: str = ""
    password: SecretStr = SecretStr("")
    broker_id: str = ""
    app_id: str = ""
    auth_code: SecretStr = SecretStr("")


class Secrets(_Strict):
    mysql_password: SecretStr = SecretStr("")
    redis_password: SecretStr = SecretStr("")
    ctp: CtpSecrets = CtpSecrets()


def config_path() -> Path:
    return Path(os.environ.get("ARBIG_CONFIG", str(DEFAULT_CONFIG_PATH)))


def _describe(error: ValidationError, source: Path) -> str:
    lines = [f"invalid configuration in {source}:"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        lines.append(f"  field '{where}': {item['msg']}")
    return "\n".join(lines)


def parse_config(text: str, source: Path | str = "<text>") -> AppConfig:
    """Parse and validate configuration JSON; raise ConfigError naming the bad field."""
    source = Path(source)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} must hold a JSON object")
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from exc


def load_config(path: Path | None = None) -> AppConfig:
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r});"
                          " save it as UTF-8") from exc
    return parse_config(text, path)


def load_secrets(path: Path = SECRETS_PATH) -> Secrets:
    """Secrets from the git-ignored file, overridden by environment variables."""
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read secrets file {path}: {exc}") from exc
    ctp = dict(data.get("ctp", {}))
    env_ctp = {
        "userid": "ARBIG_CTP_USERID",
        "password": "ARBIG_CTP_PASSWORD",
        "broker_id": "ARBIG_CTP_BROKER_ID",
        "app_id": "ARBIG_CTP_APP_ID",
        "auth_code": "ARBIG_CTP_AUTH_CODE",
    }
    for field, var in env_ctp.items():
        if os.environ.get(var):
            ctp[field] = os.environ[var]
    data["ctp"] = ctp
    for field, var in (("mysql_password", "ARBIG_MYSQL_PASSWORD"), ("redis_password", "ARBIG_REDIS_PASSWORD")):
        if os.environ.get(var):
            data[field] = os.environ[var]
    try:
        return Secrets.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from exc


def _write_atomic(path: Path, text: str) -> None:
    """Write a file so a concurrent reader never sees half of it."""
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=".arbig-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def update_main_contract_file(path: Path, symbol: str, clock: Clock | None = None) -> AppConfig:
    """Set `market_data.main_contract` and `market_data.last_update` (today, China time) in the file,
    keeping every other field as written.

    The new content is validated before anything is written; on error the file is untouched.
    """
    if clock is None:
        from common.clock import LIVE  # imported here: common.clock depends on this module

        clock = LIVE
    raw = json.loads(path.read_text(encoding="utf-8"))
    market_data = raw.setdefault("market_data", {})
    if isinstance(market_data, dict):  # anything else is refused by the validation below
        market_data["main_contract"] = symbol
        market_data["last_update"] = clock.now().date().isoformat()
    text = json.dumps(raw, ensure_ascii=False, indent=2) + "\n"
    config = parse_config(text, path)
    _write_atomic(path, text)
    return config
