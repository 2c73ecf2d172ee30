"""The MCP endpoint of the web service (`/mcp`, Streamable HTTP, the official `mcp` SDK): five tools through which
an AI agent reads the account, the market and its own performance, and trades within limits the core holds.

- server.py: the `MCPServer`, its tools' registration, the transport's host/origin checks, and the ASGI routing
  that sends `/mcp` to it ahead of the console's login and CSRF middleware (the bearer token guards it).
- token.py: the bearer token in `<runtime dir>/mcp_token.txt` (0600), its verifier, `rotate`.
- calls.py: every tool call recorded in `mcp_tool_calls` (secrets masked) and pushed to listeners.
- tools_account.py, tools_trade.py: the account read and the two trading tools (idempotency by
  client_request_id); get_market_data and get_performance_metrics are web_service/mcp_market.py and
  web_service/ai_metrics.py.
"""
