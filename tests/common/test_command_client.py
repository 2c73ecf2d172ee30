"""The command protocol (common/command_client.py): its steps on a TestClock (fast, no Redis), and the
sync client on the real Redis: answered, withdrawn on timeout (a core starting later finds nothing),
taken but unanswered, and Redis down before the push."""

from __future__ import annotations

import socket
import threading
from datetime import datetime

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from common.clock import TestClock
from common.command_client import (
    Answered,
    CommandTimeout,
    Lost,
    Pop,
    Push,
    RedisUnavailable,
    Unanswered,
    Withdraw,
    exchange,
    send_command,
)
from common.contract import Command, CommandReply, CommandStatus, CommandType, Keys
from common.trading_calendar import CHINA_TZ
from tests.helpers import eventually


def _command() -> Command:
    return Command(type=CommandType.EMERGENCY_STOP, params={}, source="test")


# ---------------------------------------------------------------- the protocol's steps (no Redis)
def test_steps_push_wait_in_slices_then_withdraw() -> None:
    keys, command = Keys("t:"), _command()
    clock = TestClock(datetime(2026, 1, 5, 10, tzinfo=CHINA_TZ))
    steps = exchange(keys, command, 2.5, clock, block_s=1.0)
    assert next(steps) == Push(keys.commands, command.to_json())
    assert steps.send(None) == Pop(keys.reply(command.id), 1.0)
    clock.advance(2.0)
    assert steps.send(None) == Pop(keys.reply(command.id), 0.5)  # never waits past the deadline
    clock.advance(0.5)
    assert steps.send(None) == Withdraw(keys.commands, command.to_json())
    with pytest.raises(StopIteration) as done:
        steps.send(1)
    assert done.value.value == Unanswered(2.5, withdrawn=True)


def test_steps_reply_and_lost_redis() -> None:
    keys, command = Keys("t:"), _command()
    clock = TestClock(datetime(2026, 1, 5, 10, tzinfo=CHINA_TZ))
    reply = CommandReply(command_id=command.id, status=CommandStatus.DONE)
    steps = exchange(keys, command, 5, clock)
    next(steps)
    steps.send(None)
    with pytest.raises(StopIteration) as done:
        steps.send(reply.to_json())
    assert done.value.value == Answered(reply)
    steps = exchange(keys, command, 5, clock)
    next(steps)
    steps.send(None)
    error = redis.ConnectionError("gone")
    with pytest.raises(StopIteration) as done:
        steps.throw(error)
    assert done.value.value == Lost(error)


def test_the_texts_say_whether_it_can_still_run() -> None:
    withdrawn, taken = Unanswered(1.5, True), Unanswered(1.5, False)
    assert withdrawn.code == "web_timeout_withdrawn" and "will not run" in withdrawn.detail
    assert taken.code == "web_timeout_taken" and "may still have run" in taken.detail
    assert "within 1.5 s" in withdrawn.detail


# ---------------------------------------------------------------- the sync client on the real Redis
def test_answered(redis_client: redis.Redis, keys: Keys) -> None:
    command = _command()

    def core() -> None:
        got = redis_client.brpop([keys.commands], timeout=5)
        assert got is not None
        taken = Command.model_validate_json(got[1])
        redis_client.lpush(keys.reply(taken.id), CommandReply(command_id=taken.id, status=CommandStatus.DONE,
                                                              result={"ok": 1}).to_json())

    thread = threading.Thread(target=core, daemon=True)
    thread.start()
    reply = send_command(redis_client, keys, command, timeout_s=5)
    thread.join(timeout=5)
    assert reply.command_id == command.id and reply.status == CommandStatus.DONE and reply.result == {"ok": 1}


def test_no_core_the_command_is_withdrawn_and_a_later_core_finds_nothing(
    redis_client: redis.Redis, keys: Keys
) -> None:
    command = _command()
    failures: list[CommandTimeout] = []

    def send() -> None:
        try:
            send_command(redis_client, keys, command, timeout_s=1.2)
        except CommandTimeout as exc:
            failures.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    queued = eventually(lambda: redis_client.lrange(keys.commands, 0, -1), what="the command queued")
    assert [Command.model_validate_json(text).id for text in queued] == [command.id]
    sender.join(timeout=10)
    [timeout] = failures
    assert timeout.withdrawn is True and timeout.code == "web_timeout_withdrawn"
    assert str(timeout) == Unanswered(1.2, True).detail
    assert redis_client.llen(keys.commands) == 0
    assert redis_client.brpop([keys.commands], timeout=0.2) is None, "a core starting now would run it"


def test_taken_but_unanswered_may_still_run(redis_client: redis.Redis, keys: Keys) -> None:
    taker = threading.Thread(target=lambda: redis_client.brpop([keys.commands], timeout=5), daemon=True)
    taker.start()  # the core takes the command and then says nothing
    with pytest.raises(CommandTimeout) as raised:
        send_command(redis_client, keys, _command(), timeout_s=1.0)
    taker.join(timeout=5)
    assert raised.value.withdrawn is False and "may still have run" in str(raised.value)


def test_redis_down_before_the_push_is_not_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    client = redis.Redis(port=port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    with pytest.raises(RedisUnavailable, match="not sent"):
        send_command(client, Keys("t:"), _command(), timeout_s=1.0)
    client.close()
