"""The CTP setting dict vnpy's gateway gets: required fields named (never their values), addresses
normalised, the AppID from `gateway.ctp.product_name` before the secrets' `ctp.app_id`, and a
redacted copy for the logs."""

from __future__ import annotations

import pytest

from common.config import CtpConfig, CtpSecrets
from core_service.ctp_settings import ctp_setting, redacted

PASSWORD = "s3cret-Pa55"
AUTH_CODE = "AUTHCODE-0000001"


def make_setting(td: str, md: str, auth: bool = False) -> dict[str, str]:
    cfg = CtpConfig(td_address=td, md_address=md, environment="测试")
    secrets = CtpSecrets(
        userid="000001",
        password=PASSWORD,
        broker_id="9999",
        app_id="arbig_test" if auth else "",
        auth_code=AUTH_CODE if auth else "",
    )
    return ctp_setting(cfg, secrets)


@pytest.mark.parametrize(
    ("field", "override"),
    [
        ("ctp.userid", {"userid": ""}),
        ("ctp.password", {"password": ""}),
        ("ctp.broker_id", {"broker_id": "  "}),
        ("ctp.auth_code", {"auth_code": ""}),
    ],
)
def test_ctp_setting_names_missing_secret(field: str, override: dict[str, str]) -> None:
    values = {
        "userid": "000001",
        "password": PASSWORD,
        "broker_id": "9999",
        "app_id": "a",
        "auth_code": AUTH_CODE,
    }
    cfg = CtpConfig(td_address="10.0.0.1:10130", md_address="10.0.0.1:10131")
    with pytest.raises(ValueError) as info:
        ctp_setting(cfg, CtpSecrets(**{**values, **override}))
    message = str(info.value)
    assert field in message
    assert PASSWORD not in message and AUTH_CODE not in message


@pytest.mark.parametrize("field", ["td_address", "md_address"])
def test_ctp_setting_names_missing_address(field: str) -> None:
    addresses = {"td_address": "10.0.0.1:10130", "md_address": "10.0.0.1:10131", field: ""}
    secrets = CtpSecrets(userid="000001", password=PASSWORD, broker_id="9999")
    with pytest.raises(ValueError, match=f"gateway.ctp.{field}") as info:
        ctp_setting(CtpConfig(environment="测试", **addresses), secrets)
    assert PASSWORD not in str(info.value)


def test_production_requires_authentication() -> None:
    secrets = CtpSecrets(userid="000001", password=PASSWORD, broker_id="9999")
    with pytest.raises(ValueError, match="ctp.app_id, ctp.auth_code"):
        ctp_setting(CtpConfig(td_address="10.0.0.1:1", md_address="10.0.0.1:2", environment="实盘"), secrets)


def test_product_name_comes_from_the_config_before_the_secrets() -> None:
    secrets = CtpSecrets(userid="000001", password=PASSWORD, broker_id="9999", app_id="from_secrets",
                         auth_code=AUTH_CODE)
    cfg = CtpConfig(td_address="10.0.0.1:1", md_address="10.0.0.1:2", product_name=" arbig_client ")
    assert ctp_setting(cfg, secrets)["产品名称"] == "arbig_client"
    assert ctp_setting(cfg.model_copy(update={"product_name": ""}), secrets)["产品名称"] == "from_secrets"
    # production needs an AppID: the config key alone is enough
    only_config = secrets.model_copy(update={"app_id": ""})
    assert ctp_setting(cfg, only_config)["产品名称"] == "arbig_client"
    with pytest.raises(ValueError, match="ctp.app_id"):
        ctp_setting(cfg.model_copy(update={"product_name": ""}), only_config)


def test_ctp_setting_normalises_addresses_and_rejects_bad_ones() -> None:
    setting = make_setting("10.0.0.1:10130", "tcp://md.example.com:10131", auth=True)
    assert setting == {
        "用户名": "000001",
        "密码": PASSWORD,
        "经纪商代码": "9999",
        "交易服务器": "tcp://10.0.0.1:10130",
        "行情服务器": "tcp://md.example.com:10131",
        "产品名称": "arbig_test",
        "授权编码": AUTH_CODE,
        "柜台环境": "测试",
    }
    for bad in ("10.0.0.1", "udp://10.0.0.1:1", "10.0.0.1:70000"):
        with pytest.raises(ValueError, match="gateway.ctp.td_address"):
            make_setting(bad, "10.0.0.1:1")


def test_redacted_masks_secrets_only() -> None:
    setting = make_setting("10.0.0.1:10130", "10.0.0.1:10131", auth=True)
    shown = redacted(setting)
    assert shown["密码"] == "***" and shown["授权编码"] == "***"
    assert PASSWORD not in repr(shown) and AUTH_CODE not in repr(shown)
    assert shown["用户名"] == "000001" and shown["交易服务器"] == "tcp://10.0.0.1:10130"
    assert setting["密码"] == PASSWORD  # the original is untouched
    assert redacted(make_setting("10.0.0.1:1", "10.0.0.1:2"))["授权编码"] == ""
