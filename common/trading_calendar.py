"""SHFE trading-day arithmetic, sessions and time zones.

The night session (21:00-02:30 China time) belongs to the next trading day: Friday night and the
small hours of Saturday belong to Monday. A holiday is no trading day, and there is no night session
on the eve of a holiday (the evening before a day off that is not a weekend). Weekends never trade,
not even the weekend days China declares make-up working days.

Holidays: China's statutory holidays that fall on weekdays, from the `chinese-calendar` package (the
State Council's yearly notice, updated by the package each year; SHFE closes on exactly these days),
plus config/shfe_holidays.json as the operator's override: dates under "holidays" are closed, dates
under an optional "open" trade although the package lists them. For a year the package has no data
for (it covers 2004 to the year of its release), only the override file applies, and
`calendar_coverage_warning` says so when that year is within the coming twelve months.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
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
FILE_FORMAT = '{"holidays": ["YYYY-MM-DD", ...], "open": ["YYYY-MM-DD", ...] (optional)}'


@dataclass(frozen=True)
class Overrides:
    """The override file: extra closed days and days that trade although the official calendar is off."""

    closed: frozenset[date] = frozenset()
    open: frozenset[date] = frozenset()

    @property
    def years(self) -> frozenset[int]:
        return frozenset(day.year for day in self.closed | self.open)


def _dates(path: Path, field: str, entries: object) -> frozenset[date]:
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: field '{field}' must be a list of dates")
    days = set()
    for i, entry in enumerate(entries):
        try:
            days.add(date.fromisoformat(entry))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: field '{field}[{i}]': {entry!r} is not a YYYY-MM-DD date") from exc
    return frozenset(days)


def load_overrides(path: Path = HOLIDAYS_FILE) -> Overrides:
    """The override file (FILE_FORMAT); a missing file overrides nothing, a bad one is a ConfigError."""
    if not path.exists():
        return Overrides()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        closed = data["holidays"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: expected {FILE_FORMAT} ({exc})") from exc
    return Overrides(_dates(path, "holidays", closed), _dates(path, "open", data.get("open", [])))


def load_holidays(path: Path = HOLIDAYS_FILE) -> frozenset[date]:
    """The closed days the override file lists; a bad file is a ConfigError."""
    return load_overrides(path).closed


def official_holidays() -> tuple[frozenset[date], range]:
    """China's statutory holidays on weekdays (chinese-calendar) and the years its data covers."""
    try:
        import chinese_calendar
    except ImportError:  # not installed: the override file alone, and the coverage warning says so
        return frozenset(), range(0)
    days = list(chinese_calendar.holidays)
    years = range(min(days).year, max(days).year + 1) if days else range(0)
    return frozenset(day for day in days if day.weekday() < 5), years


def combine(official: frozenset[date], overrides: Overrides) -> frozenset[date]:
    return (official | overrides.closed) - overrides.open


def _load_at_import() -> tuple[frozenset[date], range, Overrides, ConfigError | None]:
    official, years = official_holidays()
    try:
        overrides, error = load_overrides(), None
    except ConfigError as exc:
        overrides, error = Overrides(), exc
    return combine(official, overrides), years, overrides, error


HOLIDAYS, OFFICIAL_YEARS, OVERRIDES, HOLIDAYS_ERROR = _load_at_import()
NO_HOLIDAYS: frozenset[date] = frozenset()


def calendar_coverage_warning(
    today: date, official_years: range | None = None, overrides: Overrides | None = None
) -> str | None:
    """A warning when a year between `today` and one year later has neither official data nor entries
    in the override file (its weekday holidays would count as trading days); None when covered."""
    official = OFFICIAL_YEARS if official_years is None else official_years
    listed = (OVERRIDES if overrides is None else overrides).years
    try:
        horizon = today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        horizon = today + timedelta(days=365)
    missing = [year for year in range(today.year, horizon.year + 1) if year not in official and year not in listed]
    if not missing:
        return None
    names = ", ".join(str(year) for year in missing)
    where = HOLIDAYS_FILE.relative_to(PROJECT_ROOT) if HOLIDAYS_FILE.is_relative_to(PROJECT_ROOT) else HOLIDAYS_FILE.name  # /healthz needs no login
    source = f"covers {official.start}-{official.stop - 1}" if official else "is not installed"
    return (
        f"The holiday calendar does not cover {names}: the official calendar (chinese-calendar) {source} and "
        f"{HOLIDAYS_FILE.name} lists no date in {names}, so its holidays would count as trading days. "
        f"Upgrade chinesecalendar or add SHFE's {names} holidays to {where}."
    )


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
