"""Lots reconciled with the broker's positions: what the broker held before recording is carried in.

A position the broker holds that no recorded opening covers (opened before ARBIG ran, or while its
records were lost) would have its closes recorded as unmatched (no PnL) and its day's ledger left
`incomplete`. The MySQL writer asks `Reconciler.due` about every position record it writes and, when
the rule below allows, `reconcile`s it in the batch's transaction (after the batch's trades). The broker's volume V of one symbol and direction
(Y yesterday's, T today's, at trading day D) is compared with the volume L of our open lots of it:

  L < V  the V - L lots missing are carried in: lots without an opening trade, marked
         `opened_before_recording` (and so are the `positions_closed` rows that take them). As
         yesterday's lots (open trading day: the trading day before D, so SHFE close-yesterday takes
         them) as far as our lots opened before D fall short of Y, the rest as today's (opened on D).
         Open price: the broker's average of that part, less what our recorded lots of the part paid.
         Today's average is (cost price x V - settlement x Y) / T (the broker's position cost holds
         today's lots at their open price, yesterday's at the settlement), yesterday's the rest of the
         average open price; without a settlement both are the average open price. The settlement the
         record states is recorded for D as the broker's (`settlement_prices`, source 'position'), so
         a carried-in yesterday's lot closed on D has its PnL by settlement as the broker computes
         CloseProfit (known); by open price it is approximate. The opening commission is unknown
         (lot.commission NULL, nothing left of it to share: the closed row has the close's share).
         Open time: when the lot was carried in (it was held since at least then).
  L > V  a drift: a close we never saw (the broker's own terminal, a forced liquidation) or whose
         trade is still to arrive. Nothing is deleted: a `position_drift` ERROR event, once per
         distinct difference (our L, the broker's V) and trading day.
Each is kept in `position_reconciliations` and reported to the writer's position handler.

When a record is acted on (the rule). A position record reflects fills whose trades the writer may
not have booked yet, and may predate fills it has booked; acting on either would count a lot twice
or carry in one that was closed. So a record is acted on only when
  1. no trade of its gateway and symbol is unbooked: none after it in the batch being written (a
     batch's trades are booked before its positions), none in the writer's queue, and the batch is not
     written from the spool (records kept while MySQL was away are old: the next fresh record counts).
     L is then our lots plus the unbooked opens, which are none;
  2. it states what the previous record of that position stated (V, Y, D), later, with no trade of the
     symbol between the two in the order they reached the writer (new or replayed): the broker said it
     twice since the last fill, so a record racing a fill (CTP answers position queries and pushes
     trades on separate flows; a query answer may predate a fill already pushed) never is;
  3. the broker's trading day D is known (CTP states it; otherwise the account's).
Idempotent: once carried in, L = V, so the same record again (replayed, from the spool, after a
restart) creates nothing; the lots and their reconciliation row are one transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pymysql.cursors import Cursor

from common.trading_calendar import is_trading_date
from core_service.closed_positions import FOUR, ZERO, Lot, apply_settlement, contract_size, dec, open_lots

log = logging.getLogger(__name__)
SIDES = {"LONG", "SHORT"}
Key = tuple[str, str]  # gateway, symbol


def _num(value: Any) -> Decimal | None:
    """A positive finite figure, unrounded (prices are derived from it), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() and 0 < number < Decimal("1e12") else None


@dataclass(frozen=True)
class Statement:
    """What one position record states."""

    gateway: str
    symbol: str
    exchange: str
    direction: str
    volume: Decimal
    yd: Decimal
    trading_day: date | None
    open_price: Decimal  # average open price of the whole position
    cost_price: Decimal  # position cost per unit: today's lots at their open price, yesterday's at settlement
    settlement: Decimal | None  # the price yesterday's lots are marked from on `trading_day`
    at: datetime

    @property
    def td(self) -> Decimal:
        return self.volume - self.yd

    @property
    def shape(self) -> tuple[Decimal, Decimal, date | None]:
        return self.volume, self.yd, self.trading_day


def statement_of(record: dict[str, Any]) -> Statement | None:
    if record.get("direction") not in SIDES:
        return None
    day = record.get("trading_day")
    price = _num(record.get("price")) or ZERO
    return Statement(
        str(record["gateway"]), str(record["symbol"]), str(record["exchange"]), str(record["direction"]),
        dec(record.get("volume") or 0), dec(record.get("yd_volume") or 0),
        date.fromisoformat(str(day)) if day else None, price, _num(record.get("cost_price")) or price,
        _num(record.get("settlement_price")), datetime.fromisoformat(str(record["updated_at"])),
    )  # fmt: skip


# ---------------------------------------------------------------- what to carry in (pure)


@dataclass(frozen=True)
class Plan:
    held: Decimal  # the volume of our open lots
    carry_yd: Decimal = ZERO
    price_yd: Decimal = ZERO
    carry_td: Decimal = ZERO
    price_td: Decimal = ZERO


