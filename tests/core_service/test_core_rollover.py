"""Main-contract rollover while the core runs: by editing the config file and by command."""

from __future__ import annotations

import json

from common.contract import CommandStatus, CommandType
from common.db import Database
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually


def main_contract(core: CoreHarness) -> str:
    return json.loads(core.redis.get(core.keys.main_contract))["symbol"]


def pick_other(core: CoreHarness) -> str:
    symbols = sorted(core.redis.hgetall(core.keys.contracts))
    return next(s for s in symbols if s != "au2702")


def test_editing_the_config_file_rolls_the_main_contract(core: CoreHarness, db: Database) -> None:
    new = pick_other(core)
    old_stream, new_stream = core.keys.tick_stream("au2702"), core.keys.tick_stream(new)
    eventually(lambda: core.redis.xlen(old_stream) > 0)
    data = json.loads(core.config_path.read_text(encoding="utf-8"))
    data["market_data"]["main_contract"] = new
    core.config_path.write_text(json.dumps(data), encoding="utf-8")

    eventually(lambda: main_contract(core) == new, what="main contract switched")
    eventually(lambda: core.redis.xlen(new_stream) >= 2, what="new contract's ticks on its own stream")
    eventually(lambda: not core.redis.exists(old_stream), what="old contract's live ticks cleared")
    contracts = {k: json.loads(v) for k, v in core.redis.hgetall(core.keys.contracts).items()}
    assert contracts[new]["is_main"] and not contracts["au2702"]["is_main"]
    events = eventually(lambda: db.query("SELECT message FROM system_events WHERE kind='rollover'"))
    assert f"from au2702 to {new}" in events[0]["message"]
    assert core.heartbeat() and eventually(lambda: core.heartbeat().main_contract == new)


def test_an_invalid_edit_is_refused_and_the_running_settings_stay(core: CoreHarness, db: Database) -> None:
    good = core.config_path.read_text(encoding="utf-8")
    core.config_path.write_text(good.replace('"au2702"', '"gold!"'), encoding="utf-8")
    errors = eventually(lambda: db.query("SELECT level, message FROM system_events WHERE kind='config'"))
    assert errors[0]["level"] == "ERROR" and "market_data.main_contract" in errors[0]["message"]
    core.config_path.write_text("{ not json", encoding="utf-8")
    eventually(lambda: len(db.query("SELECT id FROM system_events WHERE kind='config'")) == 2)
    assert main_contract(core) == "au2702"
    stream = core.keys.tick_stream("au2702")
    before = core.redis.xlen(stream)
    eventually(lambda: core.redis.xlen(stream) > before, what="still publishing the old main contract")


def test_switch_command_writes_the_config_and_refuses_unknown_contracts(core: CoreHarness) -> None:
    unknown = core.send(CommandType.CONTRACT_SWITCH, symbol="au3912")
    assert unknown.status == CommandStatus.REFUSED and "not known" in unknown.reason
    same = core.send(CommandType.CONTRACT_SWITCH, symbol="au2702")
    assert same.status == CommandStatus.REFUSED
    new = pick_other(core)
    reply = core.send(CommandType.CONTRACT_SWITCH, symbol=new)
    assert reply.status == CommandStatus.DONE
    assert json.loads(core.config_path.read_text(encoding="utf-8"))["market_data"]["main_contract"] == new
    # the state reaches Redis through the publisher's queue, after the answer
    eventually(lambda: main_contract(core) == new, what="the new main contract published")
    eventually(lambda: core.redis.xlen(core.keys.tick_stream(new)) >= 1)
