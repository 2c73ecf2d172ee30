"""Clear error answers, each with a stable `code` (and its `vars`) the browser translates (static/i18n_codes.js
"rc_<code>"; the English `detail` stays for logs, the CLI and tests):

- validation errors become one readable sentence plus the itemised list (the `ValidationErrorBody` every
  route publishes for 422), code "validation", each item with pydantic's error type and values (the browser
  shows "ve_<type>" per field);
- `Refusal`: an HTTPException with a code, answered as {detail, code, vars} by `CodedRoute` routes (and by
  `on_refusal` where the app registers it); elsewhere it degrades to FastAPI's {detail};
- MySQL outages become 503."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

log = logging.getLogger(__name__)
MAX_ITEMS = 20  # a body with 10,000 unknown keys gets 20 items back, not 10,000
MAX_TEXT = 240
MAX_VARS = 8
VarValue = str | int | float


class ErrorItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loc: list[str | int] = Field(description='where: ["body", "params", "volume"], ["query", "limit"] ...')
    msg: str
    type: str = Field(description="pydantic's error type, e.g. int_type, extra_forbidden, finite_number")
    vars: dict[str, VarValue] = Field(default={}, description="the values the message names (pydantic's ctx, e.g."
                                                              " {\"le\": 1000}); the browser shows ve_<type> with them")


class ValidationErrorBody(BaseModel):
    """The answer to invalid input (422): one readable sentence, and the items when validation found them."""

    model_config = ConfigDict(extra="forbid")

    detail: str = Field(description="one readable sentence (English)")
    code: str = Field(default="validation", description="stable code; the browser shows its text rc_<code>")
    vars: dict[str, VarValue] = Field(default={}, description="the values the code's text names")
    errors: list[ErrorItem] = Field(default=[], description="absent when a route refused the input as a whole")


VALIDATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorBody, "description": "Invalid input: nothing was done"},
}


# ---------------------------------------------------------------- coded refusals
class Refusal(HTTPException):
    """A refused request: English `detail` plus a stable `code` and the values its text names (`vars`)."""

    def __init__(self, status_code: int, code: str, detail: str, **values: Any) -> None:
        super().__init__(status_code, detail)
        self.code = code
        self.vars = short_vars(values)

    def body(self) -> dict[str, Any]:
        return refusal_body(str(self.detail), self.code, self.vars)


def short_vars(values: dict[str, Any]) -> dict[str, VarValue]:
    """JSON-safe, bounded values: numbers stay numbers, anything else becomes (short) text."""
    out: dict[str, VarValue] = {}
    for key, value in list(values.items())[:MAX_VARS]:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            value = str(value)
        out[str(key)[:40]] = _short(value) if isinstance(value, str) else value
    return out


def refusal_body(detail: str, code: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"detail": detail, "code": code, "vars": short_vars(values or {})}


def refusal_response(status_code: int, code: str, detail: str, **values: Any) -> JSONResponse:
    return JSONResponse(refusal_body(detail, code, values), status_code=status_code)


async def on_refusal(_request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for `Refusal` (app-wide when registered)."""
    assert isinstance(exc, Refusal)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


class CodedRoute(APIRoute):
    """A route whose `Refusal`s (raised by it or by its dependencies, e.g. require_csrf) answer with their code."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def coded(request: Request) -> Response:
            try:
                return await handler(request)
            except Refusal as exc:
                return await on_refusal(request, exc)

        return coded


# ---------------------------------------------------------------- validation errors
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


def _item(error: Any) -> ErrorItem:
    ctx = error.get("ctx") or {}
    return ErrorItem(loc=[_short(p) for p in error.get("loc", ())], msg=str(error.get("msg", "")),
                     type=str(error.get("type", "")), vars=short_vars(dict(ctx)))


def error_body(errors: list[Any], prefix: str = "invalid input", code: str = "validation",
               values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ValidationErrorBody of pydantic/FastAPI errors (inputs are never echoed back). `vars` holds
    `problems` (the English list; the browser rebuilds it from the translated items) and `values`."""
    problems = describe_errors(errors)
    return ValidationErrorBody(detail=f"{prefix}: {problems}", code=code,
                               vars=short_vars({**(values or {}), "problems": problems}),
                               errors=[_item(e) for e in errors[:MAX_ITEMS]]).model_dump()


def validation_response(errors: list[Any], prefix: str = "invalid input", code: str = "validation",
                        values: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(error_body(errors, prefix, code, values), status_code=422)


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


# Each refusal has its own error type (the browser's "ve_<type>" text).
def _digits(value: Any) -> Any:
    if isinstance(value, str) and not DIGITS_RE.match(value):
        raise PydanticCustomError("digits_only", "must be a whole number written with digits only")
    return value


def _iso(pattern: re.Pattern[str], kind: str, what: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.match(value):
            raise PydanticCustomError(kind, "must be {what}", {"what": what})
        return value
    return check


def _in_years(value: date) -> date:
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise PydanticCustomError("year_range", "must be between {low} and {high}", {"low": YEARS[0], "high": YEARS[1]})
    return value


QueryInt = Annotated[int, BeforeValidator(_digits)]
QueryDate = Annotated[date, BeforeValidator(_iso(DATE_RE, "iso_date", "a date YYYY-MM-DD")), AfterValidator(_in_years)]
QueryDatetime = Annotated[datetime, BeforeValidator(_iso(DATETIME_RE, "iso_datetime",
                                                         "an ISO 8601 time YYYY-MM-DDTHH:MM[:SS][offset]")),
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
                         "code": "mysql_down", "vars": {"error": type(exc).__name__},
                         "dependency": "mysql", "down_since_ms": since}, status_code=503)


async def on_login_required(_request: Request, exc: Exception) -> RedirectResponse:
    from web_service.auth import LoginRequired  # auth imports this module (Refusal)

    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.location, status_code=303)