def part_averages(st: Statement) -> tuple[Decimal, Decimal]:
    """(yesterday's, today's) average open price as the broker's figures give them."""
    y, t = st.yd, st.td
    td = yd = st.open_price
    if t > 0 and (y == 0 or st.settlement is not None):
        derived = (st.cost_price * st.volume - (st.settlement or ZERO) * y) / t
        td = derived if derived > 0 else st.open_price
    if y > 0 and t > 0:
        derived = (st.open_price * st.volume - td * t) / y
        yd = derived if derived > 0 else st.open_price
    return yd, td


def _price(average: Decimal, part: Decimal, ours: list[Lot], carry: Decimal) -> Decimal:
    """The open price of `carry` lots of a part the broker states at `average` over `part` lots: what
    the part paid less what our lots of it paid, when they make it up exactly."""
    have = sum((lot.remaining for lot in ours), ZERO)
    if carry > 0 and have and have + carry == part:
        rest = (average * part - sum((lot.open_price * lot.remaining for lot in ours), ZERO)) / carry
        average = rest if rest > 0 else average
    return average.quantize(FOUR, ROUND_HALF_UP)


def plan(st: Statement, lots: list[Lot]) -> Plan:
    """What to carry in so that our open lots cover the broker's volume (needs `st.trading_day`)."""
    assert st.trading_day is not None
    held = sum((lot.remaining for lot in lots), ZERO)
    missing = st.volume - held
    if missing <= 0:
        return Plan(held)
    ours_yd = [lot for lot in lots if lot.open_trading_day < st.trading_day]
    ours_td = [lot for lot in lots if lot.open_trading_day >= st.trading_day]
    carry_yd = min(missing, max(ZERO, st.yd - sum((lot.remaining for lot in ours_yd), ZERO)))
    carry_td = missing - carry_yd
    avg_yd, avg_td = part_averages(st)
    return Plan(held, carry_yd, _price(avg_yd, st.yd, ours_yd, carry_yd), carry_td,
                _price(avg_td, st.td, ours_td, carry_td))


def previous_trading_day(day: date) -> date:
    day -= timedelta(days=1)
    while not is_trading_date(day):
        day -= timedelta(days=1)
    return day


# ---------------------------------------------------------------- the writer's side (one transaction)


@dataclass(frozen=True)
class PositionReport:
    """Lots carried in (WARNING) or a drift (ERROR), for a system event."""

    event_kind: str  # position_carried_in | position_drift
    level: str
    message: str
    detail: dict[str, Any]


INSERT_RECONCILIATION = (
    "INSERT INTO position_reconciliations (uid, kind, gateway, symbol, exchange, direction, trading_day,"
    " broker_volume, broker_yd_volume, lots_volume, carried_yd, carried_td, message, statement, detected_at)"
    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE id = id"
)
INSERT_CARRIED_LOT = (
    "INSERT INTO position_lots (gateway, symbol, exchange, direction, open_trade_id, open_tradeid, open_ts,"
    " open_trading_day, open_price, size, volume, remaining, commission, commission_left, strategy,"
    " opened_before_recording, reconciliation_id) VALUES (%s,%s,%s,%s,NULL,NULL,%s,%s,%s,%s,%s,%s,NULL,0,NULL,1,%s)"
)


def _uid(*parts: Any) -> str:
    return hashlib.md5("|".join(str(p) for p in parts).encode()).hexdigest()


def _n(volume: Decimal) -> str:
    return f"{float(volume):g}"


def _message(st: Statement, p: Plan) -> str:
    where = f"{st.gateway} {st.symbol}.{st.exchange} {st.direction}"
    if p.held > st.volume:
        return (f"position drift {where}: we hold {_n(p.held)} lot(s) in records, the broker {_n(st.volume)}"
                f" (trading day {st.trading_day}); none deleted: a close we never saw (the broker's terminal,"
                " a forced liquidation) or one whose trade has not arrived yet")
    parts = [f"{_n(n)} {label} at {price:.2f}" for n, label, price in (
        (p.carry_yd, "yesterday's", p.price_yd), (p.carry_td, "today's", p.price_td)) if n > 0]
    return (f"position {where}: {_n(st.volume - p.held)} lot(s) the broker holds carried in as opened before"
            f" recording ({', '.join(parts)}; recorded {_n(p.held)}, the broker {_n(st.volume)})")


