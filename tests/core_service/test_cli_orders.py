"""The operator CLI's hand orders (`open`, `close`, `flatten`): preview, confirmation, send, and
each order followed to its outcome. Against a running core on the simulated gateway (subprocess
CLI), plus the follower against real Redis with the core's writes played by the test, and the
argument checks (exit 2, nothing sent)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest
import redis
from vnpy.trader.constant import Direction, Offset

from common.contract import EventMessage, ExecutionReport, ExecutionStep, Keys, OrderState
from common.db import Database
from common.trading_calendar import CHINA_TZ
from core_service import cli
from core_service import cli_orders_format as fmt
from core_service.cli_follow import Follower, Group
from tests.conftest import ROOT
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually

VT = "au2702.SHFE"
REOPENS_MS = int(datetime(2026, 3, 11, 13, 30, tzinfo=CHINA_TZ).timestamp() * 1000)
ORDER_TYPES = ("order.send", "position.close", "positions.flatten")


def run_cli(
    core: CoreHarness, *args: str, stdin: Any = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ARBIG_CONFIG=str(core.config_path), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "core_service.cli", *args], cwd=str(ROOT), env=env,
                          stdin=stdin, capture_output=True, text=True, timeout=90)  # fmt: skip


def audited(db: Database, *types: str) -> list[dict[str, Any]]:
    marks = ",".join(["%s"] * len(types))
    return db.query(f"SELECT type, status FROM command_audit WHERE type IN ({marks})", types)


def held(core: CoreHarness, direction: Direction) -> float:
    return core.position_volume(direction)


# ---------------------------------------------------------------- against a running core


def test_open_fills_then_close_follows_to_the_outcome(core: CoreHarness, db: Database) -> None:
    opened = run_cli(core, "open", "au2702", "LONG", "1", "--yes")
    assert opened.returncode == 0, opened.stdout + opened.stderr
    out = opened.stdout
    assert out.startswith("order: LONG (buy) OPEN 1 au2702.SHFE MARKET (marketable limit ")
    assert "the core will send:\n  LONG (buy) OPEN 1 @ " in out and "margin " in out and "available " in out
    assert "held in au2702.SHFE: LONG 0; SHORT 0" in out  # the preview, before the order
    assert ": ALLTRADED 1/1" in out and "followed up by the core as execution" in out
    assert out.rstrip().endswith("open LONG 1 au2702.SHFE: FILLED (1 of 1 lots filled)")
    eventually(lambda: held(core, Direction.LONG) == 1, what="the LONG position")
    assert eventually(lambda: audited(db, "order.send")) == [{"type": "order.send", "status": "done"}]

    closed = run_cli(core, "--via", "redis", "--json", "close", "au2702", "LONG", "1", "--yes")
    assert closed.returncode == 0, closed.stdout + closed.stderr
    doc = json.loads(closed.stdout)
    assert doc["preview"]["result"]["orders"][0]["direction"] == "SHORT"  # a LONG is closed by a sell
    assert doc["preview"]["result"]["closable"]["LONG"]["closable"] == 1
    assert [o["status"] for o in doc["outcomes"]] == ["filled"]
    assert {o["status"] for o in doc["orders"]} == {"ALLTRADED"}
    assert "FILLED (1 of 1 lots filled)" in closed.stderr  # progress goes to stderr with --json
    eventually(lambda: held(core, Direction.LONG) == 0, what="the position closed")

    flat = run_cli(core, "flatten", "--yes")
    assert flat.returncode == 0 and "no position to close: nothing sent" in flat.stdout


def test_limit_far_from_the_market_is_still_working(core: CoreHarness) -> None:
    tick = core.tick(VT)
    assert tick is not None
    price = round(max(tick.limit_down + 1, tick.bid_price_1 - 20) / 0.02) * 0.02
    assert price < tick.bid_price_1
    far = run_cli(core, "open", VT, "long", "1", "--limit", f"{price:.2f}", "--yes", "--wait", "2")
    assert far.returncode == 4, far.stdout + far.stderr
    assert ": NOTTRADED 0/1" in far.stdout and "FILLED" not in far.stdout.replace("NOT FILLED", "")
    assert "open LONG 1 au2702.SHFE: STILL WORKING after 2 s (0 of 1 lots filled); not done" in far.stdout
    assert "cancel with `python -m core_service.cli cancel SIM." in far.stdout
    active = core.main_engine.get_all_active_orders()
    assert [(o.vt_symbol, o.price, o.traded) for o in active] == [(VT, pytest.approx(price), 0)]


def test_flatten_closes_what_is_held_after_orders_are_cancelled(core: CoreHarness) -> None:
    core.open_position(Direction.LONG, 2)
    core.open_position(Direction.SHORT, 1)
    tick = core.tick(VT)
    assert tick is not None
    working = core.order(Direction.LONG, Offset.OPEN, 1, price=tick.bid_price_1 - 20)
    eventually(lambda: core.main_engine.get_order(working).is_active(), what="a working order")

    pending = run_cli(core, "flatten", "--yes")
    assert pending.returncode == 1, pending.stdout + pending.stderr
    assert "flatten: 2 position(s) closed at market" in pending.stdout
    assert "au2702.SHFE LONG 2: close with\n    SHORT (sell) CLOSE" in pending.stdout
    assert "[flatten_pending]" in pending.stdout and "cli emergency-stop" in pending.stdout
    assert held(core, Direction.LONG) == 2 and held(core, Direction.SHORT) == 1  # nothing sent

    assert run_cli(core, "emergency-stop").returncode == 0
    eventually(lambda: not core.main_engine.get_all_active_orders(), what="orders cancelled")
    flat = run_cli(core, "flatten", "--yes")
    assert flat.returncode == 0, flat.stdout + flat.stderr
    assert "close au2702.SHFE LONG 2: FILLED (2 of 2 lots filled)" in flat.stdout
    assert "close au2702.SHFE SHORT 1: FILLED (1 of 1 lots filled)" in flat.stdout
    eventually(lambda: held(core, Direction.LONG) == held(core, Direction.SHORT) == 0, what="flat")


def test_refused_unconfirmed_and_bad_input_send_nothing(core: CoreHarness, db: Database) -> None:
    refused = run_cli(core, "close", "au2702", "LONG", "3", "--yes")
    assert refused.returncode == 1
    assert "not_closable: cannot close 3 LONG au2702.SHFE: only 0 closable" in refused.stdout
    assert "nothing sent: the core would refuse this order" in refused.stdout

    no_tty = run_cli(core, "open", "au2702", "SHORT", "1")  # stdin is no terminal, no --yes
    assert no_tty.returncode == 2 and "no terminal to ask on; give --yes" in no_tty.stderr
    assert "the core will send:" in no_tty.stdout  # the preview was shown

    main, terminal = pty.openpty()  # a terminal that answers "n"
    os.write(main, b"n\n")
    try:
        declined = run_cli(core, "open", "au2702", "SHORT", "1", stdin=terminal)
    finally:
        os.close(terminal)
        os.close(main)
    assert declined.returncode == 1 and "send? [y/N] not confirmed: nothing sent" in declined.stdout

    bad = run_cli(core, "open", "au2702", "LONG", "1", "--limit", "-1", "--yes")
    assert bad.returncode == 2 and "--limit: Input should be greater than 0" in bad.stderr

    marker = run_cli(core, "--json", "emergency-stop")  # audited after everything above was answered
    command_id = json.loads(marker.stdout)["command_id"]
    eventually(lambda: db.query("SELECT 1 FROM command_audit WHERE command_id=%s", (command_id,)))
    assert audited(db, *ORDER_TYPES, "order.preview") == []
    assert core.main_engine.get_all_orders() == []


# ---------------------------------------------------------------- arguments (no core)


@pytest.fixture
def nothing_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the CLI went on to send a command")

    for name in ("load_config", "send_local", "send_command"):
        monkeypatch.setattr(cli, name, refuse)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["open", "gold", "LONG", "1"], "vt_symbol: not a contract like au2612.SHFE"),
        (["open", "au2606", "LONG", "0"], "volume: Input should be greater than or equal to 1"),
        (["open", "au2606", "LONG", "1", "--limit", "-1"], "--limit: Input should be greater than 0"),
        (["close", "au2606.SHFE", "SHORT", "1", "--limit", "nan"], "--limit: Input should be a finite"),
        (["open", "au2606", "LONG", "1", "--wait", "0"], "--wait must be between 0 and 3600 seconds"),
    ],
)
def test_bad_values_exit_2(argv: list[str], message: str, nothing_sent: None, capsys: Any) -> None:
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["open", "au2606", "UP", "1"],
        ["open", "au2606", "LONG", "1.5"],
        ["open", "au2606", "LONG", "1", "--offset", "closeall"],
        ["close", "au2606", "LONG"],
        ["flatten", "au2606"],
    ],
)
def test_bad_usage_exits_2(argv: list[str], nothing_sent: None, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2 and "usage:" in capsys.readouterr().err


def test_arguments_make_the_right_commands() -> None:
    parser = cli.build_parser()

    def command(*argv: str) -> tuple[str, dict[str, Any]]:
        made = cli.to_command(parser.parse_args(argv))
        return made.type.value, made.params

    assert command("open", "au2606", "long", "2") == (
        "order.send",
        {
            "vt_symbol": "au2606.SHFE",
            "direction": "LONG",
            "volume": 2,
            "offset": "OPEN",
            "price_type": "MARKET",
        },
    )
    assert command("open", "au2606.SHFE", "SHORT", "1", "--limit", "600.02", "--offset", "closetoday",
                   "--stop-strategies")[1] == {
        "vt_symbol": "au2606.SHFE", "direction": "SHORT", "volume": 1, "offset": "CLOSETODAY",
        "price_type": "LIMIT", "price": 600.02, "stop_strategies": True,
    }  # fmt: skip
    assert command("close", "au2606", "LONG", "1") == (
        "position.close",
        {"vt_symbol": "au2606.SHFE", "direction": "LONG", "volume": 1, "price_type": "MARKET"},
    )
    assert command("flatten") == ("positions.flatten", {"expect": []})


def test_help_documents_the_exit_codes(capsys: Any) -> None:
    for verb in ("open", "close", "flatten"):
        with pytest.raises(SystemExit) as exited:
            cli.main([verb, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert exited.value.code == 0 and "exit codes: 0 filled" in text and "4 still working" in text


# ---------------------------------------------------------------- the follower on real Redis


def state(vt_orderid: str, status: str, traded: float, volume: float = 1, reason: str = "") -> OrderState:
    return OrderState(gateway="SIM", vt_orderid=vt_orderid, orderid=vt_orderid.split(".")[1], symbol="au2606",
                      exchange="SHFE", direction="LONG", offset="OPEN", type="LIMIT", price=600.0, volume=volume,
                      traded=traded, status=status, reason=reason)  # fmt: skip


def publish(client: redis.Redis, keys: Keys, item: OrderState | ExecutionReport) -> None:
    """What the core writes: an order's state in the orders hash and the events stream; a follow-up step."""
    if isinstance(item, OrderState):
        client.hset(keys.orders, item.vt_orderid, item.to_json())
        client.xadd(keys.events, {"json": EventMessage(type="order", data=item.model_dump()).to_json()})
    else:
        client.xadd(keys.events, {"json": EventMessage(type="execution", data=item.model_dump()).to_json()})


