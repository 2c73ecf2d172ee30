"""Clear error answers: validation errors become one readable sentence plus the itemised list;
MySQL outages become 503 with a plain explanation."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError

from web_service.auth import LoginRequired

log = logging.getLogger(__name__)


def describe_errors(errors: list[Any]) -> str:
    parts = []
    for item in errors[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")) or "input"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid input"


def validation_response(errors: list[Any], prefix: str = "invalid input") -> JSONResponse:
    clean = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
    return JSONResponse({"detail": f"{prefix}: {describe_errors(errors)}", "errors": clean}, status_code=422)


async def on_request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_response(list(exc.errors()))


async def on_pydantic_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    return validation_response(exc.errors())


async def on_mysql_error(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("MySQL error: %s: %s", type(exc).__name__, exc)
    return JSONResponse({"detail": f"MySQL is unavailable ({type(exc).__name__}); history cannot be shown now."
                                   " Live data and commands do not depend on it."}, status_code=503)


async def on_login_required(_request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.location, status_code=303)
