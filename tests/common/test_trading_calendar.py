"""SHFE trading days: the night session belongs to the next trading day."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from common import trading_calendar
from common.config import ConfigError
from common.trading_calendar import (
    CHINA_TZ,
    NO_HOLIDAYS,
    in_session,
    load_holidays,
    trading_day,
    utc_naive_ms,
)


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


NATIONAL_DAY = frozenset(date(2026, 10, d) for d in range(1, 8))  # Thursday 1st .. Wednesday 7th


@pytest.fixture
def national_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trading_calendar, "HOLIDAYS", NATIONAL_DAY)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 9, 30, 14, 0), date(2026, 9, 30)),  # the last day before the holiday
        (datetime(2026, 9, 30, 21, 30), date(2026, 10, 8)),  # holiday eve: no night session, counts with the 8th
        (datetime(2026, 10, 5, 10, 0), date(2026, 10, 8)),  # a holiday weekday counts with the next trading day
        (datetime(2026, 10, 8, 21, 30), date(2026, 10, 9)),  # the first evening after: night session again
    ],
)
def test_trading_day_across_a_holiday(national_day: None, local: datetime, expected: date) -> None:
    assert trading_day(local.replace(tzinfo=CHINA_TZ)) == expected


def test_no_sessions_on_holidays_or_their_eve(national_day: None) -> None:
    china = CHINA_TZ
    assert in_session(datetime(2026, 9, 30, 14, 0, tzinfo=china))
    assert not in_session(datetime(2026, 9, 30, 21, 30, tzinfo=china)), "no night session on a holiday eve"
    assert not in_session(datetime(2026, 10, 1, 1, 0, tzinfo=china))
    assert not in_session(datetime(2026, 10, 7, 10, 0, tzinfo=china))
    assert in_session(datetime(2026, 10, 8, 9, 30, tzinfo=china))
    assert in_session(datetime(2026, 10, 9, 1, 0, tzinfo=china)), "the 8th's night session runs past midnight"
    # the tick filter's weekend-only rule ignores holidays: a wrong entry never drops a real tick
    assert in_session(datetime(2026, 10, 7, 10, 0, tzinfo=china), NO_HOLIDAYS)
    assert in_session(datetime(2026, 9, 30, 21, 30, tzinfo=china), NO_HOLIDAYS)


def test_friday_night_runs_unless_monday_is_a_holiday() -> None:
    friday_night = datetime(2026, 11, 20, 22, 0, tzinfo=CHINA_TZ)
    assert in_session(friday_night)
    assert not in_session(friday_night, frozenset({date(2026, 11, 23)}))
    assert trading_day(friday_night) == date(2026, 11, 23)


def test_the_holiday_file_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"note": "x", "holidays": ["2027-01-01"]}), encoding="utf-8")
    assert load_holidays(good) == frozenset({date(2027, 1, 1)})
    assert load_holidays(tmp_path / "missing.json") == frozenset()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"holidays": ["2027-01-01", "2027-13-01"]}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"holidays\[1\]"):
        load_holidays(bad)
    bad.write_text(json.dumps({"holiday": []}), encoding="utf-8")
    with pytest.raises(ConfigError, match="expected"):
        load_holidays(bad)


def test_the_shipped_holiday_file_loads() -> None:
    official, _ = trading_calendar.official_holidays()
    overrides = trading_calendar.load_overrides(trading_calendar.HOLIDAYS_FILE)
    assert trading_calendar.combine(official, overrides) == trading_calendar.HOLIDAYS
