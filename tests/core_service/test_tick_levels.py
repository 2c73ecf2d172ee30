"""Ticks carry the book's five levels when the gateway has them (vnpy TickData bid/ask_price/volume_1..5) and
zeros for the levels it does not send; the stream's fields round-trip them."""

from __future__ import annotations

from datetime import datetime

from vnpy.trader.constant import Exchange
from vnpy.trader.object import TickData

from common.contract import TICK_FLOAT_FIELDS, TickMessage
from common.trading_calendar import CHINA_TZ
from core_service.serializers import tick_message


def vnpy_tick(levels: int) -> TickData:
    tick = TickData(gateway_name="CTP", symbol="au2606", exchange=Exchange.SHFE,
                    datetime=datetime(2026, 3, 2, 10, 15, 3, 500_000, tzinfo=CHINA_TZ), last_price=600.0, volume=1234)
    for n in range(1, levels + 1):
        setattr(tick, f"bid_price_{n}", 600.0 - 0.02 * n)
        setattr(tick, f"ask_price_{n}", 600.0 + 0.02 * n)
        setattr(tick, f"bid_volume_{n}", 10 * n)
        setattr(tick, f"ask_volume_{n}", 10 * n + 1)
    return tick


def test_five_levels_are_carried_and_round_trip_through_the_stream_fields() -> None:
    message = tick_message(vnpy_tick(5))
    assert [message.bid_price_5, message.bid_volume_5, message.ask_price_5, message.ask_volume_5] == [599.9, 50, 600.1, 51]
    assert message.ask_price_3 == 600.06 and message.bid_volume_2 == 20 and message.bid_price_1 == 599.98
    fields = message.to_fields()
    assert fields["ask_volume_4"] == "41.0"
    assert TickMessage.from_fields(fields) == message
    assert {f"{side}_{kind}_{n}" for side in ("bid", "ask") for kind in ("price", "volume") for n in range(1, 6)} \
        <= set(TICK_FLOAT_FIELDS)


def test_a_level_one_gateway_leaves_levels_two_to_five_at_zero() -> None:
    message = tick_message(vnpy_tick(1))
    assert message.bid_price_1 == 599.98 and message.ask_volume_1 == 11
    assert all(getattr(message, f"{side}_{kind}_{n}") == 0.0
               for side in ("bid", "ask") for kind in ("price", "volume") for n in range(2, 6))
    old = {k: v for k, v in message.to_fields().items() if k[-1] not in "2345" or not k.startswith(("bid", "ask"))}
    assert TickMessage.from_fields(old) == message, "a tick recorded before the levels existed still parses"
