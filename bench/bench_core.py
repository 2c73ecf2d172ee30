"""Core benchmark: ticks from the gateway into Redis Streams, and trade-to-MySQL latency.

Runs the real pieces in one process: vnpy's event engine (the core's guarded one, timed here),
the simulated SHFE gateway's `on_tick`/`on_trade` entry points, the recorder, the Redis
publisher and the MySQL writer, against the local Redis (own key prefix) and MariaDB (own
throwaway database, dropped afterwards). Prints figures; asserts nothing.

    .venv/bin/python -m bench.bench_core [--rate 5000] [--seconds 10] [--symbols 20] [--trades 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prepare_vnpy_home() -> None:
    import json
    import os

    home = Path(tempfile.mkdtemp(prefix="arbig-bench-"))
    (home / ".vntrader").mkdir()
    (home / ".vntrader" / "vt_setting.json").write_text(json.dumps({"log.console": False}), encoding="utf-8")
    os.chdir(home)


prepare_vnpy_home()

import redis  # noqa: E402
from vnpy.event import Event  # noqa: E402
from vnpy.trader.constant import Direction, Exchange, Offset  # noqa: E402
from vnpy.trader.engine import MainEngine  # noqa: E402
from vnpy.trader.object import TickData, TradeData  # noqa: E402

from common.config import MysqlConfig  # noqa: E402
from common.contract import Keys  # noqa: E402
from common.db import connect as db_connect  # noqa: E402
from common.db import migrate  # noqa: E402
from common.trading_calendar import CHINA_TZ  # noqa: E402
from core_service.guarded_events import GuardedEventEngine  # noqa: E402
from core_service.mysql_writer import MysqlWriter  # noqa: E402
from core_service.recorder import Recorder  # noqa: E402
from core_service.redis_publisher import RedisPublisher  # noqa: E402
from core_service.sim.gateway import SimGateway  # noqa: E402
from core_service.spool import Spool  # noqa: E402


class TimedEventEngine(GuardedEventEngine):
    """Measures how long each handler holds the event thread."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: dict[str, list[int]] = {}

    def _call(self, handler: Any, event: Event) -> None:
        start = time.perf_counter_ns()
        super()._call(handler, event)
        elapsed = time.perf_counter_ns() - start
        name = getattr(handler, "__qualname__", str(handler))
        self.samples.setdefault(name, []).append(elapsed)


