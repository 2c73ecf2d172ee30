"""The command loop: operator commands from Redis, checked, executed, answered and audited.

Every command gets exactly one answer (done, refused with the reason, or failed) and one audit
row. A command runs at most once: its id is claimed in Redis (SET NX) before anything happens,
so a double click or a retried request is refused as a duplicate. The same processor serves the
local control channel (core_service/control_socket.py): those commands are claimed in memory only
and answered on the socket, so an emergency stop never waits on Redis. A command older than its
time-to-live is refused, so a "close position" queued before a restart never fires later.
Trading actions run on vnpy's event thread (serialised with the strategies); a job the loop has
given up waiting for is never started afterwards.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import redis
from pydantic import ValidationError
from vnpy.event import Event, EventEngine

from common.clock import LIVE, Clock
from common.contract import (
    COMMAND_ID_RE,
    READ_ONLY_COMMANDS,
    Command,
    CommandAudit,
    CommandReply,
    CommandStatus,
    CommandType,
    Keys,
)
from common.lifecycle import LoopThread

log = logging.getLogger(__name__)

EVENT_RUN_JOB = "eArbigJob."
SEEN_TTL_S = 24 * 3600
REPLY_TTL_S = 120
CLAIMS_IN_MEMORY = 10_000


class CodedError(Exception):
    """An answer the browser can translate: `code` names the message (i18n key "rc_<code>") and
    `values` fill it in; str(exc) stays the English text for logs, the CLI and the audit."""

    def __init__(self, message: str, code: str = "", **values: str | int | float) -> None:
        super().__init__(message)
        self.code = code
        self.values = values
        self.result: dict[str, Any] = {}  # what was done before it failed (e.g. the orders already sent)


class Refused(CodedError):
    """The command was not executed; the message says why."""


class Failed(CodedError):
    """The command was tried and the gateway or engine said no."""


class _Job:
    def __init__(self, func: Callable[[], dict[str, Any]]) -> None:
        self.func = func
        self.done = threading.Event()
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._state = "queued"  # queued -> running | abandoned

    def try_start(self) -> bool:
        with self._lock:
            if self._state != "queued":
                return False
            self._state = "running"
            return True

    def abandon(self) -> bool:
        """True when the job had not started and never will."""
        with self._lock:
            if self._state == "queued":
                self._state = "abandoned"
                return True
            return False


class EventThreadRunner:
    """Runs a function on vnpy's event thread and waits for it."""

    def __init__(self, event_engine: EventEngine) -> None:
        self.event_engine = event_engine
        event_engine.register(EVENT_RUN_JOB, self._on_job)

    def close(self) -> None:
        self.event_engine.unregister(EVENT_RUN_JOB, self._on_job)

    @staticmethod
    def _on_job(event: Event) -> None:
        job: _Job = event.data
        if not job.try_start():
            return
        try:
            job.result = job.func()
        except BaseException as exc:  # handed back to the command thread
            job.error = exc
        finally:
            job.done.set()

    def run(self, func: Callable[[], dict[str, Any]], timeout_s: float) -> dict[str, Any]:
        job = _Job(func)
        self.event_engine.put(Event(EVENT_RUN_JOB, job))
        if not job.done.wait(timeout_s) and job.abandon():
            raise Failed(f"the trading engine was busy for {timeout_s:.0f} s; command not executed", "busy",
                         s=round(timeout_s))
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result or {}


Handler = Callable[[Command], dict[str, Any]]


