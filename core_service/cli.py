"""Operator CLI: send one command to the running core and print its answer.

  python -m core_service.cli status
  python -m core_service.cli strategy-init NAME | strategy-start NAME | strategy-stop NAME
  python -m core_service.cli close au2702.SHFE LONG 1 [--limit 950.02]
  python -m core_service.cli cancel SIM.12
  python -m core_service.cli emergency-stop
  python -m core_service.cli switch au2704
  python -m core_service.cli --via local emergency-stop     (what `make stop` runs)

`--via`: `local` is the core's Unix socket (`<runtime_dir>/control.sock`, same machine, works while
Redis is down or hung), `redis` the command list in Redis (works from another machine), `auto`
(default) the local channel when the core runs on this machine, else Redis.
Exit codes: 0 done, 1 refused or failed, 2 bad usage or configuration, 3 no answer in time or the
channel is unavailable.
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
from common.contract import Command, CommandReply, CommandStatus, CommandType, Heartbeat, Keys
from core_service.control_socket import ControlUnavailable, local_status, send_local, socket_path

REDIS_CONNECT_TIMEOUT_S = 2.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core_service.cli", description="Send a command to the core.")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    parser.add_argument("--via", choices=["auto", "local", "redis"], default="auto",
                        help="local: the core's Unix socket (works without Redis); redis: the command list")
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("status", help="print the core's heartbeat")
    for verb in ("strategy-init", "strategy-start", "strategy-stop"):
        sub.add_parser(verb).add_argument("name")
    close = sub.add_parser("close", help="close (part of) a position")
    close.add_argument("vt_symbol")
    close.add_argument("direction", choices=["LONG", "SHORT"], help="direction of the position to close")
    close.add_argument("volume", type=int)
    close.add_argument("--limit", type=float, help="limit price (default: market, emulated)")
    sub.add_parser("cancel").add_argument("vt_orderid")
    sub.add_parser("emergency-stop", help="stop all strategies and cancel all orders")
    sub.add_parser("switch", help="switch the main contract").add_argument("symbol")
    return parser


def to_command(args: argparse.Namespace) -> Command:
    params: dict[str, Any]
    if args.verb.startswith("strategy-"):
        kind = {"strategy-init": CommandType.STRATEGY_INIT, "strategy-start": CommandType.STRATEGY_START,
                "strategy-stop": CommandType.STRATEGY_STOP}[args.verb]
        params = {"name": args.name}
    elif args.verb == "close":
        kind = CommandType.POSITION_CLOSE
        params = {"vt_symbol": args.vt_symbol, "direction": args.direction, "volume": args.volume,
                  "price_type": "LIMIT" if args.limit is not None else "MARKET"}
        if args.limit is not None:
            params["price"] = args.limit
    elif args.verb == "cancel":
        kind, params = CommandType.ORDER_CANCEL, {"vt_orderid": args.vt_orderid}
    elif args.verb == "emergency-stop":
        kind, params = CommandType.EMERGENCY_STOP, {}
    else:
        kind, params = CommandType.CONTRACT_SWITCH, {"symbol": args.symbol}
    return Command(type=kind, params=params, source="cli")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 < args.timeout <= 60:
        print("error: --timeout must be between 0 and 60 seconds", file=sys.stderr)
        return 2
    try:
        config = load_config()
        secrets = load_secrets()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command: Command | None = None
    if args.verb != "status":
        try:
            command = to_command(args)
        except ValidationError as exc:
            print(f"error: invalid command: {exc.errors()[0]['msg']}", file=sys.stderr)
            return 2
    local = socket_path(config.runtime_path())
    use_local = args.via == "local" or (args.via == "auto" and local.exists())
    try:
        if use_local:
            return _via_local(local, command, args.timeout)
        return _via_redis(config, secrets, command, args.timeout)
    except (ControlUnavailable, RedisUnavailable, TimeoutError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if not use_local:
            print("hint: on the core's machine, `make stop` (or --via local) stops trading without Redis",
                  file=sys.stderr)
        return 3


def _print_reply(reply: CommandReply) -> int:
    print(json.dumps(reply.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return 0 if reply.status == CommandStatus.DONE else 1


def _via_local(path: Path, command: Command | None, timeout_s: float) -> int:
    if command is None:
        print(json.dumps(local_status(path, timeout_s), indent=2, ensure_ascii=False))
        return 0
    command = command.model_copy(update={"source": "cli-local"})
    try:
        return _print_reply(send_local(path, command, timeout_s))
    except TimeoutError as exc:
        raise TimeoutError(f"the core did not answer on {path} within {timeout_s:g} s; command {command.id}"
                           " may still run: check positions and orders") from exc


def _via_redis(config: AppConfig, secrets: Secrets, command: Command | None, timeout_s: float) -> int:
    client = redis.Redis(host=config.redis.host, port=config.redis.port, db=config.redis.db,
                         password=secrets.redis_password.get_secret_value() or None, decode_responses=True,
                         socket_connect_timeout=min(REDIS_CONNECT_TIMEOUT_S, timeout_s),
                         socket_timeout=timeout_s + 1.0, retry=Retry(NoBackoff(), 0))  # redis-py retries 10x
    keys = Keys(config.redis.key_prefix)
    try:
        if command is None:
            try:
                raw = client.get(keys.heartbeat)
            except redis.RedisError as exc:
                raise RedisUnavailable(f"Redis unavailable: {exc}") from exc
            if raw is None:
                print("core is not running (no heartbeat)")
                return 1
            print(json.dumps(Heartbeat.model_validate_json(raw).model_dump(), indent=2, ensure_ascii=False))
            return 0
        try:
            return _print_reply(send_command(client, keys, command, timeout_s=timeout_s))
        except CommandTimeout as exc:
            raise TimeoutError(str(exc)) from exc
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