class TimedWriter(MysqlWriter):
    """Notes when each trade's batch is committed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.committed: dict[str, int] = {}

    def _write(self, records: list[dict[str, Any]], fresh: bool = False) -> bool:
        ok = super()._write(records, fresh)
        if ok:
            now = time.perf_counter_ns()
            for record in records:
                if record["kind"] == "trade":
                    self.committed[record["tradeid"]] = now
        return ok


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def make_tick(symbol: str, n: int) -> TickData:
    price = 600.0 + (n % 50) * 0.02
    now = datetime.now(CHINA_TZ)
    return TickData(gateway_name="SIM", symbol=symbol, exchange=Exchange.SHFE, datetime=now, volume=n,
                    last_price=price, bid_price_1=price - 0.02, ask_price_1=price, bid_volume_1=5, ask_volume_1=7,
                    limit_up=640.0, limit_down=560.0, open_price=600.0, high_price=601.0, low_price=599.0,
                    localtime=now.replace(tzinfo=None))


def bench_ticks(gateway: SimGateway, recorder: Recorder, publisher: RedisPublisher, client: redis.Redis,
                keys: Keys, rate: int, seconds: float, symbols: list[str]) -> dict[str, float]:
    recorder.published_symbols.update(symbols)
    total = int(rate * seconds)
    interval = 1.0 / rate
    start = time.perf_counter()
    for n in range(total):
        gateway.on_tick(make_tick(symbols[n % len(symbols)], n))
        target = start + (n + 1) * interval
        delay = target - time.perf_counter()
        if delay > 0.0005:
            time.sleep(delay)
    produced_s = time.perf_counter() - start
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stored = sum(client.xlen(keys.tick_stream(s)) for s in symbols)
        if stored >= total:
            break
        time.sleep(0.05)
    drained_s = time.perf_counter() - start
    stored = sum(client.xlen(keys.tick_stream(s)) for s in symbols)
    return {"sent": total, "stored": stored, "lost": total - stored, "produce_s": produced_s,
            "all_in_redis_s": drained_s, "rate_offered": total / produced_s, "rate_stored": stored / drained_s,
            "dropped_by_publisher": publisher.dropped_ticks}


def bench_memory(gateway: SimGateway, recorder: Recorder, publisher: RedisPublisher, client: redis.Redis,
                 keys: Keys, maxlen: int, symbols: list[str], rounds: int = 4) -> list[tuple[int, int, int]]:
    """Redis memory while ticks far beyond MAXLEN arrive: (ticks sent, longest stream, used_memory)."""
    recorder.tick_maxlen = maxlen
    recorder.published_symbols.update(symbols)
    per_round = maxlen * len(symbols)
    samples, sent = [], 0
    for _ in range(rounds):
        for n in range(per_round):
            gateway.on_tick(make_tick(symbols[n % len(symbols)], sent + n))
        sent += per_round
        deadline = time.monotonic() + 60
        while (recorder.backlog or publisher.backlog) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        longest = max(client.xlen(keys.tick_stream(s)) for s in symbols)
        samples.append((sent, longest, int(client.info("memory")["used_memory"])))
    return samples


def bench_trades(gateway: SimGateway, writer: TimedWriter, count: int, per_s: int) -> list[float]:
    sent: dict[str, int] = {}
    for n in range(count):
        tradeid = f"B{n}"
        trade = TradeData(gateway_name="SIM", symbol="au2702", exchange=Exchange.SHFE, orderid=f"O{n}",
                          tradeid=tradeid, direction=Direction.LONG, offset=Offset.OPEN, price=600.0, volume=1,
                          datetime=datetime.now(CHINA_TZ))
        sent[tradeid] = time.perf_counter_ns()
        gateway.on_trade(trade)
        time.sleep(1.0 / per_s)
    deadline = time.monotonic() + 30
    while len(writer.committed) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [(writer.committed[t] - sent[t]) / 1e6 for t in sent if t in writer.committed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=5000, help="ticks per second offered")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--symbols", type=int, default=20, help="how many contracts the ticks spread over")
    parser.add_argument("--trades", type=int, default=1000)
    parser.add_argument("--trade-rate", type=int, default=100, help="trades per second")
    parser.add_argument("--maxlen", type=int, default=20_000, help="MAXLEN per stream for the memory check")
    args = parser.parse_args()

    mysql_cfg = MysqlConfig(database=f"arbig_bench_{uuid.uuid4().hex[:8]}")
    migrate(mysql_cfg)
    keys = Keys(f"arbig_bench:{uuid.uuid4().hex[:8]}:")
    client = redis.Redis(decode_responses=True)
    workdir = Path(tempfile.mkdtemp(prefix="arbig-bench-spool-"))
    writer = TimedWriter(lambda: db_connect(mysql_cfg), Spool(workdir / "spool.jsonl"),
                         Spool(workdir / "rejected.jsonl"))
    publisher = RedisPublisher(client, keys.main_contract)
    engine = TimedEventEngine()
    main_engine = MainEngine(engine)
    gateway = main_engine.add_gateway(SimGateway)
    symbols = [f"au{2700 + i:04d}" for i in range(args.symbols)]
    recorder = Recorder(engine, keys, publisher, writer, tick_maxlen=10_000_000, event_maxlen=100_000,
                        main_symbol=lambda: symbols[0], strategy_of_order=lambda _oid: None)
    writer.start()
    publisher.start()
    recorder.start()
    try:
        ticks = bench_ticks(gateway, recorder, publisher, client, keys, args.rate, args.seconds, symbols)
        ours = [v / 1000 for name, vals in engine.samples.items() if "Recorder" in name for v in vals]
        latencies = bench_trades(gateway, writer, args.trades, args.trade_rate)
        memory = bench_memory(gateway, recorder, publisher, client, keys, args.maxlen, [f"au29{i:02d}" for i in range(5)])
    finally:
        recorder.stop()
        publisher.stop()
        writer.stop()
        main_engine.close()
        for pattern in keys.all_patterns():
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
        with db_connect(mysql_cfg, database=None) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{mysql_cfg.database}`")
    print_report(args, ticks, ours, latencies)
    print(f"== Redis memory with MAXLEN ~{args.maxlen} per stream, 5 streams, ticks far beyond the cap:")
    for sent, longest, used in memory:
        print(f"   after {sent:>9,} ticks: longest stream {longest:>7,} entries, Redis used_memory {used / 2**20:8.1f} MiB")


def print_report(args: argparse.Namespace, ticks: dict[str, float], ours: list[float], lat: list[float]) -> None:
    print(f"== ticks into Redis Streams: {args.rate}/s offered for {args.seconds:.0f} s over {args.symbols} contracts")
    print(f"   sent {ticks['sent']}, stored {ticks['stored']}, lost {ticks['lost']}, "
          f"dropped by publisher {ticks['dropped_by_publisher']}")
    print(f"   offered rate {ticks['rate_offered']:.0f}/s; all ticks in Redis after {ticks['all_in_redis_s']:.2f} s "
          f"(sustained {ticks['rate_stored']:.0f}/s)")
    if ours:
        print(f"== our handlers on vnpy's event thread ({len(ours)} calls): p50 {statistics.median(ours):.1f} us, "
              f"p99 {pct(ours, 0.99):.1f} us, p99.9 {pct(ours, 0.999):.1f} us, max {max(ours):.1f} us, "
              f"over 1 ms: {sum(1 for v in ours if v > 1000)}")
    if lat:
        print(f"== trade -> committed in MySQL ({len(lat)} of {args.trades} trades at {args.trade_rate}/s): "
              f"p50 {statistics.median(lat):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, max {max(lat):.1f} ms")


if __name__ == "__main__":
    main()
