"""The AI trader's commands against the running core (real vnpy engines, simulated SHFE gateway, real
MariaDB and Redis): ai.trade opens and closes with the operator's offsets and the AI's reference, every
AI refusal has its code and sends nothing, a preview sends nothing and counts nowhere, the rate limit,
the operator's switch, the daily-loss limit, and a CTP core without the live opt-in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vnpy.trader.constant import Direction

from common.command_client import send_command
from common.config import Secrets
from common.contract import (
    AiState,
    Command,
    CommandReply,
    CommandStatus,
    CommandType,
    GatewayState,
    ai_reference,
)
from common.db import Database
from core_service.app import CoreApp
from tests.core_service.harness import CoreHarness, reset_vnpy_files
from tests.helpers import deep_merge, eventually

MAIN = "au2702.SHFE"


def ai(core: CoreHarness, kind: CommandType = CommandType.AI_TRADE, source: str = "mcp", **params: Any) -> CommandReply:
    """An AI command as the MCP tools send it (source mcp, a fresh tool call id)."""
    if kind in (CommandType.AI_TRADE, CommandType.AI_PREVIEW):
        params = {"action": "open", "direction": "long", "volume": 1, "confidence": 70, "reason": "test",
                  "tool_call_id": uuid.uuid4().hex, **params}
    return send_command(core.redis, core.keys, Command(type=kind, params=params, source=source), 5.0)


def ai_state(core: CoreHarness) -> AiState | None:
    raw = core.redis.get(core.keys.ai_state)
    return AiState.model_validate_json(raw) if raw else None


def order_count(core: CoreHarness) -> int:
    return len(core.main_engine.get_all_orders())


def refused(reply: CommandReply, code: str) -> CommandReply:
    assert reply.status == CommandStatus.REFUSED and reply.code == code, (reply.status, reply.code, reply.reason)
    return reply


@contextmanager
def ai_core(config_dict: dict[str, Any], tmp_path: Path, **override: Any) -> Iterator[CoreHarness]:
    harness = CoreHarness(deep_merge(config_dict, override), tmp_path / "arbig.json")
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


def test_ai_trade_opens_and_closes_with_the_operators_offsets_and_its_reference(
        config_dict: dict[str, Any], tmp_path: Path, db: Database) -> None:
    with ai_core(config_dict, tmp_path, ai={"max_lots_per_order": 2}) as core:
        state = eventually(lambda: ai_state(core), what="the AI state published at start")
        assert state.enabled and state.gateway == "sim" and not state.live_account
        assert state.limits.max_lots_per_order == 2 and state.exit_plans == []

        call = uuid.uuid4().hex
        opened = ai(core, volume=2, confidence=81, tool_call_id=call)
        assert opened.status == CommandStatus.DONE, opened.reason
        result = opened.result
        (order,) = result["orders"]
        assert (order["direction"], order["offset"], order["volume"]) == ("LONG", "OPEN", 2)
        assert result["execution_id"] == opened.command_id, "marketable: followed up like the operator's MARKET"
        assert result["tool_call_id"] == call and result["confidence"] == 81 and result["exit_plan"] is None
        assert core.main_engine.get_order(order["vt_orderid"]).reference == ai_reference(call, 81)
        eventually(lambda: core.position_volume(Direction.LONG) == 2, what="2 LONG opened")
        row = eventually(lambda: db.query("SELECT reference FROM orders WHERE orderid=%s",
                                          (order["vt_orderid"].split(".", 1)[1],))[0])
        assert row["reference"] == f"ARBIG_ai:{call}:81"

        closed = ai(core, action="close", volume=2)
        assert closed.status == CommandStatus.DONE, closed.reason
        assert [(o["direction"], o["offset"]) for o in closed.result["orders"]] == [("SHORT", "CLOSETODAY")]
        eventually(lambda: core.position_volume(Direction.LONG) == 0, what="LONG closed")

        bid = core.tick(MAIN).bid_price_1
        short = ai(core, direction="short", order_type="limit", price=round(bid - 0.2, 2))
        assert short.status == CommandStatus.DONE, short.reason
        assert [(o["direction"], o["offset"]) for o in short.result["orders"]] == [("SHORT", "OPEN")]
        assert short.result["execution_id"] == "", "a limit is left as priced"
        eventually(lambda: core.position_volume(Direction.SHORT) == 1, what="1 SHORT opened")
        cover = ai(core, action="close", direction="short")
        assert [(o["direction"], o["offset"]) for o in cover.result["orders"]] == [("LONG", "CLOSETODAY")]
        eventually(lambda: core.position_volume(Direction.SHORT) == 0, what="SHORT closed")
        assert eventually(lambda: (s := ai_state(core)) and s.orders_last_minute == 4 and s).orders_last_minute == 4


def test_every_ai_refusal_has_its_code_and_sends_nothing(config_dict: dict[str, Any], tmp_path: Path) -> None:
    limits = {"max_lots_per_order": 2, "max_position_lots": 2, "max_orders_per_minute": 3, "require_exit_plan": True}
    with ai_core(config_dict, tmp_path, ai=limits) as core:
        last = core.tick(MAIN).last_price
        plan = {"stop_loss": round(last - 5, 2), "take_profit": round(last + 5, 2)}
        before = order_count(core)
        refused(ai(core, source="web", exit_plan=plan), "ai_source")
        refused(ai(core, symbol="au2704", exit_plan=plan), "ai_not_main")
        refused(ai(core, volume=3, exit_plan=plan), "ai_volume_limit")
        refused(ai(core), "ai_exit_plan_required")
        refused(ai(core, exit_plan={"invalidation": "no levels"}), "ai_exit_plan_required")
        wrong = refused(ai(core, exit_plan={"stop_loss": round(last + 1, 2)}), "ai_exit_plan_invalid")
        assert "must be below the last price" in wrong.reason
        refused(ai(core, action="close"), "not_closable")  # then the order plan's own problems
        refused(ai(core, action="close", direction="short", order_type="limit", price=round(last * 2, 2)),
                "outside_limits")
        refused(ai(core, kind=CommandType.AI_EXIT_PLAN, symbol="au2702", direction="long", stop_loss=1.0,
                   tool_call_id=uuid.uuid4().hex), "ai_no_position")
        assert order_count(core) == before, "no refusal sent an order"

        preview = ai(core, kind=CommandType.AI_PREVIEW, volume=3)
        assert preview.status == CommandStatus.DONE, preview.reason
        assert [p["code"] for p in preview.result["problems"]] == ["ai_volume_limit", "ai_position_limit",
                                                               "ai_exit_plan_required"]
        assert preview.result["would_send"] is False and preview.result["orders"][0]["volume"] == 3
        good = ai(core, kind=CommandType.AI_PREVIEW, volume=2, exit_plan=plan)
        assert good.result["problems"] == [] and good.result["would_send"] is True
        assert good.result["orders"] == [{"direction": "LONG", "offset": "OPEN", "volume": 2,
                                          "price": good.result["price"]}] and good.result["margin"] > 0
        for _ in range(4):  # previews count nowhere
            ai(core, kind=CommandType.AI_PREVIEW, volume=1, exit_plan=plan)
        assert order_count(core) == before, "a preview sends nothing"

        opened = ai(core, volume=2, exit_plan=plan)  # send 1 of 3 this minute
        assert opened.status == CommandStatus.DONE, opened.reason
        assert opened.result["exit_plan"]["stop_loss"] == plan["stop_loss"]
        eventually(lambda: core.position_volume(Direction.LONG) == 2, what="2 LONG opened")
        over = refused(ai(core, exit_plan=plan), "ai_position_limit")
        assert over.vars["held"] == 2 and over.vars["limit"] == 2
        assert ai(core, action="close").status == CommandStatus.DONE  # send 2
        assert ai(core, action="close").status == CommandStatus.DONE  # send 3
        eventually(lambda: core.position_volume(Direction.LONG) == 0, what="closed")
        sent = order_count(core)
        limited = refused(ai(core, exit_plan=plan), "ai_rate_limit")
        assert limited.vars == {"sent": 3, "limit": 3}
        rate_preview = ai(core, kind=CommandType.AI_PREVIEW, exit_plan=plan).result
        assert [p["code"] for p in rate_preview["problems"]] == ["ai_rate_limit"]
        assert order_count(core) == sent

        off = core.send(CommandType.AI_SWITCH, enabled=False, reason="lunch")
        assert off.status == CommandStatus.DONE and off.result["enabled"] is False
        state = eventually(lambda: (s := ai_state(core)) and not s.enabled and s)
        assert "lunch" in state.reason and "operator" in state.reason
        eventually(lambda: [e for _, f in core.redis.xrange(core.keys.events) if (e := json.loads(f["json"]))["type"]
                            == "ai_state" and e["data"]["enabled"] is False], what="the change pushed to the pages")
        switched_off = refused(ai(core, exit_plan=plan), "ai_off")
        assert "lunch" in switched_off.reason
        refused(ai(core, kind=CommandType.AI_SWITCH, enabled=True), "ai_switch_not_allowed")
        assert not eventually(lambda: ai_state(core)).enabled, "a tool cannot switch AI trading on"
        assert core.send(CommandType.AI_SWITCH, enabled=True).result["enabled"] is True
        assert eventually(lambda: (s := ai_state(core)) and s.enabled)
        assert order_count(core) == sent


def test_the_daily_loss_limit_switches_ai_trading_off(config_dict: dict[str, Any], tmp_path: Path,
                                                      db: Database) -> None:
    """A commission of 1000 a lot: one open takes the day's PnL to about -1000, past a limit of 500."""
    with ai_core(config_dict, tmp_path, ai={"max_daily_loss": 500.0},
                 gateway={"sim": {"commission_per_lot": 1000.0}}) as core:
        opened = ai(core)
        assert opened.status == CommandStatus.DONE, opened.reason
        state = eventually(lambda: (s := ai_state(core)) and not s.enabled and s, what="AI switched off")
        assert state.reason.startswith("daily loss limit reached: day PnL") and "<= -500.00" in state.reason
        assert state.day_pnl <= -500
        risk = eventually(lambda: db.query("SELECT type, severity, message FROM risk_events WHERE type='AI_DAILY_LOSS'"))
        assert risk[0]["severity"] == "CRITICAL" and "daily loss limit" in risk[0]["message"]
        eventually(lambda: db.query("SELECT * FROM system_events WHERE kind='ai_switch' AND level='ERROR'"))
        before = order_count(core)
        off = refused(ai(core), "ai_off")
        assert "daily loss limit reached" in off.reason

        on = core.send(CommandType.AI_SWITCH, enabled=True, reason="I accept the loss")
        assert on.status == CommandStatus.DONE and on.result["enabled"] is True
        assert "still past the daily loss limit" in on.result["warning"]
        again = refused(ai(core), "ai_daily_loss")
        assert again.vars["limit"] == 500.0 and again.vars["day_pnl"] <= -500
        assert eventually(lambda: (s := ai_state(core)) and not s.enabled and s).reason.startswith("daily loss")
        assert order_count(core) == before
        assert len(db.query("SELECT * FROM risk_events WHERE type='AI_DAILY_LOSS'")) == 1, "one risk event"


