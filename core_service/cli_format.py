"""How the operator CLI prints the core's answers: the positions table, what a sync changes or
changed, the PASS/FAIL lines of a diagnosis, and a short line for any other answer.

Pure functions from the answer's shapes (common.contract) to text; the CLI picks the exit code.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from common.contract import (
    CommandReply,
    CommandStatus,
    DiagnoseReport,
    PositionComparison,
    SideVolume,
    SyncReport,
)
from common.trading_calendar import CHINA_TZ

ACTING = ("external_close", "adopt")  # the actions a sync takes; "wait" takes none
POSITION_HEADERS = ("contract", "direction", "ours (yd/td)", "broker (yd/td)", "difference", "action")


def _num(value: float) -> str:
    return f"{value:g}"


def side_volume(side: SideVolume) -> str:
    return f"{_num(side.volume)} ({_num(side.yd)}/{_num(side.td)})"


def signed(value: float) -> str:
    return "0" if value == 0 else f"{value:+g}"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(len(headers))]
    line = "  ".join(headers[i].ljust(widths[i]) for i in range(len(headers))).rstrip()
    out = [line, "  ".join("-" * width for width in widths)]
    out += ["  ".join(row[i].ljust(widths[i]) for i in range(len(headers))).rstrip() for row in rows]
    return out


def _row(position: PositionComparison) -> tuple[str, ...]:
    return (position.vt_symbol, position.direction, side_volume(position.ours), side_volume(position.broker),
            signed(position.difference), position.action)  # fmt: skip


def has_difference(report: SyncReport) -> bool:
    return report.differences > 0 or any(p.difference != 0 for p in report.positions)


def _heading(report: SyncReport) -> str:
    return f"{report.gateway} at {_when(report.checked_ms)} (Beijing time)"


def _notes(report: SyncReport) -> list[str]:
    return [f"note: {note}" for note in report.notes]


def format_positions(report: SyncReport) -> str:
    """`positions`: our records beside the broker's, one row per contract and direction."""
    lines = [f"positions: our records vs {_heading(report)}"]
    if report.positions:
        lines += _table(POSITION_HEADERS, [_row(p) for p in report.positions])
        lines += [
            f"  {p.vt_symbol} {p.direction}: {p.message}"
            for p in report.positions
            if p.message and _differs(p)
        ]
    else:
        lines.append("no open position on either side")
    differing = sum(1 for p in report.positions if p.difference != 0)
    lines.append(
        f"{differing} of {len(report.positions)} positions differ" if report.positions else "no difference"
    )
    return "\n".join(lines + _notes(report))


def _differs(position: PositionComparison) -> bool:
    return position.difference != 0 or position.action != "none"


def _change(position: PositionComparison) -> str:
    """One differing position and what a sync does about it (the core's message, else the action's)."""
    what = (
        position.message
        or {
            "external_close": "close our lots the broker no longer holds (EXTERNAL_CLOSE)",
            "adopt": "adopt the broker's lots into our records (flagged)",
            "wait": "trades not booked yet: waiting",
            "none": "nothing",
        }[position.action]
    )
    return (
        f"{position.vt_symbol} {position.direction}: ours {side_volume(position.ours)}, broker "
        f"{side_volume(position.broker)}, difference {signed(position.difference)} -> {position.action}: {what}"
    )


def format_sync(report: SyncReport, dry_run: bool) -> str:
    """`sync --dry-run`: what a sync would change (nothing written); `sync`: what it changed."""
    differing = [p for p in report.positions if _differs(p)]
    acting = sum(1 for p in differing if p.action in ACTING)
    if dry_run:
        lines = [f"sync dry run (nothing written): our records vs {_heading(report)}"]
        lines += [f"  {_change(p)}" for p in differing]
        lines.append(f"a sync would change {acting} position(s)" if acting else "a sync would change nothing")
        if len(differing) > acting:
            lines.append(f"{len(differing) - acting} difference(s) wait for trades to be booked")
        return "\n".join(lines + _notes(report))
    lines = [f"sync {'applied' if report.applied else 'NOT applied'}: our records vs {_heading(report)}"]
    lines += [f"  {_change(p)}" for p in differing]
    lines += [f"applied: {note}" for note in report.notes]
    if not differing:
        lines.append("no difference: nothing changed")
    return "\n".join(lines)


def format_diagnosis(report: DiagnoseReport) -> str:
    """`diagnose`: one PASS/FAIL line per check, then the verdict."""
    price = f"at {report.price:.2f}" if report.price is not None else "at market (no quote)"
    lines = [f"diagnose {report.side} {report.offset} {report.volume} {report.vt_symbol} {price}"]
    width = max((len(check.name) for check in report.checks), default=0)
    lines += [f"  {'PASS' if c.ok else 'FAIL'}  {c.name.ljust(width)}  {c.detail}" for c in report.checks]
    fails = [check.name for check in report.checks if not check.ok]
    if fails:
        lines.append(f"result: FAIL ({len(fails)} of {len(report.checks)} checks failed: {', '.join(fails)})")
    else:
        lines.append(f"result: PASS (all {len(report.checks)} checks passed)")
    return "\n".join(lines)


def format_done(verb: str, result: dict[str, Any]) -> str:
    """Any other answer that was done: the verb, then its result's fields."""
    lines = [f"{verb}: done"]
    lines += [f"  {key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
              for key, value in result.items()]  # fmt: skip
    return "\n".join(lines)


def format_refusal(reply: CommandReply) -> str:
    word = "refused" if reply.status == CommandStatus.REFUSED else "failed"
    return f"{word}: {reply.reason or '(no reason given)'}"


def raw(reply: CommandReply) -> str:
    return json.dumps(reply.model_dump(mode="json"), indent=2, ensure_ascii=False)
