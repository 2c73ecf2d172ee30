"""Operator CLI: send one command to the running core and print its answer.

  python -m core_service.cli status
  python -m core_service.cli strategy-init NAME | strategy-start NAME | strategy-stop NAME
  python -m core_service.cli open au2702 LONG|SHORT 1 [--limit 950.02] [--offset open|close|closetoday|
                             closeyesterday] [--stop-strategies] [--yes] [--wait 30]   (see cli_orders.py)
  python -m core_service.cli close au2702.SHFE LONG 1 [--limit 950.02] [--stop-strategies] [--yes] [--wait 30]
  python -m core_service.cli flatten [--yes] [--wait 30]     (close every position at market)
  python -m core_service.cli cancel SIM.12
  python -m core_service.cli emergency-stop
  python -m core_service.cli switch au2704
  python -m core_service.cli positions                  (our records vs the broker's, side by side)
  python -m core_service.cli sync --dry-run             (what a sync would change; exit 1 on a difference)
  python -m core_service.cli sync                       (apply it: close/adopt in the records, audited)
  python -m core_service.cli diagnose --symbol au2612 --side BUY [--offset OPEN|CLOSE|CLOSETODAY|
                             CLOSEYESTERDAY] [--volume 1] [--price 600.02]   (PASS/FAIL; exit 1 on a FAIL)
  python -m core_service.cli drill external-close au2612.SHFE LONG 1   (simulated gateway only)
  python -m core_service.cli risk-ack UID
  python -m core_service.cli --via local emergency-stop     (what `make stop` runs)
  python -m core_service.cli replay FILE --strategy CLASS [--setting JSON] [--capital N] [--keep] [--json]
                             [--config PATH] [--max-wait S]   (a strategy on a recorded tick file, in
                             throwaway records; prints trades and statistics; see cli_replay.py)

A contract is a vt_symbol (au2612.SHFE); a bare au2612 gets ".SHFE". `--json` prints the core's raw
answer (the exit code is the same). `--via`: `local` is the core's Unix socket
(`<runtime_dir>/control.sock`, same machine, works while Redis is down or hung), `redis` the command
list in Redis (works from another machine), `auto` (default) the local channel when the core runs on
this machine, else Redis.
Exit codes: 0 done, 1 refused or failed (also: a diagnosis with a FAIL, a dry run with a
difference), 2 bad usage or configuration (nothing sent), 3 no answer in time or the channel is
unavailable (over Redis, a command the core had not taken is withdrawn and never runs; the text is the
web's, from common/command_client.py). open/close/flatten: 0 only when every order filled, 1 also for a rejected or cancelled
order, 4 still working when --wait ran out (cli_orders.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import redis
from pydantic import ValidationError
from redis.backoff import NoBackoff
from redis.retry import Retry

from common.command_client import CommandTimeout, RedisUnavailable, send_command
from common.config import AppConfig, ConfigError, Secrets, load_config, load_secrets
from common.contract import (
    PARAMS_MODEL,
    Command,
    CommandReply,
    CommandStatus,
    CommandType,
    DiagnoseReport,
    Heartbeat,
    Keys,
    SyncReport,
)
from core_service import cli_format as fmt
from core_service import cli_orders, cli_replay
from core_service.control_socket import ControlUnavailable, local_status, send_local, socket_path

REDIS_CONNECT_TIMEOUT_S = 2.0
DEFAULT_EXCHANGE = "SHFE"
STRATEGY_VERBS = {
    "strategy-init": CommandType.STRATEGY_INIT,
    "strategy-start": CommandType.STRATEGY_START,
    "strategy-stop": CommandType.STRATEGY_STOP,
}
FORMATTED = {"positions", "sync", "diagnose", "drill", "risk-ack"}  # printed as text unless --json
OPTION_OF = {
    "diagnose": {f: f"--{f}" for f in ("side", "offset", "volume", "price")} | {"vt_symbol": "--symbol"}
} | cli_orders.OPTION_OF
PATTERN_HINT = {
    "vt_symbol": "not a contract like au2612.SHFE (or au2612)",
    "uid": "not a risk event uid (32 hex digits)",
}


class UsageError(ValueError):
    """The command line makes no valid command: exit 2, nothing sent."""


def build_parser() -> argparse.ArgumentParser:
    json_flag = argparse.ArgumentParser(add_help=False)  # --json also accepted after the verb
    json_flag.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print the raw answer"
    )
    parser = argparse.ArgumentParser(
        prog="python -m core_service.cli", description="Send a command to the core."
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    parser.add_argument(
        "--via",
        choices=["auto", "local", "redis"],
        default="auto",
        help="local: the core's Unix socket (works without Redis); redis: the command list",
    )
    parser.add_argument("--json", action="store_true", help="print the core's raw answer (JSON)")
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("status", help="print the core's heartbeat")
    for verb in STRATEGY_VERBS:
        sub.add_parser(verb).add_argument("name")
    cli_orders.add_verbs(sub, json_flag)
    sub.add_parser("cancel").add_argument("vt_orderid")
    sub.add_parser("emergency-stop", help="stop all strategies and cancel all orders")
    sub.add_parser("switch", help="switch the main contract").add_argument("symbol")
    _sync_verbs(sub, json_flag)
    cli_replay.add_verb(sub)
    return parser


def _sync_verbs(sub: Any, json_flag: argparse.ArgumentParser) -> None:
    sub.add_parser(
        "positions", parents=[json_flag], help="our records vs the broker's positions, side by side"
    )
    sync = sub.add_parser("sync", parents=[json_flag], help="apply what `sync --dry-run` shows (audited)")
    sync.add_argument("--dry-run", action="store_true", help="show what a sync would change; write nothing")
    diagnose = sub.add_parser("diagnose", parents=[json_flag], help="why an order would fail now (PASS/FAIL)")
    diagnose.add_argument("--symbol", required=True, help="au2612.SHFE (a bare au2612 gets .SHFE)")
    diagnose.add_argument("--side", required=True, choices=["BUY", "SELL"])
    diagnose.add_argument(
        "--offset", default="OPEN", choices=["OPEN", "CLOSE", "CLOSETODAY", "CLOSEYESTERDAY"]
    )
    diagnose.add_argument("--volume", type=int, default=1, help="lots (default 1)")
    diagnose.add_argument("--price", type=float, help="limit price (default: the best opposite quote)")
    drill = sub.add_parser("drill", parents=[json_flag], help="drills on the simulated gateway")
    drills = drill.add_subparsers(dest="drill", required=True)
    external = drills.add_parser(
        "external-close",
        parents=[json_flag],
        help="the simulated exchange closes a position behind the core's back",
    )
    external.add_argument("vt_symbol", help="au2612.SHFE (a bare au2612 gets .SHFE)")
    external.add_argument("direction", choices=["LONG", "SHORT"], help="the position to close")
    external.add_argument("volume", type=int)
    sub.add_parser("risk-ack", parents=[json_flag], help="acknowledge a risk event").add_argument("uid")


def with_exchange(symbol: str) -> str:
    """au2612 -> au2612.SHFE; a vt_symbol stays as it is."""
    return symbol if "." in symbol else f"{symbol}.{DEFAULT_EXCHANGE}"


def command_of(args: argparse.Namespace) -> tuple[CommandType, dict[str, Any]]:
    verb = args.verb
    if verb in STRATEGY_VERBS:
        return STRATEGY_VERBS[verb], {"name": args.name}
    if verb in cli_orders.VERBS:
        return cli_orders.command_of(args)
    if verb == "diagnose":
        params = {
            "vt_symbol": with_exchange(args.symbol),
            "side": args.side,
            "offset": args.offset,
            "volume": args.volume,
        }
        if args.price is not None:
            params["price"] = args.price
        return CommandType.ORDER_DIAGNOSE, params
    if verb == "drill":
        return CommandType.DRILL_EXTERNAL_CLOSE, {
            "vt_symbol": with_exchange(args.vt_symbol),
            "direction": args.direction,
            "volume": args.volume,
        }
    simple = {
        "cancel": lambda: (CommandType.ORDER_CANCEL, {"vt_orderid": args.vt_orderid}),
        "emergency-stop": lambda: (CommandType.EMERGENCY_STOP, {}),
        "switch": lambda: (CommandType.CONTRACT_SWITCH, {"symbol": args.symbol}),
        "positions": lambda: (CommandType.SYNC_CHECK, {}),
        "sync": lambda: (CommandType.SYNC_CHECK if args.dry_run else CommandType.SYNC_APPLY, {}),
        "risk-ack": lambda: (CommandType.RISK_ACK, {"uid": args.uid}),
    }
    return simple[verb]()


def to_command(args: argparse.Namespace) -> Command:
    """The command the arguments describe, checked as strictly as the core checks it (UsageError)."""
    kind, params = command_of(args)
    try:
        PARAMS_MODEL[kind].model_validate(params)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "params"
        option = OPTION_OF.get(args.verb, {}).get(field, field)
        got = (
            f" (got {error['input']!r})" if "input" in error and not isinstance(error["input"], dict) else ""
        )
        message = (
            PATTERN_HINT.get(field, error["msg"])
            if error["type"] == "string_pattern_mismatch"
            else error["msg"]
        )
        raise UsageError(f"invalid command: {option}: {message}{got}") from exc
    return Command(type=kind, params=params, source="cli")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verb == "replay":  # runs a core of its own: no command is sent
        return cli_replay.run(args)
    if not 0 < args.timeout <= 60:
        print("error: --timeout must be between 0 and 60 seconds", file=sys.stderr)
        return 2
    command: Command | None = None
    if args.verb != "status":
        try:
            command = to_command(args)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.verb in cli_orders.VERBS and (problem := cli_orders.usage_problem(args)):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        config = load_config()
        secrets = load_secrets()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    local = socket_path(config.runtime_path())
    use_local = args.via == "local" or (args.via == "auto" and local.exists())
    if command is not None and args.verb in cli_orders.VERBS:
        channel = _channel(config, secrets, local if use_local else None, args.timeout)
        return cli_orders.run(args, command, channel)
    try:
        if command is None:
            return (
                _status_local(local, args.timeout)
                if use_local
                else _status_redis(config, secrets, args.timeout)
            )
        reply = (
            _send_local(local, command, args.timeout)
            if use_local
            else _send_redis(config, secrets, command, args.timeout)
        )
    except (ControlUnavailable, RedisUnavailable, TimeoutError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if not use_local:
            print(
                "hint: on the core's machine, `make stop` (or --via local) stops trading without Redis",
                file=sys.stderr,
            )
        return 3
    return show(args, reply)


# ---------------------------------------------------------------- the answer


def show(args: argparse.Namespace, reply: CommandReply) -> int:
    """Print the answer (text for the sync verbs, JSON for the rest or with --json); the exit code."""
    try:
        code = exit_code(args, reply)
        text = fmt.raw(reply) if args.json or args.verb not in FORMATTED else render(args, reply)
    except ValidationError as exc:
        print(fmt.raw(reply))
        print(f"error: the core's answer has an unexpected shape: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 1
    print(text)
    return code


def exit_code(args: argparse.Namespace, reply: CommandReply) -> int:
    if reply.status != CommandStatus.DONE:
        return 1
    if args.verb == "diagnose":
        return 0 if DiagnoseReport.model_validate(reply.result).ok else 1
    if args.verb == "sync" and args.dry_run:
        return 1 if fmt.has_difference(SyncReport.model_validate(reply.result)) else 0
    return 0


def render(args: argparse.Namespace, reply: CommandReply) -> str:
    if reply.status != CommandStatus.DONE:
        return fmt.format_refusal(reply)
    if args.verb == "positions":
        return fmt.format_positions(SyncReport.model_validate(reply.result))
    if args.verb == "sync":
        return fmt.format_sync(SyncReport.model_validate(reply.result), dry_run=args.dry_run)
    if args.verb == "diagnose":
        return fmt.format_diagnosis(DiagnoseReport.model_validate(reply.result))
    verb = f"drill {args.drill}" if args.verb == "drill" else args.verb
    return fmt.format_done(verb, reply.result)


# ---------------------------------------------------------------- the channels


def _status_local(path: Path, timeout_s: float) -> int:
    print(json.dumps(local_status(path, timeout_s), indent=2, ensure_ascii=False))
    return 0


def _send_local(path: Path, command: Command, timeout_s: float) -> CommandReply:
    command = command.model_copy(update={"source": "cli-local"})
    try:
        return send_local(path, command, timeout_s)
    except TimeoutError as exc:
        raise TimeoutError(
            f"the core did not answer on {path} within {timeout_s:g} s; command {command.id}"
            " may still run: check positions and orders"
        ) from exc


def _channel(config: AppConfig, secrets: Secrets, local: Path | None, timeout_s: float) -> cli_orders.Channel:
    """The hand-order verbs' way to the core: commands on the chosen channel, Redis to follow the orders."""

    def send(command: Command) -> CommandReply:
        return (
            _send_local(local, command, timeout_s)
            if local
            else _send_redis(config, secrets, command, timeout_s)
        )

    return cli_orders.Channel(
        send, lambda: _redis_client(config, secrets, timeout_s), Keys(config.redis.key_prefix)
    )


