"""Orders by hand against the running core (real vnpy engines, simulated SHFE gateway, MariaDB,
Redis): the ticket's preview and send, coded refusals that send nothing, flatten, a held old contract
kept alive across a rollover and a restart, and a strategy's pos brought to the account after a hand
close."""

from __future__ import annotations

import json
from typing import Any

from vnpy.trader.constant import Direction
from vnpy.trader.object import TickData
from vnpy_ctastrategy import CtaTemplate

from common.config import load_config
from common.contract import CommandReply, CommandStatus, CommandType, now_ms
from common.db import Database
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually

MAIN = "au2702.SHFE"


def ticket(core: CoreHarness, kind: CommandType = CommandType.ORDER_SEND, **params: Any) -> Any:
    base = {"vt_symbol": MAIN, "direction": "LONG", "offset": "OPEN", "volume": 1, "price_type": "MARKET"}
    return core.send(kind, **{**base, **params})


def test_preview_shows_the_exact_order_and_its_cost_then_send_fills_it(core: CoreHarness) -> None:
    preview = ticket(core, CommandType.ORDER_PREVIEW, volume=2)
    assert preview.status == CommandStatus.DONE, preview.reason
    result = preview.result
    tick = core.tick(MAIN)
    assert result["problems"] == []
    assert result["orders"] == [{"direction": "LONG", "offset": "OPEN", "volume": 2, "price": result["price"]}]
    assert result["price"] > tick.ask_price_1  # marketable: crosses the spread by a few ticks
    assert result["margin"] > 0 and result["commission"] > 0 and result["available"] > result["margin"]
    assert result["closable"]["LONG"]["volume"] == 0
    assert result["session"]["mode"] == "always" and result["session"]["state"] == "open"
    assert core.main_engine.get_all_orders() == [], "a preview sends nothing"

    sent = ticket(core, volume=2)
    assert sent.status == CommandStatus.DONE, sent.reason
    (order,) = sent.result["orders"]
    assert order["vt_orderid"] and order["offset"] == "OPEN" and order["volume"] == 2
    assert sent.result["execution_id"] == sent.command_id, "a MARKET order is followed up"
    eventually(lambda: core.position_volume(Direction.LONG) == 2, what="2 LONG opened")

    after = ticket(core, CommandType.ORDER_PREVIEW, direction="SHORT", offset="CLOSE", volume=2).result
    assert after["closable"]["LONG"]["closable"] == 2 and after["closable"]["LONG"]["td"] == 2
    assert [o["offset"] for o in after["orders"]] == ["CLOSETODAY"], "SHFE: a CLOSE of today's lots"
    assert after["margin"] == 0


def test_refusals_carry_a_code_and_send_nothing(core: CoreHarness) -> None:
    tick = core.tick(MAIN)
    high = ticket(core, price_type="LIMIT", price=round(tick.limit_up + 10, 2))
    assert high.status == CommandStatus.REFUSED and high.code == "outside_limits"
    assert high.vars["high"] == f"{tick.limit_up:.2f}" and "outside today's limits" in high.reason
    too_many = ticket(core, direction="SHORT", offset="CLOSETODAY", volume=3)
    assert too_many.status == CommandStatus.REFUSED and too_many.code == "not_closable"
    assert too_many.vars["closable"] == 0 and too_many.vars["direction"] == "LONG"
    unknown = ticket(core, vt_symbol="au2001.SHFE")
    assert unknown.code == "unknown_contract"
    no_quote = ticket(core, vt_symbol="au2704.SHFE")  # listed, never subscribed: no tick
    assert no_quote.status == CommandStatus.REFUSED and no_quote.code == "no_price"
    limit = ticket(core, vt_symbol="au2704.SHFE", price_type="LIMIT", price=600.0)
    assert limit.status == CommandStatus.REFUSED and limit.code == "no_tick", "the sim rejects it: refused here"
    preview = ticket(core, CommandType.ORDER_PREVIEW, vt_symbol="au2704.SHFE")
    assert [p["code"] for p in preview.result["problems"]] == ["no_price"] and preview.result["orders"] == []
    eventually(lambda: core.tick("au2704.SHFE"), what="a previewed contract is subscribed")
    again = ticket(core, CommandType.ORDER_PREVIEW, vt_symbol="au2704.SHFE").result
    assert again["problems"] == [] and again["orders"][0]["price"] > again["tick"]["ask"]
    raw = {"id": "badticket01", "type": "order.send", "issued_ms": now_ms(), "ttl_s": 5.0, "source": "test",
           "params": {"vt_symbol": MAIN, "direction": "LONG", "offset": "OPEN", "volume": 0, "price_type": "MARKET"}}
    core.redis.lpush(core.keys.commands, json.dumps(raw))
    _, answer = core.redis.brpop([core.keys.reply("badticket01")], timeout=5)
    invalid = CommandReply.model_validate_json(answer)
    assert invalid.status == CommandStatus.REFUSED and invalid.code == "invalid" and "volume" in invalid.vars["problems"]
    assert core.main_engine.get_all_orders() == []