def reconcile(cur: Cursor, st: Statement) -> PositionReport | None:
    """Compare our open lots with what the broker states; carry in or report a drift."""
    assert st.trading_day is not None
    lots = open_lots(cur, st.gateway, st.symbol, st.exchange, st.direction)
    p = plan(st, lots)
    if p.held == st.volume:
        return None
    drift = p.held > st.volume
    kind = "position_drift" if drift else "position_carried_in"
    stated = {k: str(v) for k, v in asdict(st).items()}
    detail = {**stated, "td": str(st.td), "lots": str(p.held), "carried_yd": str(p.carry_yd),
              "open_price_yd": str(p.price_yd), "carried_td": str(p.carry_td), "open_price_td": str(p.price_td)}
    key = (st.gateway, st.symbol, st.exchange, st.direction, st.trading_day)
    uid = _uid(kind, *key, p.held, st.volume) if drift else _uid(kind, *key, p.held, st.volume, st.yd, st.at)
    message = _message(st, p)
    cur.execute(INSERT_RECONCILIATION, (uid, "drift" if drift else "carried_in", *key, st.volume, st.yd, p.held,
                                        p.carry_yd, p.carry_td, message[:512], json.dumps(stated)))
    if cur.rowcount != 1:
        return None  # this drift was reported already
    if drift:
        return PositionReport(kind, "ERROR", message, detail)
    reconciliation_id = cur.lastrowid
    size = contract_size(cur, {"symbol": st.symbol})
    for volume, day, price in ((p.carry_yd, previous_trading_day(st.trading_day), p.price_yd),
                               (p.carry_td, st.trading_day, p.price_td)):
        if volume > 0:
            cur.execute(INSERT_CARRIED_LOT, (st.gateway, st.symbol, st.exchange, st.direction, st.at, day, price,
                                             size, volume, volume, reconciliation_id))
    if p.carry_yd > 0 and st.settlement is not None:
        apply_settlement(cur, {"symbol": st.symbol, "trading_day": st.trading_day.isoformat(),
                               "price": st.settlement, "source": "position", "updated_at": st.at})
    return PositionReport(kind, "WARNING", message, detail)


class Reconciler:
    """The writer's side of the rule: which position records may be acted on. `put` runs on any
    thread (the writer's `put`), the rest on the writer's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: Counter[Key] = Counter()  # trades put on the writer's queue, not taken yet
        self._written: Counter[Key] = Counter()  # trades written (new or replayed)
        self._seen: dict[tuple[str, str, str, str], tuple[tuple[Any, ...], int, datetime]] = {}

    @staticmethod
    def _key(record: dict[str, Any]) -> Key:
        return str(record.get("gateway")), str(record.get("symbol"))

    def put(self, record: dict[str, Any]) -> None:
        if record.get("kind") == "trade":
            with self._lock:
                self._queued[self._key(record)] += 1

    def taken(self, batch: list[dict[str, Any]]) -> None:
        """Records taken off the queue (they are in the batch being written, or in the spool)."""
        keys = [self._key(r) for r in batch if r.get("kind") == "trade"]
        if keys:
            with self._lock:
                self._queued.subtract(keys)
                self._queued = +self._queued

    def batch(self, records: list[dict[str, Any]], fresh: bool) -> dict[int, tuple[int, bool]]:
        """For each position record of a batch about to be written (by id): how many trades of its
        symbol this writer has written before it (a batch's own trades that precede it included: they
        are booked first), and whether it may be acted on: the batch is fresh (not from the spool) and
        no trade of its symbol follows it, in the batch or on the queue."""
        with self._lock:
            pending = set(self._queued)
        running = Counter(self._written)
        found: dict[int, tuple[int, bool]] = {}
        for record in records:
            if record.get("kind") == "trade":
                running[self._key(record)] += 1
            elif record.get("kind") == "position":
                found[id(record)] = (running[self._key(record)], False)
        for record in reversed(records) if fresh else ():
            if record.get("kind") == "trade":
                pending.add(self._key(record))
            elif record.get("kind") == "position" and self._key(record) not in pending:
                found[id(record)] = (found[id(record)][0], True)
        return found

    def unbooked(self, gateway: str, symbol: str) -> int:
        """Trades of `symbol` put on the writer's queue and not taken yet."""
        with self._lock:
            return self._queued.get((gateway, symbol), 0)

    def trade_written(self, record: dict[str, Any]) -> None:
        self._written[self._key(record)] += 1

    def due(self, record: dict[str, Any], written: int, settled: bool) -> Statement | None:
        """A position record just written (`written`, `settled`: from `batch`): what it states when the
        rule allows acting on it (see the module's doc), else None."""
        st = statement_of(record)
        if st is None:
            return None
        key = (st.gateway, st.symbol, st.exchange, st.direction)
        previous = self._seen.get(key)
        self._seen[key] = (st.shape, written, st.at)
        if not settled or st.trading_day is None or previous is None:
            return None
        if previous[0] != st.shape or previous[1] != written or st.at <= previous[2]:
            return None
        return st


def guarded(cur: Cursor, st: Statement, transient: Callable[[BaseException], bool]) -> PositionReport | None:
    """`reconcile` in a savepoint: a failure (other than a `transient` one: the writer retries the batch)
    is logged and undone alone, and never costs the batch its position record."""
    cur.execute("SAVEPOINT reconcile")
    try:
        return reconcile(cur, st)
    except Exception as exc:
        if transient(exc):
            raise
        log.exception("position reconcile failed for %s %s %s; left as it was", st.symbol, st.direction, st.at)
    cur.execute("ROLLBACK TO SAVEPOINT reconcile")
    return None