def step(kind: ExecutionStep, vt_orderid: str, message: str = "", attempt: int = 0) -> ExecutionReport:
    return ExecutionReport(trading_day="20260311", execution_id="exec-1", source="operator", vt_symbol="au2606.SHFE",
                           direction="LONG", offset="OPEN", step=kind, vt_orderid=vt_orderid, price=600.04,
                           attempt=attempt, message=message)  # fmt: skip


def test_follower_reports_a_rejection_with_its_reason(redis_client: redis.Redis, keys: Keys) -> None:
    publish(redis_client, keys, state("SIM.1", "NOTTRADED", 0))  # before the mark: read from the hash
    lines: list[str] = []
    follower = Follower.start(redis_client, keys, lines.append)
    publish(redis_client, keys, state("SIM.1", "REJECTED", 0, reason="no market data yet for au2606"))
    [outcome] = follower.follow([Group("open LONG 1 au2606.SHFE", 1, "", ["SIM.1"])], wait_s=5)
    assert (outcome.status, outcome.reasons) == (
        "rejected",
        ["SIM.1 rejected: no market data yet for au2606"],
    )
    assert lines[-1].endswith("SIM.1  LONG OPEN 1 @ 600: REJECTED 0/1: no market data yet for au2606")
    assert fmt.format_outcome(outcome, 0) == (
        "open LONG 1 au2606.SHFE: NOT FILLED, REJECTED (0 of 1 lots filled): SIM.1 rejected: no market data yet"
        " for au2606"
    )


