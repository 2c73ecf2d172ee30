"""The daily ledger (`pnl_records`): our realized PnL and commission beside the broker's, per trading day.

When it is computed (`LedgerFeed`, on the recorder's dispatcher thread): a `ledger` record carrying the
broker's figures for the account's trading day (AccountState: realized_pnl = CloseProfit, commission =
Commission; per contract, CTP's position records' CloseProfitByDate/Commission) goes to the MySQL
writer on the first account update after a fill, and at most every `interval_s` otherwise; when the
account's trading day changes, one more for the finished day with its last figures.
How (`apply_ledger`, in the writer's transaction, after the batch's trades): ours are summed from
`positions_closed` (PnL by settlement: comparable to CloseProfit; by open price beside it) and from the
day's `trades` (commission of every fill, opens included, like the broker's). One row per contract and
one for the whole account (symbol ''), upserted. Verdict: `mismatch` when a figure we could compute in
full differs from the broker's by more than one tick value (0.02 x 1000 = 20 CNY); else `incomplete`
when a figure is missing (a close without its recorded opening, a carried close without its settlement
price, a trade without commission, or no broker figure); else `ok`. A close of a lot carried in from
the broker's position (`position_reconcile`: opened before recording) is not missing: its PnL by
settlement is known (from the settlement price the broker marks it from), only its PnL by open price is
approximate, which the note says. The account row turning mismatch
(or its difference changing) is reported to the writer's ledger handler (the core raises an ERROR
system event). The CTP settlement statement (ReqQrySettlementInfo) is kept raw on the account row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pymysql.cursors import Cursor
from vnpy.trader.object import PositionData

from common.clock import LIVE
from common.contract import AccountState, now_ms
from core_service import serializers as ser
from core_service.closed_positions import dec
from core_service.records import LedgerRecord, Put, SettlementStatementRecord

MISMATCH_CNY = Decimal(20)  # one tick value of au: 0.02 CNY/g x 1000 g
ZERO = Decimal(0)
ACCOUNT_ROW = ""  # the symbol of the whole-account row


def _day_db(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:8]}" if len(day) == 8 else day


# ---------------------------------------------------------------- when (the recorder's side)


class LedgerFeed:
    """Decides when a `ledger` record is sent; `put` is the MySQL writer's."""

    def __init__(self, put: Put, interval_s: float = 5.0, clock: Callable[[], float] = LIVE.monotonic) -> None:
        self.put = put
        self.interval_s = interval_s
        self.clock = clock
        self._due = False
        self._last: dict[tuple[str, str], AccountState] = {}
        self._sent_at: dict[tuple[str, str], float] = {}
        self._per_contract: dict[tuple[str, str, str], tuple[str, float, float]] = {}

    def trade_seen(self) -> None:
        """A fill: the next account update is compared at once."""
        self._due = True

    def position(self, position: PositionData) -> None:
        """CTP's position records state CloseProfit and Commission per contract and direction."""
        raw = (position.extra or {}).get("ctp")
        if not isinstance(raw, list) or not raw:
            return
        day = str(raw[0].get("TradingDay") or "")
        profit = sum(float(r.get("CloseProfitByDate", r.get("CloseProfit")) or 0.0) for r in raw)
        commission = sum(float(r.get("Commission") or 0.0) for r in raw)
        self._per_contract[(position.gateway_name, position.symbol, position.direction.name)] = (
            day, profit, commission)

    def account(self, state: AccountState) -> None:
        key = (state.gateway, state.accountid)
        previous = self._last.get(key)
        self._last[key] = state
        if previous is not None and previous.trading_day and previous.trading_day != state.trading_day:
            self.put(self.record(previous))  # the finished day, with its last figures
            self._due = True
        if not state.trading_day:
            return
        now = self.clock()
        if self._due or now - self._sent_at.get(key, float("-inf")) >= self.interval_s:
            self._due = False
            self._sent_at[key] = now
            self.put(self.record(state))

    def record(self, state: AccountState) -> LedgerRecord:
        contracts: dict[str, dict[str, float]] = {}
        for (gateway, symbol, _), (day, profit, commission) in self._per_contract.items():
            if gateway == state.gateway and day == state.trading_day:
                figures = contracts.setdefault(symbol, {"realized_pnl": 0.0, "commission": 0.0})
                figures["realized_pnl"] = round(figures["realized_pnl"] + profit, 2)
                figures["commission"] = round(figures["commission"] + commission, 2)
        return LedgerRecord(gateway=state.gateway, accountid=state.accountid, trading_day=_day_db(state.trading_day),
                            broker_realized_pnl=state.realized_pnl, broker_commission=state.commission,
                            contracts=contracts, broker_at=ser.ms_to_db(state.ts_ms))


def statement_record(gateway: str, accountid: str, trading_day: str, text: str) -> SettlementStatementRecord:
    """The broker's settlement statement of a trading day, kept raw on the account row."""
    return SettlementStatementRecord(gateway=gateway, accountid=accountid, trading_day=_day_db(trading_day),
                                     settlement_text=text, computed_at=ser.ms_to_db(now_ms()))


