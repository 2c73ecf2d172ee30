"""An example AI trader: a small loop over ARBIG's MCP tools (no LLM needed).

It connects to the MCP endpoint with the bearer token, and every round:
1. reads the market (`get_market_data`, 1-minute bars with EMA20/EMA50/RSI14/ATR) and the account
   (`get_account_state`);
2. applies a documented rule (below) and, when it says so, trades through `execute_trade` with a
   confidence, a reason, an exit plan (stop loss 2 ATR away, take profit 3 ATR away) and a
   `client_request_id` naming the bar it decided on, so a restarted agent never trades the same
   decision twice;
3. prints what it saw and what the server answered (refusals included: AI switched off, a limit ...).

The rule (trend following on 1-minute bars):
- the trend is EMA20 vs EMA50 once 50 bars exist; before that (a fresh `make run`) RSI7 above 55 is up,
  below 45 down, between no trend, so the first decision comes after 8 bars (~8 minutes);
- flat and a trend (RSI14, when known, not beyond 70/30 in its direction): open 1 lot with it;
- holding against the trend: close;
- confidence = 50 + 10 x |EMA20 - EMA50| / ATR (RSI7: + |RSI7 - 50|), capped at 90;
- the exit plan's distance is 2 ATR14 (3 for the take profit); before ATR exists, the bars' mean range.
The exit plan is enforced by ARBIG's core: the agent may stop, the stop loss still holds.

Optional LLM: with ARBIG_AGENT_LLM_URL (an OpenAI-compatible /chat/completions endpoint),
ARBIG_AGENT_LLM_MODEL and ARBIG_AGENT_LLM_KEY set, the rule's decision is shown to the model, which
answers {"approve": true|false, "confidence": 0-100, "reason": "..."}; a veto skips the trade.

    .venv/bin/python -m examples.ai_agent                 # against `make run` on http://127.0.0.1:8000
    .venv/bin/python -m examples.ai_agent --rounds 5 --interval 10 --preview
Token: var/mcp_token.txt (created by the web service on its first start), or ARBIG_MCP_TOKEN.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "http://127.0.0.1:8000/mcp"
DEFAULT_TOKEN_FILE = ROOT / "var" / "mcp_token.txt"
MAX_CONFIDENCE = 90
MIN_DISTANCE = 0.1  # 5 price ticks of au


@dataclass(frozen=True)
class Decision:
    action: str  # open | close | hold
    direction: str = ""  # long | short (the position's)
    confidence: int = 0
    reason: str = ""
    stop_loss: float | None = None
    take_profit: float | None = None
    bar_ts_ms: int = 0


def held_direction(account: dict[str, Any], symbol: str) -> str:
    """'long', 'short' or '' for the agent's contract (volume > 0)."""
    for position in account.get("positions") or []:
        if position.get("symbol") in (symbol, symbol.split(".")[0]) and float(position.get("volume") or 0) > 0:
            return str(position.get("direction", "")).lower()
    return ""


def trend_of(bar: dict[str, Any]) -> tuple[str, float, str]:
    """(long | short | "", confidence, why) from the newest bar's indicators."""
    fast, slow, rsi7, atr = bar.get("ema20"), bar.get("ema50"), bar.get("rsi7"), bar.get("atr14")
    if fast is not None and slow is not None:
        edge = 10 * abs(fast - slow) / atr if atr else 0.0
        return ("long" if fast > slow else "short"), 50 + edge, f"EMA20 {fast:.2f} vs EMA50 {slow:.2f}"
    if rsi7 is None:
        return "", 0.0, ""
    trend = "long" if rsi7 > 55 else "short" if rsi7 < 45 else ""
    return trend, 50 + abs(rsi7 - 50), f"RSI7 {rsi7:.1f} (EMA50 not defined yet)"


def distance(bars: list[dict[str, Any]]) -> float:
    """The exit plan's unit: ATR14, or before it exists the mean high-low range of the last 5 bars."""
    if bars[-1].get("atr14"):
        return float(bars[-1]["atr14"])
    recent = bars[-5:]
    return max(sum(b["high"] - b["low"] for b in recent) / len(recent), MIN_DISTANCE)


def decide(market: dict[str, Any], account: dict[str, Any]) -> Decision:
    """The rule in the module's docstring, on the newest bar."""
    bars = market.get("bars") or []
    if not bars:
        return Decision("hold", reason="no bars yet")
    bar = bars[-1]
    trend, score, why = trend_of(bar)
    if not why:
        return Decision("hold", reason=f"not enough bars yet ({len(bars)}; RSI7 needs 8)")
    rsi = bar.get("rsi14")
    confidence = int(min(MAX_CONFIDENCE, score))
    why = f"{why}, RSI14 {'-' if rsi is None else f'{rsi:.1f}'}"
    held = held_direction(account, str(market.get("symbol", "")))
    if held and trend and held != trend:
        return Decision("close", held, confidence, f"trend turned {trend}: {why}", bar_ts_ms=bar["ts_ms"])
    if held or not trend:
        return Decision("hold", reason=f"{'holding ' + held if held else 'no trend'}: {why}")
    if rsi is not None and not (rsi < 70 if trend == "long" else rsi > 30):
        return Decision("hold", reason=f"RSI extreme: {why}")
    sign, unit, close = (1 if trend == "long" else -1), distance(bars), bar["close"]
    return Decision("open", trend, confidence, f"trend {trend}: {why}", stop_loss=round(close - sign * 2 * unit, 2),
                    take_profit=round(close + sign * 3 * unit, 2), bar_ts_ms=bar["ts_ms"])


