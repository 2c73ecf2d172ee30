"""The operator CLI's hand orders: `open`, `close` and `flatten`, each previewed, confirmed, sent and
then followed to its outcome.

  open SYMBOL LONG|SHORT VOLUME [--limit P] [--offset open|close|closetoday|closeyesterday]
  close SYMBOL LONG|SHORT VOLUME [--limit P]       (LONG|SHORT: the position to close)
  flatten                                           (a MARKET close of every position held)
  common options: [--stop-strategies] [--yes] [--wait S] [--json]

First the core's `order.preview` (read only) is printed: exactly the order(s) it will send, margin,
commission, available funds, what is closable, the strategies on the contract, and why it would be
refused. Then "send? [y/N]" (`--yes` skips it; with no terminal and no --yes nothing is sent). The
command's answer names its orders; each is followed in Redis (the orders hash, and the events
stream for the core's follow-up steps: timeout, cancel, reprice) until it is final or `--wait` runs
out. An order merely sent is never called done.

Exit codes: 0 every order filled (flatten: also when nothing is held), 1 refused or failed by the
core, not confirmed, or an order rejected or cancelled (also partly filled), 2 bad usage or no
confirmation possible (nothing sent), 3 no answer, or the channel/Redis unavailable (outcome
unknown), 4 still working when --wait ran out (the order stays at the exchange).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from common.command_client import RedisUnavailable
from common.contract import Command, CommandReply, CommandStatus, CommandType, Keys, PositionState, SyncReport
from core_service import cli_orders_format as fmt
from core_service.cli_follow import Follower, Group
from core_service.control_socket import ControlUnavailable

VERBS = frozenset({"open", "close", "flatten"})
OPTION_OF = {"open": {"price": "--limit"}, "close": {"price": "--limit"}}
OFFSETS = ("OPEN", "CLOSE", "CLOSETODAY", "CLOSEYESTERDAY")
DEFAULT_EXCHANGE = "SHFE"
WAIT_MAX_S = 3600.0
EXIT_HELP = (
    "exit codes: 0 filled, 1 refused/failed/rejected/cancelled or not confirmed, 2 bad usage (nothing"
    " sent), 3 no answer or outcome unknown (Redis unavailable), 4 still working when --wait ran out"
)


@dataclass
class Channel:
    """How to reach the core (cli.py builds it from the configuration)."""

    send: Callable[[Command], CommandReply]
    redis: Callable[[], redis.Redis]
    keys: Keys


class Printer:
    """Progress lines on stdout, or on stderr with --json (stdout then carries one JSON document)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.doc: dict[str, Any] = {}

    def say(self, text: str) -> None:
        print(text, file=sys.stderr if self.as_json else sys.stdout, flush=True)

    def record(self, key: str, reply: CommandReply) -> None:
        self.doc[key] = reply.model_dump(mode="json")


# ---------------------------------------------------------------- arguments


def add_verbs(sub: Any, json_flag: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False, parents=[json_flag])
    common.add_argument(
        "--stop-strategies",
        action="store_true",
        help="stop the running strategies on the contract before sending",
    )
    common.add_argument("--yes", action="store_true", help="send without asking (needed without a terminal)")
    common.add_argument(
        "--wait",
        type=float,
        default=30.0,
        help="seconds to follow the orders before saying they are still working (default 30)",
    )
    opened = sub.add_parser(
        "open",
        parents=[common],
        epilog=EXIT_HELP,
        help="order ticket: preview, confirm, send, follow to the outcome",
    )
    _ticket_arguments(opened, "the order's side: LONG buys, SHORT sells")
    opened.add_argument(
        "--offset",
        type=str.upper,
        choices=OFFSETS,
        default="OPEN",
        help="open (default), close, closetoday, closeyesterday",
    )
    closed = sub.add_parser(
        "close",
        parents=[common],
        epilog=EXIT_HELP,
        help="close (part of) a position, followed to the outcome",
    )
    _ticket_arguments(closed, "direction of the position to close")
    sub.add_parser(
        "flatten",
        parents=[common],
        epilog=EXIT_HELP,
        help="close every position at market (confirmed list), followed to the outcome",
    )


def _ticket_arguments(parser: argparse.ArgumentParser, direction_help: str) -> None:
    parser.add_argument("vt_symbol", help="au2606 or au2606.SHFE")
    parser.add_argument("direction", type=str.upper, choices=["LONG", "SHORT"], help=direction_help)
    parser.add_argument("volume", type=int, help="lots")
    parser.add_argument("--limit", type=float, help="limit price (default: MARKET, a marketable limit)")


def with_exchange(symbol: str) -> str:
    return symbol if "." in symbol else f"{symbol}.{DEFAULT_EXCHANGE}"


