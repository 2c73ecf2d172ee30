"""Web service benchmark: tick-to-browser latency over WebSocket, and /api/trades latency.

Runs the real web service (`python -m web_service`, its own process) against the local Redis
(own key prefix) and MariaDB (own throwaway database, dropped afterwards). Prints figures;
asserts nothing.

1. Tick latency. SYNTHETIC LOAD: this script plays the core and XADDs ticks in the contract's
   shape (TickMessage.to_fields) into the main contract's stream at a fixed rate, with
   `local_ts` set just before the XADD. WebSocket clients (in separate processes, subscribed to
   `tick:<symbol>`; minimal raw-socket readers, so the client side adds little) record arrival time -
   local_ts. Reported per (rate, clients): p50/p99 and the
   share of ticks delivered (under overload the server keeps only the newest tick per client).
2. /api/trades latency with N trades in MySQL (bulk-inserted), p50/p95 over a mix of queries:
   first page, contract / direction / trading-day / time filters, deep keyset pages, 500 rows.

    .venv/bin/python -m bench.bench_web [--trades 1000000] [--seconds 5] [--quick]
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing as mp
import os
import random
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pymysql  # noqa: E402
import redis  # noqa: E402

from common.config import AppConfig, MysqlConfig, RedisConfig, WebConfig  # noqa: E402
from common.contract import Keys, TickMessage  # noqa: E402
from common.db import Database, migrate  # noqa: E402
from common.performance import report as performance_history  # noqa: E402
from common.trading_calendar import CHINA_TZ, trading_day_str  # noqa: E402
from web_service.passwords import OperatorStore  # noqa: E402

SYMBOL = "au2702"
PASSWORD = "bench-password-123"
CLIENT_PROCS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- setup / teardown


def make_config(tmp: Path) -> tuple[AppConfig, Path]:
    tag = uuid.uuid4().hex[:8]
    config = AppConfig(
        market_data={"main_contract": SYMBOL},
        redis=RedisConfig(key_prefix=f"arbig_bench:{tag}:"),
        mysql=MysqlConfig(database=f"arbig_bench_{tag}"),
        core={"runtime_dir": str(tmp / "runtime")},
        web=WebConfig(port=free_port()),
    )
    path = tmp / "arbig.json"
    path.write_text(config.model_dump_json(indent=2), encoding="utf-8")
    return config, path


def start_web(config_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, ARBIG_CONFIG=str(config_path), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "web_service"], cwd=str(ROOT), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("web service did not start: " + proc.stderr.read().decode()[-2000:])


def login(base: str) -> str:
    res = httpx.post(base + "/login", json={"password": PASSWORD}, headers={"Origin": base})
    res.raise_for_status()
    return f"arbig_session={res.cookies['arbig_session']}"


def teardown(config: AppConfig, r: redis.Redis) -> None:
    conn = pymysql.connect(host=config.mysql.host, port=config.mysql.port, user=config.mysql.user, password="")
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{config.mysql.database}`")
    conn.close()
    for pattern in Keys(config.redis.key_prefix).all_patterns():
        found = list(r.scan_iter(match=pattern, count=1000))
        if found:
            r.delete(*found)


# ---------------------------------------------------------------- tick latency


class RawClient:
    """A minimal WebSocket client on a raw socket: the bench's stand-in for a browser. It timestamps
    each frame when read and pulls local_ts out of the bytes, so the figures measure the server,
    not a Python WebSocket library juggling 50 connections in one process."""

    def __init__(self, port: int, base: str, cookie: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Origin: {base}\r\nCookie: {cookie}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"handshake refused: {head[:80]!r}")
        self.buf = head.split(b"\r\n\r\n", 1)[1]
        self.send_text(json.dumps({"op": "subscribe", "topics": [f"tick:{SYMBOL}"]}))
        self.sock.setblocking(False)

    def send_text(self, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        header = bytes([0x81, 0x80 | len(payload)]) if len(payload) < 126 else \
            bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def read(self, samples: list[float]) -> None:
        chunk = self.sock.recv(1 << 20)
        arrived = time.time()
        self.buf += chunk
        while len(self.buf) >= 2:
            size, at = self.buf[1] & 0x7F, 2
            if size == 126:
                size, at = int.from_bytes(self.buf[2:4], "big"), 4
            elif size == 127:
                size, at = int.from_bytes(self.buf[2:10], "big"), 10
            if len(self.buf) < at + size:
                return
            payload, self.buf = self.buf[at:at + size], self.buf[at + size:]
            self._frame(payload, arrived, samples)

    def _frame(self, payload: bytes, arrived: float, samples: list[float]) -> None:
        if payload.startswith(b'{"type":"update"') and b'"turnover":1.0' in payload:  # a live bench tick
            start = payload.index(b'"local_ts":') + 11
            end = payload.index(b",", start)
            samples.append(arrived - float(payload[start:end]))
        elif payload.startswith(b'{"type":"ping"'):
            self.send_text(json.dumps({"op": "pong", "t": json.loads(payload)["t"]}))


def client_proc(port: int, base: str, cookie: str, n: int, ready: Any, stop: Any, out: Any) -> None:
    clients = [RawClient(port, base, cookie) for _ in range(n)]
    selector = selectors.DefaultSelector()
    for client in clients:
        selector.register(client.sock, selectors.EVENT_READ, client)
    samples: list[float] = []
    ready.release()
    while not stop.is_set():
        for key, _ in selector.select(timeout=0.05):
            key.data.read(samples)
    for client in clients:
        client.sock.close()
    out.put(samples)


def write_ticks(r: redis.Redis, keys: Keys, rate: float, seconds: float) -> int:
    """SYNTHETIC LOAD: XADD ticks in the contract's shape at `rate` per second; returns how many."""
    stream, interval = keys.tick_stream(SYMBOL), 1.0 / rate
    start, sent, price = time.perf_counter(), 0, 600.0
    while time.perf_counter() - start < seconds:
        due = start + sent * interval
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        price = round(price + random.choice((-0.02, 0.0, 0.02)), 2)
        now = time.time()
        dt = datetime.fromtimestamp(now, tz=CHINA_TZ)
        tick = TickMessage(symbol=SYMBOL, exchange="SHFE", ts_ms=int(now * 1000), datetime=dt.isoformat(),
                           trading_day=trading_day_str(dt), local_ts=time.time(), last_price=price, volume=sent,
                           turnover=1.0, bid_price_1=price - 0.02, ask_price_1=price + 0.02, bid_volume_1=3,
                           ask_volume_1=4, limit_up=640, limit_down=560, pre_settlement=600)
        r.xadd(stream, tick.to_fields(), maxlen=20_000, approximate=True)
        sent += 1
    return sent


