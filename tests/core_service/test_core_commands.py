"""Operator commands against the running core (real vnpy engines, simulated SHFE gateway, real
MariaDB and Redis): each is answered, audited, refused when expired/duplicate/invalid."""

from __future__ import annotations

import json
import time

from vnpy.trader.constant import Direction, Offset

from common.contract import Command, CommandStatus, CommandType
from common.db import Database
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually


def audit_rows(db: Database, command_id: str) -> list[dict]:
    return db.query("SELECT * FROM command_audit WHERE command_id=%s", (command_id,))


def test_core_publishes_ticks_heartbeat_and_contracts(core: CoreHarness) -> None:
    stream = core.keys.tick_stream("au2702")
    eventually(lambda: core.redis.xlen(stream) >= 3)
    (_, fields), = core.redis.xrevrange(stream, count=1)
    for name in ("ts_ms", "last_price", "volume", "bid_price_1", "bid_volume_1", "ask_price_1", "ask_volume_1",
                 "open_price", "high_price", "low_price", "limit_up", "limit_down", "open_interest"):
        assert name in fields
    assert float(fields["bid_price_1"]) < float(fields["ask_price_1"])
    beat = eventually(core.heartbeat)
    assert beat.gateway.state.value == "LOGGED_IN" and beat.main_contract == "au2702" and beat.mysql_ok
    contracts = core.redis.hgetall(core.keys.contracts)
    assert "au2702" in contracts and json.loads(contracts["au2702"])["is_main"] is True
    assert len(contracts) >= 3


def test_close_position_market_and_audit(core: CoreHarness, db: Database) -> None:
    core.open_position(Direction.LONG, 2)
    reply = core.send(CommandType.POSITION_CLOSE, vt_symbol="au2702.SHFE", direction="LONG", volume=1,
                      price_type="MARKET")
    assert reply.status == CommandStatus.DONE, reply.reason
    assert [o["offset"] for o in reply.result["orders"]] == ["CLOSETODAY"]
    eventually(lambda: core.position_volume(Direction.LONG) == 1)
    eventually(lambda: len(db.query("SELECT * FROM trades WHERE offset_='CLOSETODAY'")) == 1)
    closing = db.query("SELECT direction, volume FROM trades WHERE offset_='CLOSETODAY'")[0]
    assert closing["direction"] == "SHORT" and float(closing["volume"]) == 1
    rows = eventually(lambda: audit_rows(db, reply.command_id))
    assert rows[0]["status"] == "done" and rows[0]["type"] == "position.close"
    assert json.loads(rows[0]["params"])["volume"] == 1
    pushed = [json.loads(f["json"]) for _, f in core.redis.xrange(core.keys.events)]
    audits = [e["data"] for e in pushed if e["type"] == "command" and e["data"]["command_id"] == reply.command_id]
    assert len(audits) == 1, "one live audit event per command"
    assert audits[0]["status"] == "done" and audits[0]["uid"] == rows[0]["uid"]
    assert audits[0]["received_ms"] <= audits[0]["replied_ms"]


def test_close_more_than_held_is_refused_and_sends_nothing(core: CoreHarness, db: Database) -> None:
    core.open_position(Direction.SHORT, 1)
    orders_before = len(core.main_engine.get_all_orders())
    reply = core.send(CommandType.POSITION_CLOSE, vt_symbol="au2702.SHFE", direction="SHORT", volume=3)
    assert reply.status == CommandStatus.REFUSED
    assert "only 1 closable" in reply.reason
    assert len(core.main_engine.get_all_orders()) == orders_before
    assert core.position_volume(Direction.SHORT) == 1