def command_of(args: argparse.Namespace) -> tuple[CommandType, dict[str, Any]]:
    if args.verb == "flatten":
        return CommandType.POSITIONS_FLATTEN, {"expect": []}  # the list is read when it runs
    params: dict[str, Any] = {"vt_symbol": with_exchange(args.vt_symbol), "direction": args.direction,
                              "volume": args.volume}  # fmt: skip
    kind = CommandType.POSITION_CLOSE
    if args.verb == "open":
        kind, params["offset"] = CommandType.ORDER_SEND, args.offset
    params["price_type"] = "LIMIT" if args.limit is not None else "MARKET"
    if args.limit is not None:
        params["price"] = args.limit
    if getattr(args, "stop_strategies", False):
        params["stop_strategies"] = True
    return kind, params


def usage_problem(args: argparse.Namespace) -> str:
    """What the arguments break beyond the command's shape ("" when nothing)."""
    if not 0 < args.wait <= WAIT_MAX_S:
        return f"--wait must be between 0 and {WAIT_MAX_S:g} seconds"
    return ""


def preview_params(command: Command) -> dict[str, Any]:
    """order.preview's parameters for an order.send or a position.close (a close goes the other way)."""
    params = dict(command.params)
    if command.type == CommandType.POSITION_CLOSE:
        params["direction"] = "SHORT" if params["direction"] == "LONG" else "LONG"
        params["offset"] = "CLOSE"
    return params


# ---------------------------------------------------------------- running