def tick_case(base: str, cookie: str, r: redis.Redis, keys: Keys, rate: float, clients: int,
              seconds: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    procs_n = min(CLIENT_PROCS, clients)
    ready, stop, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    port = int(base.rsplit(":", 1)[1])
    shares = [clients // procs_n + (1 if i < clients % procs_n else 0) for i in range(procs_n)]
    procs = [ctx.Process(target=client_proc, args=(port, base, cookie, n, ready, stop, out)) for n in shares]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire(timeout=60)
    time.sleep(1.0)  # let every subscription's snapshot arrive
    sent = write_ticks(r, keys, rate, seconds)
    time.sleep(1.0)
    stop.set()
    samples: list[float] = []
    for _ in procs:
        samples += out.get(timeout=60)
    for proc in procs:
        proc.join(timeout=10)
    ms = [s * 1000 for s in samples]
    return {"rate": rate, "clients": clients, "ticks": sent, "p50_ms": pct(ms, 0.50), "p99_ms": pct(ms, 0.99),
            "delivered": len(ms) / max(1, sent * clients)}


# ---------------------------------------------------------------- /api/trades


def bulk_insert_trades(db: Database, n: int) -> float:
    """N trades over ~2 years, two contracts, both directions, in 10,000-row multi-row inserts."""
    start = time.perf_counter()
    t0 = datetime(2025, 1, 2, 1, 0, tzinfo=UTC)
    step = timedelta(seconds=2 * 365 * 86400 / n)
    sql = ("INSERT INTO trades (gateway, exchange, tradeid, direction, trading_day, symbol, orderid, offset_,"
           " price, volume, strategy, ts, recorded_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)")
    batch: list[tuple[Any, ...]] = []
    for i in range(n):
        ts = t0 + step * i
        naive = ts.replace(tzinfo=None)
        batch.append(("SIM", "SHFE", f"b{i:08d}", "LONG" if i % 2 else "SHORT", trading_day_str(ts),
                      "au2702" if i % 3 else "au2706", f"o{i:08d}", "OPEN" if i % 4 < 2 else "CLOSE",
                      600 + (i % 500) * 0.02, 1 + i % 5, "au_dual_ma" if i % 7 == 0 else None, naive, naive))
        if len(batch) == 10_000:
            db.executemany(sql, batch)
            batch.clear()
    if batch:
        db.executemany(sql, batch)
    return time.perf_counter() - start


def trade_queries(http: httpx.Client) -> dict[str, list[float]]:
    days = [(datetime(2025, 3, 3) + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(0, 700, 37)]
    mix: dict[str, list[dict[str, Any]]] = {
        "first page": [{}],
        "contract": [{"symbol": "au2706"}, {"symbol": "au2702"}],
        "direction": [{"direction": "SHORT"}],
        "contract+direction": [{"symbol": "au2706", "direction": "LONG"}],
        "one trading day": [{"day_from": d, "day_to": d} for d in days],
        "30 trading days+contract": [{"day_from": d, "day_to": (datetime.strptime(d, "%Y-%m-%d") + timedelta(days=42))
                                      .strftime("%Y-%m-%d"), "symbol": "au2706"} for d in days],
        "time range": [{"time_from": f"{d}T09:00:00", "time_to": f"{d}T15:00:00"} for d in days],
        "500 rows": [{"page_size": 500}],
    }
    timings: dict[str, list[float]] = {}
    for name, variants in mix.items():
        for i in range(40):
            params = dict(variants[i % len(variants)])
            start = time.perf_counter()
            res = http.get("/api/trades", params=params)
            timings.setdefault(name, []).append((time.perf_counter() - start) * 1000)
            res.raise_for_status()
    cursor, deep = None, []
    for _ in range(60):  # follow next_cursor 60 pages deep (3,000 rows back)
        start = time.perf_counter()
        res = http.get("/api/trades", params={"cursor": cursor} if cursor else {})
        deep.append((time.perf_counter() - start) * 1000)
        cursor = res.json()["next_cursor"]
    timings["keyset pages 1-60"] = deep
    return timings


# ---------------------------------------------------------------- main


def run_ticks(args: argparse.Namespace, base: str, cookie: str, r: redis.Redis, keys: Keys) -> None:
    print("\n== tick -> WebSocket client latency (SYNTHETIC ticks XADDed by this script; local_ts -> arrival)")
    print(f"{'ticks/s':>8} {'clients':>8} {'ticks':>7} {'p50 ms':>8} {'p99 ms':>8} {'delivered':>10}")
    rates = (2, 100) if args.quick else (2, 100, 1000)
    for rate in rates:
        for clients in (1, 10, 100):
            seconds = max(args.seconds, 10.0) if rate == 2 else args.seconds
            row = tick_case(base, cookie, r, keys, rate, clients, seconds)
            print(f"{row['rate']:>8} {row['clients']:>8} {row['ticks']:>7} {row['p50_ms']:>8.2f} "
                  f"{row['p99_ms']:>8.2f} {row['delivered']:>9.1%}", flush=True)


def run_trades(args: argparse.Namespace, config: AppConfig, base: str, cookie: str) -> None:
    db = Database(config.mysql)
    print(f"\n== /api/trades with {args.trades:,} trades in MySQL (bulk insert into a throwaway database)")
    took = bulk_insert_trades(db, args.trades)
    db.execute("ANALYZE TABLE trades")
    db.close()
    print(f"inserted in {took:.1f} s")
    with httpx.Client(base_url=base, headers={"Cookie": cookie}, timeout=30) as http:
        http.get("/api/trades")  # warm the pool
        timings = trade_queries(http)
    everything = [t for values in timings.values() for t in values]
    print(f"{'query':<26} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, values in timings.items():
        print(f"{name:<26} {len(values):>4} {pct(values, .5):>8.2f} {pct(values, .95):>8.2f} {max(values):>8.2f}")
    print(f"{'ALL':<26} {len(everything):>4} {pct(everything, .5):>8.2f} {pct(everything, .95):>8.2f} "
          f"{max(everything):>8.2f}")
    run_performance(base, cookie, config)


def run_performance(base: str, cookie: str, config: AppConfig, repeat: int = 5) -> None:
    """/api/performance matches fills from the start of the records (capped): the first read loads them
    all, later reads fetch only the trades recorded since."""
    print("\n== /api/performance over the same trades (fills matched from the newest "
          f"{performance_history.MAX_FILLS:,}; the web service keeps the matching between reads)")
    db = Database(config.mysql)
    with httpx.Client(base_url=base, headers={"Cookie": cookie}, timeout=120) as http:
        def timed(name: str) -> tuple[float, dict[str, Any]]:
            start = time.perf_counter()
            res = http.get("/api/performance", params={"range": name})
            res.raise_for_status()
            return (time.perf_counter() - start) * 1000, res.json()

        cold, body = timed("all")
        print(f"first read (loads {body['fills_considered']:,} fills): {cold:.0f} ms")
        print(f"{'range':<10} {'n':>4} {'p50 ms':>8} {'max ms':>8} {'closed':>8}")
        for name in ("today", "week", "month", "all"):
            runs = [timed(name) for _ in range(repeat)]
            took = [t for t, _ in runs]
            print(f"{name:<10} {repeat:>4} {pct(took, .5):>8.1f} {max(took):>8.1f} "
                  f"{runs[-1][1]['trades']['closed_trades']:>8}", flush=True)
        after = []
        newest = db.query("SELECT MAX(ts) AS ts FROM trades")[0]["ts"]  # the bulk data runs into the future
        for i in range(repeat):  # a fill arrives (later than every recorded one), the panel re-reads
            now = newest + timedelta(seconds=i + 1)
            db.execute("INSERT INTO trades (gateway, exchange, tradeid, direction, trading_day, symbol, orderid,"
                       " offset_, price, volume, ts, recorded_at) VALUES ('SIM','SHFE',%s,'LONG',%s,'au2702',%s,"
                       "'OPEN',600,1,%s,%s)", (f"new{i}", trading_day_str(now.replace(tzinfo=UTC)), f"onew{i}", now, now))
            after.append(timed("today")[0])
        print(f"after each new trade (today): p50 {pct(after, .5):.1f} ms, max {max(after):.1f} ms")
    db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per tick-rate case (2/s: at least 10)")
    parser.add_argument("--quick", action="store_true", help="skip 1000 ticks/s")
    parser.add_argument("--no-ticks", action="store_true", help="only the MySQL history part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arbig-bench-web-") as tmp:
        config, path = make_config(Path(tmp))
        r = redis.Redis(host=config.redis.host, port=config.redis.port, db=config.redis.db, decode_responses=True)
        migrate(config.mysql)
        db = Database(config.mysql)
        OperatorStore(db).set_password(PASSWORD)
        db.close()
        proc = start_web(path, config.web.port)
        try:
            base = f"http://127.0.0.1:{config.web.port}"
            cookie = login(base)
            print(f"web service pid {proc.pid} on {base}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
            if not args.no_ticks:
                run_ticks(args, base, cookie, r, Keys(config.redis.key_prefix))
            run_trades(args, config, base, cookie)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            teardown(config, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
