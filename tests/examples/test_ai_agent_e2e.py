"""The example agent against the whole path: its MCP client -> /mcp -> the real core on the simulated
gateway. The rule is replaced by one that opens at once and then closes (the real rule needs 8 one-minute
bars): what is checked is that the agent's requests are accepted, trade, and are on record."""

from __future__ import annotations

import asyncio
from typing import Any

from vnpy.trader.constant import Direction

from examples.ai_agent import Decision, held_direction, run
from tests.helpers import eventually
from tests.web_service.test_mcp_trading import Stack, stack  # noqa: F401  (the module's core + web)


def open_then_close(market: dict[str, Any], account: dict[str, Any]) -> Decision:
    last = float(market["tick"]["last"])
    if held_direction(account, str(market["symbol"])) == "long":
        return Decision("close", "long", 60, "test: close what the first round opened", bar_ts_ms=2)
    return Decision("open", "long", 75, "test: open", stop_loss=round(last - 20, 2), take_profit=round(last + 20, 2),
                    bar_ts_ms=1)


def test_the_example_agent_opens_with_an_exit_plan_and_closes_through_mcp(stack: Stack) -> None:  # noqa: F811
    url = stack.web.base_url + "/mcp"
    first = asyncio.run(run(url, stack.token, rounds=1, interval_s=0, preview=False, rule=open_then_close))
    assert first[0]["answer"]["status"] == "ok", first
    eventually(lambda: stack.held(Direction.LONG) == 1, what="the agent's long lot")
    second = asyncio.run(run(url, stack.token, rounds=1, interval_s=0, preview=False, rule=open_then_close))
    assert second[0]["decision"] == "close" and second[0]["answer"]["status"] == "ok", second
    eventually(lambda: stack.held(Direction.LONG) == 0, what="flat again")
    rows = stack.db.query("SELECT tool, status FROM mcp_tool_calls WHERE tool = 'execute_trade'"
                          " AND client_request_id LIKE 'agent-%%' ORDER BY id")
    assert [r["status"] for r in rows][-2:] == ["ok", "ok"]
    eventually(lambda: stack.db.query("SELECT COUNT(*) AS n FROM orders WHERE confidence IN (75, 60)")[0]["n"] >= 2,
               what="the agent's orders with their confidence")