SETTLEMENT_STATEMENT = (
    "INSERT INTO pnl_records (gateway, accountid, trading_day, symbol, realized_pnl, realized_pnl_open, commission,"
    " closed_volume, trades, verdict, note, settlement_text, computed_at) VALUES"
    " (%s,%s,%s,'',0,0,0,0,0,'incomplete','not compared yet',%s,%s)"
    " ON DUPLICATE KEY UPDATE settlement_text = VALUES(settlement_text)"
)
SETTLEMENT_STATEMENT_FIELDS = ("gateway", "accountid", "trading_day", "settlement_text", "computed_at")


# ---------------------------------------------------------------- how (the writer's side)


@dataclass
class Ours:
    realized: Decimal = ZERO  # by settlement
    realized_open: Decimal = ZERO
    commission: Decimal = ZERO
    closed_volume: Decimal = ZERO
    trades: int = 0
    unmatched: int = 0  # closes without a recorded opening
    unsettled: int = 0  # carried closes without a settlement price
    uncharged: int = 0  # trades without commission
    before_recording: int = 0  # closes of lots opened before recording (PnL by open price approximate)

    def add(self, other: Ours) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Comparison:
    verdict: str  # ok | mismatch | incomplete
    note: str
    pnl_diff: Decimal | None
    commission_diff: Decimal | None


def compare(ours: Ours, broker_pnl: Decimal | None, broker_commission: Decimal | None,
            threshold: Decimal = MISMATCH_CNY) -> Comparison:
    """The verdict of one row (pure)."""
    notes = []
    if ours.unmatched:
        notes.append(f"{ours.unmatched} close(s) without a recorded opening")
    if ours.unsettled:
        notes.append(f"{ours.unsettled} carried close(s) without a settlement price")
    if ours.uncharged:
        notes.append(f"{ours.uncharged} trade(s) without commission (rates unknown)")
    if broker_pnl is None or broker_commission is None:
        notes.append("no broker figure")
    if ours.before_recording:
        notes.append(f"{ours.before_recording} close(s) of lots opened before recording (PnL by open price"
                     " approximate)")
    pnl_diff = None if broker_pnl is None else ours.realized - broker_pnl
    commission_diff = None if broker_commission is None else ours.commission - broker_commission
    pnl_complete = pnl_diff is not None and not ours.unmatched and not ours.unsettled
    commission_complete = commission_diff is not None and not ours.uncharged
    off = []
    if pnl_complete and pnl_diff is not None and abs(pnl_diff) > threshold:
        off.append(f"realized PnL differs by {pnl_diff:,.2f}")
    if commission_complete and commission_diff is not None and abs(commission_diff) > threshold:
        off.append(f"commission differs by {commission_diff:,.2f}")
    if off:
        verdict = "mismatch"
    elif pnl_complete and commission_complete:
        verdict = "ok"
    else:
        verdict = "incomplete"
    return Comparison(verdict, "; ".join(off + notes)[:512], pnl_diff, commission_diff)


def _money(value: Decimal | None) -> str:
    return "none" if value is None else f"{value:,.2f}"


@dataclass(frozen=True)
class LedgerReport:
    """The account's ledger turned mismatch (or its difference changed)."""

    gateway: str
    accountid: str
    trading_day: str
    ours_pnl: Decimal
    broker_pnl: Decimal | None
    ours_commission: Decimal
    broker_commission: Decimal | None
    comparison: Comparison

    @property
    def message(self) -> str:
        return (f"ledger mismatch {self.gateway}.{self.accountid} trading day {self.trading_day}: realized PnL"
                f" ours {_money(self.ours_pnl)} vs broker {_money(self.broker_pnl)}, commission ours"
                f" {_money(self.ours_commission)} vs broker {_money(self.broker_commission)}"
                f" ({self.comparison.note}; more than {MISMATCH_CNY} CNY apart)")

    @property
    def detail(self) -> dict[str, Any]:
        c = self.comparison
        return {"gateway": self.gateway, "accountid": self.accountid, "trading_day": self.trading_day,
                "ours_realized_pnl": str(self.ours_pnl), "broker_realized_pnl": str(self.broker_pnl),
                "pnl_diff": str(c.pnl_diff), "ours_commission": str(self.ours_commission),
                "broker_commission": str(self.broker_commission), "commission_diff": str(c.commission_diff),
                "note": c.note}


