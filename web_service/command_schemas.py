"""The answers of the command routes (web_service/api_commands.py), as typed models for OpenAPI.

A field that does not apply to an answer is left out of its JSON (the routes dump with exclude_unset):
a done/refused/failed answer carries the core's reply, a timeout says whether the command was withdrawn,
a lost Redis names the dependency, and a repeat of a known command id says `repeated`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.contract import MainContract

VarValue = str | int | float


class CommandAnswer(BaseModel):
    """What POST /api/commands (and the risk acknowledgement) answers: 200 done, 409 refused, 422 failed,
    503 no answer in time or Redis lost after sending."""

    model_config = ConfigDict(extra="forbid")

    command_id: str
    type: str | None = Field(default=None, description="the command's type (absent on a reused id)")
    status: Literal["done", "refused", "failed", "timeout", "redis_unreachable"]
    reason: str | None = Field(default=None, description="the core's reason (English)")
    code: str | None = Field(default=None, description="a refusal's stable code; the browser shows rc_<code>")
    vars: dict[str, VarValue] | None = Field(default=None, description="the values the code's text names")
    result: dict[str, Any] | None = Field(default=None, description="what the core did (done)")
    detail: str | None = Field(default=None, description="one readable sentence when not done (English)")
    withdrawn: bool | None = Field(default=None, description="no answer in time: True when it will never run")
    dependency: Literal["redis"] | None = None
    repeated: bool | None = Field(default=None, description="the answer to the first send of this command id")

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class MainContractAnswer(BaseModel):
    """What POST /api/main-contract answers: 200 switched or unchanged, 202 pending (the core had not switched)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["switched", "unchanged", "pending"]
    main_contract: MainContract | None
    detail: str
    code: Literal["switch_done", "switch_unchanged", "switch_pending"]
    vars: dict[str, VarValue]
