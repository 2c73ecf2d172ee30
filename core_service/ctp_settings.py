"""vnpy's CTP setting dict from ARBIG's config and secrets, and a redacted copy that is safe to log."""

from __future__ import annotations

import re
from typing import Any

from common.config import CtpConfig, CtpSecrets

SECRET_KEYS = ("密码", "授权编码")
_ADDRESS_RE = re.compile(r"^(?:tcp://)?(?P<host>[A-Za-z0-9.\-]+):(?P<port>\d{1,5})$")


def _address(value: str, field: str) -> str:
    """Normalise 'host:port' or 'tcp://host:port' to 'tcp://host:port'."""
    match = _ADDRESS_RE.match(value.strip())
    if not match or not 0 < int(match["port"]) < 65536:
        raise ValueError(
            f"CTP setting {field} must look like 'host:port' or 'tcp://host:port', got {value!r}"
        )
    return f"tcp://{match['host']}:{match['port']}"


def product_name(cfg: CtpConfig, secrets: CtpSecrets) -> str:
    """The AppID sent in ReqAuthenticate (vnpy's 产品名称): `gateway.ctp.product_name` when set,
    else the secrets' `ctp.app_id`. The config key wins because the AppID is not a secret: it names
    the client software the broker registered, the same on every machine."""
    return cfg.product_name.strip() or secrets.app_id.strip()


def _missing_fields(cfg: CtpConfig, secrets: CtpSecrets) -> list[str]:
    required = {
        "ctp.userid": secrets.userid,
        "ctp.password": secrets.password.get_secret_value(),
        "ctp.broker_id": secrets.broker_id,
        "gateway.ctp.td_address": cfg.td_address,
        "gateway.ctp.md_address": cfg.md_address,
    }
    if cfg.environment == "实盘" or secrets.app_id or secrets.auth_code.get_secret_value():
        # Production fronts require client authentication; a half-filled pair is always a mistake.
        required["ctp.app_id"] = product_name(cfg, secrets)  # or gateway.ctp.product_name
        required["ctp.auth_code"] = secrets.auth_code.get_secret_value()
    return [name for name, value in required.items() if not value.strip()]


def ctp_setting(cfg: CtpConfig, secrets: CtpSecrets) -> dict[str, str]:
    """vnpy's CTP setting dict; raises ValueError naming missing or bad fields (never their values).

    产品名称 (the AppID) is `gateway.ctp.product_name` when set, else the secrets' `ctp.app_id`."""
    missing = _missing_fields(cfg, secrets)
    if missing:
        raise ValueError(f"CTP setting incomplete: missing {', '.join(missing)}")
    return {
        "用户名": secrets.userid.strip(),
        "密码": secrets.password.get_secret_value(),
        "经纪商代码": secrets.broker_id.strip(),
        "交易服务器": _address(cfg.td_address, "gateway.ctp.td_address"),
        "行情服务器": _address(cfg.md_address, "gateway.ctp.md_address"),
        "产品名称": product_name(cfg, secrets),
        "授权编码": secrets.auth_code.get_secret_value(),
        "柜台环境": cfg.environment,
    }


def redacted(setting: dict[str, Any]) -> dict[str, Any]:
    """A copy of the setting that is safe to log: passwords and auth codes masked."""
    return {key: ("***" if key in SECRET_KEYS and value else value) for key, value in setting.items()}
