"""Holidays from China's official calendar (chinese-calendar), the override file, and the coverage warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from common import trading_calendar
from common.config import PROJECT_ROOT, ConfigError
from common.trading_calendar import (
    Overrides,
    calendar_coverage_warning,
    combine,
    is_trading_date,
    load_overrides,
    official_holidays,
)

NATIONAL_DAY_2025 = date(2025, 10, 1)  # a Wednesday


def test_a_statutory_weekday_holiday_is_closed_via_the_package() -> None:
    assert NATIONAL_DAY_2025 not in load_overrides(trading_calendar.HOLIDAYS_FILE).closed, "not from the file"
    assert not is_trading_date(NATIONAL_DAY_2025)
    assert not is_trading_date(date(2025, 10, 8)), "the last day of the 2025 National Day break (a Wednesday)"
    assert not is_trading_date(date(2026, 2, 16)), "Spring Festival 2026, a Monday"
    assert is_trading_date(date(2025, 10, 9))
    assert is_trading_date(date(2026, 11, 19))


def test_make_up_working_days_on_weekends_do_not_trade() -> None:
    import chinese_calendar

    for weekend_workday in (date(2025, 9, 28), date(2025, 10, 11), date(2026, 2, 14)):
        assert chinese_calendar.is_workday(weekend_workday), "China works that weekend day"
        assert not is_trading_date(weekend_workday), "SHFE never trades on a weekend"


def test_the_override_file_closes_and_opens_days(tmp_path: Path) -> None:
    official, _ = official_holidays()
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps({"holidays": ["2027-01-12", "2026-11-19"], "open": ["2025-10-08"]}), encoding="utf-8")
    holidays = combine(official, load_overrides(path))
    assert not is_trading_date(date(2027, 1, 12), holidays), "a year the package has no data for"
    assert not is_trading_date(date(2026, 11, 19), holidays), "an extra closed day in a covered year"
    assert is_trading_date(date(2025, 10, 8), holidays), "'open' overrides the official calendar"
    assert not is_trading_date(NATIONAL_DAY_2025, holidays)


def test_the_override_file_is_read_at_start(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps({"holidays": ["2027-01-12"]}), encoding="utf-8")
    probe = (
        "from datetime import date; from common.trading_calendar import is_trading_date as t;"
        "print(t(date(2027, 1, 12)), t(date(2025, 10, 1)), t(date(2027, 1, 13)))"
    )
    env = {**os.environ, "ARBIG_HOLIDAYS_FILE": str(path)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False", "True"], out.stderr


def test_a_bad_open_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps({"holidays": [], "open": ["2025-10-32"]}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"open\[0\]"):
        load_overrides(path)
    path.write_text(json.dumps({"holidays": [], "open": "2025-10-08"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="'open' must be a list"):
        load_overrides(path)


def test_the_coverage_warning_names_the_years_without_data() -> None:
    _, years = official_holidays()
    far = date(years.stop + 50, 6, 1)
    warning = calendar_coverage_warning(far)
    assert warning is not None
    assert f"{far.year}, {far.year + 1}" in warning and "chinesecalendar" in warning
    assert calendar_coverage_warning(date(2025, 6, 1)) is None, "2025 and 2026 are in the package"


def test_the_override_file_covers_a_year_the_package_lacks() -> None:
    years = range(2004, 2027)  # chinesecalendar 1.11.0
    in_december = date(2026, 12, 7)
    warning = calendar_coverage_warning(in_december, years, Overrides())
    assert warning is not None and "does not cover 2027:" in warning
    listed = Overrides(closed=frozenset({date(2027, 1, 1)}))
    assert calendar_coverage_warning(in_december, years, listed) is None
    assert calendar_coverage_warning(date(2026, 1, 1), years, Overrides()) is not None, "1 Jan 2027 is ahead"
    assert "is not installed" in (calendar_coverage_warning(in_december, range(0), listed) or "")
