"""Clear error answers: validation errors become one readable sentence plus the itemised list
(the `ValidationErrorBody` every route publishes for 422); MySQL outages become 503."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from web_service.auth import LoginRequired

log = logging.getLogger(__name__)
MAX_ITEMS = 20  # a body with 10,000 unknown keys gets 20 items back, not 10,000
MAX_TEXT = 240


class ErrorItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loc: list[str | int] = Field(description='where: ["body", "params", "volume"], ["query", "limit"] ...')
    msg: str
    type: str = Field(description="pydantic's error type, e.g. int_type, extra_forbidden, finite_number")


class ValidationErrorBody(BaseModel):
    """The answer to invalid input (422): one readable sentence, and the items when validation found them."""

    model_config = ConfigDict(extra="forbid")

    detail: str = Field(description="one readable sentence; shown to the operator as it is")
    errors: list[ErrorItem] = Field(default=[], description="absent when a route refused the input as a whole")


VALIDATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorBody, "description": "Invalid input: nothing was done"},
}


def _short(value: Any) -> str | int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def describe_errors(errors: list[Any]) -> str:
    parts = []
    for item in errors[:5]:
        loc = [_short(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(str(p) for p in loc) or "input"
        parts.append(f"{where}: {_short(item.get('msg', 'invalid'))}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return ("; ".join(parts) or "invalid input") + more


def error_body(errors: list[Any], prefix: str = "invalid input") -> dict[str, Any]:
    """The ValidationErrorBody of pydantic/FastAPI errors (inputs are never echoed back)."""
    items = [ErrorItem(loc=[_short(p) for p in e.get("loc", ())], msg=str(e.get("msg", "")), type=str(e.get("type", "")))
             for e in errors[:MAX_ITEMS]]
    return ValidationErrorBody(detail=f"{prefix}: {describe_errors(errors)}", errors=items).model_dump()


def validation_response(errors: list[Any], prefix: str = "invalid input") -> JSONResponse:
    return JSONResponse(error_body(errors, prefix), status_code=422)


async def on_request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_response(list(exc.errors()))


async def on_pydantic_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    return validation_response(exc.errors())


# ---------------------------------------------------------------- strict query values
# Query values arrive as text: numbers must be plain decimal digits ("1.0", "1_000", "+1", " 1" are
# refused), dates and times must be ISO 8601 between 1990 and 2199 (no epoch numbers).
DIGITS_RE = re.compile(r"^[0-9]{1,18}$", re.ASCII)
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", re.ASCII)
DATETIME_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                         r"(Z|[+-][0-9]{2}:?[0-9]{2})?$", re.ASCII)
YEARS = (1990, 2199)


def _digits(value: Any) -> Any:
    if isinstance(value, str) and not DIGITS_RE.match(value):
        raise ValueError("must be a whole number written with digits only")
    return value


def _iso(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.match(value):
            raise ValueError(f"must be {what}")
        return value
    return check


def _in_years(value: date) -> date:
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ValueError(f"must be between {YEARS[0]} and {YEARS[1]}")
    return value


QueryInt = Annotated[int, BeforeValidator(_digits)]
QueryDate = Annotated[date, BeforeValidator(_iso(DATE_RE, "a date YYYY-MM-DD")), AfterValidator(_in_years)]
QueryDatetime = Annotated[datetime, BeforeValidator(_iso(DATETIME_RE, "an ISO 8601 time YYYY-MM-DDTHH:MM[:SS][offset]")),
                          AfterValidator(_in_years)]


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


_declared: dict[str, frozenset[str]] = {}  # route.unique_id -> its query parameter names (fixed by the code)


def _declared_query(route: APIRoute) -> frozenset[str]:
    names = _declared.get(route.unique_id)
    if names is None:
        names = _declared[route.unique_id] = frozenset(_query_names(route.dependant))
    return names


def refuse_unknown_query(request: Request) -> None:
    """Router dependency: a query parameter the route does not declare, or one given twice, is a 422
    (a typo such as `?page_sise=10` must not silently mean the default)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _declared_query(route)
    problems = []
    for name in dict.fromkeys(request.query_params.keys()):
        if name not in declared:
            problems.append({"type": "extra_forbidden", "loc": ("query", name), "msg": "Extra inputs are not permitted"})
        elif len(request.query_params.getlist(name)) > 1:
            problems.append({"type": "too_many", "loc": ("query", name), "msg": "given more than once"})
    if problems:
        raise RequestValidationError(problems)


async def on_mysql_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("MySQL error: %s: %s", type(exc).__name__, exc)
    services = getattr(request.app.state, "services", None)
    since = getattr(getattr(services, "db", None), "down_since_ms", None)
    return JSONResponse({"detail": f"MySQL is unavailable ({type(exc).__name__}); history cannot be shown now."
                                   " Live data and commands do not depend on it.",
                         "dependency": "mysql", "down_since_ms": since}, status_code=503)


async def on_login_required(_request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.location, status_code=303)
