"""Configuration loading: valid files load, invalid ones name the field, secrets stay out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    load_config,
    load_secrets,
    parse_config,
    update_main_contract_file,
)


def test_committed_config_is_valid_and_uses_the_sim_gateway() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert config.gateway.name == "sim"
    assert config.market_data.contract_multiplier == 1000
    assert config.market_data.vt_symbol.endswith(".SHFE")


def test_committed_config_holds_no_credentials() -> None:
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    for word in ("password", "密码", "auth_code", "userid"):
        assert word not in text


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"gateway": {"name": "ib"}}', "gateway.name"),
        ('{"market_data": {"main_contract": "gold"}}', "market_data.main_contract"),
        ('{"market_data": {"contract_multiplier": 0}}', "market_data.contract_multiplier"),
        ('{"redis": {"port": 70000}}', "redis.port"),
        ('{"core": {"command_ttl_s": -1}}', "core.command_ttl_s"),
        ('{"unknown_section": {}}', "unknown_section"),
        ('{"strategies": [{"name": "a", "class_name": "X"}, {"name": "a", "class_name": "Y"}]}', "strategies"),
    ],
)
def test_invalid_config_names_the_field(text: str, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.json")
    assert f"field '{field}'" in str(info.value)


def test_broken_json_says_where() -> None:
    with pytest.raises(ConfigError, match="line 1 column"):
        parse_config('{"market_data": ', "x.json")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_config(tmp_path / "nope.json")


def test_secrets_come_from_the_environment_and_never_print(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARBIG_CTP_USERID", "u123")
    monkeypatch.setenv("ARBIG_CTP_PASSWORD", "s3cret-pw")
    secrets = load_secrets(tmp_path / "absent.json")
    assert secrets.ctp.userid == "u123"
    assert secrets.ctp.password.get_secret_value() == "s3cret-pw"
    assert "s3cret-pw" not in repr(secrets) and "s3cret-pw" not in str(secrets.model_dump())


def test_update_main_contract_keeps_other_fields_and_refuses_bad_symbols(tmp_path: Path) -> None:
    path = tmp_path / "arbig.json"
    original = json.loads(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    path.write_text(json.dumps(original), encoding="utf-8")
    config = update_main_contract_file(path, "au2706")
    assert config.market_data.main_contract == "au2706"
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["market_data"]["main_contract"] == "au2706"
    assert written["strategies"] == original["strategies"]
    before = path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError):
        update_main_contract_file(path, "AU-2706")
    assert path.read_text(encoding="utf-8") == before
