"""The equity curve on the market's clock: an account_snapshots point at every fill, for every market
minute and at each session end, stamped with the market time it refers to.

The clock is `common.market_clock.MarketClock`, advanced here in the recorder's order of events: live it
runs on between ticks, so a minute with no further tick (a session's last minute, a quiet market) is
still closed a minute later; in a replay it stands still and the last minute is closed at the stop.

`EquityMarks` is fed by the recorder's dispatcher in the order vnpy dispatched the events: a tick, then
the account the gateway stated after it (the simulator restates the account after every tick while a
position is open; CTP after each query). Points written:
- fill: the first account after one or more trades, at the market time of its arrival;
- minute / session_end: when a tick of a later minute arrives (or the live clock has passed the minute),
  the account as known after the minute's last tick, at that tick's time (session_end when the exchange's
  session is over a minute later, by the SHFE calendar);
- stop: the last state when the core stops, unless that point is on record already.
A minute point identical to the fill point just written (same time, same balance) is not written twice.
Each point carries `recorded_at` (the market clock's injected `common.clock.Clock`: the wall clock live)
beside `ts` (the market time); before the first tick the market time is that clock's too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from common.contract import AccountState, new_uid
from common.market_clock import MarketClock
from common.trading_calendar import to_china, trading_day_str
from common.trading_sessions import session_state
from core_service import serializers as ser
from core_service.records import ACCOUNT_FIGURES, Put, SnapshotRecord

MINUTE = timedelta(minutes=1)
LATE_S = 2.0  # live: a minute is closed this long after it ended by the market clock


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class EquityMarks:
    """Decides when the account becomes a point of the equity curve; `put` hands the row to the writer."""

    def __init__(self, clock: MarketClock, put: Put) -> None:
        self.clock = clock
        self.put = put
        self._account: AccountState | None = None  # the latest account stated
        self._minute_tick: datetime | None = None  # the last tick of the open minute
        self._fill_pending = False
        self._last_point: tuple[datetime, float] | None = None
        self.written = 0

    def on_tick(self, at: datetime) -> None:
        at = to_china(at)
        if self._minute_tick is not None and minute_of(at) > minute_of(self._minute_tick):
            self._close_minute()
        self.clock.on_tick(at)
        if self._minute_tick is None or at >= self._minute_tick:
            self._minute_tick = at

    def on_trade(self) -> None:
        self._fill_pending = True

    def on_account(self, account: AccountState) -> None:
        self._account = account
        if self._fill_pending:
            self._fill_pending = False
            self._write("fill", self.clock.now_or_base())

    def on_timer(self) -> None:
        """Live: close the open minute once the market clock is past it (the session's last minute)."""
        now = self.clock.now()
        if self.clock.runs_on and self._minute_tick is not None and now is not None \
                and now >= minute_of(self._minute_tick) + MINUTE + timedelta(seconds=LATE_S):
            self._close_minute()

    def flush(self) -> None:
        """At stop: the open minute's point, or the latest state if it is not on record."""
        if self._minute_tick is not None:
            self._close_minute(reason="stop")
        elif self._account is not None and self._last_point is None:
            self._write("stop", self.clock.now_or_base())

    def _close_minute(self, reason: str = "") -> None:
        at = self._minute_tick
        self._minute_tick = None
        if at is None or self._account is None:
            return
        if not reason:
            reason = "minute" if session_state(at + MINUTE, "shfe").state == "open" else "session_end"
        self._write(reason, at)

    def _write(self, reason: str, at: datetime) -> None:
        account = self._account
        if account is None:
            return
        point = (at, account.balance)
        if point == self._last_point:
            return
        self._last_point = point
        day = account.trading_day or trading_day_str(at)
        self.put(SnapshotRecord(
            **account.model_dump(include=ACCOUNT_FIGURES), uid=new_uid(), ts=ser.ms_to_db(ser.epoch_ms(at)),
            reason=reason, recorded_at=ser.ms_to_db(self.clock.base.now_ms()), trading_day=ser.day_to_db(day)))
        self.written += 1