class CommandProcessor(LoopThread):
    """Takes commands off the Redis list (a blocking read of 1 s a round; Redis down: backoff 0.5-5 s)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        handlers: dict[CommandType, Handler],
        audit: Callable[[CommandAudit], None],
        max_ttl_s: float,
        clock: Clock = LIVE,
    ) -> None:
        super().__init__("arbig-commands", what="command loop: reading the command list",
                         expected_errors=(redis.RedisError,), logger=log)
        self.client = client
        self.keys = keys
        self.handlers = handlers
        self.audit = audit
        self.max_ttl_s = max_ttl_s
        self.clock = clock
        self._claims: OrderedDict[str, int] = OrderedDict()
        self._claims_lock = threading.Lock()

    def step(self) -> None:
        item = self.client.brpop([self.keys.commands], timeout=1)  # RedisError: the loop backs off
        if item is None:
            return
        try:
            self.process(item[1])
        except Exception:  # one command's trouble is not an outage: no backoff, the next one is read at once
            log.exception("command loop: unexpected error while processing a command")

    # ------------------------------------------------------------ one command
    def process(self, raw: str | bytes, local: bool = False) -> CommandReply:
        """Run one command; `local`: it came on the control socket (answered there, not in Redis)."""
        received = self.clock.now_ms()
        command, reply = self._parse(raw)
        if command is not None and reply is None:
            reply = self._execute(command, received, local)
        assert reply is not None
        if not local:
            self._answer(reply)
        self._audit(command, raw, reply, received)
        return reply

    def process_local(self, raw: str) -> CommandReply:
        return self.process(raw, local=True)

    def _claim(self, command_id: str, received: int, local: bool) -> bool:
        """True the first time an id is seen: in memory (both paths), and in Redis for the Redis path
        (so a command id also never runs twice across a core restart)."""
        with self._claims_lock:
            if command_id in self._claims:
                return False
            self._claims[command_id] = received
            while len(self._claims) > CLAIMS_IN_MEMORY:
                self._claims.popitem(last=False)
        if local:
            return True
        return bool(self.client.set(self.keys.command_seen(command_id), str(received), nx=True, ex=SEEN_TTL_S))

    def _parse(self, raw: str | bytes) -> tuple[Command | None, CommandReply | None]:
        try:
            return Command.model_validate_json(raw), None
        except ValidationError as exc:
            command_id = _loose_id(raw)
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'command'}: {e['msg']}" for e in exc.errors()
            )
            return None, CommandReply(command_id=command_id, status=CommandStatus.REFUSED,
                                      reason=f"invalid command: {problems}", code="invalid", vars={"problems": problems})

    def _execute(self, command: Command, received: int, local: bool = False) -> CommandReply:
        ttl = min(command.ttl_s, self.max_ttl_s)
        age = command.age_s(received)
        if age > ttl:
            return self._refuse(command, Refused(f"expired: issued {age:.1f} s ago, limit {ttl:.0f} s; not executed",
                                                 "expired", age=round(age, 1), ttl=round(ttl)))
        if age < -ttl:
            return self._refuse(command, Refused("issued in the future (clock skew?); not executed", "future"))
        if not self._claim(command.id, received, local):
            return self._refuse(command, Refused(f"duplicate: command {command.id} was already received;"
                                                 " not executed again", "duplicate", id=command.id))
        handler = self.handlers.get(command.type)
        if handler is None:
            return self._refuse(command, Refused(f"command type {command.type.value} is not supported",
                                                 "unsupported", type=command.type.value))
        try:
            result = handler(command)
            log.info("command %s %s %s: done", command.id, command.type.value, command.params)
            return CommandReply(command_id=command.id, status=CommandStatus.DONE, result=result)
        except Refused as exc:
            return self._refuse(command, exc)
        except Failed as exc:
            log.warning("command %s %s failed: %s", command.id, command.type.value, exc)
            return CommandReply(command_id=command.id, status=CommandStatus.FAILED, reason=str(exc),
                                code=exc.code, vars=exc.values, result=exc.result)
        except Exception as exc:
            log.exception("command %s %s raised", command.id, command.type.value)
            return CommandReply(command_id=command.id, status=CommandStatus.FAILED,
                                reason=f"internal error: {type(exc).__name__}: {exc}")

    @staticmethod
    def _refuse(command: Command, exc: Refused) -> CommandReply:
        log.warning("command %s %s refused: %s", command.id, command.type.value, exc)
        return CommandReply(command_id=command.id, status=CommandStatus.REFUSED, reason=str(exc), code=exc.code,
                            vars=exc.values)

    def _answer(self, reply: CommandReply) -> None:
        if not reply.command_id:
            return
        key = self.keys.reply(reply.command_id)
        for attempt in range(3):
            try:
                pipe = self.client.pipeline(transaction=True)
                pipe.lpush(key, reply.to_json())
                pipe.expire(key, REPLY_TTL_S)
                pipe.execute()
                return
            except redis.RedisError as exc:
                log.warning("command %s: could not send the reply (%s), attempt %d", reply.command_id, exc,
                            attempt + 1)
                time.sleep(0.2)

    def _audit(self, command: Command | None, raw: str | bytes, reply: CommandReply, received: int) -> None:
        if command is not None and command.type in READ_ONLY_COMMANDS and reply.status == CommandStatus.DONE:
            return  # a read (sync.check, order.diagnose) changes nothing and writes nothing
        if command is not None:
            who = {"command_id": command.id, "type": command.type.value, "params": command.params,
                   "source": command.source, "operator": command.operator, "issued_ms": command.issued_ms}
        else:
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
            who = {"command_id": reply.command_id[:64], "type": "invalid", "params": {"raw": text[:2000]},
                   "source": "unknown", "operator": "unknown", "issued_ms": received}
        self.audit(CommandAudit(**who, received_ms=received, replied_ms=reply.replied_ms,
                                status=reply.status.value, reason=reply.reason[:1024], result=reply.result))


def _loose_id(raw: str | bytes) -> str:
    """The id of an invalid command, if it has a usable one (so the sender still gets an answer)."""
    try:
        data = json.loads(raw)
        value = data.get("id") if isinstance(data, dict) else None
        if isinstance(value, str) and COMMAND_ID_RE.match(value):
            return value
    except (ValueError, TypeError):
        pass
    return ""
