"""SHFE trading days: the night session belongs to the next trading day."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from common.trading_calendar import CHINA_TZ, in_session, trading_day, utc_naive_ms


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 11, 19, 10, 0), date(2026, 11, 19)),  # Thursday day session
        (datetime(2026, 11, 19, 21, 5), date(2026, 11, 20)),  # Thursday night -> Friday
        (datetime(2026, 11, 20, 1, 30), date(2026, 11, 20)),  # small hours of Friday -> Friday
        (datetime(2026, 11, 20, 21, 0), date(2026, 11, 23)),  # Friday night -> Monday
        (datetime(2026, 11, 21, 2, 0), date(2026, 11, 23)),  # Saturday 02:00 (Friday night) -> Monday
        (datetime(2022, 2, 18, 13, 45), date(2022, 2, 18)),
    ],
)
def test_trading_day(local: datetime, expected: date) -> None:
    assert trading_day(local.replace(tzinfo=CHINA_TZ)) == expected


def test_sessions() -> None:
    assert in_session(datetime(2026, 11, 19, 9, 30, tzinfo=CHINA_TZ))
    assert not in_session(datetime(2026, 11, 19, 10, 20, tzinfo=CHINA_TZ))  # morning break
    assert not in_session(datetime(2026, 11, 19, 12, 0, tzinfo=CHINA_TZ))  # lunch
    assert in_session(datetime(2026, 11, 21, 2, 0, tzinfo=CHINA_TZ))  # Friday night, Saturday 02:00
    assert not in_session(datetime(2026, 11, 21, 10, 0, tzinfo=CHINA_TZ))  # Saturday
    assert not in_session(datetime(2026, 11, 23, 1, 0, tzinfo=CHINA_TZ))  # Monday 01:00: no Sunday night


def test_utc_storage_keeps_milliseconds() -> None:
    local = datetime(2026, 11, 19, 21, 0, 0, 123456, tzinfo=CHINA_TZ)
    assert utc_naive_ms(local) == datetime(2026, 11, 19, 13, 0, 0, 123000)
