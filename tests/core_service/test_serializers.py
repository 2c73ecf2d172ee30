"""Conversions of vnpy records: enums by name, trading day from the gateway when it gives one."""

from __future__ import annotations

from datetime import datetime

from vnpy.trader.constant import Direction, Exchange, Offset
from vnpy.trader.object import TradeData

from common.trading_calendar import CHINA_TZ
from core_service.serializers import raw_record, record_trading_day, trade_state


def trade(extra: dict | None, when: datetime) -> TradeData:
    t = TradeData(gateway_name="CTP", symbol="au2612", exchange=Exchange.SHFE, orderid="1_2_3", tradeid=" 77",
                  direction=Direction.SHORT, offset=Offset.CLOSETODAY, price=601.02, volume=1, datetime=when)
    t.extra = extra
    return t


def test_trading_day_prefers_the_gateways_own() -> None:
    friday_night = datetime(2026, 11, 20, 21, 30, tzinfo=CHINA_TZ)
    assert record_trading_day(trade({"ctp": {"TradingDay": "20261123"}}, friday_night)) == "20261123"
    assert record_trading_day(trade({"trading_day": "20261123"}, friday_night)) == "20261123"
    assert record_trading_day(trade(None, friday_night)) == "20261123"  # derived: Friday night -> Monday
    assert record_trading_day(trade({"ctp": {"TradingDay": ""}}, datetime(2026, 11, 19, 10, 0, tzinfo=CHINA_TZ))) \
        == "20261119"


def test_trade_state_and_raw_record_use_enum_names() -> None:
    t = trade({"ctp": {"TradingDay": "20261123"}}, datetime(2026, 11, 20, 21, 30, tzinfo=CHINA_TZ))
    state = trade_state(t)
    assert (state.direction, state.offset, state.trading_day) == ("SHORT", "CLOSETODAY", "20261123")
    raw = raw_record(t)
    assert raw["direction"] == "SHORT" and raw["offset"] == "CLOSETODAY" and raw["datetime"].endswith("+08:00")
