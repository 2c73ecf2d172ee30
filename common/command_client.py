"""Send a command to the core over Redis and wait for its reply (used by the CLI and tests).

Redis calls have short timeouts: a Redis that is down or hung is reported as `RedisUnavailable`
(the caller points the operator at the local control channel) instead of hanging. A command the
core has not taken when the wait ends is withdrawn, so it can never run later.
"""

from __future__ import annotations

import redis

from common.contract import Command, CommandReply, Keys


class CommandTimeout(TimeoutError):
    """The core did not answer in time (it may be down, or busy)."""

    def __init__(self, message: str, withdrawn: bool) -> None:
        super().__init__(message)
        self.withdrawn = withdrawn


class RedisUnavailable(ConnectionError):
    """Redis refused, failed or hung: the command may not have reached the core."""


REPLY_KEY_TTL_S = 120


def send_command(client: redis.Redis, keys: Keys, command: Command, timeout_s: float = 5.0) -> CommandReply:
    """Push `command` and block until the core replies or `timeout_s` passes."""
    text = command.to_json()
    try:
        client.lpush(keys.commands, text)
    except redis.RedisError as exc:
        raise RedisUnavailable(f"Redis unavailable, command {command.id} not sent: {exc}") from exc
    try:
        got = client.brpop([keys.reply(command.id)], timeout=timeout_s)
    except redis.RedisError as exc:
        raise RedisUnavailable(f"Redis failed while waiting for the answer to command {command.id} (it may"
                               f" still run): {exc}") from exc
    if got is None:
        try:
            withdrawn = bool(client.lrem(keys.commands, 1, text))
        except redis.RedisError:
            withdrawn = False
        what = ("it was withdrawn and will not run" if withdrawn else
                "the core had taken it, so it may still have run: check positions and orders")
        raise CommandTimeout(f"core did not answer command {command.id} ({command.type.value}) within"
                             f" {timeout_s:g} s; {what}", withdrawn)
    return CommandReply.model_validate_json(got[1])
