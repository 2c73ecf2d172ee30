"""Operator CLI: send one command to the running core and print its answer.

  python -m core_service.cli status
  python -m core_service.cli strategy-init NAME | strategy-start NAME | strategy-stop NAME
  python -m core_service.cli close au2702.SHFE LONG 1 [--limit 950.02]
  python -m core_service.cli cancel SIM.12
  python -m core_service.cli emergency-stop
  python -m core_service.cli switch au2704

Exit codes: 0 done, 1 refused or failed, 2 bad usage or configuration, 3 no answer in time.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import redis
from pydantic import ValidationError

from common.command_client import CommandTimeout, send_command
from common.config import ConfigError, load_config, load_secrets
from common.contract import Command, CommandStatus, CommandType, Heartbeat, Keys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core_service.cli", description="Send a command to the core.")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
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
    try:
        config = load_config()
        secrets = load_secrets()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    client = redis.Redis(host=config.redis.host, port=config.redis.port, db=config.redis.db,
                         password=secrets.redis_password.get_secret_value() or None, decode_responses=True)
    keys = Keys(config.redis.key_prefix)
    if args.verb == "status":
        raw = client.get(keys.heartbeat)
        if raw is None:
            print("core is not running (no heartbeat)")
            return 1
        print(json.dumps(Heartbeat.model_validate_json(raw).model_dump(), indent=2, ensure_ascii=False))
        return 0
    try:
        command = to_command(args)
    except ValidationError as exc:
        print(f"error: invalid command: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    try:
        reply = send_command(client, keys, command, timeout_s=args.timeout)
    except CommandTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(reply.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return 0 if reply.status == CommandStatus.DONE else 1


if __name__ == "__main__":
    sys.exit(main())
