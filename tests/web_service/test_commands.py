"""The web's CommandSender runs the shared protocol (common/command_client.py) on the real Redis: with no
core, a command is queued, then withdrawn when the wait ends, and the answer says what the CLI says."""

from __future__ import annotations

import asyncio
import threading

import redis
import redis.asyncio as aioredis

from common.command_client import CommandTimeout, Unanswered
from common.config import RedisConfig
from common.contract import Command, CommandType, Keys
from tests.helpers import eventually
from web_service.commands import CommandSender, Outcome


async def _send(cfg: RedisConfig, keys: Keys, command: Command, timeout_s: float) -> Outcome:
    client = aioredis.Redis(host=cfg.host, port=cfg.port, db=cfg.db, decode_responses=True)
    try:
        return await CommandSender(client, keys, timeout_s).send(command)
    finally:
        await client.aclose()


def test_no_core_the_command_is_withdrawn_with_the_clis_words(
    redis_cfg: RedisConfig, redis_client: redis.Redis, keys: Keys
) -> None:
    command = Command(type=CommandType.EMERGENCY_STOP, params={}, source="web")
    outcomes: list[Outcome] = []
    sender = threading.Thread(target=lambda: outcomes.append(asyncio.run(_send(redis_cfg, keys, command, 1.2))),
                              daemon=True)
    sender.start()
    queued = eventually(lambda: redis_client.lrange(keys.commands, 0, -1), what="the command queued")
    assert [Command.model_validate_json(text).id for text in queued] == [command.id]
    sender.join(timeout=10)
    [outcome] = outcomes
    assert outcome.http_status == 503
    assert outcome.body == {"command_id": command.id, "type": "emergency.stop", "status": "timeout",
                            "withdrawn": True, "detail": str(CommandTimeout(Unanswered(1.2, True)))}
    assert redis_client.llen(keys.commands) == 0
    assert redis_client.brpop([keys.commands], timeout=0.2) is None, "a core starting now would run it"