def test_follower_waits_for_the_follow_up_to_send_the_rest(redis_client: redis.Redis, keys: Keys) -> None:
    lines: list[str] = []
    follower = Follower.start(redis_client, keys, lines.append)
    group = Group("close SHORT 2 au2606.SHFE", 2, "exec-1", ["SIM.1"])
    publish(redis_client, keys, state("SIM.1", "PARTTRADED", 1, volume=2))
    publish(redis_client, keys, step(ExecutionStep.TIMEOUT, "SIM.1", "partial fill stalled: cancel sent"))
    publish(redis_client, keys, state("SIM.1", "CANCELLED", 1, volume=2))
    [waiting] = follower.follow([group], wait_s=0.5)
    assert (waiting.status, waiting.traded, waiting.resend_pending) == ("working", 1, True)
    assert "the core's follow-up is about to send the rest again" in fmt.format_outcome(waiting, 0.5)
    publish(redis_client, keys, step(ExecutionStep.REPRICED, "SIM.2", "rest of SIM.1 sent again", attempt=1))
    publish(redis_client, keys, state("SIM.2", "ALLTRADED", 1))
    [done] = follower.follow([group], wait_s=5)
    assert (done.status, done.traded, group.order_ids) == ("filled", 2, ["SIM.1", "SIM.2"])
    assert any("follow-up REPRICED SIM.2 @ 600.04: rest of SIM.1 sent again" in line for line in lines)


