"""HTML pages (Jinja2: the system page at / and /system, the others, the AI page at /ai, the API reference at
/docs) and the login/logout routes. The AI page also shows how to connect an MCP client: the URL and where the
bearer token file is (never the token).

The login body (form or JSON) is strict: `password` and `next` only, bounded strings, each once;
anything else is a 422 that neither counts as a failed login nor checks the password."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from common.config import PROJECT_ROOT
from web_service import docs_page
from web_service.auth import CsrfSession, OptionalSession, PageSession, login_refusal, safe_next, same_origin
from web_service.errors import describe_errors, validation_response
from web_service.mcp.server import MCP_PATH
from web_service.mcp.token import token_path
from web_service.services import Services, Svc
from web_service.sessions import Session
from web_service.settings import SESSION_COOKIE, SESSION_TTL_S

log = logging.getLogger(__name__)
NEXT_MAX = 2048
templates = Jinja2Templates(directory=str(PROJECT_ROOT / "templates"))
router = APIRouter(include_in_schema=False)

PAGES = {
    "/": ("system", "system.html"),
    "/system": ("system", "system.html"),
    "/market": ("market", "market.html"),
    "/positions": ("positions", "positions.html"),
    "/account": ("account", "account.html"),
    "/strategy": ("strategy", "strategy.html"),
    "/trades": ("trades", "trades.html"),
}
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def _page_context(svc: Services, session: Session, page: str) -> dict[str, Any]:
    web = svc.web.config.web
    return {
        "page": page,
        "csrf_token": session.csrf,
        "reconnect_max_attempts": web.reconnect_max_attempts,
        "stale_after_s": web.stale_after_s,
        "command_timeout_s": web.command_timeout_s,
        "main_contract": svc.cache.main_symbol,
        "multiplier": svc.web.multiplier,
    }


def _page_route(template: str, page: str) -> Any:
    async def render(request: Request, session: PageSession, svc: Svc) -> HTMLResponse:
        return templates.TemplateResponse(request, template, _page_context(svc, session, page))

    render.__name__ = f"page_{page}"
    return render


for _path, (_page, _template) in PAGES.items():
    router.add_api_route(_path, _page_route(_template, _page), methods=["GET"], response_class=HTMLResponse)


def mcp_connection(svc: Services, request: Request) -> dict[str, str]:
    """Where an MCP client connects (this service's /mcp) and the file holding its bearer token."""
    web = svc.web.config.web
    host = (request.url.hostname or "127.0.0.1") if web.host in WILDCARD_HOSTS else web.host
    host = f"[{host}]" if ":" in host else host
    return {"mcp_url": f"http://{host}:{web.port}{MCP_PATH}", "mcp_token_file": str(token_path(svc.web.runtime_dir))}


@router.get("/ai", response_class=HTMLResponse)
async def page_ai(request: Request, session: PageSession, svc: Svc) -> HTMLResponse:
    """The AI trader: its switch and state, tool calls, orders, exit plans, performance, how to connect."""
    context = _page_context(svc, session, "ai") | mcp_connection(svc, request)
    return templates.TemplateResponse(request, "ai.html", context)


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request, session: PageSession, svc: Svc) -> HTMLResponse:
    """The API reference (web_service/docs_page.py); without a session, a redirect to the login page."""
    context = _page_context(svc, session, "docs") | {"groups": docs_page.reference(request.app.openapi())}
    return templates.TemplateResponse(request, "api_docs.html", context)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(request: Request, status: int, refusal: dict[str, Any] | None = None, next_path: str = "/",
                retry: float = 0) -> Response:
    """The login form; `refusal` ({detail, code, vars}, auth.login_refusal) is shown in the page's language."""
    headers = {"Retry-After": str(int(retry) + 1)} if retry else None
    refusal = refusal or {}
    context = {"error": refusal.get("detail", ""), "error_code": refusal.get("code", ""),
               "error_vars": refusal.get("vars", {}), "next": safe_next(next_path)}
    return templates.TemplateResponse(request, "login.html", context, status_code=status, headers=headers)


@router.get("/login")
async def login_form(
    request: Request, session: OptionalSession, next: Annotated[str, Query(max_length=NEXT_MAX)] = "/"  # noqa: A002
) -> Response:
    if session is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, 200, next_path=next)


class LoginInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, Strict(), Field(max_length=1024)] = ""
    next: Annotated[str, Strict(), Field(max_length=NEXT_MAX)] = "/"


async def _read_login(request: Request, as_json: bool) -> LoginInput:
    """The login body; raises ValidationError (a repeated field or a file upload is not a string)."""
    if as_json:
        return LoginInput.model_validate_json(await request.body())
    fields: dict[str, list[Any]] = {}
    for key, value in (await request.form()).multi_items():
        fields.setdefault(key, []).append(value)
    return LoginInput.model_validate({k: v[0] if len(v) == 1 else v for k, v in fields.items()})


def _answer(request: Request, as_json: bool, status: int, refusal: dict[str, Any], next_path: str,
            retry: float = 0) -> Response:
    if as_json:
        headers = {"Retry-After": str(int(retry) + 1)} if retry else None
        return JSONResponse(refusal, status_code=status, headers=headers)
    return _login_page(request, status, refusal, next_path, retry)


@router.post("/login")
async def login(request: Request, svc: Svc) -> Response:
    as_json = request.headers.get("content-type", "").startswith("application/json")
    try:
        body = await _read_login(request, as_json)
    except ValidationError as exc:
        if as_json:
            return validation_response(exc.errors(), "invalid login request")
        return _login_page(request, 422, login_refusal("login_invalid", problems=describe_errors(exc.errors())))
    password, next_path = body.password, body.next
    if not same_origin(request.headers):
        return _answer(request, as_json, 403, login_refusal("login_cross_origin"), next_path)
    ip = _client_ip(request)
    wait = await svc.throttle.retry_after(ip)
    if wait > 0:
        return _answer(request, as_json, 429, login_refusal("login_throttled", s=f"{wait:.0f}"), next_path, wait)
    if not password or not await asyncio.to_thread(svc.operator.verify, password):
        failures = await svc.throttle.record_failure(ip)
        log.warning("failed login from %s (%d in a row)", ip, failures)
        delay = svc.throttle.delay_for(failures)
        refusal = (login_refusal("login_wrong_password_wait", s=f"{delay:.0f}") if delay
                   else login_refusal("login_wrong_password"))
        return _answer(request, as_json, 401, refusal, next_path)
    await svc.throttle.reset(ip)
    token, session = await svc.sessions.create(ip)
    log.info("operator logged in from %s", ip)
    if as_json:
        response: Response = JSONResponse({"ok": True, "csrf_token": session.csrf})
    else:
        response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_TTL_S, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
async def logout(session: CsrfSession, svc: Svc) -> Response:
    await svc.sessions.delete(session)
    response = JSONResponse({"ok": True})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
