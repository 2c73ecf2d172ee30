"""MCP tool-call latency: the AI trader's tools over Streamable HTTP against the whole app.

Starts the whole app (`scripts/run_app.py`: core on the simulated gateway + web service, own
processes) with a throwaway config (own Redis key prefix, own MariaDB database dropped afterwards,
own runtime folder and port), reads the MCP token the web service creates, and with the official MCP
client times N calls of each tool: get_account_state, get_market_data (1m, 100 bars),
get_performance_metrics, execute_trade with preview (a dry run: the core plans the order and sends
nothing) and, with --trades, real round trips (open + close of 1 lot, marketable) on the sim.
Latency is the client's: call sent -> structured answer received (HTTP, auth, the tool, the command
round trip to the core for trades, the mcp_tool_calls write). Prints p50/p99/max per tool.
Asserts nothing.

    .venv/bin/python -m bench.bench_mcp [--calls 200] [--trades 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402
import pymysql  # noqa: E402
import redis  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from common.config import AppConfig  # noqa: E402
from common.contract import Keys  # noqa: E402

SYMBOL = "au2702"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def make_config(tmp: Path) -> tuple[AppConfig, Path]:
    tag = uuid.uuid4().hex[:8]
    config = AppConfig.model_validate({
        "market_data": {"main_contract": SYMBOL},
        "gateway": {"name": "sim", "sim": {"tick_interval_ms": 200, "base_price": 950.0}},
        "redis": {"key_prefix": f"arbig_bench_mcp:{tag}:"},
        "mysql": {"database": f"arbig_bench_mcp_{tag}"},
        "core": {"runtime_dir": str(tmp / "runtime")},
        "web": {"port": free_port()},
        "ai": {"max_lots_per_order": 1, "max_position_lots": 10, "max_orders_per_minute": 600},
    })
    path = tmp / "arbig.json"
    path.write_text(config.model_dump_json(indent=2), encoding="utf-8")
    return config, path


def start_app(config: AppConfig, path: Path) -> subprocess.Popen[bytes]:
    """The whole app; its output goes to app.log beside the config (a pipe nobody reads would fill up and
    block the services' logging)."""
    env = dict(os.environ, ARBIG_CONFIG=str(path), PYTHONPATH=str(ROOT))
    log = path.parent / "app.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "scripts.run_app"], cwd=str(ROOT), env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    token_file = Path(config.core.runtime_dir) / "mcp_token.txt"
    base = f"http://127.0.0.1:{config.web.port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the app stopped: " + log.read_text(errors="replace")[-2000:])
        try:
            if token_file.exists() and httpx2.get(base + "/healthz", timeout=2).status_code == 200:
                return proc
        except httpx2.HTTPError:
            pass
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("the app did not become healthy in 90 s")


def stop_app(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def teardown(config: AppConfig) -> None:
    conn = pymysql.connect(host=config.mysql.host, port=config.mysql.port, user=config.mysql.user, password="")
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{config.mysql.database}`")
    conn.close()
    r = redis.Redis(host=config.redis.host, port=config.redis.port, db=config.redis.db)
    for pattern in Keys(config.redis.key_prefix).all_patterns():
        found = list(r.scan_iter(match=pattern, count=1000))
        if found:
            r.delete(*found)


async def timed(client: Client, tool: str, args: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    result = await client.call_tool(tool, args)
    elapsed = (time.perf_counter() - start) * 1000
    return elapsed, dict(result.structured_content or {"error": " ".join(getattr(c, "text", "")
                                                                        for c in result.content)})


TRADE = {"direction": "long", "volume": 1, "order_type": "marketable", "confidence": 60,
         "reason": "bench: latency of a tool call"}


async def run(url: str, token: str, calls: int, trades: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("get_account_state", {}), ("get_market_data", {"timeframe": "1m", "count": 100}),
        ("get_performance_metrics", {"window": "all"}),
        ("execute_trade", {"action": "open", **TRADE, "preview": True}),
    ]
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        for tool, args in cases:
            await timed(client, tool, args)  # warm-up
            label = tool + (" (preview)" if args.get("preview") else "")
            figures[label] = [(await timed(client, tool, args))[0] for _ in range(calls)]
        last: dict[str, Any] = {}
        for _ in range(trades):  # real round trips on the sim
            for action in ("open", "close"):
                ms, last = await timed(client, "execute_trade", {"action": action, **TRADE})
                figures.setdefault("execute_trade (sent)", []).append(ms)
        if trades:
            print("last trade answer:", json.dumps(last, ensure_ascii=False, default=str)[:300])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="timed calls per read tool and preview")
    parser.add_argument("--trades", type=int, default=20, help="real open+close round trips on the sim")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arbig-bench-mcp-") as tmp:
        config, path = make_config(Path(tmp))
        proc = start_app(config, path)
        try:
            token = (Path(config.core.runtime_dir) / "mcp_token.txt").read_text(encoding="utf-8").strip()
            url = f"http://127.0.0.1:{config.web.port}/mcp"
            figures = asyncio.run(run(url, token, args.calls, args.trades))
        finally:
            stop_app(proc)
            teardown(config)
    print(f"\nMCP tool-call latency, whole app on the simulated gateway ({os.cpu_count()} cores), ms:")
    print(f"{'tool':32} {'calls':>6} {'p50':>8} {'p99':>8} {'max':>8}")
    for label, values in figures.items():
        print(f"{label:32} {len(values):6d} {pct(values, 0.5):8.2f} {pct(values, 0.99):8.2f} {max(values):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
