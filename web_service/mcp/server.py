"""The MCP server of the web service: `/mcp` on the web's own port, Streamable HTTP, the official SDK's `MCPServer`.

- Authentication is the SDK's: `MCPServer(token_verifier=FileTokenVerifier, auth=AuthSettings(...))` puts its
  BearerAuthBackend and RequireAuthMiddleware in front of the transport, so a request without the token (or with
  a wrong one) is answered 401 before any MCP message is read. No OAuth metadata is published
  (`resource_server_url` None): the token is given to the client by hand (web_service/mcp/token.py).
- Host/Origin checks are the SDK's TransportSecuritySettings: on a loopback-bound web only Host
  127.0.0.1/localhost/[::1] with the configured port and the same origins pass (DNS rebinding); bound elsewhere
  the bearer token is the guard (and the console's own TrustedHostMiddleware does not apply either).
- `McpRoute` sends `/mcp` (and below) to the SDK's Starlette app ahead of the console's middleware: the console's
  OriginGuard (cross-origin POSTs refused) and its session login do not apply to MCP, whose clients are not
  browsers and carry the bearer token instead. `/mcp` itself is the endpoint: no redirect.
- `ArbigMcpServer.call_tool` wraps every tool call: it gives the call its id (`CurrentCall`), turns the SDK's own
  refusals (arguments that fail the input schema, an unknown tool) into the same structured refusal the tools
  give, marks refusals and failures `isError`, and records every call (web_service/mcp/calls.py).
- The tools: get_account_state, get_market_data, get_performance_metrics (read only), execute_trade,
  update_exit_plan (they send ai.trade / ai.preview / ai.exit_plan; the operator's ai.switch is not reachable).
The app's lifespan runs `McpEndpoint.running` (token file, call log, the SDK's session manager).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, InputRequiredResult, TextContent
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from common.clock import Clock
from web_service.mcp.calls import CURRENT, STATUSES, CallLog, CurrentCall, ToolCall, compact, mask
from web_service.mcp.token import FileTokenVerifier, ensure_token, token_path
from web_service.mcp.tools import register_tools
from web_service.mcp.tools_trade import TradeDesk, problems
from web_service.services import Services
from web_service.settings import WebSettings, is_loopback

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
INSTRUCTIONS = """ARBIG trades SHFE gold futures (e.g. au2702; prices in CNY per gram, 1 lot = 1000 g, margin
a fraction of the contract value) through a broker gateway (a simulator or CTP). Read the account with
get_account_state, the market with get_market_data, your results with get_performance_metrics. Trade with
execute_trade (always with your confidence 0-100 and your reason; preview=true shows the exact orders without
sending; a client_request_id makes a retry safe) and set stop loss / take profit with update_exit_plan. The
operator holds an on/off switch and limits you cannot change (lots per order, position, orders per minute,
daily loss): a refusal says which, as {status: "refused", code, reason}. Only the main contract is traded."""


def host_header(host: str, port: int) -> str:
    bracketed = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{bracketed}:{port}"


def transport_security(host: str, port: int) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding protection for a loopback-bound web (Host and Origin must be loopback names with
    the configured port); bound to another address it is off (the bearer token guards the endpoint)."""
    if not is_loopback(host):
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    names = list(LOOPBACK_NAMES)
    own = host_header(host.strip("[]"), port).rsplit(":", 1)[0]
    if own not in names:
        names.append(own)
    hosts = [f"{name}:{port}" for name in names] + (names if port == 80 else [])
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                     allowed_origins=[f"http://{h}" for h in hosts])


def answer_result(answer: dict[str, Any], is_error: bool) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(answer, ensure_ascii=False))],
                          structured_content=answer, is_error=is_error)


