"""The Redis publisher: batched ticks bounded by MAXLEN, and a real Redis restart survived with
publishing resumed and the live state written again, without help."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from common.contract import Keys
from core_service.redis_publisher import RedisPublisher
from tests.helpers import eventually
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