def trade_arguments(decision: Decision, preview: bool) -> dict[str, Any]:
    args: dict[str, Any] = {
        "action": decision.action, "direction": decision.direction, "volume": 1, "order_type": "marketable",
        "confidence": decision.confidence, "reason": decision.reason, "preview": preview,
        "client_request_id": f"agent-{decision.bar_ts_ms}-{decision.action}-{decision.direction}",
    }
    if decision.action == "open":
        args["exit_plan"] = {"stop_loss": decision.stop_loss, "take_profit": decision.take_profit,
                             "invalidation": "the 1-minute EMA20/EMA50 cross turns against the position"}
    return args


async def llm_review(decision: Decision, market: dict[str, Any]) -> Decision:
    """Ask an OpenAI-compatible model to approve the rule's decision (only with ARBIG_AGENT_LLM_URL)."""
    url = os.environ.get("ARBIG_AGENT_LLM_URL")
    if not url or decision.action == "hold":
        return decision
    prompt = {"decision": decision.__dict__, "tick": market.get("tick"), "last_bars": (market.get("bars") or [])[-5:]}
    body = {"model": os.environ.get("ARBIG_AGENT_LLM_MODEL", ""), "messages": [
        {"role": "system", "content": "You review trades on SHFE gold futures. Answer only JSON: "
                                      '{"approve": true|false, "confidence": 0-100, "reason": "..."}'},
        {"role": "user", "content": json.dumps(prompt, default=str)}]}
    headers = {"Authorization": f"Bearer {os.environ.get('ARBIG_AGENT_LLM_KEY', '')}"}
    async with httpx2.AsyncClient(timeout=30) as http:
        answer = (await http.post(url, json=body, headers=headers)).json()
    verdict = json.loads(answer["choices"][0]["message"]["content"])
    if not verdict.get("approve"):
        return Decision("hold", reason=f"the model vetoed: {verdict.get('reason', '')}")
    return Decision(decision.action, decision.direction, int(verdict.get("confidence", decision.confidence)),
                    f"{decision.reason}; model: {verdict.get('reason', '')}"[:1000], decision.stop_loss,
                    decision.take_profit, decision.bar_ts_ms)


def structured(result: Any) -> dict[str, Any]:
    """A tool's structured answer (or its text, when the server sent an error)."""
    if result.structured_content is not None:
        return dict(result.structured_content)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    return {"status": "error" if result.is_error else "ok", "text": text}


Rule = Callable[[dict[str, Any], dict[str, Any]], Decision]


async def one_round(client: Client, preview: bool, rule: Rule = decide) -> dict[str, Any]:
    market = structured(await client.call_tool("get_market_data", {"timeframe": "1m", "count": 120}))
    account = structured(await client.call_tool("get_account_state", {}))
    decision = await llm_review(rule(market, account), market)
    outcome: dict[str, Any] = {"decision": decision.action, "reason": decision.reason}
    if decision.action != "hold":
        outcome["answer"] = structured(await client.call_tool("execute_trade", trade_arguments(decision, preview)))
    return outcome


def read_token(path: Path) -> str:
    token = os.environ.get("ARBIG_MCP_TOKEN") or (path.read_text(encoding="utf-8").strip() if path.exists() else "")
    if not token:
        raise SystemExit(f"no MCP token: set ARBIG_MCP_TOKEN or start the app once to create {path}")
    return token


async def run(url: str, token: str, rounds: int, interval_s: float, preview: bool,
              rule: Rule = decide) -> list[dict[str, Any]]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    outcomes = []
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        for i in range(rounds):
            outcome = await one_round(client, preview, rule)
            print(json.dumps({"round": i + 1, **outcome}, ensure_ascii=False, default=str), flush=True)
            outcomes.append(outcome)
            if i + 1 < rounds:
                await asyncio.sleep(interval_s)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--token-file", type=Path, default=DEFAULT_TOKEN_FILE)
    parser.add_argument("--rounds", type=int, default=30, help="decisions to make (default 30)")
    parser.add_argument("--interval", type=float, default=20.0, help="seconds between rounds (default 20)")
    parser.add_argument("--preview", action="store_true", help="dry run: execute_trade with preview=true")
    args = parser.parse_args(argv)
    asyncio.run(run(args.url, read_token(args.token_file), args.rounds, args.interval, args.preview))
    return 0


if __name__ == "__main__":
    sys.exit(main())