class ArbigMcpServer(MCPServer[Any]):
    """MCPServer whose every tool call is identified, answered in a structured way and recorded."""

    def __init__(self, calls: CallLog, clock: Clock, **settings: Any) -> None:
        super().__init__(**settings)
        self.calls = calls
        self.clock = clock

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
                        ) -> CallToolResult | InputRequiredResult:
        call = CurrentCall(call_id=uuid.uuid4().hex, tool=name)
        started, ts_ms = self.clock.monotonic(), self.clock.now_ms()
        reset = CURRENT.set(call)
        try:
            result = await super().call_tool(name, arguments, context)
        except MCPError as exc:
            self._record(call, arguments, started, ts_ms, {"status": "failed", "code": "protocol_error",
                                                           "reason": str(exc)})
            raise
        except UnexpectedToolError as exc:
            log.error("MCP tool %s (call %s) raised", name, call.call_id, exc_info=exc.__cause__ or exc)
            result = answer_result({"status": "failed", "call_id": call.call_id, "code": "internal_error",
                                    "reason": "internal error in the tool (see the web service's log)"}, True)
        except ToolError as exc:  # arguments that fail the input schema, an unknown tool
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                said = problems(cause)
                refusal = {"code": "invalid_input", "reason": f"invalid input: {said}", "vars": {"problems": said}}
            else:
                refusal = {"code": "tool_error", "reason": str(exc), "vars": {}}
            result = answer_result({"status": "refused", "call_id": call.call_id, **refusal}, True)
        finally:
            CURRENT.reset(reset)
        if isinstance(result, CallToolResult):
            answer = result.structured_content
            status = answer.get("status") if isinstance(answer, dict) else None
            if status in ("refused", "failed") and not result.is_error:
                result = result.model_copy(update={"is_error": True})
            stored = answer if isinstance(answer, dict) else {
                "text": " ".join(c.text for c in result.content if isinstance(c, TextContent))}
            if status not in STATUSES:
                stored = {"status": "failed" if result.is_error else "ok", **stored}
            self._record(call, arguments, started, ts_ms, stored)
        return result

    def _record(self, call: CurrentCall, arguments: dict[str, Any], started: float, ts_ms: int,
                answer: dict[str, Any]) -> None:
        status = str(answer.get("status"))
        reason = call.reason if call.reason is not None else str(answer.get("reason") or answer.get("code") or "")
        self.calls.record(ToolCall(
            call_id=call.call_id, tool=call.tool, request=mask(arguments), ts_ms=ts_ms, status=status,
            reason=reason, response=compact(answer), latency_ms=round((self.clock.monotonic() - started) * 1000, 3),
            client_request_id=call.claimed_request_id))


class McpEndpoint:
    """The MCP server of one web app: build it with the app, run it in the app's lifespan."""

    def __init__(self, web: WebSettings, clock: Clock) -> None:
        self.web = web
        self.clock = clock
        self.token_file = token_path(web.runtime_dir)
        self.calls = CallLog()
        self.desk = TradeDesk(self.services, self.calls, clock)
        self._svc: Services | None = None
        cfg = web.config.web
        self.server = ArbigMcpServer(
            self.calls, clock, name="arbig", title="ARBIG AI trader", instructions=INSTRUCTIONS, version="1",
            log_level="WARNING", token_verifier=FileTokenVerifier(self.token_file),
            auth=AuthSettings(issuer_url=f"http://{host_header(cfg.host, cfg.port)}", resource_server_url=None))
        register_tools(self.server, self)
        self.asgi = self.server.streamable_http_app(
            streamable_http_path=MCP_PATH, transport_security=transport_security(cfg.host, cfg.port), host=cfg.host)

    def services(self) -> Services:
        if self._svc is None:
            raise RuntimeError("the MCP endpoint is not running")
        return self._svc

    @asynccontextmanager
    async def running(self, svc: Services) -> AsyncIterator[None]:
        """Token file (created on the first start), call log and the SDK's session manager, for the app's life."""
        try:
            ensure_token(self.token_file)
        except OSError as exc:  # the console still serves; MCP answers 401 until a token file exists
            log.error("cannot create the MCP token file %s (%s): every MCP request is refused until"
                      " `make rotate-mcp-token` writes one", self.token_file, exc)
        self._svc = svc
        self.calls.start(svc.db)
        publish = getattr(svc.hub, "publish_mcp_call", None)
        if callable(publish):
            self.calls.listen(publish)
        else:
            log.info("the console's hub has no publish_mcp_call: tool calls are recorded but not pushed")
        try:
            async with self.server.session_manager.run():
                yield
        finally:
            await self.calls.stop()
            self._svc = None


class McpRoute:
    """Pure ASGI middleware: HTTP requests for /mcp go to the MCP app, everything else to the console."""

    def __init__(self, app: ASGIApp, endpoint: ASGIApp, path: str = MCP_PATH) -> None:
        self.app = app
        self.endpoint = endpoint
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"] == self.path or scope["path"].startswith(self.path + "/")):
            await self.endpoint(scope, receive, send)
            return
        await self.app(scope, receive, send)
