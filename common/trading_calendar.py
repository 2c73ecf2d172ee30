"""SHFE trading-day arithmetic and time zones.

The night session (21:00-02:30 China time) belongs to the next trading day: Friday night and the
small hours of Saturday belong to Monday. Exchange holidays are not modelled (a holiday simply
has no ticks); the trading day of a holiday-eve night session is therefore the next weekday.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")

NIGHT_START = time(20, 0)  # anything from 20:00 on belongs to the next trading day
NIGHT_END = time(3, 0)  # anything before 03:00 belongs to the previous evening's night session

# Continuous trading sessions of au, China time.
SESSIONS: tuple[tuple[time, time], ...] = (
    (time(9, 0), time(10, 15)),
    (time(10, 30), time(11, 30)),
    (time(13, 30), time(15, 0)),
    (time(21, 0), time(23, 59, 59, 999999)),
    (time(0, 0), time(2, 30)),
)


def next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def to_china(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=CHINA_TZ)
    return dt.astimezone(CHINA_TZ)


def trading_day(dt: datetime) -> date:
    """The SHFE trading day that exchange time `dt` belongs to."""
    local = to_china(dt)
    day, clock = local.date(), local.time()
    if clock >= NIGHT_START:
        return next_weekday(day)
    if clock < NIGHT_END:
        return next_weekday(day - timedelta(days=1))
    if day.weekday() >= 5:  # a weekend daytime timestamp: count it with Monday
        return next_weekday(day)
    return day


def trading_day_str(dt: datetime) -> str:
    return trading_day(dt).strftime("%Y%m%d")


def in_session(dt: datetime) -> bool:
    """True when `dt` falls inside a continuous trading session of au (weekends excluded)."""
    local = to_china(dt)
    clock = local.time()
    weekday = local.weekday()
    if weekday == 6 or (weekday == 5 and clock >= NIGHT_END):
        return False
    if weekday == 5 and clock < NIGHT_END:  # Friday night session spilling into Saturday
        return clock <= time(2, 30)
    if weekday == 0 and clock < NIGHT_END:  # Monday small hours: no Sunday night session
        return False
    return any(start <= clock <= end for start, end in SESSIONS)


def utc_naive_ms(dt: datetime) -> datetime:
    """A naive UTC datetime with millisecond precision, as stored in MySQL DATETIME(3)."""
    utc = to_china(dt).astimezone(UTC).replace(tzinfo=None)
    return utc.replace(microsecond=(utc.microsecond // 1000) * 1000)
