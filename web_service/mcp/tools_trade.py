"""The two trading tools' work: `execute_trade` (command ai.trade, or ai.preview for a dry run) and
`update_exit_plan` (ai.exit_plan), sent through the web's CommandSender, the same path as the console's commands
(a command id, an expiry, one answer, the core's audit row; source "mcp", operator "ai-agent"). The core holds
every rule the agent may not change (the operator's switch, the live-account opt-in, the limits) and answers
refusals with a stable code; this module passes them on as {status: "refused", code, reason, vars}.

Idempotency of execute_trade by `client_request_id` (previews excepted: they send nothing):
- a request id some earlier call already sent to the core: that call's answer is returned again (status
  "replayed", naming the first call) and nothing is sent;
- the command id is derived from the request id, so the core itself refuses a second command with it
  ("duplicate") even from another web process; that loser waits for the first call's record and replays it;
- two calls with the same id at once in this process: the second waits for the first and replays its answer;
- a call whose command never reached the core (bad input, Redis down before sending, withdrawn unanswered) does
  not claim the id: a retry with it trades.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from typing import Any, Literal

import pymysql
import redis
from pydantic import BaseModel, Field, ValidationError

from common.clock import Clock
from common.contract import Command, CommandType
from common.contract.ai import AiExitPlanParams, AiTradeParams
from web_service.command_schemas import CommandAnswer
from web_service.mcp.calls import CallLog, Claim, CurrentCall
from web_service.services import Services

log = logging.getLogger(__name__)

TOOL = "execute_trade"
SOURCE = "mcp"
OPERATOR = "ai-agent"
LOSER_CODES = frozenset({"duplicate", "id_reused"})  # the core (or this web) already has this command id
CLAIM_POLL_S = 0.1
Status = Literal["ok", "refused", "failed", "preview", "replayed"]


class TradeAnswer(BaseModel):
    """The answer of execute_trade and update_exit_plan."""

    status: Status = Field(description="ok: done; preview: what would be sent (nothing was); refused: not done,"
                                       " `code`/`reason` say why; failed: tried and failed, or no answer in time;"
                                       " replayed: the answer of the first call with this client_request_id")
    call_id: str = Field(description="this call's id; the orders it sent carry it as tool_call_id")
    code: str = Field("", description="a stable code for a refusal or failure (e.g. ai_off, ai_volume_limit)")
    reason: str = Field("", description="why, in English")
    vars: dict[str, Any] = Field(default_factory=dict, description="the values the reason names")
    command_id: str | None = Field(None, description="the command sent to the core (None: nothing was sent)")
    result: dict[str, Any] = Field(default_factory=dict,
                                   description="the core's answer: the orders sent (or planned, for a preview),"
                                               " prices, margin, commission, the exit plan stored")
    withdrawn: bool | None = Field(None, description="no answer in time: true when the command will never run")
    replayed_call_id: str | None = Field(None, description="replayed: the call whose answer this is")
    replayed_status: str | None = Field(None, description="replayed: that call's status")


def command_id_for(client_request_id: str) -> str:
    """The command id of a request id: the same for every call carrying it, so the core runs it once."""
    return "ai-" + hashlib.sha256(client_request_id.encode("utf-8")).hexdigest()[:40]


def problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors())


def refused(call: CurrentCall, code: str, reason: str, **values: Any) -> TradeAnswer:
    return TradeAnswer(status="refused", call_id=call.call_id, code=code, reason=reason, vars=values)


def from_command(call: CurrentCall, answer: CommandAnswer, preview: bool) -> TradeAnswer:
    """The core's answer (or the web's, for a timeout or a lost Redis) as the tool's."""
    said: dict[str, Any] = {"call_id": call.call_id, "command_id": answer.command_id, "vars": answer.vars or {},
                            "result": answer.result or {}}
    if answer.status == "done":
        return TradeAnswer(status="preview" if preview else "ok", reason=answer.reason or "", **said)
    if answer.status in ("refused", "failed"):
        return TradeAnswer(status=answer.status, code=answer.code or answer.status,
                           reason=answer.reason or answer.detail or "", **said)
    if answer.status == "timeout":
        code = "web_timeout_withdrawn" if answer.withdrawn else "web_timeout_taken"
        return TradeAnswer(status="failed", code=code, reason=answer.detail or "", withdrawn=answer.withdrawn, **said)
    return TradeAnswer(status="failed", code="redis_lost", reason=answer.detail or "", withdrawn=False, **said)


def reached_core(answer: CommandAnswer) -> bool:
    """The core took the command (it answered, or it may have run it): its request id is spent."""
    if answer.status in ("done", "refused", "failed"):
        return (answer.code or "") not in LOSER_CODES
    return answer.status == "redis_unreachable" or (answer.status == "timeout" and not answer.withdrawn)