OURS_CLOSED = (
    "SELECT symbol, COALESCE(SUM(pnl_settlement), 0), COALESCE(SUM(pnl_open), 0), SUM(volume),"
    " SUM(lot_id IS NULL), SUM(lot_id IS NOT NULL AND pnl_settlement IS NULL), SUM(opened_before_recording)"
    " FROM positions_closed WHERE gateway = %s AND trading_day = %s GROUP BY symbol"
)
OURS_TRADES = (
    "SELECT symbol, COALESCE(SUM(commission), 0), COUNT(*), SUM(commission IS NULL)"
    " FROM trades WHERE gateway = %s AND trading_day = %s GROUP BY symbol"
)
ROW_FIELDS = ("gateway", "accountid", "trading_day", "symbol", "realized_pnl", "realized_pnl_open", "commission",
              "closed_volume", "trades", "broker_realized_pnl", "broker_commission", "pnl_diff", "commission_diff",
              "verdict", "note", "broker_at")
UPSERT_ROW = (
    f"INSERT INTO pnl_records ({', '.join(ROW_FIELDS)}, computed_at) VALUES"
    f" ({', '.join(['%s'] * len(ROW_FIELDS))}, UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE "
    + ", ".join(f"{f} = VALUES({f})" for f in ROW_FIELDS[4:]) + ", computed_at = VALUES(computed_at)"
)
PREVIOUS = ("SELECT verdict, pnl_diff, commission_diff FROM pnl_records WHERE gateway = %s AND accountid = %s"
            " AND trading_day = %s AND symbol = '' FOR UPDATE")


def ours_by_symbol(cur: Cursor, gateway: str, day: str) -> dict[str, Ours]:
    out: dict[str, Ours] = {}
    cur.execute(OURS_CLOSED, (gateway, day))
    for symbol, pnl, pnl_open, volume, unmatched, unsettled, before_recording in cur.fetchall():
        out[symbol] = Ours(realized=Decimal(pnl), realized_open=Decimal(pnl_open), closed_volume=Decimal(volume),
                           unmatched=int(unmatched), unsettled=int(unsettled), before_recording=int(before_recording))
    cur.execute(OURS_TRADES, (gateway, day))
    for symbol, commission, count, uncharged in cur.fetchall():
        figures = out.setdefault(symbol, Ours())
        figures.commission, figures.trades, figures.uncharged = Decimal(commission), int(count), int(uncharged)
    return out


def _opt(value: Any) -> Decimal | None:
    return None if value is None else dec(value)


def settled(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch without a ledger record that a trade of its account's day follows: the writer books a
    batch's trades before it compares ledgers, so the broker's figures, stated before those trades, would
    be compared with ours after them (a false mismatch). The account update after a fill brings a newer
    ledger record at once (`LedgerFeed.trade_seen`)."""
    kept: list[dict[str, Any]] = []
    traded_after: set[tuple[Any, str]] = set()
    for record in reversed(records):
        kind = record.get("kind")
        if kind == "trade":
            traded_after.add((record.get("gateway"), str(record.get("trading_day"))))
        elif kind == "ledger" and (record.get("gateway"), str(record.get("trading_day"))) in traded_after:
            continue
        kept.append(record)
    kept.reverse()
    return kept


def apply_ledger(cur: Cursor, record: dict[str, Any]) -> LedgerReport | None:
    """Compute and upsert the day's rows; a report when the account row turned mismatch."""
    gateway, accountid, day = record["gateway"], record["accountid"], record["trading_day"]
    per_symbol = ours_by_symbol(cur, gateway, day)
    total = Ours()
    for figures in per_symbol.values():
        total.add(figures)
    broker_contracts = record.get("contracts") or {}
    for symbol, figures in sorted(per_symbol.items()):
        stated = broker_contracts.get(symbol) or {}
        _upsert(cur, record, symbol, figures, _opt(stated.get("realized_pnl")), _opt(stated.get("commission")))
    broker_pnl, broker_commission = _opt(record.get("broker_realized_pnl")), _opt(record.get("broker_commission"))
    cur.execute(PREVIOUS, (gateway, accountid, day))
    previous = cur.fetchone()
    comparison = _upsert(cur, record, ACCOUNT_ROW, total, broker_pnl, broker_commission)
    if comparison.verdict != "mismatch":
        return None
    if previous is not None and previous[0] == "mismatch" and (previous[1], previous[2]) == (
            _q(comparison.pnl_diff), _q(comparison.commission_diff)):
        return None  # already reported
    return LedgerReport(gateway, accountid, str(day), total.realized, broker_pnl, total.commission,
                        broker_commission, comparison)


def _q(value: Decimal | None) -> Decimal | None:
    return None if value is None else dec(value)


def _upsert(cur: Cursor, record: dict[str, Any], symbol: str, ours: Ours, broker_pnl: Decimal | None,
            broker_commission: Decimal | None) -> Comparison:
    comparison = compare(ours, broker_pnl, broker_commission)
    cur.execute(UPSERT_ROW, (
        record["gateway"], record["accountid"], record["trading_day"], symbol, ours.realized, ours.realized_open,
        ours.commission, ours.closed_volume, ours.trades, broker_pnl, broker_commission, _q(comparison.pnl_diff),
        _q(comparison.commission_diff), comparison.verdict, comparison.note, record.get("broker_at"),
    ))  # fmt: skip
    return comparison
