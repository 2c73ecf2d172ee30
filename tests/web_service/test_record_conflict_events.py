"""A trade the core saw twice with different content is listed on the system page (the system
events API) as an ERROR, written by the core's own path: MySQL writer -> recorder -> system event."""

from __future__ import annotations

from pathlib import Path

import redis
from vnpy.event import EventEngine

from common.config import MysqlConfig
from common.contract import Keys
from core_service.recorder import Recorder
from core_service.redis_publisher import RedisPublisher
from tests.core_service.test_mysql_writer import make_writer, trade
from tests.helpers import eventually
from tests.web_service.conftest import ApiClient


def test_a_trade_conflict_is_listed_on_the_system_page(api: ApiClient, mysql_cfg: MysqlConfig, tmp_path: Path,
                                                      redis_client: redis.Redis, keys: Keys) -> None:
    writer = make_writer(mysql_cfg, tmp_path)
    publisher = RedisPublisher(redis_client, keys.main_contract)
    Recorder(EventEngine(), keys, publisher, writer, tick_maxlen=1000, event_maxlen=1000,
             main_symbol=lambda: "au2702", strategy_of_order=lambda _vt_orderid: None)
    writer.start()
    publisher.start()
    try:
        writer.put(trade("12345", price=950.00))
        writer.put(trade("12345", price=951.02))

        def listed() -> list[dict[str, object]]:
            items = api.get("/api/system/events").json()["items"]
            return [e for e in items if e["kind"] == "trade_conflict"]

        event, = eventually(listed, what="the conflict listed by /api/system/events")
        assert event["level"] == "ERROR"
        assert event["message"].startswith("trade 12345 LONG au2702 arrived again with price 951.02 (stored 950.00)")
        assert event["detail"]["differences"]["price"] == {"stored": "950.00", "received": "951.02"}
    finally:
        writer.stop()
        publisher.stop()
