"""JSON API for operator actions: commands to the core, the main-contract switch, and the AI trading switch.

Every route here changes something, so every route depends on `require_csrf`. Input is validated
with the contract's models before anything is sent (422, nothing sent). The core's answer maps to
200 (done), 409 (refused), 422 (failed); no answer in time is 503 (web_service/commands.py). The answers'
models are in web_service/command_schemas.py. The web's own refusals carry a code
and vars like the core's (web_service.errors.Refusal), so the browser shows them in the operator's language.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from common.config import ConfigError, update_main_contract_file
from common.contract import (
    AI_TOOL_COMMANDS,
    COMMAND_ID_RE,
    PARAMS_MAX_KEYS,
    ClosePositionParams,
    Command,
    CommandType,
    MainContract,
    PositionState,
    position_field,
)
from web_service.auth import require_csrf
from web_service.command_schemas import CommandAnswer, MainContractAnswer
from web_service.errors import VALIDATION_RESPONSES, CodedRoute, Refusal, validation_response
from web_service.services import Services, Svc
from web_service.settings import MAIN_SWITCH_WAIT_S

router = APIRouter(prefix="/api", tags=["commands"], dependencies=[Depends(require_csrf)],
                   responses=VALIDATION_RESPONSES, route_class=CodedRoute)
_switch_lock = asyncio.Lock()


class CommandRequest(BaseModel):
    """Strict: unknown fields, non-string ids and (in `params`) bools/floats/strings for numbers are refused."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Strict(), Field(max_length=64, pattern=COMMAND_ID_RE.pattern,
                                       description="made by the page when the confirmation opens")]
    type: CommandType
    params: dict[str, Any] = Field(default={}, max_length=PARAMS_MAX_KEYS, description=(
        "checked against the type's model in common/contract.py, e.g. position.close: {vt_symbol, direction,"
        " volume (JSON integer 1..1000), price_type (MARKET|LIMIT), price (finite, > 0, LIMIT only)}"))


