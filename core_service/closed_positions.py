"""Closed positions, written as fills close positions (SHFE matching), exactly once.

The MySQL writer calls `apply_trade` inside the transaction that inserted a trade row, and only when
that row is new: a replayed trade (CTP replays the day's trades after every reconnect and restart; a
spooled batch may be written twice) inserts nothing and changes nothing here, and a crash between the
trade and its close is impossible (one transaction). An opening fill becomes a lot in `position_lots`;
a closing fill takes lots of the position it closes and writes one `positions_closed` row per lot:
  SHFE/INE: CLOSETODAY takes today's lots; CLOSE and CLOSEYESTERDAY lots of earlier trading days
            (SHFE treats CLOSE as close-yesterday); elsewhere CLOSE takes the oldest lots of any day.
            Oldest first (FIFO, by open time) within those; lots carried in from the broker's
            position (`position_reconcile`: opened before recording, no opening trade) come first.
  A lot partly taken keeps the rest open (the row has the part taken). Volume no recorded lot covers
  (an opening we never saw) is one row without lot and PnL: counted, never guessed. A row that takes
  a carried-in lot is marked `opened_before_recording`: its open price is the broker's average (PnL by
  open price approximate), its opening commission unknown (the row has the closing fill's share).
PnL per row, sign by the side closed, before commission:
  by open price   (close - open) x volume x size
  by settlement   today's lots: the same; a lot carried from an earlier day: against the settlement
                  price the lots are marked from on the close's trading day (`settlement_prices`, the
                  previous day's settlement). This is how the broker's CloseProfit is computed. A
                  settlement price recorded after the close fills the row in (`apply_settlement`).
Commission per row: the opening fill's share (taken from what is left of it on the lot, so the shares
of one fill add up exactly) + the closing fill's share (split by volume, the last piece takes the rest).
Exit reason: strategy | operator | emergency | ai (the AI agent's close) | stop_loss | take_profit (an
exit plan's close) | external (a close we did not send), from the order's strategy and reference; when
the record says external, the stored order is asked (after a restart the core no longer knows which
strategy sent an order that filled while it was down). The AI's orders and exit-plan closes are
attributed to the strategy "ai". A lot keeps its opening fill's confidence (the AI's); a closed row
carries the lot's, and the exit plan that was in force on the position when the closing fill came.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pymysql.cursors import Cursor

from common.contract.ai import AI_REFERENCE, EXIT_REFERENCE

OPERATOR_REFERENCE = "ARBIG_operator"  # core_service.manual_orders.MANUAL_REFERENCE
EMERGENCY_REFERENCE = "ARBIG_emergency"  # an emergency flatten's orders carry this reference
STRATEGY_REFERENCE = "CtaStrategy_"  # vnpy's CtaEngine: f"{APP_NAME}_{strategy_name}"
AI_STRATEGY = "ai"  # the strategy the AI agent's orders and its exit plans' closes are attributed to
EXIT_REASONS = ("stop_loss", "take_profit")  # common.contract.ai.ExitReason
SPLIT_DAY_EXCHANGES = {"SHFE", "INE"}
DEFAULT_SIZE = Decimal(1000)
FOUR = Decimal("0.0001")
ZERO = Decimal(0)


def is_ai_reference(reference: str | None) -> bool:
    """An order the AI agent sent (`ARBIG_ai:...`) or an exit plan's close (`ARBIG_exit:...`)."""
    return (reference or "").split(":", 1)[0] in (AI_REFERENCE, EXIT_REFERENCE)


def exit_reason(strategy: str | None, reference: str | None) -> str:
    """Who sent the order a closing fill belongs to (at most 16 characters: the column's)."""
    reference = reference or ""
    if reference.startswith(EMERGENCY_REFERENCE):
        return "emergency"
    if reference.startswith(OPERATOR_REFERENCE):
        return "operator"
    head, _, rest = reference.partition(":")
    if head == EXIT_REFERENCE:
        reason = rest.split(":", 1)[0]
        return reason if reason in EXIT_REASONS else AI_STRATEGY
    if head == AI_REFERENCE or strategy == AI_STRATEGY:
        return AI_STRATEGY
    if strategy or reference.startswith(STRATEGY_REFERENCE):
        return "strategy"
    return "external"


