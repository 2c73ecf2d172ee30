"""Send an operator command to the core and wait for its reply, at most once per command id.

The exchange itself (push, wait, withdraw on timeout) is common/command_client.py's, the same as the
CLI's; this module adds what only the browser needs and maps each result to an HTTP answer:
200 done, 409 refused, 422 failed, 503 no answer in time (the text says whether the command was
withdrawn, so will never run, or may still run) or Redis lost after the push. A Redis error on the push
itself is raised as it is (nothing was sent: the app's handler answers 503 naming Redis).

The browser creates the command id when the confirmation dialog opens, so a double click or a retry
carries the same id. Here a repeat of an id that is in flight waits for the same reply, and a repeat of
a finished one gets the recorded reply back: nothing is pushed twice. (The core also refuses an id it
has seen.)
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from common.clock import LIVE, Clock
from common.command_client import Answered, Exchange, Lost, NotSent, Result, exchange, run_async, waited
from common.contract import Command, CommandReply, CommandStatus, Keys
from web_service.command_schemas import CommandAnswer
from web_service.dependency_errors import REDIS_BLOCK_S, REDIS_DETAIL

log = logging.getLogger(__name__)

REMEMBER_S = 600
REMEMBER_MAX = 1000
UNANSWERED = ("timeout", "redis_unreachable")
HTTP_OF = {CommandStatus.DONE: 200, CommandStatus.REFUSED: 409, CommandStatus.FAILED: 422}


@dataclass(frozen=True)
class Outcome:
    """What the operator is told: an HTTP status and the answer."""

    http_status: int
    answer: CommandAnswer

    @property
    def body(self) -> dict[str, Any]:
        return self.answer.body()


def _reply_answer(command: Command, reply: CommandReply) -> CommandAnswer:
    said = {"command_id": command.id, "type": command.type.value, "status": reply.status.value, "reason": reply.reason,
            "code": reply.code,  # the browser translates a refusal by its code (i18n "rc_<code>") with `vars`
            "vars": reply.vars, "result": reply.result}
    if reply.status != CommandStatus.DONE:
        said["detail"] = f"the core {reply.status.value} the command: {reply.reason or 'no reason given'}"
    return CommandAnswer.model_validate(said)


def outcome_of(command: Command, result: Result) -> Outcome:
    """The HTTP answer to one exchange's result (a push that failed is raised: nothing was sent)."""
    if isinstance(result, NotSent):
        raise result.error
    if isinstance(result, Answered):
        return Outcome(HTTP_OF[result.reply.status], _reply_answer(command, result.reply))
    said = {"command_id": command.id, "type": command.type.value}
    if isinstance(result, Lost):
        return Outcome(503, CommandAnswer(
            **said, status="redis_unreachable", withdrawn=False, dependency="redis",
            detail=f"{result.detail_with(' (a retry with the same id never runs it twice)')} {REDIS_DETAIL}"))
    return Outcome(503, CommandAnswer(**said, status="timeout", withdrawn=result.withdrawn, detail=result.detail))


def _id_reused(command: Command) -> Outcome:
    return Outcome(409, CommandAnswer.model_validate({
        "command_id": command.id, "status": "refused", "code": "id_reused", "vars": {},
        "detail": "this command id was already used for a different command"}))


class CommandSender:
    def __init__(self, client: aioredis.Redis, keys: Keys, timeout_s: float, clock: Clock = LIVE) -> None:
        self._redis = client
        self._keys = keys
        self.timeout_s = timeout_s
        self._clock = clock
        self._seen: OrderedDict[str, tuple[float, str, asyncio.Future[Outcome]]] = OrderedDict()

    def _forget_old(self) -> None:
        cutoff = self._clock.monotonic() - REMEMBER_S
        while self._seen:
            _, (at, _, fut) = next(iter(self._seen.items()))
            if (at >= cutoff and len(self._seen) <= REMEMBER_MAX) or not fut.done():
                break
            self._seen.popitem(last=False)

    async def send(self, command: Command) -> Outcome:
        """Push `command` once and return the core's answer (or the first answer for a repeated id)."""
        self._forget_old()
        fingerprint = f"{command.type.value}:{sorted(command.params.items())}"
        known = self._seen.get(command.id)
        if known is not None:
            if known[1] != fingerprint:
                return _id_reused(command)
            return await self._repeat(command, known[2])
        steps = exchange(self._keys, command, self.timeout_s, self._clock, REDIS_BLOCK_S)
        return await self._first(command, fingerprint, self._run(command, steps))

    async def _run(self, command: Command, steps: Exchange) -> Outcome:
        outcome = outcome_of(command, await run_async(self._redis, steps))
        answer = outcome.answer
        log.log(logging.WARNING if answer.status in UNANSWERED else logging.INFO, "command %s %s: %s %s",
                command.id, command.type.value, answer.status, answer.reason or answer.detail or "")
        return outcome

    async def _first(self, command: Command, fingerprint: str, work: Coroutine[Any, Any, Outcome]) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._seen[command.id] = (self._clock.monotonic(), fingerprint, future)
        try:
            outcome = await work
        except BaseException:
            self._seen.pop(command.id, None)
            future.cancel()
            raise
        if outcome.answer.withdrawn:
            self._seen.pop(command.id, None)  # the core never saw it: the same id may be sent again
        future.set_result(outcome)
        return outcome

    async def _repeat(self, command: Command, first: asyncio.Future[Outcome]) -> Outcome:
        outcome = await asyncio.shield(first)
        if outcome.answer.status in UNANSWERED:
            # The core took it but had not answered: its answer may be there by now.
            again = await self._run(command, waited(self._keys, command, self.timeout_s, self._clock, REDIS_BLOCK_S))
            if again.answer.status not in UNANSWERED:
                outcome = again
                done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
                done.set_result(outcome)
                self._seen[command.id] = (self._clock.monotonic(), self._seen[command.id][1], done)
        return Outcome(outcome.http_status, outcome.answer.model_copy(update={"repeated": True}))