class AiSwitchRequest(BaseModel):
    """The operator turns AI trading on or off (the command ai.switch, common.contract.AiSwitchParams)."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Strict(), Field(max_length=64, pattern=COMMAND_ID_RE.pattern,
                                       description="made by the page when the confirmation opens")]
    enabled: Annotated[bool, Strict()]
    reason: Annotated[str, Strict(), Field(max_length=200, description="why (kept in the audit and the AI state)")] = ""


class SwitchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: Annotated[str, Strict(), Field(max_length=8, pattern=r"^[a-z]{1,2}\d{4}$",
                                           description="contract code, e.g. au2706")]


async def _check_close(svc: Services, params: ClosePositionParams) -> None:
    """Refuse (409, nothing sent) a close of more than the position the core reports."""
    raw = await svc.redis.hget(svc.web.keys.positions, position_field(params.vt_symbol, params.direction))
    held = 0.0
    if raw:
        held = PositionState.model_validate_json(raw).volume
    where = {"vt_symbol": params.vt_symbol, "direction": params.direction}
    if held <= 0:
        raise Refusal(409, "no_position", f"no {params.direction} position in {params.vt_symbol} to close", **where)
    if params.volume > held:
        raise Refusal(409, "more_than_held", f"cannot close {params.volume} lots: the {params.direction} position in"
                                             f" {params.vt_symbol} is {held:g} lots",
                      volume=params.volume, held=f"{held:g}", **where)


COMMAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"model": CommandAnswer, "description": "the core refused the command (the web's own refusals, made"
                                                 " before sending, answer {detail, code, vars})"},
    503: {"model": CommandAnswer, "description": "no answer in time (`withdrawn` says whether it can still run),"
                                                 " or Redis lost after sending"},
}


# Types this endpoint does not send (422, nothing sent): each has its own checked route, or is the CLI's only.
# type -> (code, English text)
NOT_FROM_THE_BROWSER = {
    CommandType.CONTRACT_SWITCH: ("browser_switch", "switch the main contract with POST /api/main-contract"),
    CommandType.RISK_ACK: ("browser_risk_ack", "acknowledge a risk event with POST /api/risk-events/{uid}/ack"
                                               " (it checks the event first)"),
    CommandType.SYNC_APPLY: ("browser_sync", "sync.apply rewrites the records from the broker's positions: run it"
                                             " with the operator CLI on the trading host (python -m core_service.cli"
                                             " sync), not from the browser"),
    CommandType.DRILL_EXTERNAL_CLOSE: ("browser_drill", "drill.external_close is a drill of the simulated gateway for"
                                                        " the operator CLI (python -m core_service.cli drill"
                                                        " external-close), not a browser command"),
    CommandType.AI_SWITCH: ("browser_ai_switch", "switch AI trading with POST /api/ai/switch"),
    # the agent's own: sent by the MCP tools, with their tool call on record
    **{kind: ("browser_ai_tool", "the AI agent sends it through the MCP tools") for kind in AI_TOOL_COMMANDS},
}


@router.post("/commands", summary="Send a command to the core (strategy.*, position.close, order.cancel,"
             " emergency.stop, the read-only sync.check and order.diagnose) and wait for its answer",
             response_model=CommandAnswer, response_model_exclude_unset=True, responses=COMMAND_RESPONSES)
async def post_command(body: CommandRequest, svc: Svc, response: Response) -> CommandAnswer | JSONResponse:
    if body.type in NOT_FROM_THE_BROWSER:
        code, how = NOT_FROM_THE_BROWSER[body.type]
        raise Refusal(422, code, f"{body.type.value} is not sent from here, nothing sent: {how}", type=body.type.value)
    try:
        command = Command(id=body.id, type=body.type, params=body.params, source="web", operator="operator",
                          ttl_s=svc.web.config.core.command_ttl_s)
    except ValidationError as exc:
        return validation_response(exc.errors(), f"invalid {body.type.value} command, nothing sent",
                                   code="command_invalid", values={"type": body.type.value})
    if command.type == CommandType.POSITION_CLOSE:
        await _check_close(svc, command.typed_params())
    outcome = await svc.commands.send(command)
    response.status_code = outcome.http_status
    return outcome.answer


@router.post("/ai/switch", summary="Switch AI trading on or off (the command ai.switch, source web, audited by the"
             " core) and wait for the core's answer", response_model=CommandAnswer, response_model_exclude_unset=True,
             responses=COMMAND_RESPONSES)
async def post_ai_switch(body: AiSwitchRequest, svc: Svc, response: Response) -> CommandAnswer:
    command = Command(id=body.id, type=CommandType.AI_SWITCH, params={"enabled": body.enabled, "reason": body.reason},
                      source="web", operator="operator", ttl_s=svc.web.config.core.command_ttl_s)
    outcome = await svc.commands.send(command)
    response.status_code = outcome.http_status
    return outcome.answer


async def _wait_for_main(svc: Services, symbol: str) -> MainContract | None:
    deadline = svc.clock.monotonic() + MAIN_SWITCH_WAIT_S
    while svc.clock.monotonic() < deadline:
        main = await svc.live.main_contract()
        if main and main.symbol == symbol:
            return main
        await asyncio.sleep(0.25)
    return None


@router.post("/main-contract", summary="Switch the main contract: writes the config file, waits for the core",
             response_model=MainContractAnswer, responses={202: {"model": MainContractAnswer, "description": (
                 "the config file names the new contract, but the core had not switched in time")}})
async def post_main_contract(body: SwitchRequest, svc: Svc, response: Response) -> MainContractAnswer:
    known = {c.symbol for c in await svc.live.contracts()}
    if body.symbol not in known:
        raise Refusal(422, "switch_unknown", f"the gateway does not know {body.symbol}; choose one of {sorted(known)}",
                      symbol=body.symbol, known=", ".join(sorted(known)))
    if _switch_lock.locked():
        raise Refusal(409, "switch_busy", "a main-contract switch is already in progress")
    async with _switch_lock:
        current = await svc.live.main_contract()
        if current and current.symbol == body.symbol:
            return MainContractAnswer.model_validate({
                "status": "unchanged", "main_contract": current, "detail": f"{body.symbol} is already the main contract",
                "code": "switch_unchanged", "vars": {"symbol": body.symbol}})
        try:
            await asyncio.to_thread(update_main_contract_file, svc.web.config_file, body.symbol)
        except (ConfigError, OSError, ValueError) as exc:
            raise Refusal(422, "switch_config", f"the config file was not changed: {exc}", error=str(exc)) from exc
        switched = await _wait_for_main(svc, body.symbol)
    if switched:
        return MainContractAnswer.model_validate({
            "status": "switched", "main_contract": switched,
            "detail": f"the core now uses {body.symbol} as the main contract",
            "code": "switch_done", "vars": {"symbol": body.symbol}})
    response.status_code = 202
    return MainContractAnswer.model_validate({
        "status": "pending", "main_contract": current,
        "detail": f"the config file now names {body.symbol}, but the core had not switched within"
                  f" {MAIN_SWITCH_WAIT_S:g} s; is it running? Check the system events.",
        "code": "switch_pending", "vars": {"symbol": body.symbol, "s": MAIN_SWITCH_WAIT_S}})