def test_a_ctp_core_without_the_opt_in_refuses_every_trading_command(config_dict: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    """No CTP credentials: the gateway never reaches a front (LOGIN_FAILED); the AI checks come first."""
    config = deep_merge(config_dict, {"gateway": {"name": "ctp", "login_timeout_s": 3}})
    harness = CoreHarness(config, tmp_path / "arbig.json")
    reset_vnpy_files()
    runtime = harness.config.runtime_path()
    runtime.mkdir(parents=True, exist_ok=True)
    app = harness.app = CoreApp(harness.config, harness.config_path, Secrets(), runtime)
    try:
        app.start()
        eventually(lambda: app.tracker.current.state == GatewayState.LOGIN_FAILED, what="no CTP credentials")
        state = eventually(lambda: ai_state(harness))
        assert state.live_account and not state.live_trading_allowed and state.gateway == "ctp"
        refused(ai(harness), "ai_live_opt_in")
        refused(ai(harness, action="close", direction="short"), "ai_live_opt_in")
        refused(ai(harness, kind=CommandType.AI_EXIT_PLAN, symbol="au2702", direction="long", stop_loss=500.0,
                   tool_call_id=uuid.uuid4().hex), "ai_live_opt_in")
        preview = ai(harness, kind=CommandType.AI_PREVIEW)
        assert preview.result["would_send"] is False
        assert preview.result["problems"][0]["code"] == "ai_live_opt_in"
        assert app.main_engine.get_all_orders() == []
    finally:
        harness.stop()