def test_flatten_sends_exactly_what_was_confirmed(core: CoreHarness) -> None:
    assert core.send(CommandType.POSITIONS_FLATTEN, expect=[]).code == "nothing_to_flatten"
    core.open_position(Direction.LONG, 2)
    core.open_position(Direction.SHORT, 1)
    orders_before = len(core.main_engine.get_all_orders())
    wrong = core.send(CommandType.POSITIONS_FLATTEN, expect=[{"vt_symbol": MAIN, "direction": "LONG", "volume": 2}])
    assert wrong.status == CommandStatus.REFUSED and wrong.code == "flatten_changed"
    assert "SHORT held 1, confirmed 0" in wrong.vars["detail"]
    assert len(core.main_engine.get_all_orders()) == orders_before, "a refused flatten sends nothing"
    reply = core.send(CommandType.POSITIONS_FLATTEN, expect=[
        {"vt_symbol": MAIN, "direction": "LONG", "volume": 2}, {"vt_symbol": MAIN, "direction": "SHORT", "volume": 1}])
    assert reply.status == CommandStatus.DONE, reply.reason
    closes = {(c["direction"], c["volume"]) for c in reply.result["closes"]}
    assert closes == {("LONG", 2), ("SHORT", 1)}
    assert all(c["execution_id"] and c["orders"] for c in reply.result["closes"])
    eventually(lambda: core.position_volume(Direction.LONG) == 0 and core.position_volume(Direction.SHORT) == 0,
               what="flat")


def test_a_held_old_contract_keeps_its_price_and_close_after_rollover_and_restart(core: CoreHarness) -> None:
    core.open_position(Direction.LONG, 1)
    assert core.send(CommandType.CONTRACT_SWITCH, symbol="au2704").status == CommandStatus.DONE
    stream = core.keys.tick_stream("au2702")
    length = core.redis.xlen(stream)
    eventually(lambda: core.redis.xlen(stream) > length, what="the held au2702 still publishes ticks")
    core.stop()
    core.config = load_config(core.config_path)  # the switch rewrote the config file
    assert core.config.market_data.main_contract == "au2704"
    core.start(wait_ticks=False)
    eventually(lambda: core.heartbeat() and core.heartbeat().main_contract == "au2704", what="restarted on au2704")
    eventually(lambda: core.tick(MAIN) is not None, what="a tick of the held au2702 after the restart")
    reply = core.send(CommandType.POSITION_CLOSE, vt_symbol=MAIN, direction="LONG", volume=1, price_type="MARKET")
    assert reply.status == CommandStatus.DONE, reply.reason
    eventually(lambda: core.position_volume(Direction.LONG) == 0, what="au2702 closed")


class _BuyOnce(CtaTemplate):
    """Buys one lot on its first tick, then holds."""

    author = "test"
    parameters: list[str] = []
    variables: list[str] = []

    def on_init(self) -> None:
        pass

    def on_bar(self, bar: object) -> None:
        pass

    def on_tick(self, tick: TickData) -> None:
        if self.pos == 0 and not getattr(self, "_sent", False):
            self._sent = True
            self.buy(tick.ask_price_1 + 0.2, 1)


def test_a_hand_close_stops_the_strategy_and_brings_its_pos_to_the_account(core: CoreHarness, db: Database) -> None:
    cta = core.app.cta
    cta.classes[_BuyOnce.__name__] = _BuyOnce
    cta.add_strategy(_BuyOnce.__name__, "holder", MAIN, {})
    cta.init_strategy("holder").result(timeout=10)
    assert core.send(CommandType.STRATEGY_START, name="holder").status == CommandStatus.DONE
    strategy = cta.strategies["holder"]
    eventually(lambda: strategy.pos == 1 and core.position_volume(Direction.LONG) == 1, what="the strategy holds 1")
    preview = ticket(core, CommandType.ORDER_PREVIEW, direction="SHORT", offset="CLOSE").result
    assert preview["strategies"] == [{"name": "holder", "pos": 1, "trading": True}]
    reply = core.send(CommandType.POSITION_CLOSE, vt_symbol=MAIN, direction="LONG", volume=1, stop_strategies=True)
    assert reply.status == CommandStatus.DONE, reply.reason
    assert reply.result["stopped_strategies"] == ["holder"] and not strategy.trading
    eventually(lambda: core.position_volume(Direction.LONG) == 0, what="closed by hand")
    eventually(lambda: strategy.pos == 0, what="the strategy's pos follows the account")
    row = eventually(lambda: db.query("SELECT action, result, condition_ FROM strategy_triggers"
                                      " WHERE strategy='holder' AND action='pos_sync'")[0])
    assert row["result"] == "success" and "pos 1 -> 0" in row["condition_"]
    eventually(lambda: cta.strategy_data.get("holder", {}).get("pos") == 0, what="pos persisted in vnpy's data")
