"""The Redis publisher: batched ticks bounded by MAXLEN, a real Redis restart survived with
publishing resumed and the live state written again, without help, and stream ids given before the
first attempt so a batch retried after a Redis hang writes no entry twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from common.config import RedisConfig
from common.contract import Keys
from core_service.redis_publisher import RedisPublisher
from tests.helpers import eventually
from tests.netproxy import TcpProxy
from tests.redis_server import PrivateRedis

KEYS = Keys("t:")


def test_ticks_are_bounded_and_latest_is_one_xrevrange(redis_client: redis.Redis, keys: Keys) -> None:
    publisher = RedisPublisher(redis_client, keys.main_contract)
    publisher.start()
    try:
        stream = keys.tick_stream("au2702")
        for i in range(5000):
            publisher.xadd(stream, {"last_price": str(900 + i * 0.02), "n": str(i)}, maxlen=1000)
        eventually(lambda: publisher.published >= 5000)
        length = redis_client.xlen(stream)
        assert 1000 <= length < 1200  # MAXLEN ~ trims in whole macro nodes
        (_, latest), = redis_client.xrevrange(stream, count=1)
        assert latest["n"] == "4999"
    finally:
        publisher.stop()


@pytest.fixture
def private(tmp_path: Path) -> Iterator[tuple[PrivateRedis, redis.Redis, RedisPublisher]]:
    """A publisher writing to a Redis server of our own, which the test may restart."""
    server = PrivateRedis(tmp_path)
    server.start()
    client = redis.Redis(port=server.port, decode_responses=True, socket_connect_timeout=0.5, socket_timeout=1)
    publisher = RedisPublisher(client, KEYS.main_contract)
    publisher.start()
    yield server, client, publisher
    publisher.stop()
    server.stop()


def test_redis_restart_is_survived(private: tuple[PrivateRedis, redis.Redis, RedisPublisher]) -> None:
    server, client, publisher = private

    publisher.set_state(KEYS.main_contract, '{"symbol": "au2702"}')
    publisher.hset_state(KEYS.positions, "au2702.SHFE|LONG", '{"volume": 2}')
    publisher.xadd(KEYS.tick_stream("au2702"), {"n": "0"}, maxlen=1000)
    eventually(lambda: client.xlen(KEYS.tick_stream("au2702")) == 1)

    server.stop()
    for i in range(1, 101):  # ticks arriving while Redis is down are held, not lost
        publisher.xadd(KEYS.tick_stream("au2702"), {"n": str(i)}, maxlen=1000)
    eventually(lambda: not publisher.ok, what="publisher notices Redis is down")
    server.start()  # empty: this Redis keeps nothing on disk

    eventually(lambda: client.get(KEYS.main_contract) == '{"symbol": "au2702"}', timeout=15,
               what="live state written again")
    assert client.hget(KEYS.positions, "au2702.SHFE|LONG") == '{"volume": 2}'
    eventually(lambda: client.xlen(KEYS.tick_stream("au2702")) == 100, timeout=15)
    assert publisher.ok and publisher.dropped_ticks == 0
    publisher.xadd(KEYS.tick_stream("au2702"), {"n": "after"}, maxlen=1000)
    eventually(lambda: client.xrevrange(KEYS.tick_stream("au2702"), count=1)[0][1]["n"] == "after")


def test_state_lost_by_a_quick_restart_is_noticed_and_restored(
    private: tuple[PrivateRedis, redis.Redis, RedisPublisher],
) -> None:
    server, client, publisher = private
    publisher.set_state(KEYS.main_contract, "m")
    publisher.set_state(KEYS.account, "a")
    eventually(lambda: client.get(KEYS.account) == "a")
    server.stop()
    server.start()  # no publish happened in between: only the periodic check can notice
    eventually(lambda: client.get(KEYS.account) == "a", timeout=10, what="state restored after restart")


BASE_MS = 1_900_000_000_000  # a tick time (epoch ms, 2030) above any id the test Redis holds


def tick_fields(n: int, ts_ms: int) -> dict[str, str]:
    return {"ts_ms": str(ts_ms), "n": str(n)}  # the shape of TickMessage.to_fields(), cut down


def test_stream_ids_follow_the_tick_time_and_start_again_after_a_delete(redis_client: redis.Redis,
                                                                      keys: Keys) -> None:
    stream = keys.tick_stream("au2702")
    redis_client.xadd(stream, {"n": "earlier run"}, id=f"{BASE_MS + 10_000}-0")
    publisher = RedisPublisher(redis_client, keys.main_contract)
    publisher.start()
    try:
        for n, ts in enumerate((BASE_MS, BASE_MS + 10_000, BASE_MS + 20_000, BASE_MS + 20_000, BASE_MS + 19_000)):
            publisher.xadd(stream, tick_fields(n, ts), maxlen=1000)
        eventually(lambda: redis_client.xlen(stream) == 6)
        assert [entry_id for entry_id, _ in redis_client.xrange(stream)] == [
            f"{BASE_MS + 10_000}-0",  # the earlier run's entry: the publisher starts after it
            f"{BASE_MS + 10_000}-1", f"{BASE_MS + 10_000}-2",  # not above the stream's last id
            f"{BASE_MS + 20_000}-0", f"{BASE_MS + 20_000}-1", f"{BASE_MS + 20_000}-2"]
        publisher.delete(stream)  # the main-contract rollover deletes the old stream
        publisher.xadd(stream, tick_fields(9, BASE_MS), maxlen=1000)
        eventually(lambda: redis_client.xlen(stream) == 1)
        assert redis_client.xrange(stream)[0][0] == f"{BASE_MS}-0"
    finally:
        publisher.stop()


def test_an_entry_another_writer_put_above_ours_does_not_swallow_our_next_one(redis_client: redis.Redis,
                                                                            keys: Keys) -> None:
    """The supervisor, a refused second core or a web service record system events into the same
    stream with Redis-made ids (now): the core's next event must still be written, above them."""
    publisher = RedisPublisher(redis_client, keys.main_contract)
    publisher.start()
    try:
        publisher.xadd(keys.events, {"json": "first"}, maxlen=1000, ts_ms=BASE_MS)
        eventually(lambda: redis_client.xlen(keys.events) == 1)
        redis_client.xadd(keys.events, {"json": "from the supervisor"})  # id = now, far above BASE_MS
        publisher.xadd(keys.events, {"json": "second"}, maxlen=1000, ts_ms=BASE_MS + 1)
        eventually(lambda: redis_client.xlen(keys.events) == 3, what="the core's event written, not lost")
        assert [f["json"] for _, f in redis_client.xrange(keys.events)] == ["first", "from the supervisor", "second"]
        assert publisher.already_written == 0
    finally:
        publisher.stop()


