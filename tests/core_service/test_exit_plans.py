"""The AI's exit plans on the running core (simulated SHFE gateway, real MariaDB and Redis): a stop loss
closes the position when the price crosses it (the close carries the exit reference), and a plan set on
a held position is validated, kept in MySQL across a restart and cleared."""

from __future__ import annotations

import uuid
from copy import copy
from datetime import datetime
from typing import Any

from vnpy.trader.constant import Direction, Offset

from common.contract import CommandStatus, CommandType, exit_reference
from common.db import Database
from common.trading_calendar import CHINA_TZ
from tests.core_service.harness import CoreHarness
from tests.core_service.test_ai_desk import MAIN, ai, ai_state, refused
from tests.helpers import eventually


def plan_rows(db: Database) -> list[dict[str, Any]]:
    return db.query("SELECT vt_symbol, direction, stop_loss, take_profit, invalidation, tool_call_id, triggered"
                    " FROM exit_plans")


def test_a_stop_loss_closes_the_position_when_the_price_crosses_it(core: CoreHarness, db: Database) -> None:
    last = core.tick(MAIN).last_price
    stop = round(last - 0.5, 2)
    call = uuid.uuid4().hex
    opened = ai(core, tool_call_id=call, exit_plan={"stop_loss": stop, "take_profit": round(last + 30, 2),
                                                    "invalidation": "a close below the stop"})
    assert opened.status == CommandStatus.DONE, opened.reason
    assert opened.result["exit_plan"]["stop_loss"] == stop and opened.result["exit_plan"]["tool_call_id"] == call
    eventually(lambda: core.position_volume(Direction.LONG) == 1, what="1 LONG opened")
    (row,) = eventually(lambda: plan_rows(db))
    assert (row["direction"], float(row["stop_loss"]), row["tool_call_id"], row["triggered"]) == ("LONG", stop, call, None)
    assert core.app.core.exit_plans.plan_of(MAIN, "LONG")["stop_loss"] == stop
    state = eventually(lambda: (s := ai_state(core)) and s.exit_plans and s)
    assert state.exit_plans[0].vt_symbol == MAIN and state.exit_plans[0].stop_loss == stop

    tick = copy(core.tick(MAIN))  # the market drops through the stop
    tick.datetime = datetime.now(CHINA_TZ)
    tick.last_price = round(stop - 0.04, 2)
    tick.bid_price_1, tick.ask_price_1 = round(stop - 0.06, 2), round(stop - 0.04, 2)
    core.main_engine.get_gateway("SIM").inject_tick(tick)

    eventually(lambda: core.position_volume(Direction.LONG) == 0, what="closed by the stop loss")
    (close,) = [o for o in core.main_engine.get_all_orders() if o.offset != Offset.OPEN]
    assert close.reference == exit_reference("stop_loss", call) and close.direction == Direction.SHORT
    assert close.offset == Offset.CLOSETODAY and close.volume == 1
    event = eventually(lambda: db.query("SELECT level, message FROM system_events WHERE kind='exit_plan'")[0])
    assert event["message"].startswith("exit plan stop_loss triggered on au2702.SHFE LONG")
    eventually(lambda: not plan_rows(db), what="the plan's row removed once flat")
    assert eventually(lambda: (s := ai_state(core)) and s.exit_plans == [] and s)
    assert core.app.core.exit_plans.plan_of(MAIN, "LONG") is None


def test_a_plan_set_on_a_held_position_is_checked_kept_across_a_restart_and_cleared(core: CoreHarness,
                                                                                      db: Database) -> None:
    def exit_plan(**levels: Any) -> Any:
        return ai(core, kind=CommandType.AI_EXIT_PLAN, symbol="au2702", direction="short",
                  tool_call_id=uuid.uuid4().hex, **levels)

    refused(exit_plan(stop_loss=900.0), "ai_no_position")
    opened = ai(core, direction="short")
    assert opened.status == CommandStatus.DONE, opened.reason
    eventually(lambda: core.position_volume(Direction.SHORT) == 1, what="1 SHORT opened")
    last = core.tick(MAIN).last_price
    wrong = refused(exit_plan(stop_loss=round(last - 1, 2)), "ai_exit_plan_invalid")
    assert "SHORT stop_loss" in wrong.reason and "must be above the last price" in wrong.reason
    stop, target = round(last + 20, 2), round(last - 20, 2)
    reply = exit_plan(stop_loss=stop, take_profit=target)
    assert reply.status == CommandStatus.DONE, reply.reason
    assert reply.result["exit_plan"]["take_profit"] == target
    eventually(lambda: plan_rows(db) and float(plan_rows(db)[0]["stop_loss"]) == stop, what="the plan's row")

    core.stop()
    core.start()
    kept = eventually(lambda: (s := ai_state(core)) and s.exit_plans and s, what="the plan after a restart")
    assert (kept.exit_plans[0].direction, kept.exit_plans[0].stop_loss) == ("SHORT", stop)
    assert core.position_volume(Direction.SHORT) == 1

    cleared = exit_plan()
    assert cleared.status == CommandStatus.DONE and cleared.result == {"exit_plan": None, "cleared": True}
    eventually(lambda: not plan_rows(db), what="the plan's row removed")
    assert eventually(lambda: (s := ai_state(core)) and s.exit_plans == [] and s)