def test_partly_filled_then_cancelled_is_not_filled(redis_client: redis.Redis, keys: Keys) -> None:
    follower = Follower.start(redis_client, keys, lambda _line: None)
    publish(redis_client, keys, state("SIM.7", "PARTTRADED", 1, volume=2))
    publish(redis_client, keys, state("SIM.7", "CANCELLED", 1, volume=2))
    [outcome] = follower.follow([Group("open LONG 2 au2606.SHFE", 2, "", ["SIM.7"])], wait_s=5)
    assert fmt.format_outcome(outcome, 0) == (
        "open LONG 2 au2606.SHFE: NOT FILLED, CANCELLED (1 of 2 lots filled): SIM.7 cancelled after 1 of 2"
    )


# ---------------------------------------------------------------- the preview's text


def test_preview_text_shows_orders_costs_holdings_strategies_problems() -> None:
    preview = {
        "vt_symbol": "au2606.SHFE", "direction": "SHORT", "offset": "CLOSE", "volume": 3, "price_type": "MARKET",
        "price": 599.9, "orders": [{"direction": "SHORT", "offset": "CLOSETODAY", "volume": 1, "price": 599.9},
                                   {"direction": "SHORT", "offset": "CLOSEYESTERDAY", "volume": 2, "price": 599.9}],
        "margin": 0, "commission": 30.5, "available": 1234567.891,
        "closable": {"LONG": {"volume": 3, "td": 1, "yd": 2, "frozen": 0, "closable": 3},
                     "SHORT": {"volume": 0, "td": 0, "yd": 0, "frozen": 0, "closable": 0}},
        "strategies": [{"name": "au_dual_ma", "pos": 3, "trading": True}],
        "session": {"mode": "shfe", "state": "break", "reason": "lunch break", "next_open_ms": REOPENS_MS},
        "tick": None, "problems": [{"code": "market_closed", "text": "the market is closed (lunch break)"}],
    }  # fmt: skip
    lines = fmt.format_preview(preview, stop_strategies=False).splitlines()
    assert lines[:4] == [
        "order: SHORT (sell) CLOSE 3 au2606.SHFE MARKET (marketable limit 599.9)",
        "the core will send:",
        "  SHORT (sell) CLOSETODAY 1 @ 599.9",
        "  SHORT (sell) CLOSEYESTERDAY 2 @ 599.9",
    ]
    assert "margin 0.00 CNY, commission 30.50 CNY, available 1,234,567.89 CNY" in lines
    assert "held in au2606.SHFE: LONG 3 (today 1, yesterday 2, frozen 0, closable 3); SHORT 0" in lines
    assert "strategies on au2606.SHFE: au_dual_ma (pos 3, running)" in lines
    assert any("--stop-strategies stops them first" in line for line in lines)
    assert "session: break (shfe), lunch break, next open 2026-03-11 13:30 (Beijing time)" in lines
    assert lines[-2:] == [
        "problems (the core would refuse it):",
        "  market_closed: the market is closed (lunch break)",
    ]
    stopping = fmt.format_preview(preview, stop_strategies=True)
    assert "the running ones are stopped before the order is sent" in stopping


def test_a_late_older_state_is_not_shown_again(redis_client: redis.Redis, keys: Keys) -> None:
    lines: list[str] = []
    follower = Follower.start(redis_client, keys, lines.append)
    group = Group("open LONG 1 au2606.SHFE", 1, "", ["SIM.3"])
    redis_client.hset(keys.orders, "SIM.3", state("SIM.3", "NOTTRADED", 0).to_json())  # the hash first
    assert follower.follow([group], wait_s=0.3)[0].status == "working"
    for later in (
        state("SIM.3", "SUBMITTING", 0),
        state("SIM.3", "NOTTRADED", 0),
        state("SIM.3", "ALLTRADED", 1),
    ):
        publish(redis_client, keys, later)  # the stream then brings every state, the older ones too
    assert follower.follow([group], wait_s=5)[0].status == "filled"
    assert [line.split(": ")[-1] for line in lines] == ["NOTTRADED 0/1", "ALLTRADED 1/1"]