def test_expired_duplicate_and_invalid_commands_are_refused(core: CoreHarness, db: Database) -> None:
    core.open_position(Direction.LONG, 1)
    stale = Command(type=CommandType.POSITION_CLOSE, issued_ms=int(time.time() * 1000) - 60_000,
                    params={"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 1})
    from common.command_client import send_command

    reply = send_command(core.redis, core.keys, stale)
    assert reply.status == CommandStatus.REFUSED and reply.reason.startswith("expired")
    assert core.position_volume(Direction.LONG) == 1  # nothing fired

    fresh = Command(type=CommandType.STRATEGY_STOP, params={"name": "nope"})
    first = send_command(core.redis, core.keys, fresh)
    again = send_command(core.redis, core.keys, fresh)  # the same id: a double click or a retry
    assert first.status == CommandStatus.REFUSED and "unknown strategy" in first.reason
    assert again.status == CommandStatus.REFUSED and again.reason.startswith("duplicate")

    core.redis.lpush(core.keys.commands, json.dumps({"id": "bad-command-1", "type": "position.close",
                                                     "params": {"volume": -1}}))
    raw = core.redis.brpop([core.keys.reply("bad-command-1")], timeout=5)
    assert raw is not None and json.loads(raw[1])["status"] == "refused"
    assert "invalid command" in json.loads(raw[1])["reason"]
    core.redis.lpush(core.keys.commands, "not json at all")  # no id to answer: audited, loop survives
    assert core.send(CommandType.EMERGENCY_STOP).status == CommandStatus.DONE
    eventually(lambda: len(audit_rows(db, stale.id)) == 1 and len(audit_rows(db, fresh.id)) == 2)
    eventually(lambda: db.query("SELECT COUNT(*) AS n FROM command_audit WHERE type='invalid'")[0]["n"] == 2)


def test_cancel_order_and_emergency_stop(core: CoreHarness, db: Database) -> None:
    tick = core.tick("au2702.SHFE")
    resting = core.order(Direction.LONG, Offset.OPEN, 1, price=tick.bid_price_1 - 2.0)
    eventually(lambda: core.main_engine.get_order(resting) and core.main_engine.get_order(resting).is_active())
    reply = core.send(CommandType.ORDER_CANCEL, vt_orderid=resting)
    assert reply.status == CommandStatus.DONE
    eventually(lambda: db.query("SELECT status FROM orders WHERE orderid=%s", (resting.split(".", 1)[1],))[0]
               ["status"] == "CANCELLED")
    again = core.send(CommandType.ORDER_CANCEL, vt_orderid=resting)
    assert again.status == CommandStatus.REFUSED and "already CANCELLED" in again.reason

    others = [core.order(Direction.SHORT, Offset.OPEN, 1, price=tick.ask_price_1 + 3.0) for _ in range(2)]
    eventually(lambda: all(core.main_engine.get_order(o) for o in others))
    reply = core.send(CommandType.EMERGENCY_STOP)
    assert reply.status == CommandStatus.DONE and sorted(reply.result["cancelled_orders"]) == sorted(others)
    eventually(lambda: not core.main_engine.get_all_active_orders())


def test_close_splits_into_close_today_then_close_yesterday(core: CoreHarness, db: Database) -> None:
    core.open_position(Direction.LONG, 2)
    core.stop()
    state_file = core.config.runtime_path() / "sim_state.json"
    state = json.loads(state_file.read_text(encoding="utf-8"))
    state["ledger"]["trading_day"] = "20200102"  # as if those lots were bought on an earlier trading day
    state_file.write_text(json.dumps(state), encoding="utf-8")
    core.start()  # the sim rolls to today's trading day: the 2 lots become yesterday's
    long_id = f"SIM.au2702.SHFE.{Direction.LONG.value}"
    eventually(lambda: (p := core.main_engine.get_position(long_id)) and p.yd_volume == 2, what="2 lots yesterday")
    core.open_position(Direction.LONG, 2)  # and 2 more today
    reply = core.send(CommandType.POSITION_CLOSE, vt_symbol="au2702.SHFE", direction="LONG", volume=3)
    assert reply.status == CommandStatus.DONE, reply.reason
    assert [(o["offset"], o["volume"]) for o in reply.result["orders"]] == [("CLOSETODAY", 2), ("CLOSEYESTERDAY", 1)]
    eventually(lambda: core.position_volume(Direction.LONG) == 1)
    assert core.main_engine.get_position(long_id).yd_volume == 1
    closes = eventually(lambda: (rows := db.query("SELECT offset_, SUM(volume) AS v FROM trades WHERE offset_ LIKE "
                                                  "'CLOSE%%' GROUP BY offset_ ORDER BY offset_")) and len(rows) == 2
                        and rows)
    assert [(r["offset_"], float(r["v"])) for r in closes] == [("CLOSETODAY", 2.0), ("CLOSEYESTERDAY", 1.0)]