class TradeDesk:
    """Sends the trading tools' commands; remembers which execute_trade request ids are in flight."""

    def __init__(self, services: Callable[[], Services], calls: CallLog, clock: Clock) -> None:
        self._services = services
        self.calls = calls
        self.clock = clock
        self._inflight: dict[str, asyncio.Future[None]] = {}

    async def send(self, call: CurrentCall, kind: CommandType, params: BaseModel, command_id: str | None = None
                   ) -> tuple[TradeAnswer, CommandAnswer | None]:
        svc = self._services()
        fields: dict[str, Any] = {"type": kind, "params": params.model_dump(exclude_none=True), "source": SOURCE,
                                  "operator": OPERATOR}
        command = Command(id=command_id, **fields) if command_id else Command(**fields)
        try:
            outcome = await svc.commands.send(command)
        except redis.RedisError as exc:
            return TradeAnswer(status="failed", call_id=call.call_id, code="redis_unreachable", withdrawn=True,
                               reason=f"Redis unavailable ({type(exc).__name__}): the command was not sent"), None
        return from_command(call, outcome.answer, kind == CommandType.AI_PREVIEW), outcome.answer

    # ------------------------------------------------------------ execute_trade

    async def execute_trade(self, call: CurrentCall, trade: dict[str, Any], preview: bool,
                            client_request_id: str | None) -> TradeAnswer:
        try:
            params = AiTradeParams(**trade, tool_call_id=call.call_id, client_request_id=client_request_id)
        except ValidationError as exc:
            said = problems(exc)
            return refused(call, "invalid_input", f"invalid input: {said}", problems=said)
        if preview or client_request_id is None:
            kind = CommandType.AI_PREVIEW if preview else CommandType.AI_TRADE
            return (await self.send(call, kind, params))[0]
        while True:
            claim = await self._find_claim(client_request_id)
            if claim is not None:
                return self.replay(call, claim)
            first = self._inflight.get(client_request_id)
            if first is None:
                break
            await asyncio.wait({first})  # the first call with this id ends within the command timeout
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[client_request_id] = done
        try:
            return await self._first_send(call, params, client_request_id)
        finally:
            self._inflight.pop(client_request_id, None)
            done.set_result(None)

    async def _first_send(self, call: CurrentCall, params: AiTradeParams, client_request_id: str) -> TradeAnswer:
        command_id = command_id_for(client_request_id)
        answer, said = await self.send(call, CommandType.AI_TRADE, params, command_id)
        if said is not None and (said.code or "") in LOSER_CODES:
            return await self._wait_for_first(call, client_request_id, command_id)
        if said is not None and reached_core(said):
            call.claimed_request_id = client_request_id
            self.calls.claim(TOOL, client_request_id, call.call_id, answer.model_dump(mode="json"))
        return answer

    async def _find_claim(self, client_request_id: str) -> Claim | None:
        try:
            return await self.calls.find_claim(TOOL, client_request_id)
        except pymysql.MySQLError as exc:  # the core's duplicate check still stands behind the derived command id
            log.warning("cannot look up client_request_id in mcp_tool_calls (%s); relying on the command id",
                        type(exc).__name__)
            return None

    async def _wait_for_first(self, call: CurrentCall, client_request_id: str, command_id: str) -> TradeAnswer:
        """The core already has this request's command (another call sent it): that call's answer, once recorded."""
        deadline = self.clock.monotonic() + self._services().commands.timeout_s + 2.0
        while self.clock.monotonic() < deadline:
            claim = await self._find_claim(client_request_id)
            if claim is not None:
                return self.replay(call, claim)
            await asyncio.sleep(CLAIM_POLL_S)
        return TradeAnswer(status="refused", call_id=call.call_id, code="duplicate_request", command_id=command_id,
                           vars={"client_request_id": client_request_id},
                           reason="another call with this client_request_id was already sent to the core and its"
                                  " answer is not on record: check positions and orders before trading again"
                                  " (with a new client_request_id)")

    def replay(self, call: CurrentCall, claim: Claim) -> TradeAnswer:
        stored = dict(claim.response)
        first_status = str(stored.get("status", ""))
        call.reason = f"replayed call {claim.call_id} ({first_status})"
        update = {"status": "replayed", "call_id": call.call_id, "replayed_call_id": claim.call_id,
                  "replayed_status": first_status}
        try:
            return TradeAnswer.model_validate(stored | update)
        except ValidationError:
            return TradeAnswer.model_validate(update | {"result": {"first_answer": stored}})

    # ------------------------------------------------------------ update_exit_plan

    async def update_exit_plan(self, call: CurrentCall, plan: dict[str, Any]) -> TradeAnswer:
        try:
            params = AiExitPlanParams(**plan, tool_call_id=call.call_id)
        except ValidationError as exc:
            said = problems(exc)
            return refused(call, "invalid_input", f"invalid input: {said}", problems=said)
        return (await self.send(call, CommandType.AI_EXIT_PLAN, params))[0]
