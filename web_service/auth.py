"""Login checks and CSRF protection, as FastAPI dependencies.

- Every page and API route depends on a session (cookie token -> Redis). Pages without one
  redirect to /login; API routes answer 401.
- Every state-changing route depends on `require_csrf`: the request's Origin (or, without one,
  its Referer) must be this app's own origin, and the X-CSRF-Token header must equal the
  session's CSRF token (which the page gets in a <meta> tag). Otherwise 403, nothing changes.
- `OriginGuard` applies the Origin/Referer rule to every non-GET request before anything else runs.
- The WebSocket handshake checks Origin and the session cookie the same way.
- Sessions live in Redis: with Redis down or hung a session lookup raises within the client's socket
  timeout, and the app answers 503 naming Redis (web_service.dependency_errors), never 500.
- Every refusal here carries a stable code the browser translates (web_service.errors.Refusal): cross_origin,
  csrf, session_expired, and the login page's login_* codes (LOGIN_REFUSALS).
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, WebSocket
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from web_service.dependency_errors import REDIS_ERRORS
from web_service.errors import Refusal, refusal_body
from web_service.services import Services, Svc
from web_service.sessions import Session
from web_service.settings import SESSION_COOKIE

log = logging.getLogger(__name__)
CSRF_HEADER = "X-CSRF-Token"
CROSS_ORIGIN = "cross-origin request refused: Origin/Referer is not this app"

# The login form's refusals: code -> English text ({names} are the code's vars). The login page shows the
# code's text in the operator's language (static/login.js, i18n "rc_<code>").
LOGIN_REFUSALS = {
    "login_invalid": "invalid login form: {problems}",
    "login_cross_origin": "cross-origin login refused",
    "login_throttled": "too many failed logins: wait {s} s",
    "login_wrong_password": "wrong password",
    "login_wrong_password_wait": "wrong password; next attempt allowed in {s} s",
}


def login_refusal(code: str, **values: str | int) -> dict[str, object]:
    """{detail, code, vars} of a login refusal (the JSON answer; the page's `error`, `error_code`, `error_vars`)."""
    return refusal_body(LOGIN_REFUSALS[code].format(**values), code, values)


class LoginRequired(Exception):
    """A page was asked for without a session: the app answers with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path

    @property
    def location(self) -> str:
        return "/login?next=" + quote(self.next_path, safe="/")


def own_host(headers: Headers) -> str | None:
    host = headers.get("host")
    return host.lower() if host else None


def request_origin_host(headers: Headers) -> str | None:
    """host[:port] of the Origin header, or of the Referer when there is no Origin."""
    for value in (headers.get("origin"), headers.get("referer")):
        if value and value != "null":
            parts = urlsplit(value)
            if parts.scheme in ("http", "https") and parts.netloc:
                return parts.netloc.lower()
            return None
    return None


def same_origin(headers: Headers) -> bool:
    """The request comes from a page of this app: its Origin (or Referer) names the host:port it was
    sent to. (The scheme is not compared: one port serves one scheme, and behind a TLS proxy the app
    itself sees http.)"""
    expected = own_host(headers)
    return expected is not None and request_origin_host(headers) == expected


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class OriginGuard:
    """Pure ASGI middleware: any state-changing HTTP request from another origin gets 403 before its
    body is even read (so a cross-site form post is refused the same way as a cross-site fetch)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        unsafe = scope["type"] == "http" and scope["method"] not in SAFE_METHODS
        if unsafe and not same_origin(Headers(scope=scope)):
            response = JSONResponse(refusal_body(CROSS_ORIGIN, "cross_origin"), status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def optional_session(request: Request, svc: Svc) -> Session | None:
    return await svc.sessions.get(request.cookies.get(SESSION_COOKIE))


OptionalSession = Annotated[Session | None, Depends(optional_session)]


async def require_session(session: OptionalSession) -> Session:
    """For API routes: 401 without a valid session."""
    if session is None:
        raise Refusal(401, "session_expired", "login required: POST /login first (session missing or expired)")
    return session


LoggedIn = Annotated[Session, Depends(require_session)]


async def require_page_session(request: Request, session: OptionalSession) -> Session:
    """For HTML pages: redirect to /login without a valid session."""
    if session is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    return session


async def require_csrf(request: Request, session: LoggedIn) -> Session:
    """For state-changing routes: same-origin request carrying the session's CSRF token, else 403."""
    if not same_origin(request.headers):
        raise Refusal(403, "cross_origin", CROSS_ORIGIN)
    if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
        raise Refusal(403, "csrf", f"missing or wrong {CSRF_HEADER} header; reload the page")
    return session


PageSession = Annotated[Session, Depends(require_page_session)]
CsrfSession = Annotated[Session, Depends(require_csrf)]


async def websocket_session(websocket: WebSocket, svc: Services) -> Session | None:
    """The session of a WebSocket handshake, or None when its Origin or cookie is not acceptable, or when
    Redis cannot tell (the page then asks /api/session, gets 503 naming Redis, and retries later)."""
    if not same_origin(websocket.headers):
        return None
    try:
        return await svc.sessions.get(websocket.cookies.get(SESSION_COOKIE))
    except REDIS_ERRORS as exc:
        log.info("WebSocket handshake refused: Redis unreachable (%s)", type(exc).__name__)
        return None


def safe_next(path: str | None) -> str:
    """Only local paths are followed after login (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
