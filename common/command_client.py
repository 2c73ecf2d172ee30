"""The command protocol over Redis, written once for the CLI (sync) and the web service (async).

One exchange: LPUSH the command onto the core's command list, BRPOP its reply key in slices of at most
`block_s` (shorter than the client's socket timeout, so a hung Redis is an error, not a hang) until
`timeout_s` has passed, then LREM the command: a command the core has not taken is withdrawn and can
never run later. The steps are plain values (`Push`, `Pop`, `Withdraw`) yielded by one generator
(`exchange`); `run_sync` and `run_async` only carry them out on a redis-py client, so both callers
get the same result (`Answered`, `Unanswered`, `NotSent`, `Lost`) with the same texts and codes.

`send_command` is the CLI's (and the tests') call: the reply, or `CommandTimeout` / `RedisUnavailable`.
The web service maps the same results to HTTP answers (web_service/commands.py).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, NamedTuple

import redis
import redis.asyncio as aioredis

from common.clock import LIVE, Clock
from common.contract import Command, CommandReply, Keys

BLOCK_S = 1.0  # one BRPOP waits at most this long: always shorter than a caller's socket timeout
MIN_BLOCK_S = 0.01


# ---------------------------------------------------------------- the steps (what to do on Redis)
class Push(NamedTuple):
    """LPUSH `text` onto `key`; answers nothing."""

    key: str
    text: str


class Pop(NamedTuple):
    """BRPOP `key` for at most `block_s`; answers the value or None."""

    key: str
    block_s: float


class Withdraw(NamedTuple):
    """LREM one `text` from `key`; answers how many were removed."""

    key: str
    text: str


Step = Push | Pop | Withdraw


# ---------------------------------------------------------------- the results (what the caller is told)
@dataclass(frozen=True)
class Answered:
    reply: CommandReply


@dataclass(frozen=True)
class Unanswered:
    """No reply within `timeout_s`: withdrawn (it will never run) or already taken by the core."""

    timeout_s: float
    withdrawn: bool

    @property
    def code(self) -> str:  # the code the browser shows this answer by (static/ui.js answerCode)
        return "web_timeout_withdrawn" if self.withdrawn else "web_timeout_taken"

    @property
    def detail(self) -> str:
        said = f"core did not answer within {self.timeout_s:g} s; it may be down — check the system page."
        if self.withdrawn:
            return f"{said} The command was withdrawn and will not run."
        return (f"{said} The core had already taken the command, so it may still have run: check positions and"
                " orders before trying again.")


@dataclass(frozen=True)
class NotSent:
    """Redis failed on the push: nothing reached the core."""

    error: redis.RedisError

    @property
    def detail(self) -> str:
        return f"Redis unavailable, the command was not sent: {self.error}"


@dataclass(frozen=True)
class Lost:
    """Redis failed after the push: the core may have taken the command and run it."""

    error: redis.RedisError
    code = "redis_lost"

    @property
    def detail(self) -> str:
        return self.detail_with("")

    def detail_with(self, aside: str) -> str:
        """The text with `aside` (e.g. " (a retry ...)") before its final full stop."""
        return (f"Redis became unreachable ({type(self.error).__name__}) after the command was sent: the core may"
                f" have taken it and run it. Check positions and orders before trying again{aside}.")


Result = Answered | Unanswered | NotSent | Lost
Exchange = Generator[Step, Any, Result]


# ---------------------------------------------------------------- the protocol
def await_reply(keys: Keys, command: Command, timeout_s: float, clock: Clock, block_s: float = BLOCK_S
                ) -> Generator[Step, Any, CommandReply | None]:
    """The core's reply to `command`, or None once `timeout_s` has passed."""
    deadline = clock.monotonic() + timeout_s
    while (remaining := deadline - clock.monotonic()) > 0:
        got = yield Pop(keys.reply(command.id), max(MIN_BLOCK_S, min(block_s, remaining)))
        if got is not None:
            return CommandReply.model_validate_json(got)
    return None