def _redis_client(config: AppConfig, secrets: Secrets, timeout_s: float) -> redis.Redis:
    return redis.Redis(
        host=config.redis.host,
        port=config.redis.port,
        db=config.redis.db,
        password=secrets.redis_password.get_secret_value() or None,
        decode_responses=True,
        socket_connect_timeout=min(REDIS_CONNECT_TIMEOUT_S, timeout_s),
        socket_timeout=timeout_s + 1.0,
        retry=Retry(NoBackoff(), 0),
    )  # redis-py retries 10x by default


def _status_redis(config: AppConfig, secrets: Secrets, timeout_s: float) -> int:
    client = _redis_client(config, secrets, timeout_s)
    try:
        raw = client.get(Keys(config.redis.key_prefix).heartbeat)
    except redis.RedisError as exc:
        raise RedisUnavailable(f"Redis unavailable: {exc}") from exc
    finally:
        client.close()
    if raw is None:
        print("core is not running (no heartbeat)")
        return 1
    print(json.dumps(Heartbeat.model_validate_json(raw).model_dump(), indent=2, ensure_ascii=False))
    return 0


def _send_redis(config: AppConfig, secrets: Secrets, command: Command, timeout_s: float) -> CommandReply:
    """The command over Redis (common/command_client.py, as the web sends it): withdrawn on timeout."""
    client = _redis_client(config, secrets, timeout_s)
    what = f"command {command.id} ({command.type.value})"
    try:
        return send_command(client, Keys(config.redis.key_prefix), command, timeout_s=timeout_s)
    except CommandTimeout as exc:
        raise TimeoutError(f"{what}: {exc}") from exc
    except RedisUnavailable as exc:
        raise RedisUnavailable(f"{what}: {exc}") from exc
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