def test_a_redis_hang_duplicates_no_tick_or_event_and_loses_none(redis_cfg: RedisConfig, keys: Keys,
                                                                 redis_client: redis.Redis) -> None:
    """The XADD pipeline times out while Redis stalls, but it did execute (when the stall ends);
    the retried batch must not write the ticks and events a second time."""
    proxy = TcpProxy(redis_cfg.host, redis_cfg.port)
    client = redis.Redis(port=proxy.port, db=redis_cfg.db, decode_responses=True, socket_connect_timeout=0.5,
                         socket_timeout=0.5, retry=Retry(NoBackoff(), 1))  # redis-py retries once, then we do
    publisher = RedisPublisher(client, keys.main_contract)
    publisher.start()
    stream = keys.tick_stream("au2702")
    offered: list[str] = []

    def offer(upto: int) -> None:
        for n in range(len(offered), upto):
            publisher.xadd(stream, tick_fields(n, BASE_MS + n * 500), maxlen=10_000)
            publisher.xadd(keys.events, {"json": str(n)}, maxlen=10_000)
            offered.append(str(n))

    try:
        offer(50)
        eventually(lambda: redis_client.xlen(stream) == 50)
        proxy.hang()
        offer(200)
        eventually(lambda: not publisher.ok, timeout=15, what="the client's socket timeout fired")
        offer(250)
        proxy.resume()
        offer(300)
        publisher.xadd(keys.events, {"json": "end"}, maxlen=10_000)
        eventually(lambda: redis_client.xrevrange(keys.events, count=1)[0][1]["json"] == "end", timeout=15)
        eventually(lambda: publisher.ok and publisher.backlog == 0)
        ticks = [fields["n"] for _, fields in redis_client.xrange(stream)]
        events = [fields["json"] for _, fields in redis_client.xrange(keys.events)]
        assert ticks == offered, f"{len(ticks)} ticks in the stream for {len(offered)} offered"
        assert events == [*offered, "end"], f"{len(events)} events for {len(offered) + 1} offered"
        assert publisher.already_written > 0, "the timed-out batch did reach Redis: the retry found it there"
        assert publisher.dropped_ticks == 0 and publisher.refused == 0
    finally:
        publisher.stop()
        proxy.down()
        client.close()
