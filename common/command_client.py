"""Send a command to the core over Redis and wait for its reply (used by the CLI and tests)."""

from __future__ import annotations

import redis

from common.contract import Command, CommandReply, Keys


class CommandTimeout(TimeoutError):
    """The core did not answer in time (it may be down, or busy)."""


REPLY_KEY_TTL_S = 120


def send_command(client: redis.Redis, keys: Keys, command: Command, timeout_s: float = 5.0) -> CommandReply:
    """Push `command` and block until the core replies or `timeout_s` passes."""
    client.lpush(keys.commands, command.to_json())
    got = client.brpop([keys.reply(command.id)], timeout=timeout_s)
    if got is None:
        raise CommandTimeout(f"core did not answer command {command.id} ({command.type.value}) within {timeout_s}s")
    return CommandReply.model_validate_json(got[1])
