"""Whether SHFE gold (au) trades at a given moment: the session state shown in the header and on the
market page, and the reason the simulator refuses an order outside the sessions.

Built on common/trading_calendar.py (SESSIONS, trading dates, holidays). Sessions are half-open:
09:00 opens, 10:15:00 is already the morning break. States:
- open: inside 09:00-10:15, 10:30-11:30, 13:30-15:00 of a trading date, or the night session
  21:00-02:30 of an evening that has one (a trading day not followed by a holiday, so Friday night
  runs into Saturday's small hours when Monday trades);
- break: between two day sessions of the same date (10:15-10:30 "morning break", 11:30-13:30 "lunch break");
- closed: everything else, the reason saying which ("day session ended", "night session ended",
  "before the day session", "no night session before holiday 2026-10-01", "weekend", "holiday 2026-10-01").
Mode "always" (the simulator's 24 h demo) is always open, reason "24h demo".
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal, get_args

from common.contract.messages import SessionState
from common.trading_calendar import (
    CHINA_TZ,
    SESSIONS,
    has_night_session,
    is_trading_date,
    next_weekday,
    to_china,
)

SessionMode = Literal["always", "shfe"]
MODES: tuple[str, ...] = get_args(SessionMode)

DAY_SESSIONS: tuple[tuple[time, time], ...] = SESSIONS[:3]
NIGHT_OPEN: time = SESSIONS[3][0]  # 21:00
NIGHT_CLOSE: time = SESSIONS[4][1]  # 02:30, the next calendar day
BREAK_REASONS = ("morning break", "lunch break")  # after DAY_SESSIONS[0], after DAY_SESSIONS[1]
ALWAYS_REASON = "24h demo"
LOOKAHEAD_DAYS = 60  # no SHFE closure is longer than this

Holidays = frozenset[date] | None


def _ms(day: date, clock: time) -> int:
    return int(datetime.combine(day, clock, tzinfo=CHINA_TZ).timestamp() * 1000)


def _day_off_reason(day: date) -> str:
    """Why a calendar date that does not trade is off: a weekend, else a listed holiday."""
    return "weekend" if day.weekday() >= 5 else f"holiday {day.isoformat()}"


def next_open_ms(at: datetime, holidays: Holidays = None) -> int | None:
    """Epoch ms of the first session start strictly after `at` (None if none within LOOKAHEAD_DAYS)."""
    local = to_china(at)
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = local.date() + timedelta(days=offset)
        starts = [start for start, _ in DAY_SESSIONS] if is_trading_date(day, holidays) else []
        if has_night_session(day, holidays):
            starts.append(NIGHT_OPEN)
        for start in starts:
            moment = datetime.combine(day, start, tzinfo=CHINA_TZ)
            if moment > local:
                return int(moment.timestamp() * 1000)
    return None


def _open(closes_ms: int) -> SessionState:
    return SessionState(mode="shfe", state="open", closes_ms=closes_ms)


def _not_open(at: datetime, state: Literal["break", "closed"], reason: str, holidays: Holidays) -> SessionState:
    return SessionState(mode="shfe", state=state, reason=reason, next_open_ms=next_open_ms(at, holidays))


def _small_hours(local: datetime, holidays: Holidays) -> SessionState:
    """00:00-02:30: the previous evening's night session, if it had one."""
    day, eve = local.date(), local.date() - timedelta(days=1)
    if has_night_session(eve, holidays):
        return _open(_ms(day, NIGHT_CLOSE))
    if not is_trading_date(eve, holidays):
        reason = _day_off_reason(day) if not is_trading_date(day, holidays) else "before the day session"
        return _not_open(local, "closed", reason, holidays)
    return _not_open(local, "closed", f"no night session before holiday {next_weekday(eve).isoformat()}", holidays)


def _trading_date(local: datetime, holidays: Holidays) -> SessionState:
    """From 02:30 on, on a trading date: day sessions, breaks, evening."""
    day, clock = local.date(), local.time()
    if clock < DAY_SESSIONS[0][0]:
        eve = day - timedelta(days=1)
        reason = "night session ended" if has_night_session(eve, holidays) else "before the day session"
        return _not_open(local, "closed", reason, holidays)
    for i, (start, end) in enumerate(DAY_SESSIONS):
        if start <= clock < end:
            return _open(_ms(day, end))
        if i < len(BREAK_REASONS) and end <= clock < DAY_SESSIONS[i + 1][0]:
            return _not_open(local, "break", BREAK_REASONS[i], holidays)
    if clock < NIGHT_OPEN:
        return _not_open(local, "closed", "day session ended", holidays)
    if has_night_session(day, holidays):
        return _open(_ms(day + timedelta(days=1), NIGHT_CLOSE))
    return _not_open(local, "closed", f"no night session before holiday {next_weekday(day).isoformat()}", holidays)


def session_state(at: datetime, mode: SessionMode, holidays: Holidays = None) -> SessionState:
    """The session state at `at` (naive = China time). `holidays` None: the configured ones
    (config/shfe_holidays.json). A mode other than "always"/"shfe" is a ValueError."""
    if mode not in MODES:
        raise ValueError(f"session mode {mode!r} is not one of {', '.join(MODES)}")
    if not isinstance(at, datetime):
        raise ValueError(f"session time {at!r} is not a datetime")
    if mode == "always":
        return SessionState(mode="always", state="open", reason=ALWAYS_REASON)
    local = to_china(at)
    if local.time() < NIGHT_CLOSE:
        return _small_hours(local, holidays)
    if not is_trading_date(local.date(), holidays):
        return _not_open(local, "closed", _day_off_reason(local.date()), holidays)
    return _trading_date(local, holidays)


def _stamp(ms: int | None) -> str:
    if ms is None:
        return "unknown"
    return datetime.fromtimestamp(ms / 1000, tz=CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def order_refusal(at: datetime, mode: SessionMode, holidays: Holidays = None) -> str:
    """Why an order sent at `at` is refused by the session rule ("" when the market is open)."""
    state = session_state(at, mode, holidays)
    if state.state == "open":
        return ""
    where = "in a break" if state.state == "break" else "closed"
    return (f"outside the trading sessions ({state.reason}): the market is {where}, "
            f"next open {_stamp(state.next_open_ms)} China time")