def dec(value: Any) -> Decimal:
    """A number as MySQL's DECIMAL(20,4) holds it."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    return number.quantize(FOUR, ROUND_HALF_UP)


def side_closed(fill_direction: str) -> str:
    """A closing fill that buys closes a SHORT position, one that sells a LONG one."""
    return "SHORT" if fill_direction == "LONG" else "LONG"


# ---------------------------------------------------------------- matching (pure)


@dataclass(frozen=True)
class Lot:
    id: int
    open_trade_id: int | None  # None: carried in from the broker's position (`position_reconcile`)
    open_tradeid: str | None
    open_ts: datetime
    open_trading_day: date
    open_price: Decimal
    remaining: Decimal
    commission_left: Decimal | None
    strategy: str | None = None
    before_recording: bool = False  # opened before recording: open price the broker's average
    confidence: int | None = None  # the opening fill's (the AI's); None: not the AI's


@dataclass(frozen=True)
class Close:
    side: str  # the position closed: LONG | SHORT
    offset: str  # CLOSE | CLOSETODAY | CLOSEYESTERDAY
    exchange: str
    price: Decimal
    volume: Decimal
    size: Decimal
    trading_day: date
    commission: Decimal | None


@dataclass(frozen=True)
class Piece:
    lot: Lot | None  # None: no recorded lot covers this volume
    lot_after: Lot | None  # the lot once this piece is taken (remaining, commission left)
    volume: Decimal
    carried: bool
    settlement: Decimal | None
    pnl_open: Decimal | None
    pnl_settlement: Decimal | None
    commission: Decimal | None


def pool(lots: list[Lot], close: Close) -> list[Lot]:
    """The open lots `close` may take, in the order it takes them."""
    ordered = sorted((lot for lot in lots if lot.remaining > 0),
                     key=lambda lot: (not lot.before_recording, lot.open_ts, lot.id))
    if close.offset == "CLOSETODAY":
        return [lot for lot in ordered if lot.open_trading_day == close.trading_day]
    if close.offset == "CLOSEYESTERDAY" or close.exchange in SPLIT_DAY_EXCHANGES:
        return [lot for lot in ordered if lot.open_trading_day < close.trading_day]
    return ordered


def _pnl(side: str, close_price: Decimal, base: Decimal, volume: Decimal, size: Decimal) -> Decimal:
    move = close_price - base if side == "LONG" else base - close_price
    return (move * volume * size).quantize(FOUR, ROUND_HALF_UP)


def _shares(total: Decimal | None, volumes: list[Decimal]) -> list[Decimal | None]:
    """`total` split by volume, rounded to 0.0001; the last share takes the rest (exact sum)."""
    if total is None:
        return [None] * len(volumes)
    whole = sum(volumes, ZERO)
    shares: list[Decimal | None] = []
    given = ZERO
    for i, volume in enumerate(volumes):
        share = total - given if i == len(volumes) - 1 else (total * volume / whole).quantize(FOUR, ROUND_HALF_UP)
        given += share
        shares.append(share)
    return shares


def split_close(close: Close, lots: list[Lot], settlement: Decimal | None) -> list[Piece]:
    """The pieces of one closing fill over the lots of its pool (see `pool`), oldest first."""
    takes: list[tuple[Lot | None, Decimal]] = []
    wanted = close.volume
    for lot in lots:
        if wanted <= 0:
            break
        take = min(lot.remaining, wanted)
        takes.append((lot, take))
        wanted -= take
    if wanted > 0:
        takes.append((None, wanted))
    close_shares = _shares(close.commission, [take for _, take in takes])
    pieces = []
    for (lot, take), close_share in zip(takes, close_shares, strict=True):
        if lot is None:
            pieces.append(Piece(None, None, take, False, None, None, None, close_share))
            continue
        left = lot.commission_left
        open_share = None if left is None else (
            left if take == lot.remaining else (left * take / lot.remaining).quantize(FOUR, ROUND_HALF_UP))
        after = replace(lot, remaining=lot.remaining - take,
                        commission_left=None if left is None or open_share is None else left - open_share)
        carried = lot.open_trading_day < close.trading_day
        pnl_open = _pnl(close.side, close.price, lot.open_price, take, close.size)
        if not carried:
            pnl_settlement: Decimal | None = pnl_open
        else:
            pnl_settlement = None if settlement is None else _pnl(close.side, close.price, settlement, take,
                                                                  close.size)
        commission = None if open_share is None or close_share is None else open_share + close_share
        pieces.append(Piece(lot, after, take, carried, settlement if carried else None, pnl_open, pnl_settlement,
                            commission))
    return pieces


# ---------------------------------------------------------------- the writer's side (one transaction)

INSERT_LOT = (
    "INSERT INTO position_lots (gateway, symbol, exchange, direction, open_trade_id, open_tradeid, open_ts,"
    " open_trading_day, open_price, size, volume, remaining, commission, commission_left, strategy, confidence)"
    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
)
OPEN_LOTS = (
    "SELECT id, open_trade_id, open_tradeid, open_ts, open_trading_day, open_price, remaining, commission_left,"
    " strategy, opened_before_recording, confidence FROM position_lots WHERE gateway = %s AND symbol = %s AND exchange = %s"
    " AND direction = %s AND remaining > 0 ORDER BY open_ts, id FOR UPDATE"
)
UPDATE_LOT = "UPDATE position_lots SET remaining = %s, commission_left = %s WHERE id = %s"
CLOSED_COLUMNS = (
    "gateway", "symbol", "exchange", "direction", "volume", "size", "lot_id", "open_trade_id", "open_tradeid",
    "open_ts", "open_trading_day", "open_price", "open_strategy", "opened_before_recording", "close_trade_id",
    "piece", "close_tradeid", "close_orderid", "close_offset", "close_ts", "close_price", "trading_day", "carried", "settlement_price",
    "pnl_open", "pnl_settlement", "commission", "strategy", "exit_reason",
)
AI_COLUMNS = ("confidence", "exit_plan")  # a closing fill's own (external_close.py writes CLOSED_COLUMNS only)
INSERT_CLOSED = (
    f"INSERT INTO positions_closed ({', '.join(CLOSED_COLUMNS + AI_COLUMNS)}, recorded_at) VALUES"
    f" ({', '.join(['%s'] * len(CLOSED_COLUMNS + AI_COLUMNS))}, UTC_TIMESTAMP(3))"
)
SETTLEMENT_OF = "SELECT price FROM settlement_prices WHERE symbol = %s AND trading_day = %s"
# The broker's own statement (a position record) outranks the exchange's tick; otherwise the latest wins.
# (Assignments run left to right: `source` is changed last.)
UPSERT_SETTLEMENT = (
    "INSERT INTO settlement_prices (symbol, trading_day, price, source, updated_at) VALUES (%s,%s,%s,%s,%s)"
    " ON DUPLICATE KEY UPDATE"
    " price = IF(source = 'position' AND VALUES(source) <> 'position', price, VALUES(price)),"
    " updated_at = IF(source = 'position' AND VALUES(source) <> 'position', updated_at, VALUES(updated_at)),"
    " source = IF(source = 'position' AND VALUES(source) <> 'position', source, VALUES(source))"
)
RESETTLE = (
    "UPDATE positions_closed SET settlement_price = %s,"
    " pnl_settlement = ROUND(IF(direction = 'LONG', 1, -1) * (close_price - %s) * volume * size, 4)"
    " WHERE symbol = %s AND trading_day = %s AND carried = 1 AND lot_id IS NOT NULL"
    " AND NOT (settlement_price <=> %s)"
)


def contract_size(cur: Cursor, record: dict[str, Any]) -> Decimal:
    if record.get("size"):
        return dec(record["size"])
    cur.execute("SELECT size FROM contracts WHERE symbol = %s AND size IS NOT NULL LIMIT 1", (record["symbol"],))
    row = cur.fetchone()
    return Decimal(row[0]) if row else DEFAULT_SIZE


def _origin(cur: Cursor, record: dict[str, Any]) -> tuple[str | None, str]:
    """(strategy, exit reason) of a closing fill; the stored order decides when the record cannot."""
    strategy, reason = record.get("strategy"), record.get("exit_reason") or "external"
    if reason != "external":
        return strategy, reason
    cur.execute("SELECT reference, strategy FROM orders WHERE gateway = %s AND orderid = %s ORDER BY id DESC"
                " LIMIT 1", (record["gateway"], record["orderid"]))
    row = cur.fetchone()
    if row is None:
        return strategy, reason
    strategy = strategy or row[1]
    return strategy, exit_reason(strategy, row[0])


def open_lots(cur: Cursor, gateway: str, symbol: str, exchange: str, side: str) -> list[Lot]:
    """The open lots of one position, locked for this transaction."""
    cur.execute(OPEN_LOTS, (gateway, symbol, exchange, side))
    return [Lot(r[0], r[1], r[2], r[3], r[4], Decimal(r[5]), Decimal(r[6]), None if r[7] is None else Decimal(r[7]),
                r[8], bool(r[9]), r[10]) for r in cur.fetchall()]


def apply_trade(cur: Cursor, record: dict[str, Any], trade_id: int) -> int:
    """Book a trade row just inserted (new): a lot for an opening, closed rows for a close. Returns
    the number of positions_closed rows written."""
    offset = str(record["offset"])
    commission = None if record.get("commission") is None else dec(record["commission"])
    size = contract_size(cur, record)
    day = date.fromisoformat(str(record["trading_day"]))
    if offset == "OPEN":
        cur.execute(INSERT_LOT, (record["gateway"], record["symbol"], record["exchange"], record["direction"],
                                 trade_id, record["tradeid"], record["ts"], day, dec(record["price"]), size,
                                 dec(record["volume"]), dec(record["volume"]), commission, commission,
                                 record.get("strategy"), record.get("confidence")))
        return 0
    close = Close(side_closed(str(record["direction"])), offset, str(record["exchange"]), dec(record["price"]),
                  dec(record["volume"]), size, day, commission)
    lots = open_lots(cur, record["gateway"], record["symbol"], record["exchange"], close.side)
    chosen = pool(lots, close)
    settlement = None
    if any(lot.open_trading_day < day for lot in chosen):
        cur.execute(SETTLEMENT_OF, (record["symbol"], day))
        row = cur.fetchone()
        settlement = None if row is None else Decimal(row[0])
    strategy, reason = _origin(cur, record)
    plan = record.get("exit_plan")
    plan_json = None if plan is None else json.dumps(plan, ensure_ascii=False, default=str)
    pieces = split_close(close, chosen, settlement)
    for n, piece in enumerate(pieces):
        lot, after = piece.lot, piece.lot_after
        if lot is not None and after is not None:
            cur.execute(UPDATE_LOT, (after.remaining, after.commission_left, lot.id))
        cur.execute(INSERT_CLOSED, (
            record["gateway"], record["symbol"], record["exchange"], close.side, piece.volume, size,
            lot.id if lot else None, lot.open_trade_id if lot else None, lot.open_tradeid if lot else None,
            lot.open_ts if lot else None, lot.open_trading_day if lot else None, lot.open_price if lot else None,
            lot.strategy if lot else None, int(bool(lot and lot.before_recording)), trade_id, n, record["tradeid"],
            record["orderid"], offset, record["ts"], close.price, day, int(piece.carried), piece.settlement, piece.pnl_open, piece.pnl_settlement,
            piece.commission, strategy, reason, lot.confidence if lot else None, plan_json,
        ))  # fmt: skip
    return len(pieces)


def apply_settlement(cur: Cursor, record: dict[str, Any]) -> None:
    """Record the price lots carried into a trading day are marked from, and re-price the carried
    closes of that day that were booked without it (or with another one)."""
    cur.execute(UPSERT_SETTLEMENT, (record["symbol"], record["trading_day"], dec(record["price"]),
                                    record.get("source") or "tick", record["updated_at"]))
    cur.execute(SETTLEMENT_OF, (record["symbol"], record["trading_day"]))
    row = cur.fetchone()
    if row is not None:
        price = Decimal(row[0])
        cur.execute(RESETTLE, (price, price, record["symbol"], record["trading_day"], price))
