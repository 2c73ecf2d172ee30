"""Strategy trigger statistics (the design's 策略触发统计分析), read from MySQL.

Per strategy and SHFE trading day, over the last N trading days:
- signals by action (vnpy's buy / sell / short / cover, or whatever is recorded) and by result:
  success, failed, pending, and refused = no order was sent at all (the offset converter had nothing to
  close, or the funds check refused it: a failed trigger with no order ids);
- triggers with action `pos_sync` (the core bringing a strategy's pos to the account after a manual
  trade) are counted apart, never as signals;
- fill ratio = filled volume / requested volume of the orders of the settled signals (success or failed;
  pending ones are still working); filled volume is the volume of the recorded trades of those orders;
- average slippage = mean over the signals with fills of (average fill price - trigger price), signed so
  that positive is worse for us (buying: fill - trigger, selling: trigger - fill), in price units and in
  ticks of the contract (`contracts.pricetick`, 0.02 when unknown).

A trigger names its orders as vt_orderids "GATEWAY.orderid"; the order is the `orders` row with that
gateway and orderid whose trading day is nearest the trigger's; its fills are the `trades` of that order.
A signal whose orders are not (yet) in the records, or that only names a local stop order (vnpy sends the
stop's limit orders later, without linking them to the trigger), is counted as `unlinked`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from common.clock import LIVE, Clock
from common.db import Database
from common.performance.ranges import market_now
from common.trading_calendar import CHINA_TZ, is_trading_date, trading_day
from web_service.history import split_ids

MAX_DAYS = 90
DEFAULT_DAYS = 7
DEFAULT_TICK = Decimal("0.02")  # SHFE au
RESULTS = ("success", "failed", "pending", "refused")
POS_SYNC = "pos_sync"
BUYING = {"buy", "cover"}  # the order's side is LONG
SELLING = {"sell", "short"}  # the order's side is SHORT
LINK_DAYS = 7  # an order's trading day may differ this much from its trigger's (calendar edge cases)
CHUNK = 500
TRADE_TS_MARGIN = timedelta(hours=1)  # a fill's exchange time may be a little before the trigger's local time
TRIGGER_COLUMNS = "id, ts, trading_day, strategy, vt_symbol, price, volume, action, result, vt_orderids"

OrderKey = tuple[str, str]  # (gateway, orderid)
DayKey = tuple[str, str, date]  # (gateway, orderid, trading_day)


def day_range(days: int, now: datetime | None = None, clock: Clock = LIVE) -> tuple[date, date]:
    """The first and last of the last `days` SHFE trading days, ending with the current trading day (of
    `now`, else of `clock`'s now)."""
    last = trading_day(now or clock.now())
    first, counted = last, 1
    while counted < days:
        first -= timedelta(days=1)
        if is_trading_date(first):
            counted += 1
    return first, last


def trading_days(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if is_trading_date(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def earliest_ts(first: date) -> datetime:
    """A time before any trigger of trading day `first` (naive UTC, lets MySQL use the ts index): the start
    of the trading date before it (whose evening session, if any, already belongs to `first`)."""
    day = first - timedelta(days=1)
    while not is_trading_date(day):
        day -= timedelta(days=1)
    return datetime.combine(day, time(0, 0), CHINA_TZ).astimezone(UTC).replace(tzinfo=None)


def result_of(row: dict[str, Any]) -> str:
    """success / failed / pending, or refused: failed without any order sent."""
    result = str(row["result"])
    if result == "refused" or (result == "failed" and not split_ids(row["vt_orderids"])):
        return "refused"
    return result


def order_keys(row: dict[str, Any]) -> list[OrderKey]:
    """The trigger's orders sent to the gateway (local stop orders "STOP.n" never reach it)."""
    keys = []
    for vt_orderid in split_ids(row["vt_orderids"]):
        gateway, _, orderid = vt_orderid.partition(".")
        if orderid and gateway.upper() != "STOP":
            keys.append((gateway, orderid))
    return keys


def side_of(action: str) -> int:
    """+1 buying, -1 selling, 0 unknown (no slippage then)."""
    return 1 if action in BUYING else -1 if action in SELLING else 0


@dataclass
class Tally:
    """The counts and sums of one strategy/day (or of a day, a strategy, everything)."""

    signals: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)
    pos_sync: int = 0
    unlinked: int = 0
    requested: Decimal = Decimal(0)
    filled: Decimal = Decimal(0)
    slipped: int = 0  # signals with fills and a known side
    slip_sum: Decimal = Decimal(0)
    slip_ticks_sum: Decimal = Decimal(0)

    def view(self) -> dict[str, Any]:
        return {
            "signals": self.signals,
            "actions": dict(sorted(self.actions.items())),
            "results": {**dict.fromkeys(RESULTS, 0), **self.results},
            "pos_sync": self.pos_sync,
            "unlinked": self.unlinked,
            "requested_volume": float(self.requested),
            "filled_volume": float(self.filled),
            "fill_ratio": round(float(self.filled / self.requested), 4) if self.requested else None,
            "filled_signals": self.slipped,
            "slippage": round(float(self.slip_sum / self.slipped), 4) if self.slipped else None,
            "slippage_ticks": round(float(self.slip_ticks_sum / self.slipped), 2) if self.slipped else None,
        }


@dataclass
class Fills:
    """The records the triggers' orders are looked up in."""

    orders: dict[OrderKey, list[dict[str, Any]]]
    trades: dict[DayKey, list[tuple[Decimal, Decimal]]]  # (price, volume)
    ticks: dict[str, Decimal]  # vt_symbol -> price tick

    def order_for(self, key: OrderKey, day: date) -> dict[str, Any] | None:
        rows = self.orders.get(key)
        return min(rows, key=lambda o: abs((o["trading_day"] - day).days)) if rows else None


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def _by_gateway(keys: Iterable[OrderKey]) -> dict[str, list[str]]:
    grouped: dict[str, set[str]] = defaultdict(set)
    for gateway, orderid in keys:
        grouped[gateway].add(orderid)
    return {gateway: sorted(ids) for gateway, ids in grouped.items()}


def load_fills(db: Database, triggers: list[dict[str, Any]], first: date, last: date) -> Fills:
    """The orders and trades of the triggers' orders, and the price ticks of their contracts."""
    keys = {key for row in triggers for key in order_keys(row)}
    lo, hi = first - timedelta(days=LINK_DAYS), last + timedelta(days=LINK_DAYS)
    symbols = sorted({str(row["vt_symbol"]).split(".")[0] for row in triggers})
    since = min((row["ts"] for row in triggers), default=datetime(1990, 1, 1)) - TRADE_TS_MARGIN
    orders: dict[OrderKey, list[dict[str, Any]]] = defaultdict(list)
    trades: dict[DayKey, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for gateway, ids in _by_gateway(keys).items():
        for chunk in _chunks(ids):
            marks = ",".join(["%s"] * len(chunk))
            for o in db.query("SELECT gateway, orderid, trading_day, volume FROM orders WHERE gateway = %s"
                              f" AND orderid IN ({marks}) AND trading_day BETWEEN %s AND %s",
                              [gateway, *chunk, lo, hi]):
                orders[(o["gateway"], o["orderid"])].append(o)
            sym_marks = ",".join(["%s"] * len(symbols))
            for t in db.query("SELECT gateway, orderid, trading_day, price, volume FROM trades WHERE gateway = %s"
                              f" AND orderid IN ({marks}) AND symbol IN ({sym_marks}) AND ts >= %s"
                              " AND trading_day BETWEEN %s AND %s", [gateway, *chunk, *symbols, since, lo, hi]):
                trades[(t["gateway"], t["orderid"], t["trading_day"])].append((t["price"], t["volume"]))
    ticks = {f"{c['symbol']}.{c['exchange']}": Decimal(c["pricetick"])
             for c in db.query("SELECT symbol, exchange, pricetick FROM contracts WHERE pricetick > 0")}
    return Fills(orders, trades, ticks)


def _count_fills(tally: Tally, row: dict[str, Any], result: str, fills: Fills) -> None:
    keys = order_keys(row)
    if not keys:
        if result != "refused":
            tally.unlinked += 1  # a local stop order: its limit orders are not linked to the trigger
        return
    found = [fills.order_for(key, row["trading_day"]) for key in keys]
    if any(o is None for o in found):
        tally.unlinked += 1
        return
    done = [p for o in found if o for p in fills.trades.get((o["gateway"], o["orderid"], o["trading_day"]), [])]
    volume = sum((v for _, v in done), Decimal(0))
    if result in ("success", "failed"):
        tally.requested += sum((Decimal(o["volume"]) for o in found if o), Decimal(0))
        tally.filled += volume
    side = side_of(str(row["action"]))
    price = Decimal(row["price"])
    if volume > 0 and side and price > 0:
        average = sum((p * v for p, v in done), Decimal(0)) / volume
        slip = (average - price) * side
        tally.slipped += 1
        tally.slip_sum += slip
        tally.slip_ticks_sum += slip / fills.ticks.get(str(row["vt_symbol"]), DEFAULT_TICK)


def add_trigger(tallies: Iterable[Tally], row: dict[str, Any], fills: Fills) -> None:
    """Count one trigger row into each of `tallies` (its strategy/day, its day, its strategy, the total)."""
    action = str(row["action"])
    result = result_of(row)
    for tally in tallies:
        if action == POS_SYNC:
            tally.pos_sync += 1
            continue
        tally.signals += 1
        tally.actions[action] += 1
        tally.results[result] += 1
        _count_fills(tally, row, result, fills)


def trigger_stats(db: Database, days: int = DEFAULT_DAYS, strategy: str | None = None,
                  now: datetime | None = None, clock: Clock = LIVE) -> dict[str, Any]:
    """The statistics of the last `days` trading days (of one strategy, or all); `now` defaults to the
    market's time on record (`clock`'s without records)."""
    first, last = day_range(days, now or market_now(db, clock))  # the market's days, as the other reports count
    where, args = "trading_day BETWEEN %s AND %s AND ts >= %s", [first, last, earliest_ts(first)]
    if strategy:
        where, args = where + " AND strategy = %s", [*args, strategy]
    triggers = db.query(f"SELECT {TRIGGER_COLUMNS} FROM strategy_triggers WHERE {where} ORDER BY id", args)
    fills = load_fills(db, triggers, first, last)
    cells: dict[tuple[str, date], Tally] = defaultdict(Tally)
    by_day: dict[date, Tally] = defaultdict(Tally)
    by_strategy: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    for row in triggers:
        name, day = str(row["strategy"]), row["trading_day"]
        add_trigger((cells[(name, day)], by_day[day], by_strategy[name], total), row, fills)
    return {
        "days": days,
        "day_from": first.isoformat(),
        "day_to": last.isoformat(),
        "strategy": strategy,
        "default_tick": float(DEFAULT_TICK),
        "rows": [{"strategy": name, "trading_day": day.isoformat(), **cells[(name, day)].view()}
                 for name, day in sorted(cells, key=lambda k: (-k[1].toordinal(), k[0]))],
        "by_day": [{"trading_day": day.isoformat(), **by_day[day].view()}  # every trading day, for the chart
                   for day in sorted(set(by_day) | set(trading_days(first, last)))],
        "by_strategy": [{"strategy": name, **by_strategy[name].view()} for name in sorted(by_strategy)],
        "total": total.view(),
    }

