"""The operator CLI's sync verbs: positions, sync (--dry-run), diagnose, drill, risk-ack. Argument
checks (exit 2, nothing sent), the printing of hand-built answers, exit codes, and `diagnose` run
through the CLI against a running core."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from common.clock import TestClock
from common.contract import (
    CommandReply,
    CommandStatus,
    DiagnoseCheck,
    DiagnoseReport,
    PositionComparison,
    SideVolume,
    SyncReport,
)
from common.trading_calendar import CHINA_TZ
from core_service import cli
from core_service import cli_format as fmt
from tests.core_service.harness import CoreHarness
from tests.core_service.test_cli import cli as run_cli

CHECKED_MS = int(datetime(2026, 3, 11, 10, 0, 5, tzinfo=CHINA_TZ).timestamp() * 1000)


@pytest.fixture
def nothing_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the CLI gets as far as the configuration or a channel."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the CLI went on to send a command")

    for name in ("load_config", "send_local", "send_command", "local_status"):
        monkeypatch.setattr(cli, name, refuse)


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["diagnose", "--symbol", "gold", "--side", "BUY"], "--symbol: not a contract like au2612.SHFE"),
        (
            ["diagnose", "--symbol", "au2612", "--side", "BUY", "--volume", "0"],
            "--volume: Input should be greater",
        ),
        (
            ["diagnose", "--symbol", "au2612", "--side", "SELL", "--price", "-1"],
            "--price: Input should be greater",
        ),
        (
            ["diagnose", "--symbol", "au2612", "--side", "SELL", "--price", "nan"],
            "--price: Input should be a finite",
        ),
        (["drill", "external-close", "au2612", "LONG", "0"], "volume: Input should be greater"),
        (["drill", "external-close", "au2612.shfe", "LONG", "1"], "not a contract like au2612.SHFE"),
        (["risk-ack", "not-a-uid"], "uid: not a risk event uid"),
    ],
)
def test_invalid_values_exit_2_and_send_nothing(
    argv: list[str], message: str, nothing_sent: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid command:") and message in err


@pytest.mark.parametrize(
    "argv",
    [
        ["diagnose", "--symbol", "au2612"],  # --side missing
        ["diagnose", "--side", "BUY"],  # --symbol missing
        ["diagnose", "--symbol", "au2612", "--side", "HOLD"],
        ["diagnose", "--symbol", "au2612", "--side", "BUY", "--offset", "CLOSEALL"],
        ["diagnose", "--symbol", "au2612", "--side", "BUY", "--volume", "1.5"],
        ["drill", "external-close", "au2612", "UP", "1"],
        ["drill", "implode"],
        ["sync", "--apply"],
        ["risk-ack"],
    ],
)
def test_bad_usage_exits_2_and_sends_nothing(
    argv: list[str], nothing_sent: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_arguments_make_the_right_commands() -> None:
    parser = cli.build_parser()

    def command(*argv: str) -> tuple[str, dict[str, Any]]:
        made = cli.to_command(parser.parse_args(argv))
        return made.type.value, made.params

    assert command("positions") == ("sync.check", {})
    assert command("sync", "--dry-run") == ("sync.check", {})
    assert command("sync") == ("sync.apply", {})
    assert command("diagnose", "--symbol", "au2612", "--side", "BUY") == (
        "order.diagnose",
        {"vt_symbol": "au2612.SHFE", "side": "BUY", "offset": "OPEN", "volume": 1},
    )
    assert command(
        "diagnose",
        "--symbol",
        "au2612.SHFE",
        "--side",
        "SELL",
        "--offset",
        "CLOSEYESTERDAY",
        "--volume",
        "3",
        "--price",
        "600.02",
    )[1] == {
        "vt_symbol": "au2612.SHFE",
        "side": "SELL",
        "offset": "CLOSEYESTERDAY",
        "volume": 3,
        "price": 600.02,
    }
    assert command("drill", "external-close", "au2612", "SHORT", "2") == (
        "drill.external_close",
        {"vt_symbol": "au2612.SHFE", "direction": "SHORT", "volume": 2},
    )
    assert command("risk-ack", "a" * 32) == ("risk.ack", {"uid": "a" * 32})
    assert parser.parse_args(["diagnose", "--symbol", "au2612", "--side", "BUY", "--json"]).json is True
    assert parser.parse_args(["--json", "positions"]).json is True
    assert parser.parse_args(["positions"]).json is False


# ---------------------------------------------------------------- printing


def comparison(
    direction: str,
    ours: tuple[float, float],
    broker: tuple[float, float],
    action: str = "none",
    message: str = "",
) -> PositionComparison:
    def side(yd: float, td: float) -> SideVolume:
        return SideVolume(volume=yd + td, yd=yd, td=td)

    mine, theirs = side(*ours), side(*broker)
    return PositionComparison(
        vt_symbol="au2612.SHFE",
        direction=direction,
        ours=mine,
        broker=theirs,  # type: ignore[arg-type]
        difference=mine.volume - theirs.volume,
        action=action,
        message=message,
    )  # type: ignore[arg-type]


def drifted() -> SyncReport:
    return SyncReport(checked_ms=CHECKED_MS, gateway="SIM", differences=2, positions=[
        comparison("LONG", (1, 2), (1, 1), "external_close", "the broker holds 1 lot fewer"),
        comparison("SHORT", (0, 0), (0, 2), "adopt"),
        comparison("SHORT", (0, 1), (0, 1), message="in agreement"),
    ])  # fmt: skip


def test_positions_table_side_by_side() -> None:
    lines = fmt.format_positions(drifted()).splitlines()
    assert lines[0] == "positions: our records vs SIM at 2026-03-11 10:00:05 (Beijing time)"
    assert lines[1].split() == ["contract", "direction", "ours", "(yd/td)", "broker", "(yd/td)", "difference",
                                "action"]  # fmt: skip
    assert lines[3].split() == ["au2612.SHFE", "LONG", "3", "(1/2)", "2", "(1/1)", "+1", "external_close"]
    assert lines[4].split() == ["au2612.SHFE", "SHORT", "0", "(0/0)", "2", "(0/2)", "-2", "adopt"]
    assert lines[5].split() == ["au2612.SHFE", "SHORT", "1", "(0/1)", "1", "(0/1)", "0", "none"]
    assert lines[3].index("external_close") == lines[4].index("adopt") == lines[1].index("action")  # aligned
    assert "  au2612.SHFE LONG: the broker holds 1 lot fewer" in lines
    assert not any("in agreement" in line for line in lines)  # messages of differing rows only
    assert lines[-1] == "2 of 3 positions differ"
    empty = fmt.format_positions(SyncReport(checked_ms=CHECKED_MS, gateway="CTP", notes=["MySQL slow"]))
    assert "no open position on either side" in empty and empty.endswith("note: MySQL slow")


def test_sync_dry_run_and_apply_text() -> None:
    dry = fmt.format_sync(drifted(), dry_run=True).splitlines()
    assert dry[0].startswith("sync dry run (nothing written)")
    assert dry[1] == (
        "  au2612.SHFE LONG: ours 3 (1/2), broker 2 (1/1), difference +1 -> external_close: the broker holds"
        " 1 lot fewer"
    )
    assert dry[2].endswith("difference -2 -> adopt: adopt the broker's lots into our records (flagged)")
    assert dry[-1] == "a sync would change 2 position(s)" and len(dry) == 4
    waiting = SyncReport(gateway="SIM", positions=[comparison("LONG", (0, 2), (0, 1), "wait")], differences=1)
    assert fmt.format_sync(waiting, dry_run=True).splitlines()[-2:] == [
        "a sync would change nothing",
        "1 difference(s) wait for trades to be booked",
    ]
    applied = drifted().model_copy(update={"applied": True, "notes": ["au2612.SHFE LONG: closed 1 lot"]})
    text = fmt.format_sync(applied, dry_run=False).splitlines()
    assert text[0].startswith("sync applied: ") and text[-1] == "applied: au2612.SHFE LONG: closed 1 lot"
    clean = fmt.format_sync(SyncReport(gateway="SIM", applied=True), dry_run=False)
    assert clean.endswith("no difference: nothing changed")


def diagnosis(*failing: str) -> DiagnoseReport:
    names = ("gateway_ready", "trading_session", "closable_volume")
    checks = [DiagnoseCheck(name=n, ok=n not in failing, detail=f"{n} detail") for n in names]
    return DiagnoseReport(
        vt_symbol="au2612.SHFE",
        side="SELL",
        offset="CLOSE",
        volume=3,
        price=600.02,
        checks=checks,
        ok=not failing,
    )


def test_diagnosis_lines() -> None:
    lines = fmt.format_diagnosis(diagnosis("closable_volume")).splitlines()
    assert lines[0] == "diagnose SELL CLOSE 3 au2612.SHFE at 600.02"
    assert lines[1] == "  PASS  gateway_ready    gateway_ready detail"
    assert lines[3] == "  FAIL  closable_volume  closable_volume detail"
    assert lines[-1] == "result: FAIL (1 of 3 checks failed: closable_volume)"
    assert fmt.format_diagnosis(diagnosis()).splitlines()[-1] == "result: PASS (all 3 checks passed)"


# ---------------------------------------------------------------- exit codes


def answer(
    result: dict[str, Any], status: CommandStatus = CommandStatus.DONE, reason: str = ""
) -> CommandReply:
    return CommandReply(command_id="c" * 16, status=status, reason=reason, result=result)


def shown(capsys: pytest.CaptureFixture[str], reply: CommandReply, *argv: str) -> tuple[int, str]:
    code = cli.show(cli.build_parser().parse_args(argv), reply)
    return code, capsys.readouterr().out


def test_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    diagnose = ("diagnose", "--symbol", "au2612", "--side", "SELL")
    assert shown(capsys, answer(diagnosis().model_dump(mode="json")), *diagnose)[0] == 0
    code, out = shown(capsys, answer(diagnosis("trading_session").model_dump(mode="json")), *diagnose)
    assert code == 1 and "FAIL  trading_session" in out
    code, out = shown(
        capsys, answer(diagnosis("trading_session").model_dump(mode="json")), "--json", *diagnose
    )
    assert code == 1 and json.loads(out)["result"]["ok"] is False
    differs, same = drifted().model_dump(mode="json"), SyncReport(gateway="SIM").model_dump(mode="json")
    assert shown(capsys, answer(differs), "sync", "--dry-run")[0] == 1
    assert shown(capsys, answer(same), "sync", "--dry-run")[0] == 0
    assert shown(capsys, answer(differs), "positions")[0] == 0  # a table, not a verdict
    assert shown(capsys, answer(differs | {"applied": True}), "sync")[0] == 0
    code, out = shown(
        capsys,
        answer({}, CommandStatus.REFUSED, "drills run on the simulated gateway only"),
        "drill",
        "external-close",
        "au2612",
        "LONG",
        "1",
    )
    assert code == 1 and out.strip() == "refused: drills run on the simulated gateway only"
    code, out = shown(capsys, answer({"uid": "a" * 32, "acknowledged_by": "operator"}), "risk-ack", "a" * 32)
    assert code == 0 and out.splitlines() == [
        "risk-ack: done",
        f"  uid: {'a' * 32}",
        "  acknowledged_by: operator",
    ]


def test_unexpected_answer_shape_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.show(cli.build_parser().parse_args(["positions"]), answer({"rows": []}))
    captured = capsys.readouterr()
    assert (
        code == 1
        and "unexpected shape" in captured.err
        and json.loads(captured.out)["result"] == {"rows": []}
    )


# ---------------------------------------------------------------- against a running core


def test_diagnose_through_the_cli(core: CoreHarness) -> None:
    assert core.app and core.app.sync
    core.app.sync.diagnoser.clock = TestClock(datetime(2026, 3, 11, 10, 0, tzinfo=CHINA_TZ))  # a weekday session
    passing = run_cli(core, "diagnose", "--symbol", "au2702", "--side", "BUY")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert passing.stdout.splitlines()[0].startswith("diagnose BUY OPEN 1 au2702.SHFE at ")
    assert passing.stdout.count("  PASS  ") == 8 and "result: PASS (all 8 checks passed)" in passing.stdout
    too_big = run_cli(core, "diagnose", "--symbol", "au2702.SHFE", "--side", "BUY", "--volume", "100")
    assert too_big.returncode == 1
    assert (
        "  FAIL  funds_for_margin" in too_big.stdout and "checks failed: funds_for_margin" in too_big.stdout
    )
    raw = run_cli(core, "--json", "diagnose", "--symbol", "au2702", "--side", "SELL", "--offset", "CLOSE")
    assert raw.returncode == 1
    report = DiagnoseReport.model_validate(json.loads(raw.stdout)["result"])
    assert [c.name for c in report.checks if not c.ok] == ["closable_volume"]
