"""Session state of au at each boundary: day sessions, breaks, evening, night session, weekend, holidays."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.trading_calendar import CHINA_TZ, NO_HOLIDAYS
from common.trading_sessions import order_refusal, session_state

# 2026-11-19 is a Thursday, 11-20 Friday, 11-21/22 the weekend, 11-23 Monday.
NATIONAL_DAY = frozenset(date(2026, 10, d) for d in range(1, 8))  # Thursday 1st .. Wednesday 7th


def cn(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=CHINA_TZ)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    ("at", "state", "reason", "closes", "next_open"),
    [
        (cn(2026, 11, 19, 8, 59, 59), "closed", "night session ended", None, cn(2026, 11, 19, 9)),
        (cn(2026, 11, 19, 9), "open", "", cn(2026, 11, 19, 10, 15), None),
        (cn(2026, 11, 19, 10, 14, 59), "open", "", cn(2026, 11, 19, 10, 15), None),
        (cn(2026, 11, 19, 10, 15), "break", "morning break", None, cn(2026, 11, 19, 10, 30)),
        (cn(2026, 11, 19, 10, 30), "open", "", cn(2026, 11, 19, 11, 30), None),
        (cn(2026, 11, 19, 11, 30), "break", "lunch break", None, cn(2026, 11, 19, 13, 30)),
        (cn(2026, 11, 19, 13, 29, 59), "break", "lunch break", None, cn(2026, 11, 19, 13, 30)),
        (cn(2026, 11, 19, 13, 30), "open", "", cn(2026, 11, 19, 15), None),
        (cn(2026, 11, 19, 15), "closed", "day session ended", None, cn(2026, 11, 19, 21)),
        (cn(2026, 11, 19, 20, 59, 59), "closed", "day session ended", None, cn(2026, 11, 19, 21)),
        (cn(2026, 11, 19, 21), "open", "", cn(2026, 11, 20, 2, 30), None),
        (cn(2026, 11, 20, 0, 0), "open", "", cn(2026, 11, 20, 2, 30), None),
        (cn(2026, 11, 20, 2, 29, 59), "open", "", cn(2026, 11, 20, 2, 30), None),
        (cn(2026, 11, 20, 2, 30), "closed", "night session ended", None, cn(2026, 11, 20, 9)),
    ],
)
def test_each_boundary_of_a_weekday(at: datetime, state: str, reason: str, closes: datetime | None,
                                    next_open: datetime | None) -> None:
    got = session_state(at, "shfe", NO_HOLIDAYS)
    assert (got.mode, got.state, got.reason) == ("shfe", state, reason)
    assert got.closes_ms == (ms(closes) if closes else None)
    assert got.next_open_ms == (ms(next_open) if next_open else None)


@pytest.mark.parametrize(
    ("at", "state", "reason", "next_open"),
    [
        (cn(2026, 11, 20, 21), "open", "", None),  # Friday night: Monday trades
        (cn(2026, 11, 21, 2, 29), "open", "", None),  # Saturday small hours continue it
        (cn(2026, 11, 21, 2, 30), "closed", "weekend", cn(2026, 11, 23, 9)),
        (cn(2026, 11, 21, 10), "closed", "weekend", cn(2026, 11, 23, 9)),
        (cn(2026, 11, 21, 21, 30), "closed", "weekend", cn(2026, 11, 23, 9)),
        (cn(2026, 11, 22, 1), "closed", "weekend", cn(2026, 11, 23, 9)),
        (cn(2026, 11, 22, 22), "closed", "weekend", cn(2026, 11, 23, 9)),
        (cn(2026, 11, 23, 1), "closed", "before the day session", cn(2026, 11, 23, 9)),  # no Sunday night
        (cn(2026, 11, 23, 8, 59), "closed", "before the day session", cn(2026, 11, 23, 9)),
        (cn(2026, 11, 23, 9), "open", "", None),
    ],
)
def test_friday_night_and_the_weekend(at: datetime, state: str, reason: str, next_open: datetime | None) -> None:
    got = session_state(at, "shfe", NO_HOLIDAYS)
    assert (got.state, got.reason) == (state, reason)
    assert got.next_open_ms == (ms(next_open) if next_open else None)
    if state == "open" and at.weekday() >= 4:
        assert got.closes_ms == ms(cn(2026, 11, 21, 2, 30))


@pytest.mark.parametrize(
    ("at", "state", "reason"),
    [
        (cn(2026, 9, 30, 14), "open", ""),  # the eve's day session trades
        (cn(2026, 9, 30, 15, 30), "closed", "day session ended"),
        (cn(2026, 9, 30, 21), "closed", "no night session before holiday 2026-10-01"),
        (cn(2026, 10, 1, 1), "closed", "no night session before holiday 2026-10-01"),
        (cn(2026, 10, 1, 10), "closed", "holiday 2026-10-01"),
        (cn(2026, 10, 3, 10), "closed", "weekend"),
        (cn(2026, 10, 7, 21), "closed", "holiday 2026-10-07"),
        (cn(2026, 10, 8, 1), "closed", "before the day session"),
        (cn(2026, 10, 8, 9), "open", ""),
        (cn(2026, 10, 8, 21), "open", ""),
    ],
)
def test_holiday_eve_has_no_night_session(at: datetime, state: str, reason: str) -> None:
    got = session_state(at, "shfe", NATIONAL_DAY)
    assert (got.state, got.reason) == (state, reason)
    if state == "closed" and at < cn(2026, 10, 8, 0):
        assert got.next_open_ms == ms(cn(2026, 10, 8, 9)), "the day after the holiday opens at 09:00"


def test_friday_before_a_monday_holiday_has_no_night_session() -> None:
    holidays = frozenset({date(2026, 11, 23)})
    got = session_state(cn(2026, 11, 20, 21, 30), "shfe", holidays)
    assert (got.state, got.reason) == ("closed", "no night session before holiday 2026-11-23")
    assert got.next_open_ms == ms(cn(2026, 11, 24, 9))
    assert session_state(cn(2026, 11, 21, 1), "shfe", holidays).state == "closed"


def test_always_mode_is_open_around_the_clock() -> None:
    for hours in range(0, 24 * 7, 5):
        got = session_state(cn(2026, 11, 21, 0) + timedelta(hours=hours), "always", NO_HOLIDAYS)
        assert (got.mode, got.state, got.reason, got.next_open_ms, got.closes_ms) == ("always", "open", "24h demo",
                                                                                     None, None)


def test_naive_times_are_china_time_and_other_zones_are_converted() -> None:
    assert session_state(datetime(2026, 11, 19, 9, 30), "shfe", NO_HOLIDAYS).state == "open"
    noon_china = datetime(2026, 11, 19, 4, 0, tzinfo=ZoneInfo("UTC"))
    assert session_state(noon_china, "shfe", NO_HOLIDAYS).reason == "lunch break"


def test_order_refusal_says_why_and_when() -> None:
    assert order_refusal(cn(2026, 11, 19, 9, 30), "shfe", NO_HOLIDAYS) == ""
    assert order_refusal(cn(2026, 11, 21, 10), "always", NO_HOLIDAYS) == ""
    text = order_refusal(cn(2026, 11, 21, 10), "shfe", NO_HOLIDAYS)
    assert text == ("outside the trading sessions (weekend): the market is closed, "
                    "next open 2026-11-23 09:00 China time")
    assert "in a break" in order_refusal(cn(2026, 11, 19, 12), "shfe", NO_HOLIDAYS)
    assert "lunch break" in order_refusal(cn(2026, 11, 19, 12), "shfe", NO_HOLIDAYS)


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="session mode 'nyse'"):
        session_state(cn(2026, 11, 19, 9), "nyse", NO_HOLIDAYS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a datetime"):
        session_state("2026-11-19 09:00", "shfe", NO_HOLIDAYS)  # type: ignore[arg-type]


def test_configured_holidays_apply_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from common import trading_calendar

    monkeypatch.setattr(trading_calendar, "HOLIDAYS", NATIONAL_DAY)
    assert session_state(cn(2026, 10, 1, 10), "shfe").reason == "holiday 2026-10-01"
    assert session_state(cn(2026, 10, 1, 10), "shfe", NO_HOLIDAYS).state == "open"