def run(args: argparse.Namespace, command: Command, channel: Channel) -> int:
    """The whole verb: preview, confirmation, the command, following its orders; the exit code."""
    out = Printer(args.json)
    try:
        return (
            _flatten(args, channel, out) if args.verb == "flatten" else _ticket(args, command, channel, out)
        )
    except (ControlUnavailable, RedisUnavailable, TimeoutError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    finally:
        if out.as_json and out.doc:
            print(json.dumps(out.doc, indent=2, ensure_ascii=False))


def _ticket(args: argparse.Namespace, command: Command, channel: Channel, out: Printer) -> int:
    preview = channel.send(Command(type=CommandType.ORDER_PREVIEW, params=preview_params(command)))
    out.record("preview", preview)
    if preview.status != CommandStatus.DONE:
        out.say(f"preview {preview.status.value}: {preview.reason or '(no reason given)'}; nothing sent")
        return 1
    out.say(fmt.format_preview(preview.result, args.stop_strategies, command.params.get("price")))
    if fmt.problems(preview.result):
        out.say("nothing sent: the core would refuse this order")
        return 1
    follower = _follower(channel, out)
    if (code := confirm(args, out)) is not None:
        return code
    reply = channel.send(Command(type=command.type, params=command.params))  # issued now, after the answer
    out.record("reply", reply)
    if reply.status != CommandStatus.DONE:
        return _refused(reply, out)
    result = reply.result
    label = f"{args.verb} {args.direction} {args.volume} {with_exchange(args.vt_symbol)}"
    if result.get("stopped_strategies"):
        out.say(f"strategies stopped first: {', '.join(result['stopped_strategies'])}")
    return _follow(follower, [_group(label, result)], args.wait, out)


def _flatten(args: argparse.Namespace, channel: Channel, out: Printer) -> int:
    legs = _held(channel, out)
    if not legs:
        out.say("no position to close: nothing sent")
        return 0
    previews = []
    for vt_symbol, direction, volume in legs:
        params = {"vt_symbol": vt_symbol, "direction": "SHORT" if direction == "LONG" else "LONG",
                  "offset": "CLOSE", "volume": volume, "price_type": "MARKET"}  # fmt: skip
        reply = channel.send(Command(type=CommandType.ORDER_PREVIEW, params=params))
        if reply.status != CommandStatus.DONE:
            out.say(
                f"preview of the {vt_symbol} {direction} close {reply.status.value}: {reply.reason}; nothing sent"
            )
            return 1
        previews.append(reply.result)
    out.doc["previews"] = previews
    out.say(fmt.format_flatten_plan(legs, previews))
    if any(fmt.problems(p) for p in previews):
        out.say("nothing sent: the core would refuse this flatten")
        return 1
    follower = _follower(channel, out)
    if (code := confirm(args, out)) is not None:
        return code
    expect = [{"vt_symbol": s, "direction": d, "volume": v} for s, d, v in legs]
    reply = channel.send(Command(type=CommandType.POSITIONS_FLATTEN, params={"expect": expect}))
    out.record("reply", reply)
    if reply.status != CommandStatus.DONE:
        return _refused(reply, out)
    groups = [_group(f"close {c.get('vt_symbol')} {c.get('direction')} {c.get('volume')}", c)
              for c in reply.result.get("closes") or []]  # fmt: skip
    return _follow(follower, groups, args.wait, out)


def _held(channel: Channel, out: Printer) -> list[tuple[str, str, int]]:
    """Every position the broker holds (vt_symbol, direction, volume): the `positions` verb's sync
    check (the core's own view, any channel), else the live state in Redis."""
    reply = channel.send(Command(type=CommandType.SYNC_CHECK))
    if reply.status == CommandStatus.DONE:
        report = SyncReport.model_validate(reply.result)
        return sorted((p.vt_symbol, p.direction, int(p.broker.volume)) for p in report.positions
                      if p.broker.volume > 0)  # fmt: skip
    out.say(f"the sync check {reply.status.value} ({reply.reason}): positions from the live state in Redis")
    client = channel.redis()
    try:
        states = [PositionState.model_validate_json(raw) for raw in client.hvals(channel.keys.positions)]
    except redis.RedisError as exc:
        raise RedisUnavailable(f"Redis unavailable, the positions cannot be read: {exc}") from exc
    finally:
        client.close()
    return sorted((s.vt_symbol, s.direction, int(s.volume)) for s in states
                  if s.volume > 0 and s.direction in ("LONG", "SHORT"))  # fmt: skip


def confirm(args: argparse.Namespace, out: Printer) -> int | None:
    """None to send; else the exit code (2: no terminal to ask on, 1: the operator said no)."""
    if args.yes:
        return None
    if not sys.stdin.isatty():
        print("error: not confirmed: no terminal to ask on; give --yes to send without asking. Nothing sent.",
              file=sys.stderr)  # fmt: skip
        return 2
    prompt = sys.stderr if out.as_json else sys.stdout
    print("send? [y/N] ", end="", file=prompt, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer in ("y", "yes"):
        return None
    out.say("not confirmed: nothing sent")
    return 1


def _refused(reply: CommandReply, out: Printer) -> int:
    word = "refused" if reply.status == CommandStatus.REFUSED else "failed"
    out.say(f"{word}: {reply.reason or '(no reason given)'}" + (f" [{reply.code}]" if reply.code else ""))
    if reply.code == "flatten_pending":
        out.say("hint: `python -m core_service.cli emergency-stop` stops the strategies and cancels every active"
                " order; then flatten again")  # fmt: skip
    elif reply.code == "flatten_changed":
        out.say("hint: run flatten again to see the positions as they are now")
    return 1


def _group(label: str, result: dict[str, Any]) -> Group:
    orders = result.get("orders") or []
    return Group(label=label, target=float(sum(o.get("volume", 0) for o in orders)),
                 execution_id=str(result.get("execution_id") or ""),
                 order_ids=[str(o["vt_orderid"]) for o in orders if o.get("vt_orderid")])  # fmt: skip


def _follower(channel: Channel, out: Printer) -> Follower | None:
    """A follower marked at the events stream's end (before anything is sent), or None (warned)."""
    try:
        return Follower.start(channel.redis(), channel.keys, out.say)
    except redis.RedisError as exc:
        out.say(f"warning: Redis unavailable ({exc}): the outcome cannot be followed; the order is sent all the"
                " same if you confirm")  # fmt: skip
        return None


def _follow(follower: Follower | None, groups: list[Group], wait_s: float, out: Printer) -> int:
    for group in groups:
        followed = (
            f" (followed up by the core as execution {group.execution_id})" if group.execution_id else ""
        )
        out.say(f"sent {group.label}{followed}:")
        out.say("\n".join(f"  {oid}" for oid in group.order_ids) or "  no order id in the answer")
    if follower is None:
        out.say("outcome unknown: Redis is unavailable; see the orders on the console")
        return 3
    started = follower.clock.monotonic()
    try:
        outcomes = follower.follow(groups, wait_s)
    except redis.RedisError as exc:
        out.say(f"outcome unknown: Redis failed while following ({exc}); see the orders on the console")
        return 3
    finally:
        follower.close()
    waited = round(follower.clock.monotonic() - started)
    out.doc["orders"] = [s.model_dump(mode="json") for s in follower.orders.values()]
    out.doc["outcomes"] = [{"label": o.label, "status": o.status, "traded": o.traded, "target": o.target,
                            "reasons": o.reasons} for o in outcomes]  # fmt: skip
    for outcome in outcomes:
        out.say(fmt.format_outcome(outcome, waited))
    if any(o.status == "working" for o in outcomes):
        return 4
    return 0 if outcomes and all(o.status == "filled" for o in outcomes) else 1
