"""Send an operator command to the core and wait for its reply, at most once per command id.

The browser creates the command id when the confirmation dialog opens, so a double click or a
retry carries the same id. Here a repeat of an id that is in flight waits for the same reply, and
a repeat of a finished one gets the recorded reply back: nothing is pushed twice. (The core also
refuses an id it has seen.) On timeout the command is withdrawn from the list if the core has not
taken it yet, so the answer can say whether it may still run. The reply is awaited with BRPOPs of at
most REDIS_BLOCK_S each (shorter than the client's socket timeout); if Redis fails after the push,
the answer (503) says the command may have run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from common.contract import Command, CommandReply, CommandStatus, Keys
from web_service.dependency_errors import REDIS_BLOCK_S, REDIS_DETAIL, REDIS_ERRORS

log = logging.getLogger(__name__)

REMEMBER_S = 600
REMEMBER_MAX = 1000


@dataclass(frozen=True)
class Outcome:
    """What the operator is told: an HTTP status and a JSON body."""

    http_status: int
    body: dict[str, Any]


def _reply_outcome(command: Command, reply: CommandReply) -> Outcome:
    body = {
        "command_id": command.id,
        "type": command.type.value,
        "status": reply.status.value,
        "reason": reply.reason,
        "code": reply.code,  # the browser translates a refusal by its code (i18n "rc_<code>") with `vars`
        "vars": reply.vars,
        "result": reply.result,
    }
    if reply.status == CommandStatus.DONE:
        return Outcome(200, body)
    body["detail"] = f"the core {reply.status.value} the command: {reply.reason or 'no reason given'}"
    return Outcome(409 if reply.status == CommandStatus.REFUSED else 422, body)


def _timeout_outcome(command: Command, timeout_s: float, withdrawn: bool) -> Outcome:
    if withdrawn:
        detail = (
            f"core did not answer within {timeout_s:g} s; it may be down — check the system page."
            " The command was withdrawn and will not run."
        )
    else:
        detail = (
            f"core did not answer within {timeout_s:g} s; it may be down — check the system page."
            " The core had already taken the command, so it may still have run: check positions and"
            " orders before trying again."
        )
    return Outcome(503, {"command_id": command.id, "type": command.type.value, "status": "timeout",
                         "withdrawn": withdrawn, "detail": detail})


def _redis_lost_outcome(command: Command, exc: Exception) -> Outcome:
    detail = (
        f"Redis became unreachable ({type(exc).__name__}) after the command was sent: the core may have"
        " taken it and run it. Check positions and orders before trying again (a retry with the same id"
        f" never runs it twice). {REDIS_DETAIL}"
    )
    return Outcome(503, {"command_id": command.id, "type": command.type.value, "status": "redis_unreachable",
                         "withdrawn": False, "dependency": "redis", "detail": detail})


UNANSWERED = ("timeout", "redis_unreachable")


class CommandSender:
    def __init__(self, client: aioredis.Redis, keys: Keys, timeout_s: float) -> None:
        self._redis = client
        self._keys = keys
        self.timeout_s = timeout_s
        self._seen: OrderedDict[str, tuple[float, str, asyncio.Future[Outcome]]] = OrderedDict()

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - REMEMBER_S
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
                return Outcome(409, {"command_id": command.id, "status": "refused", "code": "id_reused", "vars": {},
                                     "detail": "this command id was already used for a different command"})
            return await self._repeat(command, known[2])
        return await self._first(command, fingerprint, self._push_and_wait(command))

    async def _first(self, command: Command, fingerprint: str, work: Any) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._seen[command.id] = (time.monotonic(), fingerprint, future)
        try:
            outcome = await work
        except BaseException:
            self._seen.pop(command.id, None)
            future.cancel()
            raise
        if outcome.body.get("withdrawn"):
            self._seen.pop(command.id, None)  # the core never saw it: the same id may be sent again
        future.set_result(outcome)
        return outcome

    async def _repeat(self, command: Command, first: asyncio.Future[Outcome]) -> Outcome:
        outcome = await asyncio.shield(first)
        if outcome.body.get("status") in UNANSWERED:
            # The core took it but had not answered: its answer may be there by now.
            got = await self._wait_reply(command, self.timeout_s)
            if got is not None:
                outcome = _reply_outcome(command, CommandReply.model_validate_json(got))
                fingerprint = self._seen[command.id][1]
                done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
                done.set_result(outcome)
                self._seen[command.id] = (time.monotonic(), fingerprint, done)
        return Outcome(outcome.http_status, {**outcome.body, "repeated": True})

    async def _wait_reply(self, command: Command, timeout_s: float) -> str | None:
        """The core's reply (JSON), or None after timeout_s; BRPOP in slices shorter than the socket timeout."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            block_s = max(0.01, min(REDIS_BLOCK_S, remaining))
            got = await self._redis.brpop([self._keys.reply(command.id)], timeout=block_s)
            if got is not None:
                return got[1]
        return None

    async def _push_and_wait(self, command: Command) -> Outcome:
        text = command.to_json()
        await self._redis.lpush(self._keys.commands, text)  # a Redis error here: nothing was sent (503)
        log.info("command %s %s sent", command.id, command.type.value)
        withdrawn = False
        try:
            got = await self._wait_reply(command, self.timeout_s)
            if got is None:
                withdrawn = bool(await self._redis.lrem(self._keys.commands, 1, text))
        except REDIS_ERRORS as exc:
            log.warning("command %s %s: Redis failed while waiting for the reply: %s",
                        command.id, command.type.value, type(exc).__name__)
            return _redis_lost_outcome(command, exc)
        if got is None:
            log.warning("command %s %s: no reply within %.1f s (withdrawn=%s)",
                        command.id, command.type.value, self.timeout_s, withdrawn)
            return _timeout_outcome(command, self.timeout_s, withdrawn)
        reply = CommandReply.model_validate_json(got)
        log.info("command %s %s: %s %s", command.id, command.type.value, reply.status.value, reply.reason)
        return _reply_outcome(command, reply)
