"""SHFE trading-day arithmetic, sessions and time zones.

The night session (21:00-02:30 China time) belongs to the next trading day: Friday night and the
small hours of Saturday belong to Monday. Exchange holidays come from config/shfe_holidays.json
(the operator copies them from SHFE's yearly notice): a holiday is no trading day, and there is no
night session on the eve of a holiday (the evening before a day off that is not a weekend).
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common.config import PROJECT_ROOT, ConfigError

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


HOLIDAYS_FILE = Path(os.environ.get("ARBIG_HOLIDAYS_FILE") or PROJECT_ROOT / "config" / "shfe_holidays.json")


def load_holidays(path: Path = HOLIDAYS_FILE) -> frozenset[date]:
    """The exchange's weekday holidays, from {"holidays": ["YYYY-MM-DD", ...]}; a bad file is a ConfigError."""
    if not path.exists():
        return frozenset()
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["holidays"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: expected {{\"holidays\": [\"YYYY-MM-DD\", ...]}} ({exc})") from exc
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: field 'holidays' must be a list of dates")
    days = set()
    for i, entry in enumerate(entries):
        try:
            days.add(date.fromisoformat(entry))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: field 'holidays[{i}]': {entry!r} is not a YYYY-MM-DD date") from exc
    return frozenset(days)


def _load_at_import() -> tuple[frozenset[date], ConfigError | None]:
    try:
        return load_holidays(), None
    except ConfigError as exc:
        return frozenset(), exc


HOLIDAYS, HOLIDAYS_ERROR = _load_at_import()
NO_HOLIDAYS: frozenset[date] = frozenset()


def check_holidays() -> None:
    """Start-up check for both services: a bad holiday file stops them with the entry named."""
    if HOLIDAYS_ERROR is not None:
        raise HOLIDAYS_ERROR


def next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def is_trading_date(day: date, holidays: frozenset[date] | None = None) -> bool:
    return day.weekday() < 5 and day not in (HOLIDAYS if holidays is None else holidays)


def next_trading_day(day: date, holidays: frozenset[date] | None = None) -> date:
    day += timedelta(days=1)
    while not is_trading_date(day, holidays):
        day += timedelta(days=1)
    return day


def has_night_session(day: date, holidays: frozenset[date] | None = None) -> bool:
    """Whether the evening of `day` trades: a trading day not followed by a holiday."""
    return is_trading_date(day, holidays) and next_trading_day(day, holidays) == next_weekday(day)


def to_china(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=CHINA_TZ)
    return dt.astimezone(CHINA_TZ)


def trading_day(dt: datetime) -> date:
    """The SHFE trading day that exchange time `dt` belongs to (a day off counts with the next one)."""
    local = to_china(dt)
    day, clock = local.date(), local.time()
    if clock >= NIGHT_START:
        return next_trading_day(day)
    if clock < NIGHT_END:
        return next_trading_day(day - timedelta(days=1))
    return day if is_trading_date(day) else next_trading_day(day)


def trading_day_str(dt: datetime) -> str:
    return trading_day(dt).strftime("%Y%m%d")


def in_session(dt: datetime, holidays: frozenset[date] | None = None) -> bool:
    """True when `dt` falls inside a continuous trading session of au. Without `holidays` the
    configured ones apply; NO_HOLIDAYS gives the weekend-only rule (for filters that must never drop
    a real tick because of a wrong holiday entry)."""
    local = to_china(dt)
    day, clock = local.date(), local.time()
    if clock < NIGHT_END:  # the small hours continue the previous evening's night session
        return clock <= time(2, 30) and has_night_session(day - timedelta(days=1), holidays)
    if clock >= NIGHT_START:
        return clock >= time(21, 0) and has_night_session(day, holidays)
    return is_trading_date(day, holidays) and any(start <= clock <= end for start, end in SESSIONS[:3])


def utc_naive_ms(dt: datetime) -> datetime:
    """A naive UTC datetime with millisecond precision, as stored in MySQL DATETIME(3)."""
    utc = to_china(dt).astimezone(UTC).replace(tzinfo=None)
    return utc.replace(microsecond=(utc.microsecond // 1000) * 1000)
