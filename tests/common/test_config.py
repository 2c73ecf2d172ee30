"""Configuration loading: valid files load, invalid ones name the field, secrets stay out."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from common.clock import LIVE, TestClock
from common.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    load_config,
    load_secrets,
    parse_config,
    update_main_contract_file,
)
from common.trading_calendar import CHINA_TZ


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
        ('{"market_data": {"last_update": "06/08/2025"}}', "market_data.last_update"),
        ('{"web": {"reconnect_max_attempts": 4}}', "web.reconnect_max_attempts"),
        ('{"web": {"reconnect_max_attempts": 11}}', "web.reconnect_max_attempts"),
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


def test_the_seed_market_data_block_is_accepted() -> None:
    seed = {"market_data": {"main_contract": "au2509", "contract_multiplier": 1000, "exchange": "SHFE",
                            "last_update": "2025-08-06", "auto_subscribe": True}}  # seed 004, verbatim
    assert parse_config(json.dumps(seed)).market_data.last_update == date(2025, 8, 6)
    assert parse_config("{}").market_data.last_update is None


@pytest.mark.parametrize("attempts", [5, 10])
def test_reconnect_attempts_within_the_seed_range_are_accepted(attempts: int) -> None:
    config = parse_config(json.dumps({"web": {"reconnect_max_attempts": attempts}}))
    assert config.web.reconnect_max_attempts == attempts


@pytest.mark.parametrize("attempts", [4, 11])
def test_reconnect_attempts_outside_the_seed_range_are_refused(attempts: int) -> None:
    with pytest.raises(ConfigError, match=r"field 'web\.reconnect_max_attempts': Input should be"):
        parse_config(json.dumps({"web": {"reconnect_max_attempts": attempts}}), "arbig.json")


def test_the_shipped_config_has_reconnect_attempts_in_range() -> None:
    assert 5 <= load_config(DEFAULT_CONFIG_PATH).web.reconnect_max_attempts <= 10


def test_a_rollover_writes_last_update_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "arbig.json"
    original = json.loads(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    original["market_data"]["last_update"] = "2025-08-06"
    path.write_text(json.dumps(original, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    evening = TestClock(datetime(2026, 12, 7, 23, 30, tzinfo=CHINA_TZ))  # China date, not UTC's 7 Dec 15:30
    config = update_main_contract_file(path, "au2706", evening)
    assert config.market_data.last_update == date(2026, 12, 7)
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["market_data"] == {**original["market_data"], "main_contract": "au2706", "last_update": "2026-12-07"}
    assert {k: v for k, v in written.items() if k != "market_data"} == {
        k: v for k, v in original.items() if k != "market_data"
    }
    assert load_config(path).market_data.last_update == date(2026, 12, 7)
    evening.advance(3600)
    update_main_contract_file(path, "au2708", evening)
    assert json.loads(path.read_text(encoding="utf-8"))["market_data"]["last_update"] == "2026-12-08"


def test_a_rollover_without_a_clock_stamps_today(tmp_path: Path) -> None:
    path = tmp_path / "arbig.json"
    path.write_text('{"market_data": {"main_contract": "au2612"}}', encoding="utf-8")
    before = LIVE.now().date()
    stamped = update_main_contract_file(path, "au2702").market_data.last_update
    assert stamped is not None and before <= stamped <= LIVE.now().date()