def exchange(keys: Keys, command: Command, timeout_s: float, clock: Clock = LIVE, block_s: float = BLOCK_S
             ) -> Exchange:
    """Push `command`, wait for its reply, withdraw it if none came (see the module docstring)."""
    text = command.to_json()
    try:
        yield Push(keys.commands, text)
    except redis.RedisError as exc:
        return NotSent(exc)
    try:
        reply = yield from await_reply(keys, command, timeout_s, clock, block_s)
        if reply is not None:
            return Answered(reply)
        removed = yield Withdraw(keys.commands, text)
    except redis.RedisError as exc:
        return Lost(exc)
    return Unanswered(timeout_s, bool(removed))


def waited(keys: Keys, command: Command, timeout_s: float, clock: Clock = LIVE, block_s: float = BLOCK_S
           ) -> Exchange:
    """Only wait for the reply to a command sent before (a repeat of an id the core took)."""
    try:
        reply = yield from await_reply(keys, command, timeout_s, clock, block_s)
    except redis.RedisError as exc:
        return Lost(exc)
    return Unanswered(timeout_s, False) if reply is None else Answered(reply)


# ---------------------------------------------------------------- the transports
class Conversation:
    """Feeds a transport's answers (or its Redis errors) into the protocol: `step` is the next thing to do on
    Redis, None once `result` is known."""

    def __init__(self, steps: Exchange) -> None:
        self._steps = steps
        self.step: Step | None = None
        self.result: Result | None = None
        self._resume(lambda: next(steps))

    def answer(self, value: Any) -> None:
        if isinstance(self.step, Pop):
            value = None if value is None else value[1]  # BRPOP answers (key, value)
        self._resume(lambda: self._steps.send(value))

    def fail(self, error: redis.RedisError) -> None:
        self._resume(lambda: self._steps.throw(error))

    def _resume(self, advance: Callable[[], Step]) -> None:
        try:
            self.step = advance()
        except StopIteration as done:
            self.step, self.result = None, done.value

    def call(self, client: redis.Redis | aioredis.Redis) -> Any:
        """The Redis call for `step` (a coroutine on an asyncio client)."""
        step = self.step
        if isinstance(step, Push):
            return client.lpush(step.key, step.text)
        if isinstance(step, Pop):
            return client.brpop([step.key], timeout=step.block_s)
        assert isinstance(step, Withdraw)
        return client.lrem(step.key, 1, step.text)

    def outcome(self) -> Result:
        assert self.result is not None, "the exchange has not ended"
        return self.result


def run_sync(client: redis.Redis, steps: Exchange) -> Result:
    """Carry out `steps` on a sync client."""
    talk = Conversation(steps)
    while talk.step is not None:
        try:
            talk.answer(talk.call(client))
        except redis.RedisError as exc:
            talk.fail(exc)
    return talk.outcome()


async def run_async(client: aioredis.Redis, steps: Exchange) -> Result:
    """Carry out `steps` on an asyncio client."""
    talk = Conversation(steps)
    while talk.step is not None:
        try:
            talk.answer(await talk.call(client))
        except redis.RedisError as exc:
            talk.fail(exc)
    return talk.outcome()


# ---------------------------------------------------------------- the CLI's call
class CommandTimeout(TimeoutError):
    """The core did not answer in time (it may be down, or busy); `withdrawn`: it will never run."""

    def __init__(self, unanswered: Unanswered) -> None:
        super().__init__(unanswered.detail)
        self.withdrawn = unanswered.withdrawn
        self.code = unanswered.code


class RedisUnavailable(ConnectionError):
    """Redis refused, failed or hung: the command may not have reached the core."""


def send_command(client: redis.Redis, keys: Keys, command: Command, timeout_s: float = 5.0,
                 clock: Clock = LIVE) -> CommandReply:
    """Push `command` and block until the core replies or `timeout_s` passes (then it is withdrawn)."""
    result = run_sync(client, exchange(keys, command, timeout_s, clock))
    if isinstance(result, Answered):
        return result.reply
    if isinstance(result, Unanswered):
        raise CommandTimeout(result)
    raise RedisUnavailable(result.detail) from result.error
